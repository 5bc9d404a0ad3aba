/// A 3×3 conv layer on an OpenCL device, in the two layouts the `conv3x3` kernel reads:
/// forward `[I·9][outputStride]` and backward-data (transposed, flipped) `[O·9][inputStride]`,
/// strides rounded up to the kernel's output-channel block and zero padded, plus the bias
/// padded the same way. With `blocked` (CONV_BLOCKED_WEIGHTS) each block of `block` channels is
/// stored whole before the next: `[stride / block][rows][block]`.
public final class OpenCLConvWeights: ConvWeights {
    public let outputChannels: Int
    public let inputChannels: Int
    let forward: CLBuffer
    let backward: CLBuffer
    let bias: CLBuffer
    let outputStride: Int
    let inputStride: Int

    public var byteCount: Int { forward.byteCount + backward.byteCount + bias.byteCount }

    init(weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int, block: Int, blocked: Bool,
         context: CLContext) throws {
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        outputStride = (outputChannels + block - 1) / block * block
        inputStride = (inputChannels + block - 1) / block * block
        var forwardLayout = [Float](repeating: 0, count: inputChannels * 9 * outputStride)
        var backwardLayout = [Float](repeating: 0, count: outputChannels * 9 * inputStride)
        // The index of (row, channel) in a layout of `rows` rows of `stride` channels.
        func index(row: Int, channel: Int, rows: Int, stride: Int) -> Int {
            blocked ? ((channel / block) * rows + row) * block + channel % block : row * stride + channel
        }
        for o in 0..<outputChannels {
            for i in 0..<inputChannels {
                for k in 0..<9 {
                    let w = weights[(o * inputChannels + i) * 9 + k]
                    forwardLayout[index(row: i * 9 + k, channel: o, rows: inputChannels * 9, stride: outputStride)] = w
                    // W'[i][o][ky][kx] = W[o][i][2−ky][2−kx]: tap k of W is tap 8 − k of W'.
                    backwardLayout[index(row: o * 9 + (8 - k), channel: i, rows: outputChannels * 9,
                                         stride: inputStride)] = w
                }
            }
        }
        forward = try context.makeBuffer(floats: forwardLayout.count)
        backward = try context.makeBuffer(floats: backwardLayout.count)
        self.bias = try context.makeBuffer(floats: outputStride)
        try context.write(forwardLayout, to: forward)
        try context.write(backwardLayout, to: backward)
        try context.write(bias, to: self.bias)
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
                                     inputChannels: inputChannels, block: options.convOutputBlock,
                                     blocked: options.convBlockedWeights, context: context)
    }

    public func conv3x3(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor) throws {
        let layer = try openCLWeights(weights, "conv3x3")
        try requireShape(input, Shape(c: layer.inputChannels, h: input.shape.h, w: input.shape.w), "conv3x3", "input")
        try requireShape(output, Shape(c: layer.outputChannels, h: input.shape.h, w: input.shape.w), "conv3x3", "output")
        try requireDistinct(input, output, "conv3x3")
        try enqueueConvolution(input: input, weights: layer.forward, outputChannels: layer.outputChannels,
                               weightStride: layer.outputStride, bias: layer.bias, relu: relu, mask: nil,
                               accumulate: false, output: output, op: "conv3x3")
    }

    public func conv3x3BackwardData(gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
                                    accumulate: Bool) throws {
        let op = "conv3x3BackwardData"
        let layer = try openCLWeights(weights, op)
        let (h, w) = (gradOutput.shape.h, gradOutput.shape.w)
        try requireShape(gradOutput, Shape(c: layer.outputChannels, h: h, w: w), op, "gradOutput")
        try requireShape(gradInput, Shape(c: layer.inputChannels, h: h, w: w), op, "gradInput")
        try requireDistinct(gradOutput, gradInput, op)
        if let mask = reluMaskFrom { try requireShape(mask, gradInput.shape, op, "reluMaskFrom") }
        try enqueueConvolution(input: gradOutput, weights: layer.backward, outputChannels: layer.inputChannels,
                               weightStride: layer.inputStride, bias: nil, relu: false, mask: reluMaskFrom,
                               accumulate: accumulate, output: gradInput, op: op)
    }

    /// One launch of the `conv3x3` kernel: forward and backward-data differ only in the arguments.
    private func enqueueConvolution(input: Tensor, weights: CLBuffer, outputChannels: Int, weightStride: Int,
                                    bias: CLBuffer?, relu: Bool, mask: Tensor?, accumulate: Bool, output: Tensor,
                                    op: String) throws {
        let (h, w) = (input.shape.h, input.shape.w)
        let pixelBlock = options.convPixelBlock
        var global = [(w + pixelBlock - 1) / pixelBlock, h, weightStride / options.convOutputBlock]
        if options.convChannelsFirst { global.swapAt(0, 2) }
        try context.enqueue(try context.kernel("conv3x3"), global: global,
                            local: workGroup(options.convWorkGroupWidth, dimensions: 3),
                            [.buffer(try buffer(input, op)), .int(input.shape.c), .int(h), .int(w),
                             .buffer(weights), .int(outputChannels), .int(weightStride),
                             .buffer(bias ?? unusedBuffer), .flag(bias != nil), .flag(relu),
                             .buffer(try mask.map { try buffer($0, op) } ?? unusedBuffer), .flag(mask != nil),
                             .flag(accumulate), .buffer(try buffer(output, op))])
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
