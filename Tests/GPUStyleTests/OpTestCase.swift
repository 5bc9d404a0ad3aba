import Foundation
@testable import GPUStyle
import XCTest

/// What the tests of an op share: the native backend, a seeded generator and a random conv
/// layer. (The gradient checks are the op table's grad mode: `OpGradRow`, run by BackendOpsTests.)
class OpTestCase: XCTestCase {
    var generator = SeededGenerator(seed: 0x6EAD)
    let backend = NativeBackend()

    func randomLayer(inputChannels: Int, outputChannels: Int) -> (weights: [Double], bias: [Double]) {
        let weights = ReferenceTensor.random(Shape(c: outputChannels * inputChannels, h: 3, w: 3), using: &generator)
        let bias = ReferenceTensor.random(.vector(outputChannels), using: &generator)
        return (weights.values, bias.values)
    }
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
