import ArgumentParser
import Foundation
import GPUStyle

/// `stylize-gpu batch`: many content × style pairs (a grid or a manifest) in one process, on
/// one or more devices, skipping finished jobs and resuming interrupted ones; `--shard` splits
/// the list between the tasks of a Slurm job array or a Kubernetes Indexed Job.
struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Stylise many images: every content × every style, or the jobs of a manifest.",
        discussion: """
            Every option of `stylize-gpu run` (see `stylize-gpu run --help`) is accepted and is the \
            default of every job; a manifest's "options" override it per job. Outputs are \
            OUTDIR/<content>__<style>.<format>; OUTDIR/.stylize-gpu/ holds each finished job's record \
            (a job whose output and record match is skipped), the locks of running jobs and their \
            checkpoints (an interrupted job resumes). Exits 1 when any job failed, 130 on Ctrl-C.
            """
    )

    @Option(parsing: .upToNextOption, help: "Content images or folders of them (png, jpg, jpeg; sorted).")
    var contents: [String] = []

    @Option(parsing: .upToNextOption, help: "Style images or folders of them: each content gets each style.")
    var styles: [String] = []

    @Option(
        help: ArgumentHelp(
            "A JSON-lines file: {\"content\": …, \"styles\": […], \"output\": …, \"options\": {\"image-size\": 768}} a line.",
            discussion: "Relative inputs resolve against the manifest's folder, outputs against -o."))
    var manifest: String?

    @Option(name: .shortAndLong, help: "The output folder (created if missing).")
    var output: String

    @Option(help: "Extension of grid outputs, and of manifest jobs without an output: png or jpg.")
    var format = "png"

    @Option(help: "all (every OpenCL device), or a comma-separated list of --device values: one worker each.")
    var devices = "auto"

    @Option(help: "Run every N-th job starting at I (I/N), or auto (Slurm job array, Kubernetes Indexed Job).")
    var shard: String?

    @Option(help: "The number of shards with --shard auto under a Kubernetes Indexed Job (its completions).")
    var shards: Int?

    @Option(help: "Write a JSON report: each job's status, device, time and loss.")
    var report: String?

    @Argument(parsing: .allUnrecognized, help: "Options of `stylize-gpu run`, the defaults of every job.")
    var runOptions: [String] = []

    mutating func validate() throws {
        guard ["png", "jpg", "jpeg"].contains(format.lowercased()) else {
            throw StyleError("--format \(format): give png or jpg")
        }
        if manifest != nil, !contents.isEmpty || !styles.isEmpty {
            throw StyleError("give either --manifest or --contents and --styles, not both")
        }
        if manifest == nil, contents.isEmpty || styles.isEmpty {
            throw StyleError("give --contents and --styles (files or folders), or --manifest FILE")
        }
        for argument in runOptions {
            let name = argument.hasPrefix("--") ? String(argument.dropFirst(2).prefix { $0 != "=" }) : ""
            if name == "device" { throw StyleError("batch takes --devices (one worker per device), not --device") }
            if BatchPlan.batchOnlyOptions.contains(name) {
                throw StyleError("--\(name) is an option of a single run; batch writes one image per job into -o")
            }
        }
        _ = try workerSelectors()
        if let shard { _ = try BatchShard.parse(shard, shards: shards, environment: [:].merging(environment) { $1 }) }
        if shard == nil, shards != nil { throw StyleError("--shards goes with --shard auto") }
    }

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// One selector per worker.
    func workerSelectors(catalog: DeviceCatalog? = nil) throws -> [DeviceSelector] {
        if devices.lowercased() == "all" {
            let found = (catalog ?? .discover()).openCLDevices
            return found.isEmpty ? [.native] : found.map { .index($0.info.index) }
        }
        return try splitList(devices, option: "--devices").map { try DeviceSelector($0) }
    }

    /// The jobs in their fixed order.
    func plannedJobs() throws -> [BatchJobSpec] {
        let extensionName = format.lowercased() == "jpeg" ? "jpg" : format.lowercased()
        if let manifest { return try BatchPlan.manifest(path: manifest, format: extensionName) }
        return try BatchPlan.grid(contents: contents, styles: styles, format: extensionName)
    }

    func run() throws {
        let all = try plannedJobs()
        let shard = try self.shard.map { try BatchShard.parse($0, shards: shards, environment: environment) }
        let positions = shard?.positions(of: all.count) ?? Array(all.indices)
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw StyleError("-o \(output): cannot create the folder (\(describe(error)))")
        }
        // Every job is parsed and checked (options, inputs, weights and layers) before any work.
        var weights = WeightsMemo()
        let jobs = try positions.map { try resolve(all[$0], weights: &weights) }
        removeStaleTemporaries(
            in: [output] + (report.map { [URL(fileURLWithPath: $0).deletingLastPathComponent().path] } ?? [])
                + jobs.flatMap { job in
                    [job.files.output, job.files.record].map {
                        URL(fileURLWithPath: $0).deletingLastPathComponent().path
                    }
                })
        let catalog = DeviceCatalog.discover()
        let selectors = try workerSelectors(catalog: catalog)
        printNote(
            "batch: \(jobs.count) job\(jobs.count == 1 ? "" : "s")"
                + (shard.map { " (shard \($0) of \(all.count) jobs)" } ?? "")
                + " on \(selectors.count) worker\(selectors.count == 1 ? "" : "s") (\(selectors.map(\.description).joined(separator: ", ")))"
        )

        let interruption = Interruption.shared
        interruption.deferStops(saying: "finishing this iteration of each running job and keeping its checkpoint")
        defer { interruption.endDeferral() }
        let queue = BatchQueue(jobs: jobs)
        let threads = selectors.map { selector in
            Thread { [queue] in
                BatchWorker(selector: selector, catalog: catalog, queue: queue).work()
            }
        }
        threads.forEach {
            $0.stackSize = 8 << 20
            $0.start()
        }
        queue.waitUntilDone(workers: threads.count)

        let results = queue.results
        if let report {
            try BatchReport(shard: shard?.description ?? "0/1", jobs: results).write(to: report)
        }
        let counts = Dictionary(grouping: results, by: \.status).mapValues(\.count)
        let summary = [BatchJobReport.Status.done, .skipped, .locked, .interrupted, .failed].compactMap { status in
            counts[status].map { "\($0) \(status.rawValue)" }
        }.joined(separator: ", ")
        printNote("batch: \(results.count) job\(results.count == 1 ? "" : "s"): \(summary)")
        if interruption.isRequested { throw ExitCode(130) }
        if let (job, error) = queue.fullDisk {
            let finished = (counts[.done] ?? 0) + (counts[.skipped] ?? 0)
            throw StyleError(
                "the disk is full (\(job): \(error)); stopped with \(finished) of \(results.count) jobs finished and "
                    + "kept: free space and run the same command again to finish the others")
        }
        let failed = counts[.failed] ?? 0
        if failed > 0 {
            throw StyleError(
                "\(failed) of \(results.count) jobs failed; run the same command again to retry them (finished jobs are skipped)"
            )
        }
    }

    /// A job's options as `run` would parse them: the batch's run options, then the job's own.
    private func resolve(_ spec: BatchJobSpec, weights: inout WeightsMemo) throws -> BatchJob {
        let files = BatchJobFiles(outputFolder: output, relativeOutput: spec.output)
        let name = spec.origin.isEmpty ? "\(spec.output)" : spec.origin
        func fail(_ error: Error) -> StyleError {
            let line = ownError(in: error).map(describe) ?? StylizeCommand.message(for: error)
            return StyleError("\(name): \(line)")
        }
        do {
            try files.makeFolders()
            let command = try StylizeCommand.parse(
                [spec.content] + spec.styles + ["-o", files.output] + runOptions + spec.arguments)
            guard command.styles == spec.styles else {
                throw StyleError(
                    "unexpected argument \(command.styles.dropFirst(spec.styles.count).first ?? ""); batch takes its "
                        + "images from --contents/--styles or --manifest")
            }
            let options = try command.jobOptions()
            let weightsPath = try WeightsCache.resolve(path: command.weightsOptions.weights)
            let identity = try weights.identity(path: weightsPath, preprocessing: options.preprocessing)
            try options.layers.validate(for: identity.model)
            return BatchJob(
                spec: spec, files: files, options: options, weightsPath: weightsPath,
                weightsSHA256: identity.sha256, bitDepth: command.outputBitDepth, jpegQuality: command.jpegQuality,
                checkpointEvery: command.checkpointEvery, printEvery: command.printEvery)
        } catch {
            throw fail(error)
        }
    }
}

