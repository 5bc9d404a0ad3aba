import CBLAS
import Foundation
@testable import GPUStyle
import XCTest

/// Native forward ops against the Float64 reference (ReferenceOps) on awkward shapes; the
/// convolutions here are the im2col paths (`.direct`), Winograd's are in WinogradTests.
///
/// Error bounds: a float32 sum or dot product of n terms, in whatever order or blocking BLAS
/// picks and with or without FMA, is within γ(n)·Σ|terms| of the exact value, γ(n) ≈ n·2⁻²⁴
/// (`float32ErrorFactor`). The inputs are float32 values, so the reference sees exactly what the
/// backend sees and computes the exact result to ~2⁻⁵³. Σ|terms| per output is the reference op
/// run on absolute values (`magnitudes`), and n counts the products plus one rounding per extra
/// step (bias add, 1/N scaling, final store). A wrong index or a missing term breaks these
/// bounds by orders of magnitude; honest rounding never does.
final class NativeBackendTests: OpTestCase {
    /// The seed these tests, and the reference checks that moved to the op's own test files, draw from.
    static let seed: UInt64 = 0x5EED

    override func setUp() {
        super.setUp()
        generator = SeededGenerator(seed: Self.seed)
    }

    // MARK: Convolution

    /// (input channels, output channels, H, W) over H, W ∈ {1, 2, 3, 7, 13} and channels ∈ {1, 3, 5, 64, 67},
    /// non-square, sampled so every value appears and the big channel counts meet small images.
    static let convCases: [(i: Int, o: Int, h: Int, w: Int)] = [
        (1, 3, 1, 1), (3, 5, 1, 7), (5, 64, 2, 3), (64, 67, 3, 13), (67, 1, 13, 13), (3, 64, 13, 7),
        (64, 3, 7, 2), (67, 67, 3, 3), (5, 1, 7, 1), (1, 67, 2, 13), (64, 5, 13, 13), (67, 3, 13, 7),
    ]

    /// A tensor the host cannot hold is an error to report, not a crash (Swift's own allocator
    /// ends the process when memory runs out).
    func testAnAllocationTheHostRefusesThrows() throws {
        XCTAssertThrowsError(try NativeBackend().makeTensor(Shape(c: 1 << 12, h: 1 << 16, w: 1 << 16))) { error in
            XCTAssertTrue(describe(error).contains("cannot allocate"), describe(error))
        }
    }

    func testReductionsAreBitwiseDeterministic() throws {
        let backend = NativeBackend()
        let shape = Shape(c: 64, h: 37, w: 29)  // 68,672 elements: several parallel chunks
        let a = try backend.makeTensor(ReferenceTensor.random(shape, using: &generator))
        let b = try backend.makeTensor(ReferenceTensor.random(shape, using: &generator))
        let scalars = try backend.makeTensor(.vector(2))
        let gram = try backend.makeTensor(Shape(c: 1, h: 64, w: 64))
        func run() throws -> (dot: Double, losses: [Float], gram: [Float]) {
            try backend.meanSquaredError(a, b, scale: 1, scalars: scalars, slot: 0, accumulate: false)
            try backend.totalVariation(a, scale: 1, scalars: scalars, slot: 1, accumulate: false)
            try backend.gram(features: a, output: gram)
            return (try backend.dot(a, b), try backend.download(scalars), try backend.download(gram))
        }
        let (first, second) = (try run(), try run())
        XCTAssertEqual(first.dot.bitPattern, second.dot.bitPattern)
        XCTAssertEqual(first.losses.map(\.bitPattern), second.losses.map(\.bitPattern))
        XCTAssertEqual(first.gram.map(\.bitPattern), second.gram.map(\.bitPattern))
    }

    // MARK: Vector ops and memory

    func testMemoryAccountingFollowsTensorsAndWeights() throws {
        let backend = NativeBackend()
        XCTAssertEqual(backend.allocatedBytes, 0)
        var tensor: Tensor? = try backend.makeTensor(Shape(c: 2, h: 3, w: 5))
        XCTAssertEqual(backend.allocatedBytes, 120)
        XCTAssertEqual(try backend.download(XCTUnwrap(tensor)), [Float](repeating: 0, count: 30), "zero-filled")
        var weights: ConvWeights? = try backend.makeConvWeights(
            weights: [Float](repeating: 1, count: 2 * 3 * 9),
            bias: [0, 0], outputChannels: 2, inputChannels: 3)
        XCTAssertEqual(weights?.byteCount, (54 + 54 + 2) * 4)
        XCTAssertEqual(backend.allocatedBytes, 120 + 440)
        tensor = nil
        weights = nil
        XCTAssertEqual(backend.allocatedBytes, 0)
        XCTAssertEqual(backend.peakAllocatedBytes, 560)
    }

