/// The loss and gradient a run optimises: `StyleObjective` evaluates the whole image at once,
/// `TiledObjective` tile by tile when the whole image's workspace does not fit the device.
public protocol ImageObjective: AnyObject {
    var network: VGGNetwork { get }
    /// Enqueues one evaluation at `image`: the weighted loss terms, and the gradient of their sum
    /// into `gradient`. `iteration` (within the scale) places a tiled objective's grid. Does not wait.
    func evaluate(image: Tensor, gradient: Tensor, iteration: Int) throws
    /// The loss terms of the last evaluation (blocks until it is done).
    func readLosses() throws -> LossValues
}

extension ImageObjective {
    /// One evaluation at iteration 0's grid (tests, benchmarks).
    public func evaluate(image: Tensor, gradient: Tensor) throws {
        try evaluate(image: image, gradient: gradient, iteration: 0)
    }
}

/// How a scale is cut into tiles: interiors of `tileSize` pixels and `halo` pixels of context,
/// both multiples of `TileGrid.alignment`, and where the whole image's state lives.
public struct Tiling: Equatable, Sendable {
    public var tileSize: Int
    public var halo: Int
    /// The whole image, its gradient, the optimiser's state and the content targets live on the
    /// host (the device holds one tile's workspace); false: on the device.
    public var stateOnHost: Bool
    /// Pass 1 keeps what the backward pass reads of each tile (`TiledObjective.KeptOutput`),
    /// beside the state, and pass 3 restores it instead of running the tile's forward pass again.
    public var keepsActivations: Bool

    /// The halo the run uses: chosen by measurement (docs/DESIGN.md, "Tiled evaluation").
    public static let defaultHalo = 64
    /// The smallest tile the plan keeps the state on the device for when a larger tile would fit
    /// with the state on the host: at 256 px a 64-px halo already computes 2.25× the interior.
    public static let efficientTileSize = 256

    public init(
        tileSize: Int, halo: Int = Tiling.defaultHalo, stateOnHost: Bool = false, keepsActivations: Bool = false
    ) {
        self.tileSize = tileSize
        self.halo = halo
        self.stateOnHost = stateOnHost
        self.keepsActivations = keepsActivations
    }
}

/// `--tile-activations`: whether a tiled evaluation keeps what its backward pass reads of each
/// tile between its two passes (`Tiling.keepsActivations`) or runs the tile's forward pass again.
public enum TileActivations: String, Codable, CaseIterable, Sendable {
    /// Kept where their copies stay in the device's memory (the state on the device, or a device
    /// whose memory is the host's) and the tiles that fit with them compute fewer pixels
    /// (`StyleJobOptions.tilings`).
    case auto
    case keep
    case recompute
}

