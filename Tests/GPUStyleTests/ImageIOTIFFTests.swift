import CTIFF
import Foundation
@testable import GPUStyle
import XCTest

/// TIFF in and out: exact 8- and 16-bit round trips, gray and RGB, strips and tiles, alpha, and
/// the layouts that are refused (CMYK, float) with one line saying what to do. Files come from the
/// project's own writer and the test-only raw writer in Sources/CTIFF.
final class ImageIOTIFFTests: TemporaryFolderTestCase {
    func testTIFF8And16BitRoundTripsAreExact() throws {
        try assertRoundTripIsExact(folder + "/round.tif", bitDepth: 8, seed: 11)
        try assertRoundTripIsExact(folder + "/deep.TIFF", bitDepth: 16, seed: 12)
    }

    /// Gray and RGB, 8 and 16 bits, in strips (one, several, one row each) and in tiles that do
    /// not divide the image, with and without Deflate: each reads back as the samples written.
    func testGrayAndRGBInStripsAndTilesRead() throws {
        var generator = SeededGenerator(seed: 13)
        let width = 21, height = 13
        for (spp, photometric) in [(1, 1), (3, 2), (2, 1), (4, 2)] {
            for bits in [8, 16] {
                let maxValue = bits == 16 ? 65535 : 255
                let samples = (0..<(spp * width * height)).map { _ in Int.random(in: 0...maxValue, using: &generator) }
                // Opaque alpha, so the colours come back as stored.
                let stored = samples.enumerated().map {
                    spp % 2 == 0 && $0.offset % spp == spp - 1 ? maxValue : $0.element
                }
                let colors = spp >= 3 ? 3 : 1
                let plane = width * height
                var expected = [Float](repeating: 0, count: 3 * plane)
                for i in 0..<plane {
                    for c in 0..<3 {
                        expected[c * plane + i] = Float(
                            Double(stored[i * spp + (colors == 3 ? c : 0)]) * 255 / Double(maxValue))
                    }
                }
                let layouts: [(rows: UInt32, tile: UInt32, deflate: Bool)] = [
                    (0, 0, false), (4, 0, true), (1, 0, false), (0, 16, false), (0, 32, true),
                ]
                for layout in layouts {
                    let path = folder + "/s\(spp)b\(bits)r\(layout.rows)t\(layout.tile).tif"
                    try writeRawTIFF(
                        path, width: width, height: height, spp: spp, bits: bits, photometric: photometric,
                        samples: stored, rowsPerStrip: layout.rows, tile: layout.tile, deflate: layout.deflate)
                    let (image, notes) = try ImageFile.read(path)
                    XCTAssertEqual(image.pixels, expected, path)
                    XCTAssertEqual(notes, [], path)
                }
            }
        }
    }

    func testMinIsWhiteIsInvertedAndAlphaComposited() throws {
        let path = folder + "/white.tif"
        try writeRawTIFF(path, width: 2, height: 1, spp: 1, bits: 8, photometric: 0, samples: [0, 255])
        XCTAssertEqual(try ImageFile.read(path).image.pixels, [255, 0, 255, 0, 255, 0])
        let alpha = folder + "/alpha.tif"
        try writeRawTIFF(alpha, width: 1, height: 1, spp: 4, bits: 8, photometric: 2, samples: [0, 0, 0, 0])
        let (image, notes) = try ImageFile.read(alpha)
        XCTAssertEqual(image.pixels, [255, 255, 255])
        XCTAssertEqual(notes, ["\(alpha): alpha composited on white"])
    }

    func testCMYKFloatAndOtherLayoutsAreRefusedWithOneLine() throws {
        let cases: [(String, Int, Int, Int, Int, String)] = [
            ("cmyk.tif", 4, 8, 5, 1, "cannot read a CMYK (separated) TIFF; convert it to an 8- or 16-bit RGB"),
            ("float.tif", 3, 32, 2, 3, "cannot read a floating-point TIFF samples; convert it to an 8- or 16-bit RGB"),
            ("deep32.tif", 3, 32, 2, 1, "cannot read a 32-bit TIFF samples; convert it"),
        ]
        for (name, spp, bits, photometric, format, expected) in cases {
            let path = folder + "/" + name
            try writeRawTIFF(
                path, width: 3, height: 2, spp: spp, bits: bits, photometric: photometric,
                samples: [Int](repeating: 7, count: 3 * 2 * spp), sampleFormat: format)
            XCTAssertThrowsError(try ImageFile.read(path)) { error in
                let text = describe(error)
                XCTAssertTrue(text.hasPrefix(path + ": "), text)
                XCTAssertTrue(text.contains(expected), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
    }

    func testAFailedWriteSaysWhy() throws {
        // libtiff's own line ("Error writing TIFF header") carries the system's reason: a full disk
        // must read as one (`isOutOfSpace`). /dev/full fails every write with ENOSPC.
        XCTAssertThrowsError(
            try writeRawTIFF(
                "/dev/full", width: 2, height: 2, spp: 3, bits: 8, photometric: 2,
                samples: .init(repeating: 9, count: 12))
        ) {
            XCTAssertTrue(isOutOfSpace($0), describe($0))
            XCTAssertTrue(describe($0).contains("TIFF"), describe($0))
        }
    }

    func testOutputFormatAndBitDepthFollowTheExtension() throws {
        XCTAssertEqual(try ImageFormat(path: "a/b.TIF"), .tiff)
        XCTAssertEqual(try ImageFormat(path: "b.tiff"), .tiff)
        XCTAssertThrowsError(
            try ImageFile.write(smoothPattern(width: 4, height: 4), to: folder + "/x.jpg", options: .init(bitDepth: 16))
        ) {
            XCTAssertTrue(describe($0).contains("write a .png or .tif for 16-bit output"), describe($0))
        }
    }
}

/// Writes `samples` (interleaved, one Int per sample) as a TIFF through the test-only raw writer.
func writeRawTIFF(
    _ path: String, width: Int, height: Int, spp: Int, bits: Int, photometric: Int, samples: [Int],
    sampleFormat: Int = 1, rowsPerStrip: UInt32 = 0, tile: UInt32 = 0, deflate: Bool = false, icc: [UInt8] = []
) throws {
    var message = [CChar](repeating: 0, count: 256)
    let raw: [UInt8]
    switch bits {
    case 16: raw = samples.map { UInt16($0) }.withUnsafeBytes { [UInt8]($0) }
    case 32: raw = samples.map { sampleFormat == 3 ? Float($0).bitPattern : UInt32($0) }.withUnsafeBytes { [UInt8]($0) }
    default: raw = samples.map { UInt8($0) }
    }
    let status = ctiff_write_raw(
        path, UInt32(width), UInt32(height), Int32(spp), Int32(bits), Int32(photometric), Int32(sampleFormat),
        deflate ? 1 : 0, rowsPerStrip, tile, tile, raw, icc.isEmpty ? nil : icc, UInt32(icc.count),
        &message, message.count)
    guard status == Int32(CTIFF_OK) else { throw StyleError("ctiff_write_raw: " + String(cString: message)) }
}
