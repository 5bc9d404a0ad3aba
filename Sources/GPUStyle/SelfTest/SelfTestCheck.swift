import Foundation

/// One comparison of `stylize-gpu selftest`: an op (every variant it covers) run on the device
/// under test and on the reference backend from the same inputs.
///
/// Bound per output element: both backends compute in float32, each within γ(K)·Σ|terms| of the
/// exact value (`float32ErrorFactor`), K the number of rounded terms per output, so they differ by
/// at most 2·γ(K)·Σ|terms|. Σ|terms| is, unless a check gives its own, the same op run on the
/// reference with every input and parameter replaced by its absolute value. K = 0 means bit-exact.
public struct SelfTestCheck {
    /// The op, as printed.
    public let op: String
    /// The shapes, as printed ("64→67 3×13", "conv1_2 64→64 24×32").
    public let shape: String
    let inputs: [[Float]]
    /// Runs the op on a backend; returns all outputs concatenated. `absolute` asks for |parameters|.
    let run: (Backend, [[Float]], _ absolute: Bool) throws -> [Float]
    /// K, the number of rounded terms per output; 0 means bit-exact.
    let terms: Int
    /// Σ|terms| per output when it does not follow from |inputs| (squared losses, Adam).
    let magnitudes: [Double]?
    /// Reductions must also give the same bits twice.
    let checksDeterminism: Bool

    init(
        op: String, shape: String, inputs: [[Float]], terms: Int, magnitudes: [Double]? = nil,
        checksDeterminism: Bool = false, run: @escaping (Backend, [[Float]], Bool) throws -> [Float]
    ) {
        self.op = op
        self.shape = shape
        self.inputs = inputs
        self.terms = terms
        self.magnitudes = magnitudes
        self.checksDeterminism = checksDeterminism
        self.run = run
    }

    /// 2·γ(K): the bound on |device − reference| / Σ|terms|.
    public var bound: Double { 2 * float32ErrorFactor(terms: terms) }

    /// Runs the check on both backends and measures the worst error relative to Σ|terms|.
    func evaluate(on device: Backend, reference: Backend) -> SelfTestResult {
        do {
            let expected = try run(reference, inputs, false)
            let actual = try run(device, inputs, false)
            let sizes = try magnitudes ?? run(reference, inputs.map { $0.map(abs) }, true).map { Double(abs($0)) }
            guard actual.count == expected.count, sizes.count == expected.count else {
                return result(.infinity, problem: "\(actual.count) outputs, expected \(expected.count)")
            }
            var worst = 0.0
            for k in expected.indices {
                let error = abs(Double(actual[k]) - Double(expected[k]))
                let relative = error == 0 ? 0 : (error.isNaN || sizes[k] == 0 ? .infinity : error / sizes[k])
                worst = max(worst, relative)
            }
            if checksDeterminism, try run(device, inputs, false).map(\.bitPattern) != actual.map(\.bitPattern) {
                return result(worst, problem: "two runs gave different bits")
            }
            return result(worst, problem: nil)
        } catch {
            return result(.infinity, problem: describe(error))
        }
    }

    private func result(_ maxRelativeError: Double, problem: String?) -> SelfTestResult {
        SelfTestResult(
            op: op, shape: shape, maxRelativeError: maxRelativeError, bound: bound,
            passed: problem == nil && maxRelativeError <= bound, problem: problem)
    }
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