/// L and its gradient as `StyleObjective` defines them, computed through tiles so that only one
/// tile's workspace exists (docs/DESIGN.md, "Tiled evaluation"). The Gram is a sum over pixels,
/// so the style loss is exact: every tile adds its interior's partial Gram into global Grams,
/// the style gradient dG comes from those, and every tile then runs backward with that global
/// dG and keeps its interior's image gradient. Only where the halo is narrower than the receptive
/// field does the gradient differ from the untiled one; the grid is shifted every iteration
/// (`TileGrid.offset`) so no boundary sits still. The whole image's tensors (the image, its
/// gradient, the content and style images, the content targets) live on `state`: the device, or
/// a host backend, and then only the tiles' pixels cross between the two. With style masks each
/// masked style has its own term per layer, the Grams of the features weighted by the mask's
/// per-layer weights (`MaskedStyleLoss`), which are pixel sums too: the weights are made over the
/// whole image on `state` and each tile reads its part.
public final class TiledObjective: ImageObjective {
    public let network: VGGNetwork
    public let weights: LossWeights
    public let grid: TileGrid
    private let backend: Backend
    /// Where the whole image's tensors live: `backend`, or the host.
    public let state: Backend
    /// With the state on the host: its copy of one transfer (a tile's pixels or a content
    /// target's region) on the way to or from the device; nil with the state on the device.
    private let staging: TensorStorage?
    /// The workspace of the largest tile (of the image's and the styles' grids); smaller tiles
    /// use views of its buffers.
    private let workspace: VGGNetwork.Workspace
    /// Scalar slots: 0 content, 1 style, 2 total variation, 3 temporal (weighted; the temporal
    /// term's in `temporalScalars` instead when the state is on the host).
    public let scalars: Tensor
    /// The tile's image and its image gradient (largest tile's size; views for smaller ones).
    private let tileImage: TensorStorage
    private let tileGradient: TensorStorage
    /// An interior's features and the content target's matching part, compact, and the content
    /// target over one tile's region: in the layer outputs' storage, `format`.
    private let interiorFeatures: TensorStorage
    private let interiorTarget: TensorStorage?
    private let tileTarget: TensorStorage?
    /// The layer outputs' storage: 16-bit with --storage half on a backend that has such buffers,
    /// else float32.
    private let format: ActivationStorage
    /// The total variation's anchors of one interior (float32, as the image).
    private let anchors: TensorStorage
    /// Per content layer, in layer order: the content image's features over the whole image (on
    /// `state`) and the layer's weight.
    private let contentLayers: [(index: Int, target: Tensor, scale: Float)]
    /// In layer order, so that the style loss sums its layers in one order in every process.
    private let styleLayers: [StyleLayerBuffers]
    /// 2^(pooling layers up to and including each layer).
    private let factors: [Int]
    /// Each layer's shape over the whole image.
    private let shapes: [Shape]
    private let seed: UInt64
    private let scale: Int
    /// With `Tiling.keepsActivations`: each kept output and its store on `state` (a value's
    /// channels × 1 × the tiles' pixels, or the codes' floats, tile after tile), the layers pass 3
    /// runs again, and the device's buffer of one tile's codes; nil: every tile runs forward again.
    private let kept: (outputs: [(output: KeptOutput, store: Tensor)], recomputedThrough: Int, codes: TensorStorage)?
    /// A video frame's temporal term over the whole image (its tensors on `state`), and, with the
    /// state on the host, the host's scalars its loss goes into.
    private let temporal: TemporalTerm?
    private let temporalScalars: Tensor?

    /// With style masks: a tile's part of one term's weights, and the weighted features and
    /// their gradient (each the largest tile's at the largest style layer); nil without masks.
    private let maskBuffers: (weights: TensorStorage, weighted: TensorStorage, weightedGradient: TensorStorage)?

    /// Per style layer: its terms, one tile's partial Gram and its share of a term's dG.
    private struct StyleLayerBuffers {
        let index: Int
        let terms: [StyleTerm]
        let tileGram: Tensor
        let tileGramGradient: Tensor
    }

    /// One term of a style layer: without masks the blended target A_l, with masks one style's
    /// (`style`) target and its weights over the whole image (on `state`; nil: no mask, weights
    /// of 1); the global Gram and its gradient dG.
    private struct StyleTerm {
        /// The layer's weight times the style weight.
        let scale: Float
        let style: Int?
        let weights: Tensor?
        let target: Tensor
        let gram: Tensor
        let gramGradient: Tensor
    }

