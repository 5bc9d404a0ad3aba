/// A backend that forwards every op to another: decorators subclass it and override only the ops
/// they watch (the bench's phase recorder) or, in tests, break.
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
    func makeTensor(_ shape: Shape) throws -> Tensor { try inner.makeTensor(shape) }
    func upload(_ values: [Float], to tensor: Tensor) throws { try inner.upload(values, to: tensor) }
    func download(_ tensor: Tensor) throws -> [Float] { try inner.download(tensor) }
    func dot(_ x: Tensor, _ y: Tensor) throws -> Double { try inner.dot(x, y) }
    func makeConvWeights(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int) throws -> ConvWeights {
        try inner.makeConvWeights(weights: weights, bias: bias, outputChannels: outputChannels, inputChannels: inputChannels)
    }
    func finish() throws { try inner.finish() }
    func fill(_ tensor: Tensor, value: Float) throws { try inner.fill(tensor, value: value) }
    func copy(_ x: Tensor, to y: Tensor) throws { try inner.copy(x, to: y) }
    func axpy(alpha: Float, x: Tensor, y: Tensor) throws { try inner.axpy(alpha: alpha, x: x, y: y) }
    func scale(_ x: Tensor, by alpha: Float) throws { try inner.scale(x, by: alpha) }
    func conv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor) throws {
        try inner.conv3x3(input: input, weights: weights, relu: relu, output: output)
    }
    func conv3x3BackwardData(gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
                             accumulate: Bool) throws {
        try inner.conv3x3BackwardData(gradOutput: gradOutput, weights: weights, reluMaskFrom: reluMaskFrom,
                                      gradInput: gradInput, accumulate: accumulate)
    }
    func relu(input: Tensor, output: Tensor) throws { try inner.relu(input: input, output: output) }
    func reluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        try inner.reluBackward(gradOutput: gradOutput, activation: activation, gradInput: gradInput)
    }
    func pool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws {
        try inner.pool2x2(input: input, mode: mode, output: output)
    }
    func pool2x2Backward(gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor, accumulate: Bool) throws {
        try inner.pool2x2Backward(gradOutput: gradOutput, input: input, mode: mode, gradInput: gradInput,
                                  accumulate: accumulate)
    }
    func reluPool2x2BackwardInPlace(gradOutput: Tensor, activation: Tensor, mode: PoolMode) throws {
        try inner.reluPool2x2BackwardInPlace(gradOutput: gradOutput, activation: activation, mode: mode)
    }
    func gram(features: Tensor, output: Tensor) throws { try inner.gram(features: features, output: output) }
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
