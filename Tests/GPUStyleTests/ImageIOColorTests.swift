import CJPEG
import CLCMS
import CPNG
import CTIFF
import Foundation
@testable import GPUStyle
import XCTest

/// Embedded colour profiles: PNG iCCP, JPEG APP2 (several chunks) and TIFF tag 34675 inputs are
/// converted to sRGB as lcms's own 16-bit transform converts them; gray profiles as the sRGB
/// formula does; outputs
/// are tagged sRGB; bad profiles are ignored with a note, never a crash.
final class ImageIOColorTests: TemporaryFolderTestCase {
    /// A wide-gamut matrix profile with linear curves (AdobeRGB-like primaries, gamma 1.0).
    private func profile(gray: Bool = false, gamma: Double = 1.0) throws -> [UInt8] {
        let primaries: [Double] = [0.64, 0.33, 0.21, 0.71, 0.15, 0.06]
        var bytes: UnsafeMutablePointer<UInt8>?
        var length: UInt32 = 0
        XCTAssertEqual(clcms_make_profile(gray ? 1 : 0, primaries, gamma, &bytes, &length), Int32(CLCMS_OK))
        defer { free(bytes) }
        return Array(UnsafeBufferPointer(start: try XCTUnwrap(bytes), count: Int(length)))
    }

    /// lcms's 16-bit transform of 8-bit samples (channels a pixel) to sRGB, as planar 0…255.
    private func reference(_ samples: [UInt8], channels: Int, profile: [UInt8]) -> [Float] {
        let count = samples.count / channels
        let input = samples.map { UInt16($0) * 257 }
        var output = [UInt16](repeating: 0, count: 3 * count)
        XCTAssertEqual(clcms_reference_16(profile, profile.count, input, &output, count), Int32(CLCMS_OK))
        var planar = [Float](repeating: 0, count: 3 * count)
        for i in 0..<count {
            for c in 0..<3 { planar[c * count + i] = Float(output[3 * i + c]) / 257 }
        }
        return planar
    }

    private func assertWithinOneLevel(
        _ image: RGBImage, _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let worst = zip(image.pixels, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1, label, file: file, line: line)
        XCTAssertEqual(image.pixels.count, expected.count, label, file: file, line: line)
    }

