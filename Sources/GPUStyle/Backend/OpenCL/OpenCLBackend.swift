import Foundation
import Kernels

/// Every `Backend` op as a kernel of Kernels.cl on one OpenCL device. Ops only enqueue (one
/// in-order queue); `download`, `dot` and `finish` block. Nothing is allocated per call: the
/// scratch buffers (reduction partials, Gram slices) are made once and grown only when a larger
/// shape appears.
///
/// Not thread-safe: one run drives one backend from one thread (the scratch buffers are shared).
public final class OpenCLBackend: Backend {
    public let context: CLContext
    public let options: ProgramOptions
    public var name: String { context.device.info.name }

    /// A stand-in for buffer arguments a launch does not use (no bias, no mask).
    let unusedBuffer: CLBuffer
    /// Stage-one results of the reductions: exactly `options.reductionGroups` floats.
    let reductionPartials: CLBuffer
    /// Where `dot` leaves its value before it is read.
    let dotResult: CLBuffer
    /// Per-slice partial Gram matrices, and (dG + dGᵀ)/N for Gram backward.
    let gramPartials: CLScratchBuffer
    let gramSymmetric: CLScratchBuffer
    /// Winograd's transformed weights for one convolution, its transformed input and its 16
    /// products for one band of tile rows at a time (halved between the half queues where a
    /// convolution splits, `WINO_HALVES`).
    let winogradWeights: CLScratchBuffer
    let winogradInput: CLScratchBuffer
    let winogradProducts: CLScratchBuffer

    /// Builds Kernels.cl for `device` with `options` (by default `ProgramOptions.defaults(for:)`).
    public init(device: CLDevice, options: ProgramOptions? = nil) throws {
        let options = options ?? ProgramOptions.defaults(for: device.info)
        try options.validate(for: device.info)
        let context = try CLContext(device: device, halves: options.winogradHalvesChannels > 0)
        try context.buildProgram(source: KernelLibrary.source, options: options.buildString)
        self.context = context
        self.options = options
        unusedBuffer = try context.makeBuffer(floats: 64)
        reductionPartials = try context.makeBuffer(floats: options.reductionGroups)
        dotResult = try context.makeBuffer(floats: 1)
        gramPartials = CLScratchBuffer(context: context)
        gramSymmetric = CLScratchBuffer(context: context)
        winogradWeights = CLScratchBuffer(context: context)
        winogradInput = CLScratchBuffer(context: context)
        winogradProducts = CLScratchBuffer(context: context)
    }

    // MARK: Memory

    public func makeTensor(_ shape: Shape) throws -> Tensor {
        guard shape.c >= 0, shape.h >= 0, shape.w >= 0 else {
            throw StyleError("opencl makeTensor: shape \(shape) has a negative size (internal error)")
        }
        return Tensor(shape: shape, storage: try context.makeBuffer(floats: shape.count))
    }

    public func upload(_ values: [Float], to tensor: Tensor) throws {
        guard values.count == tensor.count else {
            throw StyleError(
                "opencl upload: \(values.count) values for a tensor of shape \(tensor.shape) (internal error)")
        }
        let storage = try activationBuffer(tensor, "upload")
        guard tensor.format == .half else { return try context.write(values, to: storage) }
        // Rounded to nearest even (Float16's conversion, as vstore_half_rte), two to a float's bytes.
        var words = [UInt32](repeating: 0, count: (values.count + 1) / 2)
        for (index, value) in values.enumerated() {
            words[index / 2] |= UInt32(Float16(value).bitPattern) << (16 * UInt32(index % 2))
        }
        try context.write(words, to: storage)
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        let storage = try activationBuffer(tensor, "download")
        guard tensor.format == .half else { return try context.read(storage, count: tensor.count) }
        // Two halves a float's bytes (the view's bytes are a multiple of 4: `makeViews`).
        let words = try context.read(storage, count: (tensor.count + 1) / 2)
        return (0..<tensor.count).map { index in
            let bits = words[index / 2].bitPattern >> (16 * UInt32(index % 2)) & 0xFFFF
            return Float(Float16(bitPattern: UInt16(bits)))
        }
    }

    public var halfStorageAlignment: Int? { context.subBufferAlignment }

