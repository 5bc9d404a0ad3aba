extension OpTable {
    static let vectorRows: [OpRow] = [
        OpRow(
            name: "vector ops: fill, copy, axpy, scale, dot", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("x", c.shape, &g), .random("y", c.shape, &g)] },
            run: { backend, x, _, absolute in
                // dot's rounding is γ(n): checked per row below by its own bound (the first output).
                try SelfTestTable.runVectorOps(
                    backend, try backend.tensor(x[0]), try backend.tensor(x[1]),
                    absolute: absolute)
            },
            terms: { $0.shape.count + 4 }, checksDeterminism: true, tiled: true)
    ]
}
