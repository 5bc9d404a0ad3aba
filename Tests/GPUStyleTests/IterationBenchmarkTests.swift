import Foundation
@testable import GPUStyle
import XCTest

/// The iteration benchmark runs and reports what benchmarks/README.md documents. Timings are
/// never asserted: only that they exist and are consistent with each other.
final class IterationBenchmarkTests: XCTestCase {
    private func tinySettings() -> IterationBenchmarkSettings {
        var settings = IterationBenchmarkSettings(
            contentPath: examplePath("tubingen.jpg"),
            stylePath: examplePath("starry_night.jpg"))
        settings.sizes = [32]
        settings.iterations = 2
        settings.warmup = 0
        settings.profileIterations = 1
        return settings
    }

    func testTinyNativeRunReportsTheDocumentedFields() throws {
        let devices = BenchmarkDevice.list([.native], catalog: DeviceCatalog(openCLDevices: [], openCLError: nil))
        let report = try IterationBenchmark.run(
            settings: tinySettings(), devices: devices,
            weightsPath: try cachedWeightsPath())
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(report)) as? [String: Any]
        let object = try XCTUnwrap(json)
        for key in ["date", "cpu", "cores", "loadAverage", "settings", "results"] {
            XCTAssertNotNil(object[key], "report field \(key)")
        }
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 1)
        for key in [
            "device", "selector", "size", "width", "height", "samplesMilliseconds", "medianMilliseconds",
            "minMilliseconds", "maxMilliseconds", "flopsPerIteration", "gflopsPerSecond", "peakDeviceBytes",
            "memoryFloorBytes", "peakOverFloor", "memoryPlan", "peakHostResidentBytes", "speedupOverNative",
            "phases",
        ] {
            XCTAssertNotNil(results[0][key], "result field \(key)")
        }

        let result = try XCTUnwrap(report.results.first)
        XCTAssertEqual(result.device, "native")
        XCTAssertEqual(result.selector, "native")
        XCTAssertEqual([result.width, result.height], [32, 24], "tubingen.jpg is 4:3 landscape")
        XCTAssertEqual(result.samplesMilliseconds.count, 2)
        XCTAssertTrue(result.samplesMilliseconds.allSatisfy { $0 > 0 && $0.isFinite })
        XCTAssertLessThanOrEqual(result.minMilliseconds, result.medianMilliseconds)
        XCTAssertLessThanOrEqual(result.medianMilliseconds, result.maxMilliseconds)
        XCTAssertEqual(
            result.flopsPerIteration,
            IterationFLOPs(
                height: 24, width: 32, deepestLayer: 29,
                styleLayers: [1, 6, 11, 20, 29]
            ).total)
        XCTAssertEqual(
            result.gflopsPerSecond, result.flopsPerIteration / result.medianMilliseconds / 1e6, accuracy: 1e-9)
        XCTAssertGreaterThan(result.peakDeviceBytes, 20 << 20, "the conv weights alone are tens of MiB")
        XCTAssertGreaterThan(result.peakHostResidentBytes, UInt64(result.peakDeviceBytes) / 2)
        XCTAssertEqual(result.speedupOverNative, 1)
        XCTAssertEqual(result.kernelOptions, NativeBackend.blasKernels, "the native path names its BLAS kernels")
        XCTAssertEqual(result.memoryFloorBytes, result.memoryPlan.floorBytes)
        XCTAssertEqual(
            result.peakOverFloor, Double(result.peakDeviceBytes) / Double(result.memoryFloorBytes), accuracy: 1e-12)
        XCTAssertGreaterThanOrEqual(result.memoryPlan.totalBytes, result.peakDeviceBytes, "the plan covers the peak")
        let phases = try XCTUnwrap(result.phases)
        XCTAssertEqual(Set(phases.milliseconds.keys), Set(IterationPhase.allCases.map(\.rawValue)))
        XCTAssertGreaterThan(phases.milliseconds["forward"] ?? 0, 0)
        XCTAssertGreaterThan(phases.milliseconds["backward"] ?? 0, 0)
        XCTAssertNil(phases.kernels, "the native path has no kernels to time")
        XCTAssertNil(phases.launches)
    }

    /// On OpenCL, --profile also splits the device time by kernel, and the kernels add up to the
    /// phases (both are sums of the same profiling events); it counts each kernel's launches.
    func testOpenCLProfileSplitsTheTimeByKernel() throws {
        let catalog = DeviceCatalog.discover()
        guard let device = catalog.openCLDevices.first else { throw XCTSkip("no OpenCL device") }
        let devices = BenchmarkDevice.list([.index(device.info.index)], catalog: catalog)
        let report = try IterationBenchmark.run(
            settings: tinySettings(), devices: devices,
            weightsPath: try cachedWeightsPath())
        let phases = try XCTUnwrap(report.results.first?.phases)
        let kernels = try XCTUnwrap(phases.kernels)
        for name in ["conv3x3_narrow", "winograd_multiply", "gram_backward", "adam_step"] {
            XCTAssertGreaterThan(kernels[name] ?? 0, 0, "\(name) in \(kernels.keys.sorted())")
        }
        let phaseSum = phases.milliseconds.values.reduce(0, +), kernelSum = kernels.values.reduce(0, +)
        XCTAssertEqual(kernelSum, phaseSum, accuracy: 1e-6 * max(phaseSum, 1))
        let launches = try XCTUnwrap(phases.launches)
        XCTAssertEqual(Set(launches.keys), Set(kernels.keys))
        XCTAssertEqual(launches["adam_step"], 1, "one Adam step an iteration")
        XCTAssertEqual(launches["conv3x3_narrow"], 1, "conv1_1 forward, once an iteration")
        for (name, count) in launches { XCTAssertGreaterThanOrEqual(count, 1, name) }
    }

    /// `bench --define` reaches the OpenCL backend, and the report names the options that differ
    /// from the defaults (the native path names its BLAS kernels instead).
    func testKernelOptionOverridesAreUsedAndReported() throws {
        let catalog = DeviceCatalog.discover()
        guard let device = catalog.openCLDevices.first else { throw XCTSkip("no OpenCL device") }
        var settings = tinySettings()
        settings.profileIterations = 0
        let devices = BenchmarkDevice.list(
            [.index(device.info.index), .native], catalog: catalog,
            overrides: ["GRAM_SLICE": 100, "GRAM_SLICES": 3])
        let backend = try XCTUnwrap(try devices[0].makeBackend() as? OpenCLBackend)
        XCTAssertEqual(backend.options.gramSliceLength, 100)
        XCTAssertEqual(backend.options.gramMaxSlices, 3)
        let report = try IterationBenchmark.run(
            settings: settings, devices: devices, weightsPath: try cachedWeightsPath())
        let described = try XCTUnwrap(report.results.first?.kernelOptions)
        XCTAssertTrue(described.contains("GRAM_SLICE=100") && described.contains("GRAM_SLICES=3"), described)
        XCTAssertEqual(report.results.last?.kernelOptions, NativeBackend.blasKernels)
    }

    /// The count at 512×512 against docs/DESIGN.md's figures: about 380 GFLOP of convolutions, forward
    /// 189; the five Grams and their backward add about 18 GFLOP (2·C²·H·W each, ≈1.07 G per layer
    /// of blocks 1–4 forward, a quarter of that at relu5_1).
    func testFLOPCountMatchesTheDesignFigures() throws {
        let flops = try IterationFLOPs(height: 512, width: 512, layers: LayerSelection())
        XCTAssertEqual(flops.convForward / 1e9, 189, accuracy: 3)
        XCTAssertEqual((flops.convForward + flops.convBackward) / 1e9, 380, accuracy: 4)
        XCTAssertEqual((flops.gram + flops.gramBackward) / 1e9, 4.25 * 2 * 2 * 1.073741824, accuracy: 0.01)
        XCTAssertEqual(flops.convBackward, flops.convForward)
        // conv1_1 alone: 2·3·9·64 per pixel.
        let first = IterationFLOPs(height: 10, width: 10, deepestLayer: 0, styleLayers: [])
        XCTAssertEqual(first.total, 2 * 2 * 3 * 9 * 64 * 100)
        // A Gram at relu1_1 on 10×10: 2·64²·100 forward and the same backward.
        let gram = IterationFLOPs(height: 10, width: 10, deepestLayer: 1, styleLayers: [1])
        XCTAssertEqual(gram.gram, 2 * 64 * 64 * 100)
        XCTAssertEqual(gram.total - first.total, 2 * gram.gram)
    }

    /// Issue 7's memory floor at 512×512 with the default layers (to relu5_1) and Adam, by hand:
    /// the 16 ReLU outputs, 2·64·512² + 2·128·256² + 4·256·128² + 4·512·64² + 512·32² floats; the 13
    /// conv layers' 12 944 960 parameters; m and v, 2·3·512² floats. The parts sum to the plan.
    func testMemoryFloorAndBreakdownAt512() throws {
        for optimizer in OptimizerKind.allCases {
            let plan = try MemoryPlan(
                layers: LayerSelection(), height: 512, width: 512, styleSizes: [(height: 320, width: 512)],
                optimization: OptimizationSettings(iterations: 1, optimizer: optimizer, lbfgsHistory: 5),
                backend: NativeBackend())
            let parts = plan.breakdown
            XCTAssertEqual(parts.totalBytes, plan.totalBytes, "\(optimizer)")
            XCTAssertEqual(parts.backwardActivationBytes, 76_021_760 * 4)
            XCTAssertEqual(parts.rawWeightBytes, 12_944_960 * 4)
            // Native keeps conv1_1 (3→64) as forward + flipped 3×3 kernels (9 more floats per
            // channel pair) and the other 12 layers as their raw taps (their Winograd transforms are
            // made at each convolution, in scratch outside the plan), no bias copy.
            XCTAssertEqual(parts.weightLayoutBytes, 9 * 3 * 64 * 4)
            XCTAssertEqual(parts.optimizerStateBytes, (optimizer == .adam ? 2 : 2 + 2 * 6) * 3 * 512 * 512 * 4)
            // Every pooling layer runs its backward in place: only the first gradient (relu5_1's shape).
            XCTAssertEqual(parts.gradientArenaBytes, 512 * 32 * 32 * 4, "no arena: every pooling layer runs in place")
            // The preprocessed input and the four pooling outputs borrow later layers' buffers.
            XCTAssertEqual(parts.forwardOnlyActivationBytes, 0)
            XCTAssertEqual(
                parts.styleWorkspaceBytes, 0, "a smaller style's workspace is gone before the main one is made")
            let largerStyle = try MemoryPlan(
                layers: LayerSelection(), height: 512, width: 512,
                styleSizes: [(height: 768, width: 768)],
                optimization: OptimizationSettings(iterations: 1, optimizer: optimizer),
                backend: NativeBackend())
            XCTAssertEqual(
                largerStyle.breakdown.styleWorkspaceBytes + plan.activationBytes,
                largerStyle.activationBytes + largerStyle.transientBytes)
            XCTAssertGreaterThan(
                largerStyle.breakdown.styleWorkspaceBytes, 0, "a larger style needs more than the main workspace")
        }
    }

    func testBadSettingsAreOneLineErrors() {
        var settings = tinySettings()
        settings.sizes = []
        XCTAssertThrowsError(try settings.validate())
        settings = tinySettings()
        settings.sizes = [8]
        XCTAssertThrowsError(try settings.validate()) { XCTAssertTrue(describe($0).contains("16")) }
        settings = tinySettings()
        settings.iterations = 0
        XCTAssertThrowsError(try settings.validate())
        settings = tinySettings()
        settings.warmup = -1
        XCTAssertThrowsError(try settings.validate())
    }

    func testMissingImageIsAnError() throws {
        var settings = tinySettings()
        settings.contentPath = "/nonexistent/content.jpg"
        let devices = BenchmarkDevice.list([.native], catalog: DeviceCatalog(openCLDevices: [], openCLError: nil))
        XCTAssertThrowsError(
            try IterationBenchmark.run(
                settings: settings, devices: devices,
                weightsPath: try cachedWeightsPath()))
    }

    func testDefaultDeviceListIsEveryOpenCLDeviceThenNative() {
        let catalog = DeviceCatalog.discover()
        let listed = BenchmarkDevice.list(nil, catalog: catalog).map(\.selector)
        XCTAssertEqual(listed.last, .native)
        XCTAssertEqual(listed.count, catalog.openCLDevices.count + 1)
    }

    func testMedian() {
        XCTAssertEqual(IterationBenchmark.median([3, 1, 2]), 2)
        XCTAssertEqual(IterationBenchmark.median([4, 1, 3, 2]), 2.5)
        XCTAssertEqual(IterationBenchmark.median([]), 0)
    }
}
