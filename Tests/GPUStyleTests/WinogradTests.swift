@testable import GPUStyle
import XCTest

/// The Winograd F(2×2,3×3), F(4×4,3×3) and F(6×6,3×3) convolutions of the native backend and of
/// the OpenCL kernels (every layer forced onto Winograd) against the Float64 bound of
/// `winogradErrorBound` (WinogradErrorBound.swift), on awkward shapes.
final class WinogradTests: XCTestCase {
    private var generator = SeededGenerator(seed: 0x3A7)

    /// The helper itself: its exact result is the direct convolution, and its magnitude covers
    /// the direct Σ|terms| (every direct term w·d is a sum of Winograd monomials) without being
    /// loose by more than the transforms' fan-out.
    func testBoundHelperIsExactAndItsMagnitudeCoversTheDirectTerms() {
        for tile in [2, 4, 6] {
            for (c, o, h, w) in [(1, 1, 1, 1), (3, 2, 5, 7), (5, 4, 2, 33), (2, 3, 13, 3)] {
                let input = ReferenceTensor.random(Shape(c: c, h: h, w: w), using: &generator)
                let weights = ReferenceTensor.random(Shape(c: o * c, h: 3, w: 3), using: &generator).values
                let bound = winogradErrorBound(
                    input: input.values, channels: c, height: h, width: w, weights: weights,
                    outputChannels: o, tile: tile)
                let zeroBias = [Double](repeating: 0, count: o)
                let direct = ReferenceOps.conv3x3(
                    input, weights: weights, bias: zeroBias, outputChannels: o, relu: false)
                let directMagnitude = ReferenceOps.conv3x3(
                    input.magnitudes, weights: weights.map(abs), bias: zeroBias,
                    outputChannels: o, relu: false)
                for k in 0..<direct.values.count {
                    XCTAssertEqual(
                        bound.exact[k], direct.values[k], accuracy: 1e-12, "exact \(c)→\(o) \(h)×\(w) [\(k)]")
                    XCTAssertGreaterThanOrEqual(bound.magnitude[k], directMagnitude.values[k] * (1 - 1e-12), "\(k)")
                    // Measured on these inputs, not derived: no factor holds for every input (the
                    // magnitude pairs taps with pixels that no direct term pairs). An all-ones
                    // input gives 7.1, 256 and 509.
                    let fanOut = [2: 16.0, 4: 256, 6: 4096][tile]!
                    XCTAssertLessThanOrEqual(bound.magnitude[k], fanOut * directMagnitude.values[k] + 1e-300, "\(k)")
                }
            }
        }
    }

    /// (input channels, output channels, H, W) over H, W ∈ {1, 2, 3, 5, 7, 13, 33} and channels
    /// ∈ {1, 3, 5, 64, 67}: odd sizes (ragged last tiles), 1×1, single rows and columns; sampled so
    /// every value appears and the big channel counts meet small and odd images. Widths 67 and 70
    /// give the row kernels whole blocks of 8 tiles in the middle of a row, not only at its edges;
    /// for F(6×6)'s blocks of 48 pixels, 95 (the input's last whole block reads past the edge) and 100.
    /// 32×32 in F(2×2) is 256 tiles, whose scratch rows are a vector longer than the multiply computes.
    /// The native backend's algorithm that forces F(tile×tile,3×3).
    static func nativeAlgorithm(tile: Int) -> ConvolutionAlgorithm {
        [2: .winograd, 4: .winograd4, 6: .winograd6][tile]!
    }

    static let cases: [(c: Int, o: Int, h: Int, w: Int)] = [
        (1, 1, 1, 1), (3, 5, 1, 7), (5, 64, 2, 3), (64, 67, 3, 13), (67, 1, 13, 7), (3, 64, 33, 5),
        (64, 3, 7, 2), (67, 67, 5, 5), (5, 1, 33, 1), (1, 67, 2, 33), (64, 5, 13, 33), (67, 3, 33, 13),
        (5, 3, 7, 70), (3, 64, 2, 67), (5, 3, 7, 95), (3, 5, 13, 100), (5, 3, 32, 32), (3, 5, 13, 48),
    ]

