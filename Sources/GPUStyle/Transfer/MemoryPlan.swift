/// What a run will allocate on its device, computed before anything is allocated, from the
/// same structure the network, the objective and the optimiser build, with the weight layouts and
/// scratch the backend reports for it, and what it holds on the host. A run that does not fit
/// fails before any work with the largest `--image-size` that does.
public struct MemoryPlan: Equatable, Sendable {
    public var weightBytes: Int
    public var activationBytes: Int
    /// Content targets, style Grams and their gradients.
    public var targetBytes: Int
    /// Input images, the optimised image, its gradient, the last good copy, optimiser state, the
    /// iterate average and its last good copy.
    public var imageAndOptimizerBytes: Int
    /// What a style workspace adds beyond the main one: it exists only while the style targets
    /// are computed, before the main workspace is made (StyleObjective), so only its excess counts.
    public var transientBytes: Int
    /// The backend's own scratch (reduction partials, Gram slices, convolution workspaces).
    public var scratchBytes: Int
    public var largestBufferBytes: Int
    /// The same bytes, part by part.
    public var breakdown: Breakdown
    /// What the host holds: the images as read and at the scale's size (the content, the styles,
    /// the start or result being handed on, the image being written) and, when a tiled scale keeps
    /// its state on the host (`Tiling.stateOnHost`), the whole image's state and a tile's staging.
    public var hostBytes: Int
    /// What a tiled scale keeps of its tiles between its passes on the device
    /// (`Tiling.keepsActivations`): with the state on the device the stores, and one tile's codes.
    public var keptBytes: Int

    public var totalBytes: Int {
        weightBytes + activationBytes + targetBytes + imageAndOptimizerBytes + transientBytes + scratchBytes
            + keptBytes
    }

