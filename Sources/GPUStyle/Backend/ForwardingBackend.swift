/// A backend that forwards everything to another. Every op's compute passes through `perform`,
/// so a decorator watches or breaks ops by `BackendOp` in one override (the bench's phase
/// recorder, tests' counters and faults); the checks ran before, in the op itself.
class ForwardingBackend: Backend {
    let inner: Backend

    init(_ inner: Backend) {
        self.inner = inner
    }

    var name: String { inner.name }
    var allocatedBytes: Int { inner.allocatedBytes }
    var peakAllocatedBytes: Int { inner.peakAllocatedBytes }
    var memoryCapacity: MemoryCapacity { inner.memoryCapacity }
    func convWeightBytes(outputChannels: Int, inputChannels: Int) -> Int {
        inner.convWeightBytes(outputChannels: outputChannels, inputChannels: inputChannels)
    }
    func scratchBytes(convolutions: [ConvolutionShape], grams: [Shape]) -> Int {
        inner.scratchBytes(convolutions: convolutions, grams: grams)
    }
    func backwardDataRunsInPlace(outputChannels: Int, inputChannels: Int) -> Bool {
        inner.backwardDataRunsInPlace(outputChannels: outputChannels, inputChannels: inputChannels)
    }
    func winogradTile(outputChannels: Int, inputChannels: Int, height: Int, width: Int) -> Int? {
        inner.winogradTile(outputChannels: outputChannels, inputChannels: inputChannels, height: height, width: width)
    }
    func makeTensor(_ shape: Shape) throws -> Tensor { try inner.makeTensor(shape) }
    func upload(_ values: [Float], to tensor: Tensor) throws { try inner.upload(values, to: tensor) }
    func download(_ tensor: Tensor) throws -> [Float] { try inner.download(tensor) }
    func makeConvWeights(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int) throws -> ConvWeights
    {
        try inner.makeConvWeights(
            weights: weights, bias: bias, outputChannels: outputChannels, inputChannels: inputChannels)
    }
    func finish() throws { try inner.finish() }
    var halfStorageAlignment: Int? { inner.halfStorageAlignment }
    func makeViews(bytes: Int, _ views: [TensorView]) throws -> [Tensor] { try inner.makeViews(bytes: bytes, views) }

    /// Runs one op's compute on the inner backend.
    func perform<Result>(_ op: BackendOp, _ compute: () throws -> Result) throws -> Result {
        try compute()
    }

    func computeFill(_ tensor: Tensor, value: Float) throws {
        try perform(.fill) { try inner.computeFill(tensor, value: value) }
    }
    func computeCopy(_ x: Tensor, to y: Tensor) throws {
        try perform(.copy) { try inner.computeCopy(x, to: y) }
    }
    func computeCopyRegion(_ source: Tensor, _ region: PlaneRegion, to target: Tensor, at origin: PlanePoint) throws {
        try perform(.copyRegion) { try inner.computeCopyRegion(source, region, to: target, at: origin) }
    }
    func computeAxpy(alpha: Float, x: Tensor, y: Tensor) throws {
        try perform(.axpy) { try inner.computeAxpy(alpha: alpha, x: x, y: y) }
    }
    func computeScale(_ x: Tensor, by alpha: Float) throws {
        try perform(.scale) { try inner.computeScale(x, by: alpha) }
    }
    func computeClamp(_ x: Tensor, lower: Float, upper: Float) throws {
        try perform(.clamp) { try inner.computeClamp(x, lower: lower, upper: upper) }
    }