    /// Every Winograd implementation of each tile size (2: F(2×2,3×3), 4: F(4×4,3×3), 6: F(6×6,3×3)),
    /// with its default bands and with one tile row per band (the banding must not show): fresh
    /// backends, named for the messages.
    static func winogradBackends() throws -> [(name: String, backend: Backend, tile: Int)] {
        var backends: [(name: String, backend: Backend, tile: Int)] = []
        for tile in [2, 4, 6] {
            for bandFloats in [NativeBackend.defaultWinogradBandFloats, 1] {
                let native = NativeBackend(convolution: nativeAlgorithm(tile: tile))
                native.winogradBandFloats = bandFloats
                native.winogradWideBandFloats = bandFloats
                backends.append(("native F\(tile) band \(bandFloats)", native, tile))
            }
        }
        if let device = DeviceCatalog.discover().openCLDevices.first {
            // The multiply both ways: register blocks, and local-memory tiles (two tile shapes,
            // one or two local buffers, the wide variant from 64 output channels; F(4×4) and F(6×6)
            // run the same multiply kernels, so fewer variants cover them).
            typealias Tiled = (m: Int, n: Int, buffers: Int, wideFrom: Int)
            for tile in [2, 4, 6] {
                let variants: [(Int?, Tiled?)] =
                    tile == 2
                    ? [(nil, nil), (1, nil), (nil, (4, 8, 1, 0)), (1, (8, 4, 2, 0)), (nil, (4, 8, 1, 64))]
                    : [(nil, nil), (1, (8, 4, 1, 0)), (nil, (4, 8, 2, 64))]
                for (band, tiled) in variants {
                    var options = ProgramOptions.defaults(for: device.info)
                    options.defines["CONV_WINOGRAD"] = 2
                    options.defines["WINO_TILE"] = tile
                    if let band { options.defines["WINO_BAND"] = band }
                    var name = "opencl F\(tile) band \(options.winogradBandFloats)"
                    if let tiled {
                        options.defines["WINO_GEMM"] = 1
                        options.defines["WGEMM_M"] = tiled.m
                        options.defines["WGEMM_N"] = tiled.n
                        options.defines["WGEMM_DB"] = tiled.buffers - 1
                        options.defines["WGEMM_WIDE"] = tiled.wideFrom
                        name += " tiled \(tiled.m)×\(tiled.n), \(tiled.buffers) buffers, wide from \(tiled.wideFrom)"
                    }
                    backends.append((name, try OpenCLBackend(device: device, options: options), tile))
                }
            }
            // The CPU-only options the other way from the device's default (on for CPUs, off for
            // GPUs): the input transforms' row prefetch; under F(4×4) the weight transforms' tap
            // prefetch and rows per work-item (pairs stored non-temporally on CPUs); the output
            // transforms' non-temporal stores (rows of whole lines: widths 32 and 48).
            let cpuOnly: [(option: KernelOption, on: Int, off: Int, tile: Int, name: String)] = [
                (.winoRowPrefetch, 1, 0, 6, "row prefetch"), (.winoRowPrefetch, 1, 0, 4, "row prefetch"),
                (.winoTapPrefetch, 4, 0, 4, "tap prefetch"),
                (.winoWeightRows, 8, 1, 4, "weight rows"), (.ntStores, 1, 0, 4, "non-temporal stores"),
                (.ntStores, 1, 0, 6, "non-temporal stores"), (.winoHalves, 128, 0, 4, "halves"),
            ]
            for choice in cpuOnly {
                var options = ProgramOptions.defaults(for: device.info)
                options.defines["CONV_WINOGRAD"] = 2
                options.defines["WINO_TILE"] = choice.tile
                options.defines[choice.option.name] = options.value(choice.option) == choice.on ? choice.off : choice.on
                backends.append(
                    (
                        "opencl F\(choice.tile) \(choice.name) \(options.value(choice.option))",
                        try OpenCLBackend(device: device, options: options), choice.tile
                    ))
            }
        }
        return backends
    }

    /// The tiled multiply sums each product in the same order with the same fused multiply-adds
    /// as the register-block one (its padding adds exact zeros), so a convolution gives the same bits.
    /// Its bands' strides are whole blocks, so it also checks the register blocks' ragged last
    /// work-items (strides of whole vectors: the cases give bands of 3, 36 and 350 tiles, one and
    /// two vectors short of a block of 3 on AVX2).
    func testTiledMultiplyComputesTheSameBitsAsTheRegisterBlocks() throws {
        for tile in [2, 4, 6] {
            let backends = try Self.winogradBackends().filter { $0.name.hasPrefix("opencl") && $0.tile == tile }
            guard let reference = backends.first?.backend else { throw XCTSkip("no OpenCL device") }
            for shape in Self.cases {
                let input = ReferenceTensor.random(Shape(c: shape.c, h: shape.h, w: shape.w), using: &generator)
                let weights = ReferenceTensor.random(Shape(c: shape.o * shape.c, h: 3, w: 3), using: &generator).floats
                let bias = ReferenceTensor.random(.vector(shape.o), using: &generator).floats
                func forward(_ backend: Backend) throws -> [Float] {
                    let layer = try backend.makeConvWeights(
                        weights: weights, bias: bias, outputChannels: shape.o,
                        inputChannels: shape.c)
                    let output = try backend.makeTensor(Shape(c: shape.o, h: shape.h, w: shape.w))
                    try backend.conv3x3(input: backend.makeTensor(input), weights: layer, relu: false, output: output)
                    return try backend.download(output)
                }
                let expected = try forward(reference)
                for (name, backend, _) in backends.dropFirst() {
                    XCTAssertEqual(try forward(backend), expected, "\(name) \(shape)")
                }
            }
        }
    }

    /// The scratch planes hold their rows and are an odd number of 64-byte lines apart, so that
    /// the 16 to 64 planes a transform touches side by side fall in different cache sets.
    func testPlanesAreAnOddNumberOfCacheLinesApart() {
        for (rows, stride) in [(64, 1800), (256, 256), (3, 5), (512, 512), (1, 16), (128, 8)] {
            let plane = WinogradBands.plane(rows: rows, tileStride: stride)
            XCTAssertGreaterThanOrEqual(plane, rows * stride)
            XCTAssertLessThan(plane, rows * stride + 32)
            XCTAssertEqual(plane % 16, 0)
            XCTAssertEqual(plane / 16 % 2, 1, "\(rows) × \(stride)")
        }
    }

