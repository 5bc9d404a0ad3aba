/// The ops of every backend, each checked once here and then computed by the backend: shapes,
/// aliasing and scalar slots are validated (a failure is a wiring mistake inside the engine,
/// never bad user input, but still an error rather than a crash), the arithmetic both backends
/// share is done, and the backend's `compute…` requirement runs.
///
/// Conventions: tensors are float32 CHW, batch 1; outputs are passed in and fully overwritten
/// unless `accumulate` is true, in which case the result is added to what the output holds; ops
/// are enqueued and may run asynchronously (only `download`, `readScalars` and `dot` block);
/// scalar results (losses, dot products) go into `slot` of a small scalar tensor, read only when
/// needed. Reductions are deterministic.
extension Backend {
    // MARK: Elementwise and vector ops (also L-BFGS's)

    public func fill(_ tensor: Tensor, value: Float) throws {
        try computeFill(tensor, value: value)
    }

    /// y = x
    public func copy(_ x: Tensor, to y: Tensor) throws {
        try requireSameShape(x, y, "copy")
        try computeCopy(x, to: y)
    }

    /// target[c, origin.y + i, origin.x + j] = source[c, region.y + i, region.x + j] for every
    /// channel, i < region.height, j < region.width; the rest of target is kept. A tile's image,
    /// its interior's features or gradient, a region of a content target (tiled runs).
    public func copyRegion(_ source: Tensor, _ region: PlaneRegion, to target: Tensor, at origin: PlanePoint) throws {
        let op = "copyRegion"
        guard source.shape.c == target.shape.c else {
            throw StyleError(
                "\(name) \(op): source has \(source.shape.c) channels, target \(target.shape.c) (internal error)")
        }
        let placed = PlaneRegion(y: origin.y, x: origin.x, height: region.height, width: region.width)
        for (tensor, rectangle, role) in [(source, region, "source"), (target, placed, "target")]
        where !rectangle.lies(inHeight: tensor.shape.h, width: tensor.shape.w) {
            throw StyleError(
                "\(name) \(op): \(rectangle) lies outside the \(role)'s \(tensor.shape.h)×\(tensor.shape.w) planes (internal error)"
            )
        }
        // Halves to halves or floats to floats: a copy never rounds.
        guard source.format == target.format else {
            throw StyleError("\(name) \(op): a \(source.format) source into a \(target.format) target (internal error)")
        }
        try requireDistinct(source, target, op)
        if region.isEmpty { return }
        try computeCopyRegion(source, region, to: target, at: origin)
    }

    /// y += alpha · x
    public func axpy(alpha: Float, x: Tensor, y: Tensor) throws {
        try requireSameShape(x, y, "axpy")
        try computeAxpy(alpha: alpha, x: x, y: y)
    }

    /// x *= alpha
    public func scale(_ x: Tensor, by alpha: Float) throws {
        try computeScale(x, by: alpha)
    }

    /// x = min(max(x, lower), upper), NaN kept: the projection of the image onto the valid pixel range.
    public func clamp(_ x: Tensor, lower: Float, upper: Float) throws {
        guard lower <= upper else { throw StyleError("internal error: clamp to [\(lower), \(upper)]") }
        try computeClamp(x, lower: lower, upper: upper)
    }

    /// x = Float(Float16(x)), rounded to nearest even (±inf beyond ±65504, NaN kept): an activation
    /// stored as a 16-bit float and loaded back (`ActivationStorage.half`). Bit-exact on every backend.
    public func roundToHalf(_ x: Tensor) throws {
        try computeRoundToHalf(x)
    }

    /// Σ x·y, deterministic; blocks and returns the value.
    public func dot(_ x: Tensor, _ y: Tensor) throws -> Double {
        try requireSameShape(x, y, "dot")
        return try computeDot(x, y)
    }

    // MARK: Network ops

    /// output = conv3x3(input) + bias, ReLU applied when `relu`; stride 1, zero padding 1, cross-correlation.
    /// With `pool`, also pool.output = pool2x2(output), the same numbers as that op.
    public func conv3x3(
        input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor, pool: ConvPooling? = nil
    )
        throws
    {
        try requireConvShapes(input: input, output: output, layer: weights)
        if let pool {
            try requireShape(pool.output, output.shape.pooled, "conv3x3", "pooled output")
            try requireDistinct(output, pool.output, "conv3x3")
            try requireDistinct(input, pool.output, "conv3x3")
        }
        try computeConv3x3(input: input, weights: weights, relu: relu, output: output, pool: pool)
    }

