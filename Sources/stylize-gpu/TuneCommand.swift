import ArgumentParser
import Foundation
import GPUStyle

/// `stylize-gpu tune`: finds the fastest kernel options for an OpenCL device and caches them.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Measure kernel options on an OpenCL device and cache the fastest for later runs.",
        discussion: """
            Starting from the device's defaults, each tunable define (tile sizes, vector widths, layouts, \
            work-group widths) is set to each of its values in turn, every other define at its best so \
            far; candidates that do not build or whose results differ from the defaults' beyond the \
            float32 bound are skipped. Conv forward and backward-data at conv1_2, conv3_1 and conv4_2 \
            of a --size image, and Gram and Gram backward at the same layers, are timed side by side \
            with the current choice. The winners go to one file per device in the cache folder \
            (~/.cache/stylize-gpu/tuning, or under $XDG_CACHE_HOME), which runs, selftest and bench use \
            from then on; a new driver or kernel file makes it stale. STYLIZE_GPU_NO_TUNING=1 runs with \
            the defaults. Ctrl-C stops without writing anything.
            """
    )

    /// An OpenCL device: `native` is refused with a line saying so.
    @OptionGroup var deviceOptions: DeviceOptions

    @Option(help: "The measured shapes are VGG19 layers of a SIZE×SIZE image.")
    var size = 256

    @Flag(help: "One pass and one timed run per op: faster, noisier.")
    var quick = false

    @Option(
        help:
            "Tune only these defines, comma separated (default: all of them); the others keep the device's current tuning, or their defaults without one."
    )
    var only: String?

    @Flag(help: "Print the stored tuning as JSON on stdout (progress stays on stderr).")
    var json = false

    func validate() throws {
        _ = try settings()
    }

    private func settings() throws -> TuningSettings {
        var settings = quick ? TuningSettings.quick : TuningSettings()
        settings.imageSize = size
        settings.defines = try TunableDefine.select(only.map { try splitList($0, option: "--only") })
        try settings.validate()
        return settings
    }

    func run() throws {
        let settings = try settings()
        let catalog = DeviceCatalog.discover()
        let selector = try DeviceSelector(deviceOptions.device)
        guard case .openCL(let index) = try catalog.choose(selector),
            let chosen = catalog.openCLDevices.first(where: { $0.info.index == index })
        else {
            throw StyleError(
                "--device \(deviceOptions.device) is the native path, which has no kernel options to tune; "
                    + "choose an OpenCL device (see `stylize-gpu devices`)")
        }
        let info = chosen.info
        let interruption = Interruption.shared
        interruption.deferStops { _ in
            printNote("\ninterrupted: stopping after this measurement; nothing will be written")
        }
        defer { interruption.endDeferral() }

        printNote(
            "tuning \(info.name) (\(info.platformName), driver \(info.driverVersion)) on "
                + "\(settings.layers.joined(separator: ", ")) at \(size)×\(size), median of \(settings.repeats)")
        let defaults = ProgramOptions.defaults(for: info)
        printNote("defaults: " + defineList(settings.defines.map(\.name), defaults.defines))
        var tuner = KernelTuner(device: chosen, settings: settings)
        if only != nil {
            // Tuning some defines again must not lose the others' tuned values: the file's own
            // values (not the defaults merged in), whatever STYLIZE_GPU_NO_TUNING says.
            switch TuningCache.stored(info) {
            case let .valid(record, path):
                let searched = Set(settings.defines.map(\.name))
                tuner.keep = record.defines.filter { !searched.contains($0.key) }
                printNote("starting from the tuning in \(path); the defines not tuned now keep its values")
            case let .unusable(path, reason):
                printNote("not starting from the tuning in \(path) (\(reason)); the other defines keep their defaults")
            case .missing:
                break
            }
        }
        tuner.progress = printNote
        tuner.shouldStop = { interruption.isRequested }
        let outcome: TuningOutcome
        do {
            outcome = try tuner.run()
        } catch {
            if interruption.isRequested {
                printNote("interrupted: no tuning was written")
                throw ExitCode(130)
            }
            throw error
        }
        let path = try TuningCache.write(outcome.record, for: info)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(outcome.record), as: UTF8.self))
        } else {
            print(summary(outcome.record))
        }
        printNote("wrote \(path)")
        if interruption.isRequested { throw ExitCode(130) }
    }

    /// Winners, per-op times and the speed-up.
    private func summary(_ record: TuningRecord) -> String {
        var lines = ["winners: " + defineList(record.defines.keys.sorted(), record.defines), ""]
        let rows = record.times.map { time in
            [
                time.layer, time.op, String(format: "%.2f", time.defaultMilliseconds),
                String(format: "%.2f", time.tunedMilliseconds),
                String(format: "%.2f×", time.defaultMilliseconds / max(time.tunedMilliseconds, 1e-9)),
            ]
        }
        lines.append(TextTable.render(header: ["layer", "op", "default ms", "tuned ms", "speed-up"], rows: rows))
        lines.append("")
        lines.append(
            String(
                format: "measured ops: %.1f ms with the defaults, %.1f ms tuned: %.2f× faster",
                record.defaultMilliseconds, record.tunedMilliseconds, record.speedup))
        return lines.joined(separator: "\n")
    }

    private func defineList(_ names: [String], _ values: [String: Int]) -> String {
        names.map { "\($0)=\(values[$0].map(String.init) ?? "?")" }.joined(separator: " ")
    }
}