    /// `WINO_BAND_FIT` (CPUs) cuts a band at about the weight transforms' floats where they are
    /// fewer than the budget: conv1_2 at 512×384 in F(6×6) (64·64·64 floats of transforms, a tile
    /// row of 64·64·86) one row a band instead of 11; conv4_2 in F(4×4) (36·512·512, more than
    /// the budget) as without it; never less than one row or than `smallestFittedBudget`. A band
    /// whose tiles would be more than 1/32 padding to whole vectors takes more rows, up to 4 times.
    func testBandsHoldAboutTheWeightTransformsWhereFitted() {
        func bands(_ h: Int, _ w: Int, _ c: Int, _ o: Int, tile: Int, fit: Bool, multiple: Int = 8) -> WinogradBands {
            WinogradBands(
                height: h, width: w, channels: c, outputStride: o, tile: tile, strideMultiple: multiple,
                budget: 1 << 22, fitWeights: fit)
        }
        func rows(_ h: Int, _ w: Int, _ c: Int, _ o: Int, tile: Int, fit: Bool, multiple: Int = 8) -> Int {
            bands(h, w, c, o, tile: tile, fit: fit, multiple: multiple).tileRowsPerBand
        }
        XCTAssertEqual(rows(384, 512, 64, 64, tile: 6, fit: false), 11)
        XCTAssertEqual(rows(384, 512, 64, 64, tile: 6, fit: true), 1)
        XCTAssertEqual(rows(192, 256, 128, 128, tile: 6, fit: true), 2)
        XCTAssertEqual(rows(48, 64, 512, 512, tile: 4, fit: true), rows(48, 64, 512, 512, tile: 4, fit: false))
        XCTAssertEqual(rows(96, 128, 256, 256, tile: 4, fit: true), 8)  // 36·256·256 ÷ (36·256·32)
        // 3 channels: 64·3·3 floats of transforms, below the floor of 2^16 floats (3 rows of 64·3·86).
        XCTAssertEqual(rows(384, 512, 3, 3, tile: 6, fit: true), (1 << 16) / (3 * 64 * 86))
        // Vectors of 16 tiles: 86 tiles a row would compute 96, 172 compute 176; 43 (256 px) would
        // compute 48 in one row, 96 in two and 144 in three, and 176 in four.
        XCTAssertEqual(rows(384, 512, 64, 64, tile: 6, fit: true, multiple: 16), 2)
        XCTAssertEqual(rows(192, 256, 64, 128, tile: 6, fit: true, multiple: 16), 4)
        XCTAssertEqual(rows(192, 256, 128, 128, tile: 6, fit: true, multiple: 16), 4)
        XCTAssertEqual(rows(96, 128, 256, 256, tile: 4, fit: true, multiple: 16), 8)
        // Those 8 rows of 32 tiles: the multiply computes 256, in rows 272 apart (not 256 floats).
        let conv3 = bands(96, 128, 256, 256, tile: 4, fit: true, multiple: 16)
        XCTAssertEqual(conv3.computedTiles(rows: 8), 256)
        XCTAssertEqual(conv3.tileStride, 272)
        // At most 4 times the fitted rows (here 1): 3 tiles a row pad more than 1/32 in up to 4
        // rows, so one row, not the 16 that pad nothing.
        XCTAssertEqual(rows(600, 18, 16384, 16384, tile: 6, fit: false, multiple: 16), 1)
        let cpu = ProgramOptions.defaults(
            for: fakeDeviceInfo(
                kind: .cpu, maxWorkGroupSize: 4096, localMemoryBytes: 1 << 16, preferredFloatVectorWidth: 8))
        XCTAssertTrue(cpu.winogradBandsFitWeights)
        XCTAssertFalse(ProgramOptions.defaults(for: fakeDeviceInfo()).winogradBandsFitWeights)
    }

    /// The native bands: the base budget where the weight transforms are small (conv1_2 in F(6×6):
    /// 64·64·64 floats), 8 times them in between (conv2_2: 64·128·128), the wide bound where that
    /// is more (conv3_2 in F(4×4): 36·256·256), and never below the base budget however it is set.
    func testNativeBandsHoldEightTimesLargeWeightTransforms() {
        let native = NativeBackend()
        XCTAssertEqual(native.winogradBandBudget(transformFloats: 64 * 64 * 64), 4 << 20)
        XCTAssertEqual(native.winogradBandBudget(transformFloats: 64 * 128 * 128), 8 << 20)
        XCTAssertEqual(native.winogradBandBudget(transformFloats: 36 * 256 * 256), 16 << 20)
        native.winogradBandFloats = 32 << 20
        XCTAssertEqual(native.winogradBandBudget(transformFloats: 36 * 256 * 256), 32 << 20)
        native.winogradBandFloats = 1
        native.winogradWideBandFloats = 1
        XCTAssertEqual(native.winogradBandBudget(transformFloats: 36 * 512 * 512), 1)
    }

    /// `WINO_CACHE` keeps a layer's weight transforms per direction and makes them again only when
    /// the tile size changes: the same bits as transforming at every convolution, through a switch
    /// from F(4×4) (a 64×48 map) to F(2×2) (16×16) and back, forward and backward-data, and the
    /// kept transforms show in the device's bytes.
    func testKeptWeightTransformsGiveTheSameBits() throws {
        guard let device = DeviceCatalog.discover().openCLDevices.first else { throw XCTSkip("no OpenCL device") }
        let (c, o) = (256, 256)
        let weights = ReferenceTensor.random(Shape(c: o * c, h: 3, w: 3), using: &generator).floats
        let bias = ReferenceTensor.random(.vector(o), using: &generator).floats
        let sizes = [(48, 64), (16, 16), (48, 64)]
        let inputs = sizes.map { ReferenceTensor.random(Shape(c: c, h: $0.0, w: $0.1), using: &generator) }
        func run(cache: Int) throws -> (results: [[Float]], bytes: Int) {
            var options = ProgramOptions.defaults(for: device.info)
            options.defines["CONV_WINOGRAD"] = 2
            options.defines["WINO_TILE"] = 0
            options.defines["WINO_CACHE"] = cache
            let backend = try OpenCLBackend(device: device, options: options)
            XCTAssertEqual(options.winogradTile(height: 48, width: 64), 4)
            XCTAssertEqual(options.winogradTile(height: 16, width: 16), 2)
            let layer = try backend.makeConvWeights(weights: weights, bias: bias, outputChannels: o, inputChannels: c)
            var results: [[Float]] = []
            for input in inputs {
                let output = try backend.makeTensor(Shape(c: o, h: input.shape.h, w: input.shape.w))
                try backend.conv3x3(input: backend.makeTensor(input), weights: layer, relu: true, output: output)
                let gradInput = try backend.makeTensor(input.shape)
                try backend.conv3x3BackwardData(
                    gradOutput: output, weights: layer, reluMaskFrom: nil, gradInput: gradInput, accumulate: false)
                results += [try backend.download(output), try backend.download(gradInput)]
            }
            return withExtendedLifetime(layer) { (results, backend.allocatedBytes) }
        }
        let (transformed, scratchBytes) = try run(cache: 0)
        let (kept, keptBytes) = try run(cache: 1)
        XCTAssertEqual(kept, transformed)
        // Back at F(4×4): both directions' 36 planes of 256·256 transforms held, where the uncached
        // backend holds one direction's size of shared scratch (the tensors are gone by then).
        XCTAssertEqual(keptBytes - scratchBytes, 36 * WinogradBands.plane(rows: c, tileStride: o) * 4)
    }

