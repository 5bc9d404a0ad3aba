extension OpTable {
    static let imageRows: [OpRow] = [
        OpRow(
            name: "preprocess forward and backward, both flavours", cases: imageCases,
            selfTestCases: selfTestImageCases,
            inputs: { c, g in
                [
                    .random("image", c.shape, &g, in: 0...255), .random("gradOutput", c.shape, &g),
                    .random("gradImage", c.shape, &g),
                ]
            },
            run: { backend, x, _, absolute in
                var outputs: [Float] = []
                for var affine in Preprocessing.allCases.map(\.affine) {
                    if absolute { (affine.scale, affine.offset) = (affine.scale.map(abs), affine.offset.map(abs)) }
                    let image = try backend.tensor(x[0]), out = try backend.makeTensor(x[0].shape)
                    try backend.preprocess(image: image, affine: affine, output: out)
                    outputs += try backend.download(out)
                    let dy = try backend.tensor(x[1])
                    for accumulate in [false, true] {
                        let grad = try backend.tensor(x[2])
                        try backend.preprocessBackward(
                            gradOutput: dy, affine: affine, gradImage: grad, accumulate: accumulate)
                        outputs += try backend.download(grad)
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
}
