/// The one table of op checks, ggml's test-backend-ops in spirit, in two modes. Eval: a row per
/// op (every variant it covers) with its shapes, its named inputs and how to run it, comparing a
/// device with the native path within 2·γ(K)·Σ|terms| (`SelfTestCheck`). Grad: a row per backward
/// op, comparing it on a device with finite differences of the Float64 reference (`OpGradRow`).
/// `stylize-gpu selftest` runs each row on a few shapes (`selfTestCases`), the tuner the eval
/// rows; the test suite (BackendOpsTests) all of them on all their shapes (`cases`). A new op is a
/// new row, in the file of its stem (OpTable+Gram.swift …), and a grad row if it has a backward.
public enum OpTable {
    public static let rows: [OpRow] =
        convolutionRows + reluRows + reluCodesRows + poolingRows + gramRows + lossesRows + imageRows + maskRows
        + adamRows + vectorRows + flowRows + halfStorageRows
    public static let gradRows: [OpGradRow] =
        convolutionGradRows + reluGradRows + poolingGradRows + gramGradRows + lossesGradRows + imageGradRows
        + maskGradRows + flowGradRows

    /// Every eval row on its self-test shapes or on all its shapes, inputs drawn from `seed` in order.
    public static func checks(allCases: Bool, seed: UInt64, rows: [OpRow] = rows) -> [SelfTestCheck] {
        checks(allCases: allCases, seed: seed, of: rows)
    }

    /// Every grad row likewise.
    public static func gradChecks(allCases: Bool, seed: UInt64, rows: [OpGradRow] = gradRows) -> [SelfTestCheck] {
        checks(allCases: allCases, seed: seed, of: rows)
    }

    private static func checks<Row: OpTableRow>(allCases: Bool, seed: UInt64, of rows: [Row]) -> [SelfTestCheck] {
        var generator = SplitMix64(seed: seed)
        return rows.flatMap { row in
            (allCases ? row.cases : row.selfTestCases).map { row.check($0, &generator) }
        }
    }