    /// The plan for a run whose output is height × width and whose styles have the given sizes;
    /// with `tiling`, a `TiledObjective`'s: one workspace of the largest tile (styles included), the
    /// tile's image and gradient and its compact buffers, beside the whole image's state (on the
    /// host instead with `tiling.stateOnHost`). `inputPixels`: the content and styles as read.
    /// With `storage` half on a backend with 16-bit buffers, the workspaces are
    /// `HalfWorkspaceLayout`'s and the content targets (on the device) and a tiled objective's
    /// compact copies of layer outputs halves.
    public init(
        model: VGGModel = .vgg19, layers selection: LayerSelection, height: Int, width: Int,
        styleSizes: [(height: Int, width: Int)], optimization: OptimizationSettings, backend: Backend,
        tiling: Tiling? = nil, maskedStyles: Bool = false, inputPixels: Int = 0, storage: ActivationStorage = .float
    ) throws {
        let floatBytes = MemoryLayout<Float>.size
        let deepest = try selection.deepestLayer(in: model)
        let layers = Array(model.layers[0...deepest])
        let contentIndices = Set(try selection.content.map(model.index(of:)))
        let styleIndices = Set(try selection.style.map(model.index(of:)))
        let observed = contentIndices.union(styleIndices)
        let uploaded = model.convolutions.prefix(model.convolutionCount(upTo: deepest))

        weightBytes = uploaded.reduce(0) {
            $0 + backend.convWeightBytes(outputChannels: $1.outputChannels, inputChannels: $1.inputChannels)
        }
        /// Bytes of a layer output's value, a half or a float.
        let activationValueBytes =
            VGGNetwork.outputStorage(storage: storage, backend: backend).valueBytes
        /// A workspace (VGGNetwork.makeWorkspace): its buffers as `WorkspaceLayout` shares them, or
        /// its one allocation (`HalfWorkspaceLayout`), where what is not the backward pass's
        /// activations counts as gradients.
        func workspace(height: Int, width: Int, observed: Set<Int>) -> (bytes: Int, largest: Int, gradients: Int) {
            if let half = VGGNetwork.halfLayout(
                layers: layers, height: height, width: width, observed: observed, backend: backend, storage: storage)
            {
                let read = MemoryPlan.backwardReadFloats(
                    layers: layers, shapes: VGGNetwork.shapes(of: layers, height: height, width: width),
                    observed: observed)
                return (half.bytes, half.bytes, half.bytes - read * activationValueBytes)
            }
            let layout = VGGNetwork.layout(
                layers: layers, height: height, width: width, observed: observed,
                backend: backend)
            return (
                layout.totalFloats * floatBytes, (layout.buffers.max() ?? 0) * floatBytes,
                layout.gradientFloats * floatBytes
            )
        }
        // The size the workspace is made at: the image, or the largest tile of any grid.
        let grids = try tiling.map { tiling in
            try ([(height: height, width: width)] + styleSizes).map {
                try TileGrid(height: $0.height, width: $0.width, tileSize: tiling.tileSize, halo: tiling.halo)
            }
        }
        let tile = grids.map(TiledObjective.largestTile)
        let computed = tile ?? (height: height, width: width)
        let main = workspace(height: computed.height, width: computed.width, observed: observed)
        activationBytes = main.bytes
        let shapes = VGGNetwork.shapes(of: layers, height: height, width: width)
        let gramsPerLayer = tiling == nil ? 3 : 5
        let grams = styleIndices.reduce(0) { $0 + gramsPerLayer * layers[$1].channels * layers[$1].channels }
        /// Floats of `count` layer-output values (two halves to a float, each buffer a whole number).
        func layerFloats(_ count: Int) -> Int { (count * activationValueBytes + 3) / 4 }
        let onHost = tiling?.stateOnHost ?? false
        // What a tiled scale keeps of its tiles (the stores on the state's side).
        let kept = try tiling.flatMap { tiling in
            try tile.flatMap { tile in
                tiling.keepsActivations
                    ? TiledObjective.keptBytes(
                        layers: layers, observed: observed,
                        grid: try TileGrid(height: height, width: width, tileSize: tiling.tileSize, halo: tiling.halo),
                        largest: tile, valueBytes: onHost ? floatBytes : activationValueBytes) : nil
            }
        }
        keptBytes = (kept?.codes ?? 0) + (onHost ? 0 : kept?.store ?? 0)
        // The content targets: layer outputs, float32 on the host.
        let contentTargets = contentIndices.reduce(0) {
            $0 + (onHost ? shapes[$1].count : layerFloats(shapes[$1].count))
        }
        let values = tiling.flatMap { tiling in
            tile.map {
                TiledObjective.compactValues(
                    layers: layers, tiling: tiling, largest: $0, content: contentIndices, style: styleIndices)
            }
        }
        let tilePixels = tile.map { $0.height * $0.width } ?? 0
        let compact =
            values.map {
                layerFloats($0.interior) + layerFloats($0.contentInterior) + layerFloats($0.contentTile) + $0.anchors
                    + 2 * 3 * tilePixels
            } ?? 0
        // Masked styles (MaskedStyleLoss, TiledObjective): a target per style and layer instead of
        // one blended one (tiled, with its own Gram and dG), the two weighted-feature buffers of
        // the largest style layer (tiled: of the largest tile, and the tile's weights); on the
        // state's side each style's mask and its per-layer weights, and the first pooled mask
        // while the weights are made.
        let styleGrams = styleIndices.reduce(0) { $0 + layers[$1].channels * layers[$1].channels }
        let weightedShapes = tile.map { VGGNetwork.shapes(of: layers, height: $0.height, width: $0.width) } ?? shapes
        let maskFloats =
            maskedStyles
            ? styleSizes.count * (height * width + styleIndices.reduce(0) { $0 + shapes[$1].pixels })
                + height * width / 4 : 0
        let masked =
            maskedStyles
            ? (tile == nil ? 1 : 3) * (styleSizes.count - 1) * styleGrams
                + 2 * (styleIndices.map { weightedShapes[$0].count }.max() ?? 0)
                + (tile == nil ? 0 : styleIndices.map { weightedShapes[$0].pixels }.max() ?? 0) : 0
        let image = 3 * height * width
        let optimizerVectors =
            (optimization.optimizer == .adam ? 2 : 2 + 2 * (optimization.lbfgsHistory + 1))
            + (optimization.averageDecay > 0 ? 2 : 0)
        let styleImages = styleSizes.reduce(0) { $0 + 3 * $1.height * $1.width }
        // The whole image's state: the content image, the image, its gradient, its last good copy,
        // the optimiser's vectors and the styles as uploaded; the content targets.
        let stateFloats = image * (4 + optimizerVectors) + styleImages
        targetBytes =
            ((onHost ? 0 : contentTargets + maskFloats) + grams + LossValues.slotCount + compact + masked) * floatBytes
        imageAndOptimizerBytes = onHost ? 0 : stateFloats * floatBytes
        // The host's copy of one transfer: a tile's image or gradient, or a content target's region.
        let staging = max(3 * tilePixels, values?.contentTile ?? 0, kept?.stagingFloats ?? 0)
        let hostImages = 3 * inputPixels + 4 * image + styleImages
        hostBytes =
            (hostImages + (onHost ? stateFloats + contentTargets + maskFloats + staging : 0)) * floatBytes
            + (onHost ? kept?.store ?? 0 : 0)
        let backwardActivations =
            MemoryPlan.backwardReadFloats(layers: layers, shapes: shapes, observed: observed) * activationValueBytes
        let rawWeights = uploaded.reduce(0) {
            $0 + ($1.outputChannels * $1.inputChannels * 9 + $1.outputChannels) * floatBytes
        }
        let gradientArenas = main.gradients
        // Tiled, every style runs through views of the one workspace.
        let styleWorkspaces = styleSizes.filter { tile == nil && ($0.height != height || $0.width != width) }
            .map { workspace(height: $0.height, width: $0.width, observed: styleIndices) }
        transientBytes = max(0, (styleWorkspaces.map(\.bytes).max() ?? 0) - activationBytes)
        let wholeImageBuffers =
            tile == nil || onHost ? [] : contentIndices.map { shapes[$0].count * floatBytes } + [image * floatBytes]
        largestBufferBytes = ([main.largest] + styleWorkspaces.map(\.largest) + wholeImageBuffers).max() ?? 0

        var convolutions: Set<ConvolutionShape> = []
        var gramShapes: [Shape] = []
        // The maps the network runs on; tiled, at each width a tile's region has, its tallest.
        let maps = grids?.flatMap { grid in
            let regions = grid.regionSizes
            return regions.widths.map { (height: regions.tallest, width: $0) }
        }
        for size in maps ?? [(height: height, width: width)] + styleSizes {
            let shapes = VGGNetwork.shapes(of: layers, height: size.height, width: size.width)
            var convIndex = 0
            for (index, layer) in layers.enumerated() {
                if case .conv = layer.kind {
                    let input = index > 0 ? shapes[index - 1] : Shape(c: 3, h: size.height, w: size.width)
                    defer { convIndex += 1 }
                    convolutions.insert(
                        ConvolutionShape(
                            layer: convIndex, inputChannels: input.c, outputChannels: shapes[index].c,
                            height: shapes[index].h, width: shapes[index].w, coversShorterMaps: tiling != nil))
                }
            }
            gramShapes += styleIndices.map { shapes[$0] }
        }
        scratchBytes = backend.scratchBytes(convolutions: Array(convolutions), grams: gramShapes)
        breakdown = Breakdown(
            backwardActivationBytes: backwardActivations, rawWeightBytes: rawWeights,
            optimizerStateBytes: onHost ? 0 : image * optimizerVectors * floatBytes,
            forwardOnlyActivationBytes: activationBytes - gradientArenas - backwardActivations,
            gradientArenaBytes: gradientArenas, weightLayoutBytes: weightBytes - rawWeights,
            contentTargetBytes: ((onHost ? 0 : contentTargets) + compact) * floatBytes,
            gramBytes: (grams + LossValues.slotCount + masked + (onHost ? 0 : maskFloats)) * floatBytes,
            imageBytes: onHost ? 0 : (image * 4 + styleImages) * floatBytes, styleWorkspaceBytes: transientBytes,
            scratchBytes: scratchBytes, keptActivationBytes: keptBytes)
    }

