import Foundation
@testable import GPUStyle
import XCTest

/// Issue 23's options on the command line: every bad combination is one line before any work.
final class StyleControlCommandLineTests: CommandLineTestCase {
    func testBadControlCombinationsAreOneLineBeforeAnyWork() throws {
        let weights = try cachedWeightsPath()
        let mask = examplePath("mask_left.png"), other = examplePath("mask_right.png")
        let notAnImage = path("mask.png")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: notAnImage))
        let output = path("out.png")
        let base = [content, style, "-o", output, "--iterations", "1", "--image-size", "32", "--weights", weights]
        let cases: [([String], String, Bool)] = [
            (["--style-masks", mask, other], "--style-masks has 2 images for 1 style image", true),
            (["--style-source-masks", mask, other], "--style-source-masks has 2 images for 1 style image", true),
            (["--style-masks", path("missing.png")], "missing.png", true),
            (["--style-masks", notAnImage], "mask.png", false),
            (["--style-layer-weights", "1,2"], "--style-layer-weights has 2 values for 5 layers", true),
            (["--content-layer-weights", "1,2"], "--content-layer-weights has 2 values for 1 layer", true),
            (["--style-layer-weights", "1,-1,1,1,1"], "--style-layer-weights must be non-negative", true),
            (["--style-layer-weights", "1,x,1,1,1"], "'x' is not a number", true),
            (["--style-masks", mask, "--style-blend-weights", "1"], "--style-blend-weights cannot be used", true),
            (["--original-colors", "--preserve-colors", "match"], "--original-colors is --preserve-colors", true),
            (["--preserve-colors", "hue"], "--preserve-colors", true),
        ]
        for (arguments, expected, beforeDevice) in cases {
            let result = try run(base + arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.errorLines.count, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            if beforeDevice {
                XCTAssertFalse(result.stderr.contains("device:"), "refused before any work: \(result.stderr)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        }
    }

    /// The controls run from the command line, and --preserve-colors luminance is --original-colors.
    func testControlsRunAndLuminanceIsOriginalColors() throws {
        let weights = try cachedWeightsPath()
        let base = [
            content, style, style, "--iterations", "2", "--image-size", "32", "--weights", weights, "--device",
            "native", "--progress", "none",
        ]
        let masked = try run(
            base + [
                "-o", path("masked.png"), "--style-masks", examplePath("mask_left.png"), examplePath("mask_right.png"),
                "--style-layer-weights", "1,0.5,1,1,0", "--preserve-colors", "match",
            ])
        XCTAssertEqual(masked.status, 0, masked.stderr)
        let luminance = try run(base + ["-o", path("a.png"), "--preserve-colors", "luminance"])
        let original = try run(base + ["-o", path("b.png"), "--original-colors"])
        XCTAssertEqual(luminance.status, 0, luminance.stderr)
        XCTAssertEqual(original.status, 0, original.stderr)
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: path("a.png"))),
            try Data(contentsOf: URL(fileURLWithPath: path("b.png"))))
    }
}
