import Foundation
@testable import GPUStyle
import XCTest

/// The content (mean squared error) and total-variation losses against the Float64 reference (the
/// op table checks their gradients against finite differences).
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
}
