import Foundation

/// The host's CPU and memory, for the `devices` table and benchmark reports.
public struct HostInfo: Sendable {
    public let cpuName: String
    public let cores: Int
    public let memoryBytes: UInt64

    public static let current: HostInfo = {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "host CPU"
        return HostInfo(
            cpuName: model, cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory)
    }()

    /// Peak resident set size of this process (VmHWM), in bytes; 0 where unknown.
    public static func peakResidentBytes() -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return 0 }
        let digits = line.filter(\.isNumber)
        return (UInt64(digits) ?? 0) * 1024
    }

    /// The 1, 5 and 15 minute load averages (/proc/loadavg); empty where unknown.
    public static func loadAverage() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        let values = text.split(separator: " ").prefix(3).compactMap { Double($0) }
        return values.count == 3 ? values : []
    }
}
