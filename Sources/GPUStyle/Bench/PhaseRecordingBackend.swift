import Foundation

/// The parts of one iteration the `--profile` breakdown reports.
public enum IterationPhase: String, CaseIterable, Codable, Sendable {
    /// Preprocessing, conv(+ReLU), ReLU and pooling forward.
    case forward
    /// Gram matrices, the loss reductions, their gradients, Gram backward and total variation.
    case losses
    /// Conv backward-data, ReLU, pooling and preprocessing backward.
    case backward
    /// The Adam step.
    case optimizer
    /// Fills, copies, axpy and scale (zeroing gradients and loss slots), clamp/round.
    case other
}

/// Measures how long each op of a backend takes and adds it to the op's phase. Ops pass straight
/// through while `isRecording` is false, so the wrapper costs one extra call per op then.
///
/// With an OpenCL context the time is device time from its profiling events (the context is
/// drained after each op, which serialises the queue but not the kernels' own cost); without one,
/// host wall-clock time around each call (the native backend's ops are synchronous).
final class PhaseRecordingBackend: ForwardingBackend {
    private let context: CLContext?
    var isRecording = false {
        didSet { context?.recordsProfile = isRecording }
    }
    /// Seconds per phase since the last `takeTotals()`.
    private var totals: [IterationPhase: Double] = [:]
    /// Device seconds and launches per kernel name since the last `takeKernelTotals()` (OpenCL only).
    private var kernelTotals: [String: CLContext.KernelTime] = [:]

    init(_ inner: Backend, profilingContext: CLContext?) {
        context = profilingContext
        super.init(inner)
    }

    /// Where the times come from, for reports.
    var clockDescription: String { context == nil ? "host clock per op" : "OpenCL profiling events" }
    /// Whether it times kernels (an OpenCL context), not just ops.
    var timesKernels: Bool { context != nil }

    /// Seconds per phase recorded so far; clears the record.
    func takeTotals() -> [IterationPhase: Double] {
        defer { totals = [:] }
        return totals
    }

    /// Device seconds and launches per kernel recorded so far (empty without an OpenCL context);
    /// clears the record.
    func takeKernelTotals() -> [String: CLContext.KernelTime] {
        defer { kernelTotals = [:] }
        return kernelTotals
    }

    /// Adds the op's time to its phase (`BackendOp.phase`).
    override func perform<Result>(_ op: BackendOp, _ compute: () throws -> Result) throws -> Result {
        guard isRecording else { return try compute() }
        if let context {
            let result = try compute()
            let kernels = try context.profile()
            totals[op.phase, default: 0] += kernels.values.reduce(0) { $0 + $1.seconds }
            kernelTotals.merge(kernels, uniquingKeysWith: +)
            return result
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try compute()
        totals[op.phase, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return result
    }
}
