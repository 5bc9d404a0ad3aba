import Foundation

/// Where the optimised image starts.
public enum Initialization: Equatable, Codable, Sendable, CustomStringConvertible {
    case content
    /// Uniform noise in 0…255 from `--seed`.
    case random
    /// An image file, resized to the output size.
    case image(path: String)

    public init(_ text: String) {
        switch text.lowercased() {
        case "content": self = .content
        case "random", "noise": self = .random
        default: self = .image(path: text)
        }
    }

    public var description: String {
        switch self {
        case .content: return "content"
        case .random: return "random"
        case .image(let path): return path
        }
    }
}

/// Everything a stylisation needs to know, as the command line gives it.
public struct StyleJobOptions: Equatable, Codable, Sendable {
    public var contentPath: String
    public var stylePaths: [String]
    /// Longest side of the output, in pixels.
    public var imageSize: Int = 512
    /// Style images are resized to imageSize × styleScale (longest side).
    public var styleScale: Double = 1
    /// One weight per style (normalised to sum 1); nil: equal.
    public var styleBlendWeights: [Float]? = nil
    public var layers = LayerSelection()
    public var lossWeights = LossWeights()
    public var optimization = OptimizationSettings()
    public var initialization: Initialization = .content
    public var seed: UInt64 = 0
    public var pooling: PoolMode = .max
    public var originalColors = false
    public var maxPixels = 100_000_000
    /// `--preprocessing`: overrides the flavour detected from the weights (nil: detect).
    public var preprocessing: Preprocessing? = nil
    /// Number of scales (nil: chosen from imageSize, `ScalePlan`).
    public var scales: Int? = nil
    /// Longest side of the smallest scale (nil: `ScalePlan`'s default).
    public var minSize: Int? = nil
    /// Iterations of the first scale (nil: optimization.iterations, as every other scale).
    public var initialIterations: Int? = nil
    /// `--style-masks`: one grayscale image per style, white where it applies (nil: none).
    public var styleMaskPaths: [String]? = nil
    /// `--style-source-masks`: one per style, white where its style is taken from (nil: all of it).
    public var styleSourceMaskPaths: [String]? = nil
    /// `--preserve-colors match` (`luminance` is `originalColors`, its older spelling).
    public var preserveColors: ColorPreservation? = nil
    /// `--style-layer-weights`, `--content-layer-weights`: one per layer (nil: 1 each).
    public var styleLayerWeights: [Float]? = nil
    public var contentLayerWeights: [Float]? = nil
    /// `--tile-size`: tiles every scale larger than one tile (nil: only a scale that does not fit).
    public var tileSize: Int? = nil
    /// `--tile-activations` (nil: auto).
    public var tileActivations: TileActivations? = nil
    /// `--storage`: how layer outputs are kept (nil: float32; half rounds them to float16).
    public var storage: ActivationStorage? = nil

    /// What to try after a NaN or infinite loss: a lower learning rate, and float32 storage when
    /// float16's range (65504; layer outputs reach 2·10⁴ on the examples) may have overflowed.
    public var nonFiniteAdvice: String {
        "try a lower --learning-rate (this run used \(optimization.effectiveLearningRate))"
            + (storage == .half ? " or --storage float (float16 holds at most 65504)" : "")
    }

    /// The largest --image-size: beyond it the sizes the memory plan counts would overflow.
    public static let maxImageSize = 65536

    public init(contentPath: String, stylePaths: [String]) {
        self.contentPath = contentPath
        self.stylePaths = stylePaths
    }

