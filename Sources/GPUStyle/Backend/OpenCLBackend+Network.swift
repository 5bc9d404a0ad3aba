/// A 3×3 conv layer on an OpenCL device, in the layouts its algorithm reads:
/// - direct (`conv3x3` kernel): forward `[I·9][outputStride]` and backward-data (the transposed,
///   flipped weights W'[i][o][ky][kx] = W[o][i][2−ky][2−kx]) `[O·9][inputStride]`, or with
///   `blocked` (CONV_BLOCKED_WEIGHTS) each block of `block` channels whole before the next,
///   `[stride / block][rows][block]`;
/// - Winograd (`winograd_multiply`): the forward transforms U = G g Gᵀ,
///   `[16][outputStride / block][inputStride][block]`, and those of the flipped weights laid out
///   the same way for backward-data, unless WINO_SHARED: then backward-data reads the forward
///   transforms permuted and transposed (see the kernel), less memory for somewhat slower reads.
/// Strides are the channel counts rounded up to the kernel's channel block, zero padded; the bias
/// is padded the same way.
public final class OpenCLConvWeights: ConvWeights {
    public let outputChannels: Int
    public let inputChannels: Int
    let winograd: Bool
    let forward: CLBuffer
    /// The backward-data layout; nil with WINO_SHARED, when backward-data reads `forward`.
    let backward: CLBuffer?
    let bias: CLBuffer
    let outputStride: Int
    let inputStride: Int

    public var byteCount: Int { forward.byteCount + (backward?.byteCount ?? 0) + bias.byteCount }

