import ArgumentParser
import Foundation
import GPUStyle

/// `stylize-gpu bench` (default) / `stylize-gpu bench iteration`: full iterations on every device, interleaved.
struct BenchIterationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iteration",
        abstract: "Time full style-transfer iterations on every device against the native path.",
        discussion: """
            Each iteration is forward, losses, backward and an Adam step on the device, timed from its \
            first enqueue to a device sync at its end. Devices run interleaved: every timed round runs one \
            iteration on each device, starting from a different one each round. Reports per device and size \
            the median and min–max ms per iteration, GFLOP/s from counted FLOPs (conv forward and \
            backward-data, Gram and Gram backward), the backend's peak buffer memory and its ratio to \
            the memory floor (the activations the backward pass reads + one raw copy of the conv \
            weights + Adam's m and v), the memory plan part by part, the process's peak RSS and the \
            speed-up over native. benchmarks/README.md explains every figure.
            """
    )

    @Option(
        help:
            "Comma-separated --device selectors (ids, gpu, cpu, native, name parts). Default: every OpenCL device and native."
    )
    var devices: String?

    @Option(help: "Comma-separated longest image sides.")
    var sizes = "256,512"

    @Option(help: "Timed iterations per device and size.")
    var iterations = 20

    @Option(help: "Untimed iterations per device and size before the timed ones.")
    var warmup = 3

    @Flag(
        help:
            "Also break each iteration into forward, losses, backward and optimiser (OpenCL profiling events, with each kernel's time and launches; host clock for native), from extra iterations."
    )
    var profile = false

    @Option(help: "Iterations measured for --profile.")
    var profileIterations = 3

    @Flag(help: "Print the report as JSON on stdout (notes stay on stderr).")
    var json = false

    @Option(help: "Content image of the workload.")
    var content = "examples/tubingen.jpg"

    @Option(help: "Style image of the workload.")
    var style = "examples/starry_night.jpg"

    @Option(help: "float or half: layer outputs as float32, or as 16-bit floats (stylize --storage).")
    var storage: ActivationStorage = .float

    @OptionGroup var weightsOptions: WeightsOptions

    @OptionGroup var kernelDefines: KernelDefineOptions

    func validate() throws {
        _ = try settings()
        if profileIterations < 1 { throw StyleError("--profile-iterations must be at least 1") }
    }

    private func settings() throws -> IterationBenchmarkSettings {
        var settings = IterationBenchmarkSettings(contentPath: content, stylePath: style)
        settings.sizes = try splitList(sizes, option: "--sizes").map { item in
            guard let size = Int(item) else { throw StyleError("--sizes: '\(item)' is not a whole number") }
            return size
        }
        settings.iterations = iterations
        settings.warmup = warmup
        settings.profileIterations = profile ? profileIterations : 0
        settings.preprocessing = weightsOptions.preprocessing.override
        settings.storage = storage == .float ? nil : storage
        try settings.validate()
        return settings
    }

    func run() throws {
        let settings = try settings()
        for path in [content, style] where !FileManager.default.fileExists(atPath: path) {
            throw StyleError("benchmark image \(path) not found; run from the project root or pass --content/--style")
        }
        let weightsPath = try WeightsCache.resolve(path: weightsOptions.weights)
        let catalog = DeviceCatalog.discover()
        let selectors = try devices.map { try splitList($0, option: "--devices").map(DeviceSelector.init) }
        var chosen = BenchmarkDevice.list(selectors, catalog: catalog, overrides: try kernelDefines.overrides())
        if selectors == nil {
            // The default list skips devices this build cannot drive, with a note; named ones must work.
            chosen = chosen.filter { device in
                do {
                    _ = try device.makeBackend()
                    return true
                } catch {
                    printNote("note: skipping device \(device.selector): \(describe(error))")
                    return false
                }
            }
        }
        let report = try IterationBenchmark.run(settings: settings, devices: chosen, weightsPath: weightsPath) {
            printNote("note: \($0)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(IterationReportTable.text(report))
        }
    }
}

