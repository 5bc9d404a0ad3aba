import Foundation
@testable import GPUStyle
import XCTest

/// gram against the Float64 reference (the op table checks gramBackward against finite differences).
final class GramTests: OpTestCase {
    /// gramBackward with `reluMasked` is bit for bit gramBackward then reluBackward on the sum (the
    /// backward pass relies on that: ObjectiveGradientTests), plain and accumulated, on every test
    /// backend; features from relu with exact zeros, and shapes off the kernels' vector widths.
    func testReluMaskedGramBackwardIsBitwiseTheTwoOps() throws {
        for backend in try testBackends() {
            for shape in [Shape(c: 3, h: 7, w: 13), Shape(c: 19, h: 9, w: 37), Shape(c: 64, h: 16, w: 16)] {
                let z = ReferenceTensor.random(shape, using: &generator)
                let dG = try backend.makeTensor(
                    ReferenceTensor.random(Shape(c: 1, h: shape.c, w: shape.c), using: &generator))
                let start = ReferenceTensor.random(shape, using: &generator)
                let features = try backend.makeTensor(shape)
                try backend.relu(input: backend.makeTensor(z), output: features)
                for accumulate in [false, true] {
                    let (fused, separate) = (try backend.makeTensor(start), try backend.makeTensor(start))
                    try backend.gramBackward(
                        gradGram: dG, features: features, gradFeatures: fused, accumulate: accumulate, reluMasked: true)
                    try backend.gramBackward(
                        gradGram: dG, features: features, gradFeatures: separate, accumulate: accumulate)
                    try backend.reluBackward(gradOutput: separate, activation: features, gradInput: separate)
                    let expected = try backend.download(separate)
                    let label = "\(backend.name) \(shape) accumulate \(accumulate)"
                    XCTAssertTrue(expected.contains { $0 != 0 } && expected.contains { $0 == 0 }, label)
                    XCTAssertEqual(try backend.download(fused).map(\.bitPattern), expected.map(\.bitPattern), label)
                }
            }
        }
    }

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