    /// Checks what can be checked without reading files; throws one clear line.
    public func validate() throws {
        if stylePaths.isEmpty { throw StyleError("give at least one style image") }
        if !(16...StyleJobOptions.maxImageSize).contains(imageSize) {
            throw StyleError("--image-size must be 16…\(StyleJobOptions.maxImageSize) (got \(imageSize))")
        }
        if !(styleScale > 0) || styleScale > 16 {
            throw StyleError("--style-scale must be in (0, 16] (got \(styleScale))")
        }
        if optimization.iterations < 1 {
            throw StyleError("--iterations must be at least 1 (got \(optimization.iterations))")
        }
        if let initial = initialIterations, initial < 1 {
            throw StyleError("--initial-iterations must be at least 1 (got \(initial))")
        }
        let decay = optimization.averageDecay
        if !(decay >= 0 && decay < 1) {
            throw StyleError(
                "--average-decay must be in [0, 1): 0 turns averaging off, 0.9–0.99 are usual (got \(decay))")
        }
        _ = try scalePlan()
        if let tileSize, tileSize < TileGrid.alignment || tileSize % TileGrid.alignment != 0 {
            throw StyleError(
                "--tile-size must be a positive multiple of \(TileGrid.alignment), the network's pooling factor (got \(tileSize))"
            )
        }
        if let rate = optimization.learningRate, !(rate > 0) || !rate.isFinite {
            throw StyleError("--learning-rate must be a positive number (got \(rate))")
        }
        if optimization.lbfgsHistory < 1 { throw StyleError("--history-size must be at least 1") }
        for (name, value) in [
            ("--content-weight", lossWeights.content), ("--style-weight", lossWeights.style),
            ("--tv-weight", lossWeights.totalVariation),
        ] where !(value >= 0) || !value.isFinite {
            throw StyleError("\(name) must be a non-negative number (got \(value))")
        }
        if layers.style.isEmpty { throw StyleError("--style-layers names no layer; give at least one, e.g. relu1_1") }
        if layers.content.isEmpty, lossWeights.content > 0 {
            throw StyleError(
                "--content-layers names no layer; give at least one, or --content-weight 0 to leave the content out")
        }
        try layers.validate()
        _ = try normalisedBlendWeights()
        try validateControls()
    }

    /// The spatial, colour and layer-weight controls (issue 23): counts and values.
    func validateControls() throws {
        for (option, paths) in [("--style-masks", styleMaskPaths), ("--style-source-masks", styleSourceMaskPaths)] {
            guard let paths else { continue }
            if paths.count != stylePaths.count {
                throw StyleError(
                    "\(option) has \(paths.count) image\(paths.count == 1 ? "" : "s") for \(stylePaths.count) style image\(stylePaths.count == 1 ? "" : "s"); give one mask per style, in the same order"
                )
            }
        }
        if styleMaskPaths != nil || styleSourceMaskPaths != nil, styleBlendWeights != nil {
            throw StyleError(
                "--style-blend-weights cannot be used with --style-masks or --style-source-masks: each masked style has its own term; drop the blend weights"
            )
        }
        if originalColors, let preserve = preserveColors, preserve != .luminance {
            throw StyleError("--original-colors is --preserve-colors luminance; drop one of them")
        }
        for (option, weights, names) in [
            ("--style-layer-weights", styleLayerWeights, layers.style),
            ("--content-layer-weights", contentLayerWeights, layers.content),
        ] {
            guard let weights else { continue }
            if weights.count != names.count {
                throw StyleError(
                    "\(option) has \(weights.count) value\(weights.count == 1 ? "" : "s") for \(names.count) layer\(names.count == 1 ? "" : "s") (\(names.joined(separator: ","))); give one per layer"
                )
            }
            if let bad = weights.first(where: { !($0 >= 0) || !$0.isFinite }) {
                throw StyleError("\(option) must be non-negative numbers (got \(bad))")
            }
        }
    }

    /// How the result keeps the content's colours: `--preserve-colors`, or `--original-colors`.
    public var colorPreservation: ColorPreservation? { originalColors ? .luminance : preserveColors }

