import Foundation
@testable import GPUStyle
import XCTest

/// gram against the Float64 reference (the op table checks gramBackward against finite differences).
final class GramTests: OpTestCase {
    func testGramMatchesReference() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        let backend = NativeBackend()
        for shape in [
            Shape(c: 1, h: 1, w: 1), Shape(c: 3, h: 7, w: 13), Shape(c: 67, h: 13, w: 7),
            Shape(c: 5, h: 2, w: 3), Shape(c: 64, h: 13, w: 13),
        ] {
            let features = ReferenceTensor.random(shape, using: &generator)
            let output = try backend.makeTensor(Shape(c: 1, h: shape.c, w: shape.c))
            try backend.gram(features: backend.makeTensor(features), output: output)
            // M products + rounded 1/N + its multiply + final rounding
            let factor = float32ErrorFactor(terms: shape.pixels + 3)
            try assertClose(
                backend.download(output), ReferenceOps.gram(features),
                bounds: ReferenceOps.gram(features.magnitudes).values.map { factor * $0 }, "gram \(shape)")
            let values = try backend.download(output)
            for i in 0..<shape.c {
                for j in 0..<shape.c {
                    XCTAssertEqual(values[i * shape.c + j], values[j * shape.c + i], "gram symmetric")
                }
            }
        }
    }
}
