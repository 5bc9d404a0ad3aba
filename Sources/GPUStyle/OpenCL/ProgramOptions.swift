/// The `-D` options Kernels.cl is compiled with on one device. Tile sizes and variants are
/// chosen per device here, never by copying a kernel body. The host reads the same values to
/// lay out weights and size the launches, so a define and its host use cannot disagree.
public struct ProgramOptions: Equatable, Sendable {
    public var defines: [String: Int]

    /// `defines` over `baseline`, so every option is always passed and the host and the kernels
    /// read the same values.
    public init(defines: [String: Int]) {
        self.defines = ProgramOptions.baseline.merging(defines) { _, given in given }
    }

    /// A value for every option the kernels and the launches read (a CPU-like choice).
    public static let baseline: [String: Int] = [
        "DEVICE_IS_CPU": 1, "USE_FMA": 1, "CONV_COB": 16, "CONV_PXB": 16, "CONV_CHANNELS_FIRST": 0,
        "CONV_FAST_INTERIOR": 1, "CONV_BLOCKED_WEIGHTS": 0, "CONV_WINOGRAD": 1, "CONV_NARROW": 1, "NARROW_PX": 16, "NARROW_WG": 0, "NARROW_PREFETCH": 0, "WINO_PREFETCH": 0, "GB_PREFETCH": 0, "NT_STORES": 0, "NARROW_STRIP": 0, "WHOLE_ROWS": 1, "WINO_TB": 16, "WINO_COB": 16, "WINO_TV": 1, "WINO_OB": 1, "WINO_GEMM": 0, "WGEMM_M": 4, "WGEMM_N": 8, "WINO_WG": 0, "WINO_BAND": 1 << 22, "CONV_WG": 0, "VW": 16, "GRAM_T": 4, "GRAM_SLICE": 2048, "GRAM_SLICES": 32, "GRAM_GEMM": 0, "GB_GEMM": 0, "GB_ROWS": 16, "GB_VECS": 1, "TILE_WG": 0,
        "RED_LOCAL": 64, "RED_GROUPS": 64, "EW_LOCAL": 64,
    ]

    private func value(_ name: String) -> Int {
        defines[name] ?? ProgramOptions.baseline[name] ?? 0
    }