    func testWiringMistakesThrowInsteadOfCrashing() throws {
        let backend = NativeBackend()
        let image = try assertCommonWiringMistakesThrow(backend)
        let square = try backend.makeConvWeights(
            weights: [Float](repeating: 0, count: 3 * 3 * 9), bias: [0, 0, 0],
            outputChannels: 3, inputChannels: 3)
        XCTAssertThrowsError(try backend.conv3x3(input: image, weights: square, relu: false, output: image), "in place")
        XCTAssertThrowsError(
            try backend.totalVariationGradient(image, scale: 1, grad: image, accumulate: false), "in place")
        let notAPermutation = ChannelAffine(permutation: [0, 0, 1], scale: [1, 1, 1], offset: [0, 0, 0])
        let rgb = try backend.makeTensor(image.shape)
        XCTAssertThrowsError(try backend.preprocess(image: image, affine: notAPermutation, output: rgb)) { error in
            XCTAssertTrue(describe(error).contains("permutation"), describe(error))
        }
    }

    func testEmptyImagesDoNotCrash() throws {
        let backend = NativeBackend()
        let empty = try backend.makeTensor(Shape(c: 3, h: 4, w: 0))
        let scalars = try backend.makeTensor(.vector(1))
        try backend.totalVariation(empty, scale: 1, scalars: scalars, slot: 0, accumulate: false)
        try backend.totalVariationGradient(empty, scale: 1, grad: backend.makeTensor(empty.shape), accumulate: false)
        let weights = try backend.makeConvWeights(
            weights: [Float](repeating: 1, count: 2 * 3 * 9), bias: [0, 0],
            outputChannels: 2, inputChannels: 3)
        try backend.conv3x3(
            input: empty, weights: weights, relu: true, output: backend.makeTensor(Shape(c: 2, h: 4, w: 0)))
        try backend.pool2x2(input: empty, mode: .max, output: backend.makeTensor(Shape(c: 3, h: 2, w: 0)))
        XCTAssertEqual(try backend.download(scalars), [0])
    }

    // MARK: Benchmark (STYLIZE_BENCH=1)

