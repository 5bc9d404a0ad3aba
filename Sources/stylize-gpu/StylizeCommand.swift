import ArgumentParser
import Foundation
import GPUStyle

extension PoolMode: ExpressibleByArgument {}
extension ActivationStorage: ExpressibleByArgument {}
extension TileActivations: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ColorPreservation: ExpressibleByArgument {}

/// The main job: `stylize-gpu CONTENT STYLE [STYLE …] -o OUT`.
struct StylizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Repaint CONTENT in the style of STYLE (the default command).",
        discussion: """
            Optimises the output image so its VGG features match the content image's and its feature \
            correlations (Gram matrices) match the style images' (Gatys et al., 2015). Everything stays on \
            the chosen device from the first upload to the last iteration. Ctrl-C writes the current image \
            and exits with 130.
            """
    )

    @Argument(help: "The photo to repaint (PNG, JPEG or TIFF).")
    var content: String

    @Argument(help: "One or more style images (paintings), blended.")
    var styles: [String] = []

    @Option(name: .shortAndLong, help: "Output image (.png, .jpg or .tif), tagged sRGB.")
    var output: String

    @Option(parsing: .unconditional, help: "Longest side of the output in pixels.")
    var imageSize = 512

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Optimise in tiles of this many pixels (a multiple of 16) at every scale larger than one tile.",
            discussion: "Default: tiles only where the whole image does not fit the device, as large as fit."))
    var tileSize: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "auto, keep or recompute: keep what each tile's backward pass reads between its two passes, or run its forward pass again.",
            discussion:
                "auto keeps it where it fits beside the tiles and stays in the device's memory (about a quarter less work an iteration)."
        ))
    var tileActivations: TileActivations = .auto

    @Option(parsing: .unconditional, help: "Optimiser steps (of each scale).")
    var iterations = 1000

    @Option(parsing: .unconditional, help: "Optimiser steps of the first scale (default: --iterations).")
    var initialIterations: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Number of scales, coarse to fine (1: a single-scale run).",
            discussion:
                "Default: 1 up to --image-size 512, above it enough scales from --min-size that each is at most twice the previous."
        ))
    var scales: Int?

    @Option(
        parsing: .unconditional,
        help:
            "Longest side of the smallest scale (default: half --image-size, at most 512; or --image-size / 2^(scales-1))."
    )
    var minSize: Int?

    @Option(
        parsing: .unconditional,
        help: "Decay of the moving average of the iterates that is written (0: off, the last iterate).")
    var averageDecay: Double = OptimizationSettings.defaultAverageDecay

    @Flag(help: "Let the image leave 0–255 during the optimisation (clamped only when written), as other tools do.")
    var noClamp = false

    @Option(help: "adam or lbfgs.")
    var optimizer: OptimizerKind = .adam

    @Option(parsing: .unconditional, help: "Step size (default 10 for adam, 1 for lbfgs).")
    var learningRate: Float?

    @Option(parsing: .unconditional, help: "L-BFGS history size.")
    var historySize = 100

    @Option(parsing: .unconditional, help: "Weight of the content loss.")
    var contentWeight: Float = 5

    @Option(parsing: .unconditional, help: "Weight of the style loss.")
    var styleWeight: Float = 100

    @Option(parsing: .unconditional, help: "Weight of the total-variation (smoothness) loss.")
    var tvWeight: Float = 1e-3

    @Option(help: "Comma-separated layers of the content loss.")
    var contentLayers = "relu4_2"

    @Option(help: "Comma-separated layers of the style loss.")
    var styleLayers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"

    @Option(
        parsing: .unconditional, help: "Comma-separated weight per style image (normalised to sum 1; default equal).")
    var styleBlendWeights: String?

    @Option(
        parsing: .unconditional,
        help: "Comma-separated weight per style layer (default 1 each; 0 leaves a layer out).")
    var styleLayerWeights: String?

    @Option(parsing: .unconditional, help: "Comma-separated weight per content layer (default 1 each).")
    var contentLayerWeights: String?

    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "One grayscale image per style, white where that style applies (resized to the content; masks may overlap and blend).",
            valueName: "mask"))
    var styleMasks: [String] = []

    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "One grayscale image per style, white where its style is taken from (resized to the style image).",
            valueName: "mask"))
    var styleSourceMasks: [String] = []

    @Option(parsing: .unconditional, help: "Style images are resized to image-size × this (longest side).")
    var styleScale: Double = 1

    @Option(name: .customLong("init"), help: "Start from content, random, or an image PATH.")
    var initialization = "content"

    @Option(parsing: .unconditional, help: "Seed of --init random.")
    var seed: UInt64 = 0

    @Option(help: "max or avg pooling.")
    var pooling: PoolMode = .max

    @Option(
        help: ArgumentHelp(
            "float or half: layer outputs kept as float32, or rounded to float16 as they are written.",
            discussion: "half keeps them in 16-bit buffers on OpenCL devices (the native path rounds "
                + "float32 ones: the same numbers, no memory saved)."
        ))
    var storage: ActivationStorage = .float

    @Flag(
        help:
            "Keep the content's colours: luminance from the result, colour from the content (--preserve-colors luminance)."
    )
    var originalColors = false

    @Option(
        help:
            "Keep the content's colours: luminance (after the run, as --original-colors) or match (recolour each style image to the content's colour mean and covariance before the run)."
    )
    var preserveColors: ColorPreservation?

    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var weightsOptions: WeightsOptions
    private var device: String { deviceOptions.device }
    private var weights: String? { weightsOptions.weights }

    @Option(parsing: .unconditional, help: "Print the losses every N iterations (0: first and last only).")
    var printEvery = 50

    @Option(help: "auto (bar on a terminal, else plain), bar, plain, json (one object per line on stdout), none.")
    var progress: ProgressStyle = .auto

    @Option(
        parsing: .unconditional,
        help: "Also write the image every N iterations, as OUT_0100.png … beside the output (0: never).")
    var saveEvery = 0

    @Option(help: "Also write an animated GIF of the image's evolution.")
    var gif: String?

    @Option(parsing: .unconditional, help: "Iterations between GIF frames (default: iterations / 50).")
    var gifEvery: Int?

    @Option(help: "Also write a contact sheet: content, style(s) and result side by side at equal height.")
    var sheet: String?

    @Option(help: "Save the run (image, optimiser state, iteration, options) to this file, atomically, for --resume.")
    var checkpoint: String?

    @Option(parsing: .unconditional, help: "Iterations between checkpoints (also written at the end and on Ctrl-C).")
    var checkpointEvery = 100

    @Option(help: "Continue a run from a checkpoint up to --iterations (always the total).")
    var resume: String?

    @Option(parsing: .unconditional, help: "Bits per channel of PNG and TIFF outputs: 8 or 16 (JPEG is always 8).")
    var bitDepth: Int?

    @Flag(help: "Same as --bit-depth 16.")
    var png16 = false

    @Flag(help: "Let --save-every replace frame files that already exist.")
    var overwrite = false

    @Option(parsing: .unconditional, help: "JPEG quality of .jpg outputs (1–100).")
    var jpegQuality = 95

    @Option(parsing: .unconditional, help: "Refuse input images above this many megapixels.")
    var maxMegapixels = 100

    /// Checks every option before any work; a problem is one `error:` line (thrown as StyleError).
    mutating func validate() throws {
        let options = try jobOptions()
        _ = try DeviceSelector(device)
        for path in [content] + styles + initPaths + styleMasks + styleSourceMasks { try requireRegularFile(path) }
        guard [nil, 8, 16].contains(bitDepth) else { throw StyleError("--bit-depth must be 8 or 16") }
        if png16, bitDepth == 8 { throw StyleError("--png16 means --bit-depth 16; drop one of them") }
        if try !ImageFormat(path: output).holds16Bits, outputBitDepth == 16 {
            let option = png16 ? "--png16" : "--bit-depth 16"
            throw StyleError(
                "\(option) writes 16-bit PNG or TIFF files, but -o \(output) is a JPEG; give a .png or .tif output or drop \(option)"
            )
        }
        if let gif = gif, !gif.lowercased().hasSuffix(".gif") {
            throw StyleError("--gif \(gif): the file must end in .gif")
        }
        if let sheet = sheet { _ = try ImageFormat(path: sheet) }
        // Outputs may not overwrite an input (the resumed checkpoint is --checkpoint's to update).
        for (option, path) in namedOutputs {
            try checkOutputPath(path, inputs: option == "--checkpoint" ? inputs : inputs + resumed)
        }
        try refuseSharedPaths(namedOutputs)
        try checkFrameNames(options)
        if let every = gifEvery, every < 1 { throw StyleError("--gif-every must be at least 1") }
        if checkpointEvery < 1 { throw StyleError("--checkpoint-every must be at least 1") }
        if let path = resume { try requireRegularFile(path, role: "--resume") }
        guard printEvery >= 0, saveEvery >= 0 else { throw StyleError("--print-every and --save-every must be ≥ 0") }
        guard (1...100).contains(jpegQuality) else { throw StyleError("--jpeg-quality must be 1…100") }
        guard maxMegapixels >= 1 else { throw StyleError("--max-megapixels must be at least 1") }
    }

    /// --bit-depth, or 16 for --png16.
    var outputBitDepth: Int { png16 ? 16 : bitDepth ?? 8 }

    /// The files the run reads.
    private var inputs: [String] {
        [content] + styles + initPaths + styleMasks + styleSourceMasks + [weights].compactMap { $0 }
    }
    /// The checkpoint resumed from, if any.
    private var resumed: [String] { [resume].compactMap { $0 } }

    /// The files the run writes besides --save-every's frames, by the option that names them.
    private var namedOutputs: [(option: String, path: String)] {
        [("-o", output)]
            + [("--gif", gif), ("--sheet", sheet), ("--checkpoint", checkpoint)]
            .compactMap { option, path in path.map { (option, $0) } }
    }

    /// The frame files --save-every writes after iteration `start` of the whole run.
    private func framePaths(_ options: StyleJobOptions, after start: Int) throws -> [String] {
        let outputs = runOutputs
        return try options.frameIterations(every: saveEvery).filter { $0 > start }.map {
            outputs.framePath(iteration: $0)
        }
    }

    /// No frame may be an input or another output.
    private func checkFrameNames(_ options: StyleJobOptions) throws {
        for frame in try framePaths(options, after: 0) {
            for input in inputs + resumed where samePath(frame, input) {
                throw StyleError(
                    "--save-every would write the frame \(frame) over the input \(input); choose another -o")
            }
            for output in namedOutputs { try refuseSharedPaths([output, ("--save-every's frame", frame)]) }
        }
    }

    /// Frames that exist already (from the resume point on) are replaced only with --overwrite.
    private func checkExistingFrames(_ options: StyleJobOptions, after start: Int) throws {
        let existing = try framePaths(options, after: start).filter { FileManager.default.fileExists(atPath: $0) }
        if !overwrite, let first = existing.first {
            throw StyleError(
                "--save-every would replace \(existing.count) existing file\(existing.count == 1 ? "" : "s") "
                    + "(\(first)\(existing.count > 1 ? " …" : "")); pass --overwrite to replace them or choose another -o"
            )
        }
    }

    private var initPaths: [String] {
        if case .image(let path) = Initialization(initialization) { return [path] }
        return []
    }

    func jobOptions() throws -> StyleJobOptions {
        var options = StyleJobOptions(contentPath: content, stylePaths: styles)
        options.imageSize = imageSize
        options.styleScale = styleScale
        options.styleBlendWeights = try styleBlendWeights.map { try numberList($0, option: "--style-blend-weights") }
        options.styleLayerWeights = try styleLayerWeights.map { try numberList($0, option: "--style-layer-weights") }
        options.contentLayerWeights = try contentLayerWeights.map {
            try numberList($0, option: "--content-layer-weights")
        }
        options.styleMaskPaths = styleMasks.isEmpty ? nil : styleMasks
        options.styleSourceMaskPaths = styleSourceMasks.isEmpty ? nil : styleSourceMasks
        // luminance is --original-colors' older record, so both spellings give the same options.
        if preserveColors == .luminance {
            options.originalColors = true
        } else {
            options.preserveColors = preserveColors
        }
        options.layers = LayerSelection(
            content: try splitList(contentLayers, option: "--content-layers"),
            style: try splitList(styleLayers, option: "--style-layers"))
        options.lossWeights = LossWeights(content: contentWeight, style: styleWeight, totalVariation: tvWeight)
        options.optimization = OptimizationSettings(
            iterations: iterations, optimizer: optimizer,
            learningRate: learningRate, lbfgsHistory: historySize, clamp: !noClamp, averageDecay: averageDecay)
        options.initialIterations = initialIterations
        options.scales = scales
        options.minSize = minSize
        options.tileSize = tileSize
        options.tileActivations = tileActivations == .auto ? nil : tileActivations
        options.initialization = Initialization(initialization)
        options.seed = seed
        options.pooling = pooling
        options.storage = storage == .float ? nil : storage
        options.originalColors = options.originalColors || originalColors
        options.maxPixels = maxMegapixels * 1_000_000
        options.preprocessing = weightsOptions.preprocessing.override
        try options.validate()
        return options
    }

    /// The files the run writes, as the library takes them.
    private var runOutputs: RunOutputs {
        var outputs = RunOutputs(image: output)
        outputs.bitDepth = outputBitDepth
        outputs.jpegQuality = jpegQuality
        outputs.saveEvery = saveEvery
        outputs.gif = gif
        outputs.gifEvery = gifEvery
        outputs.sheet = sheet
        outputs.checkpoint = checkpoint
        outputs.checkpointEvery = checkpointEvery
        return outputs
    }

    func run() throws {
        let options = try jobOptions()
        removeStaleTemporaries(in: runOutputs.folders)
        let weightsPath = try WeightsCache.resolve(path: weights)
        let resumeFrom = try resume.map(Checkpoint.read)
        try checkExistingFrames(
            options,
            after: resumeFrom.map { options.iterationsBefore(scale: $0.state.scale) + $0.state.iteration } ?? 0)
        let (weightsSHA256, weightsWarning) = try WeightsCache.checksum(of: weightsPath)
        if let warning = weightsWarning { printWarning(warning) }
        // The model and flavour, and the layers checked against the model, before any work.
        let weightsIdentity = try WeightsIdentity.identify(
            path: weightsPath, sha256: weightsSHA256, preprocessing: options.preprocessing)
        try options.layers.validate(for: weightsIdentity.model)
        printNote(
            "weights: \(weightsIdentity.model.name), \(weightsIdentity.flavour.preprocessing.rawValue) preprocessing "
                + "(\(weightsIdentity.flavour.evidence))")
        if let warning = weightsIdentity.warning { printWarning(warning) }
        // Checkpoints know their inputs by content; hashed only when checkpoints are used.
        let identity = CheckpointIdentity(
            weightsSHA256: weightsSHA256,
            inputsSHA256: checkpoint != nil || resumeFrom != nil
                ? try Checkpoint.inputsSHA256(of: options) : [])
        try resumeFrom?.checkCompatible(
            options: options, weightsSHA256: weightsSHA256, inputsSHA256: identity.inputsSHA256)

        let backend = try BackendFactory.make(try DeviceSelector(device))
        printNote("device: \(backend.name)")
        let job = try StyleJob(
            options: options, weightsPath: weightsPath, weightsSHA256: weightsSHA256, backend: backend,
            resume: resumeFrom?.state
        ) {
            printNote("note: \($0)")
        }
        if let saved = resumeFrom {
            let sameDevice = saved.header.device == backend.name
            printNote(
                "resuming at iteration \(saved.state.iteration)\(job.scaleLabel) from \(resume ?? "")"
                    + (sameDevice
                        ? ""
                        : " (made on \(saved.header.device): the result will differ slightly from an uninterrupted run)")
            )
        }
        let count = job.scales.sides.count
        let perScale =
            count == 1
            ? "\(iterations) iterations"
            : initialIterations.map { "\($0) + \(count - 1)×\(iterations) iterations" }
                ?? "\(iterations) iterations per scale"
        printNote(
            "stylising \(content) (\(job.content.width)×\(job.content.height)) with \(styles.joined(separator: ", ")), "
                + "\(perScale) of \(optimizer.rawValue)")
        let sizes = job.scaleSizes
        if count > 1 { printNote("scales: \(sizes.map { "\($0.width)×\($0.height)" }.joined(separator: ", "))") }
        for scale in sizes.indices {
            guard let tiles = job.tilingDescription(scale: scale) else { continue }
            let size = count > 1 ? " at \(sizes[scale].width)×\(sizes[scale].height)" : ""
            let host = job.tilings[scale]?.stateOnHost == true ? ", the image and optimiser state on the host" : ""
            let kept = job.tilings[scale]?.keepsActivations == true ? ", activations kept between passes" : ""
            printNote("tiling: \(tiles)\(size)\(host)\(kept)")
        }

        let printer = ProgressPrinter(style: progress, scales: job.progressScales)
        let interruption = Interruption.shared
        interruption.deferStops(saying: "finishing this iteration and writing the image")
        defer { interruption.endDeferral() }
        let events = RunEvents(
            report: printer.report,
            note: {
                printer.finishLine(); printNote($0)
            },
            warning: {
                printer.finishLine(); printWarning($0)
            },
            shouldStop: { interruption.isRequested },
            finished: { end, written in
                printer.finishLine(); printNote(describeEnd(end, writtenTo: written, job: job))
            })
        let end: RunEnd
        do {
            end = try job.perform(
                outputs: runOutputs, checkpoint: identity, reportEvery: printEvery,
                events: events
            ).end
        } catch {
            printer.finishLine()
            throw error
        }
        switch end {
        case .interrupted:
            throw ExitCode(130)
        case let .nonFinite(iteration, term, restored):
            throw StyleError(
                "the \(term) loss became NaN or infinite at iteration \(iteration); the image of iteration "
                    + "\(restored) was written; \(options.nonFiniteAdvice)")
        case .completed, .converged:
            return
        }
    }

    private func describeEnd(_ end: RunEnd, writtenTo path: String, job: StyleJob) -> String {
        switch end {
        case .completed:
            return "wrote \(path)"
        case .converged(let iteration):
            return "L-BFGS converged at iteration \(iteration); wrote \(path)"
        case .interrupted(let iteration):
            return "stopped at iteration \(iteration) of \(job.run.settings.iterations)\(job.scaleLabel); wrote \(path)"
                + (checkpoint.map { " and the checkpoint \($0) (continue with --resume \($0))" } ?? "")
        case .nonFinite:
            return "wrote \(path)"
        }
    }
}

/// "1, 0.5,2" → [1, 0.5, 2]; an item that is not a number is one line naming the option.
func numberList(_ text: String, option: String) throws -> [Float] {
    try splitList(text, option: option).map { item -> Float in
        guard let value = Float(item) else { throw StyleError("\(option): '\(item)' is not a number") }
        return value
    }
}

/// "a, b,c" → ["a", "b", "c"]; "" → []. An empty item ("1,,2", "a,") is a mistake, not a default.
func splitList(_ text: String, option: String) throws -> [String] {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if trimmed.isEmpty { return [] }
    let items = trimmed.split(separator: ",", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
    }
    guard !items.contains("") else {
        throw StyleError("\(option) '\(text)' has an empty item; separate the values with single commas")
    }
    return items
}
