import Foundation
@testable import GPUStyle
import XCTest

/// The run loop with the real weights at a small size, on every backend.
final class StyleRunTests: XCTestCase {
    private func options(
        iterations: Int, optimizer: OptimizerKind = .adam, initialization: Initialization = .content,
        size: Int = 48
    ) -> StyleJobOptions {
        var options = StyleJobOptions(
            contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("starry_night.jpg")])
        options.imageSize = size
        options.optimization = OptimizationSettings(iterations: iterations, optimizer: optimizer)
        options.initialization = initialization
        options.seed = 7
        return options
    }

    private func run(
        _ options: StyleJobOptions, on backend: Backend
    ) throws -> (reports: [IterationReport], pixels: [Float]) {
        let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
        var reports: [IterationReport] = []
        XCTAssertEqual(try job.run.run(reportEvery: 10, onReport: { reports.append($0) }), .completed)
        return (reports, try job.run.currentImage())
    }

    func testLossFallsByALargeFactorAndTheImageChanges() throws {
        for backend in try testBackends() {
            let options = options(iterations: 40)
            let (reports, pixels) = try run(options, on: backend)
            XCTAssertEqual(reports.map(\.iteration), [0, 10, 20, 30, 40], backend.name)
            let first = try XCTUnwrap(reports.first).losses
            let last = try XCTUnwrap(reports.last).losses
            XCTAssertEqual(first.content, 0, "iteration 0 is the content image itself")
            XCTAssertGreaterThan(first.total / last.total, 5, "\(backend.name): \(first.total) → \(last.total)")
            let content = try ImageFile.read(options.contentPath).image.resized(maxSide: options.imageSize)
            let meanChange = zip(pixels, content.pixels).map { abs($0 - $1) }.reduce(0, +) / Float(pixels.count)
            XCTAssertGreaterThan(meanChange, 5, "\(backend.name): the image must move away from the content")
        }
    }

    func testSameInputsAndSeedGiveIdenticalImages() throws {
        for backend in try testBackends() {
            let options = options(iterations: 5, initialization: .random)
            let a = try run(options, on: backend).pixels
            let b = try run(options, on: backend).pixels
            XCTAssertEqual(a, b, "\(backend.name): runs must be bit-identical")
        }
    }

    /// Resident run: after set-up, iterations neither allocate nor transfer; the host reads only
    /// the loss scalars it reports (and L-BFGS's dot products, which are scalars too), and the
    /// gradient once, before the first step, to check its scale.
    func testIterationsNeitherAllocateNorTransfer() throws {
        for optimizer in OptimizerKind.allCases {
            let counting = CountingBackend(NativeBackend())
            let job = try StyleJob(
                options: options(iterations: 6, optimizer: optimizer),
                weightsPath: try cachedWeightsPath(), backend: counting
            ) { _ in }
            let (allocations, uploads, downloads) = (counting.allocations, counting.uploads, counting.downloads)
            var reports = 0
            _ = try job.run.run(reportEvery: 0, onReport: { _ in reports += 1 })
            XCTAssertEqual(counting.allocations, allocations, "\(optimizer): no allocation in the loop")
            XCTAssertEqual(counting.uploads, uploads, "\(optimizer): no upload in the loop")
            XCTAssertEqual(reports, 2, "first and last iteration are reported")
            if optimizer == .adam {
                XCTAssertEqual(counting.downloads - downloads, 3, "the two reported loss reads and the scale check")
            }
        }
    }

    /// A run saved at iteration 3 and resumed to 6 ends bit-identical to one that ran 6 straight,
    /// through the checkpoint file, for both optimisers, on every backend.
    func testResumedRunEndsBitIdenticalToAnUninterruptedOne() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString).ckpt")
            .path
        defer { try? FileManager.default.removeItem(atPath: file) }
        for backend in try testBackends() {
            for optimizer in OptimizerKind.allCases {
                let straight = try run(options(iterations: 6, optimizer: optimizer), on: backend).pixels

                let first = try StyleJob(
                    options: options(iterations: 3, optimizer: optimizer),
                    weightsPath: try cachedWeightsPath(), backend: backend
                ) { _ in }
                _ = try first.run.run(reportEvery: 0, onReport: { _ in })
                try Checkpoint(
                    options: first.options, weightsSHA256: "w", inputsSHA256: ["c", "s"], device: backend.name,
                    state: try first.run.exportState()
                ).write(to: file)

                let saved = try Checkpoint.read(file)
                let resumedOptions = options(iterations: 6, optimizer: optimizer)
                try saved.checkCompatible(options: resumedOptions, weightsSHA256: "w", inputsSHA256: ["c", "s"])
                let second = try StyleJob(
                    options: resumedOptions, weightsPath: try cachedWeightsPath(),
                    backend: backend
                ) { _ in }
                try second.run.restore(saved.state)
                XCTAssertEqual(second.run.iteration, 3)
                _ = try second.run.run(reportEvery: 0, onReport: { _ in })
                XCTAssertEqual(try second.run.currentImage(), straight, "\(backend.name) \(optimizer)")
            }
        }
    }

    /// Tiled (`--tile-size 32`), with both optimisers: the grid's shift comes from the seed and the
    /// iteration alone, so a run resumed from a checkpoint cuts the same tiles and ends bit-identical.
    func testTiledResumedRunEndsBitIdenticalToAnUninterruptedOne() throws {
        for backend in try testBackends() {
            for optimizer in OptimizerKind.allCases {
                func tiled(_ iterations: Int) -> StyleJobOptions {
                    var options = options(iterations: iterations, optimizer: optimizer)
                    options.tileSize = 32
                    return options
                }
                let straight = try run(tiled(3), on: backend).pixels
                let first = try StyleJob(options: tiled(1), weightsPath: try cachedWeightsPath(), backend: backend) {
                    _ in
                }
                XCTAssertEqual(first.tilings, [Tiling(tileSize: 32, keepsActivations: true)])
                XCTAssertTrue(first.run.objective is TiledObjective)
                _ = try first.run.run(reportEvery: 0, onReport: { _ in })
                let state = try first.run.exportState()
                let second = try StyleJob(options: tiled(3), weightsPath: try cachedWeightsPath(), backend: backend) {
                    _ in
                }
                try second.run.restore(state)
                _ = try second.run.run(reportEvery: 0, onReport: { _ in })
                XCTAssertEqual(try second.run.currentImage(), straight, "\(backend.name) \(optimizer)")
            }
        }
    }

    func testCheckpointFromOtherOptionsOrWeightsIsRefusedByName() throws {
        var saved = options(iterations: 3)
        let state = RunState(iteration: 1, image: [1, 2, 3], optimizerTensors: [[4], [5]], optimizerHostState: [])
        let checkpoint = Checkpoint(
            options: saved, weightsSHA256: "aaa", inputsSHA256: ["c", "s"], device: "d", state: state)
        saved.optimization.iterations = 50
        XCTAssertNoThrow(
            try checkpoint.checkCompatible(options: saved, weightsSHA256: "aaa", inputsSHA256: ["c", "s"]),
            "only the total differs")
        // Inputs are known by content: another path to the same bytes is the same input.
        var moved = saved
        moved.contentPath = "./elsewhere/" + saved.contentPath
        XCTAssertNoThrow(
            try checkpoint.checkCompatible(options: moved, weightsSHA256: "aaa", inputsSHA256: ["c", "s"]))
        XCTAssertThrowsError(
            try checkpoint.checkCompatible(options: saved, weightsSHA256: "aaa", inputsSHA256: ["x", "s"])
        ) {
            XCTAssertTrue(describe($0).contains("the content image is not the one"), describe($0))
        }
        saved.lossWeights.style = 50
        XCTAssertThrowsError(
            try checkpoint.checkCompatible(options: saved, weightsSHA256: "aaa", inputsSHA256: ["c", "s"])
        ) { error in
            XCTAssertTrue(describe(error).contains("lossWeights.style (checkpoint 100, now 50)"), describe(error))
        }
        XCTAssertThrowsError(
            try checkpoint.checkCompatible(
                options: options(iterations: 3), weightsSHA256: "bbb",
                inputsSHA256: ["c", "s"])
        ) { error in
            XCTAssertTrue(describe(error).contains("other weights"), describe(error))
        }
        // Truncated and foreign files are one-line errors.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).ckpt").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try checkpoint.write(to: file)
        XCTAssertEqual(try Checkpoint.read(file), checkpoint)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        for length in [0, 10, 30, bytes.count / 2, bytes.count - 1] {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: file))
            XCTAssertThrowsError(try Checkpoint.read(file), "truncated at \(length)")
        }
        // A well-formed file whose header declares tensors larger than the file (their sum
        // overflowing Int) is refused, not trapped on.
        var header = checkpoint.header
        header.tensorCounts = [Int.max, Int.max, 1]
        let forged = try Checkpoint.framed(header: header, tensors: [[0, 0, 0, 0]])
        try forged.write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try Checkpoint.read(file)) {
            XCTAssertTrue(describe($0).contains("a tensor larger than the file"), describe($0))
        }
        // Damage anywhere (here in a tensor, where the layout still parses) is caught by the checksum.
        for offset in [bytes.count / 2, bytes.count - 70] {
            var damaged = bytes
            damaged[offset] ^= 0x20
            try damaged.write(to: URL(fileURLWithPath: file))
            XCTAssertThrowsError(try Checkpoint.read(file)) {
                XCTAssertTrue(describe($0).contains("damaged"), describe($0))
            }
        }
    }

    /// Checkpoints are outside data: a header forged with a valid checksum (seeded mutations of a
    /// real one's counts, scale, iteration, optimiser host state and options) is refused in one
    /// line by the reader, the compatibility check, the job or the restore, or resumes and runs;
    /// never a crash. Adam and L-BFGS (whose host state holds its history's order).
    func testForgedCheckpointHeadersAreRefusedOrResumeSafely() throws {
        let backend = NativeBackend()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("forged-\(UUID().uuidString).ckpt")
            .path
        defer { try? FileManager.default.removeItem(atPath: file) }
        var generator = SplitMix64(seed: 20)
        func pick<T>(_ values: [T]) -> T { values[Int(generator.next() % UInt64(values.count))] }
        var outcomes: [String: Int] = [:]
        for optimizer in OptimizerKind.allCases {
            var options = options(iterations: 3, optimizer: optimizer, size: 32)
            options.optimization.lbfgsHistory = 3
            let first = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
            options.optimization.iterations = 2
            _ = try first.run.run(reportEvery: 0, onReport: { _ in }, checkpointEvery: 0)
            let state = try first.run.exportState()
            let real = Checkpoint(options: options, weightsSHA256: "w", inputsSHA256: [], device: "d", state: state)
            let tensors = [state.image] + state.optimizerTensors
            for _ in 0..<40 {
                var header = real.header
                var forgedTensors = tensors
                for _ in 0..<(1 + Int(generator.next() % 2)) {
                    switch generator.next() % 6 {
                    case 0:
                        let index = Int(generator.next() % UInt64(header.tensorCounts.count))
                        let count = header.tensorCounts[index]
                        header.tensorCounts[index] = pick([-1, 0, 1, count - 1, count + 1, Int.max, Int.min, 1 << 40])
                    case 1:
                        if generator.next() % 2 == 0 {
                            header.tensorCounts.append(3)
                            forgedTensors.append([1, 2, 3])
                        } else if header.tensorCounts.count > 1 {
                            header.tensorCounts.removeLast()
                            forgedTensors.removeLast()
                        }
                    case 2: header.scale = pick([-1, 1, 7, Int.max, Int.min])
                    case 3: header.iteration = pick([-1, 0, 3, 4, Int.max, Int.min])
                    case 4:
                        header.optimizerHostState = pick([
                            [], [0], [1, 1, 2, 0, 1, 0, 0, 0], [1, 1, 4, 0, 1, 2, 3, 0, 0, 0, 0],
                            [1, 1, -1, 0, 0, 0], [1, 1, 1, 99, 0, 0, 0], [1, 1, 1.5, 0, 0, 0, 0],
                            header.optimizerHostState + [0],
                        ])
                    default:
                        header.options.optimization.lbfgsHistory = pick([1, 3, 100])
                    }
                }
                try Checkpoint.framed(header: header, tensors: forgedTensors).write(to: URL(fileURLWithPath: file))
                do {
                    let saved = try Checkpoint.read(file)
                    try saved.checkCompatible(options: options, weightsSHA256: "w", inputsSHA256: [])
                    let resumed = try StyleJob(
                        options: options, weightsPath: try cachedWeightsPath(), backend: backend, resume: saved.state
                    ) { _ in }
                    _ = try resumed.run.run(reportEvery: 0, onReport: { _ in })
                    outcomes["resumed", default: 0] += 1
                } catch {
                    XCTAssertTrue(error is StyleError, "\(type(of: error)) \(error)")
                    XCTAssertFalse(describe(error).contains("\n"), describe(error))
                    outcomes[String(describe(error).prefix(40)), default: 0] += 1
                }
            }
        }
        print("forged checkpoints: \(outcomes.sorted { $0.value > $1.value })")
        XCTAssertGreaterThan(outcomes["resumed"] ?? 0, 0)
        XCTAssertGreaterThan(outcomes.count, 4)
    }

    /// A learning rate that blows the image up stops the run at the first checked NaN/∞ and
    /// puts back the last image whose losses were finite. (Unprojected: the projection keeps
    /// even this image in 0–255.)
    func testNonFiniteLossStopsAndKeepsTheLastFiniteImage() throws {
        var exploding = options(iterations: 30)
        exploding.optimization.learningRate = 1e38
        exploding.optimization.clamp = false
        let job = try StyleJob(options: exploding, weightsPath: try cachedWeightsPath(), backend: NativeBackend()) {
            _ in
        }
        let end = try job.run.run(reportEvery: 0, onReport: { _ in }, checkEvery: 1)
        guard case let .nonFinite(iteration, _, restored) = end else { return XCTFail("ended with \(end)") }
        XCTAssertLessThan(restored, iteration)
        XCTAssertEqual(job.run.iteration, restored)
        XCTAssertTrue(try job.run.currentImage().allSatisfy(\.isFinite), "the kept image is finite")
    }

    /// A device error in the middle of a run surfaces as the OpenCL call and code, and the
    /// image of the last finished iteration can still be read (the command line writes it).
    func testDeviceFaultMidRunKeepsTheImage() throws {
        let faulty = CountingBackend(NativeBackend())
        let job = try StyleJob(options: options(iterations: 10), weightsPath: try cachedWeightsPath(), backend: faulty)
        { _ in }
        faulty.failAfterConvolutions = faulty.convolutions + 3 * 13 + 5  // into iteration 3 (13 convs a forward)
        XCTAssertThrowsError(try job.run.run(reportEvery: 0, onReport: { _ in })) { error in
            XCTAssertTrue(describe(error).contains("CL_OUT_OF_RESOURCES"), describe(error))
        }
        XCTAssertEqual(job.run.iteration, 3)
        let image = try job.run.currentImage()
        XCTAssertTrue(image.allSatisfy(\.isFinite))
        XCTAssertNoThrow(try job.outputImage(pixels: image))
    }

    func testOptionValidation() throws {
        var bad = options(iterations: 0)
        XCTAssertThrowsError(try bad.validate())
        bad = options(iterations: 1)
        bad.imageSize = -3
        XCTAssertThrowsError(try bad.validate())
        bad = options(iterations: 1)
        bad.layers.style = ["relu9_9"]
        XCTAssertThrowsError(try bad.validate()) { error in
            XCTAssertTrue(describe(error).contains("relu1_1"), "lists the valid layers")
        }
        bad = options(iterations: 1)
        bad.styleBlendWeights = [1, 2]
        XCTAssertThrowsError(try bad.validate(), "two weights for one style")
        for tileSize in [0, 8, 24, -16] {
            bad = options(iterations: 1)
            bad.tileSize = tileSize
            XCTAssertThrowsError(try bad.validate()) { error in
                XCTAssertEqual(
                    describe(error),
                    "--tile-size must be a positive multiple of 16, the network's pooling factor (got \(tileSize))")
            }
        }
        var blended = options(iterations: 1)
        blended.stylePaths.append(examplePath("the_scream.jpg"))
        blended.styleBlendWeights = [3, 1]
        XCTAssertEqual(try blended.normalisedBlendWeights(), [0.75, 0.25])
    }
}