/// The human-readable form of a benchmark report.
enum IterationReportTable {
    static func text(_ report: IterationBenchmarkReport) -> String {
        let load = report.loadAverage.map { String(format: "%.2f", $0) }.joined(separator: " ")
        var lines = [
            "\(report.settings.iterations) timed iterations after \(report.settings.warmup) warm-up, interleaved; "
                + "\((report.settings.contentPath as NSString).lastPathComponent) + "
                + "\((report.settings.stylePath as NSString).lastPathComponent), Adam"
                + (report.settings.storage == .half ? ", --storage half" : ""),
            "host: \(report.cpu), \(report.cores) cores, load \(load.isEmpty ? "unknown" : load); \(report.date)",
            "",
        ]
        var rows = [
            [
                "size", "image", "device", "median ms", "min–max ms", "GFLOP/it", "GFLOP/s", "peak dev MiB",
                "floor MiB", "peak/floor", "peak RSS MiB", "vs native",
            ]
        ]
        for result in report.results {
            rows.append([
                "\(result.size)", "\(result.width)×\(result.height)",
                result.device
                    + ((result.kernelOptions ?? "defaults") == "defaults" ? "" : " (\(result.kernelOptions!))"),
                String(format: "%.1f", result.medianMilliseconds),
                String(format: "%.1f–%.1f", result.minMilliseconds, result.maxMilliseconds),
                String(format: "%.1f", result.flopsPerIteration / 1e9),
                String(format: "%.1f", result.gflopsPerSecond),
                mebibytes(UInt64(result.peakDeviceBytes)), mebibytes(UInt64(result.memoryFloorBytes)),
                String(format: "%.2f", result.peakOverFloor), mebibytes(result.peakHostResidentBytes),
                result.speedupOverNative.map { String(format: "%.2f×", $0) } ?? "–",
            ])
        }
        lines += aligned(rows, leftColumns: 3)
        lines += [
            "",
            "floor: activations the backward pass reads + conv weights as one raw copy (O·I·9+O floats "
                + "per layer) + Adam's m and v (issue 7: peak ≤ 1.3× floor at 512×512). The memory plan beyond the floor, MiB:",
        ]
        for result in report.results {
            let plan = result.memoryPlan
            func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }
            let floor =
                "floor \(mib(plan.floorBytes)) (activations \(mib(plan.backwardActivationBytes)), "
                + "weights \(mib(plan.rawWeightBytes)), optimiser \(mib(plan.optimizerStateBytes)))"
            let beyond = plan.beyondFloor.filter { $0.bytes > 0 }.map { "\($0.name) \(mib($0.bytes))" }
            lines.append("  \(result.size) \(result.device): \(floor); + " + beyond.joined(separator: ", "))
        }
        let profiled = report.results.filter { $0.phases != nil }
        if !profiled.isEmpty {
            lines += ["", "per-phase ms per iteration (--profile):"]
            for result in profiled {
                guard let phases = result.phases else { continue }
                let parts = IterationPhase.allCases.map {
                    "\($0.rawValue) \(String(format: "%.1f", phases.milliseconds[$0.rawValue] ?? 0))"
                }
                lines.append("  \(result.size) \(result.device): \(parts.joined(separator: ", ")) (\(phases.clock))")
                if let kernels = phases.kernels, !kernels.isEmpty {
                    let byTime = kernels.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                    let launches = phases.launches ?? [:]
                    func count(_ value: Double) -> String { String(format: "%g", (value * 10).rounded() / 10) }
                    lines.append(
                        "    kernels, ms (launches) per iteration, \(count(launches.values.reduce(0, +))) launches: "
                            + byTime.map { name, ms in
                                "\(name) \(String(format: "%.1f", ms))"
                                    + (launches[name].map { " (\(count($0)))" } ?? "")
                            }
                            .joined(separator: ", "))
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Rows padded to the widest cell of each column; the first `leftColumns` left-aligned, numbers right-aligned.
    private static func aligned(_ rows: [[String]], leftColumns: Int) -> [String] {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column < leftColumns ? cell + padding : padding + cell
            }.joined(separator: "  ")
        }
    }

    private static func mebibytes(_ bytes: UInt64) -> String {
        String(format: "%.0f", Double(bytes) / 1_048_576)
    }
}