    /// - Parameters:
    ///   - content, styles: their images on `state`.
    ///   - styleLayerWeights, contentLayerWeights: one per layer of `layers` (nil: 1 each).
    ///   - temporal: a video frame's temporal term, its tensors on `state`.
    ///   - seed, scale: with the iteration, they place the grid of every evaluation.
    ///   - state: the backend of the whole image's tensors (nil: the network's).
    public init(
        network: VGGNetwork, height: Int, width: Int, content: Tensor, styles: [StyleTarget],
        layers: LayerSelection, weights: LossWeights, styleLayerWeights: [Float]? = nil,
        contentLayerWeights: [Float]? = nil, temporal: TemporalTerm? = nil, tiling: Tiling, seed: UInt64,
        scale: Int = 0, state: Backend? = nil
    ) throws {
        try layers.validate(for: network.model)
        self.network = network
        self.weights = weights
        self.seed = seed
        self.scale = scale
        self.temporal = temporal
        backend = network.backend
        let state = state ?? network.backend
        self.state = state
        temporalScalars =
            temporal != nil && state !== network.backend ? try state.makeTensor(.vector(LossValues.slotCount)) : nil
        grid = try TileGrid(height: height, width: width, tileSize: tiling.tileSize, halo: tiling.halo)
        let styleGrids = try styles.map {
            try TileGrid(
                height: $0.image.shape.h, width: $0.image.shape.w, tileSize: tiling.tileSize, halo: tiling.halo)
        }
        let largest = TiledObjective.largestTile(grids: [grid] + styleGrids)
        // Each layer's weight times its term's (a layer of weight 0 is left out), as StyleObjective.
        let styleScales = try StyleObjective.layerScales(
            layers.style, weights: styleLayerWeights, termWeight: weights.style, model: network.model)
        let contentScales = try StyleObjective.layerScales(
            layers.content, weights: contentLayerWeights, termWeight: weights.content, model: network.model)
        let contentIndices = Set(contentScales.keys)
        let styleIndices = Set(styleScales.keys)
        let observed = contentIndices.union(styleIndices)
        factors = TiledObjective.poolingFactors(network.layers)
        shapes = network.shapes(height: height, width: width)
        scalars = try backend.makeTensor(.vector(LossValues.slotCount))
        let masked = styles.contains { $0.mask != nil || $0.sourceMask != nil }
        workspace = try network.makeWorkspace(
            height: largest.height, width: largest.width, observed: observed)
        let format = workspace.outputs[0].format
        self.format = format
        let backend = network.backend
        /// A compact buffer of `count` values in the layer outputs' storage.
        func layerValues(_ count: Int) throws -> TensorStorage {
            try backend.makeTensor(.vector(count), format: format).storage
        }
        let tileShape = Shape(c: 3, h: largest.height, w: largest.width)
        tileImage = try backend.makeTensor(tileShape).storage
        tileGradient = try backend.makeTensor(tileShape).storage
        let values = TiledObjective.compactValues(
            layers: network.layers, tiling: tiling, largest: largest, content: contentIndices, style: styleIndices)
        interiorFeatures = try layerValues(values.interior)
        anchors = try backend.makeTensor(.vector(values.anchors)).storage
        interiorTarget = values.contentInterior > 0 ? try layerValues(values.contentInterior) : nil
        tileTarget = values.contentTile > 0 ? try layerValues(values.contentTile) : nil
        let keptOutputs =
            tiling.keepsActivations
            ? TiledObjective.keptOutputs(layers: network.layers, observed: observed, pooling: network.pooling) : nil
        let tileShapes = network.shapes(height: largest.height, width: largest.width)
        let keptTile = keptOutputs.map { TiledObjective.keptTileFloats($0.outputs, shapes: tileShapes) }
        staging =
            state === backend
            ? nil
            : try state.makeTensor(.vector(max(tileShape.count, values.contentTile, keptTile?.values ?? 0))).storage
        let grid = grid
        kept = try keptOutputs.map { keptOutputs in
            let outputs = try keptOutputs.outputs.map { output in
                let values = TiledObjective.storeValues(output, grid: grid)
                let store =
                    output.codes
                    ? try state.makeTensor(.vector(values))
                    : try state.makeTensor(
                        Shape(c: output.channels, h: 1, w: values / output.channels),
                        format: state === backend ? format : .float)
                return (output, store)
            }
            return (
                outputs, keptOutputs.recomputedThrough,
                try backend.makeTensor(.vector(keptTile?.codes ?? 1)).storage
            )
        }

        // With masks, per style its weights at each style layer where its mask has area.
        let maskWeights = try styles.map { style in
            try style.mask.map {
                try MaskedStyleLoss.layerWeights(backend: state, layers: network.layers, mask: $0, at: styleIndices)
            }
        }
        styleLayers = try styleIndices.sorted().map { index in
            let channels = network.layers[index].channels
            let shape = Shape(c: 1, h: channels, w: channels)
            func term(style: Int?, weights: Tensor?) throws -> StyleTerm {
                StyleTerm(
                    scale: styleScales[index] ?? 0, style: style, weights: weights,
                    target: try backend.makeTensor(shape),
                    gram: try backend.makeTensor(shape), gramGradient: try backend.makeTensor(shape))
            }
            let terms =
                masked
                ? try maskWeights.enumerated().compactMap { k, weights in
                    // A style whose mask has no area at this layer has no term there.
                    try weights.map { try $0[index].map { try term(style: k, weights: $0) } }
                        ?? term(style: k, weights: nil)
                } : [try term(style: nil, weights: nil)]
            return StyleLayerBuffers(
                index: index, terms: terms, tileGram: try backend.makeTensor(shape),
                tileGramGradient: try backend.makeTensor(shape))
        }
        maskBuffers =
            masked
            ? (
                try backend.makeTensor(.vector(styleIndices.map { tileShapes[$0].pixels }.max() ?? 0)).storage,
                try backend.makeTensor(.vector(styleIndices.map { tileShapes[$0].count }.max() ?? 0)).storage,
                try backend.makeTensor(.vector(styleIndices.map { tileShapes[$0].count }.max() ?? 0)).storage
            ) : nil
        let shapes = shapes
        // On the device in the outputs' storage (copied region by region as they are); on the host
        // float32, converted as they cross.
        let halfTargets = format == .half && state === backend
        contentLayers = try contentScales.keys.sorted().map { index in
            (
                index, try state.makeTensor(shapes[index], format: halfTargets ? .half : .float),
                contentScales[index] ?? 0
            )
        }

        // Style targets, each style's Grams through its own grid: A_l = Σ_k b_k G_l(style_k), or
        // with masks each style's own G_l, its features weighted by its source mask where given.
        for (k, (style, styleGrid)) in zip(styles, styleGrids).enumerated() {
            let styleShapes = network.shapes(height: styleGrid.height, width: styleGrid.width)
            let sourceWeights = try style.sourceMask.map {
                try MaskedStyleLoss.layerWeights(backend: state, layers: network.layers, mask: $0, at: styleIndices)
            }
            // Per layer where this style's Grams go: the blended term's Gram, or its own target.
            let sums = styleLayers.compactMap { buffers -> (StyleLayerBuffers, Tensor)? in
                guard let term = buffers.terms.first(where: { $0.style == (masked ? k : nil) }) else { return nil }
                return (buffers, masked ? term.target : term.gram)
            }
            for (_, sum) in sums { try backend.fill(sum, value: 0) }
            for tile in styleGrid.tiles() {
                let view = try forwardTile(tile, of: style.image)
                for (buffers, sum) in sums {
                    try addPartialGram(
                        tile, view: view, globalPixels: styleShapes[buffers.index].pixels, layer: buffers,
                        weights: sourceWeights?[buffers.index], into: sum)
                }
            }
            if !masked {
                for (buffers, sum) in sums {
                    try backend.axpy(alpha: style.blendWeight, x: sum, y: buffers.terms[0].target)
                }
            }
        }
        // Content targets: the content image's features, each tile's interior into place.
        for tile in grid.tiles() {
            let view = try forwardTile(tile, of: content)
            for (index, target, _) in contentLayers {
                let interior = tile.interior.pooled(by: factors[index])
                try store(
                    view.outputs[index], interior.relative(to: tile.region.pooled(by: factors[index]).origin),
                    into: target, at: interior.origin)
            }
        }
        try backend.finish()
    }