    /// Sane defaults for a device, before any tuning.
    ///
    /// CPU devices (PoCL) reward work-items that each hold a large register block and use wide
    /// contiguous vector loads (16 output channels as one float16 × 16 pixels per work-item for
    /// the direct convolution: measured better than 8 and on par with 12 on PoCL, and VGG's
    /// channel counts and power-of-two widths leave no ragged tiles), where each loaded or
    /// broadcast value feeds several multiply-adds (the Winograd multiply and Gram backward below);
    /// GPUs want many light work-items, so their blocks are smaller.
    public static func defaults(for device: CLDeviceInfo) -> ProgramOptions {
        let cpu = device.kind == .cpu
        // The reduction work-group: a power of two the device accepts, at most 256.
        var reductionGroup = 1
        while reductionGroup * 2 <= min(cpu ? 64 : 256, max(device.maxWorkGroupSize, 1)) { reductionGroup *= 2 }
        // The local-memory tiled kernels (GPUs) need 16×16 work-groups and 12 KiB of local memory
        // at their default tiles; a GPU with less keeps the register-block kernels.
        let tiled = !cpu && device.maxWorkGroupSize >= 256
            && (device.localMemoryBytes == 0 || device.localMemoryBytes >= UInt64(tiledLocalBytes(outputs: 64, tiles: 128)))
        return ProgramOptions(defines: [
            "DEVICE_IS_CPU": cpu ? 1 : 0,
            "CONV_COB": cpu ? 16 : 8,
            "CONV_PXB": cpu ? 16 : 4,
            // Each CPU work-item streams its own channel block's weights contiguously; GPU
            // work-items of neighbouring channel blocks read adjacent weights.
            "CONV_BLOCKED_WEIGHTS": cpu ? 1 : 0,
            // Winograd F(2×2,3×3) for the layers with enough channels (OpenCLConvWeights): its
            // batched multiply holds CONV_COB channels × WINO_TB tiles per work-item; its scratch
            // is bounded by WINO_BAND floats per buffer.
            "CONV_WINOGRAD": 1,
            // conv3x3_narrow (conv1_1 both ways) on CPUs, one work-item per group: PoCL ran its
            // explicit vectors 1.6–2.5× slower in groups of 4–32 (the driver's choice). GPUs keep
            // conv3x3, whose 8-channel blocks lose less to 3 channels than 16 and whose light
            // work-items suit them; `tune` can switch it on (CONV_NARROW, NARROW_PX).
            "CONV_NARROW": cpu ? 1 : 0,
            "NARROW_PX": cpu ? 16 : 4,
            "NARROW_WG": cpu ? 1 : 0,
            // CPU cache controls (Clang builtins; GPUs schedule their memory differently): prefetch
            // 4 channels ahead where a work-item reads one stream per channel, in conv3x3_narrow,
            // the Winograd multiply (5–11% less time) and Gram backward (20% less); store
            // conv3x3_narrow's whole aligned vectors past the caches.
            "NARROW_PREFETCH": cpu ? 4 : 0,
            "WINO_PREFETCH": cpu ? 4 : 0,
            "GB_PREFETCH": cpu ? 4 : 0,
            "NT_STORES": cpu ? 1 : 0,
            // conv1_1's backward-data (64 → 3) on conv3x3_narrow_strip, 16 vectors per work-item:
            // 0.62–0.78× conv3x3_narrow's time on PoCL in interleaved rounds (its 4 input rows per
            // channel read as runs rather than 256 rows at once). GPUs keep conv3x3 (CONV_NARROW 0).
            "NARROW_STRIP": cpu ? 16 : 0,
            // Pooling and the Winograd transforms: a work-item per row on CPUs (PoCL pays per
            // work-group), per block of 8 windows or tiles on GPUs.
            "WHOLE_ROWS": cpu ? 1 : 0,
            "WINO_BAND": cpu ? 1 << 22 : 1 << 24,
            "WINO_TB": cpu ? 16 : 4,
            // The multiply's register block on CPUs: 8 output channels × 3 vectors of 16 tiles (24
            // accumulators, each broadcast weight feeding 3 FMAs): 35–45% less multiply time in a
            // whole iteration on PoCL than 16 × 1 vector, whose weights each fed one.
            "WINO_COB": 8,
            "WINO_TV": cpu ? 3 : 1,
            "WINO_OB": cpu ? 8 : 1,
            // The multiply as a local-memory tiled matrix product on GPUs (`tiled`): on an H200 5.67 against
            // 9.31 ms of an iteration at 512×384 (the 64 × 128 tiles of 4 × 8 per work-item beat
            // 8 × 8 and 4 × 4). CPUs keep the register blocks: PoCL ran an iteration 13× slower
            // with both tiled kernels (972 against 72 ms at 32×24), whose 256-wide work-groups
            // meet barriers.
            "WINO_GEMM": tiled ? 1 : 0,
            "WGEMM_M": 4,
            "WGEMM_N": 8,
            // Measured on an H200 (`tune --quick` at 512): float8 Gram vectors 6% faster than float4,
            // float16 19% slower.
            "VW": cpu ? 16 : 8,
            "GRAM_T": 4,
            // The Gram's split over pixels: slices of about GRAM_SLICE pixels, at most GRAM_SLICES.
            // A CPU needs one slice per core or so; a GPU needs tens of thousands of work-items,
            // which 32 slices of a few-channel layer do not give (conv1_1's Gram: 4,352 work-items,
            // 0.94 ms at 512×384 on an H200, 1.7 TFLOP/s).
            "GRAM_SLICE": cpu ? 2048 : 512,
            "GRAM_SLICES": cpu ? 32 : 256,
            // The Gram's slices as local-memory tiled products on GPUs: on an H200 0.38 against
            // 2.34 ms of an iteration at 512×384 (13–17 TFLOP/s per layer, from 2.5–3).
            "GRAM_GEMM": tiled ? 1 : 0,
            // Gram backward as the same tiled product as the Winograd multiply (WGEMM_M × WGEMM_N
            // per work-item) on GPUs: on an H200 0.38 against 1.06 ms of an iteration at 512×384.
            "GB_GEMM": tiled ? 1 : 0,
            // Gram backward: 8 rows × 3 vectors per CPU work-item (each A element feeding 3
            // FMAs): 81 against 123 ms of an iteration on PoCL with 16 rows × 1 vector.
            "GB_ROWS": cpu ? 8 : 4,
            "GB_VECS": cpu ? 3 : 1,
            "RED_LOCAL": reductionGroup,
            "RED_GROUPS": cpu ? 64 : 128,
            // Work-group widths of the launches (host only; 0 lets the driver choose). Fixed sizes
            // also keep PoCL from compiling one variant per global size.
            "CONV_WG": cpu ? 1 : 0,
            // PoCL pays per work-group: the light Winograd transforms need wide ones. On an H200
            // (`tune --quick` at 512) 16 beat the driver's choice too: 4.16 against 5.07 ms over the
            // tuned layers' convolutions, and the Gram launches 5.45 against 5.67 ms.
            "WINO_WG": 16,
            "TILE_WG": cpu ? 1 : 16,
            "EW_LOCAL": min(128, reductionGroup * 2),
        ])
    }

