/// Creates the backend a `--device` choice names.
public enum BackendFactory {
    public static func make(_ selector: DeviceSelector, catalog: DeviceCatalog = .discover()) throws -> Backend {
        switch try catalog.choose(selector) {
        case .native:
            return NativeBackend()
        case .openCL(let index):
            guard let device = catalog.openCLDevices.first(where: { $0.info.index == index }) else {
                throw StyleError("--device \(selector): no OpenCL device with id \(index); run `stylize-gpu devices`")
            }
            throw StyleError("--device \(selector) chose \(device.info.name), but this build has no OpenCL backend yet; use --device native")
        }
    }
}
