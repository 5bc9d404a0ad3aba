import Foundation

/// What `stylize-gpu weights info` shows about a weights file: read from its headers (and
/// conv1_1, for the flavour), plus the file's SHA-256.
public struct WeightsInfo: Sendable {
    public struct Layer: Equatable, Sendable {
        /// The model's name for it, "conv1_1" …
        public var name: String
        /// The file's tensor holding the weights, e.g. "block1_conv1_W_q" or "features.0.weight".
        public var tensorName: String
        public var outputChannels: Int
        public var inputChannels: Int
        /// Weights plus biases.
        public var parameterCount: Int { outputChannels * inputChannels * 9 + outputChannels }
    }

    public var path: String
    public var fileSize: Int
    public var formatDescription: String
    /// Model, tensor naming, flavour and how the flavour was decided.
    public var identity: WeightsIdentity
    public var model: VGGModel { identity.model }
    public var preprocessing: Preprocessing { identity.flavour.preprocessing }
    /// Every convolution of the model, every shape checked.
    public var layers: [Layer]
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
    /// Whether the weights are stored as 256-level indices into a table per layer.
    public var isQuantised: Bool
    /// Lower-case hex.
    public var sha256: String

    /// The published file this one is byte for byte, if any.
    public var published: PublishedWeights? { sha256.isEmpty ? nil : PublishedWeights.matching(sha256: sha256) }

    /// Reads the headers of the weights file at `path`; with `checksum` (the default) also
    /// hashes the whole file, which lets a published file be known by it, else `sha256` is empty.
    public static func read(path: String, checksum: Bool = true) throws -> WeightsInfo {
        let sha256 = checksum ? try SHA256.hex(ofFileAt: path) : ""
        return try withWeightsFile(path) { archive -> WeightsInfo in
            let identity = try WeightsIdentity.identify(
                archive, sha256: sha256.isEmpty ? nil : sha256, preprocessing: nil)
            let layers = identity.model.convolutions.map { conv in
                Layer(
                    name: conv.name, tensorName: identity.naming.tensorNames(conv).weights,
                    outputChannels: conv.outputChannels, inputChannels: conv.inputChannels)
            }
            return WeightsInfo(
                path: path, fileSize: archive.file.size, formatDescription: archive.formatDescription,
                identity: identity, layers: layers,
                isQuantised: identity.naming.tensorNames(identity.model.convolutions[0]).table != nil,
                sha256: sha256)
        }
    }

    /// The text `weights info` prints, one fact per line.
    public var report: String {
        let known = published.map { " (the published \($0.fileName), \($0.source))" } ?? ""
        var lines = [
            "file:          \(path)",
            "size:          \(fileSize) bytes",
            "sha256:        \(sha256)\(known)",
            "format:        \(formatDescription)\(isQuantised ? ", weights quantised to 256 levels per layer" : "")",
            "model:         \(model.name) (\(layers.count) convolutions, \(identity.naming.rawValue) tensor names)",
            "flavour:       \(preprocessing.rawValue)",
            "preprocessing: \(preprocessing.summary)",
            "decided by:    \(identity.flavour.evidence)",
            "parameters:    \(parameterCount)",
            "layers:",
        ]
        for layer in layers {
            let name = layer.name.padding(toLength: 8, withPad: " ", startingAt: 0)
            let shape = "\(layer.outputChannels)×\(layer.inputChannels)×3×3 + \(layer.outputChannels)"
            lines.append("  \(name) \(shape.padding(toLength: 20, withPad: " ", startingAt: 0)) \(layer.tensorName)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Preprocessing {
    /// One line for people.
    public var summary: String {
        switch self {
        case .caffe: return "RGB 0–255 → BGR minus mean (103.939, 116.779, 123.68)"
        case .torch: return "RGB /255, minus mean (0.485, 0.456, 0.406), divided by std (0.229, 0.224, 0.225)"
        }
    }
}
