import Foundation

/// Creates the backend a `--device` choice names.
public enum BackendFactory {
    /// An OpenCL device is built with its tuning from `stylize-gpu tune` when there is a usable
    /// one (see `TuningCache.lookup`), else with the defaults; `note` receives the one line that
    /// says which (printed once per process and file on stderr by default).
    /// `preset` replaces the tuning or the defaults with a named set, and `overrides` replace single
    /// kernel options over either, on OpenCL devices.
    public static func make(
        _ selector: DeviceSelector, catalog: DeviceCatalog = .discover(),
        preset: ProgramOptions.Preset? = nil, overrides: [String: Int] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        note: (String) -> Void = printOnceOnStandardError
    ) throws -> Backend {
        switch try catalog.choose(selector) {
        case .native:
            return NativeBackend(convolution: selector.nativeConvolution)
        case .openCL(let index):
            guard let device = catalog.openCLDevices.first(where: { $0.info.index == index }) else {
                throw StyleError("--device \(selector): no OpenCL device with id \(index); run `stylize-gpu devices`")
            }
            var options =
                preset.map { ProgramOptions.preset($0, for: device.info) }
                ?? programOptions(for: device, environment: environment, note: note)
            options.defines.merge(overrides) { _, given in given }
            return try OpenCLBackend(device: device, options: options)
        }
    }

    /// The kernel options a run or benchmark uses on `device`: its tuning, or the defaults.
    public static func programOptions(
        for device: CLDevice,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        note: (String) -> Void = printOnceOnStandardError
    ) -> ProgramOptions {
        let lookup = TuningCache.lookup(device.info, environment: environment)
        if let line = lookup.note { note(line) }
        return lookup.options(for: device.info)
    }

    private static let printedLock = NSLock()
    private static var printed: Set<String> = []

    /// Prints `line` on stderr unless this process printed it before (a benchmark makes a
    /// device's backend several times).
    public static func printOnceOnStandardError(_ line: String) {
        printedLock.lock()
        let first = printed.insert(line).inserted
        printedLock.unlock()
        if first { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}
