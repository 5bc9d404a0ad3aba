import ArgumentParser
import Foundation
import GPUStyle

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the OpenCL devices and the native path, with the ids --device takes."
    )

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let catalog = DeviceCatalog.discover()
        let rows = DeviceRow.rows(catalog)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print(TextTable.render(header: DeviceRow.header, rows: rows.map(\.cells)))
        if let error = catalog.openCLError {
            printNote("note: no OpenCL device: \(describe(error))")
        }
    }
}

/// One line of the `devices` table, also its JSON form.
struct DeviceRow: Codable {
    var id: String
    var backend: String
    var device: String
    var platform: String
    var type: String
    var computeUnits: Int
    var clockMHz: Int
    var globalMemoryBytes: UInt64
    var maxAllocationBytes: UInt64
    var localMemoryBytes: UInt64
    var openCLC: String
    var fp16: Bool
    var fp64: Bool
    /// The kernel options a run uses: "tuned" (`stylize-gpu tune`), "defaults", "tuning ignored"
    /// (stale or corrupt: ignored until tuned again), "tuning off" (STYLIZE_GPU_NO_TUNING); for native, its BLAS kernels.
    var kernelOptions: String

    static let header = [
        "id", "backend", "device", "platform", "type", "CUs", "clock", "global mem", "max alloc",
        "local mem", "OpenCL C", "fp16", "fp64", "kernel options",
    ]

    var cells: [String] {
        [
            id, backend, device, platform, type, "\(computeUnits)", clockMHz > 0 ? "\(clockMHz) MHz" : "-",
            formatBytes(globalMemoryBytes), formatBytes(maxAllocationBytes), formatBytes(localMemoryBytes), openCLC,
            fp16 ? "yes" : "no", fp64 ? "yes" : "no", kernelOptions,
        ]
    }

    private static func kernelOptions(_ device: CLDeviceInfo) -> String {
        switch TuningCache.lookup(device) {
        case .none: return "defaults"
        case .disabled: return "tuning off"
        case .tuned: return "tuned"
        case .ignored: return "tuning ignored"
        }
    }

    static func rows(_ catalog: DeviceCatalog) -> [DeviceRow] {
        var rows = catalog.openCLDevices.map { device -> DeviceRow in
            let info = device.info
            return DeviceRow(
                id: "\(info.index)", backend: "opencl", device: info.name, platform: info.platformName,
                type: info.kind.rawValue, computeUnits: info.computeUnits, clockMHz: info.clockMHz,
                globalMemoryBytes: info.globalMemoryBytes, maxAllocationBytes: info.maxAllocationBytes,
                localMemoryBytes: info.localMemoryBytes,
                openCLC: info.openCLCVersion.replacingOccurrences(of: "OpenCL C ", with: "").trimmingCharacters(
                    in: .whitespaces),
                fp16: info.supportsFP16, fp64: info.supportsFP64, kernelOptions: kernelOptions(info))
        }
        let host = HostInfo.current
        rows.append(
            DeviceRow(
                id: "native", backend: "native", device: host.cpuName, platform: "host (Swift + OpenBLAS)",
                type: "CPU", computeUnits: host.cores, clockMHz: 0,
                globalMemoryBytes: host.memoryBytes, maxAllocationBytes: host.memoryBytes,
                localMemoryBytes: 0, openCLC: "-", fp16: false, fp64: true,
                kernelOptions: NativeBackend.blasKernels))
        return rows
    }
}

func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: value >= 100 ? "%.0f %@" : "%.1f %@", value, units[unit])
}

/// A plain left-aligned text table.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
