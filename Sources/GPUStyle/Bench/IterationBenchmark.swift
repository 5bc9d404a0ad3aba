import Foundation

/// A device the iteration benchmark runs on: the `--devices` entry that named it and how to
/// make its backend (made once per image size).
public struct BenchmarkDevice {
    public let selector: DeviceSelector
    public let makeBackend: () throws -> Backend

    public init(selector: DeviceSelector, makeBackend: @escaping () throws -> Backend) {
        self.selector = selector
        self.makeBackend = makeBackend
    }

    /// The devices `selectors` name, or when nil every OpenCL device (by id) and then native;
    /// `overrides` replace kernel options on the OpenCL ones.
    public static func list(
        _ selectors: [DeviceSelector]?, catalog: DeviceCatalog,
        overrides: [String: Int] = [:]
    ) -> [BenchmarkDevice] {
        let chosen = selectors ?? catalog.openCLDevices.map { .index($0.info.index) } + [.native]
        return chosen.map { selector in
            BenchmarkDevice(selector: selector) {
                try BackendFactory.make(selector, catalog: catalog, overrides: overrides)
            }
        }
    }
}

/// What to measure: the workload (a fixed image pair at each size, Adam, default layers and
/// weights) and how many iterations.
public struct IterationBenchmarkSettings: Codable, Equatable, Sendable {
    public var contentPath: String
    public var stylePath: String
    /// Longest side of the image, one measurement per size.
    public var sizes: [Int] = [256, 512]
    /// Timed iterations per device and size.
    public var iterations = 20
    /// Untimed iterations before the timed ones (first-touch, kernel compilation, caches).
    public var warmup = 3
    /// Extra iterations per device and size for the per-phase breakdown (0: none). They come after
    /// the timed ones and are not part of the timings.
    public var profileIterations = 0
    /// `--preprocessing` (nil: detected from the weights).
    public var preprocessing: Preprocessing? = nil
    /// `--storage` (nil: float).
    public var storage: ActivationStorage? = nil

    public init(contentPath: String, stylePath: String) {
        self.contentPath = contentPath
        self.stylePath = stylePath
    }

    public func validate() throws {
        if sizes.isEmpty { throw StyleError("--sizes is empty; give one or more image sizes such as 256,512") }
        if let bad = sizes.first(where: { $0 < 16 }) {
            throw StyleError("--sizes: \(bad) is below the minimum of 16 pixels")
        }
        if iterations < 1 { throw StyleError("--iterations must be at least 1 (got \(iterations))") }
        if warmup < 0 { throw StyleError("--warmup must not be negative (got \(warmup))") }
        if profileIterations < 0 {
            throw StyleError("profile iterations must not be negative (got \(profileIterations))")
        }
    }
}

/// Device time per iteration of each phase (milliseconds), from the `--profile` iterations.
public struct PhaseBreakdown: Codable, Equatable, Sendable {
    /// "OpenCL profiling events" or "host clock per op".
    public var clock: String
    /// Phase name (IterationPhase raw values) → mean milliseconds per iteration.
    public var milliseconds: [String: Double]
    /// Kernel name → mean device milliseconds per iteration, all phases together; nil on the
    /// native path. Where a whole iteration's device time goes, kernel by kernel.
    public var kernels: [String: Double]?
    /// Kernel name → mean launches per iteration (nil where `kernels` is): what a launch's fixed
    /// cost is multiplied by.
    public var launches: [String: Double]?
}

