/// The ops that read or write layer outputs, on layer outputs in 16-bit storage (`--storage
/// half`): 16-bit tensors where the backend has them (OpenCL's ACT_IN_HALF / ACT_OUT_HALF builds
/// of the kernels), float32 ones rounded to half natively, which is the mode's definition. Inputs
/// are rounded alike on both (upload to a 16-bit tensor rounds to nearest even, as `roundToHalf`).
/// Where an op writes a layer output, the two backends' float32 results may round to neighbouring
/// halves: each rounding moves a value by at most 2⁻¹¹ of it, so the bound gains 2·2⁻¹¹·Σ|terms|,
/// which K = 2¹³ more terms covers (2γ(K) > 2⁻¹⁰ for K·u = 2⁻¹¹). One file for the mode: its rows
/// run the ops of several stems.
extension OpTable {
    static let halfStorageRows: [OpRow] = [
        OpRow(
            name:
                "conv3x3 forward into 16-bit layer outputs (from float32 with ReLU, from 16-bit with and without, "
                + "with ReLU and max pooling)",
            cases: convCases, selfTestCases: selfTestConvCases, inputs: convolutionForwardRow.inputs,
            run: { backend, x, c, _ in
                let weights = try backend.makeConvWeights(
                    weights: x[1].values, bias: x[2].values, outputChannels: c.o, inputChannels: c.c)
                var outputs: [Float] = []
                for (input, relu) in [(try backend.tensor(x[0]), true), (try backend.layerOutput(x[0]), true)]
                    + [(try backend.layerOutput(x[0]), false)]
                {
                    let output = try backend.makeLayerOutput(c.outputShape)
                    try backend.conv3x3(input: input, weights: weights, relu: relu, output: output)
                    try backend.roundLayerOutput(output)
                    outputs += try backend.download(output)
                }
                // Pooled as it is stored where the backend can; max pooling commutes with the rounding.
                let (output, pooled) = (
                    try backend.makeLayerOutput(c.outputShape), try backend.makeLayerOutput(c.outputShape.pooled)
                )
                try backend.conv3x3(
                    input: try backend.layerOutput(x[0]), weights: weights, relu: true, output: output,
                    pool: ConvPooling(mode: .max, output: pooled))
                try backend.roundLayerOutput(pooled)
                return outputs + (try backend.download(pooled))
            },
            terms: { $0.c * 9 + 1 + halfRoundingTerms }, tiled: true,
            winogradBound: { tile, x, c in
                // The 16-bit input is within 2⁻¹¹ of the float32 one, and so is its magnitude.
                let magnitude = winogradForwardMagnitude(tile: tile, x: x, c: c).map { $0 * (1 + 0x1p-11) }
                return (
                    winogradRoundedTerms(channels: c.c, extraRoundings: 1, tile: tile) + halfRoundingTerms,
                    magnitude + magnitude + magnitude + windowMaxima(magnitude, c.outputShape)
                )
            }),
        OpRow(
            name: "relu, max pool 2×2 and their backward on 16-bit layer outputs (ties)", cases: planeCases,
            selfTestCases: selfTestPlaneCases, inputs: poolingRows[0].inputs,
            run: { backend, x, c, _ in
                let input = try backend.layerOutput(x[0])
                let (relu, pooled) = (try backend.makeLayerOutput(c.shape), try backend.makeLayerOutput(c.shape.pooled))
                try backend.relu(input: input, output: relu)
                try backend.pool2x2(input: input, mode: .max, output: pooled)
                let (dy, gradInput) = (try backend.tensor(x[1]), try backend.makeTensor(c.shape))
                try backend.pool2x2Backward(
                    gradOutput: dy, input: input, mode: .max, gradInput: gradInput, accumulate: false)
                let routed = try backend.download(gradInput)
                try backend.reluBackward(gradOutput: gradInput, activation: relu, gradInput: gradInput)
                return try backend.download(relu) + backend.download(pooled) + routed + backend.download(gradInput)
            },
            terms: { _ in 0 }, tiled: true),
        OpRow(
            name: "avg pool 2×2 into 16-bit layer outputs and its backward", cases: planeCases,
            selfTestCases: selfTestPlaneCases, inputs: poolingRows[1].inputs,
            run: { backend, x, c, _ in
                let input = try backend.layerOutput(x[0])
                let pooled = try backend.makeLayerOutput(c.shape.pooled)
                try backend.pool2x2(input: input, mode: .avg, output: pooled)
                try backend.roundLayerOutput(pooled)
                let gradInput = try backend.makeTensor(c.shape)
                try backend.pool2x2Backward(
                    gradOutput: try backend.tensor(x[1]), input: input, mode: .avg, gradInput: gradInput,
                    accumulate: false)
                return try backend.download(pooled) + backend.download(gradInput)
            },
            terms: { _ in 4 + halfRoundingTerms }, tiled: true),
        OpRow(
            name: "copyRegion of 16-bit layer outputs",
            cases: planeCases, selfTestCases: selfTestPlaneCases, inputs: vectorRows[1].inputs,
            run: { backend, x, c, _ in
                // As the float32 row, halves to halves: exact.
                let (source, target) = (try backend.layerOutput(x[0]), try backend.layerOutput(x[1]))
                try backend.copyRegion(
                    source, PlaneRegion(y: c.h / 2, x: c.w / 2, height: c.h - c.h / 2, width: c.w - c.w / 2),
                    to: target, at: PlanePoint(y: 1, x: 2))
                return try backend.download(target)
            },
            terms: { _ in 0 }),
        multiplyByMaskRow("multiplyByMask of 16-bit x (acc)") { try $0.layerOutput($1) },
        reluCodesRow("encodeReluCodes of and decodeReluCodes into 16-bit layer outputs") { try $0.layerOutput($1) },
        OpRow(
            name: "gram of 16-bit features", cases: gramRows[0].cases, selfTestCases: selfTestPlaneCases,
            inputs: gramRows[0].inputs,
            run: { backend, x, c, _ in
                let gram = try backend.makeTensor(Shape(c: 1, h: c.c, w: c.c))
                try backend.gram(features: try backend.layerOutput(x[0]), output: gram)
                return try backend.download(gram)
            },
            terms: gramRows[0].terms, tiled: true),
        gramBackwardRow("gram backward from 16-bit features (plain and accumulated)", masked: false) {
            try $0.layerOutput($1)
        },
        gramBackwardRow("gram backward from 16-bit features, ReLU-masked sum (plain and accumulated)", masked: true) {
            try $0.layerOutput($1)
        },
        OpRow(
            name: "mean squared error of 16-bit features", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: lossesRows[0].inputs,
            run: { backend, x, _, _ in
                let scalars = try backend.tensor([7, 7, 7], .vector(3))
                let (a, b) = (try backend.layerOutput(x[0]), try backend.layerOutput(x[1]))
                try backend.meanSquaredError(a, b, scale: 3, scalars: scalars, slot: 0, accumulate: false)
                return try backend.download(scalars)
            },
            terms: lossesRows[0].terms,
            magnitudes: { x, c in
                let rounded = x.map { OpInput($0.name, $0.shape, $0.values.map { Float(Float16($0)) }) }
                return Array(lossesRows[0].magnitudes!(rounded, c).prefix(1)) + [7, 7]
            }),
        OpRow(
            name: "mean squared error gradient of 16-bit features", cases: planeCases,
            selfTestCases: selfTestPlaneCases, inputs: lossesRows[1].inputs,
            run: { backend, x, _, absolute in
                // The magnitude run: |a| + |b| bounds |a − b|.
                let (a, b) = (try backend.layerOutput(x[0]), try backend.layerOutput(absolute ? x[1].negated : x[1]))
                return try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                    try backend.meanSquaredErrorGradient(a, b, scale: 0.5, grad: grad, accumulate: accumulate)
                }
            },
            terms: lossesRows[1].terms),
    ]

    /// The terms that cover two roundings to half of a result (the file's comment).
    static let halfRoundingTerms = 1 << 13
}

extension OpInput {
    /// The same input with every value's sign flipped.
    var negated: OpInput { OpInput(name, shape, values.map { -$0 }) }
}

extension Backend {
    /// `input` as a layer output in 16-bit storage: its values rounded to half either way.
    func layerOutput(_ input: OpInput) throws -> Tensor {
        let tensor = try makeLayerOutput(input.shape)
        try upload(input.values, to: tensor)
        try roundLayerOutput(tensor)
        return tensor
    }
}
