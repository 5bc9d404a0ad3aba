import Foundation
@testable import GPUStyle
import XCTest

/// The tiled evaluation (docs/DESIGN.md, "Tiled evaluation"): its grid, and its losses and
/// gradient against the untiled objective's.
final class TiledObjectiveTests: XCTestCase {
    /// Every pixel in exactly one interior, for odd sizes and every offset; each region is its
    /// interior widened by the halo and clipped to the image, starts on the alignment and fits
    /// the largest tile; `regionSizes` is the tallest region and every width there is.
    func testGridCoversEveryPixelExactlyOnce() throws {
        let a = TileGrid.alignment
        for (height, width) in [(1, 1), (15, 17), (16, 33), (100, 161), (333, 47)] {
            for tileSize in [16, 32, 48, 80] {
                for halo in [16, 64] {
                    let grid = try TileGrid(height: height, width: width, tileSize: tileSize, halo: halo)
                    var seen: (heights: Set<Int>, widths: Set<Int>) = ([], [])
                    for oy in stride(from: 0, to: tileSize, by: a) {
                        for ox in stride(from: 0, to: tileSize, by: a) {
                            var cover = [Int](repeating: 0, count: height * width)
                            for tile in grid.tiles(offset: PlanePoint(y: oy, x: ox)) {
                                let (i, r) = (tile.interior, tile.region)
                                XCTAssertFalse(i.isEmpty)
                                XCTAssertTrue(i.lies(inHeight: height, width: width))
                                XCTAssertEqual(i.y % a, 0)
                                XCTAssertEqual(r.y % a, 0)
                                XCTAssertEqual(r.x % a, 0)
                                XCTAssertEqual(r.y, max(0, i.y - halo))
                                XCTAssertEqual(r.x, max(0, i.x - halo))
                                XCTAssertEqual(r.y + r.height, min(height, i.y + i.height + halo))
                                XCTAssertEqual(r.x + r.width, min(width, i.x + i.width + halo))
                                XCTAssertLessThanOrEqual(r.height, grid.largestTile.height)
                                XCTAssertLessThanOrEqual(r.width, grid.largestTile.width)
                                seen.heights.insert(r.height)
                                seen.widths.insert(r.width)
                                for y in i.y..<(i.y + i.height) {
                                    for x in i.x..<(i.x + i.width) { cover[y * width + x] += 1 }
                                }
                            }
                            XCTAssertEqual(cover, [Int](repeating: 1, count: height * width), "\(width)×\(height)")
                        }
                    }
                    XCTAssertEqual(grid.regionSizes.tallest, seen.heights.max())
                    XCTAssertEqual(grid.regionSizes.widths, seen.widths.sorted())
                }
            }
        }
    }

    /// The shift is a multiple of the alignment below the tile size, the same for the same seed,
    /// scale and iteration, and it moves.
    func testGridOffsetIsSeededAndMoves() throws {
        let grid = try TileGrid(height: 1000, width: 700, tileSize: 256, halo: 64)
        let offsets = (0..<50).map { grid.offset(seed: 3, scale: 1, iteration: $0) }
        XCTAssertEqual(offsets, (0..<50).map { grid.offset(seed: 3, scale: 1, iteration: $0) })
        XCTAssertTrue(offsets.allSatisfy { $0.y % 16 == 0 && $0.x % 16 == 0 && (0..<256).contains($0.y) })
        XCTAssertGreaterThan(Set(offsets).count, 25)
        XCTAssertNotEqual(offsets, (0..<50).map { grid.offset(seed: 4, scale: 1, iteration: $0) })
    }

