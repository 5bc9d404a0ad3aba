extension OpTable {
    static let vectorRows: [OpRow] = [
        OpRow(
            name: "vector ops: fill, copy, axpy, scale, clamp, dot", cases: planeCases,
            selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("x", c.shape, &g), .random("y", c.shape, &g)] },
            run: { backend, x, _, absolute in
                // K = n + 4 covers dot's n-term sum (the first output) as well as the elementwise ops.
                try runVectorOps(
                    backend, try backend.tensor(x[0]), try backend.tensor(x[1]),
                    absolute: absolute)
            },
            terms: { $0.shape.count + 4 }, checksDeterminism: true, tiled: true),
        OpRow(
            name: "copyRegion", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in
                [.random("source", c.shape, &g), .random("target", Shape(c: c.c, h: c.h + 3, w: c.w + 2), &g)]
            },
            run: { backend, x, c, _ in
                // The whole plane, then its lower right part (rows and columns from the middle) onto
                // the target's upper left: every offset argument other than zero.
                let (source, target) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                try backend.copyRegion(
                    source, PlaneRegion(y: 0, x: 0, height: c.h, width: c.w), to: target,
                    at: PlanePoint(y: 2, x: 1))
                let whole = try backend.download(target)
                try backend.copyRegion(
                    source, PlaneRegion(y: c.h / 2, x: c.w / 2, height: c.h - c.h / 2, width: c.w - c.w / 2),
                    to: target, at: PlanePoint(y: 0, x: 0))
                return whole + (try backend.download(target))
            },
            terms: { _ in 0 }),
        OpRow(
            name: "roundToHalf", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [halfRoundingInput(c.shape, &g)] },
            run: { backend, x, _, _ in
                let tensor = try backend.tensor(x[0])
                try backend.roundToHalf(tensor)
                // ±inf (beyond 65504) as a finite stand-in, so equal infinities compare as equal.
                return try backend.download(tensor).map { $0.isInfinite ? ($0 > 0 ? 1e30 : -1e30) : $0 }
            },
            terms: { _ in 0 }),
    ]

    /// Values across float16's whole range: uniform in ±1 times 2^k for k from −30 (subnormal, and
    /// below half's smallest subnormal 2^−24) to 17 (past 65504: ±inf), after a few exact ties
    /// (halfway between two halves: to even), the largest half, the first value that overflows,
    /// a tie between subnormals and −0.
    static func halfRoundingInput(_ shape: Shape, _ generator: inout SplitMix64) -> OpInput {
        let ties: [Float] = [
            1 + 0x1p-11, 1 + 3 * 0x1p-11, -(2048 + 1), 65504, 65520, -65519.996, 0x1p-25, 3 * 0x1p-25, -0.0,
        ]
        var values = OpInput.random("x", shape, &generator).values.enumerated().map { index, value in
            value * Float(sign: .plus, exponent: index % 48 - 30, significand: 1)
        }
        for (index, tie) in ties.enumerated() where index < values.count { values[index] = tie }
        return OpInput("x", shape, values)
    }

    /// dot(a, b), then b after axpy, scale, clamp, copy and fill, as one output vector. With `absolute`
    /// the coefficients are positive, so the same call on |inputs| gives the error bound's Σ|terms|.
    static func runVectorOps(_ backend: Backend, _ a: Tensor, _ b: Tensor, absolute: Bool) throws -> [Float] {
        let dot = try backend.dot(a, b)
        try backend.axpy(alpha: absolute ? 0.75 : -0.75, x: a, y: b)
        let afterAxpy = try backend.download(b)
        try backend.scale(b, by: absolute ? 1.5 : -1.5)
        let afterScale = try backend.download(b)
        // Clamping is 1-Lipschitz: the unclamped values' bound holds for the clamped ones.
        if !absolute { try backend.clamp(b, lower: -0.5, upper: 0.25) }
        let afterClamp = try backend.download(b)
        try backend.copy(a, to: b)
        let copied = try backend.download(b)
        try backend.fill(b, value: 1.25)
        return [Float(dot)] + afterAxpy + afterScale + afterClamp + copied + (try backend.download(b))
    }
}
