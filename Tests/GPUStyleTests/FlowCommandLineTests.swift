import Foundation
@testable import GPUStyle
import XCTest

/// `stylize-gpu flow`: the Middlebury file of a known translation, and frames of two sizes refused.
final class FlowCommandLineTests: CommandLineTestCase {
    func testFlowWritesTheTranslationAsAMiddleburyFile() throws {
        let pair = FlowTests.affinePair(try FlowTests.photo("shipwreck.jpg"), matrix: (1, 0, 0, 1), shift: (1.5, -2.25))
        try ImageFile.write(pair.from, to: path("a.png"))
        try ImageFile.write(pair.to, to: path("b.png"))
        let result = try run(["flow", path("a.png"), path("b.png"), "-o", path("ab.flo"), "--device", "native"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: path("ab.flo")))
        let side = FlowTests.side
        XCTAssertEqual(data.count, 12 + 8 * side * side)
        func float(_ offset: Int) -> Float {
            Float(
                bitPattern: UInt32(
                    littleEndian: data[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        }
        XCTAssertEqual(float(0), FlowFile.magic)
        XCTAssertEqual(data[4..<12].withUnsafeBytes { $0.loadUnaligned(as: (Int32, Int32).self) }.0, Int32(side))
        // u, v per pixel in row order: the mean over the interior is the shift (x −2.25, y 1.5),
        // within the tenth of a pixel FlowTests bounds the EPE by (8-bit frames here).
        var (u, v, n) = (0.0, 0.0, 0.0)
        for i in 0..<side {
            for j in 0..<side where FlowTests.interior(i, j) {
                let offset = 12 + 8 * (i * side + j)
                (u, v, n) = (u + Double(float(offset)), v + Double(float(offset + 4)), n + 1)
            }
        }
        XCTAssertEqual(u / n, -2.25, accuracy: 0.1)
        XCTAssertEqual(v / n, 1.5, accuracy: 0.1)
    }

    func testFramesOfTwoSizesAreRefusedInOneLine() throws {
        try ImageFile.write(RGBImage(width: 20, height: 10), to: path("a.png"))
        try ImageFile.write(RGBImage(width: 10, height: 20), to: path("b.png"))
        let result = try run(["flow", path("a.png"), path("b.png"), "-o", path("ab.flo"), "--device", "native"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errorLines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("one size"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("ab.flo")))
    }
}