    /// What the plan's bytes are, split into issue 7's memory floor (what any implementation of
    /// the run must hold: the activations backward reads, one copy of the weights, the optimiser
    /// state) and everything this one holds beyond it. The parts sum to `totalBytes`.
    public struct Breakdown: Codable, Equatable, Sendable {
        // The floor.
        /// Layer outputs the backward pass reads: ReLU outputs (its masks), pooling inputs (max
        /// routing) and the outputs the losses read. A conv fused with its ReLU counts once.
        public var backwardActivationBytes: Int
        /// The conv layers' parameters as stored, one copy: O·I·9 + O floats per uploaded layer.
        public var rawWeightBytes: Int
        /// The optimiser's state vectors: Adam's m and v (two image-sized tensors); for L-BFGS its
        /// direction, gradient copy and s/y history.
        public var optimizerStateBytes: Int
        // Beyond the floor.
        /// Outputs the backward pass never reads that could not borrow a later layer's buffer
        /// (`WorkspaceLayout`): the preprocessed input and pooling outputs, when nothing after them fits.
        public var forwardOnlyActivationBytes: Int
        /// Where the backward pass starts (the gradient of the deepest layer's output) and, when a
        /// pooling layer cannot run its backward in place, the arena for its input gradient.
        public var gradientArenaBytes: Int
        /// What the backend's weight layouts hold beyond one raw copy (the flipped backward-data
        /// copy, padding to the tile width).
        public var weightLayoutBytes: Int
        /// Content targets (copies of the content image's activations).
        public var contentTargetBytes: Int
        /// Per style layer its target Gram, the image's Gram and its gradient; the loss scalars;
        /// with style masks, the masks, their per-layer weights and the weighted features.
        public var gramBytes: Int
        /// Content, style and optimised images, the image gradient, the last good image.
        public var imageBytes: Int
        /// What the workspace of a style image of another size needs beyond the main workspace
        /// (made after it is released): zero unless that style image is the larger.
        public var styleWorkspaceBytes: Int
        /// The backend's own scratch (reduction partials, Gram slices).
        public var scratchBytes: Int
        /// What a tiled scale keeps of its tiles between its passes (`MemoryPlan.keptBytes`).
        public var keptActivationBytes: Int

