import Foundation

/// Pooling variants of VGG19's 2×2 stride-2 pooling layers.
public enum PoolMode: String, CaseIterable, Codable, Sendable {
    case max, avg
}

/// A 2×2 pooling a convolution computes with its output (`conv3x3`'s `pool`): `output` =
/// pool2x2(the convolution's output), so the backend may pool the values where it makes them.
public struct ConvPooling {
    public var mode: PoolMode
    public var output: Tensor

    public init(mode: PoolMode, output: Tensor) {
        self.mode = mode
        self.output = output
    }
}

/// Convolution weights prepared for one backend: forward layout plus the transposed and
/// flipped copy that backward-data uses, made once at load time.
public protocol ConvWeights: AnyObject {
    var outputChannels: Int { get }
    var inputChannels: Int { get }
    /// Bytes held on the device (both layouts and the bias).
    var byteCount: Int { get }
}

/// Adam's bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ for one step, in Double once per step and then
/// rounded to Float, as both backends use them.
public struct AdamCorrections: Equatable, Sendable {
    public var first: Float
    public var second: Float

    public init(_ parameters: AdamParameters, step: Int) {
        first = Float(1 - pow(Double(parameters.beta1), Double(step)))
        second = Float(1 - pow(Double(parameters.beta2), Double(step)))
    }
}

/// Adam's hyper-parameters (docs/DESIGN.md defaults).
public struct AdamParameters: Equatable, Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// One 3×3 convolution a run performs: its channels and the size of its planes.
public struct ConvolutionShape: Hashable, Sendable {
    /// Which conv layer (0-based): a layer's weights, and what a backend keeps of them, are one
    /// whatever the sizes it runs at.
    public var layer: Int
    public var inputChannels: Int
    public var outputChannels: Int
    public var height: Int
    public var width: Int
    /// The shape stands for every map of its width and at most its height (a tiled plan's
    /// tallest region at one of its widths).
    public var coversShorterMaps: Bool

    /// The smallest map on which OpenCL's Winograd F(4×4) runs where the options choose per
    /// convolution: between the largest map where it lost to F(2×2) on PoCL (conv5 at 16×12) and
    /// the smallest where it won (conv5 at 32×24), at their geometric mean (benchmarks/README.md,
    /// "weight transforms without the private array").
    public static let winograd4MinimumPixels = 24 * 16
    /// The same for the native backend, where F(4×4) lost on 32×24 and won on 64×48
    /// (benchmarks/README.md, "native F(4×4) per convolution").
    public static let nativeWinograd4MinimumPixels = 48 * 32
    /// The same for F(6×6) on the native backend, where it won on conv2_x at 256×192 and lost on
    /// conv3_2 at 128×96, as on PoCL (benchmarks/README.md, "native F(6×6)").
    public static let nativeWinograd6MinimumPixels = 192 * 128
    /// The smallest map on which F(6×6) runs on OpenCL devices that choose per convolution: its
    /// weight transforms cost 64/36 of F(4×4)'s at any map size, its multiply saves a fixed share of
    /// a cost that grows with the map, so pixels alone decide. Between the largest map where it
    /// did not win on PoCL (conv3 at 128×96) and the smallest where it did (conv2 at 256×192), at
    /// their geometric mean (benchmarks/README.md, "Winograd F(6×6,3×3)").
    public static let winograd6MinimumPixels = 192 * 128

    public init(
        layer: Int, inputChannels: Int, outputChannels: Int, height: Int, width: Int, coversShorterMaps: Bool = false
    ) {
        self.layer = layer
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.height = height
        self.width = width
        self.coversShorterMaps = coversShorterMaps
    }
}