    /// The tile region that holds every tile of these grids.
    static func largestTile(grids: [TileGrid]) -> (height: Int, width: Int) {
        (grids.map(\.largestTile.height).max() ?? 0, grids.map(\.largestTile.width).max() ?? 0)
    }

    /// 2^(pooling layers up to and including each layer).
    static func poolingFactors(_ layers: [VGGModel.Layer]) -> [Int] {
        var factor = 1
        return layers.map { layer in
            if layer.kind == .pool { factor *= 2 }
            return factor
        }
    }

    /// One layer output pass 1 keeps for pass 3 (`Tiling.keepsActivations`): its values where a
    /// loss reads them or no ReLU made them, else its ReLU codes (`encodeReluCodes`), max pooled
    /// when a max pooling layer reads it.
    struct KeptOutput: Equatable {
        /// The output's tensor (a conv fused with its ReLU stands for the ReLU's output).
        let index: Int
        let channels: Int
        /// 2^(pooling layers before it).
        let factor: Int
        let codes: Bool
        let maxPooled: Bool
    }

    /// What pass 1 keeps: the outputs the backward pass reads (`MemoryPlan.backwardReadLayers`)
    /// after the first ReLU; pass 3 runs the layers up to it again (`recomputedThrough`), as their
    /// 64 channels of values would take more to keep than the 3-channel convolution takes to run.
    static func keptOutputs(
        layers: [VGGModel.Layer], observed: Set<Int>, pooling: PoolMode
    ) -> (outputs: [KeptOutput], recomputedThrough: Int) {
        let recomputedThrough = layers.firstIndex { $0.kind == .relu } ?? 0
        let factors = poolingFactors(layers)
        let outputs = MemoryPlan.backwardReadLayers(layers: layers, observed: observed).filter {
            $0 > recomputedThrough
        }
        .map { index -> KeptOutput in
            // The ReLU whose output the tensor is, if one made it.
            let relu: Int? =
                layers[index].kind == .relu
                ? index : VGGNetwork.fusesWithNext(index, layers: layers, observed: observed) ? index + 1 : nil
            let codes = relu.map { !observed.contains($0) && !observed.contains(index) } ?? false
            let next = relu.map { $0 + 1 } ?? layers.count
            return KeptOutput(
                index: index, channels: layers[index].channels, factor: factors[index], codes: codes,
                maxPooled: codes && next < layers.count && layers[next].kind == .pool && pooling == .max)
        }
        return (outputs, recomputedThrough)
    }

