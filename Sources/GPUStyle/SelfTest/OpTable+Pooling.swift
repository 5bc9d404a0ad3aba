extension OpTable {
    static let poolingRows: [OpRow] = [
        OpRow(
            name: "max pool 2×2 forward and backward (ties, odd edges, accumulate, in place with ReLU)",
            cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in
                // Values on a coarse grid, so windows have ties; the first maximum must win.
                let input = OpInput(
                    "input", c.shape, (0..<c.shape.count).map { _ in Float(Int.random(in: -2...2, using: &g)) })
                return [input, .random("gradOutput", c.shape.pooled, &g), .random("gradInput", c.shape, &g)]
            },
            run: { backend, x, _, _ in try pool(backend, x, .max) },
            terms: { _ in 0 }, tiled: true),
        OpRow(
            name: "avg pool 2×2 forward and backward (odd edges, accumulate, in place with ReLU)", cases: planeCases,
            selfTestCases: selfTestPlaneCases,
            inputs: { c, g in
                [
                    .random("input", c.shape, &g), .random("gradOutput", c.shape.pooled, &g),
                    .random("gradInput", c.shape, &g),
                ]
            },
            run: { backend, x, _, _ in try pool(backend, x, .avg) },
            terms: { _ in 4 }, tiled: true),
    ]

    /// Pool forward, backward, backward accumulated onto x[2]; x[1] is the output gradient. Then
    /// the ReLU-and-pool backward in place over relu(x[0]).
    static func pool(_ backend: Backend, _ x: [OpInput], _ mode: PoolMode) throws -> [Float] {
        let input = try backend.tensor(x[0]), dy = try backend.tensor(x[1])
        let out = try backend.makeTensor(x[1].shape)
        try backend.pool2x2(input: input, mode: mode, output: out)
        var outputs = try backend.download(out)
        for accumulate in [false, true] {
            let grad = try backend.tensor(x[2])
            try backend.pool2x2Backward(
                gradOutput: dy, input: input, mode: mode, gradInput: grad, accumulate: accumulate)
            outputs += try backend.download(grad)
        }
        let activation = try backend.makeTensor(x[0].shape)
        try backend.relu(input: input, output: activation)
        try backend.reluPool2x2BackwardInPlace(gradOutput: dy, activation: activation, mode: mode)
        return outputs + (try backend.download(activation))
    }
}
