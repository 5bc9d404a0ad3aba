import Foundation
@testable import GPUStyle
import XCTest

/// Every op of every OpenCL device against `NativeBackend`, from one table of cases, in the
/// spirit of ggml's test-backend-ops: adding an op means adding a row to `BackendOpsTests.table`.
/// The reference is `NativeBackend(convolution: .direct)`: its im2col convolutions are the direct
/// algorithm the bound below describes (native Winograd has its own bound, in WinogradTests).
///
/// Error bound per output element: both backends compute in float32, each within γ(K)·Σ|terms|
/// of the exact value (Higham §3.1, `float32ErrorFactor`, any summation order, with or without
/// FMA), where K counts the products summed plus one rounding per extra step (bias, scaling,
/// accumulation). So |opencl − native| ≤ 2·γ(K)·Σ|terms|. Σ|terms| per output is, by default,
/// the same op run on native with every input and parameter replaced by its absolute value
/// (exact for the linear ops: conv, Gram, pooling averages, affine maps); rows whose terms do
/// not follow from |inputs| (squared losses, TV gradient, Adam) give their own. Ops without
/// rounding (ReLU, max pooling, copies, clampRound) get K = 0: bit-exact equality. An indexing
/// mistake or a missing term is off by orders of magnitude more than any of these bounds.
final class BackendOpsTests: XCTestCase {
    /// The shape of one case: c input channels (Gram: the channels), o output channels (convs only), H×W.
    struct Case: CustomStringConvertible {
        var c: Int
        var h: Int
        var w: Int
        var o = 0
        var shape: Shape { Shape(c: c, h: h, w: w) }
        var description: String { o > 0 ? "\(c)→\(o) \(h)×\(w)" : "\(c)×\(h)×\(w)" }
    }

    /// How Σ|terms| per output is found for a row.
    enum Magnitudes {
        /// The row's `run` on native with `absolute: true` (|inputs|, |parameters|).
        case absoluteRun
        /// A function of the inputs.
        case custom(([ReferenceTensor], Case) -> [Double])
    }

    struct Row {
        let name: String
        let cases: [Case]
        /// The op's inputs for one case (also any initial output contents for accumulation).
        let inputs: (Case, inout SeededGenerator) -> [ReferenceTensor]
        /// Runs the op (every variant the row covers) on a backend; returns all outputs, concatenated.
        /// `absolute` asks for |parameters| (scales, offsets): the magnitude run.
        let run: (Backend, [ReferenceTensor], Case, _ absolute: Bool) throws -> [Float]
        /// K, the number of rounded terms per output; 0 means bit-exact.
        let terms: (Case) -> Int
        var magnitudes: Magnitudes = .absoluteRun
        /// True for reductions: two runs must give the same bits.
        var checksDeterminism = false
        /// True when the row's kernels depend on the tile and vector options (not just the work-group size).
        var tiled = false
    }

    // MARK: Shapes

    /// H, W ∈ {1, 2, 3, 7, 13, 33}, channels ∈ {1, 3, 5, 64, 67}, non-square, sampled so every value
    /// appears and the big channel counts meet both small and odd images (the cross product would take minutes).
    /// The last three: widths of whole 16-pixel vectors (conv3x3_narrow's aligned stores and its
    /// right edge without a ragged vector, with more input channels than it prefetches ahead), and
    /// Winograd tile rows long enough for a whole vector of tiles away from the edges. The very
    /// last: backward-data into 3 channels across more than one of conv3x3_narrow_strip's strips.
    static let convCases: [Case] = [
        Case(c: 1, h: 1, w: 1, o: 3), Case(c: 3, h: 1, w: 7, o: 5), Case(c: 5, h: 2, w: 3, o: 64),
        Case(c: 64, h: 3, w: 13, o: 67), Case(c: 67, h: 13, w: 7, o: 1), Case(c: 3, h: 33, w: 13, o: 64),
        Case(c: 64, h: 7, w: 2, o: 3), Case(c: 67, h: 3, w: 3, o: 67), Case(c: 5, h: 33, w: 1, o: 1),
        Case(c: 1, h: 2, w: 33, o: 67), Case(c: 64, h: 13, w: 33, o: 5), Case(c: 16, h: 9, w: 17, o: 32),
        Case(c: 3, h: 6, w: 32, o: 16), Case(c: 16, h: 5, w: 48, o: 3), Case(c: 16, h: 7, w: 41, o: 9),
        Case(c: 3, h: 5, w: 300, o: 6),
    ]
    /// The last two have rows of whole vectors of pooling windows, one with a ragged end.
    static let planeCases: [Case] = [
        Case(c: 1, h: 1, w: 1), Case(c: 3, h: 2, w: 33), Case(c: 5, h: 7, w: 3), Case(c: 64, h: 13, w: 7),
        Case(c: 67, h: 33, w: 13), Case(c: 1, h: 3, w: 2), Case(c: 3, h: 33, w: 1), Case(c: 64, h: 1, w: 13),
        Case(c: 2, h: 6, w: 32), Case(c: 5, h: 9, w: 41),
    ]
    /// Preprocessing works on RGB images.
    static let imageCases: [Case] = [Case(c: 3, h: 1, w: 1), Case(c: 3, h: 7, w: 13), Case(c: 3, h: 33, w: 2)]