    /// Throws, before any work, when an image at its working size is smaller than the deepest
    /// layer needs, with the --image-size or --style-scale that is enough, or, for a shape too
    /// elongated for any sensible size, the advice to crop.
    /// With several scales the smallest decides, and the advice names --min-size.
    func checkLargeEnough(model: VGGModel, content: RGBImage, styles: [RGBImage]) throws {
        let deepest = try layers.deepestLayer(in: model)
        let minimum = model.minimumImageSide(deepestLayer: deepest)
        let plan = try scalePlan()
        let smallest = plan.sides[0]
        let styleSide = StyleJobOptions.styleSide(imageSize: smallest, scale: styleScale)
        let images = [(contentPath, content, smallest)] + zip(stylePaths, styles).map { ($0, $1, styleSide) }
        for (index, (path, image, side)) in images.enumerated() {
            let working = RGBImage.size(width: image.width, height: image.height, maxSide: side)
            guard min(working.width, working.height) < minimum else { continue }
            // Resizing rounds the short side, so (minimum − ½)·long/short is the first side that is enough.
            let longer = Double(max(image.width, image.height)), shorter = Double(min(image.width, image.height))
            let needed = Int(((Double(minimum) - 0.5) * longer / shorter).rounded(.up))
            let advice: String
            if needed > 8192 {
                advice = "its shape (\(image.width)×\(image.height)) is too elongated for any sensible size; crop it"
            } else if index == 0 {
                advice = "use --\(plan.sides.count > 1 ? "min-size" : "image-size") \(needed) or more"
            } else {
                advice =
                    "use --style-scale \(String(format: "%.2f", Double(needed) / Double(smallest) + 0.005)) or more"
            }
            throw StyleError(
                "\(path) at \(working.width)×\(working.height) is too small for layers up to "
                    + "\(model.layers[deepest].name) (its short side needs \(minimum) px); \(advice)")
        }
    }

    /// The sizes of the run's scales.
    public func scalePlan() throws -> ScalePlan {
        try ScalePlan(imageSize: imageSize, scales: scales, minSize: minSize)
    }

    /// Iterations at a scale: --initial-iterations at the first, --iterations at every other.
    public func iterations(atScale scale: Int) -> Int {
        scale == 0 ? (initialIterations ?? optimization.iterations) : optimization.iterations
    }

    /// Iterations of the scales before `scale`: where its iteration 0 sits in the whole run.
    public func iterationsBefore(scale: Int) -> Int {
        (0..<scale).reduce(0) { $0 + iterations(atScale: $1) }
    }

    /// The iterations after which `--save-every N` writes a frame, numbered from the start of the
    /// whole run: every N-th iteration of each scale.
    public func frameIterations(every: Int) throws -> [Int] {
        guard every > 0 else { return [] }
        return try scalePlan().sides.indices.flatMap { scale in
            stride(from: every, through: iterations(atScale: scale), by: every).map {
                iterationsBefore(scale: scale) + $0
            }
        }
    }

    /// Blend weights summing to 1, one per style.
    public func normalisedBlendWeights() throws -> [Float] {
        guard let weights = styleBlendWeights else {
            return Array(repeating: 1 / Float(max(stylePaths.count, 1)), count: stylePaths.count)
        }
        guard weights.count == stylePaths.count else {
            throw StyleError("--style-blend-weights has \(weights.count) values for \(stylePaths.count) style images")
        }
        guard weights.allSatisfy({ $0 >= 0 && $0.isFinite }), weights.reduce(0, +) > 0 else {
            throw StyleError("--style-blend-weights must be non-negative with a positive sum")
        }
        let sum = weights.reduce(0, +)
        return weights.map { $0 / sum }
    }
}

