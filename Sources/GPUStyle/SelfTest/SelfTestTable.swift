/// The checks of `stylize-gpu selftest`: every op of `Backend` on random data over awkward shapes
/// (1×1, odd sizes, channel counts that are not multiples of any tile), and the real weights'
/// first layers. Smaller than the test suite's table (BackendOpsTests), so it runs in seconds.
public enum SelfTestTable {
    /// Channels c (Gram: the channels), output channels o (convs only), H×W.
    struct Case {
        var c: Int, h: Int, w: Int, o = 0
        var shape: Shape { Shape(c: c, h: h, w: w) }
        var halved: Shape { Shape(c: c, h: h / 2, w: w / 2) }
        var description: String { o > 0 ? "\(c)→\(o) \(h)×\(w)" : "\(c)×\(h)×\(w)" }
    }

    /// 3 → 64 at 41 wide: conv1_1's shape, wide enough for the interior path of conv3x3_narrow
    /// (both directions) at 16 pixels per vector; 32 wide: whole vectors, so its aligned stores and
    /// its right edge without a ragged vector, and more input channels than it prefetches ahead.
    static let convCases = [
        Case(c: 1, h: 1, w: 1, o: 3), Case(c: 3, h: 7, w: 13, o: 64),
        Case(c: 67, h: 5, w: 3, o: 5), Case(c: 64, h: 3, w: 17, o: 67), Case(c: 3, h: 5, w: 41, o: 64),
        Case(c: 3, h: 6, w: 32, o: 8),
    ]
    /// 37 wide: whole vectors of pooling windows, then a ragged end.
    static let planeCases = [
        Case(c: 1, h: 1, w: 1), Case(c: 3, h: 33, w: 2), Case(c: 67, h: 13, w: 7),
        Case(c: 3, h: 5, w: 37),
    ]
    static let imageCases = [Case(c: 3, h: 1, w: 1), Case(c: 3, h: 7, w: 13)]

