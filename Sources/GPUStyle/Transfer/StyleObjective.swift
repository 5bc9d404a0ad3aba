/// Weights of the three loss terms (docs/DESIGN.md defaults).
public struct LossWeights: Equatable, Codable, Sendable {
    public var content: Float = 5
    public var style: Float = 100
    public var totalVariation: Float = 1e-3

    public init(content: Float = 5, style: Float = 100, totalVariation: Float = 1e-3) {
        self.content = content
        self.style = style
        self.totalVariation = totalVariation
    }
}

/// Which layers the content and style losses read (docs/DESIGN.md defaults).
public struct LayerSelection: Equatable, Codable, Sendable {
    public var content: [String] = ["relu4_2"]
    public var style: [String] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]

    public init(
        content: [String] = ["relu4_2"], style: [String] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    ) {
        self.content = content
        self.style = style
    }

    /// Checks every name against `model`; an unknown one is an error listing the valid names.
    /// Before the weights are read the model is not known: VGG19's names include every other
    /// model's, so the default checks spelling, and the run checks again with the weights' model.
    public func validate(for model: VGGModel = .vgg19) throws {
        if content.isEmpty && style.isEmpty { throw StyleError("no content or style layers given") }
        for name in content + style { _ = try model.index(of: name) }
    }

    /// The deepest layer index of `model` either loss reads.
    public func deepestLayer(in model: VGGModel) throws -> Int {
        try (content + style).map(model.index(of:)).max() ?? 0
    }
}

/// Loss values of one evaluation, already multiplied by their weights.
public struct LossValues: Equatable, Codable, Sendable {
    public var content: Double
    public var style: Double
    public var totalVariation: Double
    /// A video frame's temporal term (0 without one).
    public var temporal: Double = 0
    public var total: Double { content + style + totalVariation + temporal }

    public var isFinite: Bool { firstNonFiniteTerm == nil }

    /// "content", "style", "total variation" or "temporal": the first term that is NaN or infinite.
    public var firstNonFiniteTerm: String? {
        [("content", content), ("style", style), ("total variation", totalVariation), ("temporal", temporal)]
            .first { !$0.1.isFinite }?.0
    }

    private enum CodingKeys: String, CodingKey { case content, style, totalVariation, temporal }

    /// The objectives' scalar slots: 0 content, 1 style, 2 total variation, 3 temporal.
    static let slotCount = 4

    public init(content: Double, style: Double, totalVariation: Double, temporal: Double = 0) {
        self.content = content
        self.style = style
        self.totalVariation = totalVariation
        self.temporal = temporal
    }

    /// Records written before the temporal term have no "temporal".
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        content = try container.decode(Double.self, forKey: .content)
        style = try container.decode(Double.self, forKey: .style)
        totalVariation = try container.decode(Double.self, forKey: .totalVariation)
        temporal = try container.decodeIfPresent(Double.self, forKey: .temporal) ?? 0
    }
}

/// A video frame's temporal term at one scale (docs/DESIGN.md, "Temporal loss"): the previous
/// result warped to this frame, the 1×H×W reliability mask, and scale = weight / (C · Σ mask).
public struct TemporalTerm {
    public var warped: Tensor
    public var mask: Tensor
    public var scale: Float

    public init(warped: Tensor, mask: Tensor, scale: Float) {
        self.warped = warped
        self.mask = mask
        self.scale = scale
    }

    /// Enqueues the term at `image` on `backend` (which holds its tensors): its loss into slot 3
    /// of `scalars`, its gradient added to `gradient`.
    func add(image: Tensor, on backend: Backend, scalars: Tensor, gradient: Tensor) throws {
        try backend.temporalLoss(
            image, warped: warped, mask: mask, scale: scale, scalars: scalars, slot: 3, accumulate: true)
        try backend.temporalLossGradient(
            image, warped: warped, mask: mask, scale: scale, grad: gradient, accumulate: true)
    }
}

/// A style image with its blend weight (weights of all styles sum to 1) and, with spatial
/// control, its mask at the image's size and its source mask at its own size (1×H×W in [0, 1]).
public struct StyleTarget {
    public var image: Tensor
    public var blendWeight: Float
    /// Where on the image this style applies (`--style-masks`); nil: everywhere, blended.
    public var mask: Tensor?
    /// Which part of the style image its style comes from (`--style-source-masks`); nil: all.
    public var sourceMask: Tensor?

