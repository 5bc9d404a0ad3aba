import Foundation
@testable import GPUStyle
import XCTest

/// A short, deterministic run of what scripts/fuzz.sh does for minutes: every file of the
/// committed fuzz corpus (Fuzz/corpus/TARGET/, seeds and the reproducers of past findings,
/// named `finding-*`) and a few hundred fixed-seed mutations of the seeds go through the parsers
/// of outside data in-process. Each must give a value or a thrown error; a crash ends the test run.
final class FuzzCorpusTests: TemporaryFolderTestCase {
    /// The parser families, named as the corpus folders and the fuzz targets.
    private enum Target: String, CaseIterable {
        case png, jpeg, tiff, icc, torch, safetensors, manifest, framelist, ffprobe

        /// Whether a finding's reproducer must now be refused; the others' findings were wrong
        /// values, which `parse` checks for every input, or allocations (a tag Little CMS now
        /// skips), which `testHugeDeclaredSizesAreNotAllocated` checks.
        var refusesFindings: Bool { ![.icc, .framelist, .ffprobe].contains(self) }
    }

    /// What parsing gave: a value, or the error's one line.
    private enum Outcome {
        case value
        case error(String)
    }

    private static let corpusFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    private func corpusFiles(_ target: Target) throws -> [URL] {
        let folder = Self.corpusFolder.appendingPathComponent(target.rawValue)
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        return files.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Runs the file at `path` through `target`'s parsers as the fuzz harness does (Fuzz/FuzzTarget.swift).
    private func parse(_ path: String, _ target: Target) -> Outcome {
        do {
            switch target {
            case .png, .jpeg, .tiff:
                _ = try ImageFile.read(path, maxPixels: 4_000_000)
            case .icc:
                // A bad profile is not an error but a note saying it is ignored; one ignored on
                // both a colour and a gray image counts as refused.
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                var ignored: [String] = []
                for gray in [false, true] {
                    var image = RGBImage(width: 3, height: 2, red: 10, green: 200, blue: 30)
                    let note = ColorProfile.convertToSRGB(&image, profile: bytes, sourceIsGray: gray, path: path)
                    XCTAssertTrue(image.pixels.allSatisfy { (0...255).contains($0) }, path)
                    if let note, note.contains("ignored") {
                        XCTAssertFalse(note.contains("\n"), note)
                        ignored.append(note)
                    }
                }
                if ignored.count == 2 { return .error(ignored[0]) }
            case .torch, .safetensors:
                try withWeightsFile(path) { archive in
                    for name in archive.names {
                        _ =
                            try archive.tensor(name).elementType.isFloatingPoint
                            ? archive.floats(name).count
                            : archive.bytes(name).count
                    }
                }
            case .manifest:
                _ = try BatchPlan.manifest(path: path, format: "png")
            case .framelist:
                try listFrames(path)
            case .ffprobe:
                let probe = try FFmpeg.parseProbe(Data(contentsOf: URL(fileURLWithPath: path)), video: "clip.mp4")
                XCTAssertTrue(FrameRate.accepted.contains(probe.frameRate.perSecond), "\(path): \(probe.frameRate)")
            }
            return .value
        } catch {
            XCTAssertTrue(error is StyleError, "\(path): \(type(of: error)) \(error)")
            XCTAssertFalse(describe(error).contains("\n"), describe(error))
            return .error(describe(error))
        }
    }

    /// As the framelist fuzz target: an `--fps` text on the first line (refused: an error), frame
    /// names on the others, which natural order must sort as a strict total order and which
    /// `VideoFrames.list` must give back in that order from a folder.
    private func listFrames(_ path: String) throws {
        let lines = try String(decoding: Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let names = lines.dropFirst().prefix(64)
        let less = VideoFrames.naturalOrder
        for a in names {
            for b in names {
                let same = a.unicodeScalars.elementsEqual(b.unicodeScalars)
                XCTAssertEqual([less(a, b), less(b, a), same].filter { $0 }.count, 1, "\(path): \(a) \(b)")
            }
        }
        let frames = self.folder + "/frames"
        try? FileManager.default.removeItem(atPath: frames)
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: false)
        for name in Set(names) where !name.isEmpty && !name.contains("/") && name.utf8.count <= 255 {
            _ = FileManager.default.createFile(atPath: frames + "/" + name, contents: nil)
        }
        let listed = try VideoFrames.list(folder: frames).map { URL(fileURLWithPath: $0).lastPathComponent }
        XCTAssertEqual(listed, listed.sorted(by: less), path)
        guard let rate = FrameRate(lines[0]) else { throw StyleError("--fps \(lines[0]): refused") }
        XCTAssertTrue(FrameRate.accepted.contains(rate.perSecond), "\(path): \(rate)")
    }

    /// scripts/fuzz.sh compiles the files Fuzz/sources.txt lists and offers this test's targets:
    /// a renamed source or a target missing there would leave the fuzzer unbuilt or unused.
    func testTheFuzzScriptsSourcesExistAndItsTargetsAreTheseOnes() throws {
        let root = Self.corpusFolder.deletingLastPathComponent().deletingLastPathComponent()
        let list = try String(contentsOf: root.appendingPathComponent("Fuzz/sources.txt"), encoding: .utf8)
        let sources = list.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertGreaterThan(sources.count, 10)
        for source in sources {
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: root.appendingPathComponent(String(source)).path),
                "Fuzz/sources.txt names \(source), which does not exist")
        }
        let script = try String(contentsOf: root.appendingPathComponent("scripts/fuzz.sh"), encoding: .utf8)
        XCTAssertTrue(
            script.contains("targets=\"\(Target.allCases.map(\.rawValue).joined(separator: "|"))\""),
            "scripts/fuzz.sh's targets differ from \(Target.allCases)")
    }

    func testEverySeedParsesAndEveryFindingIsAnError() throws {
        for target in Target.allCases {
            let files = try corpusFiles(target)
            XCTAssertGreaterThanOrEqual(files.count, 5, "\(target): the corpus is missing")
            for file in files {
                let outcome = parse(file.path, target)
                switch (file.lastPathComponent.hasPrefix("finding-"), outcome) {
                case (false, .error(let message)):
                    XCTFail("seed \(target)/\(file.lastPathComponent) no longer parses: \(message)")
                case (true, .value) where target.refusesFindings:
                    XCTFail("reproducer \(target)/\(file.lastPathComponent) parses; it should be refused")
                default:
                    break
                }
            }
        }
    }

    /// Finding (PNG): a 67-byte file whose zTXt chunk declares 754,974,720 bytes made libpng
    /// allocate them before reading (this libpng build sets no cap on chunk allocations); the read
    /// then failed as truncated. Finding (ICC): a 588-byte profile whose description declares
    /// 16.7 million entries made Little CMS allocate 200 MB. Only the process's peak virtual size
    /// shows such an allocation, so each read runs in a fresh process (this test, in the test
    /// binary started again), whose peak no earlier test can have raised.
    func testHugeDeclaredSizesAreNotAllocated() throws {
        #if os(Linux)
            if let name = ProcessInfo.processInfo.environment[Self.childVariable] {
                let target = try XCTUnwrap(Target(rawValue: String(name.prefix { $0 != "/" })))
                let size = try Self.virtualMemory("VmSize")
                let outcome = parse(Self.corpusFolder.appendingPathComponent(name).path, target)
                let growth = try Self.virtualMemory("VmPeak") - size
                guard case .error(let message) = outcome else { return print("\(Self.childMarker) \(growth) parsed") }
                return print("\(Self.childMarker) \(growth) \(message)")
            }
            for (name, expected) in [
                ("png/finding-ztxt-chunk-length.png", "truncated"), ("icc/finding-mluc-16m-entries.icc", "parsed"),
            ] {
                let child = Process()
                child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
                child.arguments = ["GPUStyleTests.FuzzCorpusTests/testHugeDeclaredSizesAreNotAllocated"]
                // One malloc arena: a thread's new arena reserves 64 MB of address space, which
                // the peak counts as if allocated (a CI run saw 128.1 MB for the ICC file so).
                child.environment = ProcessInfo.processInfo.environment.merging([
                    Self.childVariable: name, "MALLOC_ARENA_MAX": "1",
                ]) { $1 }
                let output = Pipe()
                child.standardOutput = output
                child.standardError = FileHandle.nullDevice
                try child.run()
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                child.waitUntilExit()
                let line = try XCTUnwrap(
                    text.split(separator: "\n").first { $0.hasPrefix(Self.childMarker) },
                    "\(name): the child said \(text)")
                let words = line.split(separator: " ", maxSplits: 2).map(String.init)
                XCTAssertEqual(words.count, 3, String(line))
                let growth = try XCTUnwrap(Int(words[1]), String(line))
                XCTAssertTrue(words.last?.contains(expected) ?? false, "\(name): \(line)")
                XCTAssertLessThan(growth, 128 << 20, "reading \(name) reserved \(growth >> 20) MB")
            }
        #else
            throw XCTSkip("reads Linux's /proc/self/status")
        #endif
    }

    /// Set (to the corpus file to read) in the child of `testHugeDeclaredSizesAreNotAllocated`,
    /// which reports on a line that starts with the marker.
    private static let childVariable = "STYLIZE_TEST_PEAK_CHILD"
    private static let childMarker = "peak-child:"

    /// A "VmSize"/"VmPeak" line of /proc/self/status, in bytes.
    private static func virtualMemory(_ field: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix(field + ":") })
        let kilobytes = try XCTUnwrap(line.split(separator: " ").dropFirst().first.flatMap { Int($0) })
        return kilobytes << 10
    }

    /// Finding (JPEG): a file whose image data is cut short by a marker (here a 285-byte file
    /// declaring 2000×2000 pixels, baseline and progressive) "decoded" with libjpeg's grey fill
    /// and only a warning, so a few hundred bytes could claim any image up to the pixel limit.
    func testImageDataCutShortByAMarkerIsAnError() throws {
        for name in ["finding-marker-cuts-image-data.jpg", "finding-marker-cuts-progressive-data.jpg"] {
            let path = Self.corpusFolder.appendingPathComponent("jpeg/" + name).path
            guard case .error(let message) = parse(path, .jpeg) else {
                XCTFail("\(name) decoded"); continue
            }
            XCTAssertTrue(message.contains("corrupt JPEG data (the image data ends before the image does)"), message)
        }
    }

    /// Finding (torch): the memo lets one dict sit under two keys of the next, so 30 levels in a
    /// 634-byte legacy checkpoint made listing the tensors walk 2^30 paths (a hang).
    func testSharedNestedDictsAreNotWalkedExponentially() throws {
        let path = Self.corpusFolder.appendingPathComponent("torch/finding-shared-dicts-2pow30.pth").path
        let start = Date()
        guard case .error(let message) = parse(path, .torch) else { return XCTFail("the reproducer parsed") }
        XCTAssertTrue(message.contains("more than 100000 entries"), message)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    /// Finding (torch): gathering a strided tensor costs elements × dimensions, and a pickle may
    /// declare thousands of size-1 dimensions; time grew with the square of the file's size.
    func testTensorWithTooManyDimensionsIsRefused() throws {
        let path = Self.corpusFolder.appendingPathComponent("torch/finding-100-dimensions.pth").path
        guard case .error(let message) = parse(path, .torch) else { return XCTFail("the reproducer parsed") }
        XCTAssertTrue(message.contains("tensor 'w': tensor has 101 dimensions; at most 64 are supported"), message)
    }

    /// Finding (safetensors): a header length of 128 + 256·k makes the file's first byte 0x80,
    /// which the format sniffing took for a legacy torch pickle ("unsupported pickle protocol").
    func testSafetensorsWhoseFirstByteIs0x80IsReadAsSafetensors() throws {
        let path = Self.corpusFolder.appendingPathComponent("safetensors/header_length_0x80.safetensors").path
        let values = try withWeightsFile(path) { archive -> [Float] in
            XCTAssertEqual(archive.formatDescription, TensorFileFormats.safetensors)
            return try archive.floats("x")
        }
        XCTAssertEqual(values, [1, 2])
    }

    /// Finding (manifest): a JSON "\n" in a key put a newline into the error quoting it. Seed
    /// crlf_blank_lines.jsonl: a manifest with CRLF line ends was one line (in a Swift String,
    /// CRLF is one Character) and so "not a JSON object".
    func testManifestErrorsAreOneLineAndCRLFEndsLines() throws {
        let key = Self.corpusFolder.appendingPathComponent("manifest/finding-newline-in-key.jsonl").path
        guard case .error(let message) = parse(key, .manifest) else { return XCTFail("the reproducer parsed") }
        XCTAssertTrue(
            message.hasSuffix(#":1: unknown key "content\n"; a job has content, styles, output and options"#), message)
        let crlf = Self.corpusFolder.appendingPathComponent("manifest/crlf_blank_lines.jsonl").path
        XCTAssertEqual(try BatchPlan.manifest(path: crlf, format: "png").map(\.origin), [crlf + ":2", crlf + ":4"])
    }

    /// Finding (framelist, ffprobe): 10^-18 frames per second, from `--fps` or a video's stream,
    /// made the GIF's delay of 100 / rate centiseconds overflow Int (a trap); rates are now held
    /// to 0.01…1000 and ffprobe's falls back to the default.
    func testAbsurdFrameRatesAreRefused() throws {
        let list = Self.corpusFolder.appendingPathComponent("framelist/finding-rate-1e-18.txt").path
        guard case .error(let message) = parse(list, .framelist) else { return XCTFail("the rate was taken") }
        XCTAssertTrue(message.contains("refused"), message)
        let probe = Self.corpusFolder.appendingPathComponent("ffprobe/finding-rate-1e-18.json").path
        XCTAssertEqual(
            try FFmpeg.parseProbe(Data(contentsOf: URL(fileURLWithPath: probe)), video: "v").frameRate,
            VideoFrames.defaultFrameRate)
    }

    /// Fixed-seed byte mutations of every seed: bit flips, extreme values, truncation, repeated
    /// and deleted runs — the shapes of hostile input a fuzzer starts from.
    func testMutatedSeedsParseOrThrow() throws {
        let perTarget = 300
        var generator = SeededGenerator(seed: 0xF022)
        for target in Target.allCases {
            let seeds = try corpusFiles(target).map { try [UInt8](Data(contentsOf: $0)) }
            var refused = 0
            for index in 0..<perTarget {
                var bytes = seeds[index % seeds.count]
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    mutate(&bytes, using: &generator)
                }
                let path = folder + "/input-\(target.rawValue)"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                if case .error = parse(path, target) { refused += 1 }
            }
            // Most mutations break a file; none at all would mean the inputs never reached the parser.
            XCTAssertGreaterThan(refused, perTarget / 10, "\(target)")
        }
    }

    private func mutate(_ bytes: inout [UInt8], using generator: inout SeededGenerator) {
        guard !bytes.isEmpty else { return }
        let at = Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0:
            bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &generator)
        case 1:
            bytes[at] = [0x00, 0xFF, 0x7F, 0x80].randomElement(using: &generator) ?? 0
        case 2:  // a 32-bit length or count set to an extreme, either byte order
            let value: [UInt8] =
                [
                    [0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0x7F],
                    [0x00, 0x00, 0x00, 0x00], [0x00, 0x01, 0x00, 0x00],
                ].randomElement(using: &generator) ?? []
            for (offset, byte) in value.enumerated() where at + offset < bytes.count {
                bytes[at + offset] = byte
            }
        case 3:
            bytes.removeSubrange(at...)
        case 4:
            let end = min(bytes.count, at + Int.random(in: 1...64, using: &generator))
            bytes.insert(contentsOf: bytes[at..<end], at: at)
        default:
            bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &generator)))
        }
    }
}
