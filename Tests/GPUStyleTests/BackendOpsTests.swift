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

    static let table: [Row] =
        convolutionRows + reluRows + poolingRows + gramRows + lossesRows + imageRows
        + adamRows + vectorRows

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
        for options in [OpenCLBackendTests.gpuOptions(device), gpuOtherMultiply, OpenCLBackendTests.oddOptions, direct]
        {
            try checkTable(on: try OpenCLBackend(device: device, options: options), rows: Self.table.filter(\.tiled))
        }
    }

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
                assertClose(
                    actual, ReferenceTensor(shape: .vector(expected.count), floats: expected),
                    bounds: magnitudes.map { factor * $0 }, what)
                if row.checksDeterminism {
                    let again = try row.run(openCL, inputs, testCase, false)
                    XCTAssertEqual(actual.map(\.bitPattern), again.map(\.bitPattern), "\(what): two runs, same bits")
                }
            }
        }
    }

    // MARK: Helpers of the table

    static func random(
        _ shape: Shape, _ generator: inout SeededGenerator, in range: ClosedRange<Double> = -1...1
    ) -> ReferenceTensor {
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
            try backend.pool2x2Backward(
                gradOutput: dy, input: input, mode: mode, gradInput: grad, accumulate: accumulate)
            outputs += try backend.download(grad)
        }
        let activation = try backend.makeTensor(x[0].shape)
        try backend.relu(input: input, output: activation)
        try backend.reluPool2x2BackwardInPlace(gradOutput: dy, activation: activation, mode: mode)
        return outputs + (try backend.download(activation))
    }
}