    /// Shallow layers (receptive field of relu2_1: ±5 pixels, 10 for a feature's own inputs) with a
    /// 16-pixel halo: the tiled losses and gradient are the untiled ones up to float32 rounding.
    /// Both compute the same sums in other groupings; the bound is 2·γ(K) of the longest chain of
    /// rounded terms a gradient value passes through (the Gram over all M pixels and the tiles,
    /// its MSE gradient, Gram backward, three convolutions backward, preprocessing), relative to
    /// the largest |value| (losses: to the loss; their terms are all non-negative).
    func testTiledEqualsUntiledOnShallowLayersWithinFloat32Rounding() throws {
        let layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        for backend in try testBackends() {
            let result = try compare(
                backend: backend, layers: layers, imageSize: 88, tiling: Tiling(tileSize: 32, halo: 16))
            let m = 88 * 66
            let k = (m + 16) + (64 * 64 + 1) + (2 * 128 + 3) + (9 * 128 + 1) + (9 * 64 + 1) + (9 * 64 + 1) + 3 + 8
            let bound = 2 * float32ErrorFactor(terms: k)
            print("tiled vs untiled, shallow, \(backend.name): gradient \(result.gradient), losses \(result.losses)")
            XCTAssertLessThanOrEqual(result.gradient, bound, backend.name)
            XCTAssertLessThanOrEqual(result.losses, bound, backend.name)
        }
    }

    /// Two styles of different sizes, blended, each through its own grid: the same bound with one
    /// term more (the blend's sum of the two targets).
    func testTiledEqualsUntiledWithTwoStyles() throws {
        let layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        for backend in try testBackends() {
            let result = try compare(
                backend: backend, layers: layers, imageSize: 88, tiling: Tiling(tileSize: 32, halo: 16),
                styles: [examplePath("starry_night.jpg"), examplePath("the_scream.jpg")])
            let m = 88 * 66
            let k = (m + 16) + (64 * 64 + 1) + (2 * 128 + 3) + (9 * 128 + 1) + (9 * 64 + 1) + (9 * 64 + 1) + 3 + 9
            let bound = 2 * float32ErrorFactor(terms: k)
            XCTAssertLessThanOrEqual(result.gradient, bound, backend.name)
            XCTAssertLessThanOrEqual(result.losses, bound, backend.name)
        }
    }

    /// Per-layer weights (one of them 0, which leaves its layer out) on the style and content
    /// layers: the same bound as without them, each term's scale one rounded product more.
    func testTiledEqualsUntiledWithPerLayerWeights() throws {
        let layers = LayerSelection(content: ["relu1_2", "relu2_1"], style: ["relu1_1", "relu1_2", "relu2_1"])
        for backend in try testBackends() {
            let result = try compare(
                backend: backend, layers: layers, imageSize: 88, tiling: Tiling(tileSize: 32, halo: 16),
                styleLayerWeights: [2, 0, 0.5], contentLayerWeights: [0.25, 1])
            let m = 88 * 66
            let k = (m + 16) + (64 * 64 + 1) + (2 * 128 + 3) + (9 * 128 + 1) + (9 * 64 + 1) + (9 * 64 + 1) + 3 + 9
            let bound = 2 * float32ErrorFactor(terms: k)
            print(
                "tiled vs untiled, per-layer weights, \(backend.name): gradient \(result.gradient), losses \(result.losses)"
            )
            XCTAssertLessThanOrEqual(result.gradient, bound, backend.name)
            XCTAssertLessThanOrEqual(result.losses, bound, backend.name)
        }
    }

    /// Style masks (two styles, complementary masks, and source masks, or source masks alone):
    /// each masked style's Grams are pixel sums of its weighted features, so the same bound holds
    /// with three rounded products more (the features and the target's by their weights, the
    /// weighted gradient back).
    func testTiledEqualsUntiledWithMasks() throws {
        let layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        let (left, right) = (examplePath("mask_left.png"), examplePath("mask_right.png"))
        for backend in try testBackends() {
            for (masks, sourceMasks) in [([left, right], [right, left]), (nil, [right, left])] {
                let result = try compare(
                    backend: backend, layers: layers, imageSize: 88, tiling: Tiling(tileSize: 32, halo: 16),
                    styles: [examplePath("starry_night.jpg"), examplePath("the_scream.jpg")], styleMasks: masks,
                    sourceMasks: sourceMasks)
                let m = 88 * 66
                let k = (m + 16) + (64 * 64 + 1) + (2 * 128 + 3) + (9 * 128 + 1) + (9 * 64 + 1) + (9 * 64 + 1) + 3 + 11
                let bound = 2 * float32ErrorFactor(terms: k)
                let name = "\(backend.name), masks \(masks != nil)"
                print("tiled vs untiled, masked, \(name): gradient \(result.gradient), losses \(result.losses)")
                XCTAssertLessThanOrEqual(result.gradient, bound, name)
                XCTAssertLessThanOrEqual(result.losses, bound, name)
            }
        }
    }

