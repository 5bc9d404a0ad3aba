import Foundation
@testable import GPUStyle
import XCTest

/// Issue 23's controls with the real weights at small sizes on every backend: style masks,
/// `--preserve-colors match` in a run, and per-layer weights.
final class StyleMaskTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("masks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func options(styles: [String] = [examplePath("starry_night.jpg")], iterations: Int = 3) -> StyleJobOptions {
        var options = StyleJobOptions(contentPath: examplePath("chelsea.png"), stylePaths: styles)
        options.imageSize = 48
        options.layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        options.optimization = OptimizationSettings(iterations: iterations)
        return options
    }

    /// The result after every iteration of the first scale.
    private func result(_ options: StyleJobOptions, _ backend: Backend) throws -> [Float] {
        let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
        _ = try job.run.run(reportEvery: 0, onReport: { _ in })
        return try job.resultImage().pixels
    }

    /// A PNG in the test's folder whose pixel (x, y) has the gray value `value(x, y)` (or colour).
    private func image(
        _ name: String, width: Int, height: Int, _ value: (Int, Int) -> (Float, Float, Float)
    ) throws
        -> String
    {
        let plane = width * height
        var pixels = [Float](repeating: 0, count: 3 * plane)
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = value(x, y)
                (pixels[y * width + x], pixels[plane + y * width + x], pixels[2 * plane + y * width + x]) = (r, g, b)
            }
        }
        let path = folder + "/" + name
        try ImageFile.write(RGBImage(width: width, height: height, pixels: pixels), to: path)
        return path
    }

    /// The weights of each style layer are √(m_l · M / Σ m_l), m_l the mask average-pooled 2×2 at
    /// every pool before layer l (odd rows and columns dropped, as the network's pooling does).
    func testMaskIsDownsampledPerLayerAsThePoolingDoes() throws {
        let layers = VGGModel.vgg19.layers
        let indices = Set(try ["relu1_1", "relu2_1", "relu3_1", "relu4_1"].map(VGGModel.vgg19.index(of:)))
        var generator = SplitMix64(seed: 23)
        let (height, width) = (27, 37)
        let mask = (0..<height * width).map { _ in Float(generator.nextUnit()) }
        for backend in try testBackends() {
            let tensor = try backend.makeTensor(Shape(c: 1, h: height, w: width))
            try backend.upload(mask, to: tensor)
            let weights = try MaskedStyleLoss.layerWeights(backend: backend, layers: layers, mask: tensor, at: indices)
            XCTAssertEqual(Set(weights.keys), indices)
            var expected = mask.map(Double.init)
            var (h, w) = (height, width)
            for (index, layer) in layers.enumerated() where index <= indices.max()! {
                if layer.kind == .pool {
                    let (ph, pw) = (h / 2, w / 2)
                    expected = (0..<ph * pw).map { p in
                        let (i, j) = (2 * (p / pw), 2 * (p % pw))
                        return
                            (expected[i * w + j] + expected[i * w + j + 1] + expected[(i + 1) * w + j]
                            + expected[(i + 1) * w + j + 1]) / 4
                    }
                    (h, w) = (ph, pw)
                }
                guard let weight = weights[index] else { continue }
                XCTAssertEqual(weight.shape, Shape(c: 1, h: h, w: w), layer.name)
                let area = expected.reduce(0, +)
                for (actual, m) in zip(try backend.download(weight), expected) {
                    let exact = (m * Double(expected.count) / area).squareRoot()
                    // Float pooling (3 roundings a level) and the Float weight: a few ulps.
                    XCTAssertEqual(Double(actual), exact, accuracy: 1e-5 * (exact + 1), "\(layer.name) \(backend.name)")
                }
            }
        }
    }

    /// A white mask is no mask: the same bytes as the unmasked run. The masked path itself (forced
    /// by a white source mask) weights by exactly 1 and gives the unmasked loss within float rounding.
    func testAllWhiteMaskGivesTheUnmaskedBytes() throws {
        let white = try image("white.png", width: 20, height: 10) { _, _ in (255, 255, 255) }
        for backend in try testBackends() {
            let plain = try result(options(), backend)
            var masked = options()
            masked.styleMaskPaths = [white]
            XCTAssertEqual(try result(masked, backend), plain, backend.name)
            masked.styleSourceMaskPaths = [white]
            let forced = try result(masked, backend)
            let worst = zip(forced, plain).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 0.05, "the masked path with white masks, \(backend.name)")
        }
    }

    /// Two styles of very different colours, one on the left half and one on the right: after a
    /// short run each half's mean colour leans to its own style's.
    func testComplementaryMasksGiveEachHalfItsStylesColour() throws {
        var generator = SplitMix64(seed: 5)
        let red = try image("red.png", width: 48, height: 48) { _, _ in
            (Float(180 + 75 * generator.nextUnit()), Float(40 * generator.nextUnit()), Float(40 * generator.nextUnit()))
        }
        let blue = try image("blue.png", width: 48, height: 48) { _, _ in
            (Float(40 * generator.nextUnit()), Float(40 * generator.nextUnit()), Float(180 + 75 * generator.nextUnit()))
        }
        let left = try image("left.png", width: 16, height: 8) { x, _ in x < 8 ? (255, 255, 255) : (0, 0, 0) }
        let right = try image("right.png", width: 16, height: 8) { x, _ in x < 8 ? (0, 0, 0) : (255, 255, 255) }
        for backend in try testBackends() {
            var options = options(styles: [red, blue], iterations: 40)
            options.styleMaskPaths = [left, right]
            options.lossWeights = LossWeights(content: 0, style: 100, totalVariation: 1e-3)
            options.initialization = .random
            let pixels = try result(options, backend)
            let (width, height) = (48, 32)  // chelsea at 48 px
            XCTAssertEqual(pixels.count, 3 * width * height)
            let plane = width * height
            func redness(_ columns: Range<Int>) -> Float {
                var sum: Float = 0
                for y in 0..<height {
                    for x in columns { sum += pixels[y * width + x] - pixels[2 * plane + y * width + x] }
                }
                return sum / Float(height * columns.count)
            }
            // The outer thirds, away from the seam.
            let (leftRed, rightRed) = (redness(0..<16), redness(32..<48))
            XCTAssertGreaterThan(leftRed, 30, backend.name)
            XCTAssertLessThan(rightRed, -30, backend.name)
        }
    }

    /// A source mask decides where in the style image the style comes from: one style image,
    /// red on its left half and blue on its right; with the left half as the source the result
    /// turns red, with the right half blue.
    func testSourceMaskTakesTheStyleFromItsRegion() throws {
        var generator = SplitMix64(seed: 9)
        let split = try image("split.png", width: 64, height: 48) { x, _ in
            let (high, low) = (Float(180 + 75 * generator.nextUnit()), Float(40 * generator.nextUnit()))
            return x < 32 ? (high, low, low) : (low, low, high)
        }
        let left = try image("left.png", width: 16, height: 8) { x, _ in x < 8 ? (255, 255, 255) : (0, 0, 0) }
        let right = try image("right.png", width: 16, height: 8) { x, _ in x < 8 ? (0, 0, 0) : (255, 255, 255) }
        for backend in try testBackends() {
            var redness: [Float] = []
            for source in [left, right] {
                var options = options(styles: [split], iterations: 40)
                options.styleSourceMaskPaths = [source]
                options.lossWeights = LossWeights(content: 0, style: 100, totalVariation: 1e-3)
                options.initialization = .random
                let pixels = try result(options, backend)
                let plane = pixels.count / 3
                redness.append((0..<plane).reduce(Float(0)) { $0 + pixels[$1] - pixels[2 * plane + $1] } / Float(plane))
            }
            XCTAssertGreaterThan(redness[0], 30, "\(backend.name): style from the red half")
            XCTAssertLessThan(redness[1], -30, "\(backend.name): style from the blue half")
        }
    }

    /// Layer weights: all ones are the default's bytes; a weight of 0 removes its layer's term
    /// (the same bytes as leaving the layer out while another loss keeps the network as deep).
    func testLayerWeightsDefaultIsEqualAndZeroRemovesTheTerm() throws {
        for backend in try testBackends() {
            let plain = try result(options(), backend)
            var ones = options()
            ones.styleLayerWeights = [1, 1]
            ones.contentLayerWeights = [1]
            XCTAssertEqual(try result(ones, backend), plain, backend.name)

            var zero = options()
            zero.styleLayerWeights = [1, 0]
            var without = options()
            without.layers.style = ["relu1_1"]
            XCTAssertEqual(try result(zero, backend), try result(without, backend), backend.name)

            var contentZero = options()
            contentZero.layers.content = ["relu2_1", "relu1_1"]
            contentZero.contentLayerWeights = [1, 0]
            XCTAssertEqual(try result(contentZero, backend), plain, backend.name)
            var doubled = options()
            doubled.styleLayerWeights = [2, 2]
            XCTAssertNotEqual(try result(doubled, backend), plain, backend.name)
        }
    }

    /// --preserve-colors match with two scales and masks: the run works, and the recoloured style
    /// is what the objective sees (the result's mean colour moves towards the content's).
    func testColourMatchWorksWithScalesAndMasks() throws {
        let left = try image("left.png", width: 16, height: 8) { x, _ in x < 8 ? (255, 255, 255) : (0, 0, 0) }
        let right = try image("right.png", width: 16, height: 8) { x, _ in x < 8 ? (0, 0, 0) : (200, 200, 200) }
        let backend = NativeBackend()
        var options = options(styles: [examplePath("starry_night.jpg"), examplePath("the_scream.jpg")])
        options.scales = 2
        options.styleMaskPaths = [left, right]
        options.preserveColors = .match
        let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
        var outputs = RunOutputs(image: folder + "/out.png")
        outputs.checkpointEvery = 0
        let events = RunEvents(
            report: { _ in }, note: { _ in }, warning: { _ in }, shouldStop: { false }, finished: { _, _ in })
        let end = try job.perform(
            outputs: outputs, checkpoint: CheckpointIdentity(weightsSHA256: "w", inputsSHA256: []), reportEvery: 0,
            events: events
        ).end
        XCTAssertEqual(job.run.scale, 1, "\(end)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: outputs.image))
    }

    /// A tiled run takes masks and source masks on every backend: its first style loss is the
    /// untiled run's within the tiled objective's shallow bound (TiledObjectiveTests), and it runs.
    func testTiledRunTakesMasks() throws {
        for backend in try testBackends() {
            var losses: [Double] = []
            for tiled in [false, true] {
                var masked = options(styles: [examplePath("starry_night.jpg"), examplePath("the_scream.jpg")])
                masked.tileSize = tiled ? 32 : nil
                masked.styleMaskPaths = [examplePath("mask_left.png"), examplePath("mask_right.png")]
                masked.styleSourceMaskPaths = [examplePath("mask_right.png"), examplePath("mask_left.png")]
                let job = try StyleJob(options: masked, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
                XCTAssertEqual(job.tilings, [tiled ? Tiling(tileSize: 32, keepsActivations: true) : nil], backend.name)
                let gradient = try job.run.backend.makeTensor(job.run.image.shape)
                try job.run.objective.evaluate(image: job.run.image, gradient: gradient)
                losses.append(try job.run.objective.readLosses().style)
                XCTAssertEqual(try job.run.run(reportEvery: 0, onReport: { _ in }), .completed, backend.name)
                XCTAssertTrue(try job.resultImage().pixels.allSatisfy(\.isFinite), backend.name)
            }
            let m = 48 * 36
            let k = (m + 16) + (64 * 64 + 1) + (2 * 128 + 3) + (9 * 128 + 1) + (9 * 64 + 1) + (9 * 64 + 1) + 3 + 11
            XCTAssertEqual(
                losses[1], losses[0], accuracy: 2 * float32ErrorFactor(terms: k) * losses[0],
                backend.name)
        }
    }
}
