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
            return try OpenCLBackend(device: device)
        }
    }
}
