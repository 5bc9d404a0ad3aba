import Foundation
@testable import GPUStyle
import XCTest

/// A tiled scale whose whole-image state lives on the host (docs/DESIGN.md, "Memory plan"): the
/// image, its gradient, the optimiser's state and the content targets on a host backend, only
/// the tiles' pixels crossing to the device.
final class HostStateTests: XCTestCase {
    private let tileSize = 32

    /// Shallow layers and a small image: four tiles, every run a few milliseconds an iteration.
    /// `masked`: two styles with complementary masks and source masks (the second's a photo: graded).
    private func options(iterations: Int, optimizer: OptimizerKind, masked: Bool = false) -> StyleJobOptions {
        var options = StyleJobOptions(
            contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("starry_night.jpg")])
        if masked {
            let (left, right) = (examplePath("mask_left.png"), examplePath("mask_right.png"))
            // Landscape as the others: a portrait style would widen the largest tile the plan counts.
            options.stylePaths.append(examplePath("shipwreck.jpg"))
            options.styleMaskPaths = [left, right]
            options.styleSourceMaskPaths = [right, examplePath("starry_night.jpg")]
        }
        options.imageSize = 64
        options.layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        options.optimization = OptimizationSettings(iterations: iterations, optimizer: optimizer, lbfgsHistory: 3)
        options.tileSize = tileSize
        options.seed = 3
        return options
    }

    /// A device exactly as large as the plan with the state on the host: the state does not fit
    /// beside the tile there.
    private func smallDevice(
        _ options: StyleJobOptions, backend: Backend
    ) throws -> (
        device: MemoryCapacity, host: UInt64
    ) {
        let sizes = try ([options.contentPath] + options.stylePaths).map {
            let image = try ImageFile.read($0, maxPixels: options.maxPixels).image
            return (width: image.width, height: image.height)
        }
        let plan = try options.memoryPlan(
            imageSize: options.imageSize, content: sizes[0], styles: Array(sizes.dropFirst()), backend: backend,
            tiling: Tiling(tileSize: tileSize, stateOnHost: true))
        return (MemoryCapacity(totalBytes: UInt64(plan.totalBytes), largestBufferBytes: 1 << 40), .max)
    }

    private func job(_ options: StyleJobOptions, on backend: Backend, hostState: Bool) throws -> StyleJob {
        let memory = hostState ? try smallDevice(options, backend: backend) : nil
        let job = try StyleJob(
            options: options, weightsPath: try cachedWeightsPath(), backend: backend, memory: memory
        ) { _ in }
        // The device-state run keeps its tiles' activations (room to spare); the small device has none.
        XCTAssertEqual(
            job.tilings, [Tiling(tileSize: tileSize, stateOnHost: hostState, keepsActivations: !hostState)])
        XCTAssertEqual(job.run.backend !== backend, hostState)
        return job
    }

    /// The host-state run against the device-state tiled objective driven by the same host
    /// optimiser (upload the image, evaluate on the device, download the gradient, step on the
    /// host): the same bits, Adam and L-BFGS, on both backends; the transfers and the content
    /// targets' round trip lose nothing. On the native backend the device-state run itself
    /// steps with the same code, so it gives the same bits too. With style masks (Adam): their
    /// weights' parts cross to the device as the tiles do.
    func testHostStateRunEqualsTheDeviceStateObjectiveBitForBit() throws {
        let iterations = 3
        let cases = OptimizerKind.allCases.map { ($0, false) } + [(.adam, true)]
        for backend in try testBackends() {
            for (optimizer, masked) in cases {
                let name = "\(backend.name) \(optimizer) masked: \(masked)"
                let options = options(iterations: iterations, optimizer: optimizer, masked: masked)
                let hosted = try job(options, on: backend, hostState: true)
                XCTAssertEqual(try hosted.run.run(reportEvery: 0, onReport: { _ in }), .completed, name)
                let result = try hosted.run.currentImage()

                let reference = try job(options, on: backend, hostState: false)
                let host = NativeBackend()
                let shape = reference.run.image.shape
                let image = try host.makeTensor(shape), gradient = try host.makeTensor(shape)
                try host.upload(try backend.download(reference.run.image), to: image)
                let deviceImage = try backend.makeTensor(shape), deviceGradient = try backend.makeTensor(shape)
                let settings = options.optimization
                let optimizer: ImageOptimizer =
                    optimizer == .adam
                    ? try AdamOptimizer(
                        backend: host, shape: shape,
                        parameters: AdamParameters(learningRate: settings.effectiveLearningRate),
                        bounds: OptimizationSettings.pixelRange)
                    : try LBFGSOptimizer(
                        backend: host, shape: shape, learningRate: settings.effectiveLearningRate,
                        historySize: settings.lbfgsHistory, bounds: OptimizationSettings.pixelRange)
                for iteration in 0..<iterations {
                    try backend.upload(try host.download(image), to: deviceImage)
                    try reference.run.objective.evaluate(
                        image: deviceImage, gradient: deviceGradient, iteration: iteration)
                    try host.upload(try backend.download(deviceGradient), to: gradient)
                    XCTAssertTrue(try optimizer.update(image: image, gradient: gradient, step: iteration + 1), name)
                }
                XCTAssertEqual(result, try host.download(image), name)
                if backend is NativeBackend {
                    _ = try reference.run.run(reportEvery: 0, onReport: { _ in })
                    XCTAssertEqual(result, try reference.run.currentImage(), name)
                }
            }
        }
    }

    /// Host state, both optimisers, both backends: a run resumed from a checkpoint's state ends
    /// bit-identical to an uninterrupted one.
    func testHostStateResumedRunEndsBitIdentical() throws {
        for backend in try testBackends() {
            for optimizer in OptimizerKind.allCases {
                let straight = try job(options(iterations: 3, optimizer: optimizer), on: backend, hostState: true)
                _ = try straight.run.run(reportEvery: 0, onReport: { _ in })
                let first = try job(options(iterations: 1, optimizer: optimizer), on: backend, hostState: true)
                _ = try first.run.run(reportEvery: 0, onReport: { _ in })
                let state = try first.run.exportState()
                let second = try job(options(iterations: 3, optimizer: optimizer), on: backend, hostState: true)
                try second.run.restore(state)
                _ = try second.run.run(reportEvery: 0, onReport: { _ in })
                XCTAssertEqual(
                    try second.run.currentImage(), try straight.run.currentImage(), "\(backend.name) \(optimizer)")
            }
        }
    }

    /// With the state on the host the device holds what the plan counts: at least the peak the
    /// backend counted, at most 5 % more; also with style masks.
    func testPlanCoversTheDevicesPeakWithTheStateOnTheHost() throws {
        for (makeBackend, masked) in try testBackends().indices.flatMap({ index in
            [false, true].map { ({ try testBackends()[index] }, $0) }
        }) {
            let backend = try makeBackend()
            let options = options(iterations: 2, optimizer: .adam, masked: masked)
            let memory = try smallDevice(options, backend: backend)
            let job = try StyleJob(
                options: options, weightsPath: try cachedWeightsPath(), backend: backend, memory: memory
            ) { _ in }
            _ = try job.run.run(reportEvery: 0, onReport: { _ in })
            let peak = backend.peakAllocatedBytes
            XCTAssertGreaterThanOrEqual(Int(memory.device.totalBytes), peak, "\(backend.name) masked: \(masked)")
            XCTAssertLessThanOrEqual(
                Double(memory.device.totalBytes), 1.05 * Double(peak), "\(backend.name) masked: \(masked)")
        }
    }
}