    /// Bytes a tiled evaluation keeps (`Tiling.keepsActivations`) at any grid offset: its stores
    /// (`valueBytes` a kept value) and the device's buffer of one tile's codes; and the values of
    /// the largest tile's largest kept output (what a host's staging buffer must hold).
    static func keptBytes(
        layers: [VGGModel.Layer], observed: Set<Int>, grid: TileGrid, largest: (height: Int, width: Int),
        valueBytes: Int
    ) -> (store: Int, codes: Int, stagingFloats: Int) {
        let outputs = keptOutputs(layers: layers, observed: observed, pooling: .max).outputs
        let tile = keptTileFloats(
            outputs, shapes: VGGNetwork.shapes(of: layers, height: largest.height, width: largest.width))
        let store = outputs.reduce(0) { $0 + storeValues($1, grid: grid) * ($1.codes ? 4 : valueBytes) }
        return (store, tile.codes * 4, tile.values)
    }

    /// One tile's part of the kept outputs at its layers' `shapes`: the floats of the largest
    /// one's codes (the device's codes buffer, at least 1) and the values of the largest one.
    static func keptTileFloats(_ outputs: [KeptOutput], shapes: [Shape]) -> (codes: Int, values: Int) {
        let codes = outputs.filter(\.codes).map { Shape.reluCodes(of: shapes[$0.index]).count }.max() ?? 1
        return (codes, outputs.map { shapes[$0.index].count }.max() ?? 0)
    }

    /// The values of an output's store at any grid offset (its code floats: Σ ⌈w / 10⌉ over a
    /// row of tiles is at most ⌊(Σ w + 9 · columns) / 10⌋).
    static func storeValues(_ output: KeptOutput, grid: TileGrid) -> Int {
        let regions = grid.largestRegions(pooledBy: output.factor)
        let per = Shape.reluCodesPerFloat
        let width = output.codes ? (regions.width + (per - 1) * regions.columns) / per : regions.width
        return output.channels * regions.height * width
    }

    /// Values of the compact buffers: an interior's features at the largest observed layer, the
    /// total variation's anchors, the content target's interior and a tile's region of it.
    static func compactValues(
        layers: [VGGModel.Layer], tiling: Tiling, largest: (height: Int, width: Int), content: Set<Int>,
        style: Set<Int>
    ) -> (interior: Int, anchors: Int, contentInterior: Int, contentTile: Int) {
        let factors = poolingFactors(layers)
        let interiorSide = (height: min(tiling.tileSize, largest.height), width: min(tiling.tileSize, largest.width))
        func values(_ index: Int, _ size: (height: Int, width: Int)) -> Int {
            layers[index].channels * (size.height / factors[index]) * (size.width / factors[index])
        }
        let contentInterior = content.map { values($0, interiorSide) }.max() ?? 0
        // The total variation's anchors: an interior and the row and column after it.
        let anchors = 3 * min(interiorSide.height + 1, largest.height) * min(interiorSide.width + 1, largest.width)
        return (
            (content.union(style)).map { values($0, interiorSide) }.max() ?? 0, anchors, contentInterior,
            content.map { values($0, largest) }.max() ?? 0
        )
    }

    /// Copies `region` of `source` (a whole-image tensor on `state`) into the device tensor
    /// `target`, which has the region's shape.
    private func load(_ source: Tensor, _ region: PlaneRegion, into target: Tensor) throws {
        let origin = PlanePoint(y: 0, x: 0)
        guard let staging else { return try backend.copyRegion(source, region, to: target, at: origin) }
        let staged = Tensor(shape: target.shape, storage: staging)
        try state.copyRegion(source, region, to: staged, at: origin)
        try backend.upload(try state.download(staged), to: target)
    }

    /// Copies `region` of the device tensor `source` into `target` (a whole-image tensor on
    /// `state`) at `origin`.
    private func store(_ source: Tensor, _ region: PlaneRegion, into target: Tensor, at origin: PlanePoint) throws {
        guard let staging else { return try backend.copyRegion(source, region, to: target, at: origin) }
        let staged = Tensor(shape: source.shape, storage: staging)
        try state.upload(try backend.download(source), to: staged)
        try state.copyRegion(staged, region, to: target, at: origin)
    }