    public init(image: Tensor, blendWeight: Float, mask: Tensor? = nil, sourceMask: Tensor? = nil) {
        self.image = image
        self.blendWeight = blendWeight
        self.mask = mask
        self.sourceMask = sourceMask
    }
}

/// L = w_c·L_c + w_s·L_s + w_tv·L_tv of docs/DESIGN.md and its gradient with respect to the image,
/// evaluated entirely on the backend. Targets (content activations, blended Grams) are computed
/// once at construction; every buffer of an evaluation is allocated here, before the first one.
public final class StyleObjective: ImageObjective {
    public let network: VGGNetwork
    public let weights: LossWeights
    private let backend: Backend
    private let workspace: VGGNetwork.Workspace
    /// Scalar slots: 0 content, 1 style, 2 total variation, 3 temporal (weighted).
    public let scalars: Tensor
    /// A video frame's temporal term, nil for a still image.
    private let temporal: TemporalTerm?
    private let contentTargets: [Int: Tensor]
    private let styleLayers: [Int: StyleLayerBuffers]
    /// The style loss with masks, when any style has one (then `styleLayers` is empty).
    private let maskedStyle: MaskedStyleLoss?
    /// w_s times each style layer's weight, w_c times each content layer's (docs/DESIGN.md, "Total loss").
    private let styleScales: [Int: Float]
    private let contentScales: [Int: Float]

    /// Per style layer: the blended target Gram A_l, the current image's Gram, and its gradient.
    private struct StyleLayerBuffers {
        let target: Tensor
        let gram: Tensor
        let gramGradient: Tensor
    }

    public init(
        network: VGGNetwork, height: Int, width: Int, content: Tensor, styles: [StyleTarget],
        layers: LayerSelection, weights: LossWeights, styleLayerWeights: [Float]? = nil,
        contentLayerWeights: [Float]? = nil, sharedTargets: SharedStyleTargets? = nil,
        temporal: TemporalTerm? = nil
    ) throws {
        try layers.validate(for: network.model)
        self.temporal = temporal
        self.network = network
        self.weights = weights
        backend = network.backend
        // A layer of weight 0 has no term. Without layer weights the scale is the term's weight itself.
        let styleScales = try StyleObjective.layerScales(
            layers.style, weights: styleLayerWeights, termWeight: weights.style, model: network.model)
        let contentScales = try StyleObjective.layerScales(
            layers.content, weights: contentLayerWeights, termWeight: weights.content, model: network.model)
        self.styleScales = styleScales
        self.contentScales = contentScales
        let contentIndices = Set(contentScales.keys)
        let styleIndices = Set(styleScales.keys)
        let masked = styles.contains { $0.mask != nil || $0.sourceMask != nil }
        scalars = try backend.makeTensor(.vector(LossValues.slotCount))
        let observed = contentIndices.union(styleIndices)

        // Style targets first: A_l = Σ_k b_k G_l(style_k), each style at its own size. A style of
        // another size gets a workspace of its own that is released before the main one exists,
        // so the two never take memory at the same time: those styles go first, the ones of the
        // main size (which use the main workspace) after them.
        var styleLayers: [Int: StyleLayerBuffers] = [:]
        for index in styleIndices where !masked {
            let channels = network.layers[index].channels
            let gramShape = Shape(c: 1, h: channels, w: channels)
            styleLayers[index] = StyleLayerBuffers(
                target: try backend.makeTensor(gramShape),
                gram: try backend.makeTensor(gramShape),
                gramGradient: try backend.makeTensor(gramShape))
        }
        let maskedStyle =
            try masked
            ? MaskedStyleLoss(
                network: network, height: height, width: width,
                masks: styles.map {
                    try $0.mask ?? StyleObjective.whiteMask(height: height, width: width, network.backend)
                },
                scales: styleScales) : nil
        var mainWorkspace: VGGNetwork.Workspace?
        let mainSize = { (style: StyleTarget) in style.image.shape.h == height && style.image.shape.w == width }
        let ordered = Array(styles.enumerated())
        // Targets an earlier run computed from the same styles come back as they were stored.
        let shared = masked ? nil : sharedTargets
        let stored = shared.flatMap { $0.cache.grams(for: $0.key) }
        if let stored {
            for (index, buffers) in styleLayers {
                guard let gram = stored[index] else {
                    throw StyleError("internal error: a cached style target lacks a layer")
                }
                try backend.upload(gram, to: buffers.target)
            }
        }
        for (k, style) in stored != nil ? [] : ordered.filter({ !mainSize($0.1) }) + ordered.filter({ mainSize($0.1) })
        {
            let styleWorkspace: VGGNetwork.Workspace
            if mainSize(style) {
                let main =
                    try mainWorkspace
                    ?? network.makeWorkspace(
                        height: height, width: width, observed: observed)
                mainWorkspace = main
                styleWorkspace = main
            } else {
                styleWorkspace = try network.makeWorkspace(
                    height: style.image.shape.h, width: style.image.shape.w,
                    observed: styleIndices)
            }
            try network.forward(image: style.image, workspace: styleWorkspace)
            if let maskedStyle {
                let sourceWeights = try style.sourceMask.map {
                    try MaskedStyleLoss.layerWeights(
                        backend: network.backend, layers: network.layers, mask: $0, at: styleIndices)
                }
                try maskedStyle.setTargets(style: k, outputs: styleWorkspace.outputs, sourceWeights: sourceWeights)
            }
            for (index, buffers) in styleLayers {
                try backend.gram(features: styleWorkspace.outputs[index], output: buffers.gram)
                try backend.axpy(alpha: style.blendWeight, x: buffers.gram, y: buffers.target)
            }
        }
        if let shared, stored == nil {
            shared.cache.store(try styleLayers.mapValues { try network.backend.download($0.target) }, for: shared.key)
        }
        workspace =
            try mainWorkspace
            ?? network.makeWorkspace(
                height: height, width: width, observed: observed)

        // Content targets: the content image's activations.
        try network.forward(image: content, workspace: workspace)
        var contentTargets: [Int: Tensor] = [:]
        for index in contentIndices {
            let features = workspace.outputs[index]
            // In the features' storage: the content loss reads both alike.
            let target = try backend.makeTensor(features.shape, format: features.format)
            try backend.copy(features, to: target)
            contentTargets[index] = target
        }
        self.contentTargets = contentTargets
        self.styleLayers = styleLayers
        self.maskedStyle = maskedStyle
        try backend.finish()
    }

