import Foundation
@testable import GPUStyle
import XCTest

/// Issue 17's defects, each as the user met it: inputs overwritten, work lost to a late check,
/// crashes, hangs, silent nonsense, and error lines that were not one line.
final class CommandLineSafetyTests: CommandLineTestCase {
    /// A small native run's arguments (weights given, so the cache is not needed).
    private func small(_ output: String, iterations: Int = 2) throws -> [String] {
        [
            "--weights", try cachedWeightsPath(), "-o", output, "--image-size", "32", "--iterations", "\(iterations)",
            "--progress", "none", "--device", "native",
        ]
    }

    private func checksum(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testSaveEveryNeverOverwritesAnInputAndAsksBeforeReplacingFrames() throws {
        // The content image is called like the second frame of `sv.png`.
        let input = path("sv_0002.png")
        try FileManager.default.copyItem(atPath: content, toPath: input)
        let before = try checksum(input)
        let refused = try run([input, style, "--save-every", "2"] + small(path("sv.png"), iterations: 4))
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("over the input"), refused.stderr)
        XCTAssertEqual(try checksum(input), before, "the input is untouched")

        // An unrelated file with a frame's name is replaced only with --overwrite.
        let frame = path("out_0002.png")
        try Data("not a frame".utf8).write(to: URL(fileURLWithPath: frame))
        let asked = try run([content, style, "--save-every", "2"] + small(path("out.png"), iterations: 4))
        XCTAssertEqual(asked.status, 1)
        XCTAssertTrue(asked.errorLines.first?.contains("--overwrite") ?? false, asked.stderr)
        XCTAssertEqual(try checksum(frame), Data("not a frame".utf8))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.png")), "refused before the run")
        let replaced = try run(
            [content, style, "--save-every", "2", "--overwrite"] + small(path("out.png"), iterations: 4))
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertNoThrow(try ImageFile.read(frame))
    }

