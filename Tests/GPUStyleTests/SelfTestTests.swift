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
        XCTAssertEqual(
            Set(report.results.map(\.op)), Set(OpTable.rows.map(\.name) + OpTable.gradRows.map(\.name)),
            "every row of the op table, in both modes")
        XCTAssertTrue(report.results.contains { $0.shape == "1→3 1×1" }, "1×1 images are checked")
    }

    func testWeightChecksPassOnOpenCL() throws {
        let weights = try VGGWeights.load(path: try cachedWeightsPath(), upTo: 2)
        let results = SelfTest.run(
            try SelfTestTable.weightChecks(weights, height: 9, width: 13),
            on: try OpenCLBackendTests.sharedBackend())
        XCTAssertEqual(
            results.map(\.op),
            [
                "conv1_1 forward (+ReLU)", "conv1_1 backward-data (mask, acc)",
                "conv1_2 forward (+ReLU)", "conv1_2 backward-data (mask, acc)",
            ])
        XCTAssertTrue(results.allSatisfy(\.passed), results.map(\.line).joined(separator: "\n"))
    }

    /// One Gram entry off by 1e-4 relative, about ten times the bound: only the Gram checks fail.
    func testFailsWhenOneOpIsSlightlyWrong() throws {
        let report = try SelfTest.run(on: GramPerturbingBackend(), weightsPath: nil)
        XCTAssertFalse(report.passed)
        XCTAssertEqual(Set(report.failures.map(\.op)), ["gram", "gram of 16-bit features"])
        XCTAssertTrue(
            report.failures.allSatisfy { $0.line.hasSuffix("FAIL") && $0.maxRelativeError > $0.bound },
            report.failures.map(\.line).joined(separator: "\n"))
    }

    /// Gram backward's first gradient off by 1e-4 relative: only the grad mode's Gram rows fail,
    /// plain and ReLU-masked (the eval mode's would too: it runs alone here).
    func testGradModeFailsWhenABackwardOpIsSlightlyWrong() throws {
        let report = try SelfTest.run(on: GramPerturbingBackend(backward: true), weightsPath: nil, mode: .grad)
        XCTAssertTrue(report.notes.isEmpty, "the weights belong to the eval mode")
        XCTAssertEqual(Set(report.results.map(\.op)), Set(OpTable.gradRows.map(\.name)))
        XCTAssertEqual(Set(report.failures.map(\.op)), ["grad gram (acc)", "grad gram (ReLU-masked)"])
        XCTAssertTrue(
            report.failures.allSatisfy { $0.line.hasSuffix("FAIL") && $0.maxRelativeError > $0.bound },
            report.failures.map(\.line).joined(separator: "\n"))
    }

    /// The Winograd bound is wider than the direct one but still catches a wrong convolution: one
    /// output of every F(4×4) forward off by 10 % (off by 1 %, the cases with 64 or more channels
    /// pass: the magnitudes the Winograd bound scales are many times Σ|terms| there).
    func testWinogradConvolutionsStillFailWhenSlightlyWrong() throws {
        let results = SelfTest.run(SelfTestTable.randomChecks(), on: ConvPerturbingBackend())
        let forward = results.filter { $0.op == OpTable.convolutionForwardRow.name }
        XCTAssertFalse(forward.isEmpty)
        XCTAssertTrue(
            forward.allSatisfy { !$0.passed && $0.maxRelativeError > $0.bound },
            forward.map(\.line).joined(separator: " | "))
        XCTAssertTrue(results.contains { $0.op == OpTable.convolutionBackwardDataRow.name && $0.passed })
    }

    func testFailsWithTheReasonWhenAnOpThrows() throws {
        let backend = CountingBackend(NativeBackend())
        backend.failAfterConvolutions = 0
        let results = SelfTest.run(SelfTestTable.randomChecks(), on: backend)
        let conv = try XCTUnwrap(results.first { $0.op == OpTable.convolutionForwardRow.name })
        XCTAssertFalse(conv.passed)
        XCTAssertNotNil(conv.problem)
        XCTAssertTrue(conv.line.contains("FAIL ("), conv.line)
        XCTAssertTrue(results.contains { $0.op == "gram" && $0.passed }, "the other ops still run")
    }
}

/// The native backend with the first entry of every Gram result (with `backward`, of every Gram
/// backward result instead) scaled by 1 + 1e-4.
private final class GramPerturbingBackend: ForwardingBackend {
    let backward: Bool

    init(backward: Bool = false) {
        self.backward = backward
        super.init(NativeBackend())
    }

    override var name: String { "perturbed" }

    override func computeGram(features: Tensor, output: Tensor) throws {
        try inner.computeGram(features: features, output: output)
        if !backward { try perturb(output) }
    }

    override func computeGramBackward(
        gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool, reluMasked: Bool
    ) throws {
        try inner.computeGramBackward(
            gradGram: gradGram, features: features, gradFeatures: gradFeatures, accumulate: accumulate,
            reluMasked: reluMasked)
        if backward { try perturb(gradFeatures) }
    }

    private func perturb(_ tensor: Tensor) throws {
        var values = try inner.download(tensor)
        values[0] *= 1 + 1e-4
        try inner.upload(values, to: tensor)
    }
}

/// Native F(4×4) everywhere, with the first output of every forward convolution scaled by 1.1.
private final class ConvPerturbingBackend: ForwardingBackend {
    init() { super.init(NativeBackend(convolution: .winograd4)) }

    override var name: String { "perturbed" }

    override func computeConv3x3(
        input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor, pool: ConvPooling?
    ) throws {
        try inner.computeConv3x3(input: input, weights: weights, relu: relu, output: output, pool: nil)
        var values = try inner.download(output)
        values[0] = values[0] == 0 ? 1e-3 : values[0] * (1 + 1e-1)
        try inner.upload(values, to: output)
        if let pool { try inner.computePool2x2(input: output, mode: pool.mode, output: pool.output) }
    }
}