    /// The tile's image: the tile image buffer at the tile's size.
    private func image(of tile: TileGrid.Tile) -> Tensor {
        Tensor(shape: Shape(c: 3, h: tile.region.height, w: tile.region.width), storage: tileImage)
    }

    /// Enqueues the tile's region of `image` into the tile image and the forward pass over it
    /// (through layer `last`); returns the workspace's view at the tile's size.
    private func forwardTile(
        _ tile: TileGrid.Tile, of image: Tensor, through last: Int? = nil
    ) throws
        -> VGGNetwork.Workspace
    {
        let region = tile.region
        let view = try network.view(of: workspace, height: region.height, width: region.width)
        let input = self.image(of: tile)
        try load(image, region, into: input)
        try network.forward(image: input, workspace: view, through: last)
        return view
    }

    /// Copies what the backward pass reads of the tile in `view` into the stores at `places`
    /// (each store's first free value or code float); returns the places after it.
    private func keep(_ view: VGGNetwork.Workspace, at places: [Int]) throws -> [Int] {
        guard let kept else { return places }
        var next = places
        for (k, (output, store)) in kept.outputs.enumerated() {
            let tensor = view.outputs[output.index]
            let part = keptPart(of: tensor, kept: output, codes: kept.codes)
            if output.codes { try backend.encodeReluCodes(tensor, maxPooled: output.maxPooled, codes: part) }
            try self.store(
                part, PlaneRegion(y: 0, x: 0, height: 1, width: part.shape.w), into: store,
                at: PlanePoint(y: 0, x: places[k]))
            next[k] += part.shape.w
        }
        return next
    }

    /// Puts back what pass 1 kept of the tile (at `places` in the stores) and runs the layers
    /// before the kept ones again over the tile's image; returns the workspace's view at its size.
    private func restoreTile(_ tile: TileGrid.Tile, of image: Tensor, from places: [Int]) throws -> VGGNetwork.Workspace
    {
        guard let kept else { throw StyleError("internal error: a tile restored without kept activations") }
        let view = try forwardTile(tile, of: image, through: kept.recomputedThrough)
        for ((output, store), place) in zip(kept.outputs, places) {
            let tensor = view.outputs[output.index]
            let part = keptPart(of: tensor, kept: output, codes: kept.codes)
            try load(store, PlaneRegion(y: 0, x: place, height: 1, width: part.shape.w), into: part)
            if output.codes { try backend.decodeReluCodes(part, output: tensor) }
        }
        return view
    }

    /// Where a kept output's part of its store goes through on the device: the `codes` buffer, or
    /// the output itself as channels × 1 × pixels.
    private func keptPart(of output: Tensor, kept: KeptOutput, codes: TensorStorage?) -> Tensor {
        if kept.codes, let codes { return Tensor(shape: .reluCodes(of: output.shape), storage: codes) }
        return Tensor(
            shape: Shape(c: output.shape.c, h: 1, w: output.shape.pixels), storage: output.storage,
            format: output.format)
    }

    /// The tile's interior at layer `index`, relative to the tile's own features.
    private func interior(_ tile: TileGrid.Tile, layer index: Int) -> PlaneRegion {
        let factor = factors[index]
        return tile.interior.pooled(by: factor).relative(to: tile.region.pooled(by: factor).origin)
    }

    /// The interior's features of layer `index` as a compact tensor (the features themselves
    /// when the interior is the whole tile).
    private func interiorFeatures(_ tile: TileGrid.Tile, layer index: Int, view: VGGNetwork.Workspace) throws -> Tensor
    {
        let features = view.outputs[index]
        let interior = interior(tile, layer: index)
        if interior.height == features.shape.h && interior.width == features.shape.w { return features }
        let compact = Tensor(
            shape: Shape(c: features.shape.c, h: interior.height, w: interior.width), storage: interiorFeatures,
            format: format)
        try backend.copyRegion(features, interior, to: compact, at: PlanePoint(y: 0, x: 0))
        return compact
    }

