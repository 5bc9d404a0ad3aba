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
    ]

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
