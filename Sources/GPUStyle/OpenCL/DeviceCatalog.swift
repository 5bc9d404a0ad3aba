/// The devices `--device` can choose from: every OpenCL device plus the native host path.
public struct DeviceCatalog {
    public let openCLDevices: [CLDevice]
    /// Why there are no OpenCL devices, when enumeration failed (no platform installed, say).
    public let openCLError: Error?

    /// Enumerates the OpenCL devices; a missing OpenCL platform is not an error here (native still works).
    public static func discover() -> DeviceCatalog {
        do {
            return DeviceCatalog(openCLDevices: try CLDevices.all(), openCLError: nil)
        } catch {
            return DeviceCatalog(openCLDevices: [], openCLError: error)
        }
    }

    /// The choice `--device` makes.
    public func choose(_ selector: DeviceSelector) throws -> DeviceSelector.Choice {
        try selector.resolve(devices: openCLDevices.map(\.info), openCLError: openCLError)
    }
}
