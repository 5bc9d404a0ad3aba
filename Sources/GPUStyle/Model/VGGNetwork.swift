/// A VGG model's feature layers on one backend, from the image to the deepest layer a run asks for.
/// Weights of later layers are never uploaded. Every buffer a forward and backward pass needs
/// is created in `makeWorkspace` before the first iteration and reused.
public final class VGGNetwork {
    public let backend: Backend
    public let model: VGGModel
    /// The layers run, in order (a prefix of `model.layers`).
    public let layers: [VGGModel.Layer]
    public let pooling: PoolMode
    public let preprocessing: ChannelAffine
    /// `half`: every layer output is rounded to float16 as it is written (the preprocessed input,
    /// 3 channels, stays float32), so the backward pass and the losses read what 16-bit buffers
    /// hold: 16-bit buffers where the backend has them (`makeWorkspace`), else float32 buffers
    /// rounded in place, with the same numbers.
    public let storage: ActivationStorage
    /// Weights per conv layer index into `layers` (nil for relu/pool).
    private let convWeights: [ConvWeights?]
    /// Bytes of weights uploaded to the device.
    public let uploadedWeightBytes: Int

    /// - Parameters:
    ///   - convolutions: weights (O×I×3×3) and bias of the model's first conv layers in order; at
    ///     least as many as the layers up to `deepestLayer` contain.
    public init(
        backend: Backend, model: VGGModel, convolutions: [(weights: [Float], bias: [Float])],
        preprocessing: ChannelAffine, deepestLayer: Int, pooling: PoolMode, storage: ActivationStorage = .float
    ) throws {
        guard deepestLayer >= 0, deepestLayer < model.layers.count else {
            throw StyleError("internal error: layer index \(deepestLayer) outside \(model.name)")
        }
        self.backend = backend
        self.model = model
        self.pooling = pooling
        self.preprocessing = preprocessing
        self.storage = storage
        layers = Array(model.layers[0...deepestLayer])
        var weights: [ConvWeights?] = []
        var convIndex = 0
        var bytes = 0
        for layer in layers {
            guard case let .conv(inputChannels, outputChannels) = layer.kind else {
                weights.append(nil)
                continue
            }
            guard convIndex < convolutions.count else {
                throw StyleError("the weights hold \(convolutions.count) conv layers; \(layer.name) needs more")
            }
            let parameters = convolutions[convIndex]
            guard parameters.weights.count == outputChannels * inputChannels * 9,
                parameters.bias.count == outputChannels
            else {
                throw StyleError(
                    "weights of \(layer.name) have \(parameters.weights.count) values and "
                        + "\(parameters.bias.count) biases; expected \(outputChannels)×\(inputChannels)×3×3 and \(outputChannels)"
                )
            }
            let uploaded = try backend.makeConvWeights(
                weights: parameters.weights, bias: parameters.bias,
                outputChannels: outputChannels, inputChannels: inputChannels)
            bytes += uploaded.byteCount
            weights.append(uploaded)
            convIndex += 1
        }
        convWeights = weights
        uploadedWeightBytes = bytes
    }

    /// The activation shape of every layer for an image of height × width.
    public func shapes(height: Int, width: Int) -> [Shape] {
        VGGNetwork.shapes(of: layers, height: height, width: width)
    }

    static func shapes(of layers: [VGGModel.Layer], height: Int, width: Int) -> [Shape] {
        var h = height
        var w = width
        return layers.map { layer in
            if layer.kind == .pool {
                h /= 2
                w /= 2
            }
            return Shape(c: layer.channels, h: h, w: w)
        }
    }

    /// The smallest image side for which every layer run has at least one pixel.
    public var minimumImageSide: Int {
        model.minimumImageSide(deepestLayer: layers.count - 1)
    }

    /// Buffers of one forward/backward pass at a fixed image size, shared as `WorkspaceLayout` says.
    public final class Workspace {
        public let height: Int
        public let width: Int
        /// The preprocessed image (network input).
        let input: Tensor
        /// Output of every layer. A conv fused with its ReLU shares the ReLU's tensor (and holds
        /// the ReLU's values). After a forward pass every output a loss or the backward pass reads
        /// holds its values; a forward-only one (a pooling output no loss reads) may have been
        /// overwritten by a later layer whose buffer it borrowed.
        public let outputs: [Tensor]
        let fusedWithNext: [Bool]
        /// Per layer: a conv whose backward-data applies the mask of the ReLU below it
        /// (`masksReluBelow`), so the pass skips that ReLU's own backward.
        let masksReluBelow: [Bool]
        let gradients: Gradients
        let shapes: [Shape]

