import Foundation
@testable import GPUStyle
import XCTest

/// The content (mean squared error) and total-variation losses and their gradients.
final class LossesTests: OpTestCase {
    // MARK: Losses

    func testLossesMatchReferenceAndAccumulateIntoTheirSlot() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        let backend = NativeBackend()
        let scalars = try backend.makeTensor(.vector(4))
        for shape in [
            Shape(c: 3, h: 70, w: 100), Shape(c: 67, h: 13, w: 1), Shape(c: 1, h: 1, w: 1), Shape(c: 2, h: 2, w: 7),
        ] {
            let a = ReferenceTensor.random(shape, using: &generator),
                b = ReferenceTensor.random(shape, using: &generator)
            let (ta, tb) = (try backend.makeTensor(a), try backend.makeTensor(b))
            let (mse, tv) = (ReferenceOps.meanSquaredError(a, b), ReferenceOps.totalVariation(a))
            try backend.upload([7, 7, 7, 7], to: scalars)
            try backend.meanSquaredError(ta, tb, scale: 3, scalars: scalars, slot: 1, accumulate: false)
            try backend.totalVariation(ta, scale: 0.5, scalars: scalars, slot: 2, accumulate: true)
            let read = try backend.readScalars(scalars)
            // The sums run in Double over exact float differences; what remains is the final
            // Float store (and the Double add of the accumulated slot).
            XCTAssertEqual(read[0], 7)
            XCTAssertEqual(read[1], 3 * mse, accuracy: float32ErrorFactor(terms: 2) * 3 * mse, "mse \(shape)")
            XCTAssertEqual(
                read[2], 7 + 0.5 * tv, accuracy: float32ErrorFactor(terms: 2) * (7 + 0.5 * tv), "tv \(shape)")
            XCTAssertEqual(read[3], 7)
        }
    }

    func testContentLossGradient() throws {
        let (a, b) = (
            ReferenceTensor.random(Shape(c: 3, h: 2, w: 5), using: &generator),
            ReferenceTensor.random(Shape(c: 3, h: 2, w: 5), using: &generator)
        )
        let previous = ReferenceTensor.random(a.shape, using: &generator)
        let scale: Float = 5
        let numeric = centralDifferences(a) { Double(scale) * ReferenceOps.meanSquaredError($0, b) }
        for accumulate in [false, true] {
            let grad = try backend.makeTensor(
                accumulate ? previous : ReferenceTensor.random(a.shape, using: &generator))
            try backend.meanSquaredErrorGradient(
                backend.makeTensor(a), backend.makeTensor(b), scale: scale, grad: grad,
                accumulate: accumulate)
            try assertGradient(
                backend.download(grad), numeric, plus: accumulate ? previous : nil,
                "content accumulate \(accumulate)")
        }
    }

    /// L_s = s · mean((G(F) − A)²) through the backend's chain: gram, MSE gradient on G, gram backward.

    func testTotalVariationGradient() throws {
        let scale: Float = 0.25
        // Borders matter: the last row and column are never anchors; 1-wide images have no terms.
        for shape in [
            Shape(c: 2, h: 4, w: 5), Shape(c: 1, h: 2, w: 2), Shape(c: 1, h: 1, w: 4), Shape(c: 3, h: 3, w: 1),
        ] {
            let x = ReferenceTensor.random(shape, using: &generator)
            let previous = ReferenceTensor.random(shape, using: &generator)
            let numeric = centralDifferences(x) { Double(scale) * ReferenceOps.totalVariation($0) }
            for accumulate in [false, true] {
                let grad = try backend.makeTensor(
                    accumulate ? previous : ReferenceTensor.random(shape, using: &generator))
                try backend.totalVariationGradient(
                    backend.makeTensor(x), scale: scale, grad: grad, accumulate: accumulate)
                try assertGradient(
                    backend.download(grad), numeric, plus: accumulate ? previous : nil,
                    "tv \(shape) accumulate \(accumulate)")
            }
        }
    }
}