    public func makeViews(bytes: Int, _ views: [TensorView]) throws -> [Tensor] {
        let alignment = context.subBufferAlignment
        guard views.allSatisfy({ $0.offset % alignment == 0 && $0.offset + $0.byteCount <= bytes }) else {
            throw StyleError("opencl makeViews: a view outside its \(bytes)-byte allocation (internal error)")
        }
        let arena = try context.makeBuffer(bytes: (max(bytes, 4) + 3) / 4 * 4)
        return try views.map { view in
            let size = (max(view.byteCount, 4) + 3) / 4 * 4
            return Tensor(
                shape: view.shape, storage: try context.makeSubBuffer(of: arena, offset: view.offset, bytes: size),
                format: view.format)
        }
    }

    public var allocatedBytes: Int { context.allocatedBytes }
    public var peakAllocatedBytes: Int { context.peakAllocatedBytes }

    public func finish() throws {
        try context.finish()
    }

    // MARK: Helpers shared by the ops

    /// Enqueues a one-work-item-per-element kernel over `count` elements, from the build for
    /// layer outputs read as `reads` and written as `writes` (`kernel(_:reads:writes:)`).
    func elementwise(
        _ kernel: String, _ count: Int, _ arguments: [KernelArgument], reads: ActivationStorage = .float,
        writes: ActivationStorage? = nil
    ) throws {
        if count == 0 { return }
        try context.enqueue(
            try self.kernel(kernel, reads: reads, writes: writes), global: [count],
            local: [options.elementwiseGroupSize], arguments)
    }

    /// Enqueues a one-work-item-per-element kernel over `rows` rows of `width` elements, ids
    /// (column, row): the kernel need not divide a flat index by the row length, a division per
    /// element that PoCL cannot vectorise.
    func elementwiseRows(_ kernel: String, width: Int, rows: Int, _ arguments: [KernelArgument]) throws {
        if width == 0 || rows == 0 { return }
        let group = options.elementwiseGroupSize
        try context.enqueue(
            try self.kernel(kernel), global: [(width + group - 1) / group * group, rows], local: [group, 1],
            arguments)
    }

    /// The kernel from the build of Kernels.cl whose layer-output arguments are read as `reads` and
    /// written as `writes` (ACT_IN_HALF, ACT_OUT_HALF); a kernel that writes none takes the build
    /// of its reads, so a half run needs three builds: float, half → half and float → half (conv1_1).
    func kernel(
        _ name: String, reads: ActivationStorage = .float, writes: ActivationStorage? = nil
    ) throws
        -> CLKernel
    {
        let defines =
            (reads == .half ? ["-DACT_IN_HALF=1"] : []) + ((writes ?? reads) == .half ? ["-DACT_OUT_HALF=1"] : [])
        return try context.kernel(name, defines: defines.joined(separator: " "))
    }

    /// The launch of a kernel that runs along rows in blocks of `rowBlock` units (Kernels.cl's
    /// ROW_BLOCK: pooling windows, Winograd tiles), `units` to a row, over `rows` × `planes` rows:
    /// with WHOLE_ROWS (CPUs) one work-item per row in groups of one, else one per block in groups
    /// of `groupWidth` (0: the driver's choice), the width rounded up to it (the kernels skip the
    /// extra work-items). The kernels take `blocksPerItem` as an argument.
    func rowLaunch(
        units: Int, rows: Int, planes: Int, groupWidth: Int
    )
        -> (global: [Int], local: [Int]?, blocksPerItem: Int)
    {
        let blocks = (units + Self.rowBlock - 1) / Self.rowBlock
        if options.wholeRows {
            return ([1, rows, planes], [1, 1, 1], max(blocks, 1))
        }
        let group = max(groupWidth, 1)
        return ([(max(blocks, 1) + group - 1) / group * group, rows, planes], workGroup(groupWidth, dimensions: 3), 1)
    }

    /// Units per block of the row kernels (Kernels.cl, ROW_BLOCK).
    static let rowBlock = 8
    /// Channels per side of the blocks `gram_partial_tiled` computes (Kernels.cl, GRAM_BLOCK with GRAM_GEMM).
    static let gramTiledBlock = 64

    /// A local size of `width` along the first of `dimensions`, 1 along the others; nil (the driver
    /// chooses) for width 0.
    func workGroup(_ width: Int, dimensions: Int) -> [Int]? {
        width > 0 ? [width] + Array(repeating: 1, count: dimensions - 1) : nil
    }