    /// The random-data checks, reproducible from `seed`.
    public static func randomChecks(seed: UInt64 = 0x5E1F) -> [SelfTestCheck] {
        var g = SplitMix64(seed: seed)
        func random(_ shape: Shape, _ range: ClosedRange<Float> = -1...1) -> [Float] {
            (0..<shape.count).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * Float(g.nextUnit())
            }
        }
        var checks: [SelfTestCheck] = []
        for c in convCases {
            let weights = random(Shape(c: c.o * c.c, h: 3, w: 3)), bias = random(.vector(c.o))
            checks.append(
                conv(
                    op: "conv3x3 forward (+ReLU)", shape: c.description, input: random(c.shape),
                    inputShape: c.shape, weights: weights, bias: bias, outputChannels: c.o))
            checks.append(
                convBackward(
                    op: "conv3x3 backward-data (mask, acc)", shape: c.description,
                    inputs: [random(Shape(c: c.o, h: c.h, w: c.w)), weights, random(c.shape), random(c.shape)],
                    inputShape: c.shape, outputChannels: c.o))
        }
        for c in planeCases {
            checks.append(
                SelfTestCheck(
                    op: "relu forward and backward", shape: c.description,
                    inputs: [random(c.shape), random(c.shape)], terms: 0
                ) { backend, x, _ in
                    let (a, dy, out) = (
                        try backend.tensor(x[0], c.shape), try backend.tensor(x[1], c.shape),
                        try backend.makeTensor(c.shape)
                    )
                    try backend.relu(input: a, output: out)
                    let forward = try backend.download(out)
                    try backend.reluBackward(gradOutput: dy, activation: a, gradInput: out)
                    return forward + (try backend.download(out))
                })
            // Max pooling on a coarse grid, so windows have ties and the first maximum must win.
            let ties = random(c.shape).map { ($0 * 2).rounded() }
            for (mode, input, terms) in [(PoolMode.max, ties, 0), (.avg, random(c.shape), 4)] {
                checks.append(
                    SelfTestCheck(
                        op: "\(mode) pool 2×2 fwd, bwd (acc, in place with ReLU)", shape: c.description,
                        inputs: [input, random(c.halved), random(c.shape)], terms: terms
                    ) { backend, x, _ in
                        let (input, dy, out) = (
                            try backend.tensor(x[0], c.shape), try backend.tensor(x[1], c.halved),
                            try backend.makeTensor(c.halved)
                        )
                        try backend.pool2x2(input: input, mode: mode, output: out)
                        let backward =
                            try backend.download(out)
                            + accumulating(backend, initial: x[2], c.shape) { grad, accumulate in
                                try backend.pool2x2Backward(
                                    gradOutput: dy, input: input, mode: mode, gradInput: grad, accumulate: accumulate)
                            }
                        let activation = try backend.makeTensor(c.shape)
                        try backend.relu(input: input, output: activation)
                        try backend.reluPool2x2BackwardInPlace(gradOutput: dy, activation: activation, mode: mode)
                        return backward + (try backend.download(activation))
                    })
            }
            let gramShape = Shape(c: 1, h: c.c, w: c.c)
            checks.append(
                SelfTestCheck(
                    op: "gram", shape: c.description, inputs: [random(c.shape)],
                    terms: c.shape.pixels + 2, checksDeterminism: true
                ) { backend, x, _ in
                    let gram = try backend.makeTensor(gramShape)
                    try backend.gram(features: try backend.tensor(x[0], c.shape), output: gram)
                    return try backend.download(gram)
                })
            checks.append(
                SelfTestCheck(
                    op: "gram backward (acc)", shape: c.description,
                    inputs: [random(gramShape), random(c.shape), random(c.shape)], terms: 2 * c.c + 3
                ) { backend, x, _ in
                    let (dG, f) = (try backend.tensor(x[0], gramShape), try backend.tensor(x[1], c.shape))
                    return try accumulating(backend, initial: x[2], c.shape) { grad, accumulate in
                        try backend.gramBackward(gradGram: dG, features: f, gradFeatures: grad, accumulate: accumulate)
                    }
                })
            checks += losses(c, a: random(c.shape), b: random(c.shape), initial: random(c.shape))
            checks.append(adam(c, parameter: random(c.shape, 0...255), gradient: random(c.shape)))
            checks.append(vectorOps(c, a: random(c.shape), b: random(c.shape)))
        }
        for c in imageCases {
            checks.append(
                SelfTestCheck(
                    op: "preprocess fwd/bwd, both flavours", shape: c.description,
                    inputs: [random(c.shape, 0...255), random(c.shape), random(c.shape)], terms: 2
                ) { backend, x, absolute in
                    var outputs: [Float] = []
                    for var affine in Preprocessing.allCases.map(\.affine) {
                        if absolute { (affine.scale, affine.offset) = (affine.scale.map(abs), affine.offset.map(abs)) }
                        let (image, out, dy) = (
                            try backend.tensor(x[0], c.shape), try backend.makeTensor(c.shape),
                            try backend.tensor(x[1], c.shape)
                        )
                        try backend.preprocess(image: image, affine: affine, output: out)
                        outputs += try backend.download(out)
                        outputs += try accumulating(backend, initial: x[2], c.shape) { grad, accumulate in
                            try backend.preprocessBackward(
                                gradOutput: dy, affine: affine, gradImage: grad, accumulate: accumulate)
                        }
                    }
                    return outputs
                })
            // Exact halves must round away from zero.
            let image = random(c.shape, -40...300).enumerated().map {
                $0.offset % 3 == 0 ? ($0.element * 2).rounded() / 2 : $0.element
            }
            checks.append(
                SelfTestCheck(op: "clampRound", shape: c.description, inputs: [image], terms: 0) { backend, x, _ in
                    let out = try backend.makeTensor(c.shape)
                    try backend.clampRound(image: try backend.tensor(x[0], c.shape), output: out)
                    return try backend.download(out)
                })
        }
        return checks
    }

    /// conv1_1 and conv1_2 of real weights (with the weights' preprocessing) on a small random
    /// image, forward and backward-data. Each layer gets the reference's output of the layer
    /// before, so errors do not compound.
    public static func weightChecks(
        _ weights: VGGWeights, height: Int = 24, width: Int = 32, seed: UInt64 = 0xC0DE
    ) throws -> [SelfTestCheck] {
        guard weights.layers.count >= 2 else { throw StyleError("selftest: the weights hold fewer than 2 conv layers") }
        var g = SplitMix64(seed: seed)
        let reference = NativeBackend()
        let imageShape = Shape(c: 3, h: height, w: width)
        let image = (0..<imageShape.count).map { _ in Float(255 * g.nextUnit()) }
        let pre = try reference.makeTensor(imageShape)
        try reference.preprocess(
            image: try reference.tensor(image, imageShape), affine: weights.preprocessing.affine, output: pre)
        var input = try reference.download(pre)
        var checks: [SelfTestCheck] = []
        for layer in weights.layers.prefix(2) {
            let shape = "\(layer.inputChannels)→\(layer.outputChannels) \(height)×\(width)"
            let inputShape = Shape(c: layer.inputChannels, h: height, w: width)
            let outputShape = Shape(c: layer.outputChannels, h: height, w: width)
            checks.append(
                conv(
                    op: "\(layer.name) forward (+ReLU)", shape: shape, input: input, inputShape: inputShape,
                    weights: layer.weights, bias: layer.bias, outputChannels: layer.outputChannels))
            let gradient = (0..<outputShape.count).map { _ in Float(2 * g.nextUnit() - 1) }
            checks.append(
                convBackward(
                    op: "\(layer.name) backward-data (mask, acc)", shape: shape,
                    inputs: [gradient, layer.weights, input, [Float](repeating: 0.5, count: inputShape.count)],
                    inputShape: inputShape, outputChannels: layer.outputChannels))
            let layerWeights = try reference.makeConvWeights(
                weights: layer.weights, bias: layer.bias,
                outputChannels: layer.outputChannels, inputChannels: layer.inputChannels)
            let output = try reference.makeTensor(outputShape)
            try reference.conv3x3(
                input: try reference.tensor(input, inputShape), weights: layerWeights, relu: true, output: output)
            input = try reference.download(output)
        }
        return checks
    }

    // MARK: Rows with several variants

    /// Forward without and with ReLU.
    private static func conv(
        op: String, shape: String, input: [Float], inputShape: Shape, weights: [Float], bias: [Float],
        outputChannels: Int
    ) -> SelfTestCheck {
        SelfTestCheck(op: op, shape: shape, inputs: [input, weights, bias], terms: inputShape.c * 9 + 1) {
            backend, x, _ in
            let layer = try backend.makeConvWeights(
                weights: x[1], bias: x[2], outputChannels: outputChannels, inputChannels: inputShape.c)
            let image = try backend.tensor(x[0], inputShape)
            let output = try backend.makeTensor(Shape(c: outputChannels, h: inputShape.h, w: inputShape.w))
            try backend.conv3x3(input: image, weights: layer, relu: false, output: output)
            let plain = try backend.download(output)
            try backend.conv3x3(input: image, weights: layer, relu: true, output: output)
            return plain + (try backend.download(output))
        }
    }

    /// Backward-data plain, ReLU-masked, accumulated, and both; x = [gradOutput, weights, mask, initial gradInput].
    private static func convBackward(
        op: String, shape: String, inputs: [[Float]], inputShape: Shape, outputChannels: Int
    ) -> SelfTestCheck {
        SelfTestCheck(op: op, shape: shape, inputs: inputs, terms: outputChannels * 9 + 1) { backend, x, _ in
            let layer = try backend.makeConvWeights(
                weights: x[1], bias: [Float](repeating: 0, count: outputChannels),
                outputChannels: outputChannels, inputChannels: inputShape.c)
            let gradOutput = try backend.tensor(x[0], Shape(c: outputChannels, h: inputShape.h, w: inputShape.w))
            let mask = try backend.tensor(x[2], inputShape)
            var outputs: [Float] = []
            for masked in [false, true] {
                outputs += try accumulating(backend, initial: x[3], inputShape) { grad, accumulate in
                    try backend.conv3x3BackwardData(
                        gradOutput: gradOutput, weights: layer, reluMaskFrom: masked ? mask : nil,
                        gradInput: grad, accumulate: accumulate)
                }
            }
            // Over its own gradOutput where the backend runs the layer in place (as the backward
            // pass does below a pooling layer); the same op into another tensor elsewhere.
            let inPlace =
                inputShape.c <= outputChannels
                && backend.backwardDataRunsInPlace(outputChannels: outputChannels, inputChannels: inputShape.c)
            let shared = try backend.tensor(x[0], gradOutput.shape)
            let target =
                inPlace ? Tensor(shape: inputShape, storage: shared.storage) : try backend.makeTensor(inputShape)
            try backend.conv3x3BackwardData(
                gradOutput: shared, weights: layer, reluMaskFrom: mask, gradInput: target,
                accumulate: false)
            return outputs + (try backend.download(target))
        }
    }

    /// The loss reductions (set and accumulated slot) and their gradients (plain and accumulated).
    private static func losses(_ c: Case, a: [Float], b: [Float], initial: [Float]) -> [SelfTestCheck] {
        // Squared terms are non-negative, so Σ|terms| of a loss is its value: mean squared error at
        // scale 3, and L_tv (½ Σ …) at scale 2, i.e. the plain sum of squares below.
        let mse = 3 * zip(a, b).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(a.count)
        var tv = 0.0
        for k in 0..<c.c {
            for i in 0..<c.h {
                for j in 0..<c.w {
                    let at = (k * c.h + i) * c.w + j, v = Double(a[at])
                    if i + 1 < c.h && j + 1 < c.w {
                        tv +=
                            (v - Double(a[at + 1])) * (v - Double(a[at + 1])) + (v - Double(a[at + c.w]))
                            * (v - Double(a[at + c.w]))
                    }
                }
            }
        }
        // Each TV gradient output sums at most 4 differences of the pixel and a neighbour: ≤ 0.75·8·max|a|.
        let tvGradientSize = 0.75 * 8 * Double(a.map(abs).max() ?? 0)
        return [
            SelfTestCheck(
                op: "mean squared error (acc slot)", shape: c.description, inputs: [a, b, [7, 7]],
                terms: c.shape.count + 5, magnitudes: [mse, 7 + mse], checksDeterminism: true
            ) { backend, x, _ in
                let scalars = try backend.tensor(x[2], .vector(2))
                let (a, b) = (try backend.tensor(x[0], c.shape), try backend.tensor(x[1], c.shape))
                try backend.meanSquaredError(a, b, scale: 3, scalars: scalars, slot: 0, accumulate: false)
                try backend.meanSquaredError(a, b, scale: 3, scalars: scalars, slot: 1, accumulate: true)
                return try backend.download(scalars)
            },
            SelfTestCheck(
                op: "mean squared error gradient (acc)", shape: c.description, inputs: [a, b, initial],
                terms: 4
            ) { backend, x, absolute in
                // The magnitude run: |a| + |b| bounds |a − b|.
                let (a, b) = (
                    try backend.tensor(x[0], c.shape), try backend.tensor(absolute ? x[1].map { -$0 } : x[1], c.shape)
                )
                return try accumulating(backend, initial: x[2], c.shape) { grad, accumulate in
                    try backend.meanSquaredErrorGradient(a, b, scale: 0.5, grad: grad, accumulate: accumulate)
                }
            },
            SelfTestCheck(
                op: "total variation (acc slot)", shape: c.description, inputs: [a, [5, 5]],
                terms: 2 * c.shape.count + 6, magnitudes: [tv, 5 + tv], checksDeterminism: true
            ) { backend, x, _ in
                let scalars = try backend.tensor(x[1], .vector(2)), image = try backend.tensor(x[0], c.shape)
                try backend.totalVariation(image, scale: 2, scalars: scalars, slot: 0, accumulate: false)
                try backend.totalVariation(image, scale: 2, scalars: scalars, slot: 1, accumulate: true)
                return try backend.download(scalars)
            },
            SelfTestCheck(
                op: "total variation gradient (acc)", shape: c.description, inputs: [a, initial], terms: 10,
                magnitudes: [Double](repeating: tvGradientSize, count: a.count)
                    + initial.map { tvGradientSize + Double(abs($0)) }
            ) { backend, x, _ in
                let image = try backend.tensor(x[0], c.shape)
                return try accumulating(backend, initial: x[1], c.shape) { grad, accumulate in
                    try backend.totalVariationGradient(image, scale: 0.75, grad: grad, accumulate: accumulate)
                }
            },
        ]
    }

    /// Three Adam steps; outputs parameter, m and v.
    private static func adam(_ c: Case, parameter: [Float], gradient: [Float]) -> SelfTestCheck {
        // |p| plus three steps of at most lr·(1 − β1)/√(1 − β2) ≈ 3.2·lr each, then |g| and g² summed thrice for m and
        // v.
        let sizes =
            parameter.map { Double(abs($0)) + 3 * 3.2 * 10 } + gradient.map { 3 * Double(abs($0)) }
            + gradient.map { 3 * Double($0) * Double($0) }
        return SelfTestCheck(
            op: "adam step ×3", shape: c.description, inputs: [parameter, gradient], terms: 30,
            magnitudes: sizes
        ) { backend, x, _ in
            let (p, g) = (try backend.tensor(x[0], c.shape), try backend.tensor(x[1], c.shape))
            let (m, v) = (try backend.makeTensor(c.shape), try backend.makeTensor(c.shape))
            for step in 1...3 {
                try backend.adamStep(
                    parameter: p, gradient: g, m: m, v: v, step: step, parameters: AdamParameters(learningRate: 10))
            }
            return try backend.download(p) + backend.download(m) + backend.download(v)
        }
    }

    /// dot, axpy, scale, copy, fill.
    private static func vectorOps(_ c: Case, a: [Float], b: [Float]) -> SelfTestCheck {
        SelfTestCheck(
            op: "dot, axpy, scale, copy, fill", shape: c.description, inputs: [a, b], terms: c.shape.count + 4,
            checksDeterminism: true
        ) { backend, x, absolute in
            try runVectorOps(
                backend, try backend.tensor(x[0], c.shape), try backend.tensor(x[1], c.shape),
                absolute: absolute)
        }
    }

    /// dot(a, b), then b after axpy, scale, copy and fill, as one output vector. With `absolute`
    /// the coefficients are positive, so the same call on |inputs| gives the error bound's Σ|terms|.
    static func runVectorOps(_ backend: Backend, _ a: Tensor, _ b: Tensor, absolute: Bool) throws -> [Float] {
        let dot = try backend.dot(a, b)
        try backend.axpy(alpha: absolute ? 0.75 : -0.75, x: a, y: b)
        let afterAxpy = try backend.download(b)
        try backend.scale(b, by: absolute ? 1.5 : -1.5)
        let afterScale = try backend.download(b)
        try backend.copy(a, to: b)
        let copied = try backend.download(b)
        try backend.fill(b, value: 1.25)
        return [Float(dot)] + afterAxpy + afterScale + copied + (try backend.download(b))
    }

    /// Runs an op that writes or accumulates into a gradient, both ways, from the same initial contents.
    private static func accumulating(
        _ backend: Backend, initial: [Float], _ shape: Shape,
        _ op: (Tensor, Bool) throws -> Void
    ) throws -> [Float] {
        var outputs: [Float] = []
        for accumulate in [false, true] {
            let grad = try backend.tensor(initial, shape)
            try op(grad, accumulate)
            outputs += try backend.download(grad)
        }
        return outputs
    }
}

extension Backend {
    /// A new tensor of `shape` holding `values`.
    func tensor(_ values: [Float], _ shape: Shape) throws -> Tensor {
        let tensor = try makeTensor(shape)
        try upload(values, to: tensor)
        return tensor
    }
}