/// A stylisation set up on a backend: images read, weights uploaded once, and the run of one
/// scale at a time (its images resized, targets computed, ready to iterate); `advance()` moves
/// a coarse-to-fine run to its next scale.
public final class StyleJob {
    public let options: StyleJobOptions
    public let backend: Backend
    public let scales: ScalePlan
    /// The content image at the output size.
    public let content: RGBImage
    /// The style images at their working sizes for the output size.
    public let styles: [RGBImage]
    public let network: VGGNetwork
    private let originalContent: RGBImage
    private let originalStyles: [RGBImage]
    /// `--style-masks` and `--style-source-masks` as read (resized at every scale).
    private let styleMasks: [StyleMaskImage]?
    private let sourceMasks: [StyleMaskImage]?
    /// The --init image or noise at the first scale's size (nil: the content).
    private let initial: [Float]?
    /// Style targets of earlier jobs on the same network (a batch's or a video's; nil: one run).
    private let targetCache: StyleTargetCache?
    /// A video frame's temporal term: every scale adds it (the warped image and the mask resized
    /// to the scale), and the first scale starts from the warped image.
    public let temporal: TemporalGuide?
    /// Per scale, its tiles (nil: the whole image at once), decided with the memory plan.
    public let tilings: [Tiling?]
    /// The current scale's run and content image; nil only while `advance()` replaces them.
    private var stage: (run: StyleTransferRun, content: RGBImage)?
    /// Holds a tiled scale's whole-image state when the plan puts it on the host.
    private lazy var host = NativeBackend()

    /// The content image's size as read (the scales' sizes follow from it).
    public var inputSize: (width: Int, height: Int) { (originalContent.width, originalContent.height) }

    /// The current scale's run.
    public var run: StyleTransferRun {
        guard let stage else { preconditionFailure("StyleJob.run read while its scale is being replaced") }
        return stage.run
    }

    /// - Parameters:
    ///   - weightsSHA256: the weights file's digest when the caller has it, so that a published
    ///     file is known by its checksum (`WeightsIdentity`).
    ///   - resume: a saved state to continue from, at its scale.
    ///   - networks: a batch's cache: the weights already on the backend are reused when they fit.
    ///   - temporal: a video frame's temporal term (the run starts from its warped image).
    ///   - note: receives one-line notes (alpha composited, EXIF applied, bytes uploaded …).
    ///   - memory: the device's capacity and the host's memory the plan uses (nil: the backend's
    ///     and `HostMemory`'s, with the environment's overrides).
    public init(
        options: StyleJobOptions, weightsPath: String, weightsSHA256: String? = nil, backend: Backend,
        resume: RunState? = nil, networks: VGGNetworkCache? = nil, temporal: TemporalGuide? = nil,
        memory: (device: MemoryCapacity, host: UInt64)? = nil, note: (String) -> Void
    ) throws {
        try options.validate()
        let identity = try WeightsIdentity.identify(
            path: weightsPath, sha256: weightsSHA256, preprocessing: options.preprocessing)
        let model = identity.model
        try options.layers.validate(for: model)
        self.options = options
        self.backend = backend
        self.temporal = temporal
        scales = try options.scalePlan()

        let originalContent = try StyleJob.readImage(options.contentPath, options: options, note: note)
        self.originalContent = originalContent
        let read = try options.stylePaths.map { try StyleJob.readImage($0, options: options, note: note) }
        let masks = try options.styleMaskPaths?.map { try StyleMaskImage.read($0, options: options, note: note) }
        let sourceMasks = try options.styleSourceMaskPaths?.map {
            try StyleMaskImage.read($0, options: options, note: note)
        }
        self.sourceMasks = sourceMasks
        originalStyles =
            options.colorPreservation == .match
            ? read.map { ColorMatch.recolor($0, like: originalContent) } : read
        // Masks that are white everywhere are no masks: the unmasked path, bit for bit.
        styleMasks = masks?.allSatisfy(\.isWhite) == true && sourceMasks == nil ? nil : masks
        try options.checkLargeEnough(model: model, content: originalContent, styles: originalStyles)
        tilings = try options.tilings(
            try memory?.device ?? backend.memoryCapacity.applyingOverride(),
            hostMemory: try memory?.host ?? MemoryCapacity.hostMemory(), model: model, backend: backend,
            content: (originalContent.width, originalContent.height),
            styles: originalStyles.map { ($0.width, $0.height) })
        content = originalContent.resized(maxSide: options.imageSize)
        let styleSide = StyleJobOptions.styleSide(imageSize: options.imageSize, scale: options.styleScale)
        styles = originalStyles.map { $0.resized(maxSide: styleSide) }
        let first = RGBImage.size(
            width: originalContent.width, height: originalContent.height, maxSide: scales.sides[0])
        switch options.initialization {
        case _ where temporal != nil:
            // A video frame starts from the previous result warped to it (Ruder et al. 2016).
            initial = temporal?.warped.resized(width: first.width, height: first.height).pixels
        case .content:
            initial = nil
        case .random:
            var generator = SplitMix64(seed: options.seed)
            initial = (0..<3 * first.width * first.height).map { _ in Float(generator.nextUnit() * 255) }
        case .image(let path):
            let image = try ImageFile.read(path, maxPixels: options.maxPixels)
            image.notes.forEach(note)
            initial = image.image.resized(width: first.width, height: first.height).pixels
        }

        targetCache = networks?.styleTargets
        network = try (networks ?? VGGNetworkCache()).network(
            backend: backend, model: model, weightsPath: weightsPath, weightsSHA256: weightsSHA256,
            deepestLayer: try options.layers.deepestLayer(in: model), options: options, note: note)
        if let state = resume {
            guard scales.sides.indices.contains(state.scale) else {
                // A forged scale may be Int.max: counted from 1 only where that cannot overflow.
                throw StyleError(
                    "the checkpoint is at scale \(state.scale < Int.max ? state.scale + 1 : state.scale), but this run has \(scales.sides.count) scale"
                        + "\(scales.sides.count == 1 ? "" : "s"); give the same --scales and --min-size or start without --resume"
                )
            }
            stage = try makeStage(scale: state.scale, start: nil)
            try run.restore(state)
        } else {
            stage = try makeStage(scale: 0, start: initial)
        }
    }

