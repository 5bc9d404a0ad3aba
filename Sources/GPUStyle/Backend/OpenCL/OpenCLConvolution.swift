/// A 3×3 conv layer on an OpenCL device, in the layout its algorithm reads:
/// - direct: a layout for forward and one for backward-data (the transposed, flipped weights
///   W'[i][o][ky][kx] = W[o][i][2−ky][2−kx]), each for the kernel that direction runs:
///   `conv3x3` `[I·9][outputStride]`, or with `blocked` (CONV_BLOCKED_WEIGHTS) each block of
///   `block` channels whole before the next, `[stride / block][rows][block]`; or
///   `conv3x3_narrow` (few channels on either side, `usesNarrow`; `conv3x3_narrow_strip` where
///   there are at most 4 outputs) `[ceil(O / 4)][I·9][4]`;
/// - Winograd: the raw O×I×3×3 weights. Each convolution transforms them in the direction it
///   needs (`winograd_weights`): into shared scratch (16/9 or 36/9 of the raw size, one layer at a
///   time), or with `WINO_CACHE` into the layer's own buffer per direction, kept while the tile
///   size stays (faster on a CPU, where the pass is memory-bound, for 3.6–7.2× the raw weights).
/// Strides are the channel counts rounded up to the kernel's channel block, zero padded; the bias
/// is padded the same way.
public final class OpenCLConvWeights: ConvWeights {
    public let outputChannels: Int
    public let inputChannels: Int
    let winograd: Bool
    /// The direct kernel's forward layout, or for Winograd the raw weights.
    let forward: CLBuffer
    /// The direct kernel's backward-data layout; nil for Winograd.
    let backward: CLBuffer?
    /// Whether forward and backward-data run `conv3x3_narrow` (direct layers only).
    let forwardNarrow: Bool
    let backwardNarrow: Bool
    let bias: CLBuffer
    let outputStride: Int
    let inputStride: Int
    /// With `WINO_CACHE`: each direction's weight transforms and the tile size they are for.
    var transforms: [WinogradWeights.Direction: (tile: Int, buffer: CLBuffer)] = [:]

    public var byteCount: Int { forward.byteCount + (backward?.byteCount ?? 0) + bias.byteCount }

    init(
        weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int, options: ProgramOptions,
        context: CLContext
    ) throws {
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        let block = options.channelBlock
        let winograd = OpenCLConvWeights.usesWinograd(
            outputChannels: outputChannels, inputChannels: inputChannels,
            options: options)
        self.winograd = winograd
        outputStride = (outputChannels + block - 1) / block * block
        inputStride = (inputChannels + block - 1) / block * block
        forwardNarrow =
            !winograd
            && OpenCLConvWeights.usesNarrow(
                outputs: outputChannels, inputs: inputChannels,
                options: options)
        backwardNarrow =
            !winograd
            && OpenCLConvWeights.usesNarrow(
                outputs: inputChannels, inputs: outputChannels,
                options: options)
        let forwardLayout: [Float], backwardLayout: [Float]?
        if winograd {
            forwardLayout = weights
            backwardLayout = nil
        } else {
            let flipped = ConvKernelLayouts.flippedTransposed(
                weights, outputChannels: outputChannels,
                inputChannels: inputChannels)
            forwardLayout = OpenCLConvWeights.directLayout(
                weights, outputs: outputChannels, inputs: inputChannels,
                stride: outputStride, options: options)
            backwardLayout = OpenCLConvWeights.directLayout(
                flipped, outputs: inputChannels, inputs: outputChannels,
                stride: inputStride, options: options)
        }
        forward = try context.makeBuffer(floats: forwardLayout.count)
        try context.write(forwardLayout, to: forward)
        if let backwardLayout {
            let buffer = try context.makeBuffer(floats: backwardLayout.count)
            try context.write(backwardLayout, to: buffer)
            backward = buffer
        } else {
            backward = nil
        }
        self.bias = try context.makeBuffer(floats: outputStride)
        // The padding too: the kernels load whole channel blocks, so unwritten lanes would be read.
        try context.write(bias + [Float](repeating: 0, count: outputStride - bias.count), to: self.bias)
    }

    /// Fewer channels than this keep a layer on the direct kernel: with 3 (conv1_1) the
    /// transforms cost more than the multiplies they save.
    static let winogradMinimumChannels = 8

