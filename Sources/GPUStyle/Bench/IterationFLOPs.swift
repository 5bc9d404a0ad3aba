/// Floating-point operations of one style-transfer iteration, counted from the model's layer
/// shapes (multiply and add count as two). Counted: every 3×3 conv forward (2·Cin·9·Cout·H·W),
/// its backward-data (the same, including conv1_1's gradient to the image), each style layer's
/// Gram matrix F·Fᵀ (2·C²·H·W) and Gram backward (dG+dGᵀ)·F (2·C²·H·W). Not counted: biases,
/// ReLU, pooling, the loss reductions, total variation and the optimiser, all elementwise and
/// together well under 1% of the total.
public struct IterationFLOPs: Codable, Equatable, Sendable {
    public var convForward: Double
    public var convBackward: Double
    public var gram: Double
    public var gramBackward: Double
    public var total: Double { convForward + convBackward + gram + gramBackward }

    /// - Parameters:
    ///   - deepestLayer: the last layer index run (forward stops there, backward starts there).
    ///   - styleLayers: indices of the style loss's layers (each gets a Gram and its backward).
    public init(model: VGGModel = .vgg19, height: Int, width: Int, deepestLayer: Int, styleLayers: Set<Int>) {
        var h = Double(height)
        var w = Double(width)
        var convForward = 0.0
        var gram = 0.0
        for (index, layer) in model.layers.prefix(deepestLayer + 1).enumerated() {
            switch layer.kind {
            case .conv(let inputChannels, let outputChannels):
                convForward += 2 * Double(inputChannels) * 9 * Double(outputChannels) * h * w
            case .pool:
                h = (h / 2).rounded(.down)
                w = (w / 2).rounded(.down)
            case .relu:
                break
            }
            if styleLayers.contains(index) {
                gram += 2 * Double(layer.channels * layer.channels) * h * w
            }
        }
        self.convForward = convForward
        convBackward = convForward
        self.gram = gram
        gramBackward = gram
    }

    /// The count for a layer selection (forward to its deepest layer).
    public init(model: VGGModel = .vgg19, height: Int, width: Int, layers: LayerSelection) throws {
        self.init(
            model: model, height: height, width: width, deepestLayer: try layers.deepestLayer(in: model),
            styleLayers: Set(try layers.style.map(model.index(of:))))
    }
}
