/// One option of the OpenCL backend: a `-D` define Kernels.cl reads, or a launch setting only the
/// host reads. `KernelOption.all` lists every option once; `ProgramOptions` (values, defaults,
/// validation, build string), the tuner's table and `--define`'s known names derive from it.
public struct KernelOption: Sendable {
    /// Compile-time options are passed to the compiler as `-D`; launch-only ones size launches or
    /// choose kernels and layouts on the host, so changing one needs no new program build.
    public enum Kind: Sendable {
        case compileTime, launchOnly
    }

    /// A default, fixed or by a rule on the device's properties.
    public enum Default: Sendable, ExpressibleByIntegerLiteral {
        case value(Int)
        /// 1 where the device runs the 16×16 local-memory tiled kernels
        /// (`ProgramOptions.runsTiledKernels`), else 0.
        case tiled
        /// The largest power of two within `limit` and the device's work-group size.
        case powerOfTwoGroup(atMost: Int)
        /// Twice RED_LOCAL's default on the device, at most `limit`.
        case twiceReductionGroup(atMost: Int)
        /// `wide` where the device prefers vectors of 16 floats or more (AVX-512, with its 32
        /// registers), else `narrow` (AVX2's 8 floats and 16 registers, and narrower): a register
        /// block sized for one spills on the other.
        case vectorWidth(wide: Int, narrow: Int)

        public init(integerLiteral value: Int) { self = .value(value) }
    }

    /// The values an option may take.
    public enum Valid: Sendable {
        case values([Int])
        case range(ClosedRange<Int>)
        case positive
        /// A power of two within the device's work-group size.
        case powerOfTwoGroup
        /// `lowest` to the device's work-group size.
        case groupSize(from: Int)
    }

    /// What `stylize-gpu tune` tries: the values, the ops whose time it compares, and the device
    /// kinds it tunes the option on (nil: all).
    public struct Tuning: Sendable {
        public let values: [Int]
        public let affects: [OpsBenchmark.Op]
        public let kinds: Set<CLDeviceInfo.Kind>?
    }

    public let name: String
    /// What it sets, in one line.
    public let meaning: String
    public let kind: Kind
    public let valid: Valid
    /// The value when none is given: Kernels.cl's `#ifndef` value for a compile-time option.
    public let fallback: Int
    public let cpu: Default
    /// Accelerators and other devices count as GPUs.
    public let gpu: Default
    /// nil: not tuned.
    public let tuning: Tuning?

    init(
        _ name: String, _ meaning: String, _ kind: Kind, valid: Valid, fallback: Int, cpu: Default, gpu: Default,
        tuned values: [Int] = [], affects: [OpsBenchmark.Op] = [], on kinds: Set<CLDeviceInfo.Kind>? = nil
    ) {
        self.name = name
        self.meaning = meaning
        self.kind = kind
        self.valid = valid
        self.fallback = fallback
        self.cpu = cpu
        self.gpu = gpu
        tuning = values.isEmpty ? nil : Tuning(values: values, affects: affects, kinds: kinds)
    }

    /// The option's default on `device`; `tiled` says whether it runs the tiled kernels.
    func defaultValue(on device: CLDeviceInfo, tiled: Bool) -> Int {
        switch device.kind == .cpu ? cpu : gpu {
        case .value(let value):
            return value
        case .tiled:
            return tiled ? 1 : 0
        case .powerOfTwoGroup(let limit):
            var group = 1
            while group * 2 <= min(limit, max(device.maxWorkGroupSize, 1)) { group *= 2 }
            return group
        case .twiceReductionGroup(let limit):
            return min(limit, 2 * KernelOption.redLocal.defaultValue(on: device, tiled: tiled))
        case .vectorWidth(let wide, let narrow):
            return device.preferredFloatVectorWidth >= 16 ? wide : narrow
        }
    }

    /// Why `value` is not valid on `device`, as the end of "NAME must be …", or nil when it is.
    func problem(with value: Int, on device: CLDeviceInfo) -> String? {
        let limit = max(device.maxWorkGroupSize, 1)
        switch valid {
        case .values(let values):
            if values.contains(value) { return nil }
            let listed = values.map(String.init)
            return listed.dropLast().joined(separator: ", ") + " or " + listed.last!
        case .range(let range):
            return range.contains(value) ? nil : "\(range.lowerBound) to \(range.upperBound)"
        case .positive:
            return value > 0 ? nil : "positive"
        case .powerOfTwoGroup:
            let ok = value > 0 && value & (value - 1) == 0 && value <= limit
            return ok ? nil : "a power of two no larger than the device's work-group size \(device.maxWorkGroupSize)"
        case .groupSize(let lowest):
            return (lowest...max(limit, lowest)).contains(value) ? nil : "\(lowest) to \(limit)"
        }
    }
}

