/// The `-D` options Kernels.cl is compiled with on one device. Tile sizes and variants are
/// chosen per device here, never by copying a kernel body.
public struct ProgramOptions: Equatable, Sendable {
    public var defines: [String: Int]

    public init(defines: [String: Int]) {
        self.defines = defines
    }

    /// Sane defaults for a device, before any tuning.
    public static func defaults(for device: CLDeviceInfo) -> ProgramOptions {
        ProgramOptions(defines: [
            "DEVICE_IS_CPU": device.kind == .cpu ? 1 : 0,
        ])
    }

    /// The option string for clBuildProgram, in a stable order.
    public var buildString: String {
        (["-cl-mad-enable"] + defines.keys.sorted().map { "-D\($0)=\(defines[$0]!)" }).joined(separator: " ")
    }
}
