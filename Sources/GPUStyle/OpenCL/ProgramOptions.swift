/// The values of every `KernelOption` on one device: the compile-time ones are Kernels.cl's `-D`
/// options, the launch-only ones size its launches. Tile sizes and variants are chosen per device
/// here, never by copying a kernel body; the host reads the same values to lay out weights and size
/// the launches, so a define and its host use cannot disagree.
public struct ProgramOptions: Equatable, Sendable {
    public var defines: [String: Int]

    /// `defines` over `baseline`, so every option always has a value.
    public init(defines: [String: Int]) {
        self.defines = ProgramOptions.baseline.merging(defines) { _, given in given }
    }

    /// Every option's fallback value, by name.
    public static let baseline = [String: Int](uniqueKeysWithValues: KernelOption.all.map { ($0.name, $0.fallback) })

    /// The value of `option`.
    func value(_ option: KernelOption) -> Int {
        defines[option.name] ?? option.fallback
    }

    /// Sane defaults for a device, before any tuning: each option's CPU or GPU default.
    public static func defaults(for device: CLDeviceInfo) -> ProgramOptions {
        let tiled = runsTiledKernels(device)
        return ProgramOptions(
            defines: [String: Int](
                uniqueKeysWithValues: KernelOption.all.map {
                    ($0.name, $0.defaultValue(on: device, tiled: tiled))
                }))
    }

    /// Named option sets that check the kernels beyond a device's own choice (`selftest
    /// --kernel-options`): the defaults a CPU or a GPU with the device's limits gets, and every option
    /// the tuner varies on the device at its smallest or largest value over the device's defaults
    /// (the combinations the tuner's one-at-a-time search never builds).
    public enum Preset: String, CaseIterable, Sendable {
        case cpu, gpu, min, max
    }

    /// The options `preset` names on `device`.
    public static func preset(_ preset: Preset, for device: CLDeviceInfo) -> ProgramOptions {
        switch preset {
        case .cpu:
            return defaults(for: device.treated(as: .cpu))
        case .gpu:
            return defaults(for: device.treated(as: .gpu))
        case .min, .max:
            var options = defaults(for: device)
            for define in TunableDefine.table where define.applies(to: device) {
                if let value = preset == .min ? define.values.min() : define.values.max() {
                    options.defines[define.name] = value
                }
            }
            return options
        }
    }

    /// Whether the local-memory tiled kernels are the default on `device`: GPUs with 16×16
    /// work-groups and the local memory of the default tiles; a GPU with less keeps the
    /// register-block kernels, and CPUs run 256-wide work-groups with barriers slowly.
    static func runsTiledKernels(_ device: CLDeviceInfo) -> Bool {
        device.kind != .cpu && device.maxWorkGroupSize >= 256
            && (device.localMemoryBytes == 0
                || device.localMemoryBytes >= UInt64(tiledLocalBytes(outputs: 64, tiles: 128)))
    }

    /// Local memory of `winograd_multiply_tiled` and `gram_backward_tiled`: 16 channels of both
    /// operands' tiles, in one buffer or two (`WGEMM_DB`).
    static func tiledLocalBytes(outputs: Int, tiles: Int, buffers: Int = 1) -> Int {
        buffers * 16 * (outputs + tiles) * 4
    }

    /// The option string for clBuildProgram, in a stable order: the compile-time options only.
    public var buildString: String {
        let defines = KernelOption.all.filter { $0.kind == .compileTime }.map { ($0.name, value($0)) }
        return (["-cl-mad-enable"] + defines.sorted { $0.0 < $1.0 }.map { "-D\($0.0)=\($0.1)" })
            .joined(separator: " ")
    }

    /// Every value, for error messages.
    var listing: String {
        defines.keys.sorted().map { "\($0)=\(defines[$0]!)" }.joined(separator: " ")
    }

    // MARK: Values the host needs

