import Foundation
@testable import GPUStyle
import XCTest

/// Issue 19's run features with the real weights at small sizes, on every backend: the
/// projection onto 0–255, the iterate average, coarse-to-fine scales and their checkpoints.
final class CoarseToFineTests: XCTestCase {
    private func options(
        iterations: Int = 4, optimizer: OptimizerKind = .adam, size: Int = 48, scales: Int = 1,
        clamp: Bool = true, averageDecay: Double = 0
    ) -> StyleJobOptions {
        var options = StyleJobOptions(
            contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("starry_night.jpg")])
        options.imageSize = size
        options.scales = scales
        options.layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        options.optimization = OptimizationSettings(
            iterations: iterations, optimizer: optimizer, clamp: clamp, averageDecay: averageDecay)
        return options
    }

    private func job(_ options: StyleJobOptions, _ backend: Backend, resume: RunState? = nil) throws -> StyleJob {
        try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend, resume: resume) { _ in }
    }

    /// Runs every scale to its end through `perform`, stopping when `stopAfter` polls say so.
    @discardableResult
    private func perform(
        _ job: StyleJob, checkpoint: String? = nil, checkpointEvery: Int = 100, stopAfter polls: Int = .max
    ) throws -> RunEnd {
        var outputs = RunOutputs(image: temporaryPath("png"))
        outputs.checkpoint = checkpoint
        outputs.checkpointEvery = checkpointEvery
        defer { try? FileManager.default.removeItem(atPath: outputs.image) }
        var asked = 0
        let events = RunEvents(
            report: { _ in }, note: { _ in }, warning: { _ in },
            shouldStop: {
                asked += 1
                return asked > polls
            }, finished: { _, _ in })
        return try job.perform(
            outputs: outputs, checkpoint: CheckpointIdentity(weightsSHA256: "w", inputsSHA256: []), reportEvery: 0,
            events: events
        ).end
    }

    private func temporaryPath(_ suffix: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("c2f-\(UUID().uuidString).\(suffix)").path
    }

    /// A learning rate far too large drives the unprojected image out of 0–255 (what the writer
    /// would clamp); with the projection, every value the run hands to the writer is in range,
    /// for Adam and L-BFGS.
    func testProjectionKeepsTheWrittenImageInRange() throws {
        for backend in try testBackends() {
            for optimizer in OptimizerKind.allCases {
                var outside = options(iterations: 6, optimizer: optimizer, clamp: false)
                outside.optimization.learningRate = optimizer == .adam ? 200 : 50
                let free = try job(outside, backend)
                _ = try free.run.run(reportEvery: 0, onReport: { _ in })
                let freePixels = try free.run.resultImage()
                XCTAssertTrue(freePixels.contains { $0 < 0 || $0 > 255 }, "the test drives the image out of range")

                var inside = outside
                inside.optimization.clamp = true
                let projected = try job(inside, backend)
                XCTAssertEqual(try projected.run.run(reportEvery: 0, onReport: { _ in }), .completed)
                let pixels = try projected.run.resultImage()
                XCTAssertTrue(pixels.allSatisfy { (0...255).contains($0) }, "\(backend.name) \(optimizer)")
                XCTAssertTrue(pixels != projected.content.pixels, "the image moved")
            }
        }
    }

    /// The average after 3 steps by hand: x̂ = Σ (1−d)·d^(3−i)·x_i / (1 − d⁴) over x_0 … x_3.
    func testAverageIsTheBiasCorrectedMeanOfTheIterates() throws {
        let decay = 0.6
        for backend in try testBackends() {
            let averaged = try job(options(iterations: 3, averageDecay: decay), backend)
            var iterates = [try averaged.run.currentImage()]
            // One rounding in (1−d)·x_0, one in the correction and one in d's conversion to float.
            XCTAssertLessThanOrEqual(
                largestDifference(try averaged.run.resultImage(), iterates[0].map(Double.init)),
                3 * 255 * Double(Float.ulpOfOne), "x̂_0 = x_0")
            for _ in 0..<3 {
                XCTAssertTrue(try averaged.run.step())
                iterates.append(try averaged.run.currentImage())
            }
            let normaliser = 1 - pow(decay, 4)
            let expected = iterates[0].indices.map { index in
                iterates.indices.reduce(0.0) { sum, i in
                    sum + (1 - decay) * pow(decay, Double(3 - i)) * Double(iterates[i][index])
                } / normaliser
            }
            let result = try averaged.run.resultImage()
            // Four updates of two roundings each (scale, multiply-add) of values ≤ 255, the
            // correction, and d and 1−d rounded to float: each ≤ 255·ε/2, so 12·255·ε/2 in all.
            XCTAssertLessThanOrEqual(
                largestDifference(result, expected), 6 * 255 * Double(Float.ulpOfOne), backend.name)
            XCTAssertGreaterThan(
                largestDifference(result, iterates[3].map(Double.init)), 1, "the average is not the last iterate")
        }
    }

    private func largestDifference(_ a: [Float], _ b: [Double]) -> Double {
        zip(a, b).map { abs(Double($0) - $1) }.max() ?? .infinity
    }

    /// Each scale after the first starts from the previous scale's result enlarged with the
    /// project's filter (and projected), at iteration 0, with targets at its own size.
    func testNextScaleStartsFromTheEnlargedResult() throws {
        for backend in try testBackends() {
            let twoScales = try job(options(iterations: 2, size: 64, scales: 2, averageDecay: 0.5), backend)
            XCTAssertEqual(twoScales.scales.sides, [32, 64])
            XCTAssertEqual(twoScales.run.image.shape, Shape(c: 3, h: 21, w: 32))
            _ = try twoScales.run.run(reportEvery: 0, onReport: { _ in })
            let result = try twoScales.resultImage()
            weak var firstScale = twoScales.run
            XCTAssertTrue(try twoScales.advance())
            XCTAssertNil(firstScale, "the first scale's run and its device memory are gone")
            XCTAssertEqual(twoScales.run.scale, 1)
            XCTAssertEqual(twoScales.run.iteration, 0)
            XCTAssertEqual(twoScales.run.image.shape, Shape(c: 3, h: 43, w: 64))
            let enlarged = result.resized(width: 64, height: 43).pixels.map { min(max($0, 0), 255) }
            XCTAssertTrue(try twoScales.run.currentImage() == enlarged, backend.name)
            XCTAssertFalse(try twoScales.advance(), "no scale after the last")
        }
    }

    /// A coarse-to-fine run stopped inside its first scale, and one stopped at the end of it,
    /// resumed through the checkpoint file, end bit-identical to an uninterrupted run (Adam with
    /// the average, L-BFGS with the projection).
    func testResumeAcrossAScaleBoundaryIsBitIdentical() throws {
        let file = temporaryPath("ckpt")
        defer { try? FileManager.default.removeItem(atPath: file) }
        for backend in try testBackends() {
            for optimizer in OptimizerKind.allCases {
                let settings = options(
                    iterations: 3, optimizer: optimizer, size: 64, scales: 2,
                    averageDecay: optimizer == .adam ? 0.7 : 0)
                let straight = try job(settings, backend)
                XCTAssertEqual(try perform(straight), .completed)
                let expected = try straight.run.resultImage()
                XCTAssertEqual(straight.run.scale, 1)

                // Stopped after 2 steps of scale 0, then after the whole of scale 0 (3 polls, then the boundary).
                for polls in [2, 3] {
                    let first = try job(settings, backend)
                    guard case .interrupted = try perform(first, checkpoint: file, stopAfter: polls) else {
                        return XCTFail("the first part was not interrupted")
                    }
                    let saved = try Checkpoint.read(file)
                    XCTAssertEqual(saved.state.scale, 0)
                    XCTAssertEqual(saved.state.iteration, polls == 2 ? 2 : 3)
                    XCTAssertEqual(saved.state.average != nil, optimizer == .adam)
                    let second = try job(settings, backend, resume: saved.state)
                    XCTAssertEqual(try perform(second), .completed)
                    XCTAssertTrue(
                        try second.run.resultImage() == expected, "\(backend.name) \(optimizer) stopped after \(polls)")
                }
            }
        }
    }

    /// A checkpoint of a scale the run does not have is refused in one line.
    func testCheckpointOfAnotherScalePlanIsRefused() throws {
        let backend = NativeBackend()
        let twoScales = try job(options(iterations: 1, size: 64, scales: 2), backend)
        _ = try twoScales.run.run(reportEvery: 0, onReport: { _ in })
        XCTAssertTrue(try twoScales.advance())
        let state = try twoScales.run.exportState()
        XCTAssertThrowsError(try job(options(iterations: 1, size: 64, scales: 1), backend, resume: state)) {
            XCTAssertTrue(describe($0).contains("the checkpoint is at scale 2, but this run has 1 scale"), describe($0))
        }
    }
}
