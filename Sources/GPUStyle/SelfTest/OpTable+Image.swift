extension OpTable {
    static let imageRows: [OpRow] = [
        OpRow(
            name: "preprocess forward and backward, both flavours", cases: imageCases,
            selfTestCases: selfTestImageCases,
            inputs: preprocessInputs,
            run: { backend, x, _, absolute in
                var outputs: [Float] = []
                for flavour in Preprocessing.allCases {
                    let affine = absolute ? flavour.affine.absolute : flavour.affine
                    let image = try backend.tensor(x[0]), out = try backend.makeTensor(x[0].shape)
                    try backend.preprocess(image: image, affine: affine, output: out)
                    outputs += try backend.download(out)
                    let dy = try backend.tensor(x[1])
                    outputs += try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                        try backend.preprocessBackward(
                            gradOutput: dy, affine: affine, gradImage: grad, accumulate: accumulate)
                    }
                }
                return outputs
            },
            terms: { _ in 2 }),
        OpRow(
            name: "clampRound", cases: imageCases, selfTestCases: selfTestImageCases,
            inputs: { c, g in
                var x = OpInput.random("image", c.shape, &g, in: -40...300)
                // Exact halves must round away from zero.
                for k in stride(from: 0, to: x.values.count, by: 3) { x.values[k] = (x.values[k] * 2).rounded() / 2 }
                return [x]
            },
            run: { backend, x, _, _ in
                let (image, out) = (try backend.tensor(x[0]), try backend.makeTensor(x[0].shape))
                try backend.clampRound(image: image, output: out)
                return try backend.download(out)
            },
            terms: { _ in 0 }),
    ]

    /// An image, the output's gradient, and the image gradient the accumulating variants start from.
    static func preprocessInputs(_ c: OpCase, _ g: inout SplitMix64) -> [OpInput] {
        [
            .random("image", c.shape, &g, in: 0...255), .random("gradOutput", c.shape, &g),
            .random("gradInput", c.shape, &g),
        ]
    }

    /// preprocessBackward, plain and accumulated, as ∂⟨dY, preprocess(image)⟩/∂image, per flavour.
    static let imageGradRows = Preprocessing.allCases.map { flavour in
        OpGradRow(
            name: "grad preprocess \(flavour) (acc)", cases: gradImageCases,
            selfTestCases: selfTestImageCases,
            inputs: preprocessInputs,
            forward: { x, _, _, absolute in
                ReferenceOps.preprocess(x, affine: absolute ? flavour.affine.absolute : flavour.affine).values
            },
            forwardTerms: { _ in 2 },
            backward: { backend, x, _, absolute in
                let dy = try backend.tensor(x[1])
                let affine = absolute ? flavour.affine.absolute : flavour.affine
                return try backend.plainAndAccumulated(onto: x[2]) { grad, accumulate in
                    try backend.preprocessBackward(
                        gradOutput: dy, affine: affine, gradImage: grad, accumulate: accumulate)
                }
            },
            accumulates: [false, true], terms: { _ in 2 })
    }
}

extension ChannelAffine {
    /// |scale| and |offset|: the magnitude runs' map.
    var absolute: ChannelAffine {
        ChannelAffine(permutation: permutation, scale: scale.map(abs), offset: offset.map(abs))
    }
}
