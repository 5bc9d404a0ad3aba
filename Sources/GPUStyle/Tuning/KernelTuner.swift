import Foundation

/// What `stylize-gpu tune` measures and how hard it searches.
public struct TuningSettings: Equatable, Sendable {
    /// The measured shapes are VGG19 layers of an `imageSize`×`imageSize` image.
    public var imageSize = 256
    /// One early full-resolution, one middle and one deep layer: together they cover the shapes
    /// an iteration's time goes to; and conv1_1, the one layer of the direct kernels
    /// (conv3x3_narrow runs nowhere else, so without it its options would be timed on nothing).
    public var layers = ["conv1_1", "conv1_2", "conv3_1", "conv4_2"]
    /// Each time is the median over this many rounds (each a warm-up run and a timed run).
    public var repeats = 3
    /// Coordinate-descent passes over the defines; a pass that changes nothing ends the search.
    public var passes = 2
    public var defines = TunableDefine.table
    /// A candidate replaces the current choice only when it is this much faster (a fraction), so
    /// measurement noise alone does not pick a value.
    public var minimumGain = 0.02

    public init() {}

    /// One pass, one timed run per op: about a quarter of the time, for a first look.
    public static var quick: TuningSettings {
        var settings = TuningSettings()
        settings.passes = 1
        settings.repeats = 1
        return settings
    }

    public func validate() throws {
        if imageSize < 16 { throw StyleError("--size must be at least 16 (got \(imageSize))") }
        if repeats < 1 { throw StyleError("repeats must be at least 1 (got \(repeats))") }
        if passes < 1 { throw StyleError("passes must be at least 1 (got \(passes))") }
        if defines.isEmpty { throw StyleError("nothing to tune: no defines selected") }
    }

    /// The measured shapes.
    func shapes() throws -> [OpsBenchmark.ConvShape] {
        let all = OpsBenchmark.vggShapes(width: imageSize, height: imageSize)
        return try layers.map { layer in
            guard let shape = all.first(where: { $0.layer == layer }) else {
                throw StyleError(
                    "tuning layer \(layer) is not a VGG19 convolution; valid: "
                        + all.map(\.layer).joined(separator: ", "))
            }
            return shape
        }
    }
}

/// One candidate the search tried: a define at a value on top of the best choice so far.
public struct TuningTrial: Equatable, Sendable {
    public var pass: Int
    public var define: String
    public var value: Int
    /// Summed median milliseconds of the ops the define affects; nil when skipped.
    public var milliseconds: Double?
    /// Why the candidate was skipped (build failure, invalid value, results off the defaults').
    public var skipped: String?
    /// Whether this value is the choice after the define's round.
    public var chosen: Bool
}

/// What `KernelTuner.run` found.
public struct TuningOutcome {
    public var record: TuningRecord
    public var trials: [TuningTrial]
    /// The self-test checks of the tuned options against the defaults (all passed).
    public var checks: Int
}

/// Searches the kernel options for one OpenCL device, CLBlast-style: starting from
/// `ProgramOptions.defaults(for:)` (with `keep` over them), each tunable define in turn is set to each of its values
/// (every other define at its best so far); a candidate whose program does not build or whose
/// values fail `validate` or the self-test against the defaults is skipped. The candidates of a
/// define and the current choice are timed side by side (`OpsBenchmark.run`, each round in a
/// rotated order) on the ops the define affects; the fastest wins by `minimumGain`.
public struct KernelTuner {
    public let device: CLDevice
    public let settings: TuningSettings
    /// Called with one line per step (trials, choices), for progress.
    public var progress: (String) -> Void = { _ in }
    /// Polled between candidates; true ends the search with an error (Ctrl-C).
    public var shouldStop: () -> Bool = { false }
    /// Values of an earlier tuning (`tune --only`): the search starts from them over the defaults,
    /// and the record keeps those of the defines it does not search.
    public var keep: [String: Int] = [:]
    /// Called with a contestant's options before it is timed; what it throws counts as that
    /// contestant failing to run. Tests use it to stand in for a launch a device refuses.
    var beforeTiming: (ProgramOptions) throws -> Void = { _ in }

    public init(device: CLDevice, settings: TuningSettings) {
        self.device = device
        self.settings = settings
    }

