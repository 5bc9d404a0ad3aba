import CLCMS
import CTIFF
import Foundation
@testable import GPUStyle
import XCTest

/// The `stylize-gpu` binary as a user runs it: exit codes, one-line errors, JSON progress, Ctrl-C.
final class CommandLineTests: CommandLineTestCase {
    func testBadOptionsFailBeforeWorkWithOneLine() throws {
        let output = path("out.png")
        let cases: [[String]] = [
            [content, style, "-o", output, "--image-size", "-5"],
            [content, style, "-o", output, "--iterations", "0"],
            [content, "/no/such/style.jpg", "-o", output, "--iterations", "1"],
            [content, style, "-o", content],
            [content, style, "-o", path("out.bmp")],
            [content, style, "-o", output, "--style-layers", "relu1_1,relu9_9"],
            [content, style, "-o", output, "--device", "no-such-device-name"],
            [content, style, "-o", output, "--learning-rate", "-1"],
            [content, style, "-o", output, "--scales", "0"],
            [content, style, "-o", output, "--min-size", "600"],
            [content, style, "-o", output, "--average-decay", "1"],
            [content, style, "-o", output, "--initial-iterations", "0"],
        ]
        for arguments in cases {
            let result = try run(arguments + ["--weights", try cachedWeightsPath()])
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.lowercased().contains("error"), "\(arguments): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("Stack dump"), result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no output on failure")
        }
    }

    /// `--define` (selftest, bench, bench ops) names an unknown option in one line, and a known one
    /// reaches the kernels: the self-test passes with both tiled GPU variants switched on.
    /// Files for print: a 16-bit TIFF content in, a 16-bit sRGB-tagged TIFF out, with frames
    /// of --save-every written as TIFFs at the same depth.
    func testTIFFInputAndSixteenBitTIFFOutput() throws {
        let tiff = path("content.tif")
        try ImageFile.write(try ImageFile.read(content).image, to: tiff, options: ImageWriteOptions(bitDepth: 16))
        let output = path("out.tif")
        let result = try run([
            tiff, style, "-o", output, "--bit-depth", "16", "--save-every", "2", "--image-size", "32",
            "--iterations", "2", "--progress", "none", "--device", "native", "--weights", try cachedWeightsPath(),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        for file in [output, path("out_0002.tif")] {
            var reader: OpaquePointer?
            var info = ctiff_info()
            var message = [CChar](repeating: 0, count: 256)
            XCTAssertEqual(ctiff_open(file, 10_000, &reader, &info, &message, message.count), Int32(CTIFF_OK), file)
            XCTAssertEqual(info.bit_depth, 16, file)
            XCTAssertEqual(info.channels, 3, file)
            XCTAssertEqual(clcms_is_srgb(info.icc, Int(info.icc_length)), 1, file)
            ctiff_close(reader)
        }
        XCTAssertEqual(try ImageFile.read(output).image.width, 32)
    }

    func testKernelOptionOverrides() throws {
        for command in [["selftest"], ["bench", "--sizes", "16"], ["bench", "ops"]] {
            let result = try run(command + ["--define", "NO_SUCH_OPTION=1"])
            XCTAssertNotEqual(result.status, 0, "\(command)")
            XCTAssertTrue(
                result.stderr.contains("unknown kernel option NO_SUCH_OPTION"), "\(command): \(result.stderr)")
        }
        guard let device = DeviceCatalog.discover().openCLDevices.first else { throw XCTSkip("no OpenCL device") }
        let result = try run([
            "selftest", "--device", "\(device.info.index)", "--weights", try cachedWeightsPath(),
            "--define", "WINO_GEMM=1", "--define", "GRAM_GEMM=1",
        ])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("selftest passed"), result.stdout)
    }

    /// `selftest --mode grad` runs the gradient checks alone: no weights, no eval rows.
    func testSelfTestGradModeRunsTheGradientChecksAlone() throws {
        let result = try run(["selftest", "--device", "native", "--mode", "grad"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasSuffix("PASS") }.count, SelfTestTable.gradChecks().count, result.stdout)
        XCTAssertTrue(lines.filter { $0.hasSuffix("PASS") }.allSatisfy { $0.hasPrefix("grad ") }, result.stdout)
        XCTAssertFalse(result.stdout.contains("note:"), result.stdout)
    }

    func testMissingWeightsPrintsTheFetchCommand() throws {
        let output = path("out.png")
        let result = try run([content, style, "-o", output, "--weights", path("none.bin")])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }.count, 1, result.stderr)
    }

    /// JSON progress: one object per printed iteration with the documented keys; iteration 0 is
    /// the content image, and its weighted loss equals the independent PyTorch fixture.
    func testJSONProgressAndIterationZeroLossMatchesTheReference() throws {
        let weights = try cachedWeightsPath()
        let output = path("out.png")
        let result = try run([
            content, style, "-o", output, "--weights", weights, "--image-size", "64", "--iterations", "2",
            "--print-every", "1", "--progress", "json", "--device", "native",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, result.stdout)
        var objects: [[String: Any]] = []
        for line in lines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(
                Set(object.keys),
                [
                    "scale", "width", "height", "iteration", "loss", "content", "style", "tv", "elapsed_s",
                    "device_bytes",
                ])
            objects.append(object)
        }
        XCTAssertEqual(objects.map { $0["iteration"] as? Int }, [0, 1, 2])
        // Everything a scale needs is allocated before its first iteration: the figure stays put.
        let deviceBytes = objects.compactMap { $0["device_bytes"] as? Int }
        XCTAssertEqual(deviceBytes.count, 3)
        XCTAssertGreaterThan(deviceBytes[0], 0)
        XCTAssertEqual(Set(deviceBytes).count, 1, "\(deviceBytes)")
        // Tests/GPUStyleTests/Fixtures/reference/vgg19_reference.json, losses "x_is_content", total
        // (5·content + 100·style + 0.001·tv) computed in float64 by PyTorch.
        let reference = 351_294_711.3320452
        let loss = try XCTUnwrap(objects[0]["loss"] as? Double)
        XCTAssertEqual(loss, reference, accuracy: 1e-3 * reference)
        XCTAssertEqual(objects[0]["content"] as? Double, 0)
        XCTAssertNoThrow(try ImageFile.read(output))
    }

    /// A coarse-to-fine run prints its scales, reports each scale's iterations with its size,
    /// and writes the image at --image-size.
    func testCoarseToFineRunReportsEachScale() throws {
        let output = path("out.png")
        let result = try run([
            content, style, "-o", output, "--weights", try cachedWeightsPath(), "--image-size", "64", "--scales", "2",
            "--initial-iterations", "3", "--iterations", "2", "--print-every", "1", "--progress", "json",
            "--device", "native", "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let objects = try result.stdout.split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.map { $0["scale"] as? Int }, [0, 0, 0, 0, 1, 1, 1])
        XCTAssertEqual(objects.map { $0["iteration"] as? Int }, [0, 1, 2, 3, 0, 1, 2])
        XCTAssertEqual(objects.map { $0["width"] as? Int }, [32, 32, 32, 32, 64, 64, 64])
        XCTAssertTrue(result.stderr.contains("scales: 32×24, 64×48"), result.stderr)
        let written = try ImageFile.read(output).image
        XCTAssertEqual([written.width, written.height], [64, 48])
    }

    func testGIFAndContactSheet() throws {
        let weights = try cachedWeightsPath()
        let result = try run([
            content, style, "-o", path("out.png"), "--weights", weights, "--image-size", "32",
            "--iterations", "3", "--progress", "none", "--device", "native",
            "--gif", path("evolution.gif"), "--gif-every", "1", "--sheet", path("sheet.png"),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let gif = try decodeGIF(Array(try Data(contentsOf: URL(fileURLWithPath: path("evolution.gif")))))
        XCTAssertEqual(gif.frames.count, 4, "iteration 0 and one frame per iteration")
        XCTAssertEqual([gif.width, gif.height], [32, 24])
        let sheet = try ImageFile.read(path("sheet.png")).image
        // content 32×24, style 64×48 scaled to 24 high (32 wide), result 32×24, two gaps of 8.
        XCTAssertEqual([sheet.width, sheet.height], [32 + 8 + 32 + 8 + 32, 24])
    }

    func testCheckpointAndResumeGiveTheSameBytesAsOneRun() throws {
        let weights = try cachedWeightsPath()
        let common = [
            content, style, "--weights", weights, "--image-size", "32", "--progress", "none", "--device", "native",
        ]
        XCTAssertEqual(try run(common + ["-o", path("straight.png"), "--iterations", "4"]).status, 0)
        let first = try run(common + ["-o", path("first.png"), "--iterations", "2", "--checkpoint", path("run.ckpt")])
        XCTAssertEqual(first.status, 0, first.stderr)
        let resumed = try run(common + ["-o", path("resumed.png"), "--iterations", "4", "--resume", path("run.ckpt")])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming at iteration 2"), resumed.stderr)
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: path("resumed.png"))),
            try Data(contentsOf: URL(fileURLWithPath: path("straight.png"))))
        let other = try run(
            common + [
                "-o", path("other.png"), "--iterations", "4", "--resume", path("run.ckpt"),
                "--style-weight", "7",
            ])
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("lossWeights.style"), other.stderr)
    }

    /// The output folder vanishes mid-run: the image is not lost but written elsewhere, and the
    /// message says where.
    func testVanishedOutputFolderWritesTheImageElsewhere() throws {
        let weights = try cachedWeightsPath()
        let doomed = path("doomed")
        try FileManager.default.createDirectory(atPath: doomed, withIntermediateDirectories: true)
        let (process, out, err) = try launch([
            content, style, "-o", doomed + "/out.png", "--weights", weights,
            "--image-size", "32", "--iterations", "8", "--print-every", "1",
            "--progress", "json", "--device", "native",
        ])
        _ = out.fileHandleForReading.availableData
        try FileManager.default.removeItem(atPath: doomed)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1, stderr)
        let line = try XCTUnwrap(stderr.split(separator: "\n").last { $0.hasPrefix("error:") })
        let fallback = try XCTUnwrap(
            line.components(separatedBy: "written to ").last?.components(separatedBy: " instead").first)
        defer { try? FileManager.default.removeItem(atPath: fallback) }
        XCTAssertNoThrow(try ImageFile.read(fallback), String(line))
    }

    /// Two runs at once on the same device both finish with their own images.
    func testTwoRunsAtOnceOnOneDevice() throws {
        let weights = try cachedWeightsPath()
        let runs = try ["a", "b"].map { name in
            (
                name,
                try launch([
                    content, style, "-o", path("\(name).png"), "--weights", weights, "--image-size", "32",
                    "--iterations", "3", "--progress", "none", "--device", "auto",
                ])
            )
        }
        for (name, (process, out, err)) in runs {
            _ = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "\(name): \(stderr)")
            XCTAssertNoThrow(try ImageFile.read(path("\(name).png")))
        }
    }

    /// A run whose image does not fit the device (`STYLIZE_GPU_DEVICE_MEMORY`) tiles by itself and
    /// says so in one line, here with the state and the kept activations on the host, and writes its image; with too little
    /// host memory as well (`STYLIZE_GPU_HOST_MEMORY`) it fails before work naming the largest size.
    func testAutomaticTilingIsAnnouncedInOneLine() throws {
        let weights = try cachedWeightsPath()
        let output = path("auto-tiled.png")
        let arguments = [
            examplePath("chelsea.png"), examplePath("starry_night.jpg"), "-o", output, "--weights", weights,
            "--image-size", "256", "--iterations", "2", "--device", "native", "--style-layers", "relu1_1,relu2_1",
            "--content-layers", "relu2_1",
        ]
        let result = try run(arguments, environment: ["STYLIZE_GPU_DEVICE_MEMORY": "40M"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("tiling: ") }
        XCTAssertEqual(lines.count, 1, result.stderr)
        // The native device's memory is the host's: the tiles' activations are kept too.
        let pattern =
            #"^tiling: \d+×\d+ tiles of \d+ px \+ 64 px halo, the image and optimiser state on the host, activations kept between passes$"#
        XCTAssertNotNil(lines.first?.range(of: pattern, options: .regularExpression), result.stderr)
        XCTAssertNoThrow(try ImageFile.read(output))
        let recomputed = try run(
            arguments + ["--tile-activations", "recompute"], environment: ["STYLIZE_GPU_DEVICE_MEMORY": "40M"])
        XCTAssertEqual(recomputed.status, 0, recomputed.stderr)
        XCTAssertTrue(recomputed.stderr.contains("the image and optimiser state on the host\n"), recomputed.stderr)

        let refused = try run(
            arguments, environment: ["STYLIZE_GPU_DEVICE_MEMORY": "40M", "STYLIZE_GPU_HOST_MEMORY": "30M"])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(
            refused.errorLines.first?.contains("MiB of host memory") ?? false
                && refused.errorLines.first?.contains("the largest --image-size that fits is") ?? false,
            refused.stderr)
    }

    func testInterruptWritesTheImageAndExits130() throws {
        let weights = try cachedWeightsPath()
        // A plain run, and a tiled one (issue 20: the stop comes between two tiled iterations too).
        for (name, size, extra) in [
            ("interrupted.png", "32", [String]()), ("interrupted-tiled.png", "64", ["--tile-size", "32"]),
        ] {
            let output = path(name)
            let (process, out, err) = try launch(
                [
                    content, style, "-o", output, "--weights", weights, "--image-size", size,
                    "--iterations", "100000", "--print-every", "1", "--progress", "json",
                    "--device", "native",
                ] + extra)
            // Wait for the first progress line: the run is iterating.
            let reader = out.fileHandleForReading
            var seen = Data()
            while !seen.contains(UInt8(ascii: "\n")) {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                seen.append(chunk)
            }
            kill(process.processIdentifier, SIGINT)
            _ = reader.readDataToEndOfFile()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 130, stderr)
            XCTAssertTrue(stderr.contains("wrote"), stderr)
            if !extra.isEmpty { XCTAssertTrue(stderr.contains("tiling: "), stderr) }
            XCTAssertNoThrow(try ImageFile.read(output))
        }
    }
}
