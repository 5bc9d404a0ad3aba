import Foundation
@testable import GPUStyle
import XCTest

/// `stylize-gpu selftest`: passes on the CI's OpenCL device, and fails when a backend computes
/// an op slightly wrong or throws.
final class SelfTestTests: XCTestCase {
    func testRandomChecksPassOnOpenCLAndCoverEveryOp() throws {
        let backend = try OpenCLBackendTests.sharedBackend()
        let report = try SelfTest.run(on: backend, weightsPath: nil)
        XCTAssertTrue(report.passed, report.failures.map(\.line).joined(separator: "\n"))
        XCTAssertEqual(report.notes.count, 1, "the weights part is skipped with a note")
        let ops = Set(report.results.map(\.op))
        for op in ["conv3x3 forward (+ReLU)", "conv3x3 backward-data (mask, acc)", "gram", "adam step ×3", "clampRound",
                   "max pool 2×2 fwd, bwd (acc)", "avg pool 2×2 fwd, bwd (acc)", "total variation gradient (acc)"] {
            XCTAssertTrue(ops.contains(op), "no check of \(op)")
        }
        XCTAssertTrue(report.results.contains { $0.shape == "1→3 1×1" }, "1×1 images are checked")
    }

    func testWeightChecksPassOnOpenCL() throws {
        let weights = try VGGWeights.load(path: try cachedWeightsPath(), upTo: 2)
        let results = SelfTest.run(try SelfTestTable.weightChecks(weights, height: 9, width: 13),
                                   on: try OpenCLBackendTests.sharedBackend())
        XCTAssertEqual(results.map(\.op), ["conv1_1 forward (+ReLU)", "conv1_1 backward-data (mask, acc)",
                                           "conv1_2 forward (+ReLU)", "conv1_2 backward-data (mask, acc)"])
        XCTAssertTrue(results.allSatisfy(\.passed), results.map(\.line).joined(separator: "\n"))
    }

    /// One Gram entry off by 1e-4 relative, about ten times the bound: only the Gram checks fail.
    func testFailsWhenOneOpIsSlightlyWrong() throws {
        let report = try SelfTest.run(on: GramPerturbingBackend(), weightsPath: nil)
        XCTAssertFalse(report.passed)
        XCTAssertEqual(Set(report.failures.map(\.op)), ["gram"])
        XCTAssertTrue(report.failures.allSatisfy { $0.line.hasSuffix("FAIL") && $0.maxRelativeError > $0.bound },
                      report.failures.map(\.line).joined(separator: "\n"))
    }

    func testFailsWithTheReasonWhenAnOpThrows() throws {
        let backend = CountingBackend(NativeBackend())
        backend.failAfterConvolutions = 0
        let results = SelfTest.run(SelfTestTable.randomChecks(), on: backend)
        let conv = try XCTUnwrap(results.first { $0.op == "conv3x3 forward (+ReLU)" })
        XCTAssertFalse(conv.passed)
        XCTAssertNotNil(conv.problem)
        XCTAssertTrue(conv.line.contains("FAIL ("), conv.line)
        XCTAssertTrue(results.contains { $0.op == "gram" && $0.passed }, "the other ops still run")
    }
}

/// The native backend with every Gram result's first entry scaled by 1 + 1e-4.
private final class GramPerturbingBackend: Backend {
    let inner = NativeBackend()
    var name: String { "perturbed" }
    var allocatedBytes: Int { inner.allocatedBytes }
    var peakAllocatedBytes: Int { inner.peakAllocatedBytes }
    var memoryCapacity: MemoryCapacity { inner.memoryCapacity }
    func makeTensor(_ shape: Shape) throws -> Tensor { try inner.makeTensor(shape) }
    func upload(_ values: [Float], to tensor: Tensor) throws { try inner.upload(values, to: tensor) }
    func download(_ tensor: Tensor) throws -> [Float] { try inner.download(tensor) }
    func finish() throws { try inner.finish() }
    func fill(_ tensor: Tensor, value: Float) throws { try inner.fill(tensor, value: value) }
    func copy(_ x: Tensor, to y: Tensor) throws { try inner.copy(x, to: y) }
    func axpy(alpha: Float, x: Tensor, y: Tensor) throws { try inner.axpy(alpha: alpha, x: x, y: y) }
    func scale(_ x: Tensor, by alpha: Float) throws { try inner.scale(x, by: alpha) }
    func dot(_ x: Tensor, _ y: Tensor) throws -> Double { try inner.dot(x, y) }
    func makeConvWeights(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int) throws -> ConvWeights {
        try inner.makeConvWeights(weights: weights, bias: bias, outputChannels: outputChannels, inputChannels: inputChannels)
    }
    func conv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor) throws {
        try inner.conv3x3(input: input, weights: weights, relu: relu, output: output)
    }
    func conv3x3BackwardData(gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor, accumulate: Bool) throws {
        try inner.conv3x3BackwardData(gradOutput: gradOutput, weights: weights, reluMaskFrom: reluMaskFrom, gradInput: gradInput, accumulate: accumulate)
    }
    func relu(input: Tensor, output: Tensor) throws { try inner.relu(input: input, output: output) }
    func reluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        try inner.reluBackward(gradOutput: gradOutput, activation: activation, gradInput: gradInput)
    }
    func pool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws { try inner.pool2x2(input: input, mode: mode, output: output) }
    func pool2x2Backward(gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor, accumulate: Bool) throws {
        try inner.pool2x2Backward(gradOutput: gradOutput, input: input, mode: mode, gradInput: gradInput, accumulate: accumulate)
    }
    func gram(features: Tensor, output: Tensor) throws {
        try inner.gram(features: features, output: output)
        var values = try inner.download(output)
        values[0] *= 1 + 1e-4
        try inner.upload(values, to: output)
    }
    func gramBackward(gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool) throws {
        try inner.gramBackward(gradGram: gradGram, features: features, gradFeatures: gradFeatures, accumulate: accumulate)
    }
    func meanSquaredError(_ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        try inner.meanSquaredError(a, b, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
    }
    func meanSquaredErrorGradient(_ a: Tensor, _ b: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        try inner.meanSquaredErrorGradient(a, b, scale: scale, grad: grad, accumulate: accumulate)
    }
    func totalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        try inner.totalVariation(x, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
    }
    func totalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        try inner.totalVariationGradient(x, scale: scale, grad: grad, accumulate: accumulate)
    }
    func preprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws {
        try inner.preprocess(image: image, affine: affine, output: output)
    }
    func preprocessBackward(gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor, accumulate: Bool) throws {
        try inner.preprocessBackward(gradOutput: gradOutput, affine: affine, gradImage: gradImage, accumulate: accumulate)
    }
    func clampRound(image: Tensor, output: Tensor) throws { try inner.clampRound(image: image, output: output) }
    func adamStep(parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, step: Int, parameters: AdamParameters) throws {
        try inner.adamStep(parameter: parameter, gradient: gradient, m: m, v: v, step: step, parameters: parameters)
    }
}
