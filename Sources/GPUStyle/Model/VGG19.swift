/// The VGG19 feature layers (docs/DESIGN.md): 16 3×3 convolutions, each followed by a ReLU,
/// and a 2×2 pooling layer closing each of the 5 blocks.
public enum VGG19 {
    public enum Kind: Equatable, Sendable {
        case conv(inputChannels: Int, outputChannels: Int)
        case relu
        case pool
    }

    public struct Layer: Equatable, Sendable {
        /// "conv1_1", "relu1_1", …, "pool5".
        public let name: String
        public let kind: Kind
        /// 1…5
        public let block: Int
        /// Channels of this layer's output.
        public let channels: Int
    }

    /// Convolutions per block and their output channels.
    static let blocks: [(convs: Int, channels: Int)] = [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]

    /// Every layer in forward order.
    public static let layers: [Layer] = {
        var layers: [Layer] = []
        var inputChannels = 3
        for (blockIndex, block) in blocks.enumerated() {
            let b = blockIndex + 1
            for k in 1...block.convs {
                layers.append(
                    Layer(
                        name: "conv\(b)_\(k)",
                        kind: .conv(inputChannels: inputChannels, outputChannels: block.channels),
                        block: b, channels: block.channels))
                layers.append(Layer(name: "relu\(b)_\(k)", kind: .relu, block: b, channels: block.channels))
                inputChannels = block.channels
            }
            layers.append(Layer(name: "pool\(b)", kind: .pool, block: b, channels: block.channels))
        }
        return layers
    }()

    /// The 16 convolution layers in order, with their shapes.
    public static let convolutions: [(name: String, inputChannels: Int, outputChannels: Int)] = layers.compactMap {
        if case let .conv(i, o) = $0.kind { return ($0.name, i, o) }
        return nil
    }

    public static var layerNames: [String] { layers.map(\.name) }

    /// Index of a layer by name, or an error listing the valid names.
    public static func index(of name: String) throws -> Int {
        guard let index = layers.firstIndex(where: { $0.name == name }) else {
            throw StyleError("unknown layer '\(name)'; valid layers: \(layerNames.joined(separator: " "))")
        }
        return index
    }
}
