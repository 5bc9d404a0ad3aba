extension OpTable {
    static let gramRows: [OpRow] = [
        OpRow(
            name: "gram",
            cases: planeCases + [
                OpCase(c: 67, h: 65, w: 67), OpCase(c: 8, h: 101, w: 99),
                OpCase(c: 2, h: 130, w: 131),
            ],
            selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("features", c.shape, &g)] },
            run: { backend, x, c, _ in
                let gram = try backend.makeTensor(Shape(c: 1, h: c.c, w: c.c))
                try backend.gram(features: try backend.tensor(x[0]), output: gram)
                return try backend.download(gram)
            },
            terms: { $0.shape.pixels + 2 }, checksDeterminism: true, tiled: true),
        gramBackwardRow("gram backward (plain and accumulated)", masked: false) { try $0.tensor($1) },
        gramBackwardRow("gram backward, ReLU-masked sum (plain and accumulated)", masked: true) { try $0.tensor($1) },
    ]

    /// gramBackward, plain and accumulated, or with the ReLU mask of the features over the sum; the
    /// features made from their input by `features`.
    static func gramBackwardRow(
        _ name: String, masked: Bool, features: @escaping (Backend, OpInput) throws -> Tensor
    ) -> OpRow {
        OpRow(
            name: name,
            cases: planeCases + [OpCase(c: 8, h: 101, w: 99)], selfTestCases: selfTestPlaneCases,
            inputs: { c, g in
                [
                    .random("gradGram", Shape(c: 1, h: c.c, w: c.c), &g), .random("features", c.shape, &g),
                    .random("gradFeatures", c.shape, &g),
                ]
            },
            run: { backend, x, _, _ in
                let (dG, f) = (try backend.tensor(x[0]), try features(backend, x[1]))
                return try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                    try backend.gramBackward(
                        gradGram: dG, features: f, gradFeatures: grad, accumulate: accumulate, reluMasked: masked)
                }
            },
            terms: { 2 * $0.c + 3 }, tiled: true)
    }

    static let gramGradRows: [OpGradRow] = [
        OpGradRow(
            name: "grad gram (acc)", cases: gradPlaneCases, selfTestCases: selfTestGradPlaneCases,
            inputs: { c, g in
                // dG not symmetric: the backward must use dG + dGᵀ.
                [
                    .random("features", c.shape, &g), .random("gradOutput", Shape(c: 1, h: c.c, w: c.c), &g),
                    .random("gradInput", c.shape, &g),
                ]
            },
            forward: { x, _, _, _ in ReferenceOps.gram(x).values },
            forwardTerms: { $0.shape.pixels + 1 },
            backward: { backend, x, _, _ in
                let (features, dG) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                return try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                    try backend.gramBackward(
                        gradGram: dG, features: features, gradFeatures: grad, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { 2 * $0.c + 3 }),
        // ∂⟨dG, gram(relu(x))⟩/∂x: the masked op from the ReLU's output (x away from 0).
        OpGradRow(
            name: "grad gram (ReLU-masked)", cases: gradPlaneCases, selfTestCases: selfTestGradPlaneCases,
            inputs: { c, g in
                [.wellSpaced("input", c.shape, &g), .random("gradOutput", Shape(c: 1, h: c.c, w: c.c), &g)]
            },
            forward: { x, _, _, _ in ReferenceOps.gram(ReferenceOps.relu(x)).values },
            forwardTerms: { $0.shape.pixels + 1 },
            backward: { backend, x, _, _ in
                let (features, dG) = (try backend.makeTensor(x[0].shape), try backend.tensor(x[1]))
                try backend.relu(input: try backend.tensor(x[0]), output: features)
                let grad = try backend.makeTensor(x[0].shape)
                try backend.gramBackward(
                    gradGram: dG, features: features, gradFeatures: grad, accumulate: false, reluMasked: true)
                return try backend.download(grad)
            },
            accumulates: [false], terms: { 2 * $0.c + 3 }),
    ]
}
