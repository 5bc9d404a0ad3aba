/// What a convolution does with its sums before storing them, in the order the kernels apply it:
/// + bias, ReLU, × (mask > 0), + the previous output.
struct ConvEpilogue {
    var bias: CLBuffer?
    var relu: Bool
    var mask: CLBuffer?
    var accumulate: Bool

    /// The kernels' epilogue arguments (bias, useBias, relu, mask, useMask, accumulate).
    func arguments(unused: CLBuffer) -> [KernelArgument] {
        [
            .buffer(bias ?? unused), .flag(bias != nil), .flag(relu), .buffer(mask ?? unused), .flag(mask != nil),
            .flag(accumulate),
        ]
    }
}

/// A Winograd layer (its raw weights O×I×3×3) and the direction a convolution runs them in;
/// `winograd_weights` turns them into the transforms `winograd_multiply` reads.
struct WinogradWeights {
    enum Direction { case forward, backwardData }

    let layer: OpenCLConvWeights
    let direction: Direction
}

/// How one Winograd F(m×m,3×3) convolution (m = `tile`, n² = (m + 2)² transformed points) is cut
/// into bands of tile rows so that its two scratch buffers stay bounded whatever the image size:
/// n² · channels · tileStride floats for the transformed input, n² · tileStride · outputStride for
/// the products, each at most `budget` floats when a tile row fits. With `fitWeights`, at most
/// about the weight transforms' n² · channels · outputStride floats too (at least
/// `smallestFittedBudget`): every band's multiply reads all of them, so a band that holds no more
/// reads no more than twice its own data, and on a CPU its transforms and products stay in cache
/// from one kernel to the next.
struct WinogradBands {
    let points: Int
    let tilesX: Int
    let tilesY: Int
    let tileRowsPerBand: Int
    /// What the scratch's row lengths are multiples of (the multiply's).
    let strideMultiple: Int
    /// A whole band's scratch row length.
    var tileStride: Int { tileStride(rows: tileRowsPerBand) }

    static let smallestFittedBudget = 1 << 16

    init(
        height: Int, width: Int, channels: Int, outputStride: Int, tile: Int, strideMultiple: Int, budget: Int,
        fitWeights: Bool
    ) {
        let across = (width + tile - 1) / tile
        points = (tile + 2) * (tile + 2)
        tilesX = across
        tilesY = (height + tile - 1) / tile
        let widest = max(channels, outputStride, 1)
        let weights = max(points * channels * outputStride, WinogradBands.smallestFittedBudget)
        let floats = fitWeights ? min(budget, weights) : budget
        let fitted = max(1, min(tilesY, floats / (points * widest * max(tilesX, 1))))
        // The multiply computes whole vectors of `strideMultiple` tiles. Where a band's would be
        // more than 1/32 padding (at 512 px, F(6×6)'s 86 tiles a row computed as 96), it takes the
        // fewest more rows, up to 4 times as many, that pad less.
        let padded = { (rows: Int) in Self.computedTiles(rows * across, multiple: strideMultiple) - rows * across }
        tileRowsPerBand =
            (fitted...max(fitted, min(tilesY, 4 * fitted))).first { 32 * padded($0) <= $0 * across } ?? fitted
        self.strideMultiple = strideMultiple
    }

    /// Whether a convolution from `channels` to `outputStride` with half queues splits its tile rows
    /// between them: where it has two or more, neither channel count exceeds `mostChannels`
    /// (`WINO_HALVES`), and its transformed input outweighs its weight transforms (more tiles than
    /// output channels), whose reads each half repeats.
    func runsInHalves(channels: Int, outputStride: Int, mostChannels: Int) -> Bool {
        tilesY >= 2 && max(channels, outputStride) <= mostChannels && tilesX * tilesY > outputStride
    }

    /// The tiles the multiply computes for `tiles` tiles: rounded up to a multiple of `multiple`.
    static func computedTiles(_ tiles: Int, multiple: Int) -> Int { (tiles + multiple - 1) / multiple * multiple }

    /// The tiles the multiply computes for a band of `rows` tile rows (the last band may have fewer).
    func computedTiles(rows: Int) -> Int { Self.computedTiles(rows * tilesX, multiple: strideMultiple) }

    /// The scratch row length of such a band: its computed tiles, and never a multiple of 256
    /// floats, whose rows would all fall in the same cache sets (the multiply walks down a column
    /// of rows).
    func tileStride(rows: Int) -> Int {
        let computed = computedTiles(rows: rows)
        return computed % 256 == 0 ? computed + strideMultiple : computed
    }