extension KernelOption {
    private static let convolution: [OpsBenchmark.Op] = [.convForward, .convBackwardData]
    private static let gramOps: [OpsBenchmark.Op] = [.gram, .gramBackward]
    private static let vectorWidths = Valid.values([2, 4, 8, 16])
    private static let flag = Valid.values([0, 1])
    /// Not tuned on CPU devices: the tiled kernels (PoCL runs 256-wide work-groups with barriers
    /// slowly) and work-group widths (PoCL runs a wider group's work-items as vector lanes and then
    /// lets the conv kernel read past its buffer, a segfault no check can catch).
    private static let notCPU: Set<CLDeviceInfo.Kind> = [.gpu, .accelerator, .other]

    // Direct convolution (conv3x3). CPUs want work-items holding large register blocks with wide
    // contiguous loads; GPUs many light work-items.
    static let convPXB = KernelOption(
        "CONV_PXB", "conv3x3: pixels of a row per work-item", .compileTime,
        valid: .range(1...32), fallback: 16, cpu: 16, gpu: 4,
        tuned: [8, 12, 16, 24], affects: convolution)
    static let convCOB = KernelOption(
        "CONV_COB", "conv3x3: output channels per work-item (one vector)",
        .compileTime, valid: vectorWidths, fallback: 16, cpu: 16, gpu: 8,
        tuned: [8, 16], affects: convolution)
    /// A CPU work-item streams its own channel block's weights; GPU work-items of neighbouring
    /// channel blocks read adjacent weights.
    static let convBlockedWeights = KernelOption(
        "CONV_BLOCKED_WEIGHTS",
        "conv3x3: weights block-major (else tap-major)", .compileTime, valid: flag, fallback: 0, cpu: 1, gpu: 0,
        tuned: [0, 1], affects: convolution)
    static let convChannelsFirst = KernelOption(
        "CONV_CHANNELS_FIRST",
        "conv3x3: launch dimension 0 over channel blocks", .compileTime, valid: flag, fallback: 0, cpu: 0, gpu: 0,
        tuned: [0, 1], affects: convolution)
    /// A fallback kept for debugging, never faster: not tuned.
    static let convFastInterior = KernelOption(
        "CONV_FAST_INTERIOR", "conv3x3: unchecked loads away from the edges",
        .compileTime, valid: flag, fallback: 1, cpu: 1, gpu: 1)