/// A device the style-transfer run computes on: its memory and the compute side of every op.
/// The network, the losses and the optimisers call the checked ops of `BackendOps.swift`
/// (`gram`, `conv3x3`, …), each with its gradient beside it; `OpenCLBackend` computes them as
/// kernels from Kernels.cl and `NativeBackend` on the host with BLAS.
///
/// Conventions:
/// - tensors are float32 CHW, batch 1 (layer outputs may be 16-bit: `Tensor.format`, `makeViews`);
///   outputs are passed in and fully overwritten unless `accumulate` is true, in which case the
///   result is added to what the output holds;
/// - ops are enqueued and may run asynchronously; only `download`/`readScalars`/`dot` block;
/// - scalar results (losses, dot products) go into `slot` of a small scalar tensor so the
///   host reads them only when it needs them. Reductions are deterministic.
public protocol Backend: AnyObject {
    /// Short name for tables: "native" or the OpenCL device name.
    var name: String { get }

    // MARK: Memory
    /// A new zero-filled tensor.
    func makeTensor(_ shape: Shape) throws -> Tensor
    func upload(_ values: [Float], to tensor: Tensor) throws
    func download(_ tensor: Tensor) throws -> [Float]
    /// Bytes currently allocated through this backend (tensors and weights), and the peak.
    var allocatedBytes: Int { get }
    var peakAllocatedBytes: Int { get }
    /// The device's memory, before any environment override.
    var memoryCapacity: MemoryCapacity { get }
    /// Bytes `makeConvWeights` allocates for a layer of these channel counts (every layout it
    /// keeps, padding included): what `MemoryPlan` counts per layer.
    func convWeightBytes(outputChannels: Int, inputChannels: Int) -> Int
    /// Bytes of scratch, counted in `allocatedBytes`, that the backend grows to while it runs
    /// `convolutions` (forward and backward-data) and Grams of `grams`.
    func scratchBytes(convolutions: [ConvolutionShape], grams: [Shape]) -> Int
    /// Blocks until all enqueued work is done.
    func finish() throws
    /// The byte alignment of `makeViews`' offsets where the backend keeps layer outputs in 16-bit
    /// buffers (`--storage half`); nil where it does not, and the network then rounds them in
    /// float32 buffers (the same numbers, no memory saved).
    var halfStorageAlignment: Int? { get }
    /// One zero-filled allocation of `bytes` and tensors viewing it at byte offsets (multiples of
    /// `halfStorageAlignment`), where tensors whose lifetimes do not overlap may share bytes.
    func makeViews(bytes: Int, _ views: [TensorView]) throws -> [Tensor]

    // MARK: Network set-up
    /// Uploads a 3×3 conv layer: `weights` is O×I×3×3 row-major, `bias` has O values.
    func makeConvWeights(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int) throws -> ConvWeights
    /// Whether `conv3x3BackwardData` of a layer with these channels may write gradInput over its
    /// own gradOutput (the same storage, without accumulation): true where the backend reads each
    /// part of gradOutput before it writes over it. What lets the backward pass run without a
    /// buffer of the largest activation's size (`WorkspaceLayout`).
    func backwardDataRunsInPlace(outputChannels: Int, inputChannels: Int) -> Bool
    /// The output tile m where a convolution of a layer with these channels on a height × width
    /// map runs Winograd F(m×m,3×3) (either direction), nil where it runs a direct algorithm:
    /// which error bound its results keep (SelfTest/WinogradErrorBound.swift).
    func winogradTile(outputChannels: Int, inputChannels: Int, height: Int, width: Int) -> Int?

