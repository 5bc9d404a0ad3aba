/// The checks of `stylize-gpu selftest`: every row of `OpTable` on a few awkward shapes (1×1, odd
/// sizes, channel counts that are not multiples of any tile), and the real weights' first layers.
/// The test suite runs the same rows on all their shapes (BackendOpsTests).
public enum SelfTestTable {
    /// The self-test's checks on random data: every row of `OpTable` on its self-test shapes,
    /// reproducible from `seed`.
    public static func randomChecks(seed: UInt64 = 0x5E1F) -> [SelfTestCheck] {
        OpTable.checks(allCases: false, seed: seed)
    }

    /// conv1_1 and conv1_2 of real weights (with the weights' preprocessing) on a small random
    /// image, forward and backward-data. Each layer gets the reference's output of the layer
    /// before, so errors do not compound.
    public static func weightChecks(
        _ weights: VGGWeights, height: Int = 24, width: Int = 32, seed: UInt64 = 0xC0DE
    ) throws -> [SelfTestCheck] {
        guard weights.layers.count >= 2 else { throw StyleError("selftest: the weights hold fewer than 2 conv layers") }
        var g = SplitMix64(seed: seed)
        let reference = NativeBackend()
        let imageShape = Shape(c: 3, h: height, w: width)
        let image = (0..<imageShape.count).map { _ in Float(255 * g.nextUnit()) }
        let pre = try reference.makeTensor(imageShape)
        try reference.preprocess(
            image: try reference.tensor(image, imageShape), affine: weights.preprocessing.affine, output: pre)
        var input = try reference.download(pre)
        var checks: [SelfTestCheck] = []
        for layer in weights.layers.prefix(2) {
            let shape = "\(layer.inputChannels)→\(layer.outputChannels) \(height)×\(width)"
            let inputShape = Shape(c: layer.inputChannels, h: height, w: width)
            let outputShape = Shape(c: layer.outputChannels, h: height, w: width)
            checks.append(
                conv(
                    op: "\(layer.name) forward (+ReLU)", shape: shape, input: input, inputShape: inputShape,
                    weights: layer.weights, bias: layer.bias, outputChannels: layer.outputChannels))
            let gradient = (0..<outputShape.count).map { _ in Float(2 * g.nextUnit() - 1) }
            checks.append(
                convBackward(
                    op: "\(layer.name) backward-data (mask, acc)", shape: shape,
                    inputs: [gradient, layer.weights, input, [Float](repeating: 0.5, count: inputShape.count)],
                    inputShape: inputShape, outputChannels: layer.outputChannels))
            let layerWeights = try reference.makeConvWeights(
                weights: layer.weights, bias: layer.bias,
                outputChannels: layer.outputChannels, inputChannels: layer.inputChannels)
            let output = try reference.makeTensor(outputShape)
            try reference.conv3x3(
                input: try reference.tensor(input, inputShape), weights: layerWeights, relu: true, output: output)
            input = try reference.download(output)
        }
        return checks
    }

    // MARK: Rows with several variants

    /// Forward without and with ReLU.
    private static func conv(
        op: String, shape: String, input: [Float], inputShape: Shape, weights: [Float], bias: [Float],
        outputChannels: Int
    ) -> SelfTestCheck {
        SelfTestCheck(op: op, shape: shape, inputs: [input, weights, bias], terms: inputShape.c * 9 + 1) {
            backend, x, _ in
            let layer = try backend.makeConvWeights(
                weights: x[1], bias: x[2], outputChannels: outputChannels, inputChannels: inputShape.c)
            let image = try backend.tensor(x[0], inputShape)
            let output = try backend.makeTensor(Shape(c: outputChannels, h: inputShape.h, w: inputShape.w))
            try backend.conv3x3(input: image, weights: layer, relu: false, output: output)
            let plain = try backend.download(output)
            try backend.conv3x3(input: image, weights: layer, relu: true, output: output)
            return plain + (try backend.download(output))
        }
    }

    /// Backward-data plain, ReLU-masked, accumulated, and both; x = [gradOutput, weights, mask, initial gradInput].
    private static func convBackward(
        op: String, shape: String, inputs: [[Float]], inputShape: Shape, outputChannels: Int
    ) -> SelfTestCheck {
        SelfTestCheck(op: op, shape: shape, inputs: inputs, terms: outputChannels * 9 + 1) { backend, x, _ in
            let layer = try backend.makeConvWeights(
                weights: x[1], bias: [Float](repeating: 0, count: outputChannels),
                outputChannels: outputChannels, inputChannels: inputShape.c)
            let gradOutput = try backend.tensor(x[0], Shape(c: outputChannels, h: inputShape.h, w: inputShape.w))
            let mask = try backend.tensor(x[2], inputShape)
            var outputs: [Float] = []
            for masked in [false, true] {
                outputs += try accumulating(backend, initial: x[3], inputShape) { grad, accumulate in
                    try backend.conv3x3BackwardData(
                        gradOutput: gradOutput, weights: layer, reluMaskFrom: masked ? mask : nil,
                        gradInput: grad, accumulate: accumulate)
                }
            }
            // Over its own gradOutput where the backend runs the layer in place (as the backward
            // pass does below a pooling layer); the same op into another tensor elsewhere.
            let inPlace =
                inputShape.c <= outputChannels
                && backend.backwardDataRunsInPlace(outputChannels: outputChannels, inputChannels: inputShape.c)
            let shared = try backend.tensor(x[0], gradOutput.shape)
            let target =
                inPlace ? Tensor(shape: inputShape, storage: shared.storage) : try backend.makeTensor(inputShape)
            try backend.conv3x3BackwardData(
                gradOutput: shared, weights: layer, reluMaskFrom: mask, gradInput: target,
                accumulate: false)
            return outputs + (try backend.download(target))
        }
    }

    /// dot(a, b), then b after axpy, scale, copy and fill, as one output vector. With `absolute`
    /// the coefficients are positive, so the same call on |inputs| gives the error bound's Σ|terms|.
    static func runVectorOps(_ backend: Backend, _ a: Tensor, _ b: Tensor, absolute: Bool) throws -> [Float] {
        let dot = try backend.dot(a, b)
        try backend.axpy(alpha: absolute ? 0.75 : -0.75, x: a, y: b)
        let afterAxpy = try backend.download(b)
        try backend.scale(b, by: absolute ? 1.5 : -1.5)
        let afterScale = try backend.download(b)
        try backend.copy(a, to: b)
        let copied = try backend.download(b)
        try backend.fill(b, value: 1.25)
        return [Float(dot)] + afterAxpy + afterScale + copied + (try backend.download(b))
    }

    /// Runs an op that writes or accumulates into a gradient, both ways, from the same initial contents.
    private static func accumulating(
        _ backend: Backend, initial: [Float], _ shape: Shape,
        _ op: (Tensor, Bool) throws -> Void
    ) throws -> [Float] {
        var outputs: [Float] = []
        for accumulate in [false, true] {
            let grad = try backend.tensor(initial, shape)
            try op(grad, accumulate)
            outputs += try backend.download(grad)
        }
        return outputs
    }
}

extension Backend {
    /// A new tensor of `shape` holding `values`.
    func tensor(_ values: [Float], _ shape: Shape) throws -> Tensor {
        let tensor = try makeTensor(shape)
        try upload(values, to: tensor)
        return tensor
    }
}
