extension OpTable {
    static let lossesRows: [OpRow] = [
        OpRow(
            name: "mean squared error (set and accumulated slot)", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("a", c.shape, &g), .random("b", c.shape, &g)] },
            run: { backend, x, _, _ in
                let scalars = try backend.tensor([7, 7, 7], .vector(3))
                let (a, b) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                try backend.meanSquaredError(a, b, scale: 3, scalars: scalars, slot: 0, accumulate: false)
                try backend.meanSquaredError(a, b, scale: 3, scalars: scalars, slot: 2, accumulate: true)
                return try backend.download(scalars)
            },
            terms: { $0.shape.count + 5 },
            magnitudes: { x, _ in
                let sum =
                    3 * zip(x[0].values, x[1].values).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
                    / Double(x[0].values.count)
                return [sum, 7, 7 + sum]
            },
            checksDeterminism: true, tiled: true),
        OpRow(
            name: "mean squared error gradient (plain and accumulated)", cases: planeCases,
            selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("a", c.shape, &g), .random("b", c.shape, &g), .random("grad", c.shape, &g)] },
            run: { backend, x, _, absolute in
                let (a, b) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                // The magnitude run: |a| + |b| bounds |a − b|.
                if absolute { try backend.scale(b, by: -1) }
                return try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                    try backend.meanSquaredErrorGradient(a, b, scale: 0.5, grad: grad, accumulate: accumulate)
                }
            },
            terms: { _ in 4 }),
        OpRow(
            name: "total variation (set and accumulated slot)", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("image", c.shape, &g)] },
            run: { backend, x, _, _ in
                let scalars = try backend.tensor([5, 5], .vector(2))
                let image = try backend.tensor(x[0])
                try backend.totalVariation(image, scale: 2, scalars: scalars, slot: 0, accumulate: false)
                try backend.totalVariation(image, scale: 2, scalars: scalars, slot: 1, accumulate: true)
                return try backend.download(scalars)
            },
            terms: { 2 * $0.shape.count + 6 },
            magnitudes: { x, _ in
                let tv = 2 * totalVariation(x[0])  // scale 2
                return [tv, 5 + tv]
            },
            checksDeterminism: true, tiled: true),
        OpRow(
            name: "total variation gradient (plain and accumulated)", cases: planeCases,
            selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("image", c.shape, &g), .random("grad", c.shape, &g)] },
            run: { backend, x, _, _ in
                let image = try backend.tensor(x[0])
                return try backend.plainAndAccumulated(onto: x[1]) { grad, accumulate in
                    try backend.totalVariationGradient(image, scale: 0.75, grad: grad, accumulate: accumulate)
                }
            },
            terms: { _ in 10 },
            magnitudes: { x, _ in totalVariationGradientMagnitudes(x[0], scale: 0.75, previous: x[1]) }),
    ]

    /// ½ Σ_{c, i<H−1, j<W−1} (x[c,i,j] − x[c,i,j+1])² + (x[c,i,j] − x[c,i+1,j])², in Double: the
    /// loss's Σ|terms| (its terms are squares).
    static func totalVariation(_ x: OpInput) -> Double {
        var sum = 0.0
        for c in 0..<x.shape.c {
            for i in 0..<max(x.shape.h - 1, 0) {
                for j in 0..<max(x.shape.w - 1, 0) {
                    let right = Double(x[c, i, j]) - Double(x[c, i, j + 1])
                    let down = Double(x[c, i, j]) - Double(x[c, i + 1, j])
                    sum += right * right + down * down
                }
            }
        }
        return sum / 2
    }

    /// Σ|terms| of the TV gradient with `scale`, then of it accumulated onto `previous`: each output
    /// sums at most 4 differences of the pixel and a neighbour, ≤ |scale|·(4|v| + Σ|neighbours|).
    static func totalVariationGradientMagnitudes(_ image: OpInput, scale: Double, previous: OpInput) -> [Double] {
        let shape = image.shape
        var bound = [Double](repeating: 0, count: image.values.count)
        for k in 0..<shape.c {
            for i in 0..<shape.h {
                for j in 0..<shape.w {
                    var sum = 4 * Double(abs(image[k, i, j]))
                    for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)]
                    where (0..<shape.h).contains(i + di) && (0..<shape.w).contains(j + dj) {
                        sum += Double(abs(image[k, i + di, j + dj]))
                    }
                    bound[(k * shape.h + i) * shape.w + j] = abs(scale) * sum
                }
            }
        }
        return bound + zip(bound, previous.values).map { $0 + Double(abs($1)) }
    }

    /// The loss gradients as vector-Jacobian products of the scalar losses: dy is the loss's scale.
    static let lossesGradRows: [OpGradRow] = [
        OpGradRow(
            name: "grad mean squared error (acc)", cases: gradPlaneCases,
            selfTestCases: selfTestGradPlaneCases,
            inputs: { c, g in
                [
                    .random("a", c.shape, &g), .random("gradOutput", .vector(1), &g, in: 0.5...2),
                    .random("b", c.shape, &g), .random("gradInput", c.shape, &g),
                ]
            },
            // With `absolute`, −|b|: every difference becomes |a| + |b|.
            forward: { a, x, _, absolute in
                [
                    ReferenceOps.meanSquaredError(
                        a, ReferenceTensor(shape: x[2].shape, floats: x[2].values.map { absolute ? -abs($0) : $0 }))
                ]
            },
            forwardTerms: { 3 * $0.shape.count + 1 },
            backward: { backend, x, _, absolute in
                let (a, b) = (try backend.tensor(x[0]), try backend.tensor(x[2]))
                // The magnitude run: |a| + |b| bounds |a − b|.
                if absolute { try backend.scale(b, by: -1) }
                return try backend.plainAndAccumulated(onto: x[3]) { grad, accumulate in
                    try backend.meanSquaredErrorGradient(
                        a, b, scale: x[1].values[0], grad: grad, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { _ in 4 }),
        OpGradRow(
            name: "grad total variation (acc)", cases: gradPlaneCases,
            selfTestCases: selfTestGradPlaneCases,
            inputs: { c, g in
                [
                    .random("image", c.shape, &g), .random("gradOutput", .vector(1), &g, in: 0.5...2),
                    .random("gradInput", c.shape, &g),
                ]
            },
            // With `absolute`, alternating signs: every difference of neighbours becomes |x| + |x'|.
            forward: { x, _, _, absolute in
                var x = x
                if absolute {
                    for k in x.values.indices where (k / x.shape.w + k % x.shape.w) % 2 == 1 { x.values[k].negate() }
                }
                return [ReferenceOps.totalVariation(x)]
            },
            forwardTerms: { 6 * $0.shape.count + 1 },
            backward: { backend, x, _, _ in
                let image = try backend.tensor(x[0])
                return try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                    try backend.totalVariationGradient(image, scale: x[1].values[0], grad: grad, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { _ in 10 },
            magnitudes: { x, _ in
                totalVariationGradientMagnitudes(x[0], scale: Double(x[1].values[0]), previous: x[2])
            }),
    ]
}
