import Foundation
@testable import GPUStyle
import XCTest

/// gram and gramBackward, and the style loss through them.
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

    func testGramBackward() throws {
        let features = ReferenceTensor.random(Shape(c: 3, h: 3, w: 4), using: &generator)
        let r = ReferenceTensor.random(Shape(c: 1, h: 3, w: 3), using: &generator)  // not symmetric: tests dG + dGᵀ
        let previous = ReferenceTensor.random(features.shape, using: &generator)
        let numeric = centralDifferences(features) { weightedSum(r, ReferenceOps.gram($0)) }
        for accumulate in [false, true] {
            let gradFeatures = try backend.makeTensor(
                accumulate ? previous : ReferenceTensor.random(features.shape, using: &generator))
            try backend.gramBackward(
                gradGram: backend.makeTensor(r), features: backend.makeTensor(features),
                gradFeatures: gradFeatures, accumulate: accumulate)
            try assertGradient(
                backend.download(gradFeatures), numeric, plus: accumulate ? previous : nil,
                "gram accumulate \(accumulate)")
        }
    }

    func testStyleLossGradientThroughGram() throws {
        let features = ReferenceTensor.random(Shape(c: 4, h: 3, w: 2), using: &generator)
        let target = ReferenceOps.gram(ReferenceTensor.random(features.shape, using: &generator))
        let scale: Float = 100
        let numeric = centralDifferences(features) {
            Double(scale) * ReferenceOps.meanSquaredError(ReferenceOps.gram($0), target)
        }
        let f = try backend.makeTensor(features)
        let gram = try backend.makeTensor(target.shape), gradGram = try backend.makeTensor(target.shape)
        let gradFeatures = try backend.makeTensor(features.shape)
        try backend.gram(features: f, output: gram)
        try backend.meanSquaredErrorGradient(
            gram, backend.makeTensor(target), scale: scale, grad: gradGram, accumulate: false)
        try backend.gramBackward(gradGram: gradGram, features: f, gradFeatures: gradFeatures, accumulate: false)
        try assertGradient(backend.download(gradFeatures), numeric, "style")
    }
}
