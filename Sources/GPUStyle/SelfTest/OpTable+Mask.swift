extension OpTable {
    /// x (C×H×W), the output's gradient, a mask in [0, 1] (1×H×W) and the gradient the
    /// accumulating variant starts from.
    static func maskInputs(_ c: OpCase, _ g: inout SplitMix64) -> [OpInput] {
        [
            .random("input", c.shape, &g), .random("gradOutput", c.shape, &g),
            .random("mask", Shape(c: 1, h: c.h, w: c.w), &g, in: 0...1), .random("gradInput", c.shape, &g),
        ]
    }

    static let maskRows: [OpRow] = [multiplyByMaskRow("multiplyByMask (acc)") { try $0.tensor($1) }]

    /// multiplyByMask of `x` as `input` makes it: a float32 tensor, or a 16-bit layer output.
    static func multiplyByMaskRow(_ name: String, input: @escaping (Backend, OpInput) throws -> Tensor) -> OpRow {
        OpRow(
            name: name, cases: planeCases, selfTestCases: selfTestPlaneCases, inputs: maskInputs,
            run: { backend, x, _, _ in
                let (x0, mask) = (try input(backend, x[0]), try backend.tensor(x[2]))
                return try backend.plainAndAccumulated(onto: x[3]) { output, accumulate in
                    try backend.multiplyByMask(x0, mask: mask, output: output, accumulate: accumulate)
                }
            },
            // One product, then the addition when accumulating.
            terms: { _ in 2 })
    }

    /// multiplyByMask is its own gradient: dx (+)= dy ⊙ mask = ∂⟨dy, x ⊙ mask⟩/∂x.
    static let maskGradRows: [OpGradRow] = [
        OpGradRow(
            name: "grad multiplyByMask (acc)", cases: gradPlaneCases, selfTestCases: selfTestGradPlaneCases,
            inputs: maskInputs,
            forward: { x, inputs, _, _ in
                ReferenceOps.multiplyByMask(x, mask: ReferenceTensor(shape: inputs[2].shape, floats: inputs[2].values))
                    .values
            },
            forwardTerms: { _ in 1 },
            backward: { backend, x, _, _ in
                let (dy, mask) = (try backend.tensor(x[1]), try backend.tensor(x[2]))
                return try backend.plainAndAccumulated(onto: x[3]) { grad, accumulate in
                    try backend.multiplyByMask(dy, mask: mask, output: grad, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { _ in 2 })
    ]
}
