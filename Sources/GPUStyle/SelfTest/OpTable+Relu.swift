extension OpTable {
    static let reluRows: [OpRow] = [
        OpRow(
            name: "relu forward and backward (in place too)", cases: planeCases, selfTestCases: selfTestPlaneCases,
            inputs: { c, g in [.random("input", c.shape, &g), .random("gradOutput", c.shape, &g)] },
            run: { backend, x, _, _ in
                let (a, dy) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                let out = try backend.makeTensor(x[0].shape)
                try backend.relu(input: a, output: out)
                let forward = try backend.download(out)
                try backend.reluBackward(gradOutput: dy, activation: a, gradInput: out)
                let backward = try backend.download(out)
                try backend.reluBackward(gradOutput: dy, activation: a, gradInput: dy)
                return forward + backward + (try backend.download(dy))
            },
            terms: { _ in 0 })
    ]

    static let reluGradRows: [OpGradRow] = [
        OpGradRow(
            name: "grad relu (in place too)", cases: gradPlaneCases, selfTestCases: selfTestGradPlaneCases,
            inputs: { c, g in [.wellSpaced("input", c.shape, &g), .random("gradOutput", c.shape, &g)] },
            forward: { x, _, _, _ in ReferenceOps.relu(x).values },
            forwardTerms: { _ in 0 },
            backward: { backend, x, _, _ in
                let (input, dy) = (try backend.tensor(x[0]), try backend.tensor(x[1]))
                let activation = try backend.makeTensor(x[0].shape), gradInput = try backend.makeTensor(x[0].shape)
                try backend.relu(input: input, output: activation)
                try backend.reluBackward(gradOutput: dy, activation: activation, gradInput: gradInput)
                let separate = try backend.download(gradInput)
                try backend.reluBackward(gradOutput: dy, activation: activation, gradInput: dy)
                return separate + (try backend.download(dy))
            },
            accumulates: [false, false], terms: { _ in 0 })
    ]
}