    /// H, W ∈ {1, 2, 3, 7, 13, 33}, channels ∈ {1, 3, 5, 64, 67}, non-square, sampled so every value
    /// appears and the big channel counts meet both small and odd images (the cross product would
    /// take minutes). The last three: widths of whole 16-pixel vectors (conv3x3_narrow's aligned
    /// stores and its right edge without a ragged vector, with more input channels than it
    /// prefetches ahead), and Winograd tile rows long enough for a whole vector of tiles away from
    /// the edges. The very last: backward-data into 3 channels across more than one of
    /// conv3x3_narrow_strip's strips.
    static let convCases: [OpCase] = [
        OpCase(c: 1, h: 1, w: 1, o: 3), OpCase(c: 3, h: 1, w: 7, o: 5), OpCase(c: 5, h: 2, w: 3, o: 64),
        OpCase(c: 64, h: 3, w: 13, o: 67), OpCase(c: 67, h: 13, w: 7, o: 1), OpCase(c: 3, h: 33, w: 13, o: 64),
        OpCase(c: 64, h: 7, w: 2, o: 3), OpCase(c: 67, h: 3, w: 3, o: 67), OpCase(c: 5, h: 33, w: 1, o: 1),
        OpCase(c: 1, h: 2, w: 33, o: 67), OpCase(c: 64, h: 13, w: 33, o: 5), OpCase(c: 16, h: 9, w: 17, o: 32),
        OpCase(c: 3, h: 6, w: 32, o: 16), OpCase(c: 16, h: 5, w: 48, o: 3), OpCase(c: 16, h: 7, w: 41, o: 9),
        OpCase(c: 3, h: 5, w: 300, o: 6),
    ]
    /// The self-test's: 3 → 64 at 41 wide (conv1_1's shape, the interior path of conv3x3_narrow both
    /// ways), 32 wide (whole vectors), 70 wide (the Winograd transforms' whole blocks of 8 tiles in
    /// mid-row, not only at the left edge), 48 wide (Winograd rows of whole 64-byte lines, which
    /// CPUs store non-temporally), odd channel counts both ways, and 1×1.
    static let selfTestConvCases: [OpCase] = [
        OpCase(c: 1, h: 1, w: 1, o: 3), OpCase(c: 3, h: 7, w: 13, o: 64), OpCase(c: 67, h: 5, w: 3, o: 5),
        OpCase(c: 64, h: 3, w: 17, o: 67), OpCase(c: 3, h: 5, w: 41, o: 64), OpCase(c: 3, h: 6, w: 32, o: 8),
        OpCase(c: 8, h: 4, w: 70, o: 8), OpCase(c: 8, h: 7, w: 48, o: 8),
    ]
    /// The grad mode's: under 8 channels, so OpenCL runs its direct kernels by default (the narrow
    /// ones where a side has at most 4), 17 wide across a vector, 1×1 and 1 wide.
    static let gradConvCases: [OpCase] = [
        OpCase(c: 1, h: 1, w: 1, o: 1), OpCase(c: 3, h: 5, w: 7, o: 2), OpCase(c: 2, h: 3, w: 1, o: 5),
        OpCase(c: 5, h: 4, w: 9, o: 7), OpCase(c: 7, h: 2, w: 17, o: 3),
    ]
    static let selfTestGradConvCases: [OpCase] = [OpCase(c: 1, h: 1, w: 1, o: 3), OpCase(c: 3, h: 4, w: 5, o: 5)]
    /// The last two have rows of whole vectors of pooling windows, one with a ragged end.
    static let planeCases: [OpCase] = [
        OpCase(c: 1, h: 1, w: 1), OpCase(c: 3, h: 2, w: 33), OpCase(c: 5, h: 7, w: 3), OpCase(c: 64, h: 13, w: 7),
        OpCase(c: 67, h: 33, w: 13), OpCase(c: 1, h: 3, w: 2), OpCase(c: 3, h: 33, w: 1), OpCase(c: 64, h: 1, w: 13),
        OpCase(c: 2, h: 6, w: 32), OpCase(c: 5, h: 9, w: 41),
    ]
    /// 37 wide: whole vectors of pooling windows, then a ragged end.
    static let selfTestPlaneCases: [OpCase] = [
        OpCase(c: 1, h: 1, w: 1), OpCase(c: 3, h: 33, w: 2), OpCase(c: 67, h: 13, w: 7), OpCase(c: 3, h: 5, w: 37),
    ]
    /// The grad mode's: odd sizes, 1 high or wide (no pooling window, no TV term that way), 33 wide.
    static let gradPlaneCases: [OpCase] = [
        OpCase(c: 1, h: 1, w: 1), OpCase(c: 2, h: 5, w: 7), OpCase(c: 3, h: 4, w: 6), OpCase(c: 1, h: 3, w: 33),
        OpCase(c: 3, h: 3, w: 1), OpCase(c: 1, h: 1, w: 4),
    ]
    static let selfTestGradPlaneCases: [OpCase] = [OpCase(c: 1, h: 1, w: 1), OpCase(c: 2, h: 5, w: 7)]
    /// Preprocessing works on RGB images.
    static let imageCases: [OpCase] = [OpCase(c: 3, h: 1, w: 1), OpCase(c: 3, h: 7, w: 13), OpCase(c: 3, h: 33, w: 2)]
    static let selfTestImageCases: [OpCase] = [OpCase(c: 3, h: 1, w: 1), OpCase(c: 3, h: 7, w: 13)]
    static let gradImageCases: [OpCase] = [
        OpCase(c: 3, h: 1, w: 1), OpCase(c: 3, h: 2, w: 3), OpCase(c: 3, h: 7, w: 13),
    ]
}

/// The shape of one case: c input channels (Gram: the channels), o output channels (convs only), H×W.
public struct OpCase: CustomStringConvertible, Sendable {
    public var c: Int
    public var h: Int
    public var w: Int
    public var o = 0

    public var shape: Shape { Shape(c: c, h: h, w: w) }
    /// The output channels' shape (convolutions).
    public var outputShape: Shape { Shape(c: o, h: h, w: w) }
    public var description: String { o > 0 ? "\(c)→\(o) \(h)×\(w)" : "\(c)×\(h)×\(w)" }
}

/// One named input of a row: a tensor's shape and values.
public struct OpInput: Sendable {
    public var name: String
    public var shape: Shape
    public var values: [Float]

