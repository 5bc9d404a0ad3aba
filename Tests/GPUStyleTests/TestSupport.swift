import Foundation
@testable import GPUStyle
import XCTest

/// The backends a test runs on: the native path, and the first OpenCL device when there is one.
func testBackends() throws -> [Backend] {
    var backends: [Backend] = [NativeBackend()]
    if let device = DeviceCatalog.discover().openCLDevices.first {
        backends.append(try OpenCLBackend(device: device))
    }
    return backends
}

/// The cached original VGG19 weights, or a skip saying how to get them.
func cachedWeightsPath() throws -> String {
    let path = WeightsCache.defaultWeightsPath()
    guard FileManager.default.fileExists(atPath: path) else {
        throw XCTSkip("no VGG19 weights at \(path); run `stylize-gpu weights fetch` to include this test")
    }
    return path
}

/// A committed fixture file's path.
func fixturePath(_ relative: String) throws -> String {
    guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw XCTSkip("the Fixtures resource folder is missing from the test bundle")
    }
    return folder.appendingPathComponent(relative).path
}

/// The sample images of the project (examples/), found from this source file.
func examplePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples").appendingPathComponent(name).path
}

/// A made-up OpenCL device's facts, for tests of what is chosen from them (defaults, validation,
/// tuning keys, device selection).
func fakeDeviceInfo(
    index: Int = 0, name: String = "test device", kind: CLDeviceInfo.Kind = .gpu, maxWorkGroupSize: Int = 1024,
    localMemoryBytes: UInt64 = 48 << 10, driverVersion: String = "1", preferredFloatVectorWidth: Int = 1
) -> CLDeviceInfo {
    CLDeviceInfo(
        index: index, name: name, platformName: "Test Platform", vendor: "Test", kind: kind, computeUnits: 8,
        clockMHz: 1000, globalMemoryBytes: 1 << 32, maxAllocationBytes: 1 << 30, localMemoryBytes: localMemoryBytes,
        maxWorkGroupSize: maxWorkGroupSize, openCLCVersion: "OpenCL C 1.2", driverVersion: driverVersion,
        preferredFloatVectorWidth: preferredFloatVectorWidth, supportsFP16: false, supportsFP64: false)
}

/// Seeded random numbers for tests: the same sequence on every platform and run.
typealias SeededGenerator = SplitMix64

/// Shape mismatches, bad slots and in-place calls every backend must refuse with an error.
/// Returns a 3×4×4 image tensor of `backend` for the backend-specific checks that follow.
@discardableResult
func assertCommonWiringMistakesThrow(
    _ backend: Backend, file: StaticString = #filePath, line: UInt = #line
) throws -> Tensor {
    func refused(_ call: @autoclosure () throws -> Any, _ what: String) {
        XCTAssertThrowsError(try call(), what, file: file, line: line)
    }
    let weights = try backend.makeConvWeights(
        weights: [Float](repeating: 0, count: 4 * 3 * 9), bias: [0, 0, 0, 0],
        outputChannels: 4, inputChannels: 3)
    let image = try backend.makeTensor(Shape(c: 3, h: 4, w: 4))
    let wrong = try backend.makeTensor(Shape(c: 4, h: 4, w: 5))
    refused(try backend.conv3x3(input: image, weights: weights, relu: true, output: wrong), "conv output shape")
    refused(try backend.conv3x3(input: wrong, weights: weights, relu: true, output: wrong), "conv input channels")
    refused(
        try backend.conv3x3BackwardData(
            gradOutput: wrong, weights: weights, reluMaskFrom: nil, gradInput: image,
            accumulate: false), "backward-data shapes")
    refused(try backend.upload([1, 2], to: image), "upload count")
    refused(try backend.makeConvWeights(weights: [1], bias: [0], outputChannels: 1, inputChannels: 1), "weight count")
    refused(try backend.meanSquaredError(image, image, scale: 1, scalars: image, slot: 48, accumulate: false), "slot")
    refused(try backend.pool2x2(input: image, mode: .max, output: image), "pool output shape")
    refused(try backend.gram(features: image, output: image), "gram output shape")
    refused(try backend.axpy(alpha: 1, x: image, y: wrong), "axpy shapes")
    return image
}
