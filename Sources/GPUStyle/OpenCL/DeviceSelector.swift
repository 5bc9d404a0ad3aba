/// What `--device` asks for: `auto` (first GPU, else first OpenCL CPU device, else native),
/// an id from `stylize-gpu devices`, `gpu`, `cpu`, `native` (or `native-direct` /
/// `native-winograd` / `native-winograd4` / `native-winograd6`, forcing its convolution algorithm, for comparisons), or a case-insensitive
/// substring of a device name.
public enum DeviceSelector: Equatable, Sendable, CustomStringConvertible {
    case auto
    case native
    /// The native path with one convolution algorithm on every layer.
    case nativeWith(ConvolutionAlgorithm)
    case gpu
    case cpu
    case index(Int)
    case nameContaining(String)

    public init(_ text: String) throws {
        let trimmed = text.trimmingSpaces
        switch trimmed.lowercased() {
        case "": throw StyleError("--device is empty; use auto, native, gpu, cpu, an id or part of a device name")
        case "auto": self = .auto
        case "native", "host": self = .native
        case "native-direct": self = .nativeWith(.direct)
        case "native-winograd": self = .nativeWith(.winograd)
        case "native-winograd4": self = .nativeWith(.winograd4)
        case "native-winograd6": self = .nativeWith(.winograd6)
        case "gpu": self = .gpu
        case "cpu": self = .cpu
        default:
            if let index = Int(trimmed) {
                guard index >= 0 else {
                    throw StyleError("--device \(trimmed): ids start at 0; run `stylize-gpu devices`")
                }
                self = .index(index)
            } else {
                self = .nameContaining(trimmed)
            }
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .native: return "native"
        case .nativeWith(let algorithm): return "native-\(algorithm.rawValue)"
        case .gpu: return "gpu"
        case .cpu: return "cpu"
        case .index(let i): return "\(i)"
        case .nameContaining(let s): return s
        }
    }

    /// The native path's convolution algorithm this selector asks for.
    public var nativeConvolution: ConvolutionAlgorithm {
        if case .nativeWith(let algorithm) = self { return algorithm }
        return .automatic
    }

    /// Where the selection lands: the native path, or the OpenCL device at an index of `devices`.
    public enum Choice: Equatable, Sendable {
        case native
        case openCL(index: Int)
    }

    /// Resolves against the enumerated OpenCL devices. `openCLError` is why enumeration failed
    /// (no platform installed, say); `auto` then falls back to native, explicit OpenCL choices fail with it.
    public func resolve(devices: [CLDeviceInfo], openCLError: Error? = nil) throws -> Choice {
        func unavailable(_ what: String) -> StyleError {
            if let error = openCLError {
                return StyleError("--device \(self): \(describe(error))")
            }
            let names = devices.map { "\($0.index): \($0.name)" }.joined(separator: ", ")
            return StyleError(
                "--device \(self): no \(what) among the OpenCL devices (\(names.isEmpty ? "none" : names)) "
                    + "; run `stylize-gpu devices`, or use --device native")
        }
        switch self {
        case .native, .nativeWith:
            return .native
        case .auto:
            if let gpu = devices.first(where: { $0.kind == .gpu }) { return .openCL(index: gpu.index) }
            if let cpu = devices.first(where: { $0.kind == .cpu }) { return .openCL(index: cpu.index) }
            if let any = devices.first { return .openCL(index: any.index) }
            return .native
        case .gpu:
            guard let gpu = devices.first(where: { $0.kind == .gpu }) else { throw unavailable("GPU") }
            return .openCL(index: gpu.index)
        case .cpu:
            guard let cpu = devices.first(where: { $0.kind == .cpu }) else { throw unavailable("CPU device") }
            return .openCL(index: cpu.index)
        case .index(let index):
            guard devices.contains(where: { $0.index == index }) else { throw unavailable("device with id \(index)") }
            return .openCL(index: index)
        case .nameContaining(let text):
            let matches = devices.filter { $0.name.lowercased().contains(text.lowercased()) }
            guard let first = matches.first else { throw unavailable("device whose name contains '\(text)'") }
            return .openCL(index: first.index)
        }
    }
}
