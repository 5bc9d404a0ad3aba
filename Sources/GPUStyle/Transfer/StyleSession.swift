import Foundation

/// What a run writes: its image, and on request frames, a GIF, a contact sheet and checkpoints.
public struct RunOutputs: Sendable {
    /// The result (.png, .jpg or .tif).
    public var image: String
    /// Bits per channel of PNG and TIFF files, 8 or 16 (JPEG files stay 8-bit).
    public var bitDepth = 8
    public var jpegQuality = 95
    /// Frames `OUT_0100.png` … every N iterations of each scale (0: none), numbered from the
    /// start of the whole run (`StyleJobOptions.frameIterations`).
    public var saveEvery = 0
    public var gif: String?
    /// Iterations between GIF frames (nil: iterations / 50).
    public var gifEvery: Int?
    public var sheet: String?
    public var checkpoint: String?
    public var checkpointEvery = 100

    public init(image: String) {
        self.image = image
    }

    /// --bit-depth applies to PNG and TIFF files only (a JPEG sheet beside a 16-bit image is 8-bit).
    public func writeOptions(for path: String) -> ImageWriteOptions {
        let holds16Bits = (try? ImageFormat(path: path))?.holds16Bits ?? false
        return ImageWriteOptions(bitDepth: holds16Bits ? bitDepth : 8, jpegQuality: jpegQuality)
    }

    /// The folders its files go to (frames go beside the image).
    public var folders: [String] {
        ([image] + [gif, sheet, checkpoint].compactMap { $0 }).map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().path
        }
    }

    /// `out.png`, 100 → `out_0100.png`.
    public func framePath(iteration: Int) -> String {
        let url = URL(fileURLWithPath: image)
        let stem = url.deletingPathExtension().lastPathComponent
        let name = String(format: "%@_%04d.%@", stem, iteration, url.pathExtension)
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }
}

/// What the caller hears during a run.
public struct RunEvents {
    /// Each iteration report (`reportEvery`).
    public var report: (IterationReport) -> Void
    /// A one-line note (a file written).
    public var note: (String) -> Void
    /// Something failed and the run goes on (a frame not written).
    public var warning: (String) -> Void
    /// Polled after each iteration: true stops the run, which then writes what it has.
    public var shouldStop: () -> Bool
    /// How the run ended and where its image was written, as soon as it is (before the GIF and
    /// the sheet).
    public var finished: (RunEnd, String) -> Void

    public init(
        report: @escaping (IterationReport) -> Void, note: @escaping (String) -> Void,
        warning: @escaping (String) -> Void, shouldStop: @escaping () -> Bool,
        finished: @escaping (RunEnd, String) -> Void
    ) {
        self.report = report
        self.note = note
        self.warning = warning
        self.shouldStop = shouldStop
        self.finished = finished
    }
}

/// What ties a checkpoint to a run's weights and input images (`Checkpoint`).
public struct CheckpointIdentity: Sendable {
    public var weightsSHA256: String
    public var inputsSHA256: [String]

    public init(weightsSHA256: String, inputsSHA256: [String]) {
        self.weightsSHA256 = weightsSHA256
        self.inputsSHA256 = inputsSHA256
    }
}

