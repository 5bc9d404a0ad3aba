import Foundation
@testable import GPUStyle
import XCTest

/// The OpenCL backend's own contract: construction and options, memory accounting, no
/// allocation per call, deterministic reductions, wiring mistakes as errors. Numerics against
/// native are BackendOpsTests' table.
final class OpenCLBackendTests: XCTestCase {
    private static var shared: OpenCLBackend?

    /// One backend on the first device for the tests that need no special options (the program
    /// is built once).
    static func sharedBackend() throws -> OpenCLBackend {
        if let backend = shared { return backend }
        let backend = try OpenCLBackend(device: try firstOpenCLDevice())
        shared = backend
        return backend
    }

    /// Blockings that are no device's default, so tile edges fall elsewhere.
    static let oddOptions = ProgramOptions(defines: [
        "CONV_COB": 2, "CONV_PXB": 3, "CONV_CHANNELS_FIRST": 1, "CONV_FAST_INTERIOR": 0, "CONV_WG": 2, "VW": 8,
        "GRAM_T": 3, "GRAM_SLICE": 100, "GRAM_SLICES": 5, "GB_ROWS": 5, "GB_VECS": 2, "GB_OB": 3, "GB_PREFETCH": 1,
        "GB_STAGE": 0,
        "TILE_WG": 3, "RED_LOCAL": 16, "RED_GROUPS": 7, "RED_CONTIGUOUS": 1, "EW_LOCAL": 24, "WINO_TB": 4, "WINO_OB": 3,
        "WINO_WG": 5, "WINO_WEIGHTS_WG": 3, "WINO_BAND": 1, "CONV_NARROW": 2, "NARROW_PX": 4, "NARROW_PREFETCH": 1,
        "NT_STORES": 0, "NARROW_STRIP": 2, "WINO_COB": 4, "WINO_TV": 2, "WINO_PREFETCH": 1,
    ])

    /// A GPU's defaults use the local-memory tiled kernels only where 16×16 work-groups and their
    /// local memory fit, and always pass validation.
    func testGPUDefaultsFitTheDevicesLimits() throws {
        func gpu(maxGroup: Int, local: UInt64) -> CLDeviceInfo {
            fakeDeviceInfo(maxWorkGroupSize: maxGroup, localMemoryBytes: local)
        }
        for (device, tiled) in [
            (gpu(maxGroup: 1024, local: 48 << 10), true), (gpu(maxGroup: 128, local: 48 << 10), false),
            (gpu(maxGroup: 256, local: 8 << 10), false),
        ] {
            let options = ProgramOptions.defaults(for: device)
            XCTAssertNoThrow(try options.validate(for: device), "\(device.maxWorkGroupSize) \(device.localMemoryBytes)")
            XCTAssertEqual(
                [options.winogradTiledMultiply, options.gramTiledProduct, options.gramBackwardTiledProduct],
                [tiled, tiled, tiled], "\(device.maxWorkGroupSize) \(device.localMemoryBytes)")
        }
        var forced = ProgramOptions.defaults(for: gpu(maxGroup: 128, local: 48 << 10))
        forced.defines["GB_GEMM"] = 1
        XCTAssertThrowsError(try forced.validate(for: gpu(maxGroup: 128, local: 48 << 10))) { error in
            XCTAssertTrue(describe(error).contains("GB_GEMM=1 needs work-groups of 256"), describe(error))
        }
    }

    func testNameAndOptionsComeFromTheDevice() throws {
        let device = try firstOpenCLDevice()
        let backend = try Self.sharedBackend()
        XCTAssertEqual(backend.name, device.info.name)
        XCTAssertEqual(backend.options, ProgramOptions.defaults(for: device.info))
        XCTAssertTrue(backend.options.buildString.contains("-DCONV_COB="), backend.options.buildString)
    }

    func testUnusableOptionsAreRefusedWithTheirName() throws {
        let device = try firstOpenCLDevice()
        var options = ProgramOptions.defaults(for: device.info)
        options.defines["CONV_COB"] = 3
        XCTAssertThrowsError(try OpenCLBackend(device: device, options: options)) { error in
            XCTAssertTrue(describe(error).contains("CONV_COB"), describe(error))
        }
        options = ProgramOptions.defaults(for: device.info)
        options.defines["RED_LOCAL"] = 48
        XCTAssertThrowsError(try OpenCLBackend(device: device, options: options)) { error in
            XCTAssertTrue(describe(error).contains("RED_LOCAL"), describe(error))
        }
    }

