extension OpTable {
    /// Flows of up to ±3 pixels: samples land inside, between and (on small planes) beyond the
    /// border, which clamps.
    static func randomFlow(_ name: String, _ c: OpCase, _ g: inout SplitMix64) -> OpInput {
        .random(name, Shape(c: 2, h: c.h, w: c.w), &g, in: -3...3)
    }

    /// x (C×H×W), the output's gradient, a flow and the gradient the accumulating variant starts from.
    static func warpInputs(_ c: OpCase, _ g: inout SplitMix64) -> [OpInput] {
        [
            .random("image", c.shape, &g), .random("gradOutput", c.shape, &g), randomFlow("flow", c, &g),
            .random("gradInput", c.shape, &g),
        ]
    }

    /// Σ|terms| of the warp's adjoint on |dy| (the weights are ≥ 0), plain then accumulated onto `previous`.
    static func warpBackwardMagnitudes(_ x: [OpInput], gradOutput: Int, previous: Int) -> [Double] {
        let flow = ReferenceTensor(shape: x[2].shape, floats: x[2].values)
        let dy = ReferenceTensor(shape: x[gradOutput].shape, floats: x[gradOutput].values).magnitudes
        let plain = ReferenceOps.warpBilinearBackward(dy, flow: flow).values
        return plain + zip(plain, x[previous].values).map { $0 + Double(abs($1)) }
    }

    /// Derivatives (I_x, I_y, I_t as from `flowDerivatives`, in 0–255 units), the base flow, the
    /// current flow and the dual fields.
    static func tvl1Inputs(_ c: OpCase, _ g: inout SplitMix64) -> [OpInput] {
        [
            .random("derivatives", Shape(c: 3, h: c.h, w: c.w), &g, in: -20...20), randomFlow("base", c, &g),
            randomFlow("flow", c, &g), .random("dual", Shape(c: 4, h: c.h, w: c.w), &g),
        ]
    }

    static let tvl1Parameters = TVL1Parameters()

    /// Σ|terms| of a primal step per output: |u| + |I_x|·(λθ + R/g) (the data step, whichever
    /// branch; R = |I_t| + |I_x|(|u| + |u₀|) + |I_y|(|v| + |v₀|) bounds ρ's terms, g = I_x² + I_y²)
    /// + θ·(the four dual values the divergence reads); likewise for v with I_y.
    static func tvl1PrimalMagnitudes(_ x: [OpInput], _ c: OpCase) -> [Double] {
        let (d, base, flow, dual) = (x[0], x[1], x[2], x[3])
        let (lambdaTheta, theta) = (Double(tvl1Parameters.lambdaTheta), Double(tvl1Parameters.theta))
        var bound = [Double](repeating: 0, count: 2 * c.h * c.w)
        for i in 0..<c.h {
            for j in 0..<c.w {
                let (ix, iy, it) = (Double(d[0, i, j]), Double(d[1, i, j]), Double(d[2, i, j]))
                let r =
                    abs(it) + abs(ix) * Double(abs(flow[0, i, j]) + abs(base[0, i, j]))
                    + abs(iy) * Double(abs(flow[1, i, j]) + abs(base[1, i, j]))
                let g = ix * ix + iy * iy
                let quotient = g > 1e-10 ? r / g : 0
                for k in 0..<2 {
                    var divergence = Double(abs(dual[2 * k, i, j]) + abs(dual[2 * k + 1, i, j]))
                    if j > 0 { divergence += Double(abs(dual[2 * k, i, j - 1])) }
                    if i > 0 { divergence += Double(abs(dual[2 * k + 1, i - 1, j])) }
                    let gradient = k == 0 ? abs(ix) : abs(iy)
                    bound[(k * c.h + i) * c.w + j] =
                        Double(abs(flow[k, i, j])) + gradient * (lambdaTheta + quotient) + theta * divergence
                }
            }
        }
        return bound
    }

    /// Σ|terms| of a dual step: |p| + s(|w| + |w's neighbour|) (the denominator is ≥ 1).
    static func tvl1DualMagnitudes(_ x: [OpInput], _ c: OpCase) -> [Double] {
        let (flow, dual) = (x[0], x[1])
        let step = Double(tvl1Parameters.dualStep)
        var bound = [Double](repeating: 0, count: 4 * c.h * c.w)
        for k in 0..<2 {
            for i in 0..<c.h {
                for j in 0..<c.w {
                    let here = Double(abs(flow[k, i, j]))
                    let right = j < c.w - 1 ? here + Double(abs(flow[k, i, j + 1])) : 0
                    let down = i < c.h - 1 ? here + Double(abs(flow[k, i + 1, j])) : 0
                    bound[((2 * k) * c.h + i) * c.w + j] = Double(abs(dual[2 * k, i, j])) + step * right
                    bound[((2 * k + 1) * c.h + i) * c.w + j] = Double(abs(dual[2 * k + 1, i, j])) + step * down
                }
            }
        }
        return bound
    }

