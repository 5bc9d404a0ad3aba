@testable import GPUStyle

/// Wraps a backend and counts what crosses the host–device boundary and what is allocated,
/// so a test can prove the run loop neither transfers nor allocates per iteration.
final class CountingBackend: ForwardingBackend {
    private(set) var allocations = 0
    private(set) var uploads = 0
    /// Downloads of whole tensors plus blocking scalar reads (dot).
    private(set) var downloads = 0
    /// When set, the conv call after this many fails as a device would (CL_OUT_OF_RESOURCES).
    var failAfterConvolutions: Int?
    private(set) var convolutions = 0

    override func makeTensor(_ shape: Shape) throws -> Tensor {
        allocations += 1
        return try inner.makeTensor(shape)
    }

    override func upload(_ values: [Float], to tensor: Tensor) throws {
        uploads += 1
        try inner.upload(values, to: tensor)
    }

    override func download(_ tensor: Tensor) throws -> [Float] {
        downloads += 1
        return try inner.download(tensor)
    }

    override func makeConvWeights(
        weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int
    ) throws -> ConvWeights {
        allocations += 1
        return try inner.makeConvWeights(
            weights: weights, bias: bias, outputChannels: outputChannels,
            inputChannels: inputChannels)
    }

    override func perform<Result>(_ op: BackendOp, _ compute: () throws -> Result) throws -> Result {
        if op == .dot { downloads += 1 }
        if op == .conv3x3 {
            convolutions += 1
            if let limit = failAfterConvolutions, convolutions > limit {
                throw CLError(call: "clEnqueueNDRangeKernel(conv3x3)", code: -5)
            }
        }
        return try compute()
    }
}