    /// The native default chooses the tile per convolution by the map's size: F(6×6) at 192×128
    /// (the threshold), F(4×4) at 191×128, 64×48 and 48×32 (its threshold), F(2×2) at 16×16 and
    /// 47×32, the same bits as the forced backends, forward and backward-data, with 67 input
    /// channels (a SIMD block of 3 pairs at each row's end of the transforms).
    func testNativeChoosesTheTilePerConvolution() throws {
        let (c, o) = (67, 64)
        let weights = ReferenceTensor.random(Shape(c: o * c, h: 3, w: 3), using: &generator).floats
        let bias = ReferenceTensor.random(.vector(o), using: &generator).floats
        for (h, w, tile) in [(128, 192, 6), (128, 191, 4), (48, 64, 4), (32, 48, 4), (16, 16, 2), (32, 47, 2)] {
            let input = ReferenceTensor.random(Shape(c: c, h: h, w: w), using: &generator)
            let automatic = NativeBackend()
            XCTAssertEqual(
                try automatic.nativeWeights(
                    try automatic.makeConvWeights(weights: weights, bias: bias, outputChannels: o, inputChannels: c),
                    "test"
                ).plan.tile(height: h, width: w), tile)
            let results = try [automatic, NativeBackend(convolution: Self.nativeAlgorithm(tile: tile))].map {
                backend in
                let layer = try backend.makeConvWeights(
                    weights: weights, bias: bias, outputChannels: o, inputChannels: c)
                let output = try backend.makeTensor(Shape(c: o, h: h, w: w))
                try backend.conv3x3(input: backend.makeTensor(input), weights: layer, relu: false, output: output)
                let gradInput = try backend.makeTensor(input.shape)
                try backend.conv3x3BackwardData(
                    gradOutput: output, weights: layer, reluMaskFrom: nil, gradInput: gradInput, accumulate: false)
                return [try backend.download(output), try backend.download(gradInput)]
            }
            XCTAssertEqual(results[0], results[1], "\(w)×\(h)")
        }
    }

    /// With WINO_HALVES the top half of the tile rows runs on one half queue and the bottom half,
    /// bottom-up, on the other: forward and backward-data in place give the bits of one queue, with
    /// one band a half and one tile row a band, even and odd tile rows, every tile.
    func testHalvesComputeTheBitsOfOneQueue() throws {
        guard let device = DeviceCatalog.discover().openCLDevices.first else { throw XCTSkip("no OpenCL device") }
        func backend(tile: Int, halves: Int, band: Int?) throws -> OpenCLBackend {
            var options = ProgramOptions.defaults(for: device.info)
            options.defines["CONV_WINOGRAD"] = 2
            options.defines["WINO_TILE"] = tile
            options.defines["WINO_HALVES"] = halves * 512
            if let band { options.defines["WINO_BAND"] = band }
            return try OpenCLBackend(device: device, options: options)
        }
        guard try backend(tile: 2, halves: 1, band: nil).context.halfQueues.count == 2 else {
            throw XCTSkip("\(device.info.name) cannot be partitioned into two halves")
        }
        // (c, o, h, w, tile): 2, 5, 6 and 7 tile rows.
        let cases = [(5, 3, 4, 70, 2), (3, 5, 9, 48, 2), (16, 16, 21, 64, 4), (16, 19, 25, 40, 4), (16, 16, 37, 64, 6)]
        for (c, o, h, w, tile) in cases {
            let input = ReferenceTensor.random(Shape(c: c, h: h, w: w), using: &generator)
            let weights = ReferenceTensor.random(Shape(c: o * c, h: 3, w: 3), using: &generator).floats
            let bias = ReferenceTensor.random(.vector(o), using: &generator).floats
            let square = ReferenceTensor.random(Shape(c: o * o, h: 3, w: 3), using: &generator).floats
            for band in [nil, 1] {
                let results = try [0, 1].map { halves in
                    let backend = try backend(tile: tile, halves: halves, band: band)
                    let block = backend.options.winogradOutputBlock
                    let outputStride = (o + block - 1) / block * block
                    let bands = WinogradBands(
                        height: h, width: w, channels: c, outputStride: outputStride, tile: tile,
                        options: backend.options)
                    XCTAssertTrue(
                        bands.runsInHalves(channels: c, outputStride: outputStride, mostChannels: 512), "\(w)×\(h)")
                    let layer = try backend.makeConvWeights(
                        weights: weights, bias: bias, outputChannels: o, inputChannels: c)
                    let output = try backend.makeTensor(Shape(c: o, h: h, w: w))
                    try backend.conv3x3(input: backend.makeTensor(input), weights: layer, relu: false, output: output)
                    // Backward-data of o → o channels over its own gradOutput, in place.
                    let squareLayer = try backend.makeConvWeights(
                        weights: square, bias: [Float](repeating: 0, count: o), outputChannels: o, inputChannels: o)
                    let shared = try backend.makeTensor(Shape(c: o, h: h, w: w))
                    try backend.copy(output, to: shared)
                    try backend.conv3x3BackwardData(
                        gradOutput: shared, weights: squareLayer, reluMaskFrom: nil, gradInput: shared,
                        accumulate: false)
                    return [try backend.download(output), try backend.download(shared)]
                }
                XCTAssertEqual(results[0], results[1], "\(c)→\(o) \(w)×\(h) F\(tile) band \(band ?? 0)")
            }
        }
    }