        /// Issue 7's denominator: backward activations + raw weights + optimiser state.
        public var floorBytes: Int { backwardActivationBytes + rawWeightBytes + optimizerStateBytes }

        /// The parts beyond the floor, largest first, with the names the bench prints.
        public var beyondFloor: [(name: String, bytes: Int)] {
            [
                ("style workspace", styleWorkspaceBytes), ("gradient buffers", gradientArenaBytes),
                ("weight layouts", weightLayoutBytes), ("forward-only activations", forwardOnlyActivationBytes),
                ("content targets", contentTargetBytes), ("Grams", gramBytes), ("images", imageBytes),
                ("scratch", scratchBytes), ("kept activations", keptActivationBytes),
            ].sorted { $0.bytes > $1.bytes }
        }

        public var totalBytes: Int { floorBytes + beyondFloor.reduce(0) { $0 + $1.bytes } }
    }

    /// Floats of the layer outputs the backward pass reads (see `Breakdown.backwardActivationBytes`),
    /// each tensor once: a fused conv shares its ReLU's.
    static func backwardReadFloats(layers: [VGGModel.Layer], shapes: [Shape], observed: Set<Int>) -> Int {
        backwardReadLayers(layers: layers, observed: observed).reduce(0) { $0 + shapes[$1].count }
    }

    /// The layers whose outputs the backward pass and the losses read, in order, each tensor once:
    /// a fused conv's index stands for its ReLU's output (the same tensor).
    static func backwardReadLayers(layers: [VGGModel.Layer], observed: Set<Int>) -> [Int] {
        var tensors = Set<Int>()
        for index in layers.indices {
            let nextIsPool = index + 1 < layers.count && layers[index + 1].kind == .pool
            guard layers[index].kind == .relu || observed.contains(index) || nextIsPool else { continue }
            let fusedIntoPrevious = index > 0 && VGGNetwork.fusesWithNext(index - 1, layers: layers, observed: observed)
            tensors.insert(fusedIntoPrevious ? index - 1 : index)
        }
        return tensors.sorted()
    }

    /// Whether the plan fits a device's capacity and `hostMemory` bytes of the host (which also
    /// hold the device's bytes when the device's memory is the host's).
    public func fits(_ capacity: MemoryCapacity, hostMemory: UInt64 = .max) -> Bool {
        UInt64(totalBytes) <= capacity.totalBytes && UInt64(largestBufferBytes) <= capacity.largestBufferBytes
            && UInt64(hostBytes + (capacity.sharesHostMemory ? totalBytes : 0)) <= hostMemory
    }
}