    public init(_ name: String, _ shape: Shape, _ values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    /// Uniform in `range`, from `generator`.
    static func random(
        _ name: String, _ shape: Shape, _ generator: inout SplitMix64, in range: ClosedRange<Float> = -1...1
    ) -> OpInput {
        OpInput(
            name, shape,
            (0..<shape.count).map { _ in
                range.lowerBound + (range.upperBound - range.lowerBound) * Float(generator.nextUnit())
            })
    }

    /// The value at channel k, row i, column j.
    subscript(k: Int, i: Int, j: Int) -> Float { values[(k * shape.h + i) * shape.w + j] }
}

/// A row of either mode: its shapes, and its check at one of them.
protocol OpTableRow {
    var cases: [OpCase] { get }
    var selfTestCases: [OpCase] { get }
    func check(_ testCase: OpCase, _ generator: inout SplitMix64) -> SelfTestCheck
}

/// One row of `OpTable`'s eval mode.
public struct OpRow: OpTableRow {
    public let name: String
    /// The test suite's shapes, and the few the self-test and the tuner run.
    let cases: [OpCase]
    let selfTestCases: [OpCase]
    /// The op's inputs for one case (also any initial output contents, for accumulation).
    let inputs: (OpCase, inout SplitMix64) -> [OpInput]
    /// Runs the op (every variant the row covers) on a backend; returns all outputs, concatenated.
    /// `absolute` asks for |parameters| (scales, offsets): the magnitude run.
    let run: (Backend, [OpInput], OpCase, _ absolute: Bool) throws -> [Float]
    /// K, the number of rounded terms per output; 0 means bit-exact.
    let terms: (OpCase) -> Int
    /// Σ|terms| per output where it does not follow from |inputs| (nil: the run on |inputs|).
    var magnitudes: (([OpInput], OpCase) -> [Double])? = nil
    /// Reductions: two runs must give the same bits.
    var checksDeterminism = false
    /// The row's kernels depend on the tile and vector options, not just the work-group size.
    var tiled = false
    /// Convolutions: K and magnitudes where a backend runs the case by Winograd (`Backend.winogradTile`).
    var winogradBound: ((_ tile: Int, [OpInput], OpCase) -> (terms: Int, magnitudes: [Double]))? = nil

    /// The row at one case, inputs drawn from `generator`.
    func check(_ testCase: OpCase, _ generator: inout SplitMix64) -> SelfTestCheck {
        check(testCase, inputs: self.inputs(testCase, &generator))
    }

    /// The row at one case on given inputs (in the order `inputs` makes them), printed as `op`.
    func check(_ testCase: OpCase, inputs: [OpInput], op: String? = nil) -> SelfTestCheck {
        let shapes = inputs.map { ($0.name, $0.shape) }
        let run = self.run
        let otherAlgorithm = winogradBound.map { bound in
            { (backend: Backend) in
                backend.winogradTile(
                    outputChannels: testCase.o, inputChannels: testCase.c, height: testCase.h, width: testCase.w
                ).map { bound($0, inputs, testCase) }
            }
        }
        return SelfTestCheck(
            op: op ?? name, shape: testCase.description, inputs: inputs.map(\.values), terms: terms(testCase),
            magnitudes: magnitudes?(inputs, testCase), checksDeterminism: checksDeterminism,
            otherAlgorithm: otherAlgorithm
        ) { backend, values, absolute in
            try run(backend, zip(shapes, values).map { OpInput($0.0, $0.1, $1) }, testCase, absolute)
        }
    }
}

extension Backend {
    /// A new tensor holding `input`.
    func tensor(_ input: OpInput) throws -> Tensor {
        try tensor(input.values, input.shape)
    }

    /// A gradient op run twice on copies of `start`, `accumulate` false then true: both results.
    func plainAndAccumulated(
        onto start: OpInput, _ op: (_ grad: Tensor, _ accumulate: Bool) throws -> Void
    ) throws
        -> [Float]
    {
        var outputs: [Float] = []
        for accumulate in [false, true] {
            let grad = try tensor(start)
            try op(grad, accumulate)
            outputs += try download(grad)
        }
        return outputs
    }
}