    /// gradInput (+)= conv3x3ᵀ(gradOutput): the gradient of conv3x3 with respect to its input.
    /// When `reluMaskFrom` is given (the ReLU output of the layer that produced this conv's
    /// input), the result is multiplied by its mask (activation > 0): ReLU backward fused in.
    public func conv3x3BackwardData(
        gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        try requireConvBackwardShapes(
            gradOutput: gradOutput, gradInput: gradInput, reluMaskFrom: reluMaskFrom,
            accumulate: accumulate, layer: weights)
        try computeConv3x3BackwardData(
            gradOutput: gradOutput, weights: weights, reluMaskFrom: reluMaskFrom,
            gradInput: gradInput, accumulate: accumulate)
    }

    /// output = max(input, 0)
    public func relu(input: Tensor, output: Tensor) throws {
        try requireSameShape(input, output, "relu")
        try computeRelu(input: input, output: output)
    }

    /// gradInput = activation > 0 ? gradOutput : 0, where activation is the ReLU's output. In place allowed.
    public func reluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        try requireSameShape(gradOutput, activation, "reluBackward")
        try requireSameShape(gradOutput, gradInput, "reluBackward")
        try computeReluBackward(gradOutput: gradOutput, activation: activation, gradInput: gradInput)
    }

    /// What the backward pass reads of a ReLU's output `activation` (values ≥ 0), in two bits an
    /// element, `Shape.reluCodes(of:)` floats (ten of a row in each): 0 where it is 0, 1 where it
    /// is positive, 2 where it is positive and, when `maxPooled`, the maximum of its 2×2 pooling
    /// window. A tiled evaluation keeps these between its passes instead of the output
    /// (docs/DESIGN.md, "Tiled evaluation").
    public func encodeReluCodes(_ activation: Tensor, maxPooled: Bool, codes: Tensor) throws {
        try requireShape(codes, .reluCodes(of: activation.shape), "encodeReluCodes", "codes")
        try requireDistinct(activation, codes, "encodeReluCodes")
        guard codes.format == .float else {
            throw StyleError("\(name) encodeReluCodes: 16-bit codes (internal error)")
        }
        try computeEncodeReluCodes(activation, maxPooled: maxPooled, codes: codes)
    }

    /// output = each element's code (0, 1 or 2) from `encodeReluCodes`: for reluBackward,
    /// pool2x2Backward and reluPool2x2Backward the same masks and max-pooling winners as the
    /// activation it was encoded from (its first maximum is where the first 2 is).
    public func decodeReluCodes(_ codes: Tensor, output: Tensor) throws {
        try requireShape(codes, .reluCodes(of: output.shape), "decodeReluCodes", "codes")
        try requireDistinct(codes, output, "decodeReluCodes")
        guard codes.format == .float else {
            throw StyleError("\(name) decodeReluCodes: 16-bit codes (internal error)")
        }
        try computeDecodeReluCodes(codes, output: output)
    }

    /// 2×2 stride 2 pooling; odd sizes floor.
    public func pool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws {
        try requireShape(output, input.shape.pooled, "pool2x2", "output")
        try computePool2x2(input: input, mode: mode, output: output)
    }

    /// gradInput (+)= pool backward. Max routes to the first maximum in row-major order.
    public func pool2x2Backward(
        gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        let op = "pool2x2Backward"
        try requireShape(gradOutput, input.shape.pooled, op, "gradOutput")
        try requireShape(gradInput, input.shape, op, "gradInput")
        try requireDistinct(input, gradInput, op)
        try computePool2x2Backward(
            gradOutput: gradOutput, input: input, mode: mode, gradInput: gradInput,
            accumulate: accumulate)
    }

    /// The backward pass of a ReLU followed by 2×2 pooling: `gradInput`, the gradient with respect
    /// to the ReLU's input, is `pool2x2Backward` times the mask (activation > 0), bit for bit, from
    /// `activation` (the ReLU's output, the pooling layer's input). `gradInput` may be `activation`'s
    /// own storage (in place: each 2×2 window is read before it is written, so no second buffer of
    /// the activation's size is needed).
    public func reluPool2x2Backward(gradOutput: Tensor, activation: Tensor, mode: PoolMode, gradInput: Tensor) throws {
        let op = "reluPool2x2Backward"
        try requireShape(gradOutput, activation.shape.pooled, op, "gradOutput")
        try requireShape(gradInput, activation.shape, op, "gradInput")
        try requireDistinct(gradOutput, activation, op)
        try requireDistinct(gradOutput, gradInput, op)
        try computeReluPool2x2Backward(
            gradOutput: gradOutput, activation: activation, mode: mode, gradInput: gradInput)
    }

    // MARK: Gram and losses

    /// gram (C×C, shape c=1,h=C,w=C) = F Fᵀ / N with F the C×M features and N = C·M.
    public func gram(features: Tensor, output: Tensor) throws {
        let c = features.shape.c
        try requireShape(output, Shape(c: 1, h: c, w: c), "gram", "output")
        try computeGram(features: features, output: output)
    }

    /// gradFeatures (+)= (dG + dGᵀ) F / N. With `reluMasked` the sum is then zeroed where F ≤ 0: the
    /// backward of the ReLU whose output F is, fused (bit for bit `reluBackward` after it).
    public func gramBackward(
        gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool, reluMasked: Bool = false
    ) throws {
        let op = "gramBackward"
        let c = features.shape.c
        try requireShape(gradGram, Shape(c: 1, h: c, w: c), op, "gradGram")
        try requireShape(gradFeatures, features.shape, op, "gradFeatures")
        try requireDistinct(features, gradFeatures, op)
        try requireDistinct(gradGram, gradFeatures, op)
        try computeGramBackward(
            gradGram: gradGram, features: features, gradFeatures: gradFeatures, accumulate: accumulate,
            reluMasked: reluMasked)
    }

    /// scalars[slot] (+)= scale · mean((a − b)²)
    public func meanSquaredError(
        _ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int,
        accumulate: Bool
    ) throws {
        try requireSameShape(a, b, "meanSquaredError")
        try requireSlot(scalars, slot, "meanSquaredError")
        try computeMeanSquaredError(a, b, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
    }

    /// grad (+)= scale · 2(a − b)/N, the gradient of scale · mean((a − b)²) with respect to a.
    public func meanSquaredErrorGradient(_ a: Tensor, _ b: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws
    {
        try requireSameShape(a, b, "meanSquaredErrorGradient")
        try requireSameShape(a, grad, "meanSquaredErrorGradient")
        let factor = Float(2 * Double(scale) / Double(max(a.count, 1)))
        try computeMeanSquaredErrorGradient(a, b, factor: factor, grad: grad, accumulate: accumulate)
    }

    /// scalars[slot] (+)= scale · L_tv(x) with L_tv as in docs/DESIGN.md.
    public func totalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        try requireSlot(scalars, slot, "totalVariation")
        try computeTotalVariation(x, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
    }

    /// grad (+)= scale · ∂L_tv/∂x
    public func totalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        try requireSameShape(x, grad, "totalVariationGradient")
        try requireDistinct(x, grad, "totalVariationGradient")
        try computeTotalVariationGradient(x, scale: scale, grad: grad, accumulate: accumulate)
    }

    // MARK: Image pre/post-processing

    /// output = affine(image): the network's first, differentiable op.
    public func preprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws {
        try requireSameShape(image, output, "preprocess")
        try requireDistinct(image, output, "preprocess")
        try requireAffine(affine, image, "preprocess")
        try computePreprocess(image: image, affine: affine, output: output)
    }

    /// gradImage (+)= affineᵀ(gradOutput)
    public func preprocessBackward(
        gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor, accumulate: Bool
    ) throws {
        try requireSameShape(gradOutput, gradImage, "preprocessBackward")
        try requireDistinct(gradOutput, gradImage, "preprocessBackward")
        try requireAffine(affine, gradImage, "preprocessBackward")
        try computePreprocessBackward(
            gradOutput: gradOutput, affine: affine, gradImage: gradImage, accumulate: accumulate)
    }

    /// output = round(clamp(image, 0, 255)) for writing.
    public func clampRound(image: Tensor, output: Tensor) throws {
        try requireSameShape(image, output, "clampRound")
        try computeClampRound(image: image, output: output)
    }

    /// output (+)= x ⊙ mask, the 1×H×W mask broadcast over x's C channels: the style masks'
    /// weighting of a layer's features. Linear and diagonal in x, so it is its own gradient:
    /// dx (+)= dy ⊙ mask. Not in place (output is neither x nor the mask).
    public func multiplyByMask(_ x: Tensor, mask: Tensor, output: Tensor, accumulate: Bool) throws {
        try requireShape(mask, Shape(c: 1, h: x.shape.h, w: x.shape.w), "multiplyByMask", "mask")
        try requireSameShape(x, output, "multiplyByMask")
        try requireDistinct(x, output, "multiplyByMask")
        try requireDistinct(mask, output, "multiplyByMask")
        try computeMultiplyByMask(x, mask: mask, output: output, accumulate: accumulate)
    }

    // MARK: Video: optical flow, warping, the temporal loss (docs/DESIGN.md, "Optical flow")

    /// output[c, i, j] = image[c] sampled bilinearly at (i + v, j + u), (u, v) = flow[·, i, j], the
    /// position clamped into the image (border replicated): the backward warp. flow is 2×H×W.
    /// Linear in the image; its gradient is `warpBilinearBackward`.
    public func warpBilinear(_ image: Tensor, flow: Tensor, output: Tensor) throws {
        let op = "warpBilinear"
        try requireShape(flow, Shape(c: 2, h: image.shape.h, w: image.shape.w), op, "flow")
        try requireSameShape(image, output, op)
        try requireDistinct(image, output, op)
        try requireDistinct(flow, output, op)
        try computeWarpBilinear(image, flow: flow, output: output)
    }

    /// gradImage (+)= warpᵀ(gradOutput): the adjoint of `warpBilinear` for the same flow, each
    /// pixel's gradient scattered onto the four samples it read. One work-item per channel.
    public func warpBilinearBackward(gradOutput: Tensor, flow: Tensor, gradImage: Tensor, accumulate: Bool) throws {
        let op = "warpBilinearBackward"
        try requireShape(flow, Shape(c: 2, h: gradOutput.shape.h, w: gradOutput.shape.w), op, "flow")
        try requireSameShape(gradOutput, gradImage, op)
        try requireDistinct(gradOutput, gradImage, op)
        try requireDistinct(flow, gradImage, op)
        try computeWarpBilinearBackward(
            gradOutput: gradOutput, flow: flow, gradImage: gradImage, accumulate: accumulate)
    }

    /// output (3×H×W) = (I_x, I_y, I_t) of one warping step of the flow: the central differences
    /// of `reference` and `warped` (1×H×W, border replicated) averaged, and warped − reference.
    public func flowDerivatives(reference: Tensor, warped: Tensor, output: Tensor) throws {
        let op = "flowDerivatives"
        try requireShape(reference, Shape(c: 1, h: reference.shape.h, w: reference.shape.w), op, "reference")
        try requireSameShape(reference, warped, op)
        try requireShape(output, Shape(c: 3, h: reference.shape.h, w: reference.shape.w), op, "output")
        try requireDistinct(reference, output, op)
        try requireDistinct(warped, output, op)
        try computeFlowDerivatives(reference: reference, warped: warped, output: output)
    }

    /// TV-L1's primal step linearised at `base` (the flow the frame was warped by): the data
    /// term's soft thresholding of ρ = I_t + I_x(u − u₀) + I_y(v − v₀) by λθ(I_x² + I_y²), plus
    /// θ·div of each component's dual field (docs/DESIGN.md, "Optical flow"). Flows 2×H×W,
    /// derivatives 3×H×W, dual 4×H×W.
    public func tvl1PrimalStep(
        derivatives: Tensor, base: Tensor, flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor
    ) throws {
        let op = "tvl1PrimalStep"
        let (h, w) = (flow.shape.h, flow.shape.w)
        try requireShape(flow, Shape(c: 2, h: h, w: w), op, "flow")
        try requireShape(derivatives, Shape(c: 3, h: h, w: w), op, "derivatives")
        try requireShape(dual, Shape(c: 4, h: h, w: w), op, "dual")
        try requireSameShape(flow, base, op)
        try requireSameShape(flow, output, op)
        for input in [derivatives, base, flow, dual] { try requireDistinct(input, output, op) }
        try computeTVL1PrimalStep(
            derivatives: derivatives, base: base, flow: flow, dual: dual, parameters: parameters, output: output)
    }

    /// TV-L1's dual step: per flow component w, p = (p + s∇w) / (1 + s|∇w|), s = τ/θ, ∇ by
    /// forward differences (0 at the last column or row). Dual fields 4×H×W.
    public func tvl1DualStep(flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor) throws {
        let op = "tvl1DualStep"
        let (h, w) = (flow.shape.h, flow.shape.w)
        try requireShape(flow, Shape(c: 2, h: h, w: w), op, "flow")
        try requireShape(dual, Shape(c: 4, h: h, w: w), op, "dual")
        try requireSameShape(dual, output, op)
        try requireDistinct(flow, output, op)
        try requireDistinct(dual, output, op)
        try computeTVL1DualStep(flow: flow, dual: dual, parameters: parameters, output: output)
    }

    /// output[c, i, j] = the median of the 3×3 neighbourhood of (i, j) in plane c, the border
    /// replicated: the flow's outlier filter after each warp. Not in place.
    public func median3x3(_ x: Tensor, output: Tensor) throws {
        try requireSameShape(x, output, "median3x3")
        try requireDistinct(x, output, "median3x3")
        try computeMedian3x3(x, output: output)
    }

    /// output (2×H×W) = the coarse flow (2×⌊H/2⌋×⌊W/2⌋, the pooled level) sampled bilinearly
    /// at (i/2 − 1/4, j/2 − 1/4), the grid of 2×2 average pooling, and doubled.
    public func upsampleFlow(_ coarse: Tensor, output: Tensor) throws {
        let op = "upsampleFlow"
        try requireShape(coarse, Shape(c: 2, h: output.shape.h / 2, w: output.shape.w / 2), op, "coarse")
        try requireShape(output, Shape(c: 2, h: output.shape.h, w: output.shape.w), op, "output")
        guard coarse.count > 0 else {
            throw StyleError("\(name) \(op): the coarse flow is empty (internal error)")
        }
        try requireDistinct(coarse, output, op)
        try computeUpsampleFlow(coarse, output: output)
    }

    /// output (1×H×W) = 1 where `flow` (w, 2×H×W) is reliable, else 0 (Ruder et al. 2016):
    /// `backwardFlow` is the other direction's flow warped by w (`warpBilinear`), b. Unreliable:
    /// |w + b|² > 0.01(|w|² + |b|²) + 0.5 (occluded), |∇u|² + |∇v|² > 0.01|w|² + 0.002 (motion
    /// boundary), or x + w outside the image.
    public func reliabilityMask(flow: Tensor, backwardFlow: Tensor, output: Tensor) throws {
        let op = "reliabilityMask"
        try requireShape(flow, Shape(c: 2, h: flow.shape.h, w: flow.shape.w), op, "flow")
        try requireSameShape(flow, backwardFlow, op)
        try requireShape(output, Shape(c: 1, h: flow.shape.h, w: flow.shape.w), op, "output")
        try requireDistinct(flow, output, op)
        try requireDistinct(backwardFlow, output, op)
        try computeReliabilityMask(flow: flow, backwardFlow: backwardFlow, output: output)
    }

    /// scalars[slot] (+)= scale · Σ_{c,p} mask[p] · (x − warped)², the 1×H×W mask over every
    /// channel. The temporal loss is this with scale = weight / (C · Σ mask).
    public func temporalLoss(
        _ x: Tensor, warped: Tensor, mask: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool
    ) throws {
        let op = "temporalLoss"
        try requireSameShape(x, warped, op)
        try requireShape(mask, Shape(c: 1, h: x.shape.h, w: x.shape.w), op, "mask")
        try requireSlot(scalars, slot, op)
        try computeTemporalLoss(
            x, warped: warped, mask: mask, scale: scale, scalars: scalars, slot: slot, accumulate: accumulate)
    }

    /// grad (+)= 2 · scale · mask · (x − warped), the gradient of `temporalLoss` with respect to x.
    public func temporalLossGradient(
        _ x: Tensor, warped: Tensor, mask: Tensor, scale: Float, grad: Tensor, accumulate: Bool
    ) throws {
        let op = "temporalLossGradient"
        try requireSameShape(x, warped, op)
        try requireSameShape(x, grad, op)
        try requireShape(mask, Shape(c: 1, h: x.shape.h, w: x.shape.w), op, "mask")
        try requireDistinct(mask, grad, op)
        try computeTemporalLossGradient(
            x, warped: warped, mask: mask, factor: 2 * scale, grad: grad, accumulate: accumulate)
    }

    // MARK: Optimiser

    /// One bias-corrected Adam step on `parameter` (step is 1-based), state m and v resident.
    public func adamStep(
        parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, step: Int,
        parameters: AdamParameters
    ) throws {
        for tensor in [gradient, m, v] { try requireSameShape(parameter, tensor, "adamStep") }
        guard step >= 1 else { throw StyleError("\(name) adamStep: step \(step) must be 1 or more (internal error)") }
        try computeAdamStep(
            parameter: parameter, gradient: gradient, m: m, v: v, parameters: parameters,
            corrections: AdamCorrections(parameters, step: step))
    }
}

