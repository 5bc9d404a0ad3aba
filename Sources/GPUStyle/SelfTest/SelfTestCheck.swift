import Foundation

/// One check of `stylize-gpu selftest`: an op (every variant it covers) at one shape, run on the
/// device under test. The op table's eval mode compares the device with a reference backend
/// (`OpRow`); its grad mode compares a backward op with finite differences of the Float64
/// reference (`OpGradRow`).
///
/// Eval-mode bound per output element: both backends compute in float32, each within
/// γ(K)·Σ|terms| of the exact value (`float32ErrorFactor`), K the number of rounded terms per
/// output, so they differ by at most 2·γ(K)·Σ|terms|. Σ|terms| is, unless a check gives its own,
/// the same op run on the reference with every input and parameter replaced by its absolute value.
/// K = 0 means bit-exact.
public struct SelfTestCheck {
    /// The op, as printed.
    public let op: String
    /// The shapes, as printed ("64→67 3×13", "conv1_2 64→64 24×32").
    public let shape: String
    /// Runs the op on the device (and whatever it is compared with on the reference backend).
    private let evaluation: (_ device: Backend, _ reference: Backend) -> SelfTestResult

    init(op: String, shape: String, evaluation: @escaping (Backend, Backend) -> SelfTestResult) {
        self.op = op
        self.shape = shape
        self.evaluation = evaluation
    }

    /// An eval-mode check: `run` returns all outputs concatenated (`absolute` asks for
    /// |parameters|); `magnitudes` gives Σ|terms| per output where it does not follow from
    /// |inputs| (squared losses, Adam); reductions must also give the same bits twice.
    /// `otherAlgorithm` gives, for a backend that computes the op by an algorithm with another
    /// bound (Winograd convolutions), that algorithm's K and magnitudes; nil for the op's own.
    /// Either side may then be off by its own bound: the check takes the larger K and, per
    /// output, the larger magnitude.
    init(
        op: String, shape: String, inputs: [[Float]], terms: Int, magnitudes: [Double]? = nil,
        checksDeterminism: Bool = false,
        otherAlgorithm: ((Backend) -> (terms: Int, magnitudes: [Double])?)? = nil,
        run: @escaping (Backend, [[Float]], Bool) throws -> [Float]
    ) {
        self.init(op: op, shape: shape) { device, reference in
            var terms = terms
            func result(_ worst: Double, _ problem: String?) -> SelfTestResult {
                // 2·γ(K): the bound on |device − reference| / Σ|terms|.
                SelfTestResult(
                    op: op, shape: shape, maxRelativeError: worst, bound: 2 * float32ErrorFactor(terms: terms),
                    problem: problem)
            }
            do {
                let expected = try run(reference, inputs, false)
                let actual = try run(device, inputs, false)
                var sizes = try magnitudes ?? run(reference, inputs.map { $0.map(abs) }, true).map { Double(abs($0)) }
                for other in [device, reference].compactMap({ otherAlgorithm?($0) }) {
                    guard let covering = covering(terms: terms, sizes: sizes, other) else {
                        return result(.infinity, "\(other.magnitudes.count) magnitudes, expected \(sizes.count)")
                    }
                    (terms, sizes) = covering
                }
                guard actual.count == expected.count, sizes.count == expected.count else {
                    return result(.infinity, "\(actual.count) outputs, expected \(expected.count)")
                }
                var worst = 0.0
                for k in expected.indices {
                    worst = max(worst, relativeError(abs(Double(actual[k]) - Double(expected[k])), of: sizes[k]))
                }
                if checksDeterminism, try run(device, inputs, false).map(\.bitPattern) != actual.map(\.bitPattern) {
                    return result(worst, "two runs gave different bits")
                }
                return result(worst, nil)
            } catch {
                return result(.infinity, describe(error))
            }
        }
    }

    /// Runs the check on the device (and the reference where it compares with one).
    func evaluate(on device: Backend, reference: Backend) -> SelfTestResult {
        evaluation(device, reference)
    }
}

/// K and Σ|terms| per output that bound both an op's own algorithm and `other` (K and magnitudes
/// of another algorithm for it): the larger K, per output the larger magnitude; nil where the
/// counts differ.
func covering(terms: Int, sizes: [Double], _ other: (terms: Int, magnitudes: [Double])) -> (Int, [Double])? {
    other.magnitudes.count == sizes.count ? (max(terms, other.terms), zip(sizes, other.magnitudes).map(max)) : nil
}

/// error / Σ|terms|: 0 for no error, infinity for NaN or an error where the terms are all 0.
func relativeError(_ error: Double, of size: Double) -> Double {
    error == 0 ? 0 : (error.isNaN || size == 0 ? .infinity : error / size)
}

/// The outcome of one check.
public struct SelfTestResult: Equatable, Sendable {
    public var op: String
    public var shape: String
    /// max over outputs of |device − reference| / Σ|terms|; infinity for NaN or an error.
    public var maxRelativeError: Double
    public var bound: Double
    public var passed: Bool
    /// Why it failed beyond the numbers (an error thrown, non-deterministic bits).
    public var problem: String?

    init(op: String, shape: String, maxRelativeError: Double, bound: Double, problem: String?) {
        self.op = op
        self.shape = shape
        self.maxRelativeError = maxRelativeError
        self.bound = bound
        self.passed = problem == nil && maxRelativeError <= bound
        self.problem = problem
    }

    /// One aligned line: op, shapes, max relative error, bound, PASS/FAIL.
    public var line: String {
        let op = self.op.padding(toLength: 35, withPad: " ", startingAt: 0)
        let shape = self.shape.padding(toLength: 13, withPad: " ", startingAt: 0)
        let error = maxRelativeError.isFinite ? String(format: "%.2e", maxRelativeError) : "inf"
        var text =
            "\(op) \(shape) max rel err \(error)  bound \(String(format: "%.2e", bound))  \(passed ? "PASS" : "FAIL")"
        if let problem { text += " (\(problem))" }
        return text
    }
}