    static func usesWinograd(outputChannels: Int, inputChannels: Int, options: ProgramOptions) -> Bool {
        switch options.convWinograd {
        case 0: return false
        case 1: return min(outputChannels, inputChannels) >= winogradMinimumChannels
        default: return true
        }
    }

    /// Output channels per pass of `conv3x3_narrow` (its weights are padded to a multiple).
    static let narrowOutputBlock = 4

    /// Whether a direct convolution of one direction (`outputs` from `inputs`) runs
    /// `conv3x3_narrow`: with at most `narrowOutputBlock` channels on either side, as conv1_1 (3 →
    /// 64) and its backward-data (64 → 3). There vectors of CONV_COB output channels leave most
    /// lanes idle, or the forward's 27 taps cost less than conv3x3's transposing epilogue
    /// (benchmarks/README.md, "Measurements moved out of comments").
    static func usesNarrow(outputs: Int, inputs: Int, options: ProgramOptions) -> Bool {
        switch options.convNarrow {
        case 0: return false
        case 1: return min(outputs, inputs) <= narrowOutputBlock
        default: return true
        }
    }

    /// Floats of the direct layout of one direction (see the type's comment).
    static func directLayoutFloats(outputs: Int, inputs: Int, stride: Int, options: ProgramOptions) -> Int {
        if usesNarrow(outputs: outputs, inputs: inputs, options: options) {
            let block = narrowOutputBlock
            return (outputs + block - 1) / block * block * inputs * 9
        }
        return 9 * inputs * stride
    }

    /// Floats of all the layouts of a layer (`OpenCLBackend.convWeightBytes`).
    static func layoutFloats(outputChannels: Int, inputChannels: Int, options: ProgramOptions) -> Int {
        let block = options.channelBlock
        let padded = { (channels: Int) in (channels + block - 1) / block * block }
        if usesWinograd(outputChannels: outputChannels, inputChannels: inputChannels, options: options) {
            return outputChannels * inputChannels * 9 + padded(outputChannels)
        }
        return directLayoutFloats(
            outputs: outputChannels, inputs: inputChannels, stride: padded(outputChannels),
            options: options)
            + directLayoutFloats(
                outputs: inputChannels, inputs: outputChannels, stride: padded(inputChannels),
                options: options)
            + padded(outputChannels)
    }

    /// `w` (outputs × inputs × 3×3) in the direct layout of its direction; see the type's comment.
    static func directLayout(_ w: [Float], outputs: Int, inputs: Int, stride: Int, options: ProgramOptions) -> [Float] {
        var result = [Float](
            repeating: 0,
            count: directLayoutFloats(
                outputs: outputs, inputs: inputs, stride: stride,
                options: options))
        let narrow = usesNarrow(outputs: outputs, inputs: inputs, options: options)
        let (block, blocked) = (options.convOutputBlock, options.convBlockedWeights)
        for o in 0..<outputs {
            for row in 0..<(inputs * 9) {
                let index: Int
                if narrow {
                    index = ((o / narrowOutputBlock) * inputs * 9 + row) * narrowOutputBlock + o % narrowOutputBlock
                } else {
                    index = blocked ? ((o / block) * inputs * 9 + row) * block + o % block : row * stride + o
                }
                result[index] = w[o * inputs * 9 + row]
            }
        }
        return result
    }
}

extension OpenCLBackend {
    // MARK: Convolution

    public func makeConvWeights(
        weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int
    ) throws -> ConvWeights {
        guard outputChannels > 0, inputChannels > 0, weights.count == outputChannels * inputChannels * 9,
            bias.count == outputChannels
        else {
            throw StyleError(
                "opencl makeConvWeights: \(weights.count) weights and \(bias.count) biases do not make a "
                    + "\(outputChannels)×\(inputChannels)×3×3 layer (internal error)")
        }
        return try OpenCLConvWeights(
            weights: weights, bias: bias, outputChannels: outputChannels,
            inputChannels: inputChannels, options: options, context: context)
    }

    public func computeConv3x3(
        input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor, pool: ConvPooling?
    )
        throws
    {
        let layer = try openCLWeights(weights, "conv3x3")
        // The Winograd output kernels pool what they store, in the output's storage; an average of
        // 16-bit values is pool2x2's only from the rounded values, so that one pools after.
        let fused = pool.flatMap { pool in
            layer.winograd && pool.output.format == output.format && !(pool.mode == .avg && output.format == .half)
                ? pool : nil
        }
        try enqueueConvolution(
            input: input, layer: layer, direction: .forward, bias: layer.bias, relu: relu,
            mask: nil, accumulate: false, output: output, pool: fused, op: "conv3x3")
        if let pool, fused == nil { try computePool2x2(input: output, mode: pool.mode, output: pool.output) }
    }

