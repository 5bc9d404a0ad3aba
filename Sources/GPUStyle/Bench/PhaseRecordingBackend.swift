import Foundation

/// The parts of one iteration the `--profile` breakdown reports.
public enum IterationPhase: String, CaseIterable, Codable, Sendable {
    /// Preprocessing, conv(+ReLU), ReLU and pooling forward.
    case forward
    /// Gram matrices, the loss reductions, their gradients, Gram backward and total variation.
    case losses
    /// Conv backward-data, ReLU, pooling and preprocessing backward.
    case backward
    /// The Adam step.
    case optimizer
    /// Fills, copies, axpy and scale (zeroing gradients and loss slots), clamp/round.
    case other
}

/// Measures how long each op of a backend takes and adds it to the op's phase. Ops pass straight
/// through while `isRecording` is false, so the wrapper costs one extra call per op then.
///
/// With an OpenCL context the time is device time from its profiling events (the context is
/// drained after each op, which serialises the queue but not the kernels' own cost); without one,
/// host wall-clock time around each call (the native backend's ops are synchronous).
final class PhaseRecordingBackend: ForwardingBackend {
    private let context: CLContext?
    var isRecording = false {
        didSet { context?.recordsProfile = isRecording }
    }
    /// Seconds per phase since the last `takeTotals()`.
    private var totals: [IterationPhase: Double] = [:]
    /// Device seconds per kernel name since the last `takeKernelTotals()` (OpenCL only).
    private var kernelTotals: [String: Double] = [:]

    init(_ inner: Backend, profilingContext: CLContext?) {
        context = profilingContext
        super.init(inner)
    }

    /// Where the times come from, for reports.
    var clockDescription: String { context == nil ? "host clock per op" : "OpenCL profiling events" }
    /// Whether it times kernels (an OpenCL context), not just ops.
    var timesKernels: Bool { context != nil }

    /// Seconds per phase recorded so far; clears the record.
    func takeTotals() -> [IterationPhase: Double] {
        defer { totals = [:] }
        return totals
    }

    /// Device seconds per kernel recorded so far (empty without an OpenCL context); clears the record.
    func takeKernelTotals() -> [String: Double] {
        defer { kernelTotals = [:] }
        return kernelTotals
    }

    private func record<Result>(_ phase: IterationPhase, _ op: () throws -> Result) throws -> Result {
        guard isRecording else { return try op() }
        if let context {
            let result = try op()
            let kernels = try context.profile()
            totals[phase, default: 0] += kernels.values.reduce(0, +)
            kernelTotals.merge(kernels, uniquingKeysWith: +)
            return result
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try op()
        totals[phase, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return result
    }

    override func fill(_ tensor: Tensor, value: Float) throws {
        try record(.other) { try inner.fill(tensor, value: value) }
    }

    override func copy(_ x: Tensor, to y: Tensor) throws {
        try record(.other) { try inner.copy(x, to: y) }
    }

    override func axpy(alpha: Float, x: Tensor, y: Tensor) throws {
        try record(.other) { try inner.axpy(alpha: alpha, x: x, y: y) }
    }

    override func scale(_ x: Tensor, by alpha: Float) throws {
        try record(.other) { try inner.scale(x, by: alpha) }
    }

    override func dot(_ x: Tensor, _ y: Tensor) throws -> Double {
        try record(.optimizer) { try inner.dot(x, y) }
    }

    override func conv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor) throws {
        try record(.forward) { try inner.conv3x3(input: input, weights: weights, relu: relu, output: output) }
    }

    override func conv3x3BackwardData(gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
                             accumulate: Bool) throws {
        try record(.backward) {
            try inner.conv3x3BackwardData(gradOutput: gradOutput, weights: weights, reluMaskFrom: reluMaskFrom,
                                          gradInput: gradInput, accumulate: accumulate)
        }
    }

    override func relu(input: Tensor, output: Tensor) throws {
        try record(.forward) { try inner.relu(input: input, output: output) }
    }

    override func reluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        try record(.backward) { try inner.reluBackward(gradOutput: gradOutput, activation: activation, gradInput: gradInput) }
    }

    override func pool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws {
        try record(.forward) { try inner.pool2x2(input: input, mode: mode, output: output) }
    }

    override func pool2x2Backward(gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor, accumulate: Bool) throws {
        try record(.backward) {
            try inner.pool2x2Backward(gradOutput: gradOutput, input: input, mode: mode, gradInput: gradInput,
                                      accumulate: accumulate)
        }
    }

    override func reluPool2x2BackwardInPlace(gradOutput: Tensor, activation: Tensor, mode: PoolMode) throws {
        try record(.backward) {
            try inner.reluPool2x2BackwardInPlace(gradOutput: gradOutput, activation: activation, mode: mode)
        }
    }

    override func gram(features: Tensor, output: Tensor) throws {
        try record(.losses) { try inner.gram(features: features, output: output) }
    }

    override func gramBackward(gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool) throws {
        try record(.losses) {
            try inner.gramBackward(gradGram: gradGram, features: features, gradFeatures: gradFeatures, accumulate: accumulate)
        }
    }

    override func meanSquaredError(_ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        try record(.losses) {
            try inner.meanSquaredError(a, b, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
        }
    }

    override func meanSquaredErrorGradient(_ a: Tensor, _ b: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        try record(.losses) { try inner.meanSquaredErrorGradient(a, b, scale: scale, grad: grad, accumulate: accumulate) }
    }

    override func totalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        try record(.losses) { try inner.totalVariation(x, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate) }
    }

    override func totalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        try record(.losses) { try inner.totalVariationGradient(x, scale: scale, grad: grad, accumulate: accumulate) }
    }

    override func preprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws {
        try record(.forward) { try inner.preprocess(image: image, affine: affine, output: output) }
    }

    override func preprocessBackward(gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor, accumulate: Bool) throws {
        try record(.backward) {
            try inner.preprocessBackward(gradOutput: gradOutput, affine: affine, gradImage: gradImage, accumulate: accumulate)
        }
    }

    override func clampRound(image: Tensor, output: Tensor) throws {
        try record(.other) { try inner.clampRound(image: image, output: output) }
    }

    override func adamStep(parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, step: Int, parameters: AdamParameters) throws {
        try record(.optimizer) {
            try inner.adamStep(parameter: parameter, gradient: gradient, m: m, v: v, step: step, parameters: parameters)
        }
    }
}
