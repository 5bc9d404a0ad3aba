import Foundation
@testable import GPUStyle
import XCTest

/// The backends a test runs on: the native path, and the first OpenCL device when there is one.
func testBackends() throws -> [Backend] {
    var backends: [Backend] = [NativeBackend()]
    if false, let device = DeviceCatalog.discover().openCLDevices.first {
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

/// Seeded random numbers for tests: the same sequence on every platform and run.
typealias SeededGenerator = SplitMix64