        /// Where the backward pass puts its gradients.
        enum Gradients {
            /// float32 outputs (`WorkspaceLayout`): the gradient of the deepest layer's output where
            /// the pass starts, and where a pooling layer that cannot run in place puts its input
            /// gradient; the rest go into buffers the pass has finished with.
            case shared(layout: WorkspaceLayout, first: TensorStorage, arena: TensorStorage?)
            /// 16-bit outputs (`HalfWorkspaceLayout`): one tensor per layer output (a fused conv's
            /// is its ReLU's) and the input's; the pooling layers that apply the ReLU mask before them.
            case separate(layers: [Tensor], input: Tensor, fusedPools: Set<Int>)
        }

        init(
            input: Tensor, outputs: [Tensor], fusedWithNext: [Bool], masksReluBelow: [Bool], gradients: Gradients,
            shapes: [Shape], height: Int, width: Int
        ) {
            self.input = input
            self.outputs = outputs
            self.fusedWithNext = fusedWithNext
            self.masksReluBelow = masksReluBelow
            self.gradients = gradients
            self.shapes = shapes
            self.height = height
            self.width = width
        }

        /// Whether the layer outputs are 16-bit buffers.
        public var holdsHalves: Bool {
            if case .separate = gradients { return true }
            return false
        }

        /// The gradient with respect to the output of layer `index` (or, for -1, the network's
        /// input) held in `storage`.
        func gradient(_ index: Int, in storage: TensorStorage) -> Tensor {
            Tensor(shape: index >= 0 ? shapes[index] : input.shape, storage: storage)
        }
    }

    /// Where the buffers of a workspace for height × width go; `observed` as in `makeWorkspace`.
    static func layout(
        layers: [VGGModel.Layer], height: Int, width: Int, observed: Set<Int>,
        backend: Backend
    ) -> WorkspaceLayout {
        WorkspaceLayout(
            layers: layers, shapes: shapes(of: layers, height: height, width: width),
            inputShape: Shape(c: 3, h: height, w: width), observed: observed,
            backwardDataRunsInPlace: backend.backwardDataRunsInPlace)
    }

    /// The storage of a workspace's layer outputs: half only with storage half and a backend with
    /// 16-bit buffers (`makeWorkspace`), else float32.
    static func outputStorage(storage: ActivationStorage, backend: Backend) -> ActivationStorage {
        storage == .half && backend.halfStorageAlignment != nil ? .half : .float
    }

    /// Where a half workspace's tensors go, or nil where its layer outputs are float32
    /// (`outputStorage`).
    static func halfLayout(
        layers: [VGGModel.Layer], height: Int, width: Int, observed: Set<Int>, backend: Backend,
        storage: ActivationStorage
    ) -> HalfWorkspaceLayout? {
        guard outputStorage(storage: storage, backend: backend) == .half,
            let alignment = backend.halfStorageAlignment
        else { return nil }
        return HalfWorkspaceLayout(
            layers: layers, shapes: shapes(of: layers, height: height, width: width),
            inputShape: Shape(c: 3, h: height, w: width), observed: observed, alignment: alignment,
            backwardDataRunsInPlace: backend.backwardDataRunsInPlace)
    }