/// The weights' checksums and identities, once per file.
private struct WeightsMemo {
    private var known: [String: (sha256: String, model: VGGModel)] = [:]

    mutating func identity(path: String, preprocessing: Preprocessing?) throws -> (sha256: String, model: VGGModel) {
        let key = "\(path)\u{0}\(preprocessing?.rawValue ?? "")"
        if let found = known[key] { return found }
        let (sha256, warning) = try WeightsCache.checksum(of: path)
        if let warning, !known.keys.contains(where: { $0.hasPrefix(path + "\u{0}") }) { printWarning(warning) }
        let identity = try WeightsIdentity.identify(path: path, sha256: sha256, preprocessing: preprocessing)
        known[key] = (sha256, identity.model)
        return (sha256, identity.model)
    }
}

/// A job ready to run: its files, options and the run options batch takes from `run`.
struct BatchJob {
    var spec: BatchJobSpec
    var files: BatchJobFiles
    var options: StyleJobOptions
    var weightsPath: String
    var weightsSHA256: String
    var bitDepth: Int
    var jpegQuality: Int
    var checkpointEvery: Int
    var printEvery: Int
}

/// The jobs the workers take in turn, and their results.
final class BatchQueue: @unchecked Sendable {
    let jobs: [BatchJob]
    private let lock = NSCondition()
    private var next = 0
    private var finishedWorkers = 0
    private var slots: [BatchJobReport?]