    /// The device buffer of a float32 `tensor`, or an error when another backend made it or it
    /// holds 16-bit values.
    func buffer(_ tensor: Tensor, _ op: String) throws -> CLBuffer {
        guard tensor.format == .float else {
            throw StyleError("opencl \(op): a 16-bit tensor where the op reads float32 (internal error)")
        }
        return try activationBuffer(tensor, op)
    }

    /// The device buffer of a layer output in either storage (the kernel's build must match it).
    func activationBuffer(_ tensor: Tensor, _ op: String) throws -> CLBuffer {
        guard let buffer = tensor.storage as? CLBuffer else {
            throw StyleError(
                "opencl \(op): the tensor was made by another backend (internal error: tensors cannot be shared between backends)"
            )
        }
        return buffer
    }

    /// scalars[slot] (+)= scale · Σ over the stage-one kernel `partialKernel` (its arguments, then the partials
    /// buffer).
    func reduce(
        _ partialKernel: String, _ arguments: [KernelArgument], scale: Float, into scalars: Tensor,
        slot: Int, accumulate: Bool, op: String, reads: ActivationStorage = .float
    ) throws {
        try reduceToBuffer(
            partialKernel, arguments, scale: scale, into: try buffer(scalars, op), slot: slot,
            accumulate: accumulate, reads: reads)
    }

    /// The two fixed-shape stages of every reduction: `reductionGroups` groups, then one group.
    func reduceToBuffer(
        _ partialKernel: String, _ arguments: [KernelArgument], scale: Float,
        into target: CLBuffer, slot: Int, accumulate: Bool, reads: ActivationStorage = .float
    ) throws {
        let group = options.reductionGroupSize
        try context.enqueue(
            try kernel(partialKernel, reads: reads), global: [group * options.reductionGroups], local: [group],
            arguments + [.buffer(reductionPartials)])
        try context.enqueue(
            try context.kernel("reduce_finish"), global: [group], local: [group],
            [.buffer(reductionPartials), .float(scale), .buffer(target), .int(slot), .flag(accumulate)])
    }
}

extension KernelArgument {
    /// A Bool as the int 0 or 1 the kernels take.
    static func flag(_ value: Bool) -> KernelArgument { .int(value ? 1 : 0) }
}

/// A device buffer that is reused across calls and replaced only when a larger one is needed.
final class CLScratchBuffer {
    private let context: CLContext
    private var buffer: CLBuffer?
    /// `halves`' two sub-buffers of `buffer`, made once for it.
    private var split: [CLBuffer] = []

    init(context: CLContext) {
        self.context = context
    }

    /// A buffer of at least `floats` floats (contents undefined).
    func atLeast(_ floats: Int) throws -> CLBuffer {
        if let buffer = buffer, buffer.count >= floats { return buffer }
        split = []  // the sub-buffers keep the old one alive
        buffer = nil  // release the old one first, so the peak does not count both
        let grown = try context.makeBuffer(floats: floats)
        buffer = grown
        return grown
    }

    /// Two buffers of at least `floats` floats each (contents undefined): the two halves of one,
    /// so that the half queues share the scratch that a convolution on one queue uses.
    func halves(_ floats: Int) throws -> [CLBuffer] {
        let whole = try atLeast(Self.halvesFloats(floats, alignment: context.subBufferAlignment))
        if split.isEmpty {
            let step = Self.alignmentFloats(context.subBufferAlignment)
            let middle = whole.count / 2 / step * step * 4
            split = [
                try context.makeSubBuffer(of: whole, offset: 0, bytes: middle),
                try context.makeSubBuffer(of: whole, offset: middle, bytes: whole.byteCount - middle),
            ]
        }
        return split
    }

    /// The floats `halves(floats)` takes in all: twice `floats` rounded up to whole sub-buffer
    /// alignments (`alignment` bytes), so that the second half can start after the first.
    static func halvesFloats(_ floats: Int, alignment: Int) -> Int {
        let step = alignmentFloats(alignment)
        return 2 * ((floats + step - 1) / step * step)
    }

    /// Floats from one place a sub-buffer may start to the next.
    private static func alignmentFloats(_ alignment: Int) -> Int { max(alignment / 4, 1) }
}