    // Winograd F(2×2,3×3). Its multiply holds WINO_COB channels × WINO_TV vectors of WINO_TB tiles
    // per work-item; on CPUs a block where each broadcast weight feeds several FMAs, one register
    // a vector: 24 of AVX-512's 32 (8 × 3 of 16 floats) or 12 of AVX2's 16 (4 × 3 of 8), with
    // WINO_OB blocks making 64 or so channels a work-item either way.
    static let convWinograd = KernelOption(
        "CONV_WINOGRAD", "Winograd layers: 0 none, 1 min(I, O) ≥ 8, 2 all",
        .launchOnly, valid: .values([0, 1, 2]), fallback: 1, cpu: 1, gpu: 1,
        tuned: [0, 1], affects: convolution)
    /// F(4×4,3×3) does 36 multiplies per 16 outputs against F(2×2)'s 16 per 4, F(6×6,3×3) 64 per
    /// 36, each for heavier transforms and a larger error bound (WinogradErrorBound.swift). 0 chooses per layer
    /// (`ProgramOptions.winogradTile(…)`, the rule measured on PoCL); GPUs stay 2 until measured.
    static let winoTile = KernelOption(
        "WINO_TILE", "Winograd output tile: 2 F(2×2,3×3), 4 F(4×4,3×3), 6 F(6×6,3×3), 0 per layer",
        .launchOnly, valid: .values([0, 2, 4, 6]), fallback: 2, cpu: 0, gpu: 2,
        tuned: [0, 2, 4, 6], affects: convolution)
    static let winoTB = KernelOption(
        "WINO_TB", "Winograd multiply: tiles per vector", .compileTime,
        valid: vectorWidths, fallback: 16, cpu: .vectorWidth(wide: 16, narrow: 8), gpu: 4,
        tuned: [4, 8, 16], affects: convolution)
    static let winoCOB = KernelOption(
        "WINO_COB", "Winograd multiply: output channels per work-item", .compileTime,
        valid: vectorWidths, fallback: 16, cpu: .vectorWidth(wide: 8, narrow: 4), gpu: 8,
        tuned: [4, 8, 16], affects: convolution)
    static let winoTV = KernelOption(
        "WINO_TV", "Winograd multiply: vectors of tiles per work-item", .compileTime,
        valid: .range(1...4), fallback: 1, cpu: 3, gpu: 1,
        tuned: [1, 2, 3], affects: convolution)
    /// CPU cache control (a Clang builtin): one stream per channel is more than a prefetcher follows
    /// with AVX-512's 16-tile vectors; AVX2's 3 × 8 tiles a channel ran faster without it.
    static let winoPrefetch = KernelOption(
        "WINO_PREFETCH", "Winograd multiply: channels prefetched ahead",
        .compileTime, valid: .range(0...64), fallback: 0, cpu: .vectorWidth(wide: 4, narrow: 0), gpu: 0,
        tuned: [0, 4, 8], affects: convolution, on: [.cpu])
    /// `winograd6_input` reads 8 rows at once and `winograd4_input` 6, more streams than a CPU's
    /// prefetcher follows.
    static let winoRowPrefetch = KernelOption(
        "WINO_ROW_PREFETCH", "winograd4_input, winograd6_input: the next block's rows prefetched",
        .compileTime, valid: .values([0, 1]), fallback: 0, cpu: 1, gpu: 0,
        tuned: [0, 1], affects: convolution, on: [.cpu])
    /// A work-item gathers its block's taps from WINO_COB kernels far apart (forward) or from one
    /// run a row of kernels away from its neighbour's (backward-data): each a cache miss.
    static let winoTapPrefetch = KernelOption(
        "WINO_TAP_PREFETCH", "Winograd weight transforms: rows ahead whose taps are prefetched",
        .compileTime, valid: .range(0...16), fallback: 0, cpu: 4, gpu: 0,
        tuned: [0, 2, 4], affects: convolution, on: [.cpu])
    /// Pairs of rows store each transform as whole 64-byte lines past the caches (NT_STORES,
    /// WINO_COB 8), and the fence that drains those stores is paid once per work-item.
    static let winoWeightRows = KernelOption(
        "WINO_WEIGHT_ROWS", "winograd4_weights: rows per work-item",
        .compileTime, valid: .values([1, 2, 4, 8, 16]), fallback: 1, cpu: 8, gpu: 1,
        tuned: [1, 8], affects: convolution, on: [.cpu])
    /// PoCL pays per work-item; the tiles stay in cache.
    static let winoOB = KernelOption(
        "WINO_OB", "Winograd multiply: channel blocks per work-item", .compileTime,
        valid: .range(1...64), fallback: 1, cpu: .vectorWidth(wide: 8, narrow: 16), gpu: 1,
        tuned: [1, 4, 8, 16, 32], affects: convolution)
    /// PoCL pays per work-group: the light transforms need wide ones.
    static let winoWG = KernelOption(
        "WINO_WG", "Winograd transforms' work-group width (0: the driver's)",
        .launchOnly, valid: .groupSize(from: 0), fallback: 0, cpu: 16, gpu: 16,
        tuned: [16, 64], affects: convolution)
    /// PoCL's own work-groups run the weight transforms' work-items as vector lanes and scatter
    /// their stores one float at a time.
    static let winoWeightsWG = KernelOption(
        "WINO_WEIGHTS_WG", "Winograd weight transforms' work-group width (0: the driver's)",
        .launchOnly, valid: .groupSize(from: 0), fallback: 0, cpu: 1, gpu: 0,
        tuned: [0, 1, 16], affects: convolution)
    static let winoBand = KernelOption(
        "WINO_BAND", "floats per Winograd scratch buffer (more cut more bands)",
        .launchOnly, valid: .positive, fallback: 1 << 22, cpu: .value(1 << 22),
        gpu: .value(1 << 24))
    /// Each band's multiply reads all the weight transforms, so on a CPU a band need not hold more
    /// than they do: a smaller one stays in cache from its input transform through the multiply
    /// to its output transform. A GPU wants the larger launches.
    static let winoBandFit = KernelOption(
        "WINO_BAND_FIT", "Winograd bands hold at most about the weight transforms' floats",
        .launchOnly, valid: flag, fallback: 0, cpu: 1, gpu: 0,
        tuned: [0, 1], affects: convolution, on: [.cpu])
    /// A band's kernels then hand their transforms and products on within one half's caches, a win
    /// where cores do not share a last-level cache, and most where few channels make the hand-overs
    /// a large part of the work; the static split costs balance where they do share one.
    static let winoHalves = KernelOption(
        "WINO_HALVES", "Winograd: most channels of a convolution split between a CPU's two halves (0: none)",
        .launchOnly, valid: .range(0...4096), fallback: 0, cpu: 128, gpu: 0,
        tuned: [0, 128, 512], affects: convolution, on: [.cpu])
    /// Keeping the transforms saves the pass over 16/9 (F(2×2)) or 36/9 (F(4×4)) of the raw
    /// weights each way at every convolution, for their memory: off until the plan can choose it
    /// where memory is to spare (benchmarks/README.md: −7–9 % time, +313 MiB on PoCL at 512).
    static let winoCache = KernelOption(
        "WINO_CACHE", "Winograd: keep each layer's weight transforms between convolutions",
        .launchOnly, valid: flag, fallback: 0, cpu: 0, gpu: 0)
    static let winoGEMM = KernelOption(
        "WINO_GEMM", "Winograd multiply as a local-memory tiled product",
        .compileTime, valid: flag, fallback: 0, cpu: 0, gpu: .tiled,
        tuned: [0, 1], affects: convolution, on: notCPU)
    static let wgemmM = KernelOption(
        "WGEMM_M", "tiled products: rows per work-item (×16 a work-group)",
        .compileTime, valid: .values([4, 8]), fallback: 4, cpu: 4, gpu: 4,
        tuned: [4, 8], affects: convolution + [.gramBackward], on: notCPU)
    static let wgemmN = KernelOption(
        "WGEMM_N", "tiled products: columns per work-item (×16 a work-group)",
        .compileTime, valid: .values([4, 8]), fallback: 8, cpu: 8, gpu: 8,
        tuned: [4, 8], affects: convolution + [.gramBackward], on: notCPU)
    /// Off until a device measures it: no GPU has run it (benchmarks/README.md).
    static let wgemmDB = KernelOption(
        "WGEMM_DB", "tiled products: stage the next channels in a second local buffer while multiplying",
        .compileTime, valid: flag, fallback: 0, cpu: 0, gpu: 0,
        tuned: [0, 1], affects: convolution + [.gramBackward], on: notCPU)
    /// A layer's product in 128 × 128 blocks fills a GPU with fewer groups only when it is large.
    static let wgemmWide = KernelOption(
        "WGEMM_WIDE", "Winograd tiled multiply: output channels from which items hold 8 × 8 (0: never)",
        .compileTime, valid: .values([0, 64, 128, 256, 512]), fallback: 0, cpu: 0, gpu: 0,
        tuned: [0, 256], affects: convolution, on: notCPU)
    /// PoCL pays per work-group; GPUs want many work-items.
    static let wholeRows = KernelOption(
        "WHOLE_ROWS", "row kernels: a work-item per row (else per block of 8)",
        .launchOnly, valid: flag, fallback: 1, cpu: 1, gpu: 0,
        tuned: [0, 1], affects: convolution)