    init(jobs: [BatchJob]) {
        self.jobs = jobs
        slots = Array(repeating: nil, count: jobs.count)
    }

    /// The first job that failed on a full disk, and its error: no job is taken after it.
    private(set) var fullDisk: (output: String, error: String)?

    /// The next job's position, or nil when none is left or a stop was asked for.
    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < jobs.count, !Interruption.shared.isRequested, fullDisk == nil else { return nil }
        next += 1
        return next - 1
    }

    func stopAtFullDisk(_ output: String, _ error: String) {
        lock.lock()
        if fullDisk == nil { fullDisk = (output, error) }
        lock.unlock()
    }

    func finish(_ position: Int, _ report: BatchJobReport) {
        lock.lock()
        slots[position] = report
        lock.unlock()
    }

    func workerEnded() {
        lock.lock()
        finishedWorkers += 1
        lock.broadcast()
        lock.unlock()
    }

    func waitUntilDone(workers: Int) {
        lock.lock()
        while finishedWorkers < workers { lock.wait() }
        lock.unlock()
    }

    /// Every job's report; a job no worker took (a stop) is reported as interrupted.
    var results: [BatchJobReport] {
        lock.lock()
        defer { lock.unlock() }
        return zip(jobs, slots).map { job, slot in
            slot
                ?? BatchJobReport(
                    output: job.spec.output, content: job.spec.content, styles: job.spec.styles, status: .interrupted)
        }
    }
}

/// One device's worker: builds its backend at its first job that runs, keeps it and the
/// weights on it for the rest, and runs the jobs it takes one after the other.
final class BatchWorker {
    let selector: DeviceSelector
    let catalog: DeviceCatalog
    let queue: BatchQueue
    private var backend: Backend?
    private let networks = VGGNetworkCache()

    init(selector: DeviceSelector, catalog: DeviceCatalog, queue: BatchQueue) {
        self.selector = selector
        self.catalog = catalog
        self.queue = queue
    }

    func work() {
        while let position = queue.take() {
            let job = queue.jobs[position]
            var report = perform(job)
            // Read once the job's buffers are freed: what carries over to the next job.
            if report.status == .done { report.deviceBytes = backend?.allocatedBytes }
            queue.finish(position, report)
            printNote(describe(report, position: position))
        }
        queue.workerEnded()
    }

    private func describe(_ report: BatchJobReport, position: Int) -> String {
        let label = "[\(position + 1)/\(queue.jobs.count)] \(report.output)"
        switch report.status {
        case .done:
            return "\(label): done in \(String(format: "%.1f", report.seconds ?? 0)) s "
                + "(set-up \(String(format: "%.2f", report.setupSeconds ?? 0)) s)"
                + (report.resumedAt.map { ", resumed at iteration \($0)" } ?? "")
                + " on \(report.device ?? "?")" + (report.loss.map { ", loss \(String(format: "%.4g", $0))" } ?? "")
        case .skipped: return "\(label): skipped (finished with the same settings)"
        case .locked: return "\(label): running elsewhere (locked), left to it"
        case .interrupted: return "\(label): interrupted; its checkpoint resumes it on the next run"
        case .failed: return "\(label): failed: \(singleLine(report.error ?? ""))"
        }
    }

