import Foundation
@testable import GPUStyle
import XCTest

/// What the tests of an op share: the native backend, a seeded generator, a random conv layer,
/// and the gradient checks, which compare the native backend's analytic gradients with central
/// finite differences of the Float64 reference forward ops, on tiny shapes. Each op is checked as
/// a vector-Jacobian product: with a random r, the gradient of the scalar L(x) = Σ r ⊙ op(x) is
/// exactly what the backward op must return for gradOutput = r. The data keep a margin larger
/// than the finite-difference step from every kink (ReLU at 0, ties inside a max-pool window), so
/// the piecewise-linear ops are differentiated exactly, and linear or quadratic objectives have no
/// truncation error at all: what remains is float32 rounding in the backend, far inside the tolerance.
class OpTestCase: XCTestCase {
    var generator = SeededGenerator(seed: 0x6EAD)
    let backend = NativeBackend()

    /// Float-exact values spaced 0.01 apart, none within 0.005 of 0, shuffled: no ReLU kink and no
    /// max-pool tie lies within the finite-difference step.
    func wellSpaced(_ shape: Shape) -> ReferenceTensor {
        let values = (0..<shape.count).map { Double(Float((Double($0) - Double(shape.count) / 2 + 0.5) * 0.01)) }
        return ReferenceTensor(shape: shape, values: values.shuffled(using: &generator))
    }

    /// ∂f/∂x by central differences in Float64.
    func centralDifferences(
        _ x: ReferenceTensor, step: Double = 1e-3,
        _ f: (ReferenceTensor) -> Double
    ) -> ReferenceTensor {
        var gradient = ReferenceTensor.zeros(x.shape)
        var probe = x
        for k in 0..<x.values.count {
            probe.values[k] = x.values[k] + step
            let up = f(probe)
            probe.values[k] = x.values[k] - step
            let down = f(probe)
            probe.values[k] = x.values[k]
            gradient.values[k] = (up - down) / (2 * step)
        }
        return gradient
    }

    /// Analytic (float32) against numeric gradient, plus what an accumulating op started from.
    func assertGradient(
        _ analytic: [Float], _ numeric: ReferenceTensor, plus previous: ReferenceTensor? = nil,
        _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        var expected = numeric
        if let previous { expected.values = zip(numeric.values, previous.values).map(+) }
        // float32 rounding of a few dozen terms is ~1e-6 relative; a wrong gradient is off by O(1).
        let tolerance = 1e-4 * max(1, expected.values.map(abs).max() ?? 0)
        assertClose(
            analytic, expected, bounds: Array(repeating: tolerance, count: analytic.count), what, file: file, line: line
        )
    }

    func randomLayer(inputChannels: Int, outputChannels: Int) -> (weights: [Double], bias: [Double]) {
        let weights = ReferenceTensor.random(Shape(c: outputChannels * inputChannels, h: 3, w: 3), using: &generator)
        let bias = ReferenceTensor.random(.vector(outputChannels), using: &generator)
        return (weights.values, bias.values)
    }
}

/// Σ r ⊙ y: the scalar objective whose gradient with respect to y is r.
func weightedSum(_ r: ReferenceTensor, _ y: ReferenceTensor) -> Double {
    precondition(r.shape == y.shape)
    return zip(r.values, y.values).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Asserts |actual[k] − expected[k]| ≤ bounds[k] for every k, reporting the worst offender.
func assertClose(
    _ actual: [Float], _ expected: ReferenceTensor, bounds: [Double], _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.values.count, "\(what): element count", file: file, line: line)
    var failures = 0, worst = (index: 0, ratio: 0.0)
    for (k, value) in actual.enumerated() where k < expected.values.count {
        let error = abs(Double(value) - expected.values[k])
        if !(error <= bounds[k]) {  // NaN fails too
            failures += 1
            let ratio = error.isNaN ? .infinity : error / max(bounds[k], .leastNormalMagnitude)
            if ratio >= worst.ratio { worst = (k, ratio) }
        }
    }
    XCTAssertEqual(
        failures, 0,
        "\(what): \(failures) values out of bounds; worst at \(worst.index): got \(actual[worst.index]), expected \(expected.values[worst.index]), bound \(bounds[worst.index])",
        file: file, line: line)
}
