import Foundation
@testable import GPUStyle
import XCTest

/// The run loop with the real weights at a small size, on every backend.
final class StyleRunTests: XCTestCase {
    private func options(iterations: Int, optimizer: OptimizerKind = .adam, initialization: Initialization = .content,
                         size: Int = 48) -> StyleJobOptions {
        var options = StyleJobOptions(contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("starry_night.jpg")])
        options.imageSize = size
        options.optimization = OptimizationSettings(iterations: iterations, optimizer: optimizer)
        options.initialization = initialization
        options.seed = 7
        return options
    }

    private func run(_ options: StyleJobOptions, on backend: Backend) throws -> (reports: [IterationReport], pixels: [Float]) {
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
    /// the loss scalars it reports (and L-BFGS's dot products, which are scalars too).
    func testIterationsNeitherAllocateNorTransfer() throws {
        for optimizer in OptimizerKind.allCases {
            let counting = CountingBackend(NativeBackend())
            let job = try StyleJob(options: options(iterations: 6, optimizer: optimizer),
                                   weightsPath: try cachedWeightsPath(), backend: counting) { _ in }
            let (allocations, uploads, downloads) = (counting.allocations, counting.uploads, counting.downloads)
            var reports = 0
            _ = try job.run.run(reportEvery: 0, onReport: { _ in reports += 1 })
            XCTAssertEqual(counting.allocations, allocations, "\(optimizer): no allocation in the loop")
            XCTAssertEqual(counting.uploads, uploads, "\(optimizer): no upload in the loop")
            XCTAssertEqual(reports, 2, "first and last iteration are reported")
            if optimizer == .adam {
                XCTAssertEqual(counting.downloads - downloads, 2, "only the two reported loss reads")
            }
        }
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
        var blended = options(iterations: 1)
        blended.stylePaths.append(examplePath("the_scream.jpg"))
        blended.styleBlendWeights = [3, 1]
        XCTAssertEqual(try blended.normalisedBlendWeights(), [0.75, 0.25])
    }
}