    func testMemoryIsAccountedAndScratchIsReusedNotReallocated() throws {
        let backend = try OpenCLBackend(device: try firstOpenCLDevice())
        let baseline = backend.allocatedBytes
        var tensor: Tensor? = try backend.makeTensor(Shape(c: 2, h: 3, w: 5))
        XCTAssertEqual(backend.allocatedBytes, baseline + 120)
        XCTAssertEqual(try backend.download(XCTUnwrap(tensor)), [Float](repeating: 0, count: 30), "zero-filled")
        var weights: ConvWeights? = try backend.makeConvWeights(
            weights: [Float](repeating: 1, count: 2 * 3 * 9),
            bias: [0, 0], outputChannels: 2, inputChannels: 3)
        // 2 and 3 channels: both directions run conv3x3_narrow, whose layouts pad the outputs to 4.
        let block = backend.options.convOutputBlock
        XCTAssertEqual(weights?.byteCount, (4 * 3 * 9 + 4 * 2 * 9 + block) * 4, "both layouts and the bias, padded")
        XCTAssertEqual(backend.allocatedBytes, baseline + 120 + (weights?.byteCount ?? 0))
        tensor = nil
        weights = nil
        XCTAssertEqual(backend.allocatedBytes, baseline)

        let features = try backend.makeTensor(Shape(c: 16, h: 40, w: 50))
        let gram = try backend.makeTensor(Shape(c: 1, h: 16, w: 16))
        let gradFeatures = try backend.makeTensor(features.shape)
        let scalars = try backend.makeTensor(.vector(1))
        func iteration() throws {
            try backend.gram(features: features, output: gram)
            try backend.gramBackward(gradGram: gram, features: features, gradFeatures: gradFeatures, accumulate: true)
            try backend.meanSquaredError(features, features, scale: 1, scalars: scalars, slot: 0, accumulate: false)
            _ = try backend.dot(features, features)
        }
        try iteration()
        let afterFirst = backend.allocatedBytes
        for _ in 0..<3 { try iteration() }
        XCTAssertEqual(backend.allocatedBytes, afterFirst, "no allocation per call once the scratch has grown")
        XCTAssertEqual(backend.peakAllocatedBytes, max(afterFirst, backend.peakAllocatedBytes))
    }

    func testReductionsAreBitwiseDeterministicOnABigInput() throws {
        let backend = try Self.sharedBackend()
        var generator = SeededGenerator(seed: 7)
        let shape = Shape(c: 64, h: 37, w: 29)  // every work-item of every group has several elements
        let a = try backend.makeTensor(ReferenceTensor.random(shape, using: &generator))
        let b = try backend.makeTensor(ReferenceTensor.random(shape, using: &generator))
        let scalars = try backend.makeTensor(.vector(2))
        let gram = try backend.makeTensor(Shape(c: 1, h: 64, w: 64))
        func run() throws -> [UInt64] {
            try backend.meanSquaredError(a, b, scale: 1, scalars: scalars, slot: 0, accumulate: false)
            try backend.totalVariation(a, scale: 1, scalars: scalars, slot: 1, accumulate: false)
            try backend.gram(features: a, output: gram)
            let floats = try backend.download(scalars) + backend.download(gram)
            return [try backend.dot(a, b).bitPattern] + floats.map { UInt64($0.bitPattern) }
        }
        XCTAssertEqual(try run(), try run())
        let g = try backend.download(gram)
        var asymmetric = 0
        for i in 0..<64 {
            for j in 0..<64 where g[i * 64 + j] != g[j * 64 + i] { asymmetric += 1 }
        }
        XCTAssertEqual(asymmetric, 0, "Gram is exactly symmetric")
    }

    func testWiringMistakesThrowInsteadOfCrashing() throws {
        let backend = try Self.sharedBackend()
        let image = try assertCommonWiringMistakesThrow(backend)
        // Ops whose work-items read what others write refuse to work in place.
        XCTAssertThrowsError(try backend.totalVariationGradient(image, scale: 1, grad: image, accumulate: false)) {
            error in
            XCTAssertTrue(describe(error).contains("in place"), describe(error))
        }
        let single = try backend.makeTensor(Shape(c: 1, h: 1, w: 1))  // its own Gram shape: only aliasing is wrong
        XCTAssertThrowsError(
            try backend.gramBackward(
                gradGram: single, features: single, gradFeatures: single,
                accumulate: false)
        ) { error in
            XCTAssertTrue(describe(error).contains("in place"), describe(error))
        }
        let hostTensor = try NativeBackend().makeTensor(Shape(c: 3, h: 4, w: 4))
        XCTAssertThrowsError(try backend.relu(input: hostTensor, output: image)) { error in
            XCTAssertTrue(describe(error).contains("another backend"), describe(error))
        }
        let nativeWeights = try NativeBackend().makeConvWeights(
            weights: [Float](repeating: 0, count: 27), bias: [0],
            outputChannels: 1, inputChannels: 3)
        XCTAssertThrowsError(try backend.conv3x3(input: image, weights: nativeWeights, relu: false, output: image))
    }
}
