import ArgumentParser
import Foundation
import GPUStyle

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: full iterations on every device (the default), or the heavy ops one by one.",
        subcommands: [BenchIterationCommand.self, OpsBenchCommand.self],
        defaultSubcommand: BenchIterationCommand.self
    )
}

/// `stylize-gpu bench ops`: the heavy ops at every VGG19 conv shape, on every backend.
struct OpsBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Time conv forward, conv backward-data, Gram and Gram backward at each VGG19 conv shape.",
        discussion: """
            Every backend on the machine is measured (each OpenCL device and native, taking turns op by \
            op) unless --device picks one. Times are medians of --repeats runs after a warm-up, each \
            bracketed by a wait for the device; GFLOP/s counts 2·C_in·9·C_out·H·W per conv and \
            2·C²·H·W per Gram op.
            """
    )

    @Option(help: "Longest image side in pixels; the image is 4:3 landscape (512 → 512×384).")
    var imageSize = 512

    @Option(help: "Measure only this device: an id from `stylize-gpu devices`, gpu, cpu, native or part of a name.")
    var device: String?

    @Option(help: "Timed runs per op and shape (the median is reported).")
    var repeats = 3

    @Option(help: "Only these layers, comma separated (e.g. conv3_1,conv4_1).")
    var layers: String?

    @OptionGroup var kernelDefines: KernelDefineOptions

    func validate() throws {
        guard imageSize >= 4 else { throw StyleError("--image-size must be at least 4") }
        guard repeats >= 1 else { throw StyleError("--repeats must be at least 1") }
    }

    func run() throws {
        var shapes = OpsBenchmark.vggShapes(width: imageSize, height: imageSize * 3 / 4)
        if let layers = layers {
            let wanted = Set(layers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let unknown = wanted.subtracting(shapes.map(\.layer))
            guard unknown.isEmpty else {
                throw StyleError(
                    "--layers: unknown conv layer(s) \(unknown.sorted().joined(separator: ", ")); "
                        + "valid: \(shapes.map(\.layer).joined(separator: ","))")
            }
            shapes = shapes.filter { wanted.contains($0.layer) }
        }
        let overrides = try kernelDefines.overrides()
        let results = try OpsBenchmark.run(
            backends: try backends(overrides: overrides), shapes: shapes,
            repeats: repeats
        ) { m in
            printNote(
                String(
                    format: "  %@ %@ on %@: %.2f ms, %.1f GFLOP/s", m.shape.layer, m.op.rawValue, m.backend,
                    m.medianSeconds * 1e3, m.gflops))
        }
        print(OpsTable(results).render())
    }

    /// The backends to measure: the one --device picks, else every OpenCL device and native.
    private func backends(overrides: [String: Int]) throws -> [Backend] {
        let catalog = DeviceCatalog.discover()
        func openCL(_ device: CLDevice) throws -> Backend {
            var options = BackendFactory.programOptions(for: device)
            options.defines.merge(overrides) { _, new in new }
            return try OpenCLBackend(device: device, options: options)
        }
        if let text = device {
            let selector = try DeviceSelector(text)
            switch try catalog.choose(selector) {
            case .native: return [NativeBackend(convolution: selector.nativeConvolution)]
            case .openCL(let index): return [try openCL(catalog.openCLDevices[index])]
            }
        }
        return try catalog.openCLDevices.map(openCL) + [NativeBackend()]
    }
}

/// The results as one table: a row per layer and op, a time and GFLOP/s column per backend, and
/// the ratio of the native time to each OpenCL device's time (above 1: OpenCL is faster).
struct OpsTable {
    let results: [OpsBenchmark.Measurement]

    init(_ results: [OpsBenchmark.Measurement]) {
        self.results = results
    }

    func render() -> String {
        var backendNames: [String] = []
        for m in results where !backendNames.contains(m.backend) { backendNames.append(m.backend) }
        let openCLNames = backendNames.filter { $0 != "native" }
        let hasNative = backendNames.contains("native")
        var header = ["layer", "shape", "op"]
        for name in backendNames { header += ["\(name) ms", "GFLOP/s"] }
        if hasNative { header += openCLNames.map { "native/\($0)" } }
        var rows: [[String]] = []
        var seen: [(String, OpsBenchmark.Op)] = []
        for m in results where !seen.contains(where: { $0 == (m.shape.layer, m.op) }) {
            seen.append((m.shape.layer, m.op))
        }
        for (layer, op) in seen {
            let cells = results.filter { $0.shape.layer == layer && $0.op == op }
            guard let shape = cells.first?.shape else { continue }
            var row = [
                layer, "\(shape.inputChannels)→\(shape.outputChannels) \(shape.width)×\(shape.height)", op.rawValue,
            ]
            func cell(_ name: String) -> OpsBenchmark.Measurement? { cells.first { $0.backend == name } }
            for name in backendNames {
                if let m = cell(name) {
                    row += [String(format: "%.2f", m.medianSeconds * 1e3), String(format: "%.1f", m.gflops)]
                } else {
                    row += ["-", "-"]
                }
            }
            if hasNative {
                for name in openCLNames {
                    if let native = cell("native"), let device = cell(name) {
                        row.append(String(format: "%.2f", native.medianSeconds / device.medianSeconds))
                    } else {
                        row.append("-")
                    }
                }
            }
            rows.append(row)
        }
        return TextTable.render(header: header, rows: rows)
    }
}
