/// `stylize-gpu selftest`: every op of a backend against the native path, on random data and on
/// the real weights' first layers (the op table's eval mode), and every backward op against
/// finite differences of the Float64 reference (its grad mode). For anyone with a new GPU or driver.
public enum SelfTest {
    /// Which of the op table's modes run.
    public enum Mode: String, CaseIterable, Sendable {
        case eval, grad, all

        var runsEval: Bool { self != .grad }
        var runsGrad: Bool { self != .eval }
    }

    /// What ran and what did not.
    public struct Report {
        public var results: [SelfTestResult]
        /// Parts left out, with the reason (no weights file, say).
        public var notes: [String]
        public var passed: Bool { !results.isEmpty && results.allSatisfy(\.passed) }
        public var failures: [SelfTestResult] { results.filter { !$0.passed } }
    }

    /// Runs `checks` on `device` against `reference`, calling `onResult` after each (to print as it goes).
    public static func run(
        _ checks: [SelfTestCheck], on device: Backend, reference: Backend = NativeBackend(),
        onResult: (SelfTestResult) -> Void = { _ in }
    ) -> [SelfTestResult] {
        checks.map { check in
            let result = check.evaluate(on: device, reference: reference)
            onResult(result)
            return result
        }
    }

    /// Eval: the random-data checks, then the weights' conv1_1 and conv1_2 when `weightsPath`
    /// names a readable file (nil: skipped with a note; an unreadable file given explicitly is an
    /// error). Grad: the gradient checks.
    public static func run(
        on device: Backend, weightsPath: String?, preprocessing: Preprocessing? = nil, mode: Mode = .all,
        onResult: (SelfTestResult) -> Void = { _ in }
    ) throws -> Report {
        var results = mode.runsEval ? run(SelfTestTable.randomChecks(), on: device, onResult: onResult) : []
        var notes: [String] = []
        if mode.runsEval, let weightsPath {
            let weights = try VGGWeights.load(path: weightsPath, upTo: 2, preprocessing: preprocessing)
            results += run(try SelfTestTable.weightChecks(weights), on: device, onResult: onResult)
        } else if mode.runsEval {
            notes.append(
                "skipped conv1_1/conv1_2 with the real weights: no weights file "
                    + "(fetch them with `\(WeightsCache.fetchCommand)` or pass --weights PATH)")
        }
        if mode.runsGrad { results += run(SelfTestTable.gradChecks(), on: device, onResult: onResult) }
        return Report(results: results, notes: notes)
    }
}