    /// A flow, and the other direction's flow warped by it: −flow plus noise, both in multiples of
    /// 1/8 so that every square and sum of the mask's tests is exact in float32 (bit-exact outputs).
    static func maskInputs(_ c: OpCase, _ g: inout SplitMix64, noise: Float) -> [OpInput] {
        let flow = randomFlow("flow", c, &g).values.map { ($0 * 8).rounded() / 8 }
        let backward = flow.map { -$0 + (noise * Float(g.nextUnit() * 2 - 1) * 8).rounded() / 8 }
        let shape = Shape(c: 2, h: c.h, w: c.w)
        return [OpInput("flow", shape, flow), OpInput("backwardFlow", shape, backward)]
    }

    /// x, the warped previous result, a mask in [0, 1] and a starting gradient.
    static func temporalInputs(_ c: OpCase, _ g: inout SplitMix64) -> [OpInput] {
        [
            .random("image", c.shape, &g), .random("warped", c.shape, &g),
            .random("mask", Shape(c: 1, h: c.h, w: c.w), &g, in: 0...1), .random("grad", c.shape, &g),
        ]
    }

    /// Coarse levels of at least 1×1: the fine shape's halves.
    static let upsampleCases: [OpCase] = [
        OpCase(c: 2, h: 2, w: 2), OpCase(c: 2, h: 5, w: 7), OpCase(c: 2, h: 13, w: 33), OpCase(c: 2, h: 6, w: 32),
        OpCase(c: 2, h: 2, w: 41), OpCase(c: 2, h: 33, w: 3),
    ]
    static let selfTestUpsampleCases: [OpCase] = [OpCase(c: 2, h: 2, w: 2), OpCase(c: 2, h: 13, w: 33)]

