import Foundation
@testable import GPUStyle
import XCTest

final class MemoryPlanTests: XCTestCase {
    private func options(size: Int, optimizer: OptimizerKind = .adam) -> StyleJobOptions {
        var options = StyleJobOptions(contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("the_scream.jpg")])
        options.imageSize = size
        options.optimization = OptimizationSettings(iterations: 2, optimizer: optimizer, lbfgsHistory: 3)
        return options
    }

    /// The plan is what the run really allocates: at least the peak the backend counted, and
    /// not more than the weights' padding and small scalar buffers above it.
    func testPlanCoversTheRunsPeakAllocation() throws {
        for backend in try testBackends() {
            for optimizer in OptimizerKind.allCases {
                let options = options(size: 40, optimizer: optimizer)
                let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
                _ = try job.run.run(reportEvery: 0, onReport: { _ in })
                let plan = try options.memoryPlan(imageSize: 40, content: (451, 300), styles: [(1200, 1528)], backend: backend)
                let peak = backend.peakAllocatedBytes
                XCTAssertGreaterThanOrEqual(plan.totalBytes, peak, "\(backend.name) \(optimizer)")
                XCTAssertLessThanOrEqual(Double(plan.totalBytes), 1.05 * Double(peak), "\(backend.name) \(optimizer)")
            }
        }
    }

    func testTooLargeARunFailsBeforeWorkWithTheSizeThatFits() throws {
        let options = options(size: 512)
        let backend = NativeBackend()
        let plan = try options.memoryPlan(imageSize: 512, content: (451, 300), styles: [(1200, 1528)], backend: backend)
        let capacity = MemoryCapacity(totalBytes: UInt64(plan.totalBytes / 2), largestBufferBytes: 1 << 40)
        XCTAssertThrowsError(try options.checkFits(capacity, backend: backend, content: (451, 300), styles: [(1200, 1528)])) { error in
            let text = describe(error)
            XCTAssertTrue(text.contains("the largest --image-size that fits is"), text)
            guard let suggested = Int(text.components(separatedBy: "fits is ").last ?? "") else { return XCTFail(text) }
            XCTAssertTrue((try? options.memoryPlan(imageSize: suggested, content: (451, 300), styles: [(1200, 1528)], backend: backend))?.fits(capacity) ?? false)
            XCTAssertFalse((try? options.memoryPlan(imageSize: suggested + 1, content: (451, 300), styles: [(1200, 1528)], backend: backend))?.fits(capacity) ?? true)
        }
        XCTAssertNoThrow(try options.checkFits(MemoryCapacity(totalBytes: 1 << 40, largestBufferBytes: 1 << 40), backend: backend,
                                               content: (451, 300), styles: [(1200, 1528)]))
    }

    func testEnvironmentOverride() throws {
        let device = MemoryCapacity(totalBytes: 8 << 30, largestBufferBytes: 2 << 30)
        XCTAssertEqual(try device.applyingOverride(environment: [:]), device)
        XCTAssertEqual(try device.applyingOverride(environment: ["STYLIZE_GPU_DEVICE_MEMORY": "512M"]),
                       MemoryCapacity(totalBytes: 512 << 20, largestBufferBytes: 512 << 20))
        XCTAssertEqual(try device.applyingOverride(environment: ["STYLIZE_GPU_DEVICE_MEMORY": "4GiB"]).totalBytes, 4 << 30)
        XCTAssertEqual(try device.applyingOverride(environment: ["STYLIZE_GPU_DEVICE_MEMORY": "1000"]).totalBytes, 1000)
        XCTAssertThrowsError(try device.applyingOverride(environment: ["STYLIZE_GPU_DEVICE_MEMORY": "lots"]))
    }
}