    /// Allocates the buffers for height × width. `observed` are the layer indices whose
    /// outputs losses read: a conv layer among them keeps its pre-ReLU output instead of being fused.
    /// With `--storage half` the layer outputs are 16-bit buffers where the backend has them.
    public func makeWorkspace(
        height: Int, width: Int, observed: Set<Int>
    ) throws
        -> Workspace
    {
        guard height >= minimumImageSide, width >= minimumImageSide else {
            throw StyleError(
                "the image is \(width)×\(height); layers up to \(layers.last?.name ?? "") need at least "
                    + "\(minimumImageSide)×\(minimumImageSide) pixels")
        }
        let shapes = self.shapes(height: height, width: width)
        if let half = VGGNetwork.halfLayout(
            layers: layers, height: height, width: width, observed: observed, backend: backend, storage: storage)
        {
            let n = layers.count
            let tensors = try backend.makeViews(
                bytes: half.bytes, [half.input, half.inputGradient] + half.outputs + half.gradientGroups)
            // The gradients of a group share one buffer: backward-data in place reads and writes it.
            let gradients = layers.indices.map {
                Tensor(shape: shapes[$0], storage: tensors[2 + n + half.gradientGroup[$0]].storage)
            }
            return Workspace(
                input: tensors[0], outputs: Array(tensors[2..<(2 + n)]), fusedWithNext: half.fusedWithNext,
                masksReluBelow: Array(repeating: false, count: n),  // the convs read float32 masks
                gradients: .separate(layers: gradients, input: tensors[1], fusedPools: half.fusedPools),
                shapes: shapes,
                height: height, width: width)
        }
        let layout = VGGNetwork.layout(
            layers: layers, height: height, width: width, observed: observed, backend: backend)
        let buffers = try layout.buffers.map { try backend.makeTensor(.vector($0)).storage }
        return Workspace(
            input: Tensor(shape: Shape(c: 3, h: height, w: width), storage: buffers[layout.inputBuffer]),
            outputs: layers.indices.map { Tensor(shape: shapes[$0], storage: buffers[layout.outputBuffer[$0]]) },
            fusedWithNext: layout.fusedWithNext,
            masksReluBelow: layers.indices.map { VGGNetwork.masksReluBelow($0, layers: layers, observed: observed) },
            gradients: .shared(
                layout: layout, first: buffers[layout.firstGradientBuffer],
                arena: layout.arenaBuffer.map { buffers[$0] }),
            shapes: shapes, height: height, width: width)
    }

    /// The workspace's buffers at a smaller size (a smaller tile): the same buffers and layout, each
    /// tensor the shape of height × width. Every layer's tensor shrinks with the image, so the
    /// sharing the layout decided at the larger size holds at the smaller one (a 16-bit layout's
    /// tensors each stay within the bytes it placed them in).
    public func view(of workspace: Workspace, height: Int, width: Int) throws -> Workspace {
        if height == workspace.height && width == workspace.width { return workspace }
        guard height >= minimumImageSide, width >= minimumImageSide, height <= workspace.height,
            width <= workspace.width
        else {
            throw StyleError(
                "internal error: a \(width)×\(height) view of a \(workspace.width)×\(workspace.height) workspace")
        }
        let shapes = self.shapes(height: height, width: width)
        let inputShape = Shape(c: 3, h: height, w: width)
        func reshaped(_ tensor: Tensor, _ shape: Shape) -> Tensor {
            Tensor(shape: shape, storage: tensor.storage, format: tensor.format)
        }
        var gradients = workspace.gradients
        if case let .separate(layers, input, fusedPools) = gradients {
            gradients = .separate(
                layers: zip(layers, shapes).map(reshaped), input: reshaped(input, inputShape), fusedPools: fusedPools)
        }
        return Workspace(
            input: reshaped(workspace.input, inputShape), outputs: zip(workspace.outputs, shapes).map(reshaped),
            fusedWithNext: workspace.fusedWithNext, masksReluBelow: workspace.masksReluBelow, gradients: gradients,
            shapes: shapes, height: height, width: width)
    }

    /// A conv is fused with its ReLU unless its own output is observed or the ReLU is not run.
    static func fusesWithNext(_ index: Int, layers: [VGGModel.Layer], observed: Set<Int>) -> Bool {
        guard case .conv = layers[index].kind else { return false }
        return !observed.contains(index) && index + 1 < layers.count
    }

    /// A conv's backward-data applies the ReLU mask of the layer below where that is a ReLU no loss
    /// reads: no loss gradient is added there between the two, so the ReLU's own pass over its
    /// gradient is saved.
    static func masksReluBelow(_ index: Int, layers: [VGGModel.Layer], observed: Set<Int>) -> Bool {
        guard case .conv = layers[index].kind, index > 0 else { return false }
        return layers[index - 1].kind == .relu && !observed.contains(index - 1)
    }