    /// A convolution that pools its output as it stores it (`conv3x3`'s `pool`) gives the bits of
    /// the convolution and then `pool2x2`, both pooling modes, float and 16-bit outputs, with and
    /// without ReLU: F(2×2), F(4×4) and F(6×6) (with two half queues), odd sides (a last row and
    /// column in no window), whole row blocks, right-edge blocks and ragged last tiles, and on the
    /// native path.
    func testConvPoolingIsBitwiseTheConvolutionThenPool2x2() throws {
        var backends: [(String, any Backend)] = [("native", NativeBackend())]
        if let device = DeviceCatalog.discover().openCLDevices.first {
            for (tile, halves) in [(2, 0), (4, 0), (6, 512)] {
                var options = ProgramOptions.defaults(for: device.info)
                options.defines["CONV_WINOGRAD"] = 2
                options.defines["WINO_TILE"] = tile
                options.defines["WINO_HALVES"] = halves
                backends.append(("F\(tile) halves \(halves)", try OpenCLBackend(device: device, options: options)))
            }
        }
        let (c, o) = (5, 11)
        let weights = ReferenceTensor.random(Shape(c: o * c, h: 3, w: 3), using: &generator).floats
        let bias = ReferenceTensor.random(.vector(o), using: &generator).floats
        // (h, w): odd sides; widths with a whole row block and a ragged one for each tile.
        for (h, w) in [(13, 37), (24, 50), (7, 61), (26, 100), (2, 2), (3, 17)] {
            let input = ReferenceTensor.random(Shape(c: c, h: h, w: w), using: &generator)
            for (name, backend) in backends {
                let layer = try backend.makeConvWeights(
                    weights: weights, bias: bias, outputChannels: o, inputChannels: c)
                for format in [ActivationStorage.float, .half] {
                    for (mode, relu) in [(PoolMode.max, true), (.avg, true), (.max, false)] {
                        let shape = Shape(c: o, h: h, w: w)
                        let x = try backend.makeTensor(input)
                        let (fused, pooled) = (
                            try backend.makeTensor(shape, format: format),
                            try backend.makeTensor(shape.pooled, format: format)
                        )
                        try backend.conv3x3(
                            input: x, weights: layer, relu: relu, output: fused,
                            pool: ConvPooling(mode: mode, output: pooled))
                        let (separate, expected) = (
                            try backend.makeTensor(shape, format: format),
                            try backend.makeTensor(shape.pooled, format: format)
                        )
                        try backend.conv3x3(input: x, weights: layer, relu: relu, output: separate)
                        try backend.pool2x2(input: separate, mode: mode, output: expected)
                        let what = "\(name) \(format) \(mode) relu \(relu) \(w)×\(h)"
                        XCTAssertEqual(try backend.download(fused), try backend.download(separate), what)
                        let pooledValues = try backend.download(pooled)
                        XCTAssertEqual(
                            pooledValues.map(\.bitPattern), try backend.download(expected).map(\.bitPattern), what)
                        if h >= 2 && w >= 2 { XCTAssertTrue(pooledValues.contains { $0 != 0 }, what) }
                    }
                }
            }
        }
    }

    /// Backward-data over its own gradOutput (what the backward pass does below a pooling layer)
    /// computes the same bits as into a separate buffer, with every band boundary crossed.
    func testBackwardDataInPlaceIsBitwiseTheOutOfPlaceResult() throws {
        for shape in Self.cases where shape.c <= shape.o {
            let gradOutput = ReferenceTensor.random(Shape(c: shape.o, h: shape.h, w: shape.w), using: &generator)
            let weights = ReferenceTensor.random(Shape(c: shape.o * shape.c, h: 3, w: 3), using: &generator).floats
            let mask = ReferenceTensor.random(Shape(c: shape.c, h: shape.h, w: shape.w), using: &generator)
            for (name, backend, _) in try Self.winogradBackends() {
                XCTAssertTrue(backend.backwardDataRunsInPlace(outputChannels: shape.o, inputChannels: shape.c), name)
                let layer = try backend.makeConvWeights(
                    weights: weights, bias: [Float](repeating: 0, count: shape.o),
                    outputChannels: shape.o, inputChannels: shape.c)
                let separate = try backend.makeTensor(mask.shape), maskTensor = try backend.makeTensor(mask)
                try backend.conv3x3BackwardData(
                    gradOutput: backend.makeTensor(gradOutput), weights: layer,
                    reluMaskFrom: maskTensor, gradInput: separate, accumulate: false)
                let shared = try backend.makeTensor(gradOutput)
                try backend.conv3x3BackwardData(
                    gradOutput: shared, weights: layer, reluMaskFrom: maskTensor,
                    gradInput: Tensor(shape: mask.shape, storage: shared.storage),
                    accumulate: false)
                XCTAssertEqual(
                    Array(try backend.download(shared).prefix(mask.shape.count)), try backend.download(separate),
                    "\(name) \(shape)")
            }
        }
    }

    func testForwardWithBiasAndReluIsWithinTheWinogradBound() throws {
        for shape in Self.cases {
            let input = ReferenceTensor.random(Shape(c: shape.c, h: shape.h, w: shape.w), using: &generator)
            let weights = ReferenceTensor.random(Shape(c: shape.o * shape.c, h: 3, w: 3), using: &generator).values
            let bias = ReferenceTensor.random(.vector(shape.o), using: &generator).values
            let plane = shape.h * shape.w
            for (name, backend, tile) in try Self.winogradBackends() {
                let bound = winogradErrorBound(
                    input: input.values, channels: shape.c, height: shape.h, width: shape.w,
                    weights: weights, outputChannels: shape.o, tile: tile)
                let expected = bound.exact.indices.map { bound.exact[$0] + bias[$0 / plane] }
                // + 1 rounding for the bias add; ReLU is exact and 1-Lipschitz, so the bound carries over.
                let factor = winogradErrorFactor(channels: shape.c, extraRoundings: 1, tile: tile)
                let limits = bound.magnitude.indices.map { factor * (bound.magnitude[$0] + abs(bias[$0 / plane])) }
                let layer = try backend.makeConvWeights(
                    weights: weights.map(Float.init), bias: bias.map(Float.init),
                    outputChannels: shape.o, inputChannels: shape.c)
                let output = try backend.makeTensor(Shape(c: shape.o, h: shape.h, w: shape.w))
                for relu in [false, true] {
                    try backend.fill(output, value: 1e6)  // every pixel must be written
                    try backend.conv3x3(input: backend.makeTensor(input), weights: layer, relu: relu, output: output)
                    let values = try backend.download(output)
                    let want = relu ? expected.map { max($0, 0) } : expected
                    assertWithin(values, want, limits, "forward \(shape) relu \(relu) \(name)")
                }
            }
        }
    }

