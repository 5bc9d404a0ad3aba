import Foundation
@testable import GPUStyle
import XCTest

/// Issue 22: jobs on one network share the style targets of the same styles at the same size,
/// and a job that reuses them runs exactly as one that computed them.
final class StyleTargetCacheTests: XCTestCase {
    private func options(content: String, styles: [String] = ["starry_night.jpg"]) -> StyleJobOptions {
        var options = StyleJobOptions(contentPath: examplePath(content), stylePaths: styles.map(examplePath))
        options.imageSize = 48
        options.layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        options.optimization = OptimizationSettings(iterations: 3)
        return options
    }

    private func result(_ options: StyleJobOptions, _ backend: Backend, networks: VGGNetworkCache?) throws -> [Float] {
        let job = try StyleJob(
            options: options, weightsPath: try cachedWeightsPath(), backend: backend, networks: networks
        ) { _ in }
        XCTAssertEqual(try job.run.run(reportEvery: 0, onReport: { _ in }), .completed)
        return try job.run.resultImage()
    }

    func testReusedTargetsGiveTheSameBitsAsComputedOnes() throws {
        for backend in try testBackends() {
            let networks = VGGNetworkCache()
            let cache = networks.styleTargets
            _ = try result(options(content: "tubingen.jpg"), backend, networks: networks)
            XCTAssertEqual(cache.computed, 1)
            let reused = try result(options(content: "chelsea.png"), backend, networks: networks)
            XCTAssertEqual([cache.computed, cache.reused], [1, 1], "same style and size: reused")
            let alone = try result(options(content: "chelsea.png"), backend, networks: nil)
            XCTAssertEqual(reused, alone, "\(backend.name): a reused target is the computed one, bit for bit")

            // Another style, another blend or another size is not the same target.
            _ = try result(options(content: "chelsea.png", styles: ["the_scream.jpg"]), backend, networks: networks)
            var blended = options(content: "chelsea.png", styles: ["starry_night.jpg", "the_scream.jpg"])
            blended.styleBlendWeights = [1, 3]
            _ = try result(blended, backend, networks: networks)
            var larger = options(content: "chelsea.png")
            larger.imageSize = 64
            _ = try result(larger, backend, networks: networks)
            XCTAssertEqual([cache.computed, cache.reused], [4, 1], "\(backend.name)")
        }
    }

    /// The key is the styles' pixels, so a recoloured style (`--preserve-colors match`, which
    /// depends on the content) is not taken for the plain one.
    func testRecolouredStylesAreNotSharedAcrossContents() throws {
        let backend = NativeBackend()
        let networks = VGGNetworkCache()
        for content in ["tubingen.jpg", "chelsea.png", "tubingen.jpg"] {
            var matched = options(content: content)
            matched.preserveColors = .match
            _ = try result(matched, backend, networks: networks)
        }
        XCTAssertEqual([networks.styleTargets.computed, networks.styleTargets.reused], [2, 1])
    }
}
