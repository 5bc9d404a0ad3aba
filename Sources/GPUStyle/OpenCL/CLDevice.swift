import CLOpenCL

/// What `stylize-gpu devices` shows of one OpenCL device, read once at enumeration.
public struct CLDeviceInfo: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case gpu = "GPU", cpu = "CPU", accelerator = "accelerator", other = "other"
    }

    /// Position in the flat list of all devices of all platforms: the id `--device` takes.
    public let index: Int
    public let name: String
    public let platformName: String
    public let vendor: String
    public let kind: Kind
    public let computeUnits: Int
    public let clockMHz: Int
    public let globalMemoryBytes: UInt64
    public let maxAllocationBytes: UInt64
    public let localMemoryBytes: UInt64
    public let maxWorkGroupSize: Int
    public let openCLCVersion: String
    public let driverVersion: String
    public let preferredFloatVectorWidth: Int
    public let supportsFP16: Bool
    public let supportsFP64: Bool

    /// The same device with another kind: the options a CPU or a GPU with its limits would get.
    func treated(as kind: Kind) -> CLDeviceInfo {
        CLDeviceInfo(
            index: index, name: name, platformName: platformName, vendor: vendor, kind: kind,
            computeUnits: computeUnits, clockMHz: clockMHz, globalMemoryBytes: globalMemoryBytes,
            maxAllocationBytes: maxAllocationBytes, localMemoryBytes: localMemoryBytes,
            maxWorkGroupSize: maxWorkGroupSize, openCLCVersion: openCLCVersion, driverVersion: driverVersion,
            preferredFloatVectorWidth: preferredFloatVectorWidth, supportsFP16: supportsFP16,
            supportsFP64: supportsFP64)
    }
}

/// A device and the platform it belongs to.
public struct CLDevice {
    public let id: cl_device_id
    public let platform: cl_platform_id
    public let info: CLDeviceInfo
}

/// Enumerates every OpenCL device of every platform.
public enum CLDevices {
    /// All devices, or an error when no platform is installed (with what to install).
    public static func all() throws -> [CLDevice] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        if status == -1001 || platformCount == 0 {
            // ocl-icd returns CL_PLATFORM_NOT_FOUND_KHR when no ICD (driver) is registered.
            throw CLError(call: "clGetPlatformIDs", code: -1001)
        }
        try CLError.check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try CLError.check(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")

        var devices: [CLDevice] = []
        for case let platform? in platforms {
            var deviceCount: cl_uint = 0
            let countStatus = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if countStatus == CL_DEVICE_NOT_FOUND || deviceCount == 0 { continue }
            try CLError.check(countStatus, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try CLError.check(
                clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &ids, nil),
                "clGetDeviceIDs")
            let platformName = try platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            for case let id? in ids {
                let info = try readInfo(id, index: devices.count, platformName: platformName)
                devices.append(CLDevice(id: id, platform: platform, info: info))
            }
        }
        return devices
    }

    private static func readInfo(_ id: cl_device_id, index: Int, platformName: String) throws -> CLDeviceInfo {
        let type: cl_device_type = try deviceValue(id, CL_DEVICE_TYPE)
        let kind: CLDeviceInfo.Kind
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 {
            kind = .gpu
        } else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 {
            kind = .cpu
        } else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 {
            kind = .accelerator
        } else {
            kind = .other
        }
        let extensions = try deviceString(id, CL_DEVICE_EXTENSIONS)
        let computeUnits: cl_uint = try deviceValue(id, CL_DEVICE_MAX_COMPUTE_UNITS)
        let clock: cl_uint = try deviceValue(id, CL_DEVICE_MAX_CLOCK_FREQUENCY)
        let globalMemory: cl_ulong = try deviceValue(id, CL_DEVICE_GLOBAL_MEM_SIZE)
        let maxAllocation: cl_ulong = try deviceValue(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE)
        let localMemory: cl_ulong = try deviceValue(id, CL_DEVICE_LOCAL_MEM_SIZE)
        let workGroup: Int = try deviceValue(id, CL_DEVICE_MAX_WORK_GROUP_SIZE)
        let vectorWidth: cl_uint = try deviceValue(id, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT)
        return CLDeviceInfo(
            index: index,
            name: try deviceString(id, CL_DEVICE_NAME).trimmingSpaces,
            platformName: platformName,
            vendor: try deviceString(id, CL_DEVICE_VENDOR),
            kind: kind,
            computeUnits: Int(computeUnits),
            clockMHz: Int(clock),
            globalMemoryBytes: UInt64(globalMemory),
            maxAllocationBytes: UInt64(maxAllocation),
            localMemoryBytes: UInt64(localMemory),
            maxWorkGroupSize: workGroup,
            openCLCVersion: try deviceString(id, CL_DEVICE_OPENCL_C_VERSION),
            driverVersion: try deviceString(id, CL_DRIVER_VERSION),
            preferredFloatVectorWidth: Int(vectorWidth),
            supportsFP16: extensions.contains("cl_khr_fp16"),
            supportsFP64: extensions.contains("cl_khr_fp64")
        )
    }

    static func deviceValue<T>(_ id: cl_device_id, _ param: Int32) throws -> T {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { pointer.deallocate() }
        try CLError.check(
            clGetDeviceInfo(id, cl_device_info(param), MemoryLayout<T>.size, pointer, nil),
            "clGetDeviceInfo(\(param))")
        return pointer.pointee
    }

    static func deviceString(_ id: cl_device_id, _ param: Int32) throws -> String {
        var size = 0
        try CLError.check(clGetDeviceInfo(id, cl_device_info(param), 0, nil, &size), "clGetDeviceInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try CLError.check(clGetDeviceInfo(id, cl_device_info(param), size, &bytes, nil), "clGetDeviceInfo")
        return String(cString: bytes)
    }

    static func platformString(_ id: cl_platform_id, _ param: cl_platform_info) throws -> String {
        var size = 0
        try CLError.check(clGetPlatformInfo(id, param, 0, nil, &size), "clGetPlatformInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try CLError.check(clGetPlatformInfo(id, param, size, &bytes, nil), "clGetPlatformInfo")
        return String(cString: bytes)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
