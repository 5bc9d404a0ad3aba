import ArgumentParser
import Foundation
import GPUStyle

/// `stylize-gpu video INPUT STYLE [STYLE …] -o OUTPUT`: every frame of a folder or a video
/// stylised in turn on one backend (the weights uploaded once), each later frame started from
/// and held close to the previous result warped by optical flow (`TemporalGuide`). Finished
/// frames are kept with batch's records, so a stopped video continues where it stopped.
struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Stylise a video or a folder of frames, each frame kept close to the previous result.",
        usage: "stylize-gpu video INPUT STYLE [STYLE …] -o OUTPUT [video options] [run options]",
        discussion: """
            INPUT is a folder of frames (PNG, JPEG or TIFF, in natural order: f2 before f10) or a video file \
            (read with ffmpeg). OUTPUT is a folder (frames 00001.png …) or a .mp4 or .webm file (written with \
            ffmpeg, with the input's audio) or a .gif file, at the input's frame rate. Every option of \
            `stylize-gpu run` (see `stylize-gpu run --help`) applies to each frame, given after INPUT and the \
            styles; --iterations is the first frame's. Finished frames are kept with a record in the state folder \
            (OUTPUT/.stylize-gpu/, or .stylize-gpu/ beside a video file, which also holds its frames): the same \
            command again skips them and continues. Ctrl-C finishes the iteration, keeps the frame's checkpoint \
            and exits with 130.
            """
    )

    @Option(name: .shortAndLong, help: "A folder for the frames (00001.png …), or a .mp4, .webm or .gif file.")
    var output: String

    @Option(
        parsing: .unconditional, help: "Optimiser steps of every frame after the first (the first takes --iterations).")
    var frameIterations = VideoDefaults.frameIterations

    @Option(
        parsing: .unconditional,
        help:
            "Weight of the temporal loss: how closely a frame follows the previous result where the motion is known (0: every frame on its own)."
    )
    var temporalWeight = VideoDefaults.temporalWeight

    @Option(
        help: "Frames per second of a folder of frames (default 24; a video keeps its own): 24, 23.976 or 30000/1001.")
    var fps: String?

    @Argument(parsing: .allUnrecognized, help: "INPUT STYLE [STYLE …], then options of `stylize-gpu run`.")
    var arguments: [String] = []

    /// Options of `run` that write other files or name one run's state: video writes frames and
    /// records of its own.
    static let singleRunOptions: Set<String> = [
        "gif", "gif-every", "sheet", "checkpoint", "resume", "save-every", "overwrite",
    ]

    /// The frames as given: a folder's images, or a video file that ffmpeg decodes.
    enum Source {
        case frames([String])
        case video(String)
    }

    mutating func validate() throws {
        let (input, styles, runOptions) = try split()
        for argument in runOptions {
            let name = argument.hasPrefix("--") ? String(argument.dropFirst(2).prefix { $0 != "=" }) : ""
            if VideoCommand.singleRunOptions.contains(name) {
                throw StyleError("--\(name) is an option of a single run; video writes its frames to -o")
            }
        }
        guard frameIterations >= 1 else { throw StyleError("--frame-iterations must be at least 1") }
        guard temporalWeight.isFinite, temporalWeight >= 0 else {
            throw StyleError("--temporal-weight must be a number ≥ 0 (0: every frame on its own)")
        }
        if let fps, FrameRate(fps) == nil {
            throw StyleError("--fps \(fps): give frames per second from 0.01 to 1000, such as 24, 23.976 or 30000/1001")
        }
        let source = try VideoCommand.source(input)
        if case .video = source {
            if fps != nil { throw StyleError("--fps is for a folder of frames; a video keeps its own frame rate") }
            _ = try FFmpeg.locate(purpose: "reading the video \(input)")
        }
        let command = try runCommand(source: source, input: input, styles: styles, runOptions: runOptions)
        try checkOutput(
            input: input, source: source, inputs: styles + [command.weightsOptions.weights].compactMap { $0 })
    }

    /// INPUT, the styles after it, and the run options after them.
    private func split() throws -> (input: String, styles: [String], runOptions: [String]) {
        guard let input = arguments.first, !input.hasPrefix("-") else {
            throw StyleError(
                "give INPUT (a folder of frames or a video file) and STYLE images before the options of run")
        }
        let styles = Array(arguments.dropFirst().prefix { !$0.hasPrefix("-") })
        guard !styles.isEmpty else {
            throw StyleError("give one or more STYLE images after INPUT \(input), before the options of run")
        }
        return (input, styles, Array(arguments.dropFirst(1 + styles.count)))
    }

    /// A folder's frames, or a video file; an image, a missing path or a FIFO is refused.
    static func source(_ input: String) throws -> Source {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: input, isDirectory: &isFolder), isFolder.boolValue {
            return .frames(try VideoFrames.list(folder: input))
        }
        try requireRegularFile(input, role: "INPUT")
        if VideoFrames.imageExtensions.contains(URL(fileURLWithPath: input).pathExtension.lowercased()) {
            throw StyleError(
                "INPUT \(input) is one image; give a folder of frames or a video file (use `run` for one image)")
        }
        return .video(input)
    }

    /// `run`'s parse of the run options, its checks included, for a content image (the first
    /// frame, or the video file itself before it is decoded). Its `-o` is never written.
    private func runCommand(
        source: Source, input: String, styles: [String], runOptions: [String]
    ) throws
        -> StylizeCommand
    {
        let content: String
        switch source {
        case .frames(let frames): content = frames[0]
        case .video: content = input
        }
        let unused = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("stylize-gpu-video-frame.png")
        let command: StylizeCommand
        do {
            command = try StylizeCommand.parse([content] + styles + ["-o", unused.path] + runOptions)
        } catch {
            let line = ownError(in: error).map(describe) ?? StylizeCommand.message(for: error)
            throw StyleError("\(line); 'stylize-gpu run --help' lists the run options")
        }
        guard command.styles == styles else {
            throw StyleError(
                "unexpected argument \(command.styles.dropFirst(styles.count).first ?? ""); give INPUT and the STYLE "
                    + "images before the options")
        }
        return command
    }

    /// A video file may not overwrite an input; a folder may not be a file, nor lie in the
    /// input folder (its frames would be read as input next time); ffmpeg must be there for
    /// .mp4 and .webm.
    private func checkOutput(input: String, source: Source, inputs: [String]) throws {
        let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
        if VideoFrames.isVideoFile(output) {
            try checkOutputPath(output, inputs: [input] + inputs)
            if ext != "gif" { _ = try FFmpeg.locate(purpose: "writing \(output)") }
        } else {
            if VideoFrames.imageExtensions.union(["mov", "mkv", "avi", "m4v", "mpg", "mpeg"]).contains(ext) {
                throw StyleError("-o \(output): give a folder for the frames, or a .mp4, .webm or .gif file")
            }
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder), !isFolder.boolValue {
                throw StyleError("-o \(output): is a file; give a folder for the frames, or a .mp4, .webm or .gif file")
            }
        }
        if case .frames = source {
            let folder = resolved(input)
            let target = resolved(output)
            if target == folder || target.hasPrefix(folder + "/") {
                throw StyleError(
                    "-o \(output) is inside the input folder \(input), where its frames would be read as input; "
                        + "choose an output outside it")
            }
        }
    }

    /// An absolute path with `..` and the links of its existing part resolved.
    private func resolved(_ path: String) -> String {
        var url = URL(fileURLWithPath: path).standardizedFileURL
        var rest: [String] = []
        while !FileManager.default.fileExists(atPath: url.path), url.path != "/" {
            rest.insert(url.lastPathComponent, at: 0)
            url.deleteLastPathComponent()
        }
        return rest.reduce(url.resolvingSymlinksInPath()) { $0.appendingPathComponent($1) }.path
    }

    func run() throws {
        let (input, styles, runOptions) = try split()
        let source = try VideoCommand.source(input)
        let frameFolder = VideoFrames.framesFolder(output: output)
        // The frames and their state; a video file is written beside its state folder.
        removeStaleTemporaries(
            in: [frameFolder, frameFolder + "/" + BatchJobFiles.stateFolderName]
                + (VideoFrames.isVideoFile(output)
                    ? [URL(fileURLWithPath: output).deletingLastPathComponent().path] : []))
        // Decoded frames and ffmpeg's output files of a stopped process.
        for stem in [TemporaryName.decodedVideoStem, TemporaryName.toolStem] {
            removeStaleTemporaries(in: [NSTemporaryDirectory()], stemPrefix: stem)
        }
        // Deferred from the start, so a stop while ffmpeg works still removes the decoded frames.
        let interruption = Interruption.shared
        interruption.deferStops(saying: "stopping after this step; finished frames and the frame's checkpoint are kept")
        defer { interruption.endDeferral() }
        /// ffmpeg's work, where a stop (Ctrl-C reaches ffmpeg too) is exit 130, not its error.
        func ffmpegStep<T>(_ work: () throws -> T) throws -> T {
            do {
                return try work()
            } catch  where interruption.isRequested {
                throw ExitCode(130)
            }
        }
        var decoded: String?
        defer { if let decoded { try? FileManager.default.removeItem(atPath: decoded) } }
        let frames: [String]
        let rate: FrameRate
        var audio: (path: String, codec: String)?
        switch source {
        case .frames(let list):
            frames = list
            rate = fps.flatMap(FrameRate.init) ?? VideoFrames.defaultFrameRate
        case .video(let path):
            let ffmpeg = try FFmpeg.locate(purpose: "reading the video \(path)")
            let probe = try ffmpeg.probe(path)
            rate = probe.frameRate
            audio = probe.audioCodec.map { (path, $0) }
            let folder = URL(fileURLWithPath: NSTemporaryDirectory())
                .appendingPathComponent(TemporaryName.make(TemporaryName.decodedVideoStem)).path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            decoded = folder
            printNote("decoding \(path) with ffmpeg (\(rate) frames per second)")
            frames = try ffmpegStep { try ffmpeg.decode(path, into: folder) }
        }
        let encoder =
            try ["mp4", "webm"].contains(URL(fileURLWithPath: output).pathExtension.lowercased())
            ? FFmpeg.locate(purpose: "writing \(output)") : nil
        let command = try runCommand(source: .frames(frames), input: input, styles: styles, runOptions: runOptions)
        let base = try command.jobOptions()
        let weightsPath = try WeightsCache.resolve(path: command.weightsOptions.weights)
        let (weightsSHA256, weightsWarning) = try WeightsCache.checksum(of: weightsPath)
        if let warning = weightsWarning { printWarning(warning) }
        let identity = try WeightsIdentity.identify(
            path: weightsPath, sha256: weightsSHA256, preprocessing: base.preprocessing)
        try base.layers.validate(for: identity.model)

        let folder = frameFolder
        let lockFiles = BatchJobFiles(outputFolder: folder, relativeOutput: "video")
        if VideoFrames.isVideoFile(output) {
            // The state folder beside a video file is ours, not the user's: it may not lead out.
            try BatchJobFiles.refuseLinksOut(
                folder, below: URL(fileURLWithPath: output).deletingLastPathComponent().path)
        }
        try lockFiles.makeFolders()
        guard let lock = try BatchLock.acquire(lockFiles.lock) else {
            let owner = BatchLock.owner(lockFiles.lock).map { " (pid \($0.pid) on \($0.host))" } ?? ""
            throw StyleError(
                "-o \(output): another stylize-gpu video\(owner) is writing it; wait for it, or remove \(lockFiles.lock) "
                    + "if that process is gone")
        }
        defer { lock.release() }

        let backend = try BackendFactory.make(try DeviceSelector(command.deviceOptions.device))
        printNote(
            "video: \(frames.count) frame\(frames.count == 1 ? "" : "s") of \(input) on \(backend.name); "
                + "\(base.optimization.iterations) iterations for the first frame, \(frameIterations) for each later one, "
                + "temporal weight \(temporalWeight)")

        var stylist = FrameStylist(
            command: command, base: base, frameIterations: frameIterations, temporalWeight: temporalWeight,
            weightsPath: weightsPath, weightsSHA256: weightsSHA256, backend: backend, folder: folder, frames: frames,
            names: frames.indices.map { k in
                if case .video = source { return "frame \(k + 1) of \(input)" }
                return "frame \(k + 1) (\(frames[k]))"
            })
        for index in frames.indices {
            if interruption.isRequested {
                printNote(
                    "stopped before frame \(index + 1) of \(frames.count); run the same command again to continue")
                throw ExitCode(130)
            }
            do {
                try stylist.stylise(index)
            } catch  where isOutOfSpace(error) {
                throw StyleError(
                    "the disk is full (\(describe(error))); stopped with \(index) of \(frames.count) frames "
                        + "finished and kept: free space and run the same command again to continue")
            }
        }
        printNote(stylist.reuseNote)
        guard VideoFrames.isVideoFile(output) else {
            printNote("wrote \(frames.count) frame\(frames.count == 1 ? "" : "s") to \(output)")
            return
        }
        if let encoder {
            try ffmpegStep {
                try encoder.encode(frames: folder, count: frames.count, rate: rate, to: output, audio: audio)
            }
        } else {
            let delay = max(1, Int((100 / rate.perSecond).rounded()))
            let writer = try GIFWriter(path: output, delayCentiseconds: delay)
            for index in frames.indices {
                try writer.add(frame: try ImageFile.read(stylist.outputPath(index)).image)
            }
            try writer.finish()
        }
        printNote(
            "wrote \(output): \(frames.count) frames at \(rate) frames per second"
                + (audio == nil || encoder == nil ? "" : " with the input's audio"))
    }
}