    func testBackwardDataWithMaskAndAccumulationIsWithinTheWinogradBound() throws {
        for shape in Self.cases {
            let gradOutput = ReferenceTensor.random(Shape(c: shape.o, h: shape.h, w: shape.w), using: &generator)
            let weights = ReferenceTensor.random(Shape(c: shape.o * shape.c, h: 3, w: 3), using: &generator).values
            let inputShape = Shape(c: shape.c, h: shape.h, w: shape.w)
            let mask = ReferenceTensor.random(inputShape, using: &generator)
            let previous = ReferenceTensor.random(inputShape, using: &generator)
            // Backward-data is the forward convolution of dY with the flipped, transposed weights.
            let flipped = ConvKernelLayouts.flippedTransposed(weights, outputChannels: shape.o, inputChannels: shape.c)
            var bounds: [Int: (exact: [Double], magnitude: [Double])] = [:]
            for (name, backend, tile) in try Self.winogradBackends() {
                let bound =
                    bounds[tile]
                    ?? winogradErrorBound(
                        input: gradOutput.values, channels: shape.o, height: shape.h, width: shape.w,
                        weights: flipped, outputChannels: shape.c, tile: tile)
                bounds[tile] = bound
                let layer = try backend.makeConvWeights(
                    weights: weights.map(Float.init),
                    bias: [Float](repeating: 0, count: shape.o),
                    outputChannels: shape.o, inputChannels: shape.c)
                let dy = try backend.makeTensor(gradOutput), maskTensor = try backend.makeTensor(mask)
                for (masked, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
                    let gradInput = try backend.makeTensor(
                        accumulate ? previous : ReferenceTensor.random(inputShape, using: &generator))
                    try backend.conv3x3BackwardData(
                        gradOutput: dy, weights: layer, reluMaskFrom: masked ? maskTensor : nil,
                        gradInput: gradInput, accumulate: accumulate)
                    // + 1 rounding for the accumulation; the mask only selects.
                    let factor = winogradErrorFactor(channels: shape.o, extraRoundings: accumulate ? 1 : 0, tile: tile)
                    var want = [Double](), limits = [Double]()
                    for k in bound.exact.indices {
                        let kept = !masked || mask.values[k] > 0
                        let base = accumulate ? previous.values[k] : 0
                        want.append(base + (kept ? bound.exact[k] : 0))
                        limits.append(factor * ((kept ? bound.magnitude[k] : 0) + abs(base)))
                    }
                    assertWithin(
                        try backend.download(gradInput), want, limits,
                        "backward \(shape) masked \(masked) accumulate \(accumulate) \(name)")
                }
            }
        }
    }

    /// F(4×4,3×3) on the real VGG19 weights and the real activations entering conv1_2, conv2_2,
    /// conv3_2 and conv4_2 (the reference content image at 24×18): forward with the bias, and
    /// backward-data with the layer's own input as dY, within its bound on every backend. Prints
    /// ‖error‖₂ / ‖exact‖₂ per layer (benchmarks/README.md cites it, with F(2×2)'s from the same
    /// test run at `tile` 2). The Float64 references take most of its time.
    func testRealWeightsAndActivationsAreWithinTheWinograd4Bound() throws {
        try checkRealWeightsAndActivations(tile: 4)
    }

    /// The same for F(6×6,3×3).
    func testRealWeightsAndActivationsAreWithinTheWinograd6Bound() throws {
        try checkRealWeightsAndActivations(tile: 6)
    }

