/// The style loss with spatial control (`--style-masks`, docs/DESIGN.md "Style masks"): each
/// style k has its own target Gram per layer and is compared with the Gram of the image's
/// features weighted by its mask m_k, downsampled to the layer as the pooling does (2×2 average
/// per pool):
///
///     G_k,l = (F_l ⊙ w) (F_l ⊙ w)ᵀ / (C·M),   w = √(m_k,l · M / Σ m_k,l)
///
/// that is Σ_p m_p f_p f_pᵀ / (C · Σ m): the mask-weighted mean of the pixels' outer products,
/// normalised by the mask's area instead of the pixel count. A white mask gives w = 1 exactly,
/// so its term is the unmasked one bit for bit. A style whose mask has no area at a layer has no
/// term there.
final class MaskedStyleLoss {
    /// One style's term at one layer: its target Gram, the weights w (1×h×w) and the loss scale.
    private struct Term {
        let target: Tensor
        let weights: Tensor
        let scale: Float
    }

    /// Per style layer: its terms, the image's Gram and its gradient (shared by the terms).
    private struct Layer {
        var terms: [Term]
        let gram: Tensor
        let gramGradient: Tensor
    }

    private let backend: Backend
    private var layers: [Int: Layer] = [:]
    /// Per style the target Gram of each layer where its mask has area (filled by `setTargets`).
    private let targets: [[Int: Tensor]]
    /// The weighted features and their gradient at the largest style layer; each layer views a prefix.
    private let weighted: Tensor
    private let weightedGradient: Tensor

    /// - Parameters:
    ///   - masks: per style its mask at the image's size (1×H×W, values in [0, 1]).
    ///   - scales: the loss scale of each style layer (w_s times the layer's weight).
    init(network: VGGNetwork, height: Int, width: Int, masks: [Tensor], scales: [Int: Float]) throws {
        backend = network.backend
        let shapes = network.shapes(height: height, width: width)
        var targets: [[Int: Tensor]] = []
        for mask in masks {
            let weights = try MaskedStyleLoss.layerWeights(
                backend: backend, layers: network.layers, mask: mask, at: Set(scales.keys))
            var styleTargets: [Int: Tensor] = [:]
            for (index, weight) in weights {
                let channels = shapes[index].c
                let target = try backend.makeTensor(Shape(c: 1, h: channels, w: channels))
                styleTargets[index] = target
                var layer =
                    try layers[index]
                    ?? Layer(
                        terms: [], gram: backend.makeTensor(target.shape),
                        gramGradient: backend.makeTensor(target.shape))
                layer.terms.append(Term(target: target, weights: weight, scale: scales[index] ?? 0))
                layers[index] = layer
            }
            targets.append(styleTargets)
        }
        self.targets = targets
        let largest = layers.keys.map { shapes[$0].count }.max() ?? 1
        weighted = try backend.makeTensor(.vector(largest))
        weightedGradient = try backend.makeTensor(.vector(largest))
    }

    /// The layers' weights w = √(m_l · M / Σ m_l) of one mask (1×H×W at the size of the network's
    /// input) at `indices` of `layers`, m_l the mask average-pooled at every pool up to layer l; layers where Σ m_l = 0 are
    /// left out. The sums and roots are taken on the host in Double, once per scale.
    static func layerWeights(
        backend: Backend, layers: [VGGModel.Layer], mask: Tensor, at indices: Set<Int>
    ) throws -> [Int: Tensor] {
        var current = mask
        var weights: [Int: Tensor] = [:]
        for (index, layer) in layers.enumerated() where index <= (indices.max() ?? -1) {
            if layer.kind == .pool {
                let pooled = try backend.makeTensor(current.shape.pooled)
                try backend.pool2x2(input: current, mode: .avg, output: pooled)
                current = pooled
            }
            guard indices.contains(index) else { continue }
            let values = try backend.download(current)
            let area = values.reduce(0.0) { $0 + Double($1) }
            guard area > 0 else { continue }
            let factor = Double(values.count) / area
            let weight = try backend.makeTensor(current.shape)
            try backend.upload(values.map { Float((Double($0) * factor).squareRoot()) }, to: weight)
            weights[index] = weight
        }
        return weights
    }

    /// Style k's targets from its forward pass: G of its features, weighted by `sourceWeights`
    /// (its `--style-source-masks` mask's `layerWeights` at the style's size) where given.
    func setTargets(style k: Int, outputs: [Tensor], sourceWeights: [Int: Tensor]?) throws {
        for (index, target) in targets[k] {
            let features = outputs[index]
            if let weight = sourceWeights?[index] {
                let scratch = try backend.makeTensor(features.shape)
                try backend.multiplyByMask(features, mask: weight, output: scratch, accumulate: false)
                try backend.gram(features: scratch, output: target)
            } else {
                try backend.gram(features: features, output: target)
            }
        }
    }

    /// Adds every style's term at layer `index` to slot 1 of `scalars` and its gradient to `grad`.
    func evaluate(index: Int, features: Tensor, grad: Tensor, scalars: Tensor) throws {
        guard let layer = layers[index] else { return }
        let h = Tensor(shape: features.shape, storage: weighted.storage)
        let dh = Tensor(shape: features.shape, storage: weightedGradient.storage)
        for term in layer.terms {
            try backend.multiplyByMask(features, mask: term.weights, output: h, accumulate: false)
            try backend.gram(features: h, output: layer.gram)
            try backend.meanSquaredError(
                layer.gram, term.target, scale: term.scale, scalars: scalars, slot: 1, accumulate: true)
            try backend.meanSquaredErrorGradient(
                layer.gram, term.target, scale: term.scale, grad: layer.gramGradient, accumulate: false)
            try backend.gramBackward(gradGram: layer.gramGradient, features: h, gradFeatures: dh, accumulate: false)
            try backend.multiplyByMask(dh, mask: term.weights, output: grad, accumulate: true)
        }
    }
}

extension StyleObjective {
    /// Each named layer's loss scale: `termWeight` times its weight (nil weights: `termWeight`
    /// itself, so the default is the unweighted sum bit for bit); layers of weight 0 are left out.
    static func layerScales(
        _ names: [String], weights: [Float]?, termWeight: Float, model: VGGModel
    ) throws -> [Int: Float] {
        if let weights, weights.count != names.count {
            throw StyleError("internal error: \(weights.count) layer weights for \(names.count) layers")
        }
        var scales: [Int: Float] = [:]
        for (position, name) in names.enumerated() {
            let scale = weights.map { termWeight * $0[position] } ?? termWeight
            if weights == nil || weights?[position] != 0 { scales[try model.index(of: name)] = scale }
        }
        return scales
    }

    /// A mask of ones: a style without a mask among masked ones applies everywhere.
    static func whiteMask(height: Int, width: Int, _ backend: Backend) throws -> Tensor {
        let mask = try backend.makeTensor(Shape(c: 1, h: height, w: width))
        try backend.fill(mask, value: 1)
        return mask
    }
}