    /// The bands `options` cut: their multiply's tile stride multiple, `WINO_BAND` and `WINO_BAND_FIT`.
    init(height: Int, width: Int, channels: Int, outputStride: Int, tile: Int, options: ProgramOptions) {
        self.init(
            height: height, width: width, channels: channels, outputStride: outputStride, tile: tile,
            strideMultiple: options.winogradTileStrideMultiple, budget: options.winogradBandFloats,
            fitWeights: options.winogradBandsFitWeights)
    }

    /// Scratch floats: transformed input for `channels`, products for `outputStride`.
    func scratchFloats(channels: Int, outputStride: Int) -> (input: Int, products: Int) {
        (
            points * WinogradBands.plane(rows: channels, tileStride: tileStride),
            points * WinogradBands.plane(rows: outputStride, tileStride: tileStride)
        )
    }

    /// The floats from one point's plane of the scratch to the next (Kernels.cl's `WINO_PLANE`):
    /// `rows` rows of `tileStride`, rounded up to an odd number of 64-byte lines, so that the
    /// transforms' 16 to 64 planes, written and read side by side, fall in different cache sets.
    static func plane(rows: Int, tileStride: Int) -> Int {
        ((rows * tileStride + 15) / 16 | 1) * 16
    }
}

extension OpenCLBackend {
    /// Whether this backend splits a convolution of `bands` between its half queues: where it has
    /// them and the bands run in halves under `WINO_HALVES`.
    func splitsInHalves(_ bands: WinogradBands, channels: Int, outputStride: Int) -> Bool {
        context.halfQueues.count == 2
            && bands.runsInHalves(
                channels: channels, outputStride: outputStride, mostChannels: options.winogradHalvesChannels)
    }