    /// Enqueues the forward pass of `image` (3×H×W, RGB 0–255) through every layer, or through
    /// layer `last`.
    public func forward(image: Tensor, workspace: Workspace, through last: Int? = nil) throws {
        try backend.preprocess(image: image, affine: preprocessing, output: workspace.input)
        // 16-bit buffers round as they are written; float32 ones are rounded after.
        let rounds = storage == .half && !workspace.holdsHalves
        var previous = workspace.input
        let end = min(last ?? layers.count, layers.count - 1)
        // A conv fused with its ReLU pools the ReLU's output as it stores it, unless that output is
        // rounded after (the pooling reads the rounded values).
        let pools = { (conv: Int) in
            !rounds && conv >= 0 && workspace.fusedWithNext[conv] && conv + 2 <= end
                && self.layers[conv + 2].kind == .pool
        }
        for (index, layer) in layers.enumerated() where index <= end {
            let output = workspace.outputs[index]
            switch layer.kind {
            case .conv:
                try backend.conv3x3(
                    input: previous, weights: convWeights[index]!, relu: workspace.fusedWithNext[index],
                    output: output,
                    pool: pools(index) ? ConvPooling(mode: pooling, output: workspace.outputs[index + 2]) : nil)
                if rounds { try backend.roundToHalf(output) }
            case .relu:
                // ReLU commutes with the rounding: a rounded input gives a rounded output.
                if !(index > 0 && workspace.fusedWithNext[index - 1]) {
                    try backend.relu(input: previous, output: output)
                }
            case .pool:
                if !pools(index - 2) { try backend.pool2x2(input: previous, mode: pooling, output: output) }
                // Max pooling picks one of its rounded inputs; the average needs its own rounding.
                if rounds, pooling == .avg { try backend.roundToHalf(output) }
            }
            previous = output
        }
    }

    /// Enqueues the backward pass from the deepest layer to the image. `addLossGradients(index, grad,
    /// reluMask)` is called once per layer, deepest first, to add the losses' gradients with respect
    /// to that layer's output into `grad` (accumulate). Where `reluMask` (a ReLU whose backward
    /// would run next, in place) the closure may fuse that backward into its last op (the whole sum
    /// zeroed where the layer's output is not positive) and returns whether it did; the ReLU's own
    /// pass is then skipped. The image gradient is written to `gradImage` (overwritten).
    ///
    /// Gradients live in buffers the pass has finished with (`WorkspaceLayout`): a conv's input
    /// gradient goes into the conv's own output buffer (read for the last time by the ReLU mask and
    /// the losses just before; VGG's convs never have fewer output channels than input channels);
    /// a pooling layer's, with the ReLU before it, over its own input where it can, else into the
    /// gradient arena. The next forward pass overwrites them all.
    public func backward(
        workspace: Workspace, gradImage: Tensor,
        addLossGradients: (_ layerIndex: Int, _ grad: Tensor, _ reluMask: Bool) throws -> Bool
    ) throws {
        guard case let .shared(layout, first, arena) = workspace.gradients else {
            return try backwardSeparate(workspace: workspace, gradImage: gradImage, addLossGradients: addLossGradients)
        }
        var grad = workspace.gradient(layers.count - 1, in: first)
        try backend.fill(grad, value: 0)
        var maskApplied = false
        var index = layers.count - 1
        while index >= 0 {
            let layer = layers[index]
            if try addLossGradients(index, grad, layer.kind == .relu && !maskApplied) { maskApplied = true }
            switch layer.kind {
            case .relu:
                // The gradient w.r.t. the ReLU's input is in place: same shape, same buffer.
                if !maskApplied {
                    try backend.reluBackward(gradOutput: grad, activation: workspace.outputs[index], gradInput: grad)
                }
                maskApplied = false
                if index > 0, layout.fusedWithNext[index - 1] {
                    // Step onto the fused conv: its own output is never observed (that is when fusion is
                    // allowed), so no loss gradients are added there.
                    index -= 1
                    grad = try convBackward(index, grad: grad, workspace: workspace)
                    maskApplied = workspace.masksReluBelow[index]
                }
            case .conv:
                grad = try convBackward(index, grad: grad, workspace: workspace)
                maskApplied = workspace.masksReluBelow[index]
            case .pool:
                let input = index > 0 ? workspace.outputs[index - 1] : workspace.input
                if layout.inPlacePools.contains(index) {
                    // The ReLU before (unobserved) gets its mask here, from the values being overwritten.
                    try backend.reluPool2x2Backward(
                        gradOutput: grad, activation: input, mode: pooling, gradInput: input)
                    grad = workspace.gradient(index - 1, in: input.storage)
                    maskApplied = true
                } else {
                    guard let arena, arena !== grad.storage else {
                        throw StyleError("backward: no free gradient buffer for \(layer.name) (internal error)")
                    }
                    let next = workspace.gradient(index - 1, in: arena)
                    try backend.pool2x2Backward(
                        gradOutput: grad, input: input, mode: pooling, gradInput: next,
                        accumulate: false)
                    grad = next
                }
            }
            index -= 1
        }
        try backend.preprocessBackward(gradOutput: grad, affine: preprocessing, gradImage: gradImage, accumulate: false)
    }

