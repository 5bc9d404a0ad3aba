/// The checks of `stylize-gpu selftest`: every row of `OpTable` on a few awkward shapes (1×1, odd
/// sizes, channel counts that are not multiples of any tile), and the real weights' first layers.
/// The test suite runs the same rows on all their shapes (BackendOpsTests).
public enum SelfTestTable {
    /// The self-test's checks on random data: every row of `OpTable` on its self-test shapes,
    /// reproducible from `seed`.
    public static func randomChecks(seed: UInt64 = 0x5E1F) -> [SelfTestCheck] {
        OpTable.checks(allCases: false, seed: seed)
    }

    /// The self-test's gradient checks: every grad row of `OpTable` on its self-test shapes.
    public static func gradChecks(seed: UInt64 = 0x6EAD) -> [SelfTestCheck] {
        OpTable.gradChecks(allCases: false, seed: seed)
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
            let testCase = OpCase(c: layer.inputChannels, h: height, w: width, o: layer.outputChannels)
            let weightInput = OpInput("weights", Shape(c: testCase.o * testCase.c, h: 3, w: 3), layer.weights)
            let image = OpInput("input", testCase.shape, input)
            checks.append(
                OpTable.convolutionForwardRow.check(
                    testCase, inputs: [image, weightInput, OpInput("bias", .vector(testCase.o), layer.bias)],
                    op: "\(layer.name) forward (+ReLU)"))
            let gradient = (0..<testCase.outputShape.count).map { _ in Float(2 * g.nextUnit() - 1) }
            checks.append(
                OpTable.convolutionBackwardDataRow.check(
                    testCase,
                    inputs: [
                        OpInput("gradOutput", testCase.outputShape, gradient), weightInput,
                        OpInput("reluMask", testCase.shape, input),
                        OpInput("gradInput", testCase.shape, [Float](repeating: 0.5, count: testCase.shape.count)),
                    ],
                    op: "\(layer.name) backward-data (mask, acc)"))
            let layerWeights = try reference.makeConvWeights(
                weights: layer.weights, bias: layer.bias,
                outputChannels: layer.outputChannels, inputChannels: layer.inputChannels)
            let output = try reference.makeTensor(testCase.outputShape)
            try reference.conv3x3(input: try reference.tensor(image), weights: layerWeights, relu: true, output: output)
            input = try reference.download(output)
        }
        return checks
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
