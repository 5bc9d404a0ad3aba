extension OpTable {
    static let poolingRows: [OpRow] = [
        OpRow(
            name: "max pool 2×2 forward and backward (ties, odd edges, accumulate, with ReLU apart and in place)",
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
            name: "avg pool 2×2 forward and backward (odd edges, accumulate, with ReLU apart and in place)",
            cases: planeCases,
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
    /// the ReLU-and-pool backward from relu(x[0]) into another tensor and in place over it.
    static func pool(_ backend: Backend, _ x: [OpInput], _ mode: PoolMode) throws -> [Float] {
        let input = try backend.tensor(x[0]), dy = try backend.tensor(x[1])
        let out = try backend.makeTensor(x[1].shape)
        try backend.pool2x2(input: input, mode: mode, output: out)
        var outputs = try backend.download(out)
        outputs += try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
            try backend.pool2x2Backward(
                gradOutput: dy, input: input, mode: mode, gradInput: grad, accumulate: accumulate)
        }
        let activation = try backend.makeTensor(x[0].shape), apart = try backend.makeTensor(x[0].shape)
        try backend.relu(input: input, output: activation)
        try backend.reluPool2x2Backward(gradOutput: dy, activation: activation, mode: mode, gradInput: apart)
        try backend.reluPool2x2Backward(gradOutput: dy, activation: activation, mode: mode, gradInput: activation)
        return outputs + (try backend.download(apart)) + (try backend.download(activation))
    }

    static let poolingGradRows = PoolMode.allCases.flatMap {
        [poolGradRow($0, relu: false), poolGradRow($0, relu: true)]
    }

    /// pool2x2Backward, plain and accumulated, as ∂⟨dY, pool(x)⟩/∂x; with `relu`,
    /// reluPool2x2Backward in place as ∂⟨dY, pool(relu(x))⟩/∂x. Distinct inputs 0.01 apart: no tie
    /// in a window and no ReLU kink lies within the step.
    static func poolGradRow(_ mode: PoolMode, relu: Bool) -> OpGradRow {
        let accumulates = relu ? [false] : [false, true]
        return OpGradRow(
            name: relu ? "grad relu + \(mode) pool 2×2 (in place)" : "grad \(mode) pool 2×2 (acc)",
            cases: gradPlaneCases, selfTestCases: selfTestGradPlaneCases,
            inputs: { c, g in
                [
                    .wellSpaced("input", c.shape, &g), .random("gradOutput", c.shape.pooled, &g),
                    .random("gradInput", c.shape, &g),
                ]
            },
            forward: { x, _, _, _ in ReferenceOps.pool2x2(relu ? ReferenceOps.relu(x) : x, mode: mode).values },
            forwardTerms: { _ in 3 },
            backward: { backend, x, _, _ in
                let (input, dy) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                if relu {
                    let activation = try backend.makeTensor(x[0].shape)
                    try backend.relu(input: input, output: activation)
                    try backend.reluPool2x2Backward(
                        gradOutput: dy, activation: activation, mode: mode, gradInput: activation)
                    return try backend.download(activation)
                }
                return try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                    try backend.pool2x2Backward(
                        gradOutput: dy, input: input, mode: mode, gradInput: grad, accumulate: accumulate)
                }
            },
            accumulates: accumulates,
            // A routed or quartered dY is exact; accumulating adds one rounding.
            terms: { _ in 1 },
            // Max pooling routes by x, not |x|: |dY| of the pixel's window, plus |gradInput|.
            magnitudes: { x, c in
                let pooled = c.shape.pooled
                let window = (0..<c.shape.count).map { index in
                    let (k, i, j) = (index / c.shape.pixels, index / c.w % c.h, index % c.w)
                    return i / 2 < pooled.h && j / 2 < pooled.w ? Double(abs(x[1][k, i / 2, j / 2])) : 0
                }
                return accumulates.flatMap { $0 ? zip(window, x[2].values).map { $0 + Double(abs($1)) } : window }
            })
    }
}
