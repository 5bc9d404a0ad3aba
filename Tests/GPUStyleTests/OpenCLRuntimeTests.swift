@testable import GPUStyle
import Kernels
import XCTest

/// The first OpenCL device (PoCL's CPU device in CI), or a skip when the machine has none.
func firstOpenCLDevice() throws -> CLDevice {
    let catalog = DeviceCatalog.discover()
    guard let device = catalog.openCLDevices.first else {
        throw XCTSkip("no OpenCL device: \(catalog.openCLError.map(describe) ?? "none listed")")
    }
    return device
}

final class OpenCLRuntimeTests: XCTestCase {
    func testKernelsFileBuildsAndRunsOnTheDevice() throws {
        let device = try firstOpenCLDevice()
        let context = try CLContext(device: device)
        try context.buildProgram(
            source: KernelLibrary.source, options: ProgramOptions.defaults(for: device.info).buildString)
        let buffer = try context.makeBuffer(floats: 1000)
        XCTAssertEqual(try context.read(buffer), [Float](repeating: 0, count: 1000), "new buffers are zero-filled")
        try context.enqueue(
            try context.kernel("fill"), global: [1000], local: [64],
            [.buffer(buffer), .float(2.5), .int(999)])
        let values = try context.read(buffer)
        XCTAssertEqual(Array(values[0..<999]), [Float](repeating: 2.5, count: 999))
        XCTAssertEqual(values[999], 0, "the kernel must respect n")
    }

    func testBuildFailureCarriesTheBuildLog() throws {
        let context = try CLContext(device: try firstOpenCLDevice())
        XCTAssertThrowsError(
            try context.buildProgram(
                source: "__kernel void broken(__global float *x) { x[0] = y; }",
                options: "")
        ) { error in
            let error = error as? CLError
            XCTAssertEqual(error?.codeName, "CL_BUILD_PROGRAM_FAILURE")
            XCTAssertTrue(error?.description.contains("y") ?? false, "the build log names the undeclared identifier")
        }
    }

    func testWrongArgumentCountIsRefused() throws {
        let device = try firstOpenCLDevice()
        let context = try CLContext(device: device)
        try context.buildProgram(
            source: KernelLibrary.source, options: ProgramOptions.defaults(for: device.info).buildString)
        let buffer = try context.makeBuffer(floats: 4)
        XCTAssertThrowsError(try context.enqueue(try context.kernel("fill"), global: [4], [.buffer(buffer)]))
        XCTAssertThrowsError(
            try context.enqueue(
                try context.kernel("fill"), global: [4],
                [.buffer(buffer), .float(1), .int(1 << 40)]))
        XCTAssertThrowsError(try context.kernel("no_such_kernel")) { error in
            XCTAssertEqual((error as? CLError)?.codeName, "CL_INVALID_KERNEL_NAME")
        }
    }

    func testBufferMemoryIsAccounted() throws {
        let context = try CLContext(device: try firstOpenCLDevice())
        do {
            let a = try context.makeBuffer(floats: 256)
            XCTAssertEqual(context.allocatedBytes, 1024)
            _ = a
        }
        XCTAssertEqual(context.allocatedBytes, 0, "buffers release their memory")
        XCTAssertEqual(context.peakAllocatedBytes, 1024)
    }

    func testErrorCodesHaveSymbolicNames() {
        XCTAssertEqual(CLError.name(of: -5), "CL_OUT_OF_RESOURCES")
        XCTAssertEqual(CLError.name(of: -54), "CL_INVALID_WORK_GROUP_SIZE")
        XCTAssertTrue(CLError(call: "clFoo", code: -4).description.contains("--image-size"))
    }
}

final class DeviceSelectorTests: XCTestCase {
    private func info(_ index: Int, _ name: String, _ kind: CLDeviceInfo.Kind) -> CLDeviceInfo {
        CLDeviceInfo(
            index: index, name: name, platformName: "p", vendor: "v", kind: kind, computeUnits: 1, clockMHz: 1,
            globalMemoryBytes: 1, maxAllocationBytes: 1, localMemoryBytes: 1, maxWorkGroupSize: 1,
            openCLCVersion: "OpenCL C 1.2", driverVersion: "1", preferredFloatVectorWidth: 4,
            supportsFP16: false, supportsFP64: true)
    }

    func testParsing() throws {
        XCTAssertEqual(try DeviceSelector("auto"), .auto)
        XCTAssertEqual(try DeviceSelector("AUTO"), .auto)
        XCTAssertEqual(try DeviceSelector("native"), .native)
        XCTAssertEqual(try DeviceSelector("native-direct"), .nativeWith(.direct))
        XCTAssertEqual(try DeviceSelector("native-winograd").nativeConvolution, .winograd)
        XCTAssertEqual(try DeviceSelector("native-winograd4").nativeConvolution, .winograd4)
        XCTAssertEqual(try DeviceSelector("native-winograd6").nativeConvolution, .winograd6)
        XCTAssertEqual(DeviceSelector.nativeWith(.winograd4).description, "native-winograd4")
        XCTAssertEqual(try DeviceSelector("native").nativeConvolution, .automatic)
        XCTAssertEqual(try DeviceSelector("native-direct").resolve(devices: []), .native)
        XCTAssertEqual(try DeviceSelector("gpu"), .gpu)
        XCTAssertEqual(try DeviceSelector("Cpu"), .cpu)
        XCTAssertEqual(try DeviceSelector("2"), .index(2))
        XCTAssertEqual(try DeviceSelector("H200"), .nameContaining("H200"))
        XCTAssertThrowsError(try DeviceSelector(""))
        XCTAssertThrowsError(try DeviceSelector("-1"))
    }

    func testResolution() throws {
        let cpuOnly = [info(0, "pthread-skylake", .cpu)]
        let mixed = [info(0, "pthread-skylake", .cpu), info(1, "NVIDIA H200", .gpu)]
        XCTAssertEqual(try DeviceSelector.auto.resolve(devices: mixed), .openCL(index: 1), "auto prefers a GPU")
        XCTAssertEqual(try DeviceSelector.auto.resolve(devices: cpuOnly), .openCL(index: 0))
        XCTAssertEqual(try DeviceSelector.auto.resolve(devices: []), .native, "auto falls back to native")
        XCTAssertEqual(try DeviceSelector.native.resolve(devices: mixed), .native)
        XCTAssertEqual(try DeviceSelector.cpu.resolve(devices: mixed), .openCL(index: 0))
        XCTAssertEqual(try DeviceSelector.index(1).resolve(devices: mixed), .openCL(index: 1))
        XCTAssertEqual(try DeviceSelector.nameContaining("h200").resolve(devices: mixed), .openCL(index: 1))
        XCTAssertThrowsError(try DeviceSelector.gpu.resolve(devices: cpuOnly))
        XCTAssertThrowsError(try DeviceSelector.index(5).resolve(devices: mixed))
        XCTAssertThrowsError(try DeviceSelector.nameContaining("radeon").resolve(devices: mixed))
        let noPlatform = CLError(call: "clGetPlatformIDs", code: -1001)
        XCTAssertThrowsError(try DeviceSelector.gpu.resolve(devices: [], openCLError: noPlatform)) { error in
            XCTAssertTrue(describe(error).contains("pocl-opencl-icd"), "says which package to install")
        }
    }
}
