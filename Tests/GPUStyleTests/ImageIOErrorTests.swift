import Foundation
@testable import GPUStyle
import XCTest

/// Every way a file can be bad gives one clear error naming the file, never a crash, an exit or a
/// silently damaged image.
final class ImageIOErrorTests: TemporaryFolderTestCase {
    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = folder + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func bytes(of image: RGBImage, _ name: String) throws -> [UInt8] {
        let path = folder + "/" + name
        try ImageFile.write(image, to: path)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func assertReadFails(
        _ path: String, containing expected: String, maxPixels: Int = 100_000_000,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try ImageFile.read(path, maxPixels: maxPixels), file: file, line: line) { error in
            let text = describe(error)
            XCTAssertTrue(error is StyleError, "\(type(of: error))", file: file, line: line)
            XCTAssertTrue(text.hasPrefix(path + ": "), text, file: file, line: line)
            XCTAssertTrue(text.contains(expected), text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
        }
    }

    func testMissingEmptyFolderGarbageAndOtherFormats() throws {
        assertReadFails(folder + "/absent.png", containing: "no such file")
        assertReadFails(try write([], "empty.jpg"), containing: "the file is empty (0 bytes)")
        assertReadFails(folder, containing: "is a folder")
        var generator = SeededGenerator(seed: 3)
        let garbage = (0..<500).map { _ in UInt8.random(in: 0...0x7F, using: &generator) }
        assertReadFails(try write(garbage, "garbage.png"), containing: "not an image")
        assertReadFails(try write(Array("GIF89a".utf8) + garbage, "anim.png"), containing: "a GIF image")
        // Right signature, then nonsense.
        let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        assertReadFails(try write(pngSignature + garbage, "bad.png"), containing: "corrupt PNG data")
        assertReadFails(try write([0xFF, 0xD8, 0xFF] + garbage, "bad.jpg"), containing: "corrupt JPEG data")
    }

    func testTruncatedFilesAreErrors() throws {
        let image = randomImage(width: 48, height: 32, seed: 4)  // noise: the data is most of the file
        for (name, data) in [("t.png", try bytes(of: image, "full.png")), ("t.jpg", try bytes(of: image, "full.jpg"))] {
            for fraction in [0.5, 0.75, 0.95] {
                let path = try write(Array(data.prefix(Int(Double(data.count) * fraction))), name)
                assertReadFails(path, containing: "truncated")
            }
            // Cut inside the header: truncated or corrupt, but an error either way.
            for length in [3, 10, 20, 30, 40] {
                XCTAssertThrowsError(
                    try ImageFile.read(try write(Array(data.prefix(length)), name)), "\(name) \(length)")
            }
        }
    }

    func testCorruptPNGChunkIsAnError() throws {
        var data = try bytes(of: randomImage(width: 16, height: 16, seed: 5), "crc.png")
        data[data.count / 2] ^= 0x55  // inside IDAT: its CRC no longer matches
        assertReadFails(try write(data, "crc.png"), containing: "corrupt PNG data")
    }

    func testHugeDeclaredPNGIsRefusedBeforeAllocating() throws {
        var data = try bytes(of: smoothPattern(width: 8, height: 8), "small.png")
        // IHDR data is bytes 16..<29 (after signature, length, type); its CRC follows.
        data.replaceSubrange(16..<24, with: bigEndian32(200_000) + bigEndian32(200_000))
        data.replaceSubrange(29..<33, with: bigEndian32(Int(crc32(data[12..<29]))))
        assertReadFails(
            try write(data, "huge.png"),
            containing:
                "declared 200000×200000 = 40000 megapixels exceeds the limit of 100 megapixels; "
                + "pass a smaller image or raise --max-megapixels")
    }

    func testHugeDeclaredJPEGIsRefusedBeforeAllocating() throws {
        var data = try bytes(of: smoothPattern(width: 8, height: 8), "small.jpg")
        guard let sof = (0..<(data.count - 9)).first(where: { data[$0] == 0xFF && data[$0 + 1] == 0xC0 }) else {
            return XCTFail("no SOF0 marker")
        }
        // FF C0, length (2), precision (1), height (2), width (2).
        data.replaceSubrange((sof + 5)..<(sof + 9), with: [0xEA, 0x60, 0xEA, 0x60])  // 60000 × 60000
        assertReadFails(
            try write(data, "huge.jpg"),
            containing:
                "declared 60000×60000 = 3600 megapixels exceeds the limit of 100 megapixels")
    }

    func testTruncatedTIFFIsAnError() throws {
        let data = try bytes(of: randomImage(width: 48, height: 32, seed: 6), "full.tif")
        // libtiff writes the directory after the strips, so a cut file points past its end.
        for fraction in [0.5, 0.75] {
            assertReadFails(
                try write(Array(data.prefix(Int(Double(data.count) * fraction))), "t.tif"), containing: "truncated")
        }
        // The sRGB profile comes last: cut there, the image is whole and a note says what was lost.
        let cutProfile = try write(Array(data.prefix(data.count - 100)), "p.tif")
        let notes = try ImageFile.read(cutProfile).notes
        XCTAssertEqual(notes.count, 1, "\(notes)")
        XCTAssertTrue(notes.first?.hasPrefix("\(cutProfile): decoder warning: ") ?? false, "\(notes)")
        for length in [3, 6, 10] {
            XCTAssertThrowsError(try ImageFile.read(try write(Array(data.prefix(length)), "h.tif")), "\(length)")
        }
        // An intact directory whose strip runs past the end of the file.
        let raw = folder + "/raw.tif"
        try writeRawTIFF(
            raw, width: 40, height: 30, spp: 3, bits: 8, photometric: 2, samples: [Int](repeating: 9, count: 3600))
        var cut = try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw)))
        try patchTIFFEntry(&cut, tag: 273, value: cut.count - 100)  // StripOffsets
        assertReadFails(try write(cut, "cut.tif"), containing: "truncated")
    }

    func testHugeDeclaredTIFFIsRefusedBeforeAllocating() throws {
        let raw = folder + "/small.tif"
        try writeRawTIFF(
            raw, width: 8, height: 8, spp: 3, bits: 8, photometric: 2, samples: [Int](repeating: 1, count: 192))
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw)))
        try patchTIFFEntry(&data, tag: 256, value: 200_000)  // ImageWidth
        try patchTIFFEntry(&data, tag: 257, value: 200_000)  // ImageLength
        assertReadFails(
            try write(data, "huge.tif"),
            containing: "declared 200000×200000 = 40000 megapixels exceeds the limit of 100 megapixels")
    }

    func testLimitAppliesToRealImages() throws {
        let path = folder + "/fine.png"
        try ImageFile.write(smoothPattern(width: 64, height: 48), to: path)
        assertReadFails(
            path, containing: "declared 64×48 = 0.00307 megapixels exceeds the limit of 0.001 megapixels",
            maxPixels: 1000)
        XCTAssertNoThrow(try ImageFile.read(path, maxPixels: 64 * 48))
    }

    /// A few hundred random corruptions of valid files: each read must end in an image or a
    /// StyleError. Half of the PNG mutations repair the chunk CRCs afterwards, so they reach
    /// libpng's and zlib's parsers instead of stopping at the checksum.
    func testRandomCorruptionsNeverCrash() throws {
        var generator = SeededGenerator(seed: 2024)
        let image = smoothPattern(width: 24, height: 16)
        let baseline = try bytes(of: image, "m.jpg")
        let progressivePath = folder + "/mp.jpg"
        try writeSamplesJPEG(
            progressivePath, width: 24, height: 16, source: 0, samples: interleaved(image),
            progressive: true)
        let progressive = try [UInt8](Data(contentsOf: URL(fileURLWithPath: progressivePath)))
        let png = try bytes(of: image, "m.png")
        var outcomes = (images: 0, errors: 0)
        let started = Date()
        for round in 0..<300 {
            let (source, name) = [(png, "x.png"), (baseline, "x.jpg"), (progressive, "x.jpg")][round % 3]
            var data = mutate(source, using: &generator)
            if name == "x.png" && round % 2 == 0 {
                repairChunkCRCs(&data)
            }
            let path = try write(data, name)
            do {
                _ = try ImageFile.read(path, maxPixels: 4_000_000)
                outcomes.images += 1
            } catch let error as StyleError {
                XCTAssertTrue(error.message.hasPrefix(path), error.message)
                outcomes.errors += 1
            }
        }
        print(
            "corruptions: \(outcomes.images) decoded, \(outcomes.errors) refused, "
                + String(format: "%.2f s", Date().timeIntervalSince(started)))
        XCTAssertGreaterThan(outcomes.errors, 50)
    }

    private func mutate(_ data: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var data = data
        switch Int.random(in: 0..<4, using: &generator) {
        case 0, 1:  // flip a few bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                data[Int.random(in: 0..<data.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
        case 2:  // truncate
            data = Array(data.prefix(Int.random(in: 0..<data.count, using: &generator)))
        default:  // insert a few random bytes
            let bytes = (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            data.insert(contentsOf: bytes, at: Int.random(in: 0...data.count, using: &generator))
        }
        return data
    }

    /// Recomputes the CRC of every chunk whose declared length fits in the file.
    private func repairChunkCRCs(_ data: inout [UInt8]) {
        var offset = 8
        while offset + 12 <= data.count {
            let length = data[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard length <= data.count - offset - 12 else { return }
            let crcAt = offset + 8 + length
            data.replaceSubrange(crcAt..<(crcAt + 4), with: bigEndian32(Int(crc32(data[(offset + 4)..<crcAt]))))
            offset = crcAt + 4
        }
    }
}

func littleEndian32(_ value: Int) -> [UInt8] { Array(bigEndian32(value).reversed()) }

/// Sets the entry `tag` of a little-endian TIFF's first directory to one LONG `value`.
func patchTIFFEntry(_ data: inout [UInt8], tag: Int, value: Int) throws {
    func u16(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 }
    let directory = u16(4) | u16(6) << 16
    for index in 0..<u16(directory) {
        let entry = directory + 2 + 12 * index
        if u16(entry) == tag {
            data.replaceSubrange((entry + 2)..<(entry + 12), with: [4, 0, 1, 0, 0, 0] + littleEndian32(value))
            return
        }
    }
    throw StyleError("no TIFF tag \(tag)")
}

func bigEndian32(_ value: Int) -> [UInt8] {
    [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}

/// CRC-32 as PNG uses it (ISO 3309, reflected, polynomial 0xEDB88320).
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
        }
    }
    return ~crc
}