    // MARK: The table

    static let table: [Row] = [
        Row(name: "conv3x3 forward (bias, with and without ReLU)", cases: convCases,
            inputs: { c, g in [random(c.shape, &g), random(Shape(c: c.o * c.c, h: 3, w: 3), &g), random(.vector(c.o), &g)] },
            run: { backend, x, c, _ in
                let weights = try backend.makeConvWeights(weights: x[1].floats, bias: x[2].floats,
                                                          outputChannels: c.o, inputChannels: c.c)
                let input = try backend.makeTensor(x[0])
                let output = try backend.makeTensor(Shape(c: c.o, h: c.h, w: c.w))
                try backend.conv3x3(input: input, weights: weights, relu: false, output: output)
                let plain = try backend.download(output)
                try backend.conv3x3(input: input, weights: weights, relu: true, output: output)
                return plain + (try backend.download(output))
            },
            terms: { $0.c * 9 + 1 }, tiled: true),
        Row(name: "conv3x3 backward-data (plain, ReLU-masked, accumulated, both)", cases: convCases,
            inputs: { c, g in
                [random(Shape(c: c.o, h: c.h, w: c.w), &g), random(Shape(c: c.o * c.c, h: 3, w: 3), &g),
                 random(c.shape, &g), random(c.shape, &g)]
            },
            run: { backend, x, c, _ in
                let weights = try backend.makeConvWeights(weights: x[1].floats,
                                                          bias: [Float](repeating: 0, count: c.o),
                                                          outputChannels: c.o, inputChannels: c.c)
                let gradOutput = try backend.makeTensor(x[0])
                let mask = try backend.makeTensor(x[2])
                var outputs: [Float] = []
                for (masked, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
                    let gradInput = try backend.makeTensor(x[3])
                    try backend.conv3x3BackwardData(gradOutput: gradOutput, weights: weights,
                                                    reluMaskFrom: masked ? mask : nil, gradInput: gradInput,
                                                    accumulate: accumulate)
                    outputs += try backend.download(gradInput)
                }
                // In place over a copy of dY where the backend can (the same op otherwise).
                if c.c <= c.o, backend.backwardDataRunsInPlace(outputChannels: c.o, inputChannels: c.c) {
                    let shared = try backend.makeTensor(x[0])
                    try backend.conv3x3BackwardData(gradOutput: shared, weights: weights, reluMaskFrom: mask,
                                                    gradInput: Tensor(shape: c.shape, storage: shared.storage),
                                                    accumulate: false)
                    outputs += try backend.download(shared).prefix(c.shape.count)
                } else {
                    let gradInput = try backend.makeTensor(c.shape)
                    try backend.conv3x3BackwardData(gradOutput: gradOutput, weights: weights, reluMaskFrom: mask,
                                                    gradInput: gradInput, accumulate: false)
                    outputs += try backend.download(gradInput)
                }
                return outputs
            },
            terms: { $0.o * 9 + 1 }, tiled: true),
        Row(name: "relu forward and backward (in place too)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, _ in
                let (a, dy) = (try backend.makeTensor(x[0]), try backend.makeTensor(x[1]))
                let out = try backend.makeTensor(x[0].shape)
                try backend.relu(input: a, output: out)
                let forward = try backend.download(out)
                try backend.reluBackward(gradOutput: dy, activation: a, gradInput: out)
                let backward = try backend.download(out)
                try backend.reluBackward(gradOutput: dy, activation: a, gradInput: dy)
                return forward + backward + (try backend.download(dy))
            },
            terms: { _ in 0 }),
        Row(name: "max pool 2×2 forward and backward (ties, odd edges, accumulate, in place with ReLU)", cases: planeCases,
            inputs: { c, g in
                // Values on a coarse grid, so windows have ties; the first maximum must win.
                let x = ReferenceTensor(shape: c.shape, values: (0..<c.shape.count).map { _ in Double(Int.random(in: -2...2, using: &g)) })
                return [x, random(Shape(c: c.c, h: c.h / 2, w: c.w / 2), &g), random(c.shape, &g)]
            },
            run: { backend, x, _, _ in try pool(backend, x, .max) },
            terms: { _ in 0 }, tiled: true),
        Row(name: "avg pool 2×2 forward and backward (odd edges, accumulate, in place with ReLU)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g), random(Shape(c: c.c, h: c.h / 2, w: c.w / 2), &g), random(c.shape, &g)] },
            run: { backend, x, _, _ in try pool(backend, x, .avg) },
            terms: { _ in 4 }, tiled: true),
        Row(name: "gram", cases: planeCases + [Case(c: 67, h: 65, w: 67), Case(c: 8, h: 101, w: 99),
                                               Case(c: 2, h: 130, w: 131)],
            inputs: { c, g in [random(c.shape, &g)] },
            run: { backend, x, c, _ in
                let gram = try backend.makeTensor(Shape(c: 1, h: c.c, w: c.c))
                try backend.gram(features: try backend.makeTensor(x[0]), output: gram)
                return try backend.download(gram)
            },
            terms: { $0.shape.pixels + 2 }, checksDeterminism: true, tiled: true),
        Row(name: "gram backward (plain and accumulated)", cases: planeCases + [Case(c: 8, h: 101, w: 99)],
            inputs: { c, g in [random(Shape(c: 1, h: c.c, w: c.c), &g), random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, _ in
                let (dG, f) = (try backend.makeTensor(x[0]), try backend.makeTensor(x[1]))
                var outputs: [Float] = []
                for accumulate in [false, true] {
                    let grad = try backend.makeTensor(x[2])
                    try backend.gramBackward(gradGram: dG, features: f, gradFeatures: grad, accumulate: accumulate)
                    outputs += try backend.download(grad)
                }
                return outputs
            },
            terms: { 2 * $0.c + 3 }, tiled: true),
        Row(name: "mean squared error (set and accumulated slot)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, _ in
                let scalars = try backend.makeTensor(ReferenceTensor(shape: .vector(3), values: [7, 7, 7]))
                let (a, b) = (try backend.makeTensor(x[0]), try backend.makeTensor(x[1]))
                try backend.meanSquaredError(a, b, scale: 3, scalars: scalars, slot: 0, accumulate: false)
                try backend.meanSquaredError(a, b, scale: 3, scalars: scalars, slot: 2, accumulate: true)
                return try backend.download(scalars)
            },
            terms: { $0.shape.count + 5 },
            magnitudes: .custom { x, _ in
                let sum = 3 * zip(x[0].values, x[1].values).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(x[0].values.count)
                return [sum, 7, 7 + sum]
            },
            checksDeterminism: true, tiled: true),
        Row(name: "mean squared error gradient (plain and accumulated)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g), random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, absolute in
                let (a, b) = (try backend.makeTensor(x[0]), try backend.makeTensor(x[1]))
                var outputs: [Float] = []
                for accumulate in [false, true] {
                    let grad = try backend.makeTensor(x[2])
                    // The magnitude run: |a| + |b| bounds |a − b|.
                    if absolute { try backend.scale(b, by: -1) }
                    try backend.meanSquaredErrorGradient(a, b, scale: 0.5, grad: grad, accumulate: accumulate)
                    if absolute { try backend.scale(b, by: -1) }
                    outputs += try backend.download(grad)
                }
                return outputs
            },
            terms: { _ in 4 }),
        Row(name: "total variation (set and accumulated slot)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g)] },
            run: { backend, x, _, _ in
                let scalars = try backend.makeTensor(ReferenceTensor(shape: .vector(2), values: [5, 5]))
                let image = try backend.makeTensor(x[0])
                try backend.totalVariation(image, scale: 2, scalars: scalars, slot: 0, accumulate: false)
                try backend.totalVariation(image, scale: 2, scalars: scalars, slot: 1, accumulate: true)
                return try backend.download(scalars)
            },
            terms: { 2 * $0.shape.count + 6 },
            magnitudes: .custom { x, _ in
                let tv = 2 * ReferenceOps.totalVariation(x[0])  // scale 2
                return [tv, 5 + tv]
            },
            checksDeterminism: true, tiled: true),
        Row(name: "total variation gradient (plain and accumulated)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, _ in
                let image = try backend.makeTensor(x[0])
                var outputs: [Float] = []
                for accumulate in [false, true] {
                    let grad = try backend.makeTensor(x[1])
                    try backend.totalVariationGradient(image, scale: 0.75, grad: grad, accumulate: accumulate)
                    outputs += try backend.download(grad)
                }
                return outputs
            },
            terms: { _ in 10 },
            // Each output sums at most 4 differences of the pixel and a neighbour: ≤ 0.75·(4|v| + Σ|neighbours|).
            magnitudes: .custom { x, c in
                let image = x[0]
                var bound = [Double](repeating: 0, count: image.values.count)
                for k in 0..<c.c { for i in 0..<c.h { for j in 0..<c.w {
                    var sum = 4 * abs(image[k, i, j])
                    for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] where (0..<c.h).contains(i + di) && (0..<c.w).contains(j + dj) {
                        sum += abs(image[k, i + di, j + dj])
                    }
                    bound[(k * c.h + i) * c.w + j] = 0.75 * sum
                } } }
                return bound + zip(bound, x[1].values).map { $0 + abs($1) }
            }),
        Row(name: "preprocess forward and backward, both flavours", cases: imageCases,
            inputs: { c, g in [random(c.shape, &g, in: 0...255), random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, absolute in
                var outputs: [Float] = []
                for var affine in [ReferenceOps.caffeAffine, ReferenceOps.torchAffine] {
                    if absolute { (affine.scale, affine.offset) = (affine.scale.map(abs), affine.offset.map(abs)) }
                    let image = try backend.makeTensor(x[0]), out = try backend.makeTensor(x[0].shape)
                    try backend.preprocess(image: image, affine: affine, output: out)
                    outputs += try backend.download(out)
                    let dy = try backend.makeTensor(x[1])
                    for accumulate in [false, true] {
                        let grad = try backend.makeTensor(x[2])
                        try backend.preprocessBackward(gradOutput: dy, affine: affine, gradImage: grad, accumulate: accumulate)
                        outputs += try backend.download(grad)
                    }
                }
                return outputs
            },
            terms: { _ in 2 }),
        Row(name: "clampRound", cases: imageCases,
            inputs: { c, g in
                var x = random(c.shape, &g, in: -40...300)
                // Exact halves must round away from zero.
                for k in stride(from: 0, to: x.values.count, by: 3) { x.values[k] = (x.values[k] * 2).rounded() / 2 }
                return [x]
            },
            run: { backend, x, _, _ in
                let (image, out) = (try backend.makeTensor(x[0]), try backend.makeTensor(x[0].shape))
                try backend.clampRound(image: image, output: out)
                return try backend.download(out)
            },
            terms: { _ in 0 }),
        Row(name: "adam step (three steps: parameter, m, v)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g, in: 0...255), random(c.shape, &g)] },
            run: { backend, x, _, _ in
                let parameter = try backend.makeTensor(x[0]), gradient = try backend.makeTensor(x[1])
                let m = try backend.makeTensor(x[0].shape), v = try backend.makeTensor(x[0].shape)
                for step in 1...3 {
                    try backend.adamStep(parameter: parameter, gradient: gradient, m: m, v: v, step: step,
                                         parameters: AdamParameters(learningRate: 10))
                }
                return try backend.download(parameter) + backend.download(m) + backend.download(v)
            },
            terms: { _ in 30 },
            // |p| plus the three steps (each at most lr·(1 − β1)/√(1 − β2) ≈ 3.2·lr in size), then |g| and g² for m and v.
            magnitudes: .custom { x, _ in
                x[0].values.map { abs($0) + 3 * 3.2 * 10 } + x[1].values.map { 3 * abs($0) } + x[1].values.map { 3 * $0 * $0 }
            }),
        Row(name: "vector ops: fill, copy, axpy, scale, dot", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, absolute in
                // dot's rounding is γ(n): checked per row below by its own bound (the first output).
                try SelfTestTable.runVectorOps(backend, try backend.makeTensor(x[0]), try backend.makeTensor(x[1]),
                                               absolute: absolute)
            },
            terms: { $0.shape.count + 4 }, checksDeterminism: true, tiled: true),
    ]

    // MARK: The test

    /// With the options the device gets by default.
    func testEveryOpMatchesNative() throws {
        try checkTable(on: try OpenCLBackendTests.sharedBackend(), rows: Self.table)
    }

    /// With a GPU's default options (smaller vectors and blocks, other reduction shapes) on the
    /// same device, so the GPU variants are proven on the CI machine too, and with odd blockings
    /// that are no device's default: every tile edge case then lands somewhere else (there every
    /// direct convolution runs conv3x3_narrow). Then every convolution on conv3x3. Only the rows
    /// whose kernels depend on those options (the rest differ in work-group size alone).
    func testEveryOpMatchesNativeWithOtherKernelOptions() throws {
        let device = try firstOpenCLDevice()
        var direct = ProgramOptions.defaults(for: device.info)
        direct.defines["CONV_WINOGRAD"] = 0
        direct.defines["CONV_NARROW"] = 0
        // The GPU's options with the Winograd multiply and the Gram the other way (local-memory
        // tiles or register blocks).
        var gpuOtherMultiply = OpenCLBackendTests.gpuOptions(device)
        gpuOtherMultiply.defines["WINO_GEMM"] = gpuOtherMultiply.winogradTiledMultiply ? 0 : 1
        gpuOtherMultiply.defines["GRAM_GEMM"] = gpuOtherMultiply.gramTiledProduct ? 0 : 1
        gpuOtherMultiply.defines["GB_GEMM"] = gpuOtherMultiply.gramBackwardTiledProduct ? 0 : 1
        for options in [OpenCLBackendTests.gpuOptions(device), gpuOtherMultiply, OpenCLBackendTests.oddOptions, direct] {
            try checkTable(on: try OpenCLBackend(device: device, options: options), rows: Self.table.filter(\.tiled))
        }    }

    private func checkTable(on openCL: OpenCLBackend, rows: [Row]) throws {
        let native = NativeBackend(convolution: .direct)
        var generator = SeededGenerator(seed: 0xC0FFEE)
        for row in rows {
            for testCase in row.cases {
                let inputs = row.inputs(testCase, &generator)
                let what = "\(row.name) at \(testCase) with \(openCL.options.buildString)"
                let expected = try row.run(native, inputs, testCase, false)
                let actual = try row.run(openCL, inputs, testCase, false)
                let magnitudes: [Double]
                switch row.magnitudes {
                case .absoluteRun:
                    magnitudes = try row.run(native, inputs.map(\.magnitudes), testCase, true).map { Double(abs($0)) }
                case .custom(let compute):
                    magnitudes = compute(inputs, testCase)
                }
                XCTAssertEqual(magnitudes.count, expected.count, "\(what): magnitudes for every output")
                let factor = 2 * float32ErrorFactor(terms: row.terms(testCase))
                assertClose(actual, ReferenceTensor(shape: .vector(expected.count), floats: expected),
                            bounds: magnitudes.map { factor * $0 }, what)
                if row.checksDeterminism {
                    let again = try row.run(openCL, inputs, testCase, false)
                    XCTAssertEqual(actual.map(\.bitPattern), again.map(\.bitPattern), "\(what): two runs, same bits")
                }
            }
        }
    }

    // MARK: Helpers of the table

    static func random(_ shape: Shape, _ generator: inout SeededGenerator, in range: ClosedRange<Double> = -1...1) -> ReferenceTensor {
        ReferenceTensor.random(shape, in: range, using: &generator)
    }

    /// Pool forward, backward, backward accumulated onto x[2]; x[1] is the output gradient. Then
    /// the ReLU-and-pool backward in place over relu(x[0]).
    static func pool(_ backend: Backend, _ x: [ReferenceTensor], _ mode: PoolMode) throws -> [Float] {
        let input = try backend.makeTensor(x[0]), dy = try backend.makeTensor(x[1])
        let out = try backend.makeTensor(x[1].shape)
        try backend.pool2x2(input: input, mode: mode, output: out)
        var outputs = try backend.download(out)
        for accumulate in [false, true] {
            let grad = try backend.makeTensor(x[2])
            try backend.pool2x2Backward(gradOutput: dy, input: input, mode: mode, gradInput: grad, accumulate: accumulate)
            outputs += try backend.download(grad)
        }
        let activation = try backend.makeTensor(x[0].shape)
        try backend.relu(input: input, output: activation)
        try backend.reluPool2x2BackwardInPlace(gradOutput: dy, activation: activation, mode: mode)
        return outputs + (try backend.download(activation))
    }
}