/// The checks the ops above make.
extension Backend {
    func requireShape(_ tensor: Tensor, _ shape: Shape, _ op: String, _ role: String) throws {
        guard tensor.shape == shape else {
            throw StyleError("\(name) \(op): \(role) has shape \(tensor.shape) but \(shape) is needed (internal error)")
        }
    }

    func requireSameShape(_ a: Tensor, _ b: Tensor, _ op: String) throws {
        guard a.shape == b.shape else {
            throw StyleError("\(name) \(op): tensor shapes \(a.shape) and \(b.shape) differ (internal error)")
        }
    }

    /// Ops that read neighbours or other channels of their input while writing cannot work in place.
    func requireDistinct(_ input: Tensor, _ output: Tensor, _ op: String) throws {
        guard input.storage !== output.storage else {
            throw StyleError(
                "\(name) \(op): input and output are the same tensor; this op cannot work in place (internal error)")
        }
    }

    func requireAffine(_ affine: ChannelAffine, _ image: Tensor, _ op: String) throws {
        guard image.shape.c == 3 else {
            throw StyleError(
                "\(name) \(op): the image has \(image.shape.c) channels but the affine map needs 3 (internal error)")
        }
        guard affine.permutation.sorted() == [0, 1, 2] else {
            throw StyleError(
                "\(name) \(op): channel permutation \(affine.permutation) is not a permutation of 0, 1, 2 (internal error)"
            )
        }
    }

