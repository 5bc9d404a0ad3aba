import Foundation
@testable import GPUStyle
import XCTest

/// preprocess and clampRound against the Float64 reference (the op table checks
/// preprocessBackward against finite differences).
final class ImageTests: OpTestCase {
    func testPreprocessMatchesReferenceForBothFlavours() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        let backend = NativeBackend()
        let image = ReferenceTensor.random(Shape(c: 3, h: 13, w: 7), in: 0...255, using: &generator)
        for affine in [ReferenceOps.caffeAffine, ReferenceOps.torchAffine] {
            let output = try backend.makeTensor(image.shape)
            try backend.preprocess(image: backend.makeTensor(image), affine: affine, output: output)
            let magnitudes = ReferenceOps.preprocess(image, affine: affine.absolute)
            try assertClose(
                backend.download(output), ReferenceOps.preprocess(image, affine: affine),
                bounds: magnitudes.values.map { float32ErrorFactor(terms: 2) * $0 }, "preprocess \(affine)")
        }
    }

    func testClampRoundClampsAndRoundsHalvesAwayFromZero() throws {
        let backend = NativeBackend()
        let values: [Float] = [-3.5, -0.4, 0, 0.49999997, 0.5, 1.5, 2.5, 127.49, 254.5, 255.4, 300, 17.2]
        let image = ReferenceTensor(shape: .vector(values.count), floats: values)
        let output = try backend.makeTensor(image.shape)
        try backend.clampRound(image: backend.makeTensor(image), output: output)
        XCTAssertEqual(try backend.download(output), [0, 0, 0, 0, 1, 2, 3, 127, 255, 255, 255, 17])
        XCTAssertEqual(try backend.reference(output), ReferenceOps.clampRound(image))
    }
}