extension StyleJobOptions {
    /// The plan at `imageSize` for inputs of the given original sizes (tiled with `tiling`).
    func memoryPlan(
        model: VGGModel = .vgg19, imageSize: Int, content: (width: Int, height: Int),
        styles: [(width: Int, height: Int)], backend: Backend, tiling: Tiling? = nil
    ) throws -> MemoryPlan {
        let output = RGBImage.size(width: content.width, height: content.height, maxSide: imageSize)
        let styleSide = StyleJobOptions.styleSide(imageSize: imageSize, scale: styleScale)
        let styleSizes = styles.map { RGBImage.size(width: $0.width, height: $0.height, maxSide: styleSide) }
            .map { (height: $0.height, width: $0.width) }
        return try MemoryPlan(
            model: model, layers: layers, height: output.height, width: output.width, styleSizes: styleSizes,
            optimization: optimization, backend: backend, tiling: tiling,
            maskedStyles: styleMaskPaths != nil || styleSourceMaskPaths != nil,
            inputPixels: ([content] + styles).reduce(0) { $0 + $1.width * $1.height }, storage: storage ?? .float)
    }

    /// Longest side of the style images at an output size.
    static func styleSide(imageSize: Int, scale: Double) -> Int {
        max(16, Int((Double(imageSize) * scale).rounded()))
    }