    /// One convolution by Winograd F(2×2,3×3), F(4×4,3×3) or F(6×6,3×3) (`WINO_TILE`, see Kernels.cl):
    /// the weight transforms for this direction, then per band of tile rows the input transform,
    /// the 16 (36, 64) products and the output transform with the epilogue.
    ///
    /// A band's outputs are stored only after the next band's input is transformed, so `output`
    /// may be `input` itself (backward-data in place, `backwardDataRunsInPlace`): by then no band
    /// still to be read needs the rows they overwrite (a band reads one row above its own rows,
    /// the last of the band before). Only the channel count may differ between the two. The
    /// transforms read `input` and write `output` in the storages the tensors are in.
    func enqueueWinograd(
        input: CLBuffer, shape: Shape, weights: WinogradWeights, outputChannels: Int, outputStride: Int,
        epilogue: ConvEpilogue, output: CLBuffer, pooled: (buffer: CLBuffer, mode: PoolMode)? = nil,
        reads: ActivationStorage = .float, writes: ActivationStorage = .float
    ) throws {
        let (channels, h, w) = (shape.c, shape.h, shape.w)
        if h == 0 || w == 0 { return }
        let block = options.winogradOutputBlock
        let rows = (channels + block - 1) / block * block
        let tile = options.winogradTile(height: h, width: w)
        let prefix = tile == 2 ? "winograd" : "winograd\(tile)"
        let bands = WinogradBands(
            height: h, width: w, channels: channels, outputStride: outputStride, tile: tile, options: options)
        let layer = weights.layer
        let transforms: CLBuffer
        if options.winogradCachesWeights, let kept = layer.transforms[weights.direction], kept.tile == tile {
            transforms = kept.buffer
        } else {
            let floats = bands.points * WinogradBands.plane(rows: rows, tileStride: outputStride)
            if options.winogradCachesWeights {
                layer.transforms[weights.direction] = nil  // released before the new one is made
                transforms = try context.makeBuffer(floats: floats)
                layer.transforms[weights.direction] = (tile, transforms)
            } else {
                transforms = try winogradWeights.atLeast(floats)
            }
            let weightRows = options.winograd4WeightRows
            try context.enqueue(
                try context.kernel(prefix + "_weights"),
                global: [tile == 4 ? (rows + weightRows - 1) / weightRows : rows, outputStride / block],
                local: workGroup(options.winogradWeightsWorkGroupWidth, dimensions: 2),
                [
                    .buffer(layer.forward), .int(layer.outputChannels), .int(layer.inputChannels),
                    .flag(weights.direction == .backwardData), .int(outputStride), .int(rows),
                    .buffer(transforms),
                ])
        }
        let tileBlock = options.winogradTilesPerItem
        let local = workGroup(options.convWorkGroupWidth, dimensions: 3)
        let tiled = options.winogradTiledMultiply
        let wide = tiled && options.winogradWideFrom > 0 && outputStride >= options.winogradWideFrom
        let (inputKernel, multiplyKernel, outputKernel) = (
            try kernel(prefix + "_input", reads: reads, writes: writes),
            try context.kernel(
                wide ? "winograd_multiply_tiled_wide" : tiled ? "winograd_multiply_tiled" : "winograd_multiply"),
            try kernel(prefix + "_output", reads: reads, writes: writes)
        )
        let blockGroups = (outputStride / block + options.winogradBlocksPerItem - 1) / options.winogradBlocksPerItem
        // The multiply's launch for a band: register blocks, or 16×16 work-groups of tiles.
        func multiplyLaunch(tiles: Int) -> (global: [Int], local: [Int]?) {
            guard tiled else { return ([(tiles + tileBlock - 1) / tileBlock, blockGroups, bands.points], local) }
            let block = wide ? ProgramOptions.wideProductBlock : options.tiledProductBlock
            let groups = ((tiles + block.tiles - 1) / block.tiles, (outputStride + block.outputs - 1) / block.outputs)
            return ([groups.0 * 16, groups.1 * 16, bands.points], [16, 16, 1])
        }
        // With half queues the top half of the tile rows runs top-down on one half of the cores and
        // the bottom half bottom-up on the other, so each band's transforms and products stay in
        // its half's caches; the two halves' last bands meet in the middle.
        let split = splitsInHalves(bands, channels: channels, outputStride: outputStride)
        let middle = split ? (bands.tilesY + 1) / 2 : bands.tilesY
        let top = stride(from: 0, to: middle, by: bands.tileRowsPerBand).map {
            (first: $0, rows: min(bands.tileRowsPerBand, middle - $0))
        }
        let bottom = stride(from: bands.tilesY, to: middle, by: -bands.tileRowsPerBand).map { end in
            let first = max(middle, end - bands.tileRowsPerBand)
            return (first: first, rows: end - first)
        }
        let parts: [(half: Int?, bands: [(first: Int, rows: Int)])] = split ? [(0, top), (1, bottom)] : [(nil, top)]
        // Made before the fork: a new buffer is zero-filled on the main queue.
        let sizes = bands.scratchFloats(channels: channels, outputStride: outputStride)
        let scratch =
            split
            ? Array(zip(try winogradInput.halves(sizes.input), try winogradProducts.halves(sizes.products)))
            : [(try winogradInput.atLeast(sizes.input), try winogradProducts.atLeast(sizes.products))]
        if split { try context.forkHalves() }
        let poolCode = pooled.map { $0.mode == .max ? 1 : 2 } ?? 0  // the output kernels' `pool`
        typealias Band = (arguments: [KernelArgument], rows: Int)
        func store(_ band: Band?, products: CLBuffer, half: Int?) throws {
            guard let band else { return }
            let launch = rowLaunch(
                units: bands.tilesX, rows: band.rows, planes: outputChannels,
                groupWidth: options.winogradWorkGroupWidth)
            try context.enqueue(
                outputKernel, global: launch.global, local: launch.local, half: half,
                [.buffer(products), .int(outputChannels), .int(outputStride), .int(h), .int(w)] + band.arguments
                    + [.int(launch.blocksPerItem)] + epilogue.arguments(unused: unusedBuffer)
                    + [.buffer(output), .buffer(pooled?.buffer ?? unusedBuffer), .int(poolCode)])
        }
        var pending: [Band?] = []
        var lastInputs: [CLEvent] = []
        for (part, (half, partBands)) in parts.enumerated() {
            let (transformed, products) = scratch[part]
            var previous: Band?
            for (index, (firstTileRow, bandRows)) in partBands.enumerated() {
                let tileStride = bands.tileStride(rows: bandRows)
                let band: [KernelArgument] = [.int(bands.tilesX), .int(firstTileRow), .int(bandRows), .int(tileStride)]
                let launch = rowLaunch(
                    units: bands.tilesX, rows: bandRows, planes: channels,
                    groupWidth: options.winogradWorkGroupWidth)
                try context.enqueue(
                    inputKernel, global: launch.global, local: launch.local, half: half,
                    [.buffer(input), .int(channels), .int(h), .int(w)] + band
                        + [.int(launch.blocksPerItem), .buffer(transformed)])
                if let half, index == partBands.count - 1 { lastInputs.append(try context.marker(half: half)) }
                try store(previous, products: products, half: half)
                let tiles = bands.computedTiles(rows: bandRows)
                let multiply = multiplyLaunch(tiles: tiles)
                try context.enqueue(
                    multiplyKernel, global: multiply.global, local: multiply.local, half: half,
                    [
                        .buffer(transforms), .int(rows), .buffer(transformed), .int(channels),
                        .int(outputStride), .int(tileStride), .int(tiles), .buffer(products),
                    ])
                previous = (band, bandRows)
            }
            pending.append(previous)
        }
        // Each half's last store may overwrite a row the other half's last band reads (in place).
        for (part, (half, _)) in parts.enumerated() {
            if let half { try context.wait(half: half, for: lastInputs[1 - part]) }
            try store(pending[part], products: scratch[part].1, half: half)
        }
        if split { try context.joinHalves() }
    }
}
