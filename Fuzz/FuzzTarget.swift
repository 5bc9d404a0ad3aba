import Foundation

/// The parsers of outside data, one fuzz target per family, and how one input is fed to them.
/// Every entry point takes a path, so each input is written to a file on tmpfs first. Whatever
/// the input, a parser must return a value or throw; a crash, a hang or an allocation beyond
/// what the limits allow is a finding.
enum FuzzTarget: String, CaseIterable {
    case png, jpeg, tiff, icc, torch, safetensors, manifest, framelist, ffprobe

    /// The images' pixel limit while fuzzing: large enough for any seed, small enough that a
    /// legitimate image stays far below the fuzzer's memory limit (4 MP is 48 MB of floats).
    static let maxPixels = 4_000_000

    /// Runs `bytes` through the target's parsers, writing them to `scratch` first.
    func run(_ bytes: UnsafeRawBufferPointer, scratch: String) {
        guard FileManager.default.createFile(atPath: scratch, contents: Data(bytes)) else { return }
        switch self {
        case .png, .jpeg, .tiff:
            _ = try? ImageFile.read(scratch, maxPixels: Self.maxPixels)
        case .icc:
            Self.convert(Array(bytes))
        case .torch, .safetensors:
            readEveryTensor(scratch)
            _ = try? WeightsInfo.read(path: scratch, checksum: false)
            _ = try? VGGWeights.load(path: scratch, upTo: 16)
        case .manifest:
            // Foundation's Data(contentsOf:) leaks its 4 KB buffer on an empty file (the zero-size
            // path of swift-foundation's readBytesFromFile), which LeakSanitizer reports; BatchTests
            // has the empty manifest.
            guard !bytes.isEmpty else { return }
            Self.expectStyleError { _ = try BatchPlan.manifest(path: scratch, format: "png") }
        case .framelist:
            Self.frames(Array(bytes), folder: scratch + ".frames")
        case .ffprobe:
            Self.expectStyleError {
                let probe = try FFmpeg.parseProbe(Data(bytes), video: "clip.mp4")
                Self.check(probe.frameRate)
            }
        }
    }

    /// Runs `body`; an error other than a one-line `StyleError` is a finding.
    static func expectStyleError(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            guard error is StyleError, !describe(error).contains(where: \.isNewline) else {
                fatalError("not a one-line StyleError: \(type(of: error)) \(String(reflecting: describe(error)))")
            }
        }
    }

    /// A parsed frame rate must be within what the video command's arithmetic allows.
    static func check(_ rate: FrameRate) {
        guard FrameRate.accepted.contains(rate.perSecond), rate.numerator > 0, rate.denominator > 0 else {
            fatalError("frame rate \(rate) is outside \(FrameRate.accepted)")
        }
        _ = max(1, Int((100 / rate.perSecond).rounded()))  // the GIF delay, as the video command works it out
    }

    /// The most frame names one input makes, so that an input costs at most a few hundred
    /// file operations.
    static let maxFrames = 64

    /// An `--fps` text on the first line, frame file names on the next: the rate parsed, the
    /// names put in natural order (which must be a strict total order over their scalars), made
    /// as files in `folder` and listed back as the video command lists a frame folder.
    static func frames(_ bytes: [UInt8], folder: String) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if let rate = lines.first.flatMap({ FrameRate(String($0)) }) { check(rate) }
        let names = lines.dropFirst().prefix(maxFrames).map(String.init)
        let less = VideoFrames.naturalOrder
        for a in names {
            for b in names {
                let same = a.unicodeScalars.elementsEqual(b.unicodeScalars)
                guard [less(a, b), less(b, a), same].filter({ $0 }).count == 1 else {
                    fatalError("natural order is not total: \(a.debugDescription), \(b.debugDescription)")
                }
            }
        }
        let sorted = names.sorted(by: less)
        for (i, a) in sorted.enumerated() {
            for b in sorted[(i + 1)...] where less(b, a) {
                fatalError("natural order is not transitive: \(b.debugDescription) sorts after \(a.debugDescription)")
            }
        }
        for name in names {
            _ = VideoFrames.framesFolder(output: name)
            _ = VideoFrames.isVideoFile(name)
        }
        // The names a folder can hold: a file system refuses "/", NUL, "." and "..", and more
        // than 255 bytes.
        let files = Set(
            names.filter {
                !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("/") && !$0.contains("\0")
                    && $0.utf8.count <= 255
            })
        try? FileManager.default.removeItem(atPath: folder)
        guard (try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)) != nil
        else { return }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var made = 0
        for name in files where FileManager.default.createFile(atPath: folder + "/" + name, contents: nil) {
            made += 1
        }
        expectStyleError {
            let listed = try VideoFrames.list(folder: folder).map { URL(fileURLWithPath: $0).lastPathComponent }
            guard listed.count <= made, zip(listed, listed.dropFirst()).allSatisfy({ less($0, $1) }) else {
                fatalError("the frame list is not the folder's frames in order: \(listed)")
            }
        }
    }

    /// The format's first bytes.
    private var signature: [UInt8] {
        switch self {
        case .png: return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        case .jpeg: return [0xFF, 0xD8, 0xFF]
        case .tiff: return [0x49, 0x49, 0x2A, 0x00]
        case .icc, .torch, .safetensors, .manifest, .framelist, .ffprobe: return []
        }
    }

    /// Makes a mutated input worth decoding: restores the signature (mutations that break it only
    /// reach the sniffing code) and, for PNG, recomputes every chunk's CRC (libpng refuses a
    /// critical chunk with a bad CRC, so nearly every mutation would stop there).
    func prepare(_ bytes: inout [UInt8]) {
        let signature = self.signature
        guard bytes.count >= signature.count else { return }
        bytes.replaceSubrange(0..<signature.count, with: signature)
        if self == .png {
            PNGChunks.fixChecksums(&bytes)
        }
    }

    /// Runs `profile` as an embedded profile of a small colour image and of a gray one (the
    /// harness and FuzzCorpusTests share this). Returns the notes.
    @discardableResult
    static func convert(_ profile: [UInt8]) -> [String] {
        var notes: [String] = []
        for gray in [false, true] {
            var image = RGBImage(width: 3, height: 2, red: 10, green: 200, blue: 30)
            if let note = ColorProfile.convertToSRGB(&image, profile: profile, sourceIsGray: gray, path: "icc") {
                notes.append(note)
            }
        }
        return notes
    }

    /// Opens the file as any weights format and reads every tensor it declares, so the strided
    /// gather and the element conversions see fuzzed shapes too, not only the VGG19 names.
    private func readEveryTensor(_ path: String) {
        _ = try? withWeightsFile(path) { archive in
            for name in archive.names {
                guard let tensor = archive.tensors[name] else { continue }
                if tensor.elementType.isFloatingPoint {
                    _ = try? archive.floats(name)
                } else {
                    _ = try? archive.bytes(name)
                }
            }
        }
    }
}

/// PNG's chunk layout (length, type, data, CRC-32 of type and data), for fixing checksums.
enum PNGChunks {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// Rewrites the CRC of every whole chunk after the 8-byte signature.
    static func fixChecksums(_ bytes: inout [UInt8]) {
        var at = 8
        while at + 12 <= bytes.count {
            let length = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= bytes.count - at - 12 else { return }
            let crc = crc32(bytes[(at + 4)..<(at + 8 + length)])
            for i in 0..<4 { bytes[at + 8 + length + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
            at += 12 + length
        }
    }
}
