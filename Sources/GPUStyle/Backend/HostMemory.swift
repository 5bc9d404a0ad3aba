import Foundation

/// What this process may still allocate on the host: the machine's memory, capped by the
/// process's address-space limit (`ulimit -v`, less what is already mapped) and by its
/// control group's memory limit (less what the group already uses). A plan that counted the
/// machine's memory alone would pass and then die allocating.
public enum HostMemory {
    /// Bytes this process can still allocate, at most the machine's physical memory.
    public static func available() -> UInt64 {
        var result = ProcessInfo.processInfo.physicalMemory
        if let headroom = addressSpaceHeadroom() {
            result = min(result, headroom &- min(headroom, addressSpaceReserve))
        }
        if let headroom = controlGroupHeadroom() { result = min(result, headroom &- min(headroom, residentReserve)) }
        return result
    }

    /// Address space a run maps beyond its memory plan: glibc reserves 64 MiB for each malloc
    /// arena (up to 8 per core, one per thread that allocates) and each thread has an 8 MiB stack
    /// (the OpenCL driver's and Dispatch's workers, about two per core, and a few more).
    static var addressSpaceReserve: UInt64 {
        let cores = UInt64(ProcessInfo.processInfo.activeProcessorCount)
        return (8 * cores * 64 + (2 * cores + 8) * 8) << 20
    }

    /// Resident memory beyond the plan: the program and its libraries, host copies of the images,
    /// the native path's scratch (see benchmarks/README.md, "Memory").
    static let residentReserve: UInt64 = 256 << 20

    /// RLIMIT_AS less the mapped address space (/proc/self/statm's first field), or nil when unlimited.
    static func addressSpaceHeadroom() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {
            return nil
        }
        let pages = readNumbers("/proc/self/statm").first ?? 0
        let mapped = pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        return limit.rlim_cur > mapped ? UInt64(limit.rlim_cur) - mapped : 0
    }

    /// The memory limit of this process's control group less its usage (cgroup v2's memory.max
    /// and memory.current, or v1's memory.limit_in_bytes and memory.usage_in_bytes), or nil
    /// when there is none.
    static func controlGroupHeadroom() -> UInt64? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        var candidates: [(limit: String, usage: String)] = []
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[0] == "0", fields[1].isEmpty {
                for root in ["/sys/fs/cgroup" + fields[2], "/sys/fs/cgroup"] {
                    candidates.append((root + "/memory.max", root + "/memory.current"))
                }
            } else if fields[1].split(separator: ",").contains("memory") {
                for root in ["/sys/fs/cgroup/memory" + fields[2], "/sys/fs/cgroup/memory"] {
                    candidates.append((root + "/memory.limit_in_bytes", root + "/memory.usage_in_bytes"))
                }
            }
        }
        for (limitPath, usagePath) in candidates {
            // "max" (v2) reads as no number: no limit at that level.
            guard let limit = readNumbers(limitPath).first else { continue }
            let usage = readNumbers(usagePath).first ?? 0
            return limit > usage ? limit - usage : 0
        }
        return nil
    }

    private static func readNumbers(_ path: String) -> [UInt64] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt64($0) }
    }
}

/// "512 KiB", "3 MiB", "2.5 GiB": a byte count for a message.
public func describeBytes(_ bytes: Int) -> String {
    if bytes < 1 << 20 { return "\(max(1, (bytes + 1023) >> 10)) KiB" }
    if bytes < 10 << 30 { return "\(bytes >> 20) MiB" }
    return String(format: "%.1f GiB", Double(bytes) / Double(1 << 30))
}