    /// The backward pass of a workspace with 16-bit outputs: each gradient in its own tensor
    /// (`HalfWorkspaceLayout`), nothing in place but the ReLU masks; the same ops on the same
    /// values as `backward` otherwise (out of place where it runs them in place), so the same numbers.
    private func backwardSeparate(
        workspace: Workspace, gradImage: Tensor,
        addLossGradients: (_ layerIndex: Int, _ grad: Tensor, _ reluMask: Bool) throws -> Bool
    ) throws {
        guard case let .separate(gradients, inputGradient, fusedPools) = workspace.gradients else { return }
        let below = { (index: Int) in index > 0 ? gradients[index - 1] : inputGradient }
        // A fused conv's gradient tensor is its ReLU's (the same buffer and shape).
        func convBackward(_ conv: Int) throws {
            try backend.conv3x3BackwardData(
                gradOutput: gradients[conv], weights: convWeights[conv]!, reluMaskFrom: nil, gradInput: below(conv),
                accumulate: false)
        }
        try backend.fill(gradients[layers.count - 1], value: 0)
        var maskApplied = false
        var index = layers.count - 1
        while index >= 0 {
            let grad = gradients[index]
            // A ReLU's backward runs in place only where its conv is fused with it.
            let inPlace = layers[index].kind == .relu && index > 0 && workspace.fusedWithNext[index - 1]
            if try addLossGradients(index, grad, inPlace && !maskApplied) { maskApplied = true }
            switch layers[index].kind {
            case .relu:
                // In place where a fused conv shares the tensor, else into the conv's own.
                let fused = index > 0 && workspace.fusedWithNext[index - 1]
                if !maskApplied {
                    try backend.reluBackward(
                        gradOutput: grad, activation: workspace.outputs[index], gradInput: fused ? grad : below(index))
                }
                maskApplied = false
                if fused {
                    index -= 1
                    try convBackward(index)
                }
            case .conv:
                try convBackward(index)
            case .pool where fusedPools.contains(index):
                try backend.reluPool2x2Backward(
                    gradOutput: grad, activation: workspace.outputs[index - 1], mode: pooling, gradInput: below(index))
                maskApplied = true
            case .pool:
                try backend.pool2x2Backward(
                    gradOutput: grad, input: index > 0 ? workspace.outputs[index - 1] : workspace.input,
                    mode: pooling, gradInput: below(index), accumulate: false)
            }
            index -= 1
        }
        try backend.preprocessBackward(
            gradOutput: inputGradient, affine: preprocessing, gradImage: gradImage, accumulate: false)
    }

    /// Backward-data of the conv at `index` into the conv's own output buffer, which the pass has
    /// finished with (in place when the gradient is already there, after an in-place pooling
    /// layer); returns the gradient w.r.t. the conv's input.
    private func convBackward(_ index: Int, grad: Tensor, workspace: Workspace) throws -> Tensor {
        let target = workspace.outputs[index]
        let next = workspace.gradient(index - 1, in: target.storage)
        guard next.count <= target.count else {
            throw StyleError(
                "backward: \(layers[index].name)'s output buffer cannot hold its input gradient (internal error)")
        }
        try backend.conv3x3BackwardData(
            gradOutput: grad, weights: convWeights[index]!,
            reluMaskFrom: workspace.masksReluBelow[index] ? workspace.outputs[index - 1] : nil,
            gradInput: next, accumulate: false)
        return next
    }
}