extension StyleJob {
    /// Runs the job to its end, scale after scale, and writes its outputs: the image (to the
    /// temporary folder when its own folder fails, and then an error says where), frames, GIF,
    /// sheet and checkpoints. A fault mid-run still writes the image it has and throws a line that
    /// says where; a refused loss scale throws before anything is written. The image written is
    /// always at the output size: a run stopped at a smaller scale writes its result enlarged.
    /// Returns how the run ended and where the image is.
    public func perform(
        outputs: RunOutputs, checkpoint identity: CheckpointIdentity, reportEvery: Int,
        events: RunEvents
    ) throws -> (end: RunEnd, image: String) {
        func saveCheckpoint() throws {
            guard let path = outputs.checkpoint else { return }
            try Checkpoint(
                options: options, weightsSHA256: identity.weightsSHA256, inputsSHA256: identity.inputsSHA256,
                device: backend.name, state: try run.exportState()
            ).write(to: path)
        }
        let lastScale = scales.sides.count - 1
        let totalIterations = options.iterationsBefore(scale: lastScale) + options.iterations(atScale: lastScale)
        let gifInterval = outputs.gif == nil ? 0 : (outputs.gifEvery ?? max(1, totalIterations / 50))
        let gifWriter = try outputs.gif.map { try GIFWriter(path: $0, delayCentiseconds: 8) }
        /// An image of the current scale at the output size.
        func enlarged(_ image: RGBImage) -> RGBImage {
            image.width == content.width && image.height == content.height
                ? image : image.resized(width: content.width, height: content.height)
        }
        func finalImage(_ pixels: [Float]) throws -> RGBImage { enlarged(try outputImage(pixels: pixels)) }
        var scaleResults: [RGBImage] = []
        var end: RunEnd
        do {
            try gifWriter?.add(frame: try finalImage(try run.resultImage()))
            while true {
                let offset = options.iterationsBefore(scale: run.scale)
                end = try run.run(
                    reportEvery: reportEvery,
                    onReport: { report in
                        var report = report
                        report.deviceBytes = backend.allocatedBytes
                        events.report(report)
                    },
                    snapshotEvery: greatestCommonDivisor(outputs.saveEvery, gifInterval),
                    onSnapshot: { iteration, pixels in
                        let image = try outputImage(pixels: pixels)
                        let global = offset + iteration
                        if outputs.saveEvery > 0, iteration % outputs.saveEvery == 0 {
                            // A frame is a by-product: losing one must not end the run.
                            let frame = outputs.framePath(iteration: global)
                            do {
                                try ImageFile.write(image, to: frame, options: outputs.writeOptions(for: frame))
                            } catch {
                                events.warning(
                                    "could not write the frame \(frame): \(describe(error)); the run goes on")
                            }
                        }
                        if let writer = gifWriter, iteration % gifInterval == 0 {
                            try writer.add(frame: enlarged(image))
                        }
                    },
                    checkpointEvery: outputs.checkpoint == nil ? 0 : outputs.checkpointEvery,
                    onCheckpoint: { _ in try saveCheckpoint() },
                    shouldStop: events.shouldStop)
                if case .interrupted = end { break }
                if case .nonFinite = end { break }
                guard run.scale < lastScale else { break }
                if outputs.sheet != nil { scaleResults.append(try outputImage(pixels: try run.resultImage())) }
                // A stop asked for during the scale's last iteration ends the run here.
                if events.shouldStop() {
                    end = .interrupted(atIteration: run.iteration)
                    break
                }
                _ = try advance()
                events.note("scale \(run.scale + 1) of \(scales.sides.count): \(sizeLabel(scale: run.scale))")
            }
        } catch let error as LossScaleError {
            throw StyleError(error.message)
        } catch {
            // A fault mid-run (device error, a checkpoint that could not be written …): keep the image.
            let rescued = (try? run.resultImage()).flatMap { try? finalImage($0) }
            guard let image = rescued else {
                throw StyleError("\(describe(error)); the device could not return the image, so nothing was written")
            }
            let written = try writeKeepingTheImage(image, outputs: outputs)
            throw StyleError(
                "\(describe(error)); the image of iteration \(run.iteration)\(scaleLabel) was written to \(written)")
        }

        let image = try finalImage(try run.resultImage())
        let written = try writeKeepingTheImage(image, outputs: outputs)
        try saveCheckpoint()
        events.finished(end, written)
        if let writer = gifWriter {
            if run.iteration % gifInterval != 0 { try writer.add(frame: image) }
            try writer.finish()
            events.note("wrote \(writer.frameCount) frames to \(outputs.gif ?? "")")
        }
        if let sheet = outputs.sheet {
            try ImageFile.write(
                contactSheet([content] + styles + scaleResults + [image], height: image.height, gap: 8),
                to: sheet, options: outputs.writeOptions(for: sheet))
            events.note("wrote \(sheet)")
        }
        return (end, written)
    }

    /// " (scale 2/3)" in a coarse-to-fine run, "" in a single-scale one.
    public var scaleLabel: String {
        scales.sides.count > 1 ? " (scale \(run.scale + 1)/\(scales.sides.count))" : ""
    }

    /// "512×341" for the image of a scale.
    func sizeLabel(scale: Int) -> String {
        let size = scales.size(scale: scale, width: inputSize.width, height: inputSize.height)
        return "\(size.width)×\(size.height)"
    }

    /// Writes the result to its path; if that fails (folder gone, disk full), to a file in the
    /// temporary folder, and throws a line that says where.
    private func writeKeepingTheImage(_ image: RGBImage, outputs: RunOutputs) throws -> String {
        let options = outputs.writeOptions(for: outputs.image)
        do {
            try ImageFile.write(image, to: outputs.image, options: options)
            return outputs.image
        } catch {
            let name = "stylize-gpu-\(getpid())-" + URL(fileURLWithPath: outputs.image).lastPathComponent
            let fallback = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(name).path
            guard (try? ImageFile.write(image, to: fallback, options: options)) != nil else { throw error }
            throw StyleError("\(describe(error)); the image was written to \(fallback) instead")
        }
    }
}