    private func checkRealWeightsAndActivations(tile: Int) throws {
        let weightsPath = try cachedWeightsPath()
        let model = VGGModel.vgg19
        let deepest = try model.index(of: "relu4_1")
        let weights = try VGGWeights.load(path: weightsPath, upTo: model.convolutionCount(upTo: deepest) + 1)
        let reference = NativeBackend(convolution: .direct)
        let net = try VGGNetwork(
            backend: reference, model: weights.model,
            convolutions: weights.layers.prefix(model.convolutionCount(upTo: deepest)).map { ($0.weights, $0.bias) },
            preprocessing: weights.preprocessing.affine, deepestLayer: deepest, pooling: .max)
        let content = try ImageFile.read(try fixturePath("reference/content.png")).image.resized(maxSide: 24)
        let image = try reference.makeTensor(Shape(c: 3, h: content.height, w: content.width))
        try reference.upload(content.pixels, to: image)
        // The activation each layer reads, and the layer's index among the convolutions.
        let layers = [
            ("relu1_1", 1, "conv1_2"), ("relu2_1", 3, "conv2_2"), ("relu3_1", 5, "conv3_2"), ("relu4_1", 9, "conv4_2"),
        ]
        let observed = Set(try layers.map { try model.index(of: $0.0) })
        let workspace = try net.makeWorkspace(height: content.height, width: content.width, observed: observed)
        try net.forward(image: image, workspace: workspace)
        var backends: [(name: String, backend: Backend)] = [
            ("native", NativeBackend(convolution: Self.nativeAlgorithm(tile: tile)))
        ]
        if let device = DeviceCatalog.discover().openCLDevices.first {
            var options = ProgramOptions.defaults(for: device.info)
            options.defines["CONV_WINOGRAD"] = 2
            options.defines["WINO_TILE"] = tile
            backends.append(("opencl", try OpenCLBackend(device: device, options: options)))
        }
        for (activation, convolution, name) in layers {
            let x = workspace.outputs[try model.index(of: activation)]
            let input = try reference.download(x).map(Double.init)
            let (c, h, w) = (x.shape.c, x.shape.h, x.shape.w)
            let layer = weights.layers[convolution]
            let o = layer.bias.count
            XCTAssertEqual(o, c, name)  // so backward-data can take the input as dY
            let g = layer.weights.map(Double.init), bias = layer.bias.map(Double.init)
            let flipped = ConvKernelLayouts.flippedTransposed(g, outputChannels: o, inputChannels: c)
            let forward = winogradErrorBound(
                input: input, channels: c, height: h, width: w, weights: g, outputChannels: o, tile: tile)
            let backward = winogradErrorBound(
                input: input, channels: o, height: h, width: w, weights: flipped, outputChannels: c, tile: tile)
            let plane = h * w
            let expected = forward.exact.indices.map { forward.exact[$0] + bias[$0 / plane] }
            let factor = winogradErrorFactor(channels: c, extraRoundings: 1, tile: tile)
            let limits = forward.magnitude.indices.map { factor * (forward.magnitude[$0] + abs(bias[$0 / plane])) }
            let backwardFactor = winogradErrorFactor(channels: o, tile: tile)
            for (backendName, backend) in backends {
                let convWeights = try backend.makeConvWeights(
                    weights: layer.weights, bias: layer.bias, outputChannels: o, inputChannels: c)
                let dx = try backend.makeTensor(x.shape), y = try backend.makeTensor(Shape(c: o, h: h, w: w))
                let xTensor = try backend.makeTensor(x.shape)
                try backend.upload(input.map(Float.init), to: xTensor)
                try backend.conv3x3(input: xTensor, weights: convWeights, relu: false, output: y)
                let values = try backend.download(y)
                assertWithin(values, expected, limits, "\(name) forward \(backendName)")
                try backend.conv3x3BackwardData(
                    gradOutput: xTensor, weights: convWeights, reluMaskFrom: nil, gradInput: dx, accumulate: false)
                let gradients = try backend.download(dx)
                assertWithin(
                    gradients, backward.exact, backward.magnitude.map { backwardFactor * $0 },
                    "\(name) backward-data \(backendName)")
                func relative(_ actual: [Float], _ exact: [Double]) -> Double {
                    let error = zip(actual, exact).map { (Double($0) - $1) * (Double($0) - $1) }.reduce(0, +)
                    return (error / exact.map { $0 * $0 }.reduce(0, +)).squareRoot()
                }
                print(
                    "\(name) \(backendName) F\(tile): relative error forward \(relative(values, expected)), "
                        + "backward-data \(relative(gradients, backward.exact))")
            }
        }
    }

    /// 100 Adam iterations at 32 pixels (default layers, real weights) with every Winograd layer
    /// on F(4×4,3×3) follow the F(2×2,3×3) run: the total loss within 1e-3 relative at every
    /// report, natively and on the first OpenCL device. At a learning rate of 1 pixel unit: at
    /// the default 10 Adam's steps are sign-like and the runs chaotic, and which runs part by
    /// more than the limit changes with the BLAS kernel alone, even two float32 evaluations of one
    /// network (benchmarks/README.md, 2026-12-06 19:26). The bounds above are what prove F(4×4).
    func testLossTrajectoryOfF4FollowsF2() throws {
        var pairs: [(String, Backend, Backend)] = [
            ("native", NativeBackend(convolution: .winograd), NativeBackend(convolution: .winograd4))
        ]
        if let device = DeviceCatalog.discover().openCLDevices.first {
            var options = ProgramOptions.defaults(for: device.info)
            options.defines["CONV_WINOGRAD"] = 2
            options.defines["WINO_TILE"] = 2
            let f2 = try OpenCLBackend(device: device, options: options)
            options.defines["WINO_TILE"] = 4
            pairs.append(("opencl", f2, try OpenCLBackend(device: device, options: options)))
        }
        for (name, f2, f4) in pairs {
            let difference = try lossDifferences(imageSize: 32, learningRate: 1, f2, f4).max() ?? .infinity
            XCTAssertLessThanOrEqual(difference, 1e-3, name)
            print("\(name) F4 against F2 over 100 iterations: largest relative difference of the loss \(difference)")
        }
    }

    /// The same comparison on the first OpenCL device at 256 pixels, where `WINO_TILE=0` (the CPU
    /// default) runs conv1_2 as F(6×6) and conv2_1 … conv3_4 as F(4×4): per layer against
    /// F(2×2) everywhere, and for scale native F(2×2) against the device's. Printed for
    /// benchmarks/README.md; runs only with STYLIZE_GPU_MEASURE_WINOGRAD=1 (minutes). Then every
    /// Winograd layer on F(4×4) and on F(6×6) against F(2×2) on the device at 32 pixels.
    func testMeasureLossTrajectoryOfPerLayerTiles() throws {
        guard ProcessInfo.processInfo.environment["STYLIZE_GPU_MEASURE_WINOGRAD"] == "1" else {
            throw XCTSkip("set STYLIZE_GPU_MEASURE_WINOGRAD=1 to measure")
        }
        guard let device = DeviceCatalog.discover().openCLDevices.first else { throw XCTSkip("no OpenCL device") }
        var perLayer = ProgramOptions.defaults(for: device.info)
        perLayer.defines["WINO_TILE"] = 0
        var f2 = perLayer
        f2.defines["WINO_TILE"] = 2
        let backends = try [perLayer, f2].map { try OpenCLBackend(device: device, options: $0) }
        let perLayerDifferences = try lossDifferences(imageSize: 256, backends[1], backends[0])
        let deviceDifferences = try lossDifferences(imageSize: 256, NativeBackend(convolution: .winograd), backends[1])
        print(
            "256 px, relative differences of the total loss every 10 of 100 iterations: per layer against F2 "
                + "\(perLayerDifferences); native F2 against the device's F2 \(deviceDifferences)")
        // Every layer on F(4×4) and on F(6×6) against F(2×2) at 32 pixels, at the default learning
        // rate (chaotic there: the test above runs at 1).
        var everyLayer = f2
        everyLayer.defines["CONV_WINOGRAD"] = 2
        var f2Everywhere = everyLayer
        f2Everywhere.defines["WINO_TILE"] = 2
        for tile in [4, 6] {
            everyLayer.defines["WINO_TILE"] = tile
            let differences = try lossDifferences(
                imageSize: 32, try OpenCLBackend(device: device, options: f2Everywhere),
                try OpenCLBackend(device: device, options: everyLayer))
            print("32 px, every layer F\(tile) against F2 on the device: \(differences)")
        }
    }