    /// What can be checked before the run is: nothing runs, nothing is written.
    func testOptionCombinationsAreCheckedBeforeTheRun() throws {
        let cases: [(String, [String], String)] = [
            ("p.jpg", ["--png16"], "--png16"), ("x.png/", [], "names a folder"),
            ("p.jpg", ["--bit-depth", "16"], "--bit-depth 16 writes 16-bit PNG or TIFF files"),
            ("p.tif", ["--bit-depth", "12"], "--bit-depth must be 8 or 16"),
            ("p.png", ["--png16", "--bit-depth", "8"], "--png16 means --bit-depth 16; drop one of them"),
        ]
        for (output, extra, expected) in cases {
            let result = try run([content, style] + small(path(output)) + extra)
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertEqual(result.errorLines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), result.stderr)
            XCTAssertFalse(result.stderr.contains("stylising"), "refused before any work: \(result.stderr)")
        }
        // A JPEG sheet beside a 16-bit PNG is written with 8 bits, not refused after the run.
        let mixed = try run([content, style, "--png16", "--sheet", path("sheet.jpg")] + small(path("deep.png")))
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertNoThrow(try ImageFile.read(path("sheet.jpg")))
    }

    func testTwoOutputsOnOnePathAreRefusedNamingBoth() throws {
        let cases: [([String], String)] = [
            (["--checkpoint", path("a.gif"), "--gif", path("a.gif")], "--gif and --checkpoint"),
            (["--checkpoint", path("s.png"), "--sheet", path("s.png")], "--sheet and --checkpoint"),
            (["--sheet", path("out.png")], "-o and --sheet"),
            (["--sheet", path("out_0001.png"), "--save-every", "1"], "--sheet and --save-every's frame"),
        ]
        for (extra, named) in cases {
            let result = try run([content, style] + small(path("out.png")) + extra)
            XCTAssertEqual(result.status, 1, "\(extra)")
            XCTAssertTrue(result.stderr.contains(named), "\(extra): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("input"), "not taken for an input: \(result.stderr)")
        }
    }

    /// Under an address-space limit the plan counts what the process may still map, so a run
    /// too large for it, even in tiles (the whole image's state alone exceeds it at 12000 px),
    /// is refused with the size that fits, instead of dying in an allocation.
    func testProcessMemoryLimitIsAnErrorNotACrash() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else { throw XCTSkip("no prlimit") }
        let tubingen = examplePath("tubingen.jpg"), starry = examplePath("starry_night.jpg")
        let result = try run(
            [
                tubingen, starry, "--weights", try cachedWeightsPath(), "-o", path("big.png"),
                "--image-size", "12000", "--iterations", "1", "--device", "native",
            ],
            prefix: ["/usr/bin/prlimit", "--as=3072000000", "--"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(
            result.errorLines.first?.contains("the largest --image-size that fits is") ?? false, result.stderr)
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
    }

    /// A frame that cannot be written (here a folder stands where it goes) is a warning; the
    /// run goes on and writes its image.
    func testFailedSnapshotIsAWarningAndTheRunGoesOn() throws {
        try FileManager.default.createDirectory(atPath: path("out_0001.png/inside"), withIntermediateDirectories: true)
        let result = try run(
            [content, style, "--save-every", "1", "--overwrite"] + small(path("out.png"), iterations: 3))
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("warning: could not write the frame"), result.stderr)
        XCTAssertTrue(result.stderr.contains("the run goes on"), result.stderr)
        XCTAssertNoThrow(try ImageFile.read(path("out_0003.png")), "later frames are written")
        XCTAssertNoThrow(try ImageFile.read(path("out.png")))
    }

    func testSilentNonsenseIsRefused() throws {
        let cases: [([String], String)] = [
            (["--style-weight", "1e30"], "too large for float32"),
            (["--style-weight", "1e20", "--optimizer", "lbfgs"], "too large for float32"),
            (["--style-layers", ""], "--style-layers names no layer"),
            (["--style-blend-weights", "1,,2"], "empty item"),
            (["--content-layers", "relu4_2,"], "empty item"),
        ]
        for (extra, expected) in cases {
            let result = try run([content, style] + small(path("out.png")) + extra)
            XCTAssertEqual(result.status, 1, "\(extra): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(extra): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.png")), "\(extra): nothing written")
        }
    }

    /// A checkpoint knows its inputs by content: another spelling of the same file resumes, a
    /// different file under the same name is refused, and a damaged checkpoint is called damaged.
    func testCheckpointsKnowTheirInputsByContentAndTheirOwnDamage() throws {
        let local = path("cc.png")
        try FileManager.default.copyItem(atPath: content, toPath: local)
        XCTAssertEqual(try run([local, style, "--checkpoint", path("run.ckpt")] + small(path("first.png"))).status, 0)
        for spelling in [
            local, folder + "/./cc.png", folder + "/../" + URL(fileURLWithPath: folder).lastPathComponent + "/cc.png",
        ] {
            let resumed = try run(
                [spelling, style, "--resume", path("run.ckpt")] + small(path("again.png"), iterations: 3))
            XCTAssertEqual(resumed.status, 0, "\(spelling): \(resumed.stderr)")
        }
        try FileManager.default.removeItem(atPath: local)
        try FileManager.default.copyItem(atPath: style, toPath: local)
        let replaced = try run([local, style, "--resume", path("run.ckpt")] + small(path("again.png"), iterations: 3))
        XCTAssertEqual(replaced.status, 1)
        XCTAssertTrue(replaced.stderr.contains("the content image is not the one"), replaced.stderr)

        var bytes = try checksum(path("run.ckpt"))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path("damaged.ckpt")))
        let damaged = try run(
            [content, style, "--resume", path("damaged.ckpt")] + small(path("again.png"), iterations: 3))
        XCTAssertEqual(damaged.status, 1)
        XCTAssertTrue(damaged.stderr.contains("damaged"), damaged.stderr)
    }

    /// A FIFO (or anything not a regular file) given as an input is refused at once.
    func testInputsThatAreNotRegularFilesAreRefusedWithoutWaiting() throws {
        let fifo = path("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for arguments in [[content, style, "--weights", fifo], [fifo, style], [content, style, "--resume", fifo]] {
            let result = try run(arguments + ["-o", path("out.png"), "--iterations", "1"], timeout: 60)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.stderr.contains("not a regular file"), result.stderr)
        }
    }

    /// Weights whose checksum the tool does not know load with a warning naming the file.
    func testUnknownWeightsChecksumIsAWarning() throws {
        var bytes = try checksum(try cachedWeightsPath())
        var generator = SplitMix64(seed: 17)
        for _ in 0..<2000 { bytes[100_000 + Int(generator.next() % UInt64(bytes.count - 100_000))] ^= 0x55 }
        let flipped = path("flipped.bin")
        try bytes.write(to: URL(fileURLWithPath: flipped))
        let result = try run([content, style] + small(path("out.png"), iterations: 1) + ["--weights", flipped])
        XCTAssertTrue(result.stderr.contains("warning: weights file \(flipped)"), result.stderr)
        let clean = try run([content, style] + small(path("clean.png"), iterations: 1))
        XCTAssertFalse(clean.stderr.contains("warning"), clean.stderr)
    }

    /// Every failure is exit 1 with exactly one `error:` line (never `Error:`), whatever its source.
    func testEveryErrorIsOneLineAndExitCodeOne() throws {
        let output = path("out.png")
        let cache = path("a-file")
        try Data().write(to: URL(fileURLWithPath: cache))
        try FileManager.default.createDirectory(atPath: path("folder.ckpt"), withIntermediateDirectories: true)
        let cases: [([String], [String: String], String)] = [
            ([content, style, "-o", output, "--bogus"], [:], "Unknown option '--bogus'"),
            ([content, style, "-o", output, "--image-size", "-5"], [:], "--image-size must be"),
            ([content, style, "-o", output, "--image-size"], [:], "Missing value"),
            ([content, style, "-o", output, "--resume", path("folder.ckpt")], [:], "is a folder"),
            ([content, style, "-o", output], ["XDG_CACHE_HOME": cache], "XDG_CACHE_HOME"),
            (["weights", "fetch"], ["XDG_CACHE_HOME": cache], "XDG_CACHE_HOME"),
            ([content, style, "-o", output, "--image-size", "1000000000"], [:], "--image-size must be 16…65536"),
            ([content, "/no/such\nstyle.png", "-o", output], [:], "such\\nstyle.png"),
        ]
        for (arguments, environment, expected) in cases {
            let result = try run(arguments, environment: environment)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            XCTAssertEqual(lines.count, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("NSCocoaErrorDomain"), result.stderr)
        }
        let help = try run(["run", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--image-size"), help.stdout)
    }

    /// An image too narrow for any size gets advice that can work.
    func testTooNarrowImageGetsAdviceThatCanWork() throws {
        let thin = path("thin.png")
        try ImageFile.write(RGBImage(width: 1, height: 2000, pixels: [Float](repeating: 128, count: 6000)), to: thin)
        let result = try run([thin, style] + small(path("out.png")))
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("crop it"), result.stderr)
        let narrow = path("narrow.png")
        try ImageFile.write(RGBImage(width: 20, height: 200, pixels: [Float](repeating: 128, count: 12000)), to: narrow)
        let advised = try run([narrow, style] + small(path("out.png")))
        XCTAssertTrue(advised.stderr.contains("use --image-size 155 or more"), advised.stderr)
        XCTAssertEqual(try run([narrow, style] + small(path("out.png")) + ["--image-size", "155"]).status, 0)
    }

    /// A name that is not UTF-8 is refused, not looked up (or written) under a changed name.
    func testArgumentsThatAreNotUTF8AreRefused() throws {
        let name = Array(path("caf").utf8) + [0xE9] + Array(".png".utf8)
        let result = try runRaw([Array(content.utf8), name, Array("-o".utf8), Array(path("out.png").utf8)])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("\\xE9.png) is not valid UTF-8"), result.stderr)
    }

    /// Two SIGTERMs a millisecond apart exit 130: during start-up (once the device is chosen,
    /// before the run loop) and mid-run (after the first progress line).
    func testTwoQuickSignalsExit130() throws {
        for (stream, marker) in [("stderr", "device:"), ("stdout", "\"iteration\"")] {
            let (process, out, err) = try launch([
                content, style, "--weights", try cachedWeightsPath(), "-o", path("out.png"), "--image-size", "32",
                "--iterations", "100000", "--progress", "json",
            ])
            let reader = (stream == "stderr" ? err : out).fileHandleForReading
            var seen = Data()
            while !String(decoding: seen, as: UTF8.self).contains(marker) {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                seen.append(chunk)
            }
            kill(process.processIdentifier, SIGTERM)
            usleep(1000)
            kill(process.processIdentifier, SIGTERM)
            _ = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 130, "after \(marker): \(stderr)")
            XCTAssertEqual(process.terminationReason, .exit, stderr)
        }
    }
}
