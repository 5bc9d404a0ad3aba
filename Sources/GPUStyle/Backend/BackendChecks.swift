/// Checks every backend makes at the top of its ops. A failure is a wiring mistake inside the
/// engine, never bad user input, but it is still an error rather than a crash.
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
            throw StyleError("\(name) \(op): input and output are the same tensor; this op cannot work in place (internal error)")
        }
    }

    func requireAffine(_ affine: ChannelAffine, _ image: Tensor, _ op: String) throws {
        guard image.shape.c == 3 else {
            throw StyleError("\(name) \(op): the image has \(image.shape.c) channels but the affine map needs 3 (internal error)")
        }
        guard affine.permutation.sorted() == [0, 1, 2] else {
            throw StyleError("\(name) \(op): channel permutation \(affine.permutation) is not a permutation of 0, 1, 2 (internal error)")
        }
    }

    /// dG is C×C for features of C channels; dF has the features' shape and aliases neither input.
    func requireGramBackwardShapes(gradGram: Tensor, features: Tensor, gradFeatures: Tensor) throws {
        let op = "gramBackward"
        let c = features.shape.c
        try requireShape(gradGram, Shape(c: 1, h: c, w: c), op, "gradGram")
        try requireShape(gradFeatures, features.shape, op, "gradFeatures")
        try requireDistinct(features, gradFeatures, op)
        try requireDistinct(gradGram, gradFeatures, op)
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
    func requireConvBackwardShapes(gradOutput: Tensor, gradInput: Tensor, reluMaskFrom: Tensor?, accumulate: Bool,
                                   layer: ConvWeights) throws {
        let op = "conv3x3BackwardData"
        let (h, w) = (gradOutput.shape.h, gradOutput.shape.w)
        try requireShape(gradOutput, Shape(c: layer.outputChannels, h: h, w: w), op, "gradOutput")
        try requireShape(gradInput, Shape(c: layer.inputChannels, h: h, w: w), op, "gradInput")
        if gradOutput.storage === gradInput.storage {
            guard !accumulate, gradInput.count <= gradOutput.count,
                  backwardDataRunsInPlace(outputChannels: layer.outputChannels, inputChannels: layer.inputChannels) else {
                throw StyleError("\(name) \(op): gradInput and gradOutput are the same tensor, but this layer cannot "
                    + "run in place (or accumulates, or has more input than output channels) (internal error)")
            }
        }
        if let mask = reluMaskFrom {
            try requireShape(mask, gradInput.shape, op, "reluMaskFrom")
            try requireDistinct(mask, gradInput, op)
        }
    }

    /// reluPool2x2BackwardInPlace: dY C×⌊H/2⌋×⌊W/2⌋ for an activation C×H×W, in another buffer.
    func requireReLUPoolBackwardShapes(gradOutput: Tensor, activation: Tensor) throws {
        let op = "reluPool2x2BackwardInPlace"
        let (c, h, w) = (activation.shape.c, activation.shape.h, activation.shape.w)
        try requireShape(gradOutput, Shape(c: c, h: h / 2, w: w / 2), op, "gradOutput")
        try requireDistinct(gradOutput, activation, op)
    }
}
