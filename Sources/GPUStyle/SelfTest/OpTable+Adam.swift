extension OpTable {
    static let adamRows: [OpRow] = [
        OpRow(
            name: "adam step (three steps: parameter, m, v)", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("parameter", c.shape, &g, in: 0...255), .random("gradient", c.shape, &g)] },
            run: { backend, x, _, _ in
                let parameter = try backend.tensor(x[0]), gradient = try backend.tensor(x[1])
                let m = try backend.makeTensor(x[0].shape), v = try backend.makeTensor(x[0].shape)
                for step in 1...3 {
                    try backend.adamStep(
                        parameter: parameter, gradient: gradient, m: m, v: v, step: step,
                        parameters: AdamParameters(learningRate: 10))
                }
                return try backend.download(parameter) + backend.download(m) + backend.download(v)
            },
            terms: { _ in 30 },
            // |p| plus the three steps (each at most lr·(1 − β1)/√(1 − β2) ≈ 3.2·lr in size), then |g|
            // and g² for m and v.
            magnitudes: { x, _ in
                x[0].values.map { Double(abs($0)) + 3 * 3.2 * 10 } + x[1].values.map { 3 * Double(abs($0)) }
                    + x[1].values.map { 3 * Double($0) * Double($0) }
            })
    ]
}