    public func run() throws -> TuningOutcome {
        try settings.validate()
        guard settings.defines.contains(where: { $0.applies(to: device.info) }) else {
            throw StyleError(
                "\(settings.defines.map(\.name).joined(separator: ", ")) not tuned on \(device.info.kind.rawValue) "
                    + "devices; choose others (see TunableDefine.table)")
        }
        let shapes = try settings.shapes()
        let defaults = ProgramOptions.defaults(for: device.info)
        let reference = try OpenCLBackend(device: device, options: defaults)
        var start = defaults
        start.defines.merge(keep) { _, kept in kept }
        var best = (options: start, backend: start == defaults ? reference : try candidate(start, reference: reference))
        var trials: [TuningTrial] = []
        for pass in 1...settings.passes {
            progress("pass \(pass) of at most \(settings.passes)")
            var changed = false
            for define in settings.defines where define.applies(to: device.info) {
                let (value, backend) = try round(
                    define, pass: pass, from: best, reference: reference, shapes: shapes,
                    trials: &trials)
                if value != best.options.defines[define.name] {
                    best.options.defines[define.name] = value
                    best.backend = backend
                    changed = true
                }
            }
            if !changed { break }
        }
        try stopIfAsked()
        let checks = try check(best.backend, against: reference)
        progress("tuned options match the defaults' results: \(checks) self-test checks passed")
        let record = try measureAgainstDefaults(tuned: best, reference: reference, shapes: shapes)
        return TuningOutcome(record: record, trials: trials, checks: checks)
    }

    /// One define's round: every value on top of `best`, timed side by side with it. Returns the
    /// winning value and its backend (the current ones unless a candidate wins by `minimumGain`).
    private func round(
        _ define: TunableDefine, pass: Int, from best: (options: ProgramOptions, backend: OpenCLBackend),
        reference: OpenCLBackend, shapes: [OpsBenchmark.ConvShape],
        trials: inout [TuningTrial]
    ) throws -> (value: Int?, backend: OpenCLBackend) {
        let current = best.options.defines[define.name]
        var contestants = [(value: current ?? 0, backend: best.backend)]
        for value in define.candidates(from: current ?? 0).dropFirst() {
            try stopIfAsked()
            var options = best.options
            options.defines[define.name] = value
            do {
                contestants.append((value, try candidate(options, reference: reference)))
            } catch {
                let reason = firstLine(describe(error))
                progress("  \(define.name)=\(value): skipped (\(reason))")
                trials.append(
                    TuningTrial(
                        pass: pass, define: define.name, value: value, milliseconds: nil,
                        skipped: reason, chosen: false))
            }
        }
        if contestants.count == 1 { return (current, best.backend) }
        let times: [Double]
        do {
            times = try timeSideBySide(contestants.map(\.backend), shapes: shapes, ops: define.affects)
        } catch {
            // A candidate that builds and passes the self-test can still fail to run at the timed
            // sizes (a GPU's CL_OUT_OF_RESOURCES for a large work-group): find it alone, skip it
            // like one that does not build, and time the rest. The current choice failing is fatal.
            var survivors = [contestants[0]]
            for contestant in contestants.dropFirst() {
                do {
                    _ = try timeSideBySide([contestant.backend], shapes: shapes, ops: define.affects)
                    survivors.append(contestant)
                } catch {
                    let reason = firstLine(describe(error))
                    progress("  \(define.name)=\(contestant.value): skipped (\(reason))")
                    trials.append(
                        TuningTrial(
                            pass: pass, define: define.name, value: contestant.value,
                            milliseconds: nil, skipped: reason, chosen: false))
                }
            }
            if survivors.count == contestants.count { throw error }
            contestants = survivors
            if contestants.count == 1 { return (current, best.backend) }
            times = try timeSideBySide(contestants.map(\.backend), shapes: shapes, ops: define.affects)
        }
        let fastest = times.indices.min { times[$0] < times[$1] } ?? 0
        let winner = times[fastest] < times[0] * (1 - settings.minimumGain) ? fastest : 0
        for (index, contestant) in contestants.enumerated() {
            progress(
                String(
                    format: "  %@=%d: %.2f ms%@%@", define.name, contestant.value, times[index] * 1e3,
                    index == 0 ? " (current)" : "", index == winner ? "  ← best" : ""))
            trials.append(
                TuningTrial(
                    pass: pass, define: define.name, value: contestant.value,
                    milliseconds: times[index] * 1e3, skipped: nil, chosen: index == winner))
        }
        return winner == 0 ? (current, best.backend) : (contestants[winner].value, contestants[winner].backend)
    }

    /// A backend with `options`, refused (thrown) unless it builds and agrees with `reference`.
    private func candidate(_ options: ProgramOptions, reference: OpenCLBackend) throws -> OpenCLBackend {
        let backend = try OpenCLBackend(device: device, options: options)
        _ = try check(backend, against: reference)
        return backend
    }