    /// gram += (M_interior / M) · G(interior): the interior's share of F Fᵀ / (C·M), M the
    /// pixels of the layer over the whole image; with `weights` (1×h×w over the whole image, on
    /// `state`) of the features times the weights.
    private func addPartialGram(
        _ tile: TileGrid.Tile, view: VGGNetwork.Workspace, globalPixels: Int, layer buffers: StyleLayerBuffers,
        weights: Tensor?, into gram: Tensor
    ) throws {
        let interior = interior(tile, layer: buffers.index)
        if interior.isEmpty { return }
        var features = try interiorFeatures(tile, layer: buffers.index, view: view)
        if let weights {
            features = try weighted(features, by: weights, at: tile.interior.pooled(by: factors[buffers.index]))
                .weighted
        }
        try backend.gram(features: features, output: buffers.tileGram)
        try backend.axpy(alpha: Float(Double(interior.pixels) / Double(globalPixels)), x: buffers.tileGram, y: gram)
    }

    /// `features` times `region` of `weights` (whole-image weights on `state`; the region has the
    /// features' size), in the weighted-features buffer; also returns the tile's weights and the
    /// weighted features' gradient buffer.
    private func weighted(
        _ features: Tensor, by weights: Tensor, at region: PlaneRegion
    ) throws -> (
        weighted: Tensor, weights: Tensor, gradient: Tensor
    ) {
        guard let maskBuffers else { throw StyleError("internal error: a weighted tile without mask buffers") }
        let shape = features.shape
        let part = Tensor(shape: Shape(c: 1, h: shape.h, w: shape.w), storage: maskBuffers.weights)
        try load(weights, region, into: part)
        let weighted = Tensor(shape: shape, storage: maskBuffers.weighted)
        try backend.multiplyByMask(features, mask: part, output: weighted, accumulate: false)
        return (weighted, part, Tensor(shape: shape, storage: maskBuffers.weightedGradient))
    }

    public func evaluate(image: Tensor, gradient: Tensor, iteration: Int) throws {
        let tiles = grid.tiles(offset: grid.offset(seed: seed, scale: scale, iteration: iteration))
        try backend.fill(scalars, value: 0)
        for buffers in styleLayers {
            for term in buffers.terms { try backend.fill(term.gram, value: 0) }
        }
        // Pass 1: the interiors' partial Grams and content terms, and what the backward pass reads
        // where it is kept (but the last tile's, still in the workspace for pass 3).
        var places: [[Int]] = []
        var next = kept.map { Array(repeating: 0, count: $0.outputs.count) } ?? []
        for (number, tile) in tiles.enumerated() {
            let view = try forwardTile(tile, of: image)
            try addTermsOfInterior(tile, view: view)
            if kept != nil, number < tiles.count - 1 {
                places.append(next)
                next = try keep(view, at: next)
            }
        }
        try addStyleLossAndGradient()
        // Pass 3: every tile backward with the global dG. In reverse order: the first is pass 1's
        // last, whose forward pass is still in the workspace.
        for (number, tile) in tiles.reversed().enumerated() {
            let view =
                number == 0
                ? try network.view(of: workspace, height: tile.region.height, width: tile.region.width)
                : kept != nil
                    ? try restoreTile(tile, of: image, from: places.removeLast()) : try forwardTile(tile, of: image)
            try backwardTile(tile, view: view, gradient: gradient)
        }
        // The temporal term is pixel-wise: over the whole image at once, after every tile's
        // gradient is in place.
        if let temporal {
            let scalars = temporalScalars ?? scalars
            if temporalScalars != nil { try state.fill(scalars, value: 0) }
            try temporal.add(image: image, on: state, scalars: scalars, gradient: gradient)
        }
    }

    /// The interior's partial Grams into the global ones and its content terms into slot 0.
    private func addTermsOfInterior(_ tile: TileGrid.Tile, view: VGGNetwork.Workspace) throws {
        for buffers in styleLayers {
            for term in buffers.terms {
                try addPartialGram(
                    tile, view: view, globalPixels: shapes[buffers.index].pixels, layer: buffers, weights: term.weights,
                    into: term.gram)
            }
        }
        for (index, target, scale) in contentLayers {
            let interior = interior(tile, layer: index)
            guard !interior.isEmpty, let interiorTarget else { continue }
            let features = try interiorFeatures(tile, layer: index, view: view)
            let expected = Tensor(shape: features.shape, storage: interiorTarget, format: format)
            try load(target, tile.interior.pooled(by: factors[index]), into: expected)
            try backend.meanSquaredError(
                features, expected, scale: share(features.count, of: target.count, scale),
                scalars: scalars, slot: 0, accumulate: true)
        }
    }

