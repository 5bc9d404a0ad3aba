import Foundation

/// Keeps the last network a backend was given, so the jobs of a batch that use the same
/// weights, layers, pooling and preprocessing read and upload the weights once. It holds one
/// network at a time: a job that needs another frees the first before the second is uploaded,
/// so the device never holds more weights than the memory plan counts. One per backend (one
/// worker's thread); not thread-safe.
public final class VGGNetworkCache {
    private struct Key: Equatable {
        var weightsPath: String
        var deepestLayer: Int
        var pooling: PoolMode
        var preprocessing: Preprocessing?
        var storage: ActivationStorage
    }

    private var cached: (key: Key, network: VGGNetwork)?
    /// Networks built and networks reused, for notes and the report.
    public private(set) var built = 0
    public private(set) var reused = 0
    /// The style targets computed on the cached network.
    public let styleTargets = StyleTargetCache()

    public init() {}

    /// The network for a job: the cached one when it matches, else the weights read and uploaded.
    func network(
        backend: Backend, model: VGGModel, weightsPath: String, weightsSHA256: String?, deepestLayer: Int,
        options: StyleJobOptions, note: (String) -> Void
    ) throws -> VGGNetwork {
        let key = Key(
            weightsPath: weightsPath, deepestLayer: deepestLayer, pooling: options.pooling,
            preprocessing: options.preprocessing, storage: options.storage ?? .float)
        if let cached, cached.key == key, cached.network.backend === backend {
            reused += 1
            return cached.network
        }
        cached = nil
        styleTargets.removeAll()
        let weights = try VGGWeights.load(
            path: weightsPath, upTo: model.convolutionCount(upTo: deepestLayer), sha256: weightsSHA256,
            preprocessing: options.preprocessing)
        let network = try VGGNetwork(
            backend: backend, model: model, convolutions: weights.layers.map { ($0.weights, $0.bias) },
            preprocessing: weights.preprocessing.affine, deepestLayer: deepestLayer,
            pooling: options.pooling, storage: key.storage)
        note(
            "uploaded \(weights.layers.count) conv layers (\(network.uploadedWeightBytes >> 20) MiB) of the "
                + "\(model.name) weights (\(weights.preprocessing.rawValue) preprocessing) to \(backend.name)")
        cached = (key, network)
        built += 1
        return network
    }
}