    /// Output channels per conv work-item (the weight layout is padded to a multiple of it).
    public var convOutputBlock: Int { value(.convCOB) }
    /// Output channels per work-item of the Winograd multiply.
    public var winogradOutputBlock: Int { value(.winoCOB) }
    /// Channel counts are padded to a multiple of this in weight layouts and Winograd strides:
    /// the larger of the two blocks (powers of two), so a multiple of both.
    public var channelBlock: Int { max(convOutputBlock, winogradOutputBlock) }
    /// Pixels of a row per conv work-item.
    public var convPixelBlock: Int { value(.convPXB) }
    /// Whether the conv launch runs over output-channel blocks in its first dimension.
    public var convChannelsFirst: Bool { value(.convChannelsFirst) != 0 }
    /// Whether conv weights are laid out block-major, [C_out / CONV_COB][C_in·9][CONV_COB].
    public var convBlockedWeights: Bool { value(.convBlockedWeights) != 0 }
    /// Which layers convolve by Winograd F(2×2,3×3) instead of directly: 0 none, 1 those with
    /// enough channels both ways (`OpenCLConvWeights.usesWinograd`), 2 all (for tests).
    public var convWinograd: Int { value(.convWinograd) }
    /// Which direct convolutions (forward or backward-data) run `conv3x3_narrow`, whose vectors
    /// hold pixels instead of channels: 0 none, 1 those with few channels
    /// (`OpenCLConvWeights.usesNarrow`), 2 all (for tests).
    public var convNarrow: Int { value(.convNarrow) }
    /// Pixels of a row per vector of `conv3x3_narrow` (a work-item computes two rows).
    public var narrowPixelBlock: Int { value(.narrowPX) }
    /// Whether a work-item of the row kernels (pooling, Winograd transforms) runs a whole row
    /// (else a block of 8 windows or tiles).
    public var wholeRows: Bool { value(.wholeRows) != 0 }
    /// Input channels ahead whose rows `conv3x3_narrow` prefetches; 0 none.
    public var narrowPrefetchDistance: Int { value(.narrowPrefetch) }
    /// Work-group width of the `conv3x3_narrow` launch; 0 lets the driver choose.
    public var narrowWorkGroupWidth: Int { value(.narrowWG) }
    /// Vectors per work-item of `conv3x3_narrow_strip` (0: that kernel is not used).
    public var narrowStrip: Int { value(.narrowStrip) }
    /// Floats one Winograd scratch buffer may hold before the image is cut into more bands.
    public var winogradBandFloats: Int { value(.winoBand) }
    /// Bands of about the weight transforms' floats where that is less (`WinogradBands`).
    public var winogradBandsFitWeights: Bool { value(.winoBandFit) != 0 }
    /// The most input or output channels of a Winograd convolution split between two half queues
    /// (`CLContext.halfQueues`, where the device can be partitioned); 0: none, and no half queues.
    public var winogradHalvesChannels: Int { value(.winoHalves) }
    public var winogradCachesWeights: Bool { value(.winoCache) != 0 }
    /// The output tile side m of Winograd F(m×m,3×3), 2, 4 or 6, for a convolution on a
    /// `height`×`width` map. `WINO_TILE=0` chooses F(4×4) on maps of at least
    /// `ConvolutionShape.winograd4MinimumPixels`: there its 2.25× fewer multiplies outweigh its
    /// heavier transforms, at any channel count since its transforms run along tile rows
    /// (benchmarks/README.md, "F(4×4) transforms along tile rows"); F(6×6) from
    /// `ConvolutionShape.winograd6MinimumPixels`.
    public func winogradTile(height: Int, width: Int) -> Int {
        let chosen = value(.winoTile)
        if chosen != 0 { return chosen }
        let pixels = height * width
        return pixels >= ConvolutionShape.winograd6MinimumPixels
            ? 6 : pixels >= ConvolutionShape.winograd4MinimumPixels ? 4 : 2
    }
    /// Tiles per work-item of the Winograd multiply.
    public var winogradTileBlock: Int { value(.winoTB) }
    /// Tiles per work-item of the Winograd multiply: WINO_TV vectors of WINO_TB.
    public var winogradTilesPerItem: Int { value(.winoTB) * value(.winoTV) }
    /// What the Winograd bands' tile strides are multiples of: the register-block multiply's
    /// vector (its last work-item may hold fewer vectors), the tiled multiply's whole block.
    public var winogradTileStrideMultiple: Int { winogradTiledMultiply ? winogradTilesPerItem : value(.winoTB) }
    /// Work-group width (along the first dimension) of the conv launch; 0 lets the driver choose.
    public var convWorkGroupWidth: Int { value(.convWG) }
    /// Channel blocks per work-item of the Winograd multiply.
    public var winogradBlocksPerItem: Int { value(.winoOB) }
    /// Whether the Winograd multiply runs `winograd_multiply_tiled` (local-memory tiles).
    public var winogradTiledMultiply: Bool { value(.winoGEMM) != 0 }
    /// Rows × columns of the result one 16×16 work-group of the WGEMM tiled products computes:
    /// output channels × tiles in `winograd_multiply_tiled`, channels × pixels in `gram_backward_tiled`.
    public var tiledProductBlock: (outputs: Int, tiles: Int) { (16 * value(.wgemmM), 16 * value(.wgemmN)) }
    /// Output channels from which the tiled multiply runs its wide variant (0: never; also where
    /// the plain kernel's blocks are as wide).
    public var winogradWideFrom: Int {
        tiledProductBlock == Self.wideProductBlock ? 0 : value(.wgemmWide)
    }
    /// Output channels × tiles per work-group of the tiled multiply's wide variant.
    public static let wideProductBlock = (outputs: 128, tiles: 128)
    /// Work-group width of the Winograd transform launches without WHOLE_ROWS; 0 lets the driver choose.
    public var winogradWorkGroupWidth: Int { value(.winoWG) }
    /// Work-group width of the Winograd weight transforms' launches; 0 lets the driver choose.
    public var winogradWeightsWorkGroupWidth: Int { value(.winoWeightsWG) }
    /// Rows of the transformed weights one work-item of `winograd4_weights` makes.
    public var winograd4WeightRows: Int { value(.winoWeightRows) }
    /// Work-group width of the Gram launches (along their first dimension); 0 lets the driver choose.
    public var tileWorkGroupWidth: Int { value(.tileWG) }
    /// Work-group size of the one-work-item-per-element launches.
    public var elementwiseGroupSize: Int { value(.ewLocal) }
    /// Vector width along pixels in the Gram kernels.
    public var vectorWidth: Int { value(.vw) }
    public var gramTile: Int { value(.gramT) }
    /// Pixels per slice of the Gram's split over pixels (rounded to the vector width).
    public var gramSliceLength: Int { value(.gramSlice) }
    /// The most slices the Gram's pixels are split into (each holds a C×C partial).
    public var gramMaxSlices: Int { value(.gramSlices) }
    /// Whether the Gram's slices run `gram_partial_tiled` (64×64 blocks in local memory).
    public var gramTiledProduct: Bool { value(.gramGEMM) != 0 }
    /// Whether Gram backward runs `gram_backward_tiled` (the Winograd multiply's tiles).
    public var gramBackwardTiledProduct: Bool { value(.gbGEMM) != 0 }
    public var gramBackwardRows: Int { value(.gbRows) }
    /// Row blocks per Gram backward work-item.
    public var gramBackwardBlocksPerItem: Int { value(.gbOB) }
    /// Rows of `gram_symmetrize`'s output for C channels: `gram_backward` reads blocks of GB_ROWS,
    /// the last padded with zeros.
    public func gramSymmetricRows(channels c: Int) -> Int {
        gramBackwardTiledProduct ? c : (c + gramBackwardRows - 1) / gramBackwardRows * gramBackwardRows
    }
    /// Columns (pixels) per Gram backward work-item: GB_VECS vectors of VW.
    public var gramBackwardColumns: Int { value(.vw) * value(.gbVecs) }
    public var reductionGroupSize: Int { value(.redLocal) }
    public var reductionGroups: Int { value(.redGroups) }