    private func perform(_ job: BatchJob) -> BatchJobReport {
        var report = BatchJobReport(
            output: job.spec.output, content: job.spec.content, styles: job.spec.styles, status: .failed)
        let files = job.files
        do {
            let settings = try BatchSettings(
                options: job.options, weightsSHA256: job.weightsSHA256, bitDepth: job.bitDepth,
                jpegQuality: job.jpegQuality)
            if BatchRecord.isFinished(files, settings: settings) {
                report.status = .skipped
                return report
            }
            guard let lock = try BatchLock.acquire(files.lock) else {
                report.status = .locked
                return report
            }
            defer { lock.release() }
            // Another worker may have finished it between the check and the lock.
            if BatchRecord.isFinished(files, settings: settings) {
                report.status = .skipped
                return report
            }
            let start = Date()
            let backend = try self.backend ?? BackendFactory.make(selector, catalog: catalog)
            self.backend = backend
            report.device = backend.name
            let resume = resumableState(job, inputsSHA256: settings.inputsSHA256)
            report.resumedAt = resume.map { job.options.iterationsBefore(scale: $0.scale) + $0.iteration }
            let styleJob = try StyleJob(
                options: job.options, weightsPath: job.weightsPath, weightsSHA256: job.weightsSHA256,
                backend: backend, resume: resume, networks: networks, note: { _ in })
            report.setupSeconds = Date().timeIntervalSince(start)
            var outputs = RunOutputs(image: files.partialImage)
            outputs.bitDepth = job.bitDepth
            outputs.jpegQuality = job.jpegQuality
            outputs.checkpoint = files.checkpoint
            outputs.checkpointEvery = job.checkpointEvery
            var loss: Double?
            let events = RunEvents(
                report: { loss = $0.losses.total }, note: { _ in },
                warning: { printWarning("\(job.spec.output): \($0)") },
                shouldStop: { Interruption.shared.isRequested }, finished: { _, _ in })
            let end: RunEnd
            do {
                end = try styleJob.perform(
                    outputs: outputs,
                    checkpoint: CheckpointIdentity(
                        weightsSHA256: job.weightsSHA256, inputsSHA256: settings.inputsSHA256),
                    reportEvery: job.printEvery, events: events
                ).end
            } catch {
                unlink(files.partialImage)
                throw error
            }
            report.loss = loss
            report.seconds = Date().timeIntervalSince(start)
            switch end {
            case .interrupted:
                unlink(files.partialImage)
                report.status = .interrupted
                return report
            case let .nonFinite(iteration, term, _):
                unlink(files.partialImage)
                throw StyleError(
                    "the \(term) loss became NaN or infinite at iteration \(iteration); \(styleJob.options.nonFiniteAdvice)"
                )
            case .completed, .converged:
                break
            }
            try finish(
                files,
                record: BatchRecord(
                    content: job.spec.content, styles: job.spec.styles, settings: settings,
                    outputSHA256: try BatchRecord.digest(ofFile: files.partialImage), device: backend.name,
                    seconds: report.seconds ?? 0, loss: loss))
            report.status = .done
        } catch {
            report.status = .failed
            report.error = singleLine(GPUStyle.describe(error))
            // A full disk fails every job after this one too: stop taking jobs.
            if isOutOfSpace(error) { queue.stopAtFullDisk(job.spec.output, report.error ?? "") }
        }
        return report
    }

    /// The job's checkpoint when it can resume it.
    private func resumableState(_ job: BatchJob, inputsSHA256: [String]) -> RunState? {
        resumableCheckpoint(
            job.files.checkpoint, options: job.options, weightsSHA256: job.weightsSHA256, inputsSHA256: inputsSHA256,
            label: job.spec.output)
    }
}

/// Ends a finished job (batch's, or a video's frame): its record first, then the partial image
/// renamed onto the output, then the checkpoint removed. So an output in place always has its
/// record: a record that cannot be written (a full disk) leaves no new output, and a stop between
/// the two leaves a record without its output, which does not count as finished.
func finish(_ files: BatchJobFiles, record: BatchRecord) throws {
    try record.write(to: files.record)
    guard rename(files.partialImage, files.output) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(files.record)
        throw StyleError("could not move the image to \(files.output): \(reason)")
    }
    unlink(files.checkpoint)
}

/// The state of the checkpoint at `path` when it can resume a run of `options` (batch's jobs,
/// video's frames); one that cannot (other options or inputs, damaged) is removed with a
/// warning that starts with `label`, and the run starts over.
func resumableCheckpoint(
    _ path: String, options: StyleJobOptions, weightsSHA256: String, inputsSHA256: [String], label: String
)
    -> RunState?
{
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do {
        let checkpoint = try Checkpoint.read(path)
        try checkpoint.checkCompatible(options: options, weightsSHA256: weightsSHA256, inputsSHA256: inputsSHA256)
        guard try options.scalePlan().sides.indices.contains(checkpoint.state.scale) else {
            throw StyleError("its scale is not in this run's plan")
        }
        return checkpoint.state
    } catch {
        printWarning("\(label): the checkpoint \(path) cannot resume it (\(GPUStyle.describe(error))); starting over")
        unlink(path)
        return nil
    }
}