    // MARK: Compute
    // Each op as the backend computes it. Only the checked ops of `BackendOps.swift` call these:
    // they check shapes, aliasing and slots once for every backend and do the arithmetic the
    // backends share, so an implementation may assume valid arguments. `BackendOp` lists them.
    func computeFill(_ tensor: Tensor, value: Float) throws
    func computeCopy(_ x: Tensor, to y: Tensor) throws
    func computeCopyRegion(_ source: Tensor, _ region: PlaneRegion, to target: Tensor, at origin: PlanePoint) throws
    func computeAxpy(alpha: Float, x: Tensor, y: Tensor) throws
    func computeScale(_ x: Tensor, by alpha: Float) throws
    func computeClamp(_ x: Tensor, lower: Float, upper: Float) throws
    func computeRoundToHalf(_ x: Tensor) throws
    func computeDot(_ x: Tensor, _ y: Tensor) throws -> Double
    func computeConv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor, pool: ConvPooling?) throws
    func computeConv3x3BackwardData(
        gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
        accumulate: Bool) throws
    func computeRelu(input: Tensor, output: Tensor) throws
    func computeReluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws
    func computePool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws
    func computePool2x2Backward(
        gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor,
        accumulate: Bool) throws
    func computeReluPool2x2Backward(gradOutput: Tensor, activation: Tensor, mode: PoolMode, gradInput: Tensor) throws
    func computeEncodeReluCodes(_ activation: Tensor, maxPooled: Bool, codes: Tensor) throws
    func computeDecodeReluCodes(_ codes: Tensor, output: Tensor) throws
    func computeGram(features: Tensor, output: Tensor) throws
    func computeGramBackward(
        gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool, reluMasked: Bool) throws
    func computeMeanSquaredError(
        _ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int,
        accumulate: Bool) throws
    /// grad (+)= factor · (a − b), with factor = 2 · scale / N.
    func computeMeanSquaredErrorGradient(_ a: Tensor, _ b: Tensor, factor: Float, grad: Tensor, accumulate: Bool) throws
    func computeTotalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws
    func computeTotalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws
    func computePreprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws
    func computePreprocessBackward(
        gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor,
        accumulate: Bool) throws
    func computeClampRound(image: Tensor, output: Tensor) throws
    func computeMultiplyByMask(_ x: Tensor, mask: Tensor, output: Tensor, accumulate: Bool) throws
    func computeWarpBilinear(_ image: Tensor, flow: Tensor, output: Tensor) throws
    func computeWarpBilinearBackward(gradOutput: Tensor, flow: Tensor, gradImage: Tensor, accumulate: Bool) throws
    func computeFlowDerivatives(reference: Tensor, warped: Tensor, output: Tensor) throws
    func computeTVL1PrimalStep(
        derivatives: Tensor, base: Tensor, flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor)
        throws
    func computeTVL1DualStep(flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor) throws
    func computeMedian3x3(_ x: Tensor, output: Tensor) throws
    func computeUpsampleFlow(_ coarse: Tensor, output: Tensor) throws
    func computeReliabilityMask(flow: Tensor, backwardFlow: Tensor, output: Tensor) throws
    func computeTemporalLoss(
        _ x: Tensor, warped: Tensor, mask: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws
    /// grad (+)= factor · mask · (x − warped), with factor = 2 · scale.
    func computeTemporalLossGradient(
        _ x: Tensor, warped: Tensor, mask: Tensor, factor: Float, grad: Tensor, accumulate: Bool) throws
    func computeAdamStep(
        parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, parameters: AdamParameters,
        corrections: AdamCorrections) throws
}

extension Backend {
    /// All values of a small scalar tensor (losses), as Double.
    public func readScalars(_ scalars: Tensor) throws -> [Double] {
        try download(scalars).map(Double.init)
    }
}

extension Backend {
    /// A zero-filled layer output of `shape` in 16-bit storage: a 16-bit tensor where the backend
    /// has them (`makeViews`), else a float32 one (see `roundLayerOutput`).
    func makeLayerOutput(_ shape: Shape) throws -> Tensor {
        guard halfStorageAlignment != nil else { return try makeTensor(shape) }
        let view = TensorView(offset: 0, shape: shape, format: .half)
        return try makeViews(bytes: view.byteCount, [view])[0]
    }

    /// A tensor of `shape` in `format`, as another tensor's: a 16-bit layer output or float32.
    func makeTensor(_ shape: Shape, format: ActivationStorage) throws -> Tensor {
        try format == .half ? makeLayerOutput(shape) : makeTensor(shape)
    }

    /// What a 16-bit store does to a value, on a float32 tensor (a 16-bit one is rounded already).
    func roundLayerOutput(_ tensor: Tensor) throws {
        if tensor.format == .float { try roundToHalf(tensor) }
    }
}