    // conv3x3_narrow (few channels on either side: conv1_1 both ways) on CPUs; GPUs keep conv3x3,
    // whose 8-channel blocks lose less to 3 channels.
    static let convNarrow = KernelOption(
        "CONV_NARROW", "conv3x3_narrow: 0 none, 1 ≤ 4 channels a side, 2 all",
        .launchOnly, valid: .values([0, 1, 2]), fallback: 1, cpu: 1, gpu: 0,
        tuned: [0, 1], affects: convolution)
    static let narrowPX = KernelOption(
        "NARROW_PX", "conv3x3_narrow: pixels per vector", .compileTime,
        valid: vectorWidths, fallback: 16, cpu: 16, gpu: 4,
        tuned: [4, 8, 16], affects: convolution)
    /// PoCL ran its explicit vectors slower in groups than one work-item per group.
    static let narrowWG = KernelOption(
        "NARROW_WG", "conv3x3_narrow: work-group width (0: the driver's)",
        .launchOnly, valid: .groupSize(from: 0), fallback: 0, cpu: 1, gpu: 0,
        tuned: [0, 16, 64], affects: convolution, on: notCPU)
    static let narrowPrefetch = KernelOption(
        "NARROW_PREFETCH", "conv3x3_narrow: channels prefetched ahead",
        .compileTime, valid: .range(0...64), fallback: 0, cpu: 4, gpu: 0,
        tuned: [0, 2, 4, 8], affects: convolution, on: [.cpu])
    /// A Clang builtin a GPU's compiler need not know.
    static let ntStores = KernelOption(
        "NT_STORES", "conv3x3_narrow, winograd4_weights, Winograd outputs: non-temporal stores", .compileTime,
        valid: flag, fallback: 0, cpu: 1, gpu: 0,
        tuned: [0, 1], affects: convolution, on: [.cpu])
    /// conv1_1's backward-data reads each channel's rows as runs rather than all channels at once.
    static let narrowStrip = KernelOption(
        "NARROW_STRIP", "conv3x3_narrow_strip: vectors per work-item (0: off)",
        .compileTime, valid: .values([0, 2, 4, 8, 16, 32]), fallback: 0,
        cpu: 16, gpu: 0, tuned: [0, 8, 16, 32], affects: convolution)
    /// Fixed widths also keep PoCL from compiling one variant per global size.
    static let convWG = KernelOption(
        "CONV_WG", "conv3x3 and Winograd multiply: work-group width (0: the driver's)",
        .launchOnly, valid: .groupSize(from: 0), fallback: 0, cpu: 1, gpu: 0,
        tuned: [0, 16, 32, 64], affects: convolution, on: notCPU)