    /// Prints conv3x3 GFLOP/s at VGG shapes (conv3_x-like 128→128 at 128×96, conv1_1 and conv2_1 of
    /// a 256×192 image), beside the bare sgemm of the forward's size measured in the same run.
    /// Not asserted; the best of several runs, since the machine is shared.
    func testConvThroughputBenchmark() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["STYLIZE_BENCH"] == "1", "set STYLIZE_BENCH=1 to run")
        print(
            "native conv3x3, \(ProcessInfo.processInfo.activeProcessorCount) cores, "
                + "\(openblas_get_num_threads()) OpenBLAS threads (best of 8), GFLOP/s:")
        for (i, o, h, w) in [(128, 128, 128, 96), (3, 64, 256, 192), (64, 128, 128, 96)] {
            let layer = randomLayer(inputChannels: i, outputChannels: o)
            let backend = NativeBackend(convolution: .direct)  // the im2col paths (Winograd: `bench ops`)
            let weights = try backend.makeConvWeights(
                weights: layer.weights.map(Float.init), bias: layer.bias.map(Float.init),
                outputChannels: o, inputChannels: i)
            let input = try backend.makeTensor(ReferenceTensor.random(Shape(c: i, h: h, w: w), using: &generator))
            let output = try backend.makeTensor(Shape(c: o, h: h, w: w))
            let mask = try backend.makeTensor(ReferenceTensor.random(Shape(c: i, h: h, w: w), using: &generator))
            let flops = 2.0 * Double(i * o * 9 * h * w)
            let columns = UnsafeMutablePointer<Float>.allocate(capacity: i * 9 * h * w)
            defer { columns.deallocate() }
            let (x, y) = (try backend.native(input, "bench").pointer, try backend.native(output, "bench").pointer)
            NativeBackend.im2col(x, channels: i, height: h, width: w, firstRow: 0, rows: h, into: columns)
            let native = try backend.nativeWeights(weights, "bench")
            let forwardMatrix = try native.layout(native.forward, "bench")
            let gemm = bestSeconds {
                Blas.gemm(
                    m: o, n: h * w, k: i * 9, a: forwardMatrix, lda: i * 9, b: columns, ldb: h * w, beta: 0, c: y,
                    ldc: h * w)
            }
            let forward = try bestSeconds {
                try backend.conv3x3(input: input, weights: weights, relu: true, output: output)
            }
            var line = String(
                format: "  %3d→%3d at %d×%d: bare sgemm %5.1f, forward %5.1f", i, o, h, w,
                flops / gemm / 1e9, flops / forward / 1e9)
            for method in ConvBackwardMethod.allCases {
                backend.backwardMethodOverride = method
                let backward = try bestSeconds {
                    try backend.conv3x3BackwardData(
                        gradOutput: output, weights: weights, reluMaskFrom: mask,
                        gradInput: input, accumulate: false)
                }
                line += String(format: ", backward %@ %5.1f", "\(method)", flops / backward / 1e9)
            }
            print(line)
        }
    }

    /// Prints milliseconds per call of the other ops at relu1_1's shape for a 256×192 image
    /// (64×256×192 features, Gram 64×64). Not asserted.
    func testOpTimesBenchmark() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["STYLIZE_BENCH"] == "1", "set STYLIZE_BENCH=1 to run")
        let backend = NativeBackend()
        let shape = Shape(c: 64, h: 256, w: 192)
        let a = try backend.makeTensor(ReferenceTensor.random(shape, using: &generator))
        let b = try backend.makeTensor(ReferenceTensor.random(shape, using: &generator))
        let c = try backend.makeTensor(shape)
        let pooled = try backend.makeTensor(Shape(c: 64, h: 128, w: 96))
        let gram = try backend.makeTensor(Shape(c: 1, h: 64, w: 64))
        let scalars = try backend.makeTensor(.vector(1))
        let (m, v) = (try backend.makeTensor(shape), try backend.makeTensor(shape))
        let ops: [(String, () throws -> Void)] = [
            ("relu", { try backend.relu(input: a, output: c) }),
            ("reluBackward", { try backend.reluBackward(gradOutput: a, activation: b, gradInput: c) }),
            ("pool max", { try backend.pool2x2(input: a, mode: .max, output: pooled) }),
            (
                "pool max backward",
                {
                    try backend.pool2x2Backward(
                        gradOutput: pooled, input: a, mode: .max, gradInput: c, accumulate: false)
                }
            ),
            (
                "pool avg backward",
                {
                    try backend.pool2x2Backward(
                        gradOutput: pooled, input: a, mode: .avg, gradInput: c, accumulate: false)
                }
            ),
            ("gram", { try backend.gram(features: a, output: gram) }),
            (
                "gram backward",
                { try backend.gramBackward(gradGram: gram, features: a, gradFeatures: c, accumulate: true) }
            ),
            ("mse", { try backend.meanSquaredError(a, b, scale: 1, scalars: scalars, slot: 0, accumulate: false) }),
            ("mse gradient", { try backend.meanSquaredErrorGradient(a, b, scale: 1, grad: c, accumulate: true) }),
            ("tv", { try backend.totalVariation(a, scale: 1, scalars: scalars, slot: 0, accumulate: false) }),
            ("tv gradient", { try backend.totalVariationGradient(a, scale: 1, grad: c, accumulate: true) }),
            (
                "adam",
                {
                    try backend.adamStep(
                        parameter: c, gradient: a, m: m, v: v, step: 3,
                        parameters: AdamParameters(learningRate: 1))
                }
            ),
            ("dot", { _ = try backend.dot(a, b) }),
        ]
        print("native op times at \(shape) (best of 8)")
        for (name, op) in ops {
            print(
                "  " + name.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + String(format: " %7.2f ms", try bestSeconds(op) * 1e3))
        }
    }

    /// The best wall time of 8 runs after one warm-up (scratch growth, thread start).
    private func bestSeconds(_ body: () throws -> Void) rethrows -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<8 {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

}