    func computeRoundToHalf(_ x: Tensor) throws {
        try perform(.roundToHalf) { try inner.computeRoundToHalf(x) }
    }
    func computeDot(_ x: Tensor, _ y: Tensor) throws -> Double {
        try perform(.dot) { try inner.computeDot(x, y) }
    }
    func computeConv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor, pool: ConvPooling?) throws {
        try perform(.conv3x3) {
            try inner.computeConv3x3(input: input, weights: weights, relu: relu, output: output, pool: pool)
        }
    }
    func computeConv3x3BackwardData(
        gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        try perform(.conv3x3BackwardData) {
            try inner.computeConv3x3BackwardData(
                gradOutput: gradOutput, weights: weights, reluMaskFrom: reluMaskFrom,
                gradInput: gradInput, accumulate: accumulate)
        }
    }
    func computeRelu(input: Tensor, output: Tensor) throws {
        try perform(.relu) { try inner.computeRelu(input: input, output: output) }
    }
    func computeReluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        try perform(.reluBackward) {
            try inner.computeReluBackward(gradOutput: gradOutput, activation: activation, gradInput: gradInput)
        }
    }
    func computeEncodeReluCodes(_ activation: Tensor, maxPooled: Bool, codes: Tensor) throws {
        try perform(.encodeReluCodes) {
            try inner.computeEncodeReluCodes(activation, maxPooled: maxPooled, codes: codes)
        }
    }
    func computeDecodeReluCodes(_ codes: Tensor, output: Tensor) throws {
        try perform(.decodeReluCodes) { try inner.computeDecodeReluCodes(codes, output: output) }
    }
    func computePool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws {
        try perform(.pool2x2) { try inner.computePool2x2(input: input, mode: mode, output: output) }
    }
    func computePool2x2Backward(
        gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        try perform(.pool2x2Backward) {
            try inner.computePool2x2Backward(
                gradOutput: gradOutput, input: input, mode: mode, gradInput: gradInput,
                accumulate: accumulate)
        }
    }
    func computeReluPool2x2Backward(gradOutput: Tensor, activation: Tensor, mode: PoolMode, gradInput: Tensor) throws {
        try perform(.reluPool2x2Backward) {
            try inner.computeReluPool2x2Backward(
                gradOutput: gradOutput, activation: activation, mode: mode, gradInput: gradInput)
        }
    }
    func computeGram(features: Tensor, output: Tensor) throws {
        try perform(.gram) { try inner.computeGram(features: features, output: output) }
    }
    func computeGramBackward(
        gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool, reluMasked: Bool
    ) throws {
        try perform(.gramBackward) {
            try inner.computeGramBackward(
                gradGram: gradGram, features: features, gradFeatures: gradFeatures,
                accumulate: accumulate, reluMasked: reluMasked)
        }
    }
    func computeMeanSquaredError(
        _ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int,
        accumulate: Bool
    ) throws {
        try perform(.meanSquaredError) {
            try inner.computeMeanSquaredError(a, b, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
        }
    }
    func computeMeanSquaredErrorGradient(_ a: Tensor, _ b: Tensor, factor: Float, grad: Tensor, accumulate: Bool) throws
    {
        try perform(.meanSquaredErrorGradient) {
            try inner.computeMeanSquaredErrorGradient(a, b, factor: factor, grad: grad, accumulate: accumulate)
        }
    }
    func computeTotalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        try perform(.totalVariation) {
            try inner.computeTotalVariation(x, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
        }
    }
    func computeTotalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        try perform(.totalVariationGradient) {
            try inner.computeTotalVariationGradient(x, scale: scale, grad: grad, accumulate: accumulate)
        }
    }
    func computePreprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws {
        try perform(.preprocess) { try inner.computePreprocess(image: image, affine: affine, output: output) }
    }
    func computePreprocessBackward(
        gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor,
        accumulate: Bool
    ) throws {
        try perform(.preprocessBackward) {
            try inner.computePreprocessBackward(
                gradOutput: gradOutput, affine: affine, gradImage: gradImage,
                accumulate: accumulate)
        }
    }
    func computeClampRound(image: Tensor, output: Tensor) throws {
        try perform(.clampRound) { try inner.computeClampRound(image: image, output: output) }
    }
    func computeMultiplyByMask(_ x: Tensor, mask: Tensor, output: Tensor, accumulate: Bool) throws {
        try perform(.multiplyByMask) {
            try inner.computeMultiplyByMask(x, mask: mask, output: output, accumulate: accumulate)
        }
    }
    func computeWarpBilinear(_ image: Tensor, flow: Tensor, output: Tensor) throws {
        try perform(.warpBilinear) { try inner.computeWarpBilinear(image, flow: flow, output: output) }
    }
    func computeWarpBilinearBackward(gradOutput: Tensor, flow: Tensor, gradImage: Tensor, accumulate: Bool) throws {
        try perform(.warpBilinearBackward) {
            try inner.computeWarpBilinearBackward(
                gradOutput: gradOutput, flow: flow, gradImage: gradImage, accumulate: accumulate)
        }
    }
    func computeFlowDerivatives(reference: Tensor, warped: Tensor, output: Tensor) throws {
        try perform(.flowDerivatives) {
            try inner.computeFlowDerivatives(reference: reference, warped: warped, output: output)
        }
    }
    func computeTVL1PrimalStep(
        derivatives: Tensor, base: Tensor, flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor
    ) throws {
        try perform(.tvl1PrimalStep) {
            try inner.computeTVL1PrimalStep(
                derivatives: derivatives, base: base, flow: flow, dual: dual, parameters: parameters, output: output)
        }
    }
    func computeTVL1DualStep(flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor) throws {
        try perform(.tvl1DualStep) {
            try inner.computeTVL1DualStep(flow: flow, dual: dual, parameters: parameters, output: output)
        }
    }
    func computeMedian3x3(_ x: Tensor, output: Tensor) throws {
        try perform(.median3x3) { try inner.computeMedian3x3(x, output: output) }
    }
    func computeUpsampleFlow(_ coarse: Tensor, output: Tensor) throws {
        try perform(.upsampleFlow) { try inner.computeUpsampleFlow(coarse, output: output) }
    }
    func computeReliabilityMask(flow: Tensor, backwardFlow: Tensor, output: Tensor) throws {
        try perform(.reliabilityMask) {
            try inner.computeReliabilityMask(flow: flow, backwardFlow: backwardFlow, output: output)
        }
    }
    func computeTemporalLoss(
        _ x: Tensor, warped: Tensor, mask: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool
    ) throws {
        try perform(.temporalLoss) {
            try inner.computeTemporalLoss(
                x, warped: warped, mask: mask, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
        }
    }
    func computeTemporalLossGradient(
        _ x: Tensor, warped: Tensor, mask: Tensor, factor: Float, grad: Tensor, accumulate: Bool
    ) throws {
        try perform(.temporalLossGradient) {
            try inner.computeTemporalLossGradient(
                x, warped: warped, mask: mask, factor: factor, grad: grad, accumulate: accumulate)
        }
    }
    func computeAdamStep(
        parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, parameters: AdamParameters,
        corrections: AdamCorrections
    ) throws {
        try perform(.adamStep) {
            try inner.computeAdamStep(
                parameter: parameter, gradient: gradient, m: m, v: v, parameters: parameters,
                corrections: corrections)
        }
    }
}
