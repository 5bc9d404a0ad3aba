/// A VGG network's feature layers as data: one table of blocks per model (docs/DESIGN.md, "The
/// models"). Each block is `convolutions` 3×3 convolutions of `channels` outputs, each followed
/// by a ReLU, and a 2×2 pooling layer; the layer list, the convolutions' shapes and torchvision's
/// `features.N` indices all follow from the table.
public struct VGGModel: Equatable, Sendable, CustomStringConvertible {
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

    public struct Block: Equatable, Sendable {
        public let convolutions: Int
        public let channels: Int
    }

    /// One convolution: its name, shape and position in `layers` (torchvision's `features` index).
    public struct Convolution: Equatable, Sendable {
        public let name: String
        public let inputChannels: Int
        public let outputChannels: Int
        public let layerIndex: Int
    }

    /// "VGG19", "VGG16".
    public let name: String
    public let blocks: [Block]
    /// Every layer in forward order.
    public let layers: [Layer]
    /// The convolution layers in order, with their shapes.
    public let convolutions: [Convolution]

    public init(name: String, blocks: [(convolutions: Int, channels: Int)]) {
        self.name = name
        self.blocks = blocks.map { Block(convolutions: $0.convolutions, channels: $0.channels) }
        var layers: [Layer] = []
        var convolutions: [Convolution] = []
        var inputChannels = 3
        for (blockIndex, block) in blocks.enumerated() {
            let b = blockIndex + 1
            for k in 1...block.convolutions {
                convolutions.append(
                    Convolution(
                        name: "conv\(b)_\(k)", inputChannels: inputChannels, outputChannels: block.channels,
                        layerIndex: layers.count))
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
        self.layers = layers
        self.convolutions = convolutions
    }

    /// Simonyan & Zisserman's configuration E: 16 convolutions, 37 layers.
    public static let vgg19 = VGGModel(name: "VGG19", blocks: [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)])
    /// Configuration D: 13 convolutions, 31 layers (no conv3_4, conv4_4, conv5_4).
    public static let vgg16 = VGGModel(name: "VGG16", blocks: [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)])
    /// The models weights files are matched against, in that order.
    public static let all = [vgg19, vgg16]

    public var description: String { name }

    public var layerNames: [String] { layers.map(\.name) }

    /// Index of a layer by name, or an error listing the valid names.
    public func index(of name: String) throws -> Int {
        guard let index = layers.firstIndex(where: { $0.name == name }) else {
            let other = Self.all.first { $0 != self && $0.layerNames.contains(name) }
            throw StyleError(
                "unknown layer '\(name)' for \(self.name) weights\(other.map { " (it is a \($0.name) layer)" } ?? ""); valid layers: \(layerNames.joined(separator: " "))"
            )
        }
        return index
    }

    /// Number of conv layers up to and including `layerIndex`: how many the weights must hold.
    public func convolutionCount(upTo layerIndex: Int) -> Int {
        convolutions.filter { $0.layerIndex <= layerIndex }.count
    }

    /// The smallest image side for which every layer up to `deepestLayer` has at least one pixel.
    public func minimumImageSide(deepestLayer: Int) -> Int {
        1 << layers[...deepestLayer].filter { $0.kind == .pool }.count
    }
}