/// One device at one size.
public struct IterationMeasurement: Codable, Equatable, Sendable {
    /// The backend's name ("native" or the OpenCL device name).
    public var device: String
    /// The `--devices` entry that chose it.
    public var selector: String
    /// Requested longest side, and the image actually optimised.
    public var size: Int
    public var width: Int
    public var height: Int
    /// Wall-clock milliseconds of each timed iteration, each ended by a device sync.
    public var samplesMilliseconds: [Double]
    public var medianMilliseconds: Double
    public var minMilliseconds: Double
    public var maxMilliseconds: Double
    /// Counted FLOPs of one iteration (see IterationFLOPs) and that count over the median time.
    public var flopsPerIteration: Double
    public var gflopsPerSecond: Double
    /// The backend's own peak of allocated buffer bytes (weights, activations, optimiser state).
    public var peakDeviceBytes: Int
    /// Issue 7's memory floor, the least any implementation of the iteration must hold: the layer
    /// outputs the backward pass reads (ReLU outputs, pooling inputs, the outputs the losses read;
    /// not the gradient arenas), the conv weights uploaded as one raw copy (O·I·9 + O floats per
    /// layer) and the optimiser state (Adam's m and v, two image-sized tensors). From the run's
    /// memory plan.
    public var memoryFloorBytes: Int
    /// peakDeviceBytes / memoryFloorBytes; issue 7 asks for at most 1.3 at 512×512.
    public var peakOverFloor: Double
    /// The run's memory plan part by part (the floor's parts and all beyond it): what the peak is made of.
    public var memoryPlan: MemoryPlan.Breakdown
    /// "defaults" when an OpenCL device ran with its default kernel options, else the options that
    /// differed (NAME=VALUE, from its `stylize-gpu tune` options or --define); on the native path
    /// its BLAS kernels (`NativeBackend.blasKernels`).
    public var kernelOptions: String?
    /// Peak resident set of the whole benchmark process (VmHWM) when this size finished. The
    /// process holds every device of the size at once, so this covers all of them together.
    public var peakHostResidentBytes: UInt64
    /// Native's median over this median (above 1: faster than native); nil without a native run.
    public var speedupOverNative: Double?
    public var phases: PhaseBreakdown?
}

/// A whole benchmark run: where and when it ran, what it measured, and the results.
public struct IterationBenchmarkReport: Codable, Equatable, Sendable {
    /// When the run started, ISO 8601, UTC.
    public var date: String
    public var cpu: String
    public var cores: Int
    /// 1, 5 and 15 minute load averages when the run started (empty where unknown).
    public var loadAverage: [Double]
    public var settings: IterationBenchmarkSettings
    public var results: [IterationMeasurement]
}

/// Times full style-transfer iterations (forward, losses, backward, Adam step) on several
/// devices, interleaved: each timed iteration runs once on every device in turn, starting from a
/// different device each round, so load changes on the machine hit all devices alike.
public enum IterationBenchmark {
    public static func run(
        settings: IterationBenchmarkSettings, devices: [BenchmarkDevice], weightsPath: String,
        note: (String) -> Void = { _ in }
    ) throws -> IterationBenchmarkReport {
        try settings.validate()
        guard !devices.isEmpty else { throw StyleError("no devices to benchmark; see `stylize-gpu devices`") }
        let load = HostInfo.loadAverage()
        let started = ISO8601DateFormatter().string(from: Date())
        var results: [IterationMeasurement] = []
        for size in settings.sizes {
            results += try measure(
                size: size, settings: settings, devices: devices, weightsPath: weightsPath, note: note)
        }
        return IterationBenchmarkReport(
            date: started, cpu: HostInfo.current.cpuName,
            cores: HostInfo.current.cores, loadAverage: load, settings: settings,
            results: results)
    }

    /// One job per device, all set up before the first timed iteration and resident together.
    private struct Contestant {
        let device: BenchmarkDevice
        let job: StyleJob
        let recorder: PhaseRecordingBackend?
        var samples: [Double] = []
    }

