/// Pooling variants of VGG19's 2×2 stride-2 pooling layers.
public enum PoolMode: String, CaseIterable, Codable, Sendable {
    case max, avg
}

/// Per-channel affine map with a channel permutation: `out[c] = in[permutation[c]] * scale[c] + offset[c]`.
/// Both preprocessing flavours of DESIGN.md are of this form:
/// caffe: permutation BGR, scale 1, offset −mean; torch: identity, scale 1/(255·std), offset −mean/std.
public struct ChannelAffine: Equatable, Sendable {
    public var permutation: [Int]
    public var scale: [Float]
    public var offset: [Float]

    public init(permutation: [Int], scale: [Float], offset: [Float]) {
        precondition(permutation.count == 3 && scale.count == 3 && offset.count == 3)
        self.permutation = permutation
        self.scale = scale
        self.offset = offset
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

/// Adam's hyper-parameters (DESIGN.md defaults).
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
public struct ConvolutionShape: Equatable, Sendable {
    public var inputChannels: Int
    public var outputChannels: Int
    public var height: Int
    public var width: Int

    public init(inputChannels: Int, outputChannels: Int, height: Int, width: Int) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.height = height
        self.width = width
    }
}

/// Every op the style-transfer run needs, each with its gradient beside it. The network,
/// the losses and the optimisers are written once against this protocol; `OpenCLBackend`
/// runs the ops as kernels from Kernels.cl and `NativeBackend` on the host with BLAS.
///
/// Conventions:
/// - tensors are float32 CHW, batch 1; outputs are passed in and fully overwritten unless
///   `accumulate` is true, in which case the result is added to what the output holds;
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

    // MARK: Elementwise and vector ops (also L-BFGS's)
    func fill(_ tensor: Tensor, value: Float) throws
    /// y = x
    func copy(_ x: Tensor, to y: Tensor) throws
    /// y += alpha · x
    func axpy(alpha: Float, x: Tensor, y: Tensor) throws
    /// x *= alpha
    func scale(_ x: Tensor, by alpha: Float) throws
    /// Σ x·y, deterministic; blocks and returns the value.
    func dot(_ x: Tensor, _ y: Tensor) throws -> Double

    // MARK: Network ops
    /// Uploads a 3×3 conv layer: `weights` is O×I×3×3 row-major, `bias` has O values.
    func makeConvWeights(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int) throws -> ConvWeights
    /// output = conv3x3(input) + bias, ReLU applied when `relu`; stride 1, zero padding 1, cross-correlation.
    func conv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor) throws
    /// gradInput (+)= conv3x3ᵀ(gradOutput): the gradient of conv3x3 with respect to its input.
    /// When `reluMaskFrom` is given (the ReLU output of the layer that produced this conv's
    /// input), the result is multiplied by its mask (activation > 0): ReLU backward fused in.
    func conv3x3BackwardData(gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
                             accumulate: Bool) throws
    /// Whether `conv3x3BackwardData` of a layer with these channels may write gradInput over its
    /// own gradOutput (the same storage, without accumulation): true where the backend reads each
    /// part of gradOutput before it writes over it. What lets the backward pass run without a
    /// buffer of the largest activation's size (`WorkspaceLayout`).
    func backwardDataRunsInPlace(outputChannels: Int, inputChannels: Int) -> Bool
    /// output = max(input, 0)
    func relu(input: Tensor, output: Tensor) throws
    /// gradInput = activation > 0 ? gradOutput : 0, where activation is the ReLU's output. In place allowed.
    func reluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws
    /// 2×2 stride 2 pooling; odd sizes floor.
    func pool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws
    /// gradInput (+)= pool backward. Max routes to the first maximum in row-major order.
    func pool2x2Backward(gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor,
                         accumulate: Bool) throws
    /// The backward pass of a ReLU followed by 2×2 pooling, in place: `activation` (the ReLU's
    /// output, the pooling layer's input) becomes the gradient with respect to the ReLU's input,
    /// `pool2x2Backward` times the mask (activation > 0), bit for bit. Each 2×2 window is read
    /// before it is written, so no second buffer of the activation's size is needed.
    func reluPool2x2BackwardInPlace(gradOutput: Tensor, activation: Tensor, mode: PoolMode) throws

    // MARK: Gram and losses
    /// gram (C×C, shape c=1,h=C,w=C) = F Fᵀ / N with F the C×M features and N = C·M.
    func gram(features: Tensor, output: Tensor) throws
    /// gradFeatures (+)= (dG + dGᵀ) F / N.
    func gramBackward(gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool) throws
    /// scalars[slot] (+)= scale · mean((a − b)²)
    func meanSquaredError(_ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws
    /// grad (+)= scale · 2(a − b)/N, the gradient of scale · mean((a − b)²) with respect to a.
    func meanSquaredErrorGradient(_ a: Tensor, _ b: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws
    /// scalars[slot] (+)= scale · L_tv(x) with L_tv as in DESIGN.md.
    func totalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws
    /// grad (+)= scale · ∂L_tv/∂x
    func totalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws

    // MARK: Image pre/post-processing
    /// output = affine(image): the network's first, differentiable op.
    func preprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws
    /// gradImage (+)= affineᵀ(gradOutput)
    func preprocessBackward(gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor, accumulate: Bool) throws
    /// output = round(clamp(image, 0, 255)) for writing.
    func clampRound(image: Tensor, output: Tensor) throws

    // MARK: Optimiser
    /// One bias-corrected Adam step on `parameter` (step is 1-based), state m and v resident.
    func adamStep(parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, step: Int, parameters: AdamParameters) throws
}

extension Backend {
    /// All values of a small scalar tensor (losses), as Double.
    public func readScalars(_ scalars: Tensor) throws -> [Double] {
        try download(scalars).map(Double.init)
    }
}