    /// Local memory of `winograd_multiply_tiled` and `gram_backward_tiled`: 16 channels of both
    /// operands' tiles.
    static func tiledLocalBytes(outputs: Int, tiles: Int) -> Int { 16 * (outputs + tiles) * 4 }

    /// The option string for clBuildProgram, in a stable order.
    public var buildString: String {
        (["-cl-mad-enable"] + defines.keys.sorted().map { "-D\($0)=\(defines[$0]!)" }).joined(separator: " ")
    }

    // MARK: Values the host needs

    /// Output channels per conv work-item (the weight layout is padded to a multiple of it).
    public var convOutputBlock: Int { value("CONV_COB") }
    /// Output channels per work-item of the Winograd multiply.
    public var winogradOutputBlock: Int { value("WINO_COB") }
    /// Channel counts are padded to a multiple of this in weight layouts and Winograd strides:
    /// the larger of the two blocks (powers of two), so a multiple of both.
    public var channelBlock: Int { max(convOutputBlock, winogradOutputBlock) }
    /// Pixels of a row per conv work-item.
    public var convPixelBlock: Int { value("CONV_PXB") }
    /// Whether the conv launch runs over output-channel blocks in its first dimension.
    public var convChannelsFirst: Bool { value("CONV_CHANNELS_FIRST") != 0 }
    /// Whether conv weights are laid out block-major, [C_out / CONV_COB][C_in·9][CONV_COB].
    public var convBlockedWeights: Bool { value("CONV_BLOCKED_WEIGHTS") != 0 }
    /// Which layers convolve by Winograd F(2×2,3×3) instead of directly: 0 none, 1 those with
    /// enough channels both ways (`OpenCLConvWeights.usesWinograd`), 2 all (for tests).
    public var convWinograd: Int { value("CONV_WINOGRAD") }
    /// Which direct convolutions (forward or backward-data) run `conv3x3_narrow`, whose vectors
    /// hold pixels instead of channels: 0 none, 1 those with few channels
    /// (`OpenCLConvWeights.usesNarrow`), 2 all (for tests).
    public var convNarrow: Int { value("CONV_NARROW") }
    /// Pixels of a row per vector of `conv3x3_narrow` (a work-item computes two rows).
    public var narrowPixelBlock: Int { value("NARROW_PX") }
    /// Whether a work-item of the row kernels (pooling, Winograd transforms) runs a whole row
    /// (else a block of 8 windows or tiles).
    public var wholeRows: Bool { value("WHOLE_ROWS") != 0 }
    /// Input channels ahead whose rows `conv3x3_narrow` prefetches; 0 none.
    public var narrowPrefetchDistance: Int { value("NARROW_PREFETCH") }
    /// Work-group width of the `conv3x3_narrow` launch; 0 lets the driver choose.
    public var narrowWorkGroupWidth: Int { value("NARROW_WG") }
    /// Vectors per work-item of `conv3x3_narrow_strip` (0: that kernel is not used).
    public var narrowStrip: Int { value("NARROW_STRIP") }
    /// Floats one Winograd scratch buffer may hold before the image is cut into more bands.
    public var winogradBandFloats: Int { value("WINO_BAND") }
    /// Tiles per work-item of the Winograd multiply.
    public var winogradTileBlock: Int { value("WINO_TB") }
    /// Tiles per work-item of the Winograd multiply: WINO_TV vectors of WINO_TB (band strides are
    /// multiples of it).
    public var winogradTilesPerItem: Int { value("WINO_TB") * value("WINO_TV") }
    /// Work-group width (along the first dimension) of the conv launch; 0 lets the driver choose.
    public var convWorkGroupWidth: Int { value("CONV_WG") }
    /// Channel blocks per work-item of the Winograd multiply.
    public var winogradBlocksPerItem: Int { value("WINO_OB") }
    /// Whether the Winograd multiply runs `winograd_multiply_tiled` (local-memory tiles).
    public var winogradTiledMultiply: Bool { value("WINO_GEMM") != 0 }
    /// Rows × columns of the result one 16×16 work-group of the WGEMM tiled products computes:
    /// output channels × tiles in `winograd_multiply_tiled`, channels × pixels in `gram_backward_tiled`.
    public var tiledProductBlock: (outputs: Int, tiles: Int) { (16 * value("WGEMM_M"), 16 * value("WGEMM_N")) }
    /// Work-group width of the Winograd transform launches without WHOLE_ROWS; 0 lets the driver choose.
    public var winogradWorkGroupWidth: Int { value("WINO_WG") }
    /// Work-group width of the Gram launches (along their first dimension); 0 lets the driver choose.
    public var tileWorkGroupWidth: Int { value("TILE_WG") }
    /// Work-group size of the one-work-item-per-element launches.
    public var elementwiseGroupSize: Int { value("EW_LOCAL") }
    /// Vector width along pixels in the Gram kernels.
    public var vectorWidth: Int { value("VW") }
    public var gramTile: Int { value("GRAM_T") }
    /// Pixels per slice of the Gram's split over pixels (rounded to the vector width).
    public var gramSliceLength: Int { value("GRAM_SLICE") }
    /// The most slices the Gram's pixels are split into (each holds a C×C partial).
    public var gramMaxSlices: Int { value("GRAM_SLICES") }
    /// Whether the Gram's slices run `gram_partial_tiled` (64×64 blocks in local memory).
    public var gramTiledProduct: Bool { value("GRAM_GEMM") != 0 }
    /// Whether Gram backward runs `gram_backward_tiled` (the Winograd multiply's tiles).
    public var gramBackwardTiledProduct: Bool { value("GB_GEMM") != 0 }
    public var gramBackwardRows: Int { value("GB_ROWS") }
    /// Columns (pixels) per Gram backward work-item: GB_VECS vectors of VW.
    public var gramBackwardColumns: Int { value("VW") * value("GB_VECS") }
    public var reductionGroupSize: Int { value("RED_LOCAL") }
    public var reductionGroups: Int { value("RED_GROUPS") }