    /// A job that tiles passes its per-layer weights to the tiled objective: its first losses are
    /// the untiled job's with the same weights (within the shallow test's bound), not the
    /// unweighted ones.
    func testTiledJobTakesPerLayerWeights() throws {
        func losses(tiled: Bool, weighted: Bool) throws -> LossValues {
            var options = StyleJobOptions(
                contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("starry_night.jpg")])
            options.imageSize = 64
            options.layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
            options.tileSize = tiled ? 32 : nil
            if weighted {
                options.styleLayerWeights = [3, 0]
                options.contentLayerWeights = [0.5]
            }
            let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: NativeBackend()) {
                _ in
            }
            XCTAssertEqual(job.tilings.first.map { $0 != nil }, tiled)
            let run = job.run
            let noisy = try run.backend.download(run.image).enumerated().map { Float(($0 * 37) % 256) * 0.5 + $1 * 0.5 }
            try run.backend.upload(noisy, to: run.image)
            let gradient = try run.backend.makeTensor(run.image.shape)
            try run.objective.evaluate(image: run.image, gradient: gradient)
            return try run.objective.readLosses()
        }
        let (tiled, untiled, plain) = (
            try losses(tiled: true, weighted: true), try losses(tiled: false, weighted: true),
            try losses(tiled: true, weighted: false)
        )
        let m = 64 * 48
        let k = (m + 16) + (64 * 64 + 1) + (2 * 128 + 3) + (9 * 128 + 1) + (9 * 64 + 1) + (9 * 64 + 1) + 3 + 9
        let bound = 2 * float32ErrorFactor(terms: k)
        for (a, b) in [(tiled.style, untiled.style), (tiled.content, untiled.content)] {
            XCTAssertLessThanOrEqual(abs(Double(a) - Double(b)), bound * Double(b), "\(a) against \(b)")
        }
        XCTAssertGreaterThan(abs(tiled.style - plain.style), 0.1 * plain.style)
        XCTAssertEqual(Double(tiled.content), 0.5 * Double(plain.content), accuracy: bound * Double(plain.content))
    }

    /// The full default network (relu5_1: receptive field over 200 pixels) at the default halo:
    /// measured (docs/DESIGN.md, 384×288 in tiles of 64) ‖Δg‖₂ / ‖g‖₂ = 6·10⁻⁶ and the losses
    /// 2·10⁻⁷ from the untiled ones; bounded here at 10⁻³ both, 20 times what a 48-pixel halo gives.
    func testTiledDefaultNetworkAtTheDefaultHalo() throws {
        for backend in try testBackends() {
            let result = try compare(
                backend: backend, layers: LayerSelection(), imageSize: 192, tiling: Tiling(tileSize: 32))
            print("tiled vs untiled, default network, \(backend.name): gradient \(result.l2), losses \(result.losses)")
            XCTAssertLessThanOrEqual(result.l2, 1e-3, backend.name)
            XCTAssertLessThanOrEqual(result.losses, 1e-3, backend.name)
        }
    }

    /// Two tiled objectives of the same settings give the same loss bits: the style loss sums its
    /// layers in layer order (a dictionary's order, seeded per instance, once decided it).
    func testTwoTiledObjectivesGiveTheSameLossBits() throws {
        let layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu1_2", "relu2_1", "relu2_2"])
        let backend = NativeBackend()
        var options = StyleJobOptions(
            contentPath: examplePath("tubingen.jpg"), stylePaths: [examplePath("starry_night.jpg")])
        options.imageSize = 64
        options.layers = layers
        let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
        let content = try backend.makeTensor(Shape(c: 3, h: job.content.height, w: job.content.width))
        try backend.upload(job.content.pixels, to: content)
        let style = try backend.makeTensor(Shape(c: 3, h: job.styles[0].height, w: job.styles[0].width))
        try backend.upload(job.styles[0].pixels, to: style)
        let gradient = try backend.makeTensor(content.shape)
        let losses = try (0..<4).map { _ in
            let objective = try TiledObjective(
                network: job.network, height: content.shape.h, width: content.shape.w, content: content,
                styles: [StyleTarget(image: style, blendWeight: 1)], layers: layers, weights: options.lossWeights,
                tiling: Tiling(tileSize: 32, halo: 16), seed: 5)
            try objective.evaluate(image: content, gradient: gradient, iteration: 1)
            return try objective.readLosses().style.bitPattern
        }
        XCTAssertEqual(Set(losses).count, 1, "\(losses)")
    }

    /// Keeping what each tile's backward pass reads between the passes gives the bits of running
    /// its forward pass again: the backward pass reads the same masks, winners and loss-layer
    /// values. The default network (in-place pooling backward), 16-bit layer outputs, and shallow
    /// layers with average pooling, two masked styles and the state on the host; two iterations,
    /// so two grid offsets.
    func testKeptActivationsGiveTheRecomputedBits() throws {
        // relu1_2 read by the backward pass alone: its codes cross to the host and back.
        let shallow = LayerSelection(content: ["relu2_2"], style: ["relu1_1", "relu2_1"])
        let (left, right) = (examplePath("mask_left.png"), examplePath("mask_right.png"))
        for backend in try testBackends() {
            for (layers, masked, onHost, pooling, storage) in [
                (LayerSelection(), false, false, PoolMode.max, ActivationStorage.float),
                (LayerSelection(), false, false, .max, .half), (shallow, true, true, .avg, .float),
            ] {
                var options = StyleJobOptions(
                    contentPath: examplePath("tubingen.jpg"),
                    stylePaths: [examplePath("starry_night.jpg"), examplePath("the_scream.jpg")])
                options.imageSize = 88
                options.layers = layers
                options.pooling = pooling
                options.storage = storage
                let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in
                }
                let state: Backend = onHost ? NativeBackend() : backend
                let (h, w) = (job.content.height, job.content.width)
                func tensor(_ image: RGBImage) throws -> Tensor {
                    let tensor = try state.makeTensor(Shape(c: 3, h: image.height, w: image.width))
                    try state.upload(image.pixels, to: tensor)
                    return tensor
                }
                let content = try tensor(job.content)
                let styles = try zip(job.styles, [left, right]).map { image, mask in
                    StyleTarget(
                        image: try tensor(image), blendWeight: 0.5,
                        mask: masked
                            ? try StyleMaskImage.read(mask, options: options) { _ in }.tensor(
                                width: w, height: h, state)
                            : nil)
                }
                var generator = SeededGenerator(seed: 7)
                let noisy = job.content.pixels.map {
                    min(255, max(0, $0 + Float.random(in: -20...20, using: &generator)))
                }
                let image = try state.makeTensor(content.shape)
                try state.upload(noisy, to: image)
                let gradient = try state.makeTensor(content.shape)
                let results = try [false, true].map { keeps in
                    let objective = try TiledObjective(
                        network: job.network, height: h, width: w, content: content, styles: styles, layers: layers,
                        weights: options.lossWeights,
                        tiling: Tiling(tileSize: 32, halo: 16, stateOnHost: onHost, keepsActivations: keeps), seed: 5,
                        state: state)
                    return try (1...2).map { iteration in
                        try objective.evaluate(image: image, gradient: gradient, iteration: iteration)
                        let losses = try objective.readLosses()
                        return (
                            try state.download(gradient).map(\.bitPattern),
                            [losses.content, losses.style, losses.totalVariation].map(\.bitPattern)
                        )
                    }
                }
                let name =
                    "\(backend.name), \(layers.style.count) style layers, \(pooling), \(storage), masked \(masked)"
                for (recomputed, kept) in zip(results[0], results[1]) {
                    let differing = zip(recomputed.0, kept.0).filter { $0 != $1 }.count
                    XCTAssertEqual(differing, 0, "\(name): gradient values that differ")
                    XCTAssertEqual(recomputed.1, kept.1, "\(name): loss bits")
                    XCTAssertTrue(recomputed.0.contains { $0 != 0 }, name)
                }
            }
        }
    }

    /// ‖Δg‖₂ / ‖g‖₂ against the halo (printed), for docs/DESIGN.md's choice of the default. Runs
    /// only with STYLIZE_GPU_MEASURE_HALO=1 (minutes on the native backend).
    func testMeasureHalo() throws {
        guard ProcessInfo.processInfo.environment["STYLIZE_GPU_MEASURE_HALO"] == "1" else {
            throw XCTSkip("set STYLIZE_GPU_MEASURE_HALO=1 to measure")
        }
        let backend = NativeBackend()
        for halo in [32, 48, 64, 96] {
            let result = try compare(
                backend: backend, layers: LayerSelection(), imageSize: 384, tiling: Tiling(tileSize: 64, halo: halo))
            print("halo \(halo): gradient L2 \(result.l2), largest \(result.gradient), losses \(result.losses)")
        }
    }

    /// The tiled and the untiled objective at one image (the content plus noise): the largest
    /// gradient difference relative to the largest |gradient|, ‖Δg‖₂/‖g‖₂, and the largest relative loss difference.
    private func compare(
        backend: Backend, layers: LayerSelection, imageSize: Int, tiling: Tiling,
        styles stylePaths: [String] = [examplePath("starry_night.jpg")], styleLayerWeights: [Float]? = nil,
        contentLayerWeights: [Float]? = nil, styleMasks: [String]? = nil, sourceMasks: [String]? = nil
    ) throws -> (
        gradient: Double, l2: Double, losses: Double
    ) {
        var options = StyleJobOptions(
            contentPath: examplePath("tubingen.jpg"), stylePaths: stylePaths)
        options.imageSize = imageSize
        options.layers = layers
        options.styleLayerWeights = styleLayerWeights
        options.contentLayerWeights = contentLayerWeights
        options.styleMaskPaths = styleMasks
        options.styleSourceMaskPaths = sourceMasks
        let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
        let content = try backend.makeTensor(Shape(c: 3, h: job.content.height, w: job.content.width))
        try backend.upload(job.content.pixels, to: content)
        let (h, w) = (job.content.height, job.content.width)
        func mask(_ paths: [String]?, _ k: Int, width: Int, height: Int) throws -> Tensor? {
            try paths.map {
                try StyleMaskImage.read($0[k], options: options) { _ in }.tensor(width: width, height: height, backend)
            }
        }
        let styles = try zip(job.styles, try options.normalisedBlendWeights()).enumerated().map { k, pair in
            let (image, weight) = pair
            let style = try backend.makeTensor(Shape(c: 3, h: image.height, w: image.width))
            try backend.upload(image.pixels, to: style)
            return StyleTarget(
                image: style, blendWeight: weight, mask: try mask(styleMasks, k, width: w, height: h),
                sourceMask: try mask(sourceMasks, k, width: image.width, height: image.height))
        }
        let tiled = try TiledObjective(
            network: job.network, height: h, width: w, content: content, styles: styles, layers: layers,
            weights: options.lossWeights, styleLayerWeights: styleLayerWeights,
            contentLayerWeights: contentLayerWeights, tiling: tiling, seed: 5)
        var generator = SeededGenerator(seed: 11)
        let values = job.content.pixels.map { min(255, max(0, $0 + Float.random(in: -20...20, using: &generator))) }
        let image = try backend.makeTensor(content.shape)
        try backend.upload(values, to: image)
        let gradient = try backend.makeTensor(content.shape)
        try tiled.evaluate(image: image, gradient: gradient, iteration: 3)
        let tiledLosses = try tiled.readLosses()
        let tiledGradient = try backend.download(gradient)
        let untiled = job.run.objective
        try untiled.evaluate(image: image, gradient: gradient)
        let losses = try untiled.readLosses()
        let exact = try backend.download(gradient)
        let largest = exact.reduce(0) { max($0, abs(Double($1))) }
        let difference = zip(tiledGradient, exact).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) }
        let l2 =
            sqrt(zip(tiledGradient, exact).reduce(0) { $0 + pow(Double($1.0) - Double($1.1), 2) })
            / sqrt(exact.reduce(0) { $0 + Double($1) * Double($1) })
        let lossDifference =
            [
                (tiledLosses.content, losses.content), (tiledLosses.style, losses.style),
                (tiledLosses.totalVariation, losses.totalVariation),
            ].map { abs($0 - $1) / max(abs($1), .leastNonzeroMagnitude) }.max() ?? 0
        return (difference / largest, l2, lossDifference)
    }
}
