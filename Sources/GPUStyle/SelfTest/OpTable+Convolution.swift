extension OpTable {
    static let convolutionRows = [convolutionForwardRow, convolutionBackwardDataRow]

    /// Inputs: input, weights, bias (the weights' check in SelfTestTable reuses it).
    static let convolutionForwardRow = OpRow(
        name: "conv3x3 forward (bias, with and without ReLU, with ReLU and max pooling)", cases: convCases,
        selfTestCases: selfTestConvCases,
        inputs: { c, g in
            [
                .random("input", c.shape, &g), .random("weights", Shape(c: c.o * c.c, h: 3, w: 3), &g),
                .random("bias", .vector(c.o), &g),
            ]
        },
        run: { backend, x, c, _ in
            let weights = try backend.makeConvWeights(
                weights: x[1].values, bias: x[2].values,
                outputChannels: c.o, inputChannels: c.c)
            let input = try backend.tensor(x[0])
            let output = try backend.makeTensor(c.outputShape)
            try backend.conv3x3(input: input, weights: weights, relu: false, output: output)
            let plain = try backend.download(output)
            try backend.conv3x3(input: input, weights: weights, relu: true, output: output)
            let relu = try backend.download(output)
            let pooled = try backend.makeTensor(c.outputShape.pooled)
            try backend.conv3x3(
                input: input, weights: weights, relu: true, output: output,
                pool: ConvPooling(mode: .max, output: pooled))
            return plain + relu + (try backend.download(output)) + (try backend.download(pooled))
        },
        terms: { $0.c * 9 + 1 }, tiled: true,
        winogradBound: { tile, x, c in
            let magnitude = winogradForwardMagnitude(tile: tile, x: x, c: c)
            return (
                winogradRoundedTerms(channels: c.c, extraRoundings: 1, tile: tile),
                magnitude + magnitude + magnitude + windowMaxima(magnitude, c.outputShape)
            )
        })

    /// The largest of each 2×2 pooling window's `values` (a tensor of `shape`): a max-pooled
    /// output is within the largest of its window's errors of the exact one.
    static func windowMaxima(_ values: [Double], _ shape: Shape) -> [Double] {
        ReferenceOps.pool2x2(ReferenceTensor(shape: shape, values: values), mode: .max).values
    }

    /// One forward run's magnitude where a backend computes it by Winograd F(tile) (inputs: input,
    /// weights, bias): the transforms' magnitude plus |bias| for its add (a ReLU only zeroes).
    static func winogradForwardMagnitude(tile: Int, x: [OpInput], c: OpCase) -> [Double] {
        let magnitude = winogradErrorBound(
            input: x[0].values.map(Double.init), channels: c.c, height: c.h, width: c.w,
            weights: x[1].values.map(Double.init), outputChannels: c.o, tile: tile
        ).magnitude
        let plane = c.h * c.w
        return magnitude.indices.map { magnitude[$0] + Double(abs(x[2].values[$0 / plane])) }
    }

    /// Inputs: gradOutput, weights, reluMask, gradInput (the weights' check reuses it too).
    static let convolutionBackwardDataRow = OpRow(
        name: "conv3x3 backward-data (plain, ReLU-masked, accumulated, both)", cases: convCases,
        selfTestCases: selfTestConvCases,
        inputs: { c, g in
            [
                .random("gradOutput", c.outputShape, &g), .random("weights", Shape(c: c.o * c.c, h: 3, w: 3), &g),
                .random("reluMask", c.shape, &g), .random("gradInput", c.shape, &g),
            ]
        },
        run: { backend, x, c, _ in
            let weights = try backend.makeConvWeights(
                weights: x[1].values,
                bias: [Float](repeating: 0, count: c.o),
                outputChannels: c.o, inputChannels: c.c)
            let gradOutput = try backend.tensor(x[0])
            let mask = try backend.tensor(x[2])
            var outputs: [Float] = []
            for (masked, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
                let gradInput = try backend.tensor(x[3])
                try backend.conv3x3BackwardData(
                    gradOutput: gradOutput, weights: weights,
                    reluMaskFrom: masked ? mask : nil, gradInput: gradInput,
                    accumulate: accumulate)
                outputs += try backend.download(gradInput)
            }
            // In place over a copy of dY where the backend can (the same op otherwise).
            if c.c <= c.o, backend.backwardDataRunsInPlace(outputChannels: c.o, inputChannels: c.c) {
                let shared = try backend.tensor(x[0])
                try backend.conv3x3BackwardData(
                    gradOutput: shared, weights: weights, reluMaskFrom: mask,
                    gradInput: Tensor(shape: c.shape, storage: shared.storage),
                    accumulate: false)
                outputs += try backend.download(shared).prefix(c.shape.count)
            } else {
                let gradInput = try backend.makeTensor(c.shape)
                try backend.conv3x3BackwardData(
                    gradOutput: gradOutput, weights: weights, reluMaskFrom: mask,
                    gradInput: gradInput, accumulate: false)
                outputs += try backend.download(gradInput)
            }
            return outputs
        },
        terms: { $0.o * 9 + 1 }, tiled: true,
        winogradBound: { tile, x, c in
            // The five runs: plain, masked, accumulated, both, then masked again.
            let bound = winogradBackwardDataBound(tile: tile, gradOutput: x[0], weights: x[1], previous: x[3], c: c)
            return (bound.terms, bound.plain + bound.plain + bound.accumulated + bound.accumulated + bound.plain)
        })

    /// A backward-data run's bound by Winograd F(tile): K, and the magnitudes of the forward
    /// convolution of dY with the flipped, transposed weights, plain (the mask only zeroes) and
    /// plus |previous value| where it accumulates.
    static func winogradBackwardDataBound(
        tile: Int, gradOutput: OpInput, weights: OpInput, previous: OpInput, c: OpCase
    ) -> (terms: Int, plain: [Double], accumulated: [Double]) {
        let flipped = ConvKernelLayouts.flippedTransposed(
            weights.values.map(Double.init), outputChannels: c.o, inputChannels: c.c)
        let plain = winogradErrorBound(
            input: gradOutput.values.map(Double.init), channels: c.o, height: c.h, width: c.w, weights: flipped,
            outputChannels: c.c, tile: tile
        ).magnitude
        return (
            winogradRoundedTerms(channels: c.o, extraRoundings: 1, tile: tile), plain,
            zip(plain, previous.values).map { $0 + Double(abs($1)) }
        )
    }

    static let convolutionGradRows = [false, true].map(convolutionGradRow)

    /// Backward-data, plain and accumulated, as ∂⟨dY, conv3x3(x)⟩/∂x, or masked, as
    /// ∂⟨dY, conv3x3(relu(x))⟩/∂x (x the previous layer's pre-activation, away from 0).
    static func convolutionGradRow(masked: Bool) -> OpGradRow {
        OpGradRow(
            name: masked ? "grad conv3x3 (ReLU mask, acc)" : "grad conv3x3 (acc)",
            cases: gradConvCases, selfTestCases: selfTestGradConvCases,
            inputs: { c, g in
                [
                    .wellSpaced("input", c.shape, &g), .random("gradOutput", c.outputShape, &g),
                    .random("weights", Shape(c: c.o * c.c, h: 3, w: 3), &g), .random("gradInput", c.shape, &g),
                ]
            },
            forward: { x, inputs, c, absolute in
                ReferenceOps.conv3x3(
                    masked ? ReferenceOps.relu(x) : x,
                    weights: inputs[2].values.map { Double(absolute ? abs($0) : $0) },
                    bias: [Double](repeating: 0, count: c.o), outputChannels: c.o, relu: false
                ).values
            },
            forwardTerms: { 9 * $0.c },
            backward: { backend, x, c, _ in
                let weights = try backend.makeConvWeights(
                    weights: x[2].values, bias: [Float](repeating: 0, count: c.o),
                    outputChannels: c.o, inputChannels: c.c)
                let gradOutput = try backend.tensor(x[1])
                let mask = try backend.makeTensor(c.shape)
                try backend.relu(input: try backend.tensor(x[0]), output: mask)
                return try backend.plainAndAccumulated(onto: x[3]) { gradInput, accumulate in
                    try backend.conv3x3BackwardData(
                        gradOutput: gradOutput, weights: weights, reluMaskFrom: masked ? mask : nil,
                        gradInput: gradInput, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { $0.o * 9 + 1 },
            winogradBound: { tile, x, c in
                // Inputs: x, gradOutput, weights, gradInput.
                let bound = winogradBackwardDataBound(
                    tile: tile, gradOutput: x[1], weights: x[2], previous: x[3], c: c)
                return (bound.terms, bound.plain + bound.accumulated)
            })
    }
}