    /// Throws when a value cannot work with the kernels (options may come from a tuning run or the user).
    public func validate(for device: CLDeviceInfo) throws {
        let vectorWidths: Set<Int> = [2, 4, 8, 16]
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw StyleError("kernel option \(what) (options: \(buildString))") }
        }
        try require(vectorWidths.contains(convOutputBlock), "CONV_COB must be 2, 4, 8 or 16")
        try require(vectorWidths.contains(vectorWidth), "VW must be 2, 4, 8 or 16")
        try require((1...32).contains(convPixelBlock), "CONV_PXB must be 1 to 32")
        try require((0...1).contains(value("CONV_BLOCKED_WEIGHTS")), "CONV_BLOCKED_WEIGHTS must be 0 or 1")
        try require((0...2).contains(convWinograd), "CONV_WINOGRAD must be 0, 1 or 2")
        try require((0...2).contains(convNarrow), "CONV_NARROW must be 0, 1 or 2")
        try require(vectorWidths.contains(narrowPixelBlock), "NARROW_PX must be 2, 4, 8 or 16")
        try require((0...64).contains(narrowPrefetchDistance), "NARROW_PREFETCH must be 0 to 64")
        try require((0...64).contains(value("WINO_PREFETCH")), "WINO_PREFETCH must be 0 to 64")
        try require((0...64).contains(value("GB_PREFETCH")), "GB_PREFETCH must be 0 to 64")
        try require((0...1).contains(value("NT_STORES")), "NT_STORES must be 0 or 1")
        try require([0, 2, 4, 8, 16, 32].contains(narrowStrip), "NARROW_STRIP must be 0, 2, 4, 8, 16 or 32")
        try require((0...1).contains(value("WHOLE_ROWS")), "WHOLE_ROWS must be 0 or 1")
        try require(winogradBandFloats > 0, "WINO_BAND must be positive")
        try require(vectorWidths.contains(winogradTileBlock), "WINO_TB must be 2, 4, 8 or 16")
        try require((1...4).contains(value("WINO_TV")), "WINO_TV must be 1 to 4")
        try require(vectorWidths.contains(winogradOutputBlock), "WINO_COB must be 2, 4, 8 or 16")
        try require((1...64).contains(winogradBlocksPerItem), "WINO_OB must be 1 to 64")
        try require((0...1).contains(value("WINO_GEMM")), "WINO_GEMM must be 0 or 1")
        try require((0...1).contains(value("GRAM_GEMM")), "GRAM_GEMM must be 0 or 1")
        try require((0...1).contains(value("GB_GEMM")), "GB_GEMM must be 0 or 1")
        try require([4, 8].contains(value("WGEMM_M")) && [4, 8].contains(value("WGEMM_N")), "WGEMM_M and WGEMM_N must be 4 or 8")
        if winogradTiledMultiply {
            // Whole float4s: weight blocks and tile strides in multiples of 4.
            try require(winogradOutputBlock % 4 == 0 && winogradTilesPerItem % 4 == 0,
                        "WINO_GEMM=1 needs WINO_COB and WINO_TB × WINO_TV to be multiples of 4")
        }
        // The tiled kernels: 16×16 work-groups, and local memory for the WGEMM tiles (the multiply
        // and Gram backward) or the Gram's 2 × 16 × 65 floats.
        let gemmBytes = ProgramOptions.tiledLocalBytes(outputs: tiledProductBlock.outputs, tiles: tiledProductBlock.tiles)
        let tiled = [("WINO_GEMM", winogradTiledMultiply, gemmBytes), ("GRAM_GEMM", gramTiledProduct, 2 * 16 * 65 * 4),
                     ("GB_GEMM", gramBackwardTiledProduct, gemmBytes)].filter(\.1)
        for (name, _, localBytes) in tiled {
            try require(device.maxWorkGroupSize >= 256,
                        "\(name)=1 needs work-groups of 256 (the device allows \(device.maxWorkGroupSize))")
            try require(device.localMemoryBytes == 0 || UInt64(localBytes) <= device.localMemoryBytes,
                        "\(name)=1 needs \(localBytes) bytes of local memory (the device has \(device.localMemoryBytes))")
        }
        try require((1...8).contains(gramTile), "GRAM_T must be 1 to 8")
        try require((1...1 << 20).contains(gramSliceLength), "GRAM_SLICE must be 1 to 1048576")
        try require((1...4096).contains(gramMaxSlices), "GRAM_SLICES must be 1 to 4096")
        try require((1...32).contains(gramBackwardRows), "GB_ROWS must be 1 to 32")
        try require((1...4).contains(value("GB_VECS")), "GB_VECS must be 1 to 4")
        let group = reductionGroupSize
        try require(group > 0 && group & (group - 1) == 0 && group <= max(device.maxWorkGroupSize, 1),
                    "RED_LOCAL must be a power of two no larger than the device's work-group size \(device.maxWorkGroupSize)")
        try require((1...4096).contains(reductionGroups), "RED_GROUPS must be 1 to 4096")
        let limit = max(device.maxWorkGroupSize, 1)
        try require((1...limit).contains(elementwiseGroupSize), "EW_LOCAL must be 1 to \(limit)")
        try require((0...limit).contains(convWorkGroupWidth), "CONV_WG must be 0 to \(limit)")
        try require((0...limit).contains(tileWorkGroupWidth), "TILE_WG must be 0 to \(limit)")
        try require((0...limit).contains(narrowWorkGroupWidth), "NARROW_WG must be 0 to \(limit)")
        try require((0...limit).contains(winogradWorkGroupWidth), "WINO_WG must be 0 to \(limit)")
    }
}