/// Stylises the frames of one video in order on one backend, keeping what carries from frame
/// to frame: the uploaded network, the first frame's size, the previous result's SHA-256 and
/// the time each frame took.
struct FrameStylist {
    let command: StylizeCommand
    let base: StyleJobOptions
    let frameIterations: Int
    let temporalWeight: Float
    let weightsPath: String
    let weightsSHA256: String
    let backend: Backend
    /// Where the output frames and their records go.
    let folder: String
    let frames: [String]
    /// How errors and progress name each frame.
    let names: [String]
    fileprivate let networks = VGGNetworkCache()
    fileprivate var firstSize: (width: Int, height: Int)?
    /// The previous frame's output SHA-256, the input of this frame's temporal term.
    fileprivate var previousOutputSHA256: String?
    /// Seconds of each frame stylised in this process, by index.
    fileprivate var seconds: [(index: Int, seconds: Double)] = []

    func files(_ index: Int) -> BatchJobFiles {
        BatchJobFiles(outputFolder: folder, relativeOutput: VideoFrames.frameName(index))
    }

    func outputPath(_ index: Int) -> String { files(index).output }

    /// "weights uploaded once; style targets computed 1 time, reused 39 times".
    var reuseNote: String {
        let targets = networks.styleTargets
        return "weights uploaded \(networks.built) time\(networks.built == 1 ? "" : "s"); style targets computed "
            + "\(targets.computed) time\(targets.computed == 1 ? "" : "s"), reused \(targets.reused) time\(targets.reused == 1 ? "" : "s")"
    }