    /// The style loss (slot 1) and dG from the global Grams.
    private func addStyleLossAndGradient() throws {
        for term in styleLayers.flatMap(\.terms) {
            try backend.meanSquaredError(
                term.gram, term.target, scale: term.scale, scalars: scalars, slot: 1, accumulate: true)
            try backend.meanSquaredErrorGradient(
                term.gram, term.target, scale: term.scale, grad: term.gramGradient, accumulate: false)
        }
    }

    /// The tile backward (its forward pass in `view`) with the global dG and the content gradient
    /// over all its features (interior and halo), and its total variation; its interior's image
    /// gradient goes into place.
    private func backwardTile(_ tile: TileGrid.Tile, view: VGGNetwork.Workspace, gradient: Tensor) throws {
        let tileGradient = Tensor(
            shape: Shape(c: 3, h: tile.region.height, w: tile.region.width), storage: tileGradient)
        try network.backward(workspace: view, gradImage: tileGradient) { index, grad, reluMask in
            let features = view.outputs[index]
            if let (_, target, scale) = contentLayers.first(where: { $0.index == index }), let tileTarget {
                let expected = Tensor(shape: features.shape, storage: tileTarget, format: format)
                try load(target, tile.region.pooled(by: factors[index]), into: expected)
                try backend.meanSquaredErrorGradient(
                    features, expected, scale: share(features.count, of: target.count, scale),
                    grad: grad, accumulate: true)
            }
            var masked = false
            if let buffers = styleLayers.first(where: { $0.index == index }) {
                for (position, term) in buffers.terms.enumerated() {
                    // gramBackward divides by the tile's C·M_tile; the global N needs M_tile / M.
                    try backend.copy(term.gramGradient, to: buffers.tileGramGradient)
                    try backend.scale(
                        buffers.tileGramGradient,
                        by: Float(Double(features.shape.pixels) / Double(shapes[index].pixels)))
                    guard let weights = term.weights else {
                        // The last term added takes the ReLU's mask over the whole sum.
                        masked = reluMask && position == buffers.terms.count - 1
                        try backend.gramBackward(
                            gradGram: buffers.tileGramGradient, features: features, gradFeatures: grad,
                            accumulate: true, reluMasked: masked)
                        continue
                    }
                    // H = F ⊙ w: dF += w ⊙ dH.
                    let h = try weighted(features, by: weights, at: tile.region.pooled(by: factors[index]))
                    try backend.gramBackward(
                        gradGram: buffers.tileGramGradient, features: h.weighted, gradFeatures: h.gradient,
                        accumulate: false)
                    try backend.multiplyByMask(h.gradient, mask: h.weights, output: grad, accumulate: true)
                }
            }
            return masked
        }
        if weights.totalVariation != 0 { try addTotalVariation(tile, gradient: tileGradient) }
        try store(
            tileGradient, tile.interior.relative(to: tile.region.origin), into: gradient, at: tile.interior.origin)
    }

    /// The total variation's share of the tile: its gradient over the tile (at the interior it is
    /// the whole image's, as the halo holds every neighbour it reads and the region's edges are
    /// the image's where they meet) and its loss over the interior's anchors (the interior and
    /// the row and column after it, within the image).
    private func addTotalVariation(_ tile: TileGrid.Tile, gradient: Tensor) throws {
        let image = self.image(of: tile)
        try backend.totalVariationGradient(image, scale: weights.totalVariation, grad: gradient, accumulate: true)
        let interior = tile.interior
        let anchors = PlaneRegion(
            y: interior.y, x: interior.x, height: min(interior.height + 1, grid.height - interior.y),
            width: min(interior.width + 1, grid.width - interior.x))
        let compact = Tensor(shape: Shape(c: 3, h: anchors.height, w: anchors.width), storage: self.anchors)
        try backend.copyRegion(image, anchors.relative(to: tile.region.origin), to: compact, at: PlanePoint(y: 0, x: 0))
        try backend.totalVariation(compact, scale: weights.totalVariation, scalars: scalars, slot: 2, accumulate: true)
    }

    /// weight · part / whole: a term over `part` values whose mean must be taken over `whole`.
    private func share(_ part: Int, of whole: Int, _ weight: Float) -> Float {
        Float(Double(weight) * Double(part) / Double(whole))
    }

    public func readLosses() throws -> LossValues {
        let values = try backend.readScalars(scalars)
        let temporal = try temporalScalars.map { try state.readScalars($0)[3] } ?? values[3]
        return LossValues(content: values[0], style: values[1], totalVariation: values[2], temporal: temporal)
    }
}