    static let flowRows: [OpRow] = [
        OpRow(
            name: "warpBilinear", cases: planeCases, selfTestCases: selfTestPlaneCases, inputs: warpInputs,
            run: { backend, x, _, _ in
                let (image, flow) = (try backend.tensor(x[0]), try backend.tensor(x[2]))
                let output = try backend.makeTensor(image.shape)
                try backend.warpBilinear(image, flow: flow, output: output)
                return try backend.download(output)
            },
            // Per sample: 1 − f (twice), two products, then the two sums of the nested form.
            terms: { _ in 6 },
            magnitudes: { x, _ in
                ReferenceOps.warpBilinear(
                    ReferenceTensor(shape: x[0].shape, floats: x[0].values).magnitudes,
                    flow: ReferenceTensor(shape: x[2].shape, floats: x[2].values)
                ).values
            }),
        OpRow(
            name: "warpBilinearBackward (acc)", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: warpInputs,
            run: { backend, x, _, _ in
                let (dy, flow) = (try backend.tensor(x[1]), try backend.tensor(x[2]))
                return try backend.plainAndAccumulated(onto: x[3]) { grad, accumulate in
                    try backend.warpBilinearBackward(
                        gradOutput: dy, flow: flow, gradImage: grad, accumulate: accumulate)
                }
            },
            // Up to every pixel of the plane scattered onto one sample, each term three roundings,
            // and the accumulation.
            terms: { $0.h * $0.w + 4 },
            magnitudes: { x, _ in warpBackwardMagnitudes(x, gradOutput: 1, previous: 3) }),
        OpRow(
            name: "flowDerivatives", cases: planeCases.map { OpCase(c: 1, h: $0.h, w: $0.w) },
            selfTestCases: selfTestPlaneCases.map { OpCase(c: 1, h: $0.h, w: $0.w) },
            inputs: { c, g in [.random("reference", c.shape, &g), .random("warped", c.shape, &g)] },
            run: { backend, x, c, _ in
                let (reference, warped) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                let output = try backend.makeTensor(Shape(c: 3, h: c.h, w: c.w))
                try backend.flowDerivatives(reference: reference, warped: warped, output: output)
                return try backend.download(output)
            },
            // Two differences, their sum (× 0.25 is exact); I_t one difference.
            terms: { _ in 2 },
            magnitudes: { x, c in
                let (r, w) = (x[0], x[1])
                var bound = [Double](repeating: 0, count: 3 * c.h * c.w)
                for i in 0..<c.h {
                    for j in 0..<c.w {
                        let (l, rr) = (max(j - 1, 0), min(j + 1, c.w - 1)),
                            (u, d) = (max(i - 1, 0), min(i + 1, c.h - 1))
                        let p = i * c.w + j
                        bound[p] =
                            0.25 * Double(abs(r[0, i, rr]) + abs(r[0, i, l]) + abs(w[0, i, rr]) + abs(w[0, i, l]))
                        bound[c.h * c.w + p] =
                            0.25 * Double(abs(r[0, d, j]) + abs(r[0, u, j]) + abs(w[0, d, j]) + abs(w[0, u, j]))
                        bound[2 * c.h * c.w + p] = Double(abs(w[0, i, j]) + abs(r[0, i, j]))
                    }
                }
                return bound
            }),
        OpRow(
            name: "tvl1PrimalStep", cases: planeCases.map { OpCase(c: 2, h: $0.h, w: $0.w) },
            selfTestCases: selfTestPlaneCases.map { OpCase(c: 2, h: $0.h, w: $0.w) }, inputs: tvl1Inputs,
            run: { backend, x, _, _ in
                let (derivatives, base) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                let (flow, dual) = (try backend.tensor(x[2]), try backend.tensor(x[3]))
                let output = try backend.makeTensor(flow.shape)
                try backend.tvl1PrimalStep(
                    derivatives: derivatives, base: base, flow: flow, dual: dual, parameters: tvl1Parameters,
                    output: output)
                return try backend.download(output)
            },
            // ρ: two differences, two products, two sums; g: two squares, a sum; the quotient (up
            // to 3 ulp in OpenCL) and its product; then u + du and the divergence (three sums, θ·,
            // a sum): 16 along the longest path. The thresholding is continuous in ρ, so a branch
            // taken differently near a tie changes the value by no more than ρ's rounding.
            terms: { _ in 16 },
            magnitudes: tvl1PrimalMagnitudes),
        OpRow(
            name: "tvl1DualStep", cases: planeCases.map { OpCase(c: 2, h: $0.h, w: $0.w) },
            selfTestCases: selfTestPlaneCases.map { OpCase(c: 2, h: $0.h, w: $0.w) },
            inputs: { c, g in [randomFlow("flow", c, &g), .random("dual", Shape(c: 4, h: c.h, w: c.w), &g)] },
            run: { backend, x, _, _ in
                let (flow, dual) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                let output = try backend.makeTensor(dual.shape)
                try backend.tvl1DualStep(flow: flow, dual: dual, parameters: tvl1Parameters, output: output)
                return try backend.download(output)
            },
            // The difference, s·∇w, the sum; |∇w|: two squares, a sum, the square root (3 ulp), s·,
            // 1 +; the quotient (3 ulp): 12.
            terms: { _ in 12 },
            magnitudes: tvl1DualMagnitudes),
        OpRow(
            name: "median3x3", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("flow", c.shape, &g)] },
            run: { backend, x, _, _ in
                let output = try backend.makeTensor(x[0].shape)
                try backend.median3x3(try backend.tensor(x[0]), output: output)
                return try backend.download(output)
            },
            // Comparisons only: one of the inputs, bit for bit.
            terms: { _ in 0 }),
        OpRow(
            name: "upsampleFlow", cases: upsampleCases, selfTestCases: selfTestUpsampleCases,
            inputs: { c, g in [.random("coarse", Shape(c: 2, h: c.h / 2, w: c.w / 2), &g)] },
            run: { backend, x, c, _ in
                let output = try backend.makeTensor(Shape(c: 2, h: c.h, w: c.w))
                try backend.upsampleFlow(try backend.tensor(x[0]), output: output)
                return try backend.download(output)
            },
            // The bilinear sample's 6; doubling is exact. Positions do not depend on values, so the
            // run on |inputs| gives Σ|terms|.
            terms: { _ in 6 }),
        OpRow(
            name: "reliabilityMask", cases: planeCases.map { OpCase(c: 2, h: $0.h, w: $0.w) },
            selfTestCases: selfTestPlaneCases.map { OpCase(c: 2, h: $0.h, w: $0.w) },
            inputs: { c, g in maskInputs(c, &g, noise: 1) },
            run: { backend, x, c, _ in
                let output = try backend.makeTensor(Shape(c: 1, h: c.h, w: c.w))
                try backend.reliabilityMask(
                    flow: try backend.tensor(x[0]), backwardFlow: try backend.tensor(x[1]), output: output)
                return try backend.download(output)
            },
            // Exact arithmetic on multiples of 1/8: the same decisions, bit for bit.
            terms: { _ in 0 }),
        OpRow(
            name: "temporalLoss (set and accumulated slot)", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: temporalInputs,
            run: { backend, x, _, _ in
                let scalars = try backend.tensor([7, 7, 7], .vector(3))
                let (image, warped, mask) = (
                    try backend.tensor(x[0]), try backend.tensor(x[1]), try backend.tensor(x[2])
                )
                try backend.temporalLoss(
                    image, warped: warped, mask: mask, scale: 3, scalars: scalars, slot: 0, accumulate: false)
                try backend.temporalLoss(
                    image, warped: warped, mask: mask, scale: 3, scalars: scalars, slot: 2, accumulate: true)
                return try backend.download(scalars)
            },
            terms: { $0.shape.count + 5 },
            magnitudes: { x, _ in
                let loss =
                    3
                    * ReferenceOps.temporalLoss(
                        ReferenceTensor(shape: x[0].shape, floats: x[0].values),
                        warped: ReferenceTensor(shape: x[1].shape, floats: x[1].values),
                        mask: ReferenceTensor(shape: x[2].shape, floats: x[2].values))
                return [loss, 7, 7 + loss]
            },
            checksDeterminism: true, tiled: true),
        OpRow(
            name: "temporalLossGradient (acc)", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: temporalInputs,
            run: { backend, x, _, absolute in
                let (image, warped, mask) = (
                    try backend.tensor(x[0]), try backend.tensor(x[1]), try backend.tensor(x[2])
                )
                // The magnitude run: |x| + |warped| bounds |x − warped|.
                if absolute { try backend.scale(warped, by: -1) }
                return try backend.plainAndAccumulated(onto: x[3]) { grad, accumulate in
                    try backend.temporalLossGradient(
                        image, warped: warped, mask: mask, scale: 0.5, grad: grad, accumulate: accumulate)
                }
            },
            terms: { _ in 4 }),
    ]

    static let flowGradRows: [OpGradRow] = [
        OpGradRow(
            name: "grad warpBilinear (acc)", cases: gradPlaneCases, selfTestCases: selfTestGradPlaneCases,
            inputs: warpInputs,
            // Linear in the image with weights ≥ 0: on |x| + h it bounds Σ|terms|.
            forward: { x, inputs, _, _ in
                ReferenceOps.warpBilinear(x, flow: ReferenceTensor(shape: inputs[2].shape, floats: inputs[2].values))
                    .values
            },
            forwardTerms: { _ in 8 },
            backward: { backend, x, _, _ in
                let (dy, flow) = (try backend.tensor(x[1]), try backend.tensor(x[2]))
                return try backend.plainAndAccumulated(onto: x[3]) { grad, accumulate in
                    try backend.warpBilinearBackward(
                        gradOutput: dy, flow: flow, gradImage: grad, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { $0.h * $0.w + 4 },
            magnitudes: { x, _ in warpBackwardMagnitudes(x, gradOutput: 1, previous: 3) }),
        OpGradRow(
            name: "grad temporalLoss (acc)", cases: gradPlaneCases, selfTestCases: selfTestGradPlaneCases,
            inputs: { c, g in
                [
                    .random("image", c.shape, &g), .random("gradOutput", .vector(1), &g, in: 0.5...2),
                    .random("warped", c.shape, &g), .random("mask", Shape(c: 1, h: c.h, w: c.w), &g, in: 0...1),
                    .random("gradInput", c.shape, &g),
                ]
            },
            // With `absolute`, −|warped|: every difference becomes |x| + |warped|.
            forward: { x, inputs, _, absolute in
                [
                    ReferenceOps.temporalLoss(
                        x,
                        warped: ReferenceTensor(
                            shape: inputs[2].shape, floats: inputs[2].values.map { absolute ? -abs($0) : $0 }),
                        mask: ReferenceTensor(shape: inputs[3].shape, floats: inputs[3].values))
                ]
            },
            forwardTerms: { 4 * $0.shape.count },
            backward: { backend, x, _, absolute in
                let (image, warped, mask) = (
                    try backend.tensor(x[0]), try backend.tensor(x[2]), try backend.tensor(x[3])
                )
                if absolute { try backend.scale(warped, by: -1) }
                return try backend.plainAndAccumulated(onto: x[4]) { grad, accumulate in
                    try backend.temporalLossGradient(
                        image, warped: warped, mask: mask, scale: x[1].values[0], grad: grad, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { _ in 4 }),
    ]
}