    /// The relative differences of the total loss, reported every 10 of 100 Adam iterations
    /// (chelsea + the starry night, default layers, real weights), between two backends' runs.
    private func lossDifferences(
        imageSize: Int, learningRate: Float? = nil, _ reference: Backend, _ candidate: Backend
    ) throws -> [Double] {
        var options = StyleJobOptions(
            contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("starry_night.jpg")])
        options.imageSize = imageSize
        options.optimization = OptimizationSettings(iterations: 100, optimizer: .adam, learningRate: learningRate)
        func totals(_ backend: Backend) throws -> [Double] {
            let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: backend) { _ in }
            var totals: [Double] = []
            XCTAssertEqual(
                try job.run.run(reportEvery: 10, onReport: { totals.append(Double($0.losses.total)) }), .completed)
            return totals
        }
        let (expected, actual) = (try totals(reference), try totals(candidate))
        XCTAssertEqual(expected.count, 11)
        XCTAssertEqual(actual.count, 11)
        return zip(expected, actual).map { abs($1 - $0) / abs($0) }
    }

    /// The bound is tight enough to catch a tile that starts one pixel off: the exact result of
    /// the input shifted by one column (what such a bug computes) breaks it by orders of magnitude
    /// at almost every pixel, while the bound is far below the values themselves (measured: 1349
    /// of 1352 outputs beyond 10× the bound, median 1768×; median bound 8·10⁻⁴ of |value|).
    func testBoundCatchesATileOffsetByOnePixel() {
        let (c, o, h, w) = (64, 8, 13, 13)
        let input = ReferenceTensor.random(Shape(c: c, h: h, w: w), using: &generator)
        let weights = ReferenceTensor.random(Shape(c: o * c, h: 3, w: 3), using: &generator).values
        var shifted = ReferenceTensor.zeros(input.shape)
        for channel in 0..<c {
            for y in 0..<h {
                for x in 1..<w { shifted[channel, y, x] = input[channel, y, x - 1] }
            }
        }
        let bound = winogradErrorBound(
            input: input.values, channels: c, height: h, width: w, weights: weights,
            outputChannels: o)
        let wrong = winogradErrorBound(
            input: shifted.values, channels: c, height: h, width: w, weights: weights,
            outputChannels: o
        ).exact
        let factor = winogradErrorFactor(channels: c)
        let ratios = bound.exact.indices.map { abs(wrong[$0] - bound.exact[$0]) / (factor * bound.magnitude[$0]) }
        let caught = ratios.filter { $0 > 10 }.count
        XCTAssertGreaterThan(Double(caught), 0.95 * Double(ratios.count), "a shifted tile must break the bound")
        XCTAssertGreaterThan(ratios.sorted()[ratios.count / 2], 100, "median excess of the shifted result")
        let relative = bound.exact.indices.map { factor * bound.magnitude[$0] / max(abs(bound.exact[$0]), 1e-30) }
            .sorted()
        XCTAssertLessThan(relative[relative.count / 2], 1e-2, "median bound relative to the value")
    }

    /// Each algorithm allocates exactly what `convWeightBytes` plans (MemoryPlan relies on it),
    /// and `.automatic` follows its rule.
    func testWeightBytesAreWhatThePlanSays() throws {
        for algorithm in ConvolutionAlgorithm.allCases {
            for (o, c) in [(64, 3), (3, 64), (64, 64), (1, 1), (16, 16), (16, 15)] {
                let backend = NativeBackend(convolution: algorithm)
                let layer = try backend.makeConvWeights(
                    weights: [Float](repeating: 0.5, count: o * c * 9),
                    bias: [Float](repeating: 0, count: o),
                    outputChannels: o, inputChannels: c)
                XCTAssertEqual(
                    backend.allocatedBytes, backend.convWeightBytes(outputChannels: o, inputChannels: c),
                    "\(algorithm) \(o)×\(c)")
                XCTAssertEqual(layer.byteCount, backend.allocatedBytes, "\(algorithm) \(o)×\(c)")
                let plan = try backend.nativeWeights(layer, "test").plan
                let expected =
                    algorithm == .automatic
                    ? NativeConvPlan.winogradWins(outputChannels: o, inputChannels: c)
                    : algorithm != .direct
                XCTAssertEqual(plan.winograd, expected, "\(algorithm) \(o)×\(c)")
            }
        }
    }

    private func assertWithin(
        _ actual: [Float], _ expected: [Double], _ limits: [Double], _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        var failures = 0
        for k in expected.indices where !(abs(Double(actual[k]) - expected[k]) <= limits[k]) {
            failures += 1
            if failures <= 3 {
                XCTFail("\(what) [\(k)]: \(actual[k]) vs \(expected[k]), bound \(limits[k])", file: file, line: line)
            }
        }
    }
}