    // The Gram and its backward.
    static let gramGEMM = KernelOption(
        "GRAM_GEMM", "Gram slices as local-memory tiled products", .compileTime,
        valid: flag, fallback: 0, cpu: 0, gpu: .tiled,
        tuned: [0, 1], affects: [.gram], on: notCPU)
    /// GRAM_T² accumulators and 2·GRAM_T loaded vectors: 4 × 4 spilled on AVX2's 16 registers.
    static let gramT = KernelOption(
        "GRAM_T", "gram_partial: tile side per work-item", .compileTime,
        valid: .range(1...8), fallback: 4, cpu: .vectorWidth(wide: 4, narrow: 3), gpu: 4,
        tuned: [2, 3, 4], affects: [.gram])
    /// A CPU needs a slice per core or so; a GPU tens of thousands of work-items.
    static let gramSlice = KernelOption(
        "GRAM_SLICE", "Gram: pixels per slice (about)", .launchOnly,
        valid: .range(1...1 << 20), fallback: 2048, cpu: 2048, gpu: 512,
        tuned: [256, 512, 1024, 2048], affects: [.gram])
    static let gramSlices = KernelOption(
        "GRAM_SLICES", "Gram: most slices", .launchOnly,
        valid: .range(1...4096), fallback: 32, cpu: 32, gpu: 256,
        tuned: [32, 64, 256, 1024], affects: [.gram])
    static let gbGEMM = KernelOption(
        "GB_GEMM", "Gram backward as the Winograd multiply's tiled product",
        .compileTime, valid: flag, fallback: 0, cpu: 0, gpu: .tiled,
        tuned: [0, 1], affects: [.gramBackward], on: notCPU)
    /// On CPUs each element of A feeds GB_VECS FMAs and each vector of F GB_ROWS: 8 × 3
    /// accumulators fit AVX-512's 32 registers; AVX2's 16 hold 4 × 2 with F and the broadcast
    /// (8 × 3 spills there), whose work-items store whole 64-byte lines of the output.
    static let gbRows = KernelOption(
        "GB_ROWS", "gram_backward: rows per work-item", .compileTime,
        valid: .range(1...32), fallback: 16, cpu: .vectorWidth(wide: 8, narrow: 4), gpu: 4,
        tuned: [4, 8, 13, 16], affects: [.gramBackward])
    static let gbVecs = KernelOption(
        "GB_VECS", "gram_backward: vectors of VW columns per work-item", .compileTime,
        valid: .range(1...4), fallback: 1, cpu: .vectorWidth(wide: 3, narrow: 2), gpu: 1,
        tuned: [1, 2, 3], affects: [.gramBackward])
    /// PoCL pays per work-item; the columns of F stay in cache.
    static let gbOB = KernelOption(
        "GB_OB", "gram_backward: row blocks per work-item", .compileTime,
        valid: .range(1...64), fallback: 1, cpu: .vectorWidth(wide: 8, narrow: 16), gpu: 1,
        tuned: [1, 4, 8, 16], affects: [.gramBackward])
    /// The next work-items' columns of F and outputs: one stream per channel, more than a CPU's
    /// prefetcher follows.
    static let gbPrefetch = KernelOption(
        "GB_PREFETCH", "gram_backward: column blocks ahead whose F and outputs are prefetched", .compileTime,
        valid: .range(0...8), fallback: 0, cpu: 2, gpu: 0,
        tuned: [0, 1, 2, 4], affects: [.gramBackward], on: [.cpu])
    /// A work-item's columns of F, one stream per channel, are copied once for its row blocks: at
    /// VGG's power-of-two widths they fall in one cache set. On AVX-512 (8 × 3 of 16 floats) 512
    /// channels' copy would not fit L1, and it is not measured there.
    static let gbStage = KernelOption(
        "GB_STAGE", "gram_backward: most channels whose columns of F are copied once per item (0: none)",
        .compileTime, valid: .range(0...1024), fallback: 0, cpu: .vectorWidth(wide: 0, narrow: 512), gpu: 0,
        tuned: [0, 512], affects: [.gramBackward], on: [.cpu])
    /// gram_partial's block of 4×4 vectors fits AVX-512's 32 registers at 16 floats, AVX2's 16
    /// only at 8.
    static let vw = KernelOption(
        "VW", "Gram kernels: vector width along pixels", .compileTime,
        valid: vectorWidths, fallback: 16, cpu: .vectorWidth(wide: 16, narrow: 8), gpu: 8,
        tuned: [4, 8, 16], affects: gramOps)
    static let tileWG = KernelOption(
        "TILE_WG", "Gram launches: work-group width (0: the driver's)", .launchOnly,
        valid: .groupSize(from: 0), fallback: 0, cpu: 1, gpu: 16,
        tuned: [0, 16, 32, 64], affects: gramOps, on: notCPU)

