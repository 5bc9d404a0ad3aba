import CBLAS
import Foundation

/// The host implementation of every `Backend` op: Swift loops spread over the cores and
/// OpenBLAS sgemm for the convolutions and Gram matrices. It is the numeric reference for the
/// OpenCL backend and the CPU timing baseline, so it is multi-threaded and does not allocate
/// in the iteration loop (im2col columns and temporaries live in scratch buffers it keeps).
/// Ops run synchronously; `finish` has nothing to wait for.
///
/// Not thread-safe: one run drives one backend from one thread (the scratch buffers are shared).
public final class NativeBackend: Backend {
    /// "native", or "native-direct" / "native-winograd" / "native-winograd4" / "native-winograd6" when one convolution algorithm is forced.
    public let name: String
    /// How the 3×3 convolutions are computed; each layer's plan is fixed when its weights are made.
    public let convolution: ConvolutionAlgorithm
    let ledger = MemoryLedger()
    /// im2col columns of the current row tile.
    let columnScratch = ScratchBuffer()
    /// Results that must be combined with an output afterwards (masked accumulation, dG + dGᵀ).
    let resultScratch = ScratchBuffer()
    /// One convolution's Winograd weight transforms, made from the raw taps at every convolution.
    let transformScratch = ScratchBuffer()
    /// Largest im2col tile in floats; bounds the column scratch whatever the image size.
    var columnTileFloats: Int
    /// Largest Winograd band (transformed inputs and products) in floats where the layer's weight
    /// transforms are small; shares the column scratch.
    var winogradBandFloats: Int
    /// Where they are large, a band may hold up to 8 times their floats, at most this many:
    /// every band's products repack all of them (`winogradBandBudget`).
    var winogradWideBandFloats: Int
    /// Forces one way of computing conv3x3BackwardData where it runs im2col (tests, benchmarks);
    /// nil picks per layer.
    var backwardMethodOverride: ConvBackwardMethod?

    /// - Parameter convolution: im2col, Winograd, or per layer whichever measured faster (the default).
    public init(convolution: ConvolutionAlgorithm = .automatic) {
        _ = BlasKernelChoice.applied
        // One OpenBLAS thread (a process-wide setting): `Blas` spreads the products over the cores.
        openblas_set_num_threads(1)
        self.convolution = convolution
        name = convolution == .automatic ? "native" : "native-\(convolution.rawValue)"
        columnTileFloats = NativeBackend.defaultColumnTileFloats
        winogradBandFloats = NativeBackend.defaultWinogradBandFloats
        winogradWideBandFloats = NativeBackend.defaultWinogradWideBandFloats
    }

    /// The BLAS kernels the native path's products run on, for reports (`bench`, `devices`).
    public static var blasKernels: String {
        BlasKernelChoice.summary(
            core: BlasKernelChoice.applied, userChoice: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
    }

    /// The algorithms a layer of these channel counts gets on this backend.
    func convPlan(outputChannels: Int, inputChannels: Int) -> NativeConvPlan {
        NativeConvPlan(convolution, outputChannels: outputChannels, inputChannels: inputChannels)
    }

    // MARK: Memory

    public func makeTensor(_ shape: Shape) throws -> Tensor {
        guard shape.c >= 0, shape.h >= 0, shape.w >= 0 else {
            throw StyleError("native makeTensor: shape \(shape) has a negative size (internal error)")
        }
        return Tensor(shape: shape, storage: try NativeStorage(count: shape.count, ledger: ledger))
    }

    /// Into the tensor's shape's count from the start of the storage, which may be larger, as on OpenCL.
    public func upload(_ values: [Float], to tensor: Tensor) throws {
        let target = try native(tensor, "upload")
        guard values.count == tensor.count, values.count <= target.count else {
            throw StyleError(
                "native upload: \(values.count) values for a tensor of shape \(tensor.shape) (\(target.count) values; internal error)"
            )
        }
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { target.pointer.update(from: base, count: values.count) }
        }
    }

    /// The tensor's values: its shape's count from the start of the storage, which may be larger
    /// (a tensor in a borrowed buffer, `WorkspaceLayout`), as on OpenCL.
    public func download(_ tensor: Tensor) throws -> [Float] {
        let storage = try native(tensor, "download")
        guard tensor.count <= storage.count else {
            throw StyleError(
                "native download: a tensor of \(tensor.count) values in a buffer of \(storage.count) (internal error)")
        }
        return Array(UnsafeBufferPointer(start: storage.pointer, count: tensor.count))
    }

    public var allocatedBytes: Int { ledger.allocatedBytes }
    public var peakAllocatedBytes: Int { ledger.peakAllocatedBytes }
    /// Bytes of the reusable scratch buffers (not part of `allocatedBytes`, which counts tensors
    /// and weights as the protocol says).
    public var scratchBytes: Int { columnScratch.byteCount + resultScratch.byteCount + transformScratch.byteCount }

    public func finish() throws {}

    /// Layer outputs stay float32 here; `--storage half` rounds them in place (`roundToHalf`).
    public var halfStorageAlignment: Int? { nil }

    public func makeViews(bytes: Int, _ views: [TensorView]) throws -> [Tensor] {
        throw StyleError("native makeViews: the native path keeps no 16-bit buffers (internal error)")
    }

    // MARK: Helpers shared by the ops

    /// The native storage of `tensor`, or an error when it belongs to another backend.
    func native(_ tensor: Tensor, _ op: String) throws -> NativeStorage {
        guard let storage = tensor.storage as? NativeStorage else {
            throw StyleError(
                "native \(op): the tensor was made by another backend (internal error: tensors cannot be shared between backends)"
            )
        }
        guard tensor.format == .float else {
            throw StyleError("native \(op): a 16-bit tensor (internal error: the native path keeps none)")
        }
        return storage
    }

    /// The slot's float (`requireSlot` checked its index).
    func scalarSlot(_ scalars: Tensor, _ slot: Int, _ op: String) throws -> UnsafeMutablePointer<Float> {
        try native(scalars, op).pointer + slot
    }

    func store(_ value: Double, at slot: UnsafeMutablePointer<Float>, accumulate: Bool) {
        slot.pointee = Float(accumulate ? Double(slot.pointee) + value : value)
    }
}