    /// The run of one scale: its content and style images uploaded, targets computed, the image
    /// starting from `start` (nil: the content image, copied on the device). A tiled scale whose
    /// state lives on the host keeps its images there too.
    private func makeStage(scale: Int, start: [Float]?) throws -> (run: StyleTransferRun, content: RGBImage) {
        let side = scales.sides[scale]
        let content = side == options.imageSize ? self.content : originalContent.resized(maxSide: side)
        let styleSide = StyleJobOptions.styleSide(imageSize: side, scale: options.styleScale)
        let styles = side == options.imageSize ? self.styles : originalStyles.map { $0.resized(maxSide: styleSide) }
        let state: Backend = tilings[scale]?.stateOnHost == true ? host : backend
        let contentTensor = try state.makeTensor(Shape(c: 3, h: content.height, w: content.width))
        try state.upload(content.pixels, to: contentTensor)
        let styleTargets = try zip(styles, try options.normalisedBlendWeights()).enumerated().map {
            k, pair -> StyleTarget in
            let (image, weight) = pair
            let tensor = try state.makeTensor(Shape(c: 3, h: image.height, w: image.width))
            try state.upload(image.pixels, to: tensor)
            return StyleTarget(
                image: tensor, blendWeight: weight,
                mask: try styleMasks?[k].tensor(width: content.width, height: content.height, state),
                sourceMask: try sourceMasks?[k].tensor(width: image.width, height: image.height, state))
        }
        let objective: ImageObjective
        if let tiling = tilings[scale] {
            objective = try TiledObjective(
                network: network, height: content.height, width: content.width, content: contentTensor,
                styles: styleTargets, layers: options.layers, weights: options.lossWeights,
                styleLayerWeights: options.styleLayerWeights, contentLayerWeights: options.contentLayerWeights,
                temporal: try temporalTerm(width: content.width, height: content.height, on: state), tiling: tiling,
                seed: options.seed, scale: scale, state: state)
        } else {
            objective = try StyleObjective(
                network: network, height: content.height, width: content.width,
                content: contentTensor, styles: styleTargets, layers: options.layers,
                weights: options.lossWeights, styleLayerWeights: options.styleLayerWeights,
                contentLayerWeights: options.contentLayerWeights,
                sharedTargets: try targetCache.map {
                    SharedStyleTargets(
                        cache: $0,
                        key: StyleTargetCache.key(
                            styles: styles, blendWeights: try options.normalisedBlendWeights(),
                            layers: try options.layers.style.map(network.model.index(of:))))
                },
                temporal: try temporalTerm(width: content.width, height: content.height, on: backend))
        }
        var settings = options.optimization
        settings.iterations = options.iterations(atScale: scale)
        let run = try StyleTransferRun(
            objective: objective, start: start.map { .pixels($0) } ?? .copy(of: contentTensor),
            height: content.height, width: content.width, settings: settings, scale: scale)
        return (run, content)
    }

