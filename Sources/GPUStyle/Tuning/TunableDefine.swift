/// One kernel option that `stylize-gpu tune` may vary, the values it tries and the ops whose speed
/// it changes (only those are timed when it varies).
public struct TunableDefine: Equatable, Sendable {
    public let name: String
    public let values: [Int]
    public let affects: [OpsBenchmark.Op]
    /// The device kinds it is tuned on (nil: all).
    public let kinds: Set<CLDeviceInfo.Kind>?

    public init(_ name: String, _ values: [Int], affects: [OpsBenchmark.Op], kinds: Set<CLDeviceInfo.Kind>? = nil) {
        self.name = name
        self.values = values
        self.affects = affects
        self.kinds = kinds
    }

    /// Whether the search varies this define on `device`.
    func applies(to device: CLDeviceInfo) -> Bool {
        kinds?.contains(device.kind) ?? true
    }

    /// The values to try from `start` (the current choice): the table's, and `start` itself first.
    func candidates(from start: Int) -> [Int] {
        [start] + values.filter { $0 != start }
    }

    /// Every tunable option of `KernelOption.all`, in the order the search visits them: a new
    /// kernel variant behind a define is one more option there.
    public static let table: [TunableDefine] = KernelOption.all.compactMap { option in
        option.tuning.map { TunableDefine(option.name, $0.values, affects: $0.affects, kinds: $0.kinds) }
    }

    /// The table's entries named in `names` (all when nil); an unknown name is an error listing the valid ones.
    public static func select(_ names: [String]?, from table: [TunableDefine] = table) throws -> [TunableDefine] {
        guard let names else { return table }
        let unknown = names.filter { name in !table.contains { $0.name == name } }
        guard unknown.isEmpty else {
            throw StyleError(
                "unknown tunable \(unknown.joined(separator: ", ")); valid: "
                    + table.map(\.name).joined(separator: ", "))
        }
        return table.filter { names.contains($0.name) }
    }
}