    /// Frame `index`'s run options: its image, and --frame-iterations after the first frame.
    func options(_ index: Int) -> StyleJobOptions {
        var options = base
        options.contentPath = frames[index]
        if index > 0 { options.optimization.iterations = frameIterations }
        return options
    }

    /// Stylises frame `index` unless its output and record show it finished with these
    /// settings; Ctrl-C keeps its checkpoint and throws exit code 130.
    mutating func stylise(_ index: Int) throws {
        let files = files(index)
        let options = options(index)
        let temporal = index > 0 && temporalWeight > 0
        var settings = try BatchSettings(
            options: options, weightsSHA256: weightsSHA256, bitDepth: command.outputBitDepth,
            jpegQuality: command.jpegQuality)
        if temporal {
            settings.temporalWeight = temporalWeight
            settings.previousOutputSHA256 = previousOutputSHA256
        }
        if BatchRecord.isFinished(files, settings: settings) {
            printNote("frame \(index + 1)/\(frames.count): finished earlier with these settings, kept")
            previousOutputSHA256 = try BatchRecord.digest(ofFile: files.output)
            return
        }
        let start = Date()
        let name = names[index]
        let content = try read(index)
        var guide: TemporalGuide?
        if temporal {
            let side = options.imageSize
            do {
                guide = try TemporalGuide.compute(
                    backend: backend, previousContent: try read(index - 1).resized(maxSide: side),
                    content: content.resized(maxSide: side),
                    previousResult: try ImageFile.read(outputPath(index - 1), maxPixels: options.maxPixels).image,
                    weight: temporalWeight, maxSide: side)
            } catch {
                throw StyleError("\(name): \(describe(error))")
            }
        }
        // A checkpoint of a temporal frame is tied to the previous result too.
        let inputs = settings.inputsSHA256 + (temporal ? [previousOutputSHA256 ?? ""] : [])
        let resume = resumableCheckpoint(
            files.checkpoint, options: options, weightsSHA256: weightsSHA256, inputsSHA256: inputs, label: name)
        let quiet = !seconds.isEmpty
        let job: StyleJob
        do {
            job = try StyleJob(
                options: options, weightsPath: weightsPath, weightsSHA256: weightsSHA256, backend: backend,
                resume: resume, networks: networks, temporal: guide, note: { if !quiet { printNote("note: \($0)") } })
        } catch {
            throw StyleError("\(name): \(describe(error))")
        }
        if let resume {
            printNote("\(name): resuming at iteration \(resume.iteration)\(job.scaleLabel) from its checkpoint")
        }
        let printer = ProgressPrinter(
            style: command.progress, scales: job.progressScales, frame: (index: index, count: frames.count))
        var loss: Double?
        let events = RunEvents(
            report: {
                loss = $0.losses.total
                printer.report($0)
            },
            note: {
                printer.finishLine()
                printNote($0)
            },
            warning: {
                printer.finishLine()
                printWarning("\(name): \($0)")
            },
            shouldStop: { Interruption.shared.isRequested },
            finished: { _, _ in printer.finishLine() })
        var outputs = RunOutputs(image: files.partialImage)
        outputs.bitDepth = command.outputBitDepth
        outputs.checkpoint = files.checkpoint
        outputs.checkpointEvery = command.checkpointEvery
        let end: RunEnd
        do {
            end = try job.perform(
                outputs: outputs,
                checkpoint: CheckpointIdentity(weightsSHA256: weightsSHA256, inputsSHA256: inputs),
                reportEvery: command.printEvery, events: events
            ).end
        } catch {
            printer.finishLine()
            unlink(files.partialImage)
            throw StyleError("\(name): \(describe(error))")
        }
        switch end {
        case .interrupted(let iteration):
            unlink(files.partialImage)
            printNote(
                "stopped at iteration \(iteration) of frame \(index + 1)/\(frames.count)\(job.scaleLabel); its checkpoint "
                    + "is kept: run the same command again to continue")
            throw ExitCode(130)
        case let .nonFinite(iteration, term, _):
            unlink(files.partialImage)
            throw StyleError(
                "\(name): the \(term) loss became NaN or infinite at iteration \(iteration); \(job.options.nonFiniteAdvice)"
            )
        case .completed, .converged:
            break
        }
        let digest = try BatchRecord.digest(ofFile: files.partialImage)
        let elapsed = Date().timeIntervalSince(start)
        do {
            try finish(
                files,
                record: BatchRecord(
                    content: frames[index], styles: options.stylePaths, settings: settings, outputSHA256: digest,
                    device: backend.name, seconds: elapsed, loss: loss))
        } catch {
            unlink(files.partialImage)
            throw StyleError("\(name): \(describe(error))")
        }
        previousOutputSHA256 = digest
        seconds.append((index, elapsed))
        printNote(progressLine(index, loss: loss, seconds: elapsed))
    }