    func requireSlot(_ scalars: Tensor, _ slot: Int, _ op: String) throws {
        guard slot >= 0 && slot < scalars.count else {
            throw StyleError(
                "\(name) \(op): scalar slot \(slot) is outside the \(scalars.count) slots (internal error)")
        }
    }

    /// conv3x3: input I×H×W, output O×H×W of `layer`, not the same tensor.
    func requireConvShapes(input: Tensor, output: Tensor, layer: ConvWeights) throws {
        let (h, w) = (input.shape.h, input.shape.w)
        try requireShape(input, Shape(c: layer.inputChannels, h: h, w: w), "conv3x3", "input")
        try requireShape(output, Shape(c: layer.outputChannels, h: h, w: w), "conv3x3", "output")
        try requireDistinct(input, output, "conv3x3")
    }

    /// conv3x3BackwardData: dY O×H×W, dX I×H×W of `layer`, not the same tensor unless the backend
    /// runs the layer in place (and then without accumulation); a ReLU mask shaped like dX.
    func requireConvBackwardShapes(
        gradOutput: Tensor, gradInput: Tensor, reluMaskFrom: Tensor?, accumulate: Bool,
        layer: ConvWeights
    ) throws {
        let op = "conv3x3BackwardData"
        let (h, w) = (gradOutput.shape.h, gradOutput.shape.w)
        try requireShape(gradOutput, Shape(c: layer.outputChannels, h: h, w: w), op, "gradOutput")
        try requireShape(gradInput, Shape(c: layer.inputChannels, h: h, w: w), op, "gradInput")
        if gradOutput.storage === gradInput.storage {
            guard !accumulate, gradInput.count <= gradOutput.count,
                backwardDataRunsInPlace(outputChannels: layer.outputChannels, inputChannels: layer.inputChannels)
            else {
                throw StyleError(
                    "\(name) \(op): gradInput and gradOutput are the same tensor, but this layer cannot "
                        + "run in place (or accumulates, or has more input than output channels) (internal error)")
            }
        }
        if let mask = reluMaskFrom {
            try requireShape(mask, gradInput.shape, op, "reluMaskFrom")
            try requireDistinct(mask, gradInput, op)
        }
    }
}