    static let useFMA = KernelOption(
        "USE_FMA", "inner loops use fma() (else mad())", .compileTime,
        valid: flag, fallback: 1, cpu: 1, gpu: 1,
        tuned: [0, 1], affects: convolution + gramOps)

    // Reductions and elementwise launches: not tuned (ops the tuner does not time, a small share
    // of an iteration).
    static let redLocal = KernelOption(
        "RED_LOCAL", "reductions: work-group size", .compileTime,
        valid: .powerOfTwoGroup, fallback: 64,
        cpu: .powerOfTwoGroup(atMost: 64), gpu: .powerOfTwoGroup(atMost: 256))
    static let redGroups = KernelOption(
        "RED_GROUPS", "reductions: work-groups of stage one", .compileTime,
        valid: .range(1...4096), fallback: 64, cpu: 64, gpu: 128)
    /// A CPU reads one contiguous run per work-item, a GPU neighbouring elements per neighbouring
    /// work-item.
    static let redContiguous = KernelOption(
        "RED_CONTIGUOUS", "reductions: a contiguous run per work-item (else strided)", .compileTime,
        valid: flag, fallback: 0, cpu: 1, gpu: 0)
    static let ewLocal = KernelOption(
        "EW_LOCAL", "elementwise launches: work-group size", .launchOnly,
        valid: .groupSize(from: 1), fallback: 64,
        cpu: .twiceReductionGroup(atMost: 128), gpu: .twiceReductionGroup(atMost: 128))

    /// Every option, once; the tunable ones in the order `stylize-gpu tune` visits them.
    public static let all: [KernelOption] = [
        convPXB, convCOB, convBlockedWeights, convChannelsFirst, convFastInterior,
        convWinograd, winoTile, winoTB, winoCOB, winoTV, winoPrefetch, winoRowPrefetch, winoOB, winoWG, winoWeightsWG,
        winoTapPrefetch, winoWeightRows, winoBand, winoBandFit, winoHalves,
        winoCache, winoGEMM,
        wgemmM, wgemmN, wgemmDB, wgemmWide,
        wholeRows, convNarrow, narrowPX, narrowWG, narrowPrefetch, ntStores, narrowStrip, convWG,
        gramGEMM, gramT, gramSlice, gramSlices, gbGEMM, gbRows, gbVecs, gbOB, gbPrefetch, gbStage, vw, tileWG,
        useFMA, redLocal, redGroups, redContiguous, ewLocal,
    ]

    /// The option called `name`, or nil.
    public static func named(_ name: String) -> KernelOption? {
        all.first { $0.name == name }
    }
}