    /// The temporal term at a scale's size, its tensors on `backend`: the warped image resized
    /// (bicubic), the mask by nearest neighbour; nil without a guide, with weight 0 or with no
    /// reliable pixel.
    private func temporalTerm(width: Int, height: Int, on backend: Backend) throws -> TemporalTerm? {
        guard let temporal, temporal.weight != 0 else { return nil }
        let mask = temporal.reliability(width: width, height: height)
        let area = mask.reduce(0, +)
        guard area > 0 else { return nil }
        let warped = try backend.makeTensor(Shape(c: 3, h: height, w: width))
        try backend.upload(
            (temporal.warped.width == width && temporal.warped.height == height
                ? temporal.warped : temporal.warped.resized(width: width, height: height)).pixels, to: warped)
        let maskTensor = try backend.makeTensor(Shape(c: 1, h: height, w: width))
        try backend.upload(mask, to: maskTensor)
        return TemporalTerm(
            warped: warped, mask: maskTensor, scale: Float(Double(temporal.weight) / (3 * Double(area))))
    }

    /// Moves to the next scale: its run starts from this scale's result enlarged with the
    /// project's filter; this scale's device memory is freed before the next is built.
    /// Returns false at the last scale.
    public func advance() throws -> Bool {
        let next = run.scale + 1
        guard next < scales.sides.count else { return false }
        let size = scales.size(scale: next, width: originalContent.width, height: originalContent.height)
        let result = try resultImage()
        stage = nil
        stage = try makeStage(scale: next, start: result.resized(width: size.width, height: size.height).pixels)
        return true
    }

    /// "6×4 tiles of 1024 px + 64 px halo" for a tiled scale (nil: untiled).
    public func tilingDescription(scale: Int) -> String? {
        guard let tiling = tilings[scale] else { return nil }
        let size = scales.size(scale: scale, width: originalContent.width, height: originalContent.height)
        let rows = (size.height + tiling.tileSize - 1) / tiling.tileSize
        let columns = (size.width + tiling.tileSize - 1) / tiling.tileSize
        return "\(columns)×\(rows) tiles of \(tiling.tileSize) px + \(tiling.halo) px halo"
    }

    /// The current scale's result (`StyleTransferRun.resultImage`) as an image of its size.
    public func resultImage() throws -> RGBImage {
        let (width, height) = (run.image.shape.w, run.image.shape.h)
        return RGBImage(width: width, height: height, pixels: try run.resultImage())
    }

    private static func readImage(_ path: String, options: StyleJobOptions, note: (String) -> Void) throws -> RGBImage {
        let (image, notes) = try ImageFile.read(path, maxPixels: options.maxPixels)
        notes.forEach(note)
        return image
    }

    /// The image of the current scale as it should be written: `--original-colors` applied;
    /// clamping and rounding happen in the writer.
    public func outputImage(pixels: [Float]) throws -> RGBImage {
        guard let stage else { preconditionFailure("StyleJob.outputImage called while its scale is being replaced") }
        let content = stage.content
        let result = RGBImage(width: content.width, height: content.height, pixels: pixels)
        return options.colorPreservation == .luminance
            ? try OriginalColors.apply(result: result, content: content) : result
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same numbers everywhere.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}