    /// "frame 3/40: loss 1.2e+05 in 4.1 s; 14.6 frames/min, ETA 9m00s": the rate of the frames
    /// after the first seen so far (the first has more iterations), else the first's scaled.
    private func progressLine(_ index: Int, loss: Double?, seconds elapsed: Double) -> String {
        let later = seconds.filter { $0.index > 0 }.map(\.seconds)
        let perFrame =
            later.isEmpty
            ? elapsed * Double(frameIterations) / Double(max(1, base.optimization.iterations))
            : later.reduce(0, +) / Double(later.count)
        let done = seconds.map(\.seconds).reduce(0, +)
        return "frame \(index + 1)/\(frames.count): loss \(loss.map { String(format: "%.4g", $0) } ?? "?") in "
            + String(format: "%.1f s; %.1f frames/min", elapsed, Double(seconds.count) * 60 / max(done, 1e-9))
            + ", ETA \(formatDuration(perFrame * Double(frames.count - index - 1)))"
    }

    /// Frame `index` as read; a frame that cannot be read or is not the first frame's size is
    /// one line naming it.
    private mutating func read(_ index: Int) throws -> RGBImage {
        let image: RGBImage
        do {
            image = try ImageFile.read(frames[index], maxPixels: base.maxPixels).image
        } catch {
            throw StyleError("\(names[index]): \(describe(error))")
        }
        if firstSize == nil {
            if index == 0 { firstSize = (image.width, image.height) } else { _ = try read(0) }
        }
        if let first = firstSize, (image.width, image.height) != first {
            throw StyleError(
                "\(names[index]) is \(image.width)×\(image.height), but the first frame is \(first.width)×\(first.height); "
                    + "every frame must have the first frame's size")
        }
        return image
    }
}