    private func samples(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    func testEmbeddedProfilesAreConvertedToSRGBLikeLcms() throws {
        let wide = try profile()
        let width = 16, height = 8
        let rgb = samples(3 * width * height, seed: 21)
        let expected = reference(rgb, channels: 3, profile: wide)
        let asStored = rgb.enumerated().reduce(into: [Float](repeating: 0, count: rgb.count)) { out, item in
            out[(item.offset % 3) * width * height + item.offset / 3] = Float(item.element)
        }
        XCTAssertGreaterThan(zip(asStored, expected).map { abs($0 - $1) }.max() ?? 0, 20, "the profile changes colours")

        let png = folder + "/wide.png"
        try writeRawPNG(png, width: width, height: height, colorType: CPNG_COLOR_RGB, bitDepth: 8, rows: rgb, icc: wide)
        let tif = folder + "/wide.tif"
        try writeRawTIFF(
            tif, width: width, height: height, spp: 3, bits: 8, photometric: 2, samples: rgb.map(Int.init), icc: wide)
        for path in [png, tif] {
            let (image, notes) = try ImageFile.read(path)
            assertWithinOneLevel(image, expected, path)
            XCTAssertEqual(notes, ["\(path): converted from its embedded colour profile 'RGB built-in' to sRGB"], path)
        }
        // JPEG: lossy, so the reference is lcms applied to what the JPEG decodes to without the profile.
        let plain = folder + "/plain.jpg", tagged = folder + "/wide.jpg"
        try writeSamplesJPEG(plain, width: width, height: height, source: CJPEG_SOURCE_RGB, samples: rgb)
        try writeSamplesJPEG(tagged, width: width, height: height, source: CJPEG_SOURCE_RGB, samples: rgb, icc: wide)
        let decoded = ImageFile.interleavedBytes(try ImageFile.read(plain).image)
        let (image, notes) = try ImageFile.read(tagged)
        assertWithinOneLevel(image, reference(decoded, channels: 3, profile: wide), tagged)
        XCTAssertEqual(notes.count, 1, "\(notes)")
    }

    /// A profile larger than one APP2 segment (64 KB) is split into chunks; they are reassembled.
    func testJPEGProfileInSeveralChunksIsReassembled() throws {
        var big = try profile()
        let padded = 150_000
        big += [UInt8](repeating: 0, count: padded - big.count)
        big.replaceSubrange(0..<4, with: bigEndian32(padded))  // the header's size field
        let path = folder + "/chunks.jpg"
        let rgb = samples(3 * 8 * 8, seed: 22)
        try writeSamplesJPEG(path, width: 8, height: 8, source: CJPEG_SOURCE_RGB, samples: rgb, icc: big)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let markers = (0..<(bytes.count - 14)).filter {
            bytes[$0] == 0xFF && bytes[$0 + 1] == 0xE2 && bytes[($0 + 4)..<($0 + 15)].elementsEqual("ICC_PROFILE".utf8)
        }
        XCTAssertEqual(markers.count, 3)
        let notes = try ImageFile.read(path).notes
        XCTAssertEqual(notes, ["\(path): converted from its embedded colour profile 'RGB built-in' to sRGB"])
    }

    func testGrayImageWithGrayProfile() throws {
        let gray = try profile(gray: true, gamma: 1.0)
        let levels = samples(12 * 5, seed: 23)
        // Independent of lcms: a linear gray level Y is the neutral sRGB colour encode(Y). (lcms's
        // 16-bit path is off by over a level in the darks here, where the sRGB curve is steep.)
        func encode(_ y: Double) -> Double { y <= 0.0031308 ? 12.92 * y : 1.055 * pow(y, 1 / 2.4) - 0.055 }
        let plane = levels.map { Float(255 * encode(Double($0) / 255)) }
        let expected = plane + plane + plane
        let png = folder + "/gray.png", tif = folder + "/gray.tif"
        try writeRawPNG(png, width: 12, height: 5, colorType: CPNG_COLOR_GRAY, bitDepth: 8, rows: levels, icc: gray)
        try writeRawTIFF(
            tif, width: 12, height: 5, spp: 1, bits: 8, photometric: 1, samples: levels.map(Int.init), icc: gray)
        for path in [png, tif] {
            let (image, notes) = try ImageFile.read(path)
            assertWithinOneLevel(image, expected, path)
            XCTAssertEqual(notes.count, 1, "\(notes)")
        }
        // A gray profile on colour data does not fit: ignored with a note.
        let rgb = folder + "/mismatch.tif"
        try writeRawTIFF(
            rgb, width: 2, height: 1, spp: 3, bits: 8, photometric: 2, samples: [1, 2, 3, 4, 5, 6], icc: gray)
        let (image, notes) = try ImageFile.read(rgb)
        XCTAssertEqual(image.pixels, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(
            notes,
            [
                "\(rgb): embedded colour profile ignored (a gray profile on a colour image); colours used as stored (sRGB)"
            ])
    }

    func testOutputsAreTaggedSRGB() throws {
        let image = smoothPattern(width: 9, height: 7)
        XCTAssertEqual(clcms_is_srgb(ColorProfile.sRGB, ColorProfile.sRGB.count), 1)
        var message = [CChar](repeating: 0, count: 256)

        let png = folder + "/tagged.png"
        try ImageFile.write(image, to: png)
        var decodedPNG = cpng_image()
        XCTAssertEqual(cpng_read(png, 1000, &decodedPNG, &message, message.count), Int32(CPNG_OK))
        XCTAssertEqual(decodedPNG.srgb, 1, "sRGB chunk")
        cpng_free(&decodedPNG)

        let jpg = folder + "/tagged.jpg"
        try ImageFile.write(image, to: jpg)
        var decodedJPEG = cjpeg_image()
        XCTAssertEqual(cjpeg_read(jpg, 1000, &decodedJPEG, &message, message.count), Int32(CJPEG_OK))
        XCTAssertEqual(clcms_is_srgb(decodedJPEG.icc, Int(decodedJPEG.icc_length)), 1, "APP2 ICC_PROFILE")
        cjpeg_free(&decodedJPEG)

        for depth in [8, 16] {
            let tif = folder + "/tagged\(depth).tif"
            try ImageFile.write(image, to: tif, options: ImageWriteOptions(bitDepth: depth))
            var reader: OpaquePointer?
            var info = ctiff_info()
            XCTAssertEqual(ctiff_open(tif, 1000, &reader, &info, &message, message.count), Int32(CTIFF_OK))
            XCTAssertEqual(info.bit_depth, Int32(depth))
            XCTAssertEqual(clcms_is_srgb(info.icc, Int(info.icc_length)), 1, "TIFF tag 34675")
            ctiff_close(reader)
        }
        // And the tag reads back as no conversion at all.
        XCTAssertEqual(try ImageFile.read(png).notes, [])
        XCTAssertEqual(try ImageFile.read(jpg).notes, [])
    }

    /// Bad profiles (garbage, truncated, seeded mutations of a good one) are ignored with one note
    /// or converted; never a crash.
    func testBadAndMutatedProfilesAreIgnoredWithANote() throws {
        let good = try profile()
        let path = folder + "/bad.tif"
        for bad in [[UInt8](repeating: 0x41, count: 200), Array(good.prefix(good.count / 2)), Array(good.prefix(100))] {
            try writeRawTIFF(
                path, width: 1, height: 1, spp: 3, bits: 8, photometric: 2, samples: [10, 20, 30], icc: bad)
            let (image, notes) = try ImageFile.read(path)
            XCTAssertEqual(image.pixels, [10, 20, 30])
            XCTAssertEqual(notes.count, 1)
            XCTAssertTrue(notes[0].hasPrefix("\(path): embedded colour profile ignored ("), notes[0])
            XCTAssertFalse(notes[0].contains("\n"))
        }
        var generator = SeededGenerator(seed: 24)
        var ignored = 0
        for _ in 0..<300 {
            var bytes = good
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &generator)
                case 1: bytes[at] = [0x00, 0xFF, 0x7F, 0x80].randomElement(using: &generator) ?? 0
                default: bytes.removeSubrange(at...)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            var image = RGBImage(width: 2, height: 1, red: 10, green: 200, blue: 30)
            if let note = ColorProfile.convertToSRGB(&image, profile: bytes, sourceIsGray: false, path: "p") {
                XCTAssertFalse(note.contains("\n"), note)
                if note.contains("ignored") { ignored += 1 }
            }
            XCTAssertTrue(image.pixels.allSatisfy { $0 >= 0 && $0 <= 255 }, "\(image.pixels)")
        }
        XCTAssertGreaterThan(ignored, 30)
    }
}
