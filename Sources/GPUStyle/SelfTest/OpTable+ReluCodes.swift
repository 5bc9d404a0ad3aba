extension OpTable {
    static let reluCodesRows: [OpRow] = [
        reluCodesRow("encodeReluCodes and decodeReluCodes (ties, odd edges, max pooled and not)") {
            try $0.tensor($1)
        }
    ]

    /// A ReLU output of values on a coarse grid (windows with ties and zeros), its codes with and
    /// without max pooling, decoded, then the backward ops that read them, from the decoded values:
    /// exact on every backend (`ReluCodesTests` checks they are the activation's own results).
    /// `layerOutput` makes a tensor of the row's storage from an input.
    static func reluCodesRow(
        _ name: String, layerOutput: @escaping (Backend, OpInput) throws -> Tensor
    ) -> OpRow {
        OpRow(
            name: name, cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in
                let input = OpInput(
                    "activation", c.shape,
                    (0..<c.shape.count).map { _ in Float(max(0, Int.random(in: -2...2, using: &g))) })
                return [input, .random("gradOutput", c.shape.pooled, &g), .random("gradInput", c.shape, &g)]
            },
            run: { backend, x, c, _ in
                let activation = try layerOutput(backend, x[0])
                let (dy, gradInput) = (try backend.tensor(x[1]), try backend.tensor(x[2]))
                let codes = try backend.makeTensor(.reluCodes(of: c.shape))
                let decoded = try layerOutput(backend, x[0])
                var outputs: [Float] = []
                for maxPooled in [false, true] {
                    try backend.encodeReluCodes(activation, maxPooled: maxPooled, codes: codes)
                    try backend.decodeReluCodes(codes, output: decoded)
                    outputs += try backend.download(codes) + backend.download(decoded)
                }
                try backend.reluBackward(gradOutput: gradInput, activation: decoded, gradInput: gradInput)
                outputs += try backend.download(gradInput)
                try backend.reluPool2x2Backward(gradOutput: dy, activation: decoded, mode: .max, gradInput: gradInput)
                outputs += try backend.download(gradInput)
                try backend.pool2x2Backward(
                    gradOutput: dy, input: decoded, mode: .max, gradInput: gradInput, accumulate: false)
                return outputs + (try backend.download(gradInput))
            },
            terms: { _ in 0 }, tiled: true)
    }
}
