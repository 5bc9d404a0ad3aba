import Foundation
@testable import GPUStyle
import XCTest

/// The sizes of coarse-to-fine runs and the validation of their options.
final class ScalePlanTests: XCTestCase {
    private func sides(_ imageSize: Int, scales: Int? = nil, minSize: Int? = nil) throws -> [Int] {
        try ScalePlan(imageSize: imageSize, scales: scales, minSize: minSize).sides
    }

    func testSizesFollowTheOptions() throws {
        // Neither option: one scale up to 512, then from half the size (at most 512), neighbours at most 2× apart.
        XCTAssertEqual(try sides(256), [256])
        XCTAssertEqual(try sides(512), [512])
        XCTAssertEqual(try sides(600), [300, 600])
        XCTAssertEqual(try sides(1024), [512, 1024])
        XCTAssertEqual(try sides(2048), [512, 1024, 2048])
        XCTAssertEqual(try sides(1500), [512, 876, 1500])
        // --scales alone: halving from --image-size.
        XCTAssertEqual(try sides(1024, scales: 3), [256, 512, 1024])
        XCTAssertEqual(try sides(512, scales: 1), [512])
        // --min-size alone: as few scales as keep the ratio ≤ 2.
        XCTAssertEqual(try sides(1024, minSize: 256), [256, 512, 1024])
        XCTAssertEqual(try sides(1000, minSize: 300), [300, 548, 1000])
        XCTAssertEqual(try sides(512, minSize: 512), [512])
        // Both: a geometric progression between them (√2 here).
        XCTAssertEqual(try sides(512, scales: 3, minSize: 256), [256, 362, 512])
    }

    func testDescriptionNamesEachScalesSize() throws {
        let plan = try ScalePlan(imageSize: 512, scales: 3, minSize: 256)
        XCTAssertEqual(plan.describe(width: 600, height: 400), "256×171, 362×241, 512×341")
    }

    func testBadCombinationsAreOneLineErrors() throws {
        func refused(_ imageSize: Int, scales: Int? = nil, minSize: Int? = nil, _ expected: String) {
            XCTAssertThrowsError(try ScalePlan(imageSize: imageSize, scales: scales, minSize: minSize)) {
                XCTAssertTrue(describe($0).contains(expected), describe($0))
                XCTAssertFalse(describe($0).contains("\n"))
            }
        }
        refused(512, scales: 0, "--scales must be 1…16 (got 0)")
        refused(512, scales: 17, "--scales must be")
        refused(512, minSize: 600, "--min-size must be 16…512")
        refused(512, minSize: 8, "--min-size must be 16…512")
        refused(512, scales: 1, minSize: 256, "needs two scales or more")
        refused(64, scales: 9, "repeats the size")
        refused(512, scales: 16, minSize: 505, "repeats the size")
    }

    func testJobOptionsValidateTheNewOptions() throws {
        var options = StyleJobOptions(contentPath: "c.png", stylePaths: ["s.png"])
        options.optimization.averageDecay = 1
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue(describe($0).contains("--average-decay")) }
        options.optimization.averageDecay = -0.1
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue(describe($0).contains("--average-decay")) }
        options.optimization.averageDecay = .nan
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue(describe($0).contains("--average-decay")) }
        options.optimization.averageDecay = 0.9
        options.initialIterations = 0
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue(describe($0).contains("--initial-iterations")) }
        options.initialIterations = 5
        XCTAssertNoThrow(try options.validate())
    }

    /// --save-every numbers its frames from the start of the whole run, every N-th iteration of each scale.
    func testFrameIterationsSpanTheScales() throws {
        var options = StyleJobOptions(contentPath: "c.png", stylePaths: ["s.png"])
        options.imageSize = 512
        options.scales = 3
        options.initialIterations = 30
        options.optimization.iterations = 20
        XCTAssertEqual(try options.frameIterations(every: 10), [10, 20, 30, 40, 50, 60, 70])
        XCTAssertEqual(try options.frameIterations(every: 15), [15, 30, 45, 65])
        XCTAssertEqual(options.iterationsBefore(scale: 2), 50)
    }
}
