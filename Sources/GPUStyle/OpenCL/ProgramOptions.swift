/// The `-D` options Kernels.cl is compiled with on one device. Tile sizes and variants are
/// chosen per device here, never by copying a kernel body. The host reads the same values to
/// lay out weights and size the launches, so a define and its host use cannot disagree.
public struct ProgramOptions: Equatable, Sendable {
    public var defines: [String: Int]

    public init(defines: [String: Int]) {
        self.defines = defines
    }

    /// Sane defaults for a device, before any tuning.
    ///
    /// CPU devices (PoCL) reward work-items that each hold a large register block and use wide
    /// contiguous vector loads (16 output channels as one float16 × 8 pixels per work-item for
    /// the convolution); GPUs want many light work-items, so their blocks are smaller.
    public static func defaults(for device: CLDeviceInfo) -> ProgramOptions {
        let cpu = device.kind == .cpu
        // The reduction work-group: a power of two the device accepts, at most 256.
        var reductionGroup = 1
        while reductionGroup * 2 <= min(cpu ? 64 : 256, max(device.maxWorkGroupSize, 1)) { reductionGroup *= 2 }
        return ProgramOptions(defines: [
            "DEVICE_IS_CPU": cpu ? 1 : 0,
            "CONV_COB": cpu ? 16 : 8,
            "CONV_PXB": cpu ? 8 : 4,
            "VW": cpu ? 16 : 4,
            "GRAM_T": 4,
            "GB_ROWS": cpu ? 8 : 4,
            "RED_LOCAL": reductionGroup,
            "RED_GROUPS": cpu ? 64 : 128,
            // Work-group widths of the launches (host only; 0 lets the driver choose). Fixed sizes
            // also keep PoCL from compiling one variant per global size.
            "CONV_WG": cpu ? 1 : 0,
            "TILE_WG": cpu ? 1 : 0,
            "EW_LOCAL": min(128, reductionGroup * 2),
        ])
    }

    /// The option string for clBuildProgram, in a stable order.
    public var buildString: String {
        (["-cl-mad-enable"] + defines.keys.sorted().map { "-D\($0)=\(defines[$0]!)" }).joined(separator: " ")
    }

    // MARK: Values the host needs

    /// Output channels per conv work-item (the weight layout is padded to a multiple of it).
    public var convOutputBlock: Int { defines["CONV_COB"] ?? 16 }
    /// Pixels of a row per conv work-item.
    public var convPixelBlock: Int { defines["CONV_PXB"] ?? 8 }
    /// Work-group width (along pixel blocks) of the conv launch; 0 lets the driver choose.
    public var convWorkGroupWidth: Int { defines["CONV_WG"] ?? 0 }
    /// Work-group width of the Gram launches (along their first dimension); 0 lets the driver choose.
    public var tileWorkGroupWidth: Int { defines["TILE_WG"] ?? 0 }
    /// Work-group size of the one-work-item-per-element launches.
    public var elementwiseGroupSize: Int { defines["EW_LOCAL"] ?? 64 }
    /// Vector width along pixels in the Gram kernels.
    public var vectorWidth: Int { defines["VW"] ?? 16 }
    public var gramTile: Int { defines["GRAM_T"] ?? 4 }
    public var gramBackwardRows: Int { defines["GB_ROWS"] ?? 8 }
    public var reductionGroupSize: Int { defines["RED_LOCAL"] ?? 64 }
    public var reductionGroups: Int { defines["RED_GROUPS"] ?? 64 }

    /// Throws when a value cannot work with the kernels (options may come from a tuning run or the user).
    public func validate(for device: CLDeviceInfo) throws {
        let vectorWidths: Set<Int> = [2, 4, 8, 16]
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw StyleError("kernel option \(what) (options: \(buildString))") }
        }
        try require(vectorWidths.contains(convOutputBlock), "CONV_COB must be 2, 4, 8 or 16")
        try require(vectorWidths.contains(vectorWidth), "VW must be 2, 4, 8 or 16")
        try require((1...32).contains(convPixelBlock), "CONV_PXB must be 1 to 32")
        try require((1...8).contains(gramTile), "GRAM_T must be 1 to 8")
        try require((1...32).contains(gramBackwardRows), "GB_ROWS must be 1 to 32")
        let group = reductionGroupSize
        try require(group > 0 && group & (group - 1) == 0 && group <= max(device.maxWorkGroupSize, 1),
                    "RED_LOCAL must be a power of two no larger than the device's work-group size \(device.maxWorkGroupSize)")
        try require((1...4096).contains(reductionGroups), "RED_GROUPS must be 1 to 4096")
        let limit = max(device.maxWorkGroupSize, 1)
        try require((1...limit).contains(elementwiseGroupSize), "EW_LOCAL must be 1 to \(limit)")
        try require((0...limit).contains(convWorkGroupWidth), "CONV_WG must be 0 to \(limit)")
        try require((0...limit).contains(tileWorkGroupWidth), "TILE_WG must be 0 to \(limit)")
    }
}