    public func computeConv3x3BackwardData(
        gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        let op = "conv3x3BackwardData"
        let layer = try openCLWeights(weights, op)
        try enqueueConvolution(
            input: gradOutput, layer: layer, direction: .backwardData, bias: nil, relu: false,
            mask: reluMaskFrom, accumulate: accumulate, output: gradInput, pool: nil, op: op)
    }

    public func backwardDataRunsInPlace(outputChannels: Int, inputChannels: Int) -> Bool {
        OpenCLConvWeights.usesWinograd(outputChannels: outputChannels, inputChannels: inputChannels, options: options)
    }

    public func winogradTile(outputChannels: Int, inputChannels: Int, height: Int, width: Int) -> Int? {
        OpenCLConvWeights.usesWinograd(outputChannels: outputChannels, inputChannels: inputChannels, options: options)
            ? options.winogradTile(height: height, width: width) : nil
    }

    /// The launches of one convolution: forward and backward-data differ only in the arguments.
    private func enqueueConvolution(
        input: Tensor, layer: OpenCLConvWeights, direction: WinogradWeights.Direction,
        bias: CLBuffer?, relu: Bool, mask: Tensor?, accumulate: Bool, output: Tensor, pool: ConvPooling?,
        op: String
    ) throws {
        let epilogue = ConvEpilogue(
            bias: bias, relu: relu, mask: try mask.map { try buffer($0, op) },
            accumulate: accumulate)
        let forward = direction == .forward
        let outputChannels = forward ? layer.outputChannels : layer.inputChannels
        let weightStride = forward ? layer.outputStride : layer.inputStride
        let (source, target) = (try activationBuffer(input, op), try activationBuffer(output, op))
        let (reads, writes) = (input.format, output.format)
        if layer.winograd {
            return try enqueueWinograd(
                input: source, shape: input.shape,
                weights: WinogradWeights(layer: layer, direction: direction),
                outputChannels: outputChannels, outputStride: weightStride, epilogue: epilogue,
                output: target, pooled: try pool.map { (try activationBuffer($0.output, op), $0.mode) },
                reads: reads, writes: writes)
        }
        guard let weights = forward ? layer.forward : layer.backward else {
            throw StyleError("opencl \(op): the layer has no direct backward-data layout (internal error)")
        }
        let (h, w) = (input.shape.h, input.shape.w)
        if forward ? layer.forwardNarrow : layer.backwardNarrow {
            let strip = outputChannels <= OpenCLConvWeights.narrowOutputBlock ? options.narrowStrip : 0
            let (pixels, rows) = (options.narrowPixelBlock * max(strip, 1), 2)
            return try context.enqueue(
                try kernel(strip > 0 ? "conv3x3_narrow_strip" : "conv3x3_narrow", reads: reads, writes: writes),
                global: [(w + pixels - 1) / pixels, (h + rows - 1) / rows],
                local: workGroup(options.narrowWorkGroupWidth, dimensions: 2),
                [.buffer(source), .int(input.shape.c), .int(h), .int(w), .buffer(weights), .int(outputChannels)]
                    + epilogue.arguments(unused: unusedBuffer) + [.buffer(target)])
        }
        let pixelBlock = options.convPixelBlock
        var global = [(w + pixelBlock - 1) / pixelBlock, h, weightStride / options.convOutputBlock]
        if options.convChannelsFirst { global.swapAt(0, 2) }
        try context.enqueue(
            try kernel("conv3x3", reads: reads, writes: writes), global: global,
            local: workGroup(options.convWorkGroupWidth, dimensions: 3),
            [
                .buffer(source), .int(input.shape.c), .int(h), .int(w), .buffer(weights),
                .int(outputChannels), .int(weightStride),
            ]
                + epilogue.arguments(unused: unusedBuffer) + [.buffer(target)])
    }

    private func openCLWeights(_ weights: ConvWeights, _ op: String) throws -> OpenCLConvWeights {
        guard let layer = weights as? OpenCLConvWeights else {
            throw StyleError("opencl \(op): the weights were made by another backend (internal error)")
        }
        return layer
    }

}