    /// Throws when a value cannot work with the kernels (options may come from a tuning run or the user).
    public func validate(for device: CLDeviceInfo) throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw StyleError("kernel option \(what) (options: \(listing))") }
        }
        for name in defines.keys.sorted() where KernelOption.named(name) == nil {
            try require(false, "\(name) is unknown")
        }
        for option in KernelOption.all {
            if let problem = option.problem(with: value(option), on: device) {
                try require(false, "\(option.name) must be \(problem)")
            }
        }
        if winogradTiledMultiply {
            // Whole float4s: weight blocks and tile strides in multiples of 4.
            try require(
                winogradOutputBlock % 4 == 0 && winogradTilesPerItem % 4 == 0,
                "WINO_GEMM=1 needs WINO_COB and WINO_TB × WINO_TV to be multiples of 4")
        }
        // The tiled kernels: 16×16 work-groups, and local memory for the WGEMM tiles (the multiply,
        // its wide variant, and Gram backward; two buffers with WGEMM_DB) or the Gram's 2 × 16 × 65 floats.
        let buffers = 1 + value(.wgemmDB)
        let gemmBytes = ProgramOptions.tiledLocalBytes(
            outputs: tiledProductBlock.outputs, tiles: tiledProductBlock.tiles, buffers: buffers)
        let wideBytes = ProgramOptions.tiledLocalBytes(
            outputs: Self.wideProductBlock.outputs, tiles: Self.wideProductBlock.tiles, buffers: buffers)
        let tiled = [
            (
                KernelOption.winoGEMM, winogradTiledMultiply,
                winogradWideFrom > 0 ? max(gemmBytes, wideBytes) : gemmBytes
            ),
            (KernelOption.gramGEMM, gramTiledProduct, 2 * 16 * 65 * 4),
            (KernelOption.gbGEMM, gramBackwardTiledProduct, gemmBytes),
        ].filter(\.1)
        for (option, _, localBytes) in tiled {
            try require(
                device.maxWorkGroupSize >= 256,
                "\(option.name)=1 needs work-groups of 256 (the device allows \(device.maxWorkGroupSize))")
            try require(
                device.localMemoryBytes == 0 || UInt64(localBytes) <= device.localMemoryBytes,
                "\(option.name)=1 needs \(localBytes) bytes of local memory "
                    + "(the device has \(device.localMemoryBytes))")
        }
    }
}
