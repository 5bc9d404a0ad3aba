@testable import GPUStyle
import XCTest

/// The Winograd F(2×2,3×3) convolutions of the native backend against the Float64 bound of
/// `winogradErrorBound` (WinogradBound.swift), on awkward shapes.
final class WinogradTests: XCTestCase {
    private var generator = SeededGenerator(seed: 0x3A7)

    /// The helper itself: its exact result is the direct convolution, and its magnitude covers
    /// the direct Σ|terms| (every direct term w·d is a sum of Winograd monomials) without being
    /// loose by more than the transforms' fan-out.
    func testBoundHelperIsExactAndItsMagnitudeCoversTheDirectTerms() {
        for (c, o, h, w) in [(1, 1, 1, 1), (3, 2, 5, 7), (5, 4, 2, 33), (2, 3, 13, 3)] {
            let input = ReferenceTensor.random(Shape(c: c, h: h, w: w), using: &generator)
            let weights = ReferenceTensor.random(Shape(c: o * c, h: 3, w: 3), using: &generator).values
            let bound = winogradErrorBound(input: input.values, channels: c, height: h, width: w, weights: weights,
                                           outputChannels: o)
            let zeroBias = [Double](repeating: 0, count: o)
            let direct = ReferenceOps.conv3x3(input, weights: weights, bias: zeroBias, outputChannels: o, relu: false)
            let directMagnitude = ReferenceOps.conv3x3(input.magnitudes, weights: weights.map(abs), bias: zeroBias,
                                                       outputChannels: o, relu: false)
            for k in 0..<direct.values.count {
                XCTAssertEqual(bound.exact[k], direct.values[k], accuracy: 1e-12, "exact \(c)→\(o) \(h)×\(w) [\(k)]")
                XCTAssertGreaterThanOrEqual(bound.magnitude[k], directMagnitude.values[k] * (1 - 1e-12), "\(k)")
                XCTAssertLessThanOrEqual(bound.magnitude[k], 16 * directMagnitude.values[k] + 1e-300, "\(k)")
            }
        }
    }
}