    private static func measure(
        size: Int, settings: IterationBenchmarkSettings, devices: [BenchmarkDevice],
        weightsPath: String, note: (String) -> Void
    ) throws -> [IterationMeasurement] {
        var options = StyleJobOptions(contentPath: settings.contentPath, stylePaths: [settings.stylePath])
        options.imageSize = size
        // One iteration of a run at `size`: its last scale, whatever the size.
        options.scales = 1
        options.preprocessing = settings.preprocessing
        options.storage = settings.storage
        options.optimization = OptimizationSettings(iterations: settings.warmup + settings.iterations, optimizer: .adam)
        var kernelOptions: [String?] = []
        var contestants: [Contestant] = try devices.map { device in
            let backend = try device.makeBackend()
            kernelOptions.append(describeKernelOptions(of: backend))
            let recorder =
                settings.profileIterations > 0
                ? PhaseRecordingBackend(backend, profilingContext: profilingContext(of: backend)) : nil
            note("size \(size): setting up \(backend.name)")
            let job = try StyleJob(options: options, weightsPath: weightsPath, backend: recorder ?? backend) { _ in }
            return Contestant(device: device, job: job, recorder: recorder)
        }
        let image = "\(contestants[0].job.content.width)×\(contestants[0].job.content.height)"
        note(
            "size \(size): \(settings.warmup) warm-up and \(settings.iterations) timed iterations at \(image) "
                + "on \(contestants.count) device(s), interleaved")
        for _ in 0..<settings.warmup {
            for contestant in contestants { _ = try timedStep(contestant.job) }
        }
        for round in 0..<settings.iterations {
            for offset in 0..<contestants.count {
                let index = (round + offset) % contestants.count
                contestants[index].samples.append(try timedStep(contestants[index].job))
            }
        }
        let phases = try contestants.map { try profile($0, iterations: settings.profileIterations) }
        let flops = try IterationFLOPs(
            model: contestants[0].job.network.model, height: contestants[0].job.content.height,
            width: contestants[0].job.content.width,
            layers: options.layers
        ).total
        let peakResident = HostInfo.peakResidentBytes()
        let nativeMedian = contestants.first { $0.device.selector == .native }.map { median($0.samples) }
        return try contestants.indices.map { index in
            let (contestant, phases) = (contestants[index], phases[index])
            let samples = contestant.samples.map { $0 * 1000 }
            let medianMs = median(contestant.samples) * 1000
            let job = contestant.job
            let plan = try MemoryPlan(
                model: job.network.model, layers: options.layers, height: job.content.height, width: job.content.width,
                styleSizes: job.styles.map { (height: $0.height, width: $0.width) },
                optimization: options.optimization, backend: job.backend, storage: settings.storage ?? .float
            ).breakdown
            let peak = job.backend.peakAllocatedBytes
            return IterationMeasurement(
                device: contestant.job.backend.name, selector: contestant.device.selector.description, size: size,
                width: contestant.job.content.width, height: contestant.job.content.height,
                samplesMilliseconds: samples, medianMilliseconds: medianMs, minMilliseconds: samples.min() ?? 0,
                maxMilliseconds: samples.max() ?? 0, flopsPerIteration: flops,
                gflopsPerSecond: flops / (medianMs / 1000) / 1e9, peakDeviceBytes: peak,
                memoryFloorBytes: plan.floorBytes, peakOverFloor: Double(peak) / Double(max(plan.floorBytes, 1)),
                memoryPlan: plan, kernelOptions: kernelOptions[index],
                peakHostResidentBytes: peakResident, speedupOverNative: nativeMedian.map { $0 * 1000 / medianMs },
                phases: phases)
        }
    }

    /// "defaults", or the options that differ from them (a tuning's, or --define's).
    private static func describeKernelOptions(of backend: Backend) -> String? {
        if backend is NativeBackend { return NativeBackend.blasKernels }
        guard let openCL = backend as? OpenCLBackend else { return nil }
        let defaults = ProgramOptions.defaults(for: openCL.context.device.info).defines
        let changed = openCL.options.defines.filter { defaults[$0.key] != $0.value }
        return changed.isEmpty
            ? "defaults" : changed.keys.sorted().map { "\($0)=\(changed[$0]!)" }.joined(separator: " ")
    }

    /// Seconds of one iteration, from enqueueing it to the end of the device's work.
    private static func timedStep(_ job: StyleJob) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try job.run.step()
        try job.backend.finish()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    private static func profile(_ contestant: Contestant, iterations: Int) throws -> PhaseBreakdown? {
        guard let recorder = contestant.recorder, iterations > 0 else { return nil }
        try recorder.finish()
        _ = recorder.takeTotals()
        _ = recorder.takeKernelTotals()
        recorder.isRecording = true
        defer { recorder.isRecording = false }
        for _ in 0..<iterations { try contestant.job.run.step() }
        try recorder.finish()
        let totals = recorder.takeTotals()
        var milliseconds: [String: Double] = [:]
        for phase in IterationPhase.allCases {
            milliseconds[phase.rawValue] = (totals[phase] ?? 0) * 1000 / Double(iterations)
        }
        let kernels = recorder.takeKernelTotals()
        return PhaseBreakdown(
            clock: recorder.clockDescription, milliseconds: milliseconds,
            kernels: recorder.timesKernels ? kernels.mapValues { $0.seconds * 1000 / Double(iterations) } : nil,
            launches: recorder.timesKernels ? kernels.mapValues { Double($0.launches) / Double(iterations) } : nil)
    }

    /// The OpenCL context whose profiling events time a backend's kernels; nil for the native path.
    static func profilingContext(of backend: Backend) -> CLContext? {
        (backend as? OpenCLBackend)?.context
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