    /// Enqueues one evaluation at `image`: the weighted loss terms into `scalars`, and the
    /// gradient of the total into `gradient`. Does not wait.
    public func evaluate(image: Tensor, gradient: Tensor) throws {
        try backend.fill(scalars, value: 0)
        try network.forward(image: image, workspace: workspace)
        try network.backward(workspace: workspace, gradImage: gradient) { index, grad, reluMask in
            let features = workspace.outputs[index]
            if let target = contentTargets[index], let scale = contentScales[index] {
                try backend.meanSquaredError(
                    features, target, scale: scale, scalars: scalars, slot: 0,
                    accumulate: true)
                try backend.meanSquaredErrorGradient(
                    features, target, scale: scale, grad: grad, accumulate: true)
            }
            try maskedStyle?.evaluate(index: index, features: features, grad: grad, scalars: scalars)
            if let style = styleLayers[index], let scale = styleScales[index] {
                try backend.gram(features: features, output: style.gram)
                try backend.meanSquaredError(
                    style.gram, style.target, scale: scale, scalars: scalars, slot: 1,
                    accumulate: true)
                try backend.meanSquaredErrorGradient(
                    style.gram, style.target, scale: scale,
                    grad: style.gramGradient, accumulate: false)
                // The last term added: it takes the ReLU's mask over the whole sum.
                try backend.gramBackward(
                    gradGram: style.gramGradient, features: features, gradFeatures: grad,
                    accumulate: true, reluMasked: reluMask)
                return reluMask
            }
            return false
        }
        if weights.totalVariation != 0 {
            try backend.totalVariation(
                image, scale: weights.totalVariation, scalars: scalars, slot: 2, accumulate: true)
            try backend.totalVariationGradient(image, scale: weights.totalVariation, grad: gradient, accumulate: true)
        }
        try temporal?.add(image: image, on: backend, scalars: scalars, gradient: gradient)
    }

    public func evaluate(image: Tensor, gradient: Tensor, iteration: Int) throws {
        try evaluate(image: image, gradient: gradient)
    }

    /// The loss terms of the last evaluation (blocks until it is done).
    public func readLosses() throws -> LossValues {
        let values = try backend.readScalars(scalars)
        return LossValues(content: values[0], style: values[1], totalVariation: values[2], temporal: values[3])
    }
}
