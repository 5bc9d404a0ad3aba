/// One `-D` option of Kernels.cl that `stylize-gpu tune` may vary, the values it tries and the ops
/// whose speed it changes (only those are timed when it varies).
public struct TunableDefine: Equatable, Sendable {
    public let name: String
    public let values: [Int]
    public let affects: [OpsBenchmark.Op]
    /// The device kinds it is tuned on (nil: all).
    public let kinds: Set<CLDeviceInfo.Kind>?

    public init(_ name: String, _ values: [Int], affects: [OpsBenchmark.Op], kinds: Set<CLDeviceInfo.Kind>? = nil) {
        self.name = name
        self.values = values
        self.affects = affects
        self.kinds = kinds
    }

    /// Whether the search varies this define on `device`.
    func applies(to device: CLDeviceInfo) -> Bool {
        kinds?.contains(device.kind) ?? true
    }

    /// The values to try from `start` (the current choice): the table's, and `start` itself first.
    func candidates(from start: Int) -> [Int] {
        [start] + values.filter { $0 != start }
    }

    private static let convolution: [OpsBenchmark.Op] = [.convForward, .convBackwardData]
    private static let gramOps: [OpsBenchmark.Op] = [.gram, .gramBackward]
    /// Work-group widths stay 1 on CPU devices: PoCL runs the work-items of a wider group as
    /// vector lanes and then lets the conv kernel read past its buffer (a segfault, measured with
    /// CONV_WG=0 and CONV_PXB=16 or 24 at conv1_2 of a 256×256 image), which no check can catch.
    private static let notCPU: Set<CLDeviceInfo.Kind> = [.gpu, .accelerator, .other]

    /// Every tunable, in the order the search visits them. The only place one is listed: a new
    /// kernel variant behind a define is one more line here (and its default in ProgramOptions).
    ///
    /// Left out: the reduction and elementwise sizes (RED_LOCAL, RED_GROUPS, EW_LOCAL: ops the
    /// tuner does not time, a small share of an iteration) and CONV_FAST_INTERIOR (a fallback
    /// kept for debugging, never faster).
    public static let table: [TunableDefine] = [
        TunableDefine("CONV_PXB", [8, 12, 16, 24], affects: convolution),
        TunableDefine("CONV_COB", [8, 16], affects: convolution),
        TunableDefine("CONV_BLOCKED_WEIGHTS", [0, 1], affects: convolution),
        TunableDefine("CONV_CHANNELS_FIRST", [0, 1], affects: convolution),
        // Winograd F(2×2,3×3) for the layers with enough channels, and its multiply's blocking.
        TunableDefine("CONV_WINOGRAD", [0, 1], affects: convolution),
        TunableDefine("WINO_TB", [4, 8, 16], affects: convolution),
        TunableDefine("WINO_COB", [4, 8, 16], affects: convolution),
        TunableDefine("WINO_TV", [1, 2, 3], affects: convolution),
        TunableDefine("WINO_PREFETCH", [0, 4, 8], affects: convolution, kinds: [.cpu]),
        TunableDefine("WINO_OB", [1, 4, 8, 32], affects: convolution),
        TunableDefine("WINO_WG", [16, 64], affects: convolution),
        // The multiply as a local-memory tiled product and its register block (GPUs: PoCL runs
        // 256-wide work-groups with barriers slowly).
        TunableDefine("WINO_GEMM", [0, 1], affects: convolution, kinds: notCPU),
        TunableDefine("WGEMM_M", [4, 8], affects: convolution + [.gramBackward], kinds: notCPU),
        TunableDefine("WGEMM_N", [4, 8], affects: convolution + [.gramBackward], kinds: notCPU),
        // A work-item per row of the Winograd transforms (and the pooling kernels, not timed) or
        // per block of 8 tiles.
        TunableDefine("WHOLE_ROWS", [0, 1], affects: convolution),
        // conv3x3_narrow (few channels on either side: conv1_1 both ways) on or off, its vector
        // width, on GPUs its work-group width, on CPUs its prefetch distance and its cache-bypassing
        // stores (Clang builtins that a GPU's compiler need not know).
        TunableDefine("CONV_NARROW", [0, 1], affects: convolution),
        TunableDefine("NARROW_PX", [4, 8, 16], affects: convolution),
        TunableDefine("NARROW_WG", [0, 16, 64], affects: convolution, kinds: notCPU),
        TunableDefine("NARROW_PREFETCH", [0, 2, 4, 8], affects: convolution, kinds: [.cpu]),
        TunableDefine("NT_STORES", [0, 1], affects: convolution, kinds: [.cpu]),
        // Its many-inputs-to-few-outputs twin (conv1_1's backward-data) off, or that many vectors per work-item.
        TunableDefine("NARROW_STRIP", [0, 8, 16, 32], affects: convolution),
        // Work-group width of the conv launch: 0 lets the driver choose.
        TunableDefine("CONV_WG", [0, 16, 32, 64], affects: convolution, kinds: notCPU),
        TunableDefine("GRAM_GEMM", [0, 1], affects: [.gram], kinds: notCPU),
        TunableDefine("GRAM_T", [2, 4], affects: [.gram]),
        TunableDefine("GRAM_SLICE", [256, 512, 1024, 2048], affects: [.gram]),
        TunableDefine("GRAM_SLICES", [32, 64, 256, 1024], affects: [.gram]),
        TunableDefine("GB_GEMM", [0, 1], affects: [.gramBackward], kinds: notCPU),
        TunableDefine("GB_ROWS", [6, 8, 16], affects: [.gramBackward]),
        TunableDefine("GB_VECS", [1, 2, 3], affects: [.gramBackward]),
        TunableDefine("GB_PREFETCH", [0, 4, 8], affects: [.gramBackward], kinds: [.cpu]),
        TunableDefine("VW", [4, 8, 16], affects: gramOps),
        TunableDefine("TILE_WG", [0, 16, 32, 64], affects: gramOps, kinds: notCPU),
        TunableDefine("USE_FMA", [0, 1], affects: convolution + gramOps),
    ]

    /// The table's entries named in `names` (all when nil); an unknown name is an error listing the valid ones.
    public static func select(_ names: [String]?, from table: [TunableDefine] = table) throws -> [TunableDefine] {
        guard let names else { return table }
        let unknown = names.filter { name in !table.contains { $0.name == name } }
        guard unknown.isEmpty else {
            throw StyleError("unknown tunable \(unknown.joined(separator: ", ")); valid: "
                + table.map(\.name).joined(separator: ", "))
        }
        return table.filter { names.contains($0.name) }
    }
}