    /// Runs the self-test's random-data checks (every op, awkward shapes) on `backend` against
    /// `reference`; returns how many passed or throws naming the first failure.
    private func check(_ backend: OpenCLBackend, against reference: OpenCLBackend) throws -> Int {
        let results = SelfTest.run(SelfTestTable.randomChecks(), on: backend, reference: reference)
        if let failure = results.first(where: { !$0.passed }) {
            throw StyleError(
                "results differ from the defaults': \(failure.op) \(failure.shape), "
                    + "max relative error \(failure.maxRelativeError) over the bound \(failure.bound)"
                    + (failure.problem.map { " (\($0))" } ?? ""))
        }
        return results.count
    }

    /// Seconds per backend: the medians of `ops` at `shapes`, summed.
    private func timeSideBySide(
        _ backends: [OpenCLBackend], shapes: [OpsBenchmark.ConvShape],
        ops: [OpsBenchmark.Op]
    ) throws -> [Double] {
        for backend in backends { try beforeTiming(backend.options) }
        return try medians(backends, shapes: shapes, ops: ops).map { $0.reduce(0, +) }
    }

    /// Median seconds of each op at each shape (shape by shape, op by op) per backend, over
    /// `repeats` rounds. Each round runs every backend once per op, in an order rotated from
    /// round to round, so a burst of load on the machine does not land on one backend's runs.
    private func medians(
        _ backends: [Backend], shapes: [OpsBenchmark.ConvShape],
        ops: [OpsBenchmark.Op]
    ) throws -> [[Double]] {
        let count = backends.count
        var samples = [[[Double]]](repeating: [[Double]](repeating: [], count: shapes.count * ops.count), count: count)
        for round in 0..<settings.repeats {
            let order = (0..<count).map { ($0 + round) % count }
            let results = try OpsBenchmark.run(
                backends: order.map { backends[$0] }, shapes: shapes, ops: ops, repeats: 1)
            // OpsBenchmark.run measures shape by shape, op by op, each backend in turn.
            guard results.count == shapes.count * ops.count * count else {
                throw StyleError("internal error: \(results.count) measurements for \(count) backends")
            }
            for (index, measurement) in results.enumerated() {
                samples[order[index % count]][index / count].append(measurement.medianSeconds)
            }
        }
        return samples.map { $0.map(IterationBenchmark.median) }
    }

    /// Times every op at every shape with the defaults and the tuned options, side by side.
    private func measureAgainstDefaults(
        tuned: (options: ProgramOptions, backend: OpenCLBackend), reference: OpenCLBackend,
        shapes: [OpsBenchmark.ConvShape]
    ) throws -> TuningRecord {
        let same = tuned.backend === reference
        let backends: [Backend] = same ? [reference] : [reference, tuned.backend]
        progress("timing every op with the defaults\(same ? " (they won)" : " and the tuned options")…")
        let ops = OpsBenchmark.Op.allCases
        let medians = try self.medians(backends, shapes: shapes, ops: ops)
        var times: [TunedOpTime] = []
        for (s, shape) in shapes.enumerated() {
            for (o, op) in ops.enumerated() {
                let index = s * ops.count + o
                times.append(
                    TunedOpTime(
                        layer: shape.layer, op: op.rawValue, defaultMilliseconds: medians[0][index] * 1e3,
                        tunedMilliseconds: medians[backends.count - 1][index] * 1e3))
            }
        }
        var defines = keep
        for define in settings.defines where define.applies(to: device.info) {
            defines[define.name] = tuned.options.defines[define.name]
        }
        let record = TuningRecord(
            key: TuningKey(device: device.info),
            date: ISO8601DateFormatter().string(from: Date()), imageSize: settings.imageSize,
            layers: settings.layers, defines: defines,
            defaultMilliseconds: times.reduce(0) { $0 + $1.defaultMilliseconds },
            tunedMilliseconds: times.reduce(0) { $0 + $1.tunedMilliseconds }, times: times)
        guard !same, record.tunedMilliseconds > record.defaultMilliseconds else { return record }
        progress(
            String(
                format: "the options found ran slower than the defaults side by side (%.1f against %.1f ms): "
                    + "keeping the defaults", record.tunedMilliseconds, record.defaultMilliseconds))
        let searched = settings.defines.filter { $0.applies(to: device.info) }.map(\.name)
        return record.keepingDefaults(for: searched, defaults: ProgramOptions.defaults(for: device.info))
    }

    private func stopIfAsked() throws {
        if shouldStop() { throw StyleError("tuning interrupted; nothing was written") }
    }

    private func firstLine(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).first ?? "")
    }
}