    /// Per scale, how it is tiled (nil: the whole image at once) and where its whole-image state
    /// lives, decided before anything is allocated. With `--tile-size`, every scale larger than
    /// one tile, the state on the device if it fits there. Else a scale whose whole image does
    /// not fit tiles with the largest tile size that fits: with the state on the device when
    /// that tile is at least `Tiling.efficientTileSize` (or as large as with the state on the
    /// host), else with the state on the host. Tiles keep their activations between passes as
    /// --tile-activations says: keep lays the scale out with them, auto where they fit, their
    /// copies stay in the device's memory and the scale computes fewer pixels so (smaller tiles,
    /// one forward pass less). Throws when a scale fits no way, naming the largest --image-size that
    /// fits. `hostMemory`: what the host may allocate.
    func tilings(
        _ capacity: MemoryCapacity, hostMemory: UInt64 = .max, model: VGGModel = .vgg19, backend: Backend,
        content: (width: Int, height: Int), styles: [(width: Int, height: Int)]
    ) throws -> [Tiling?] {
        try scalePlan().sides.map { side -> Tiling? in
            let size = RGBImage.size(width: content.width, height: content.height, maxSide: side)
            func plan(_ tiling: Tiling?, imageSize: Int = side) throws -> MemoryPlan {
                try memoryPlan(
                    model: model, imageSize: imageSize, content: content, styles: styles, backend: backend,
                    tiling: tiling)
            }
            func fits(_ tiling: Tiling?, imageSize: Int = side) throws -> Bool {
                try plan(tiling, imageSize: imageSize).fits(capacity, hostMemory: hostMemory)
            }
            /// Whole, or in tiles of `tileSize` with the state on the device or on the host.
            func fitsSomehow(imageSize: Int, tileSize: Int) throws -> Bool {
                try fits(nil, imageSize: imageSize)
                    || fits(Tiling(tileSize: tileSize), imageSize: imageSize)
                    || fits(Tiling(tileSize: tileSize, stateOnHost: true), imageSize: imageSize)
            }
            let refusal = { (tileSize: Int) in
                try self.refuse(
                    plan: try plan(Tiling(tileSize: tileSize, stateOnHost: true)), capacity, hostMemory: hostMemory,
                    backend: backend, imageSize: side
                ) { try fitsSomehow(imageSize: $0, tileSize: tileSize) }
            }
            /// How the scale is tiled and where its state lives, keeping its tiles' activations or not.
            func layout(keeps: Bool) throws -> Tiling? {
                if let tileSize {
                    guard max(size.width, size.height) > tileSize else {
                        if try fits(nil) { return nil }
                        throw try refusal(tileSize)
                    }
                    for stateOnHost in [false, true] {
                        let tiling = Tiling(tileSize: tileSize, stateOnHost: stateOnHost, keepsActivations: keeps)
                        if try fits(tiling) { return tiling }
                    }
                    throw try refusal(tileSize)
                }
                if try fits(nil) { return nil }
                // The largest tile size (a multiple of the alignment) whose plan fits; 0: none.
                func largestTile(stateOnHost: Bool) throws -> Int {
                    let alignment = TileGrid.alignment
                    var low = 0
                    var high = (max(size.width, size.height) + alignment - 1) / alignment
                    while high - low > 1 {
                        let middle = (low + high) / 2
                        if try fits(
                            Tiling(tileSize: middle * alignment, stateOnHost: stateOnHost, keepsActivations: keeps))
                        {
                            low = middle
                        } else {
                            high = middle
                        }
                    }
                    return low * alignment
                }
                let onDevice = try largestTile(stateOnHost: false)
                let onHost = try largestTile(stateOnHost: true)
                if onDevice > 0, onDevice >= min(onHost, Tiling.efficientTileSize) {
                    return Tiling(tileSize: onDevice, keepsActivations: keeps)
                }
                if onHost > 0 { return Tiling(tileSize: onHost, stateOnHost: true, keepsActivations: keeps) }
                throw try refusal(TileGrid.alignment)
            }
            /// The pixels a tiled iteration computes, at offset 0, in forward passes: a tile's region
            /// forward once and backward (about one forward: docs/DESIGN.md, Reference figures), and
            /// forward again unless its activations are kept.
            func work(_ tiling: Tiling) throws -> Double {
                let grid = try TileGrid(
                    height: size.height, width: size.width, tileSize: tiling.tileSize, halo: tiling.halo)
                return Double(grid.tiles().reduce(0) { $0 + $1.region.pixels }) * (tiling.keepsActivations ? 2 : 3)
            }
            switch tileActivations ?? .auto {
            case .recompute: return try layout(keeps: false)
            case .keep:
                do {
                    return try layout(keeps: true)
                } catch {
                    // Where recomputing fits, say what keeping needs.
                    guard let plain = try? layout(keeps: false) else { throw error }
                    throw StyleError(
                        "--tile-activations keep does not fit at --image-size \(side)"
                            + " (recomputing, tiles of \(plain.tileSize) px fit)"
                            + "; use --tile-activations recompute, a smaller --tile-size or a smaller --image-size")
                }
            case .auto:
                // Kept where the copies stay in the device's memory and they make the least work.
                guard let plain = try layout(keeps: false) else { return nil }
                guard let kept = try? layout(keeps: true), !kept.stateOnHost || capacity.sharesHostMemory else {
                    return plain
                }
                return try work(kept) < work(plain) ? kept : plain
            }
        }
    }

    /// The error for a run whose `plan` (at `imageSize`, its smallest way) does not fit, naming
    /// the largest --image-size at which `fitsAt` holds.
    private func refuse(
        plan: MemoryPlan, _ capacity: MemoryCapacity, hostMemory: UInt64, backend: Backend, imageSize: Int,
        fitsAt: (Int) throws -> Bool
    ) throws -> StyleError {
        var low = 0
        var high = imageSize
        while high - low > 1 {
            let middle = (low + high) / 2
            if try fitsAt(middle) { low = middle } else { high = middle }
        }
        let advice =
            low >= 16
            ? "the largest --image-size that fits is \(low)" : "even --image-size 16 does not fit; use another --device"
        let host = UInt64(plan.hostBytes + (capacity.sharesHostMemory ? plan.totalBytes : 0))
        let hostPart =
            hostMemory == .max ? "" : " and \(host >> 20) MiB of host memory (\(hostMemory >> 20) MiB available)"
        return StyleError(
            "the run needs \(plan.totalBytes >> 20) MiB (largest buffer \(plan.largestBufferBytes >> 20) MiB)"
                + "\(hostPart) at --image-size \(imageSize), but \(backend.name) has \(capacity.totalBytes >> 20) MiB "
                + "(largest buffer \(capacity.largestBufferBytes >> 20) MiB); \(advice)")
    }
}