    init(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int, options: ProgramOptions,
         context: CLContext) throws {
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        let block = options.convOutputBlock
        let winograd = OpenCLConvWeights.usesWinograd(outputChannels: outputChannels, inputChannels: inputChannels,
                                                      options: options)
        self.winograd = winograd
        outputStride = (outputChannels + block - 1) / block * block
        inputStride = (inputChannels + block - 1) / block * block
        let forwardLayout: [Float], backwardLayout: [Float]?
        if winograd {
            var transforms = [Float](repeating: 0, count: 16 * outputChannels * inputChannels)
            transforms.withUnsafeMutableBufferPointer { u in
                guard let u = u.baseAddress else { return }
                Winograd.transformWeights(weights, outputChannels: outputChannels, inputChannels: inputChannels, into: u)
            }
            forwardLayout = OpenCLConvWeights.winogradLayout(transforms, outputs: outputChannels, inputs: inputChannels,
                                                            stride: outputStride, rows: inputStride, block: block)
            backwardLayout = options.winogradSharedLayout ? nil
                : OpenCLConvWeights.winogradLayout(Winograd.flippedTransforms(transforms, outputChannels: outputChannels,
                                                                              inputChannels: inputChannels),
                                                   outputs: inputChannels, inputs: outputChannels, stride: inputStride,
                                                   rows: outputStride, block: block)
        } else {
            let flipped = ConvKernelLayouts.flippedTransposed(weights, outputChannels: outputChannels,
                                                              inputChannels: inputChannels)
            forwardLayout = OpenCLConvWeights.directLayout(weights, outputs: outputChannels, inputs: inputChannels,
                                                          stride: outputStride, block: block,
                                                          blocked: options.convBlockedWeights)
            backwardLayout = OpenCLConvWeights.directLayout(flipped, outputs: inputChannels, inputs: outputChannels,
                                                           stride: inputStride, block: block,
                                                           blocked: options.convBlockedWeights)
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
        try context.write(bias, to: self.bias)
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

    /// Floats of the direct kernel's layout of one direction.
    static func directLayoutFloats(outputChannels: Int, inputChannels: Int, stride: Int) -> Int {
        9 * inputChannels * stride
    }

    /// Floats of all the layouts of a layer (`OpenCLBackend.convWeightBytes`).
    static func layoutFloats(outputChannels: Int, inputChannels: Int, options: ProgramOptions) -> Int {
        let block = options.convOutputBlock
        let padded = { (channels: Int) in (channels + block - 1) / block * block }
        if usesWinograd(outputChannels: outputChannels, inputChannels: inputChannels, options: options) {
            let copies = options.winogradSharedLayout ? 1 : 2
            return copies * 16 * padded(outputChannels) * padded(inputChannels) + padded(outputChannels)
        }
        return directLayoutFloats(outputChannels: outputChannels, inputChannels: inputChannels,
                                  stride: padded(outputChannels))
            + directLayoutFloats(outputChannels: inputChannels, inputChannels: outputChannels,
                                 stride: padded(inputChannels))
            + padded(outputChannels)
    }

    /// `w` (outputs × inputs × 3×3) in the direct kernel's layout; see the type's comment.
    static func directLayout(_ w: [Float], outputs: Int, inputs: Int, stride: Int, block: Int, blocked: Bool) -> [Float] {
        var result = [Float](repeating: 0, count: directLayoutFloats(outputChannels: outputs, inputChannels: inputs,
                                                                     stride: stride))
        for o in 0..<outputs {
            for row in 0..<(inputs * 9) {
                let index = blocked ? ((o / block) * inputs * 9 + row) * block + o % block : row * stride + o
                result[index] = w[o * inputs * 9 + row]
            }
        }
        return result
    }

    /// The Winograd multiply's layout [16][stride / block][rows][block] of the transforms `u`
    /// ([16][outputs][inputs]), zero past the real channels.
    static func winogradLayout(_ u: [Float], outputs: Int, inputs: Int, stride: Int, rows: Int, block: Int) -> [Float] {
        var result = [Float](repeating: 0, count: 16 * stride * rows)
        let pairs = outputs * inputs
        for xi in 0..<16 {
            for o in 0..<outputs {
                let target = (xi * (stride / block) + o / block) * rows * block + o % block
                let source = xi * pairs + o * inputs
                for i in 0..<inputs { result[target + i * block] = u[source + i] }
            }
        }
        return result
    }
}

extension OpenCLBackend {
    // MARK: Convolution

    public func makeConvWeights(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int) throws -> ConvWeights {
        guard outputChannels > 0, inputChannels > 0, weights.count == outputChannels * inputChannels * 9,
              bias.count == outputChannels else {
            throw StyleError("opencl makeConvWeights: \(weights.count) weights and \(bias.count) biases do not make a "
                + "\(outputChannels)×\(inputChannels)×3×3 layer (internal error)")
        }
        return try OpenCLConvWeights(weights: weights, bias: bias, outputChannels: outputChannels,
                                     inputChannels: inputChannels, options: options, context: context)
    }

    public func conv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor) throws {
        let layer = try openCLWeights(weights, "conv3x3")
        try requireConvShapes(input: input, output: output, layer: layer)
        try enqueueConvolution(input: input, weights: layer.forward, winograd: layer.winograd,
                               winogradRows: layer.inputStride, transposed: false,
                               outputChannels: layer.outputChannels, weightStride: layer.outputStride, bias: layer.bias,
                               relu: relu, mask: nil, accumulate: false, output: output, op: "conv3x3")
    }

    public func conv3x3BackwardData(gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
                                    accumulate: Bool) throws {
        let op = "conv3x3BackwardData"
        let layer = try openCLWeights(weights, op)
        try requireConvBackwardShapes(gradOutput: gradOutput, gradInput: gradInput, reluMaskFrom: reluMaskFrom,
                                      layer: layer)
        try enqueueConvolution(input: gradOutput, weights: layer.backward ?? layer.forward, winograd: layer.winograd,
                               winogradRows: layer.backward == nil ? layer.inputStride : layer.outputStride,
                               transposed: layer.backward == nil,
                               outputChannels: layer.inputChannels, weightStride: layer.inputStride, bias: nil,
                               relu: false, mask: reluMaskFrom, accumulate: accumulate, output: gradInput, op: op)
    }

    /// The launches of one convolution: forward and backward-data differ only in the arguments.
    private func enqueueConvolution(input: Tensor, weights: CLBuffer, winograd: Bool, winogradRows: Int,
                                    transposed: Bool, outputChannels: Int, weightStride: Int, bias: CLBuffer?, relu: Bool, mask: Tensor?, accumulate: Bool,
                                    output: Tensor, op: String) throws {
        let epilogue = ConvEpilogue(bias: bias, relu: relu, mask: try mask.map { try buffer($0, op) },
                                    accumulate: accumulate)
        if winograd {
            return try enqueueWinograd(input: try buffer(input, op), shape: input.shape,
                                       weights: WinogradWeights(buffer: weights, rows: winogradRows, transposed: transposed),
                                       outputChannels: outputChannels, outputStride: weightStride, epilogue: epilogue,
                                       output: try buffer(output, op))
        }
        let (h, w) = (input.shape.h, input.shape.w)
        let pixelBlock = options.convPixelBlock
        var global = [(w + pixelBlock - 1) / pixelBlock, h, weightStride / options.convOutputBlock]
        if options.convChannelsFirst { global.swapAt(0, 2) }
        try context.enqueue(try context.kernel("conv3x3"), global: global,
                            local: workGroup(options.convWorkGroupWidth, dimensions: 3),
                            [.buffer(try buffer(input, op)), .int(input.shape.c), .int(h), .int(w), .buffer(weights),
                             .int(outputChannels), .int(weightStride)]
                                + epilogue.arguments(unused: unusedBuffer) + [.buffer(try buffer(output, op))])
    }

    private func openCLWeights(_ weights: ConvWeights, _ op: String) throws -> OpenCLConvWeights {
        guard let layer = weights as? OpenCLConvWeights else {
            throw StyleError("opencl \(op): the weights were made by another backend (internal error)")
        }
        return layer
    }

    // MARK: Pooling

    public func pool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws {
        let (c, h, w) = (input.shape.c, input.shape.h, input.shape.w)
        try requireShape(output, Shape(c: c, h: h / 2, w: w / 2), "pool2x2", "output")
        try elementwise("pool2x2_forward", output.count,
                        [.buffer(try buffer(input, "pool2x2")), .int(h), .int(w), .flag(mode == .max),
                         .buffer(try buffer(output, "pool2x2")), .int(output.count)])
    }

    public func pool2x2Backward(gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor,
                                accumulate: Bool) throws {
        let op = "pool2x2Backward"
        let (c, h, w) = (input.shape.c, input.shape.h, input.shape.w)
        try requireShape(gradOutput, Shape(c: c, h: h / 2, w: w / 2), op, "gradOutput")
        try requireShape(gradInput, input.shape, op, "gradInput")
        try requireDistinct(input, gradInput, op)
        try elementwise("pool2x2_backward", input.count,
                        [.buffer(try buffer(gradOutput, op)), .buffer(try buffer(input, op)), .int(h), .int(w),
                         .flag(mode == .max), .buffer(try buffer(gradInput, op)), .flag(accumulate), .int(input.count)])
    }
}
