import Foundation
@testable import GPUStyle
import XCTest

/// The GIF writer, checked by a small independent decoder written here from the GIF89a
/// specification, and the contact sheet.
final class ImageIOGIFTests: TemporaryFolderTestCase {
    func testLZWRoundTripsAtEveryLengthAcrossCodeWidthChanges() throws {
        var generator = SeededGenerator(seed: 8)
        // Every length up to 600 makes the final code land on every possible dictionary size,
        // including the ones where the end code must be one bit wider.
        let symbols = (0..<600).map { _ in UInt8.random(in: 0...3, using: &generator) }
        for length in 0...600 {
            let input = Array(symbols.prefix(length))
            let decoded = try lzwDecompress(lzwCompress(input, minimumCodeSize: 2), minimumCodeSize: 2)
            XCTAssertEqual(decoded, input, "length \(length)")
        }
        // Long inputs fill the 4096-entry dictionary and clear it, repeatedly.
        let noise = (0..<60_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        XCTAssertEqual(try lzwDecompress(lzwCompress(noise, minimumCodeSize: 8), minimumCodeSize: 8), noise)
        let flat = [UInt8](repeating: 7, count: 100_000)
        let packed = lzwCompress(flat, minimumCodeSize: 3)
        XCTAssertEqual(try lzwDecompress(packed, minimumCodeSize: 3), flat)
        XCTAssertLessThan(packed.count, 1000)
    }

    func testAnimationDecodesToTheFramesWithCloseColours() throws {
        let path = folder + "/progress.gif"
        let frames = [
            smoothPattern(width: 40, height: 30), randomImage(width: 40, height: 30, seed: 9),
            RGBImage(width: 40, height: 30, red: 200, green: 30, blue: 90),
        ]
        let writer = try GIFWriter(path: path, delayCentiseconds: 12)
        for (i, frame) in frames.enumerated() {
            try writer.add(frame: frame, delayCentiseconds: i == 2 ? 100 : nil)
        }
        // Nothing at the destination until the animation is finished.
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        try writer.finish()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["progress.gif"])

        let gif = try decodeGIF([UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        XCTAssertEqual(gif.width, 40)
        XCTAssertEqual(gif.height, 30)
        XCTAssertEqual(gif.loopCount, 0)
        XCTAssertEqual(gif.frames.map(\.delay), [12, 12, 100])
        // 1200 distinct colours each, reduced to 256 and dithered (which costs about 1 dB of PSNR
        // for the absence of banding). Measured: smooth 37.1 dB (RMS error 3.6 levels), noise
        // 27.4 dB; a broken palette or a wrong index order gives well under 20 dB.
        let smooth = psnr(frames[0], gif.frames[0].image)
        let noise = psnr(frames[1], gif.frames[1].image)
        print(String(format: "GIF PSNR: smooth %.1f dB, noise %.1f dB", smooth, noise))
        XCTAssertGreaterThan(smooth, 35)
        XCTAssertGreaterThan(noise, 25)
        // Dithering keeps each frame's mean colour.
        for c in 0..<3 {
            let plane = 40 * 30
            let mean = { (image: RGBImage) in image.pixels[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Float(plane)
            }
            XCTAssertEqual(mean(gif.frames[1].image), mean(frames[1]), accuracy: 3)
        }
        // A flat frame has one colour and comes back exactly.
        XCTAssertEqual(gif.frames[2].image, frames[2])
        XCTAssertEqual(gif.frames[2].tableSize, 2)
    }

    func testFramesWithFewColoursAreExact() throws {
        let path = folder + "/few.gif"
        var image = RGBImage(width: 16, height: 16, red: 10, green: 20, blue: 30)
        paintBlock(&image, x: 0, y: 0, colour: (255, 0, 0))
        paintBlock(&image, x: 8, y: 8, colour: (0, 0, 255))
        let writer = try GIFWriter(path: path, dithering: false)
        try writer.add(frame: image)
        try writer.finish()
        let gif = try decodeGIF([UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        XCTAssertEqual(gif.frames.count, 1)
        XCTAssertEqual(gif.frames[0].image, image)
        XCTAssertEqual(gif.frames[0].tableSize, 4)
    }

    func testUnfinishedOrInvalidAnimationsLeaveNoFile() throws {
        let path = folder + "/abandoned.gif"
        var writer: GIFWriter? = try GIFWriter(path: path)
        try writer?.add(frame: smoothPattern(width: 8, height: 8))
        XCTAssertThrowsError(try writer?.add(frame: smoothPattern(width: 9, height: 8))) {
            XCTAssertTrue(describe($0).contains("frame 2 is 9×8 but the animation is 8×8"), describe($0))
        }
        writer = nil  // dropped without finish()
        let empty = try GIFWriter(path: folder + "/empty.gif")
        XCTAssertThrowsError(try empty.finish())
        XCTAssertThrowsError(try GIFWriter(path: folder + "/missing/x.gif"))
        XCTAssertThrowsError(try GIFWriter(path: folder + "/slow.gif", delayCentiseconds: 70_000))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    }

    func testContactSheetPlacesImagesAtEqualHeightOnWhite() {
        let tall = RGBImage(width: 10, height: 20, red: 0, green: 0, blue: 0)
        let wide = RGBImage(width: 30, height: 10, red: 255, green: 0, blue: 0)
        let sheet = contactSheet([tall, wide], height: 10, gap: 4)
        // tall → 5×10, wide → 30×10, one gap of 4.
        XCTAssertEqual(sheet.width, 5 + 4 + 30)
        XCTAssertEqual(sheet.height, 10)
        for y in [0, 9] {
            XCTAssertEqual([sheet[0, y, 0], sheet[1, y, 4]], [0, 0])
            XCTAssertEqual([sheet[0, y, 5], sheet[1, y, 5], sheet[2, y, 8]], [255, 255, 255])  // gap
            XCTAssertEqual([sheet[0, y, 9], sheet[1, y, 9], sheet[0, y, 38], sheet[2, y, 38]], [255, 0, 255, 0])
        }
        XCTAssertEqual(contactSheet([], height: 7, gap: 3), RGBImage(width: 1, height: 7))
    }
}

// MARK: - A minimal GIF decoder, written from the GIF89a specification

struct DecodedGIF {
    struct Frame {
        var delay: Int
        var tableSize: Int
        var image: RGBImage
    }

    var width = 0, height = 0
    var loopCount: Int?
    var frames: [Frame] = []
}

struct GIFFormatError: Error, CustomStringConvertible {
    var description: String
}

/// Reads the subset the writer produces (local colour tables, full-frame images, no
/// interlacing), strictly: any deviation throws.
func decodeGIF(_ bytes: [UInt8]) throws -> DecodedGIF {
    var at = 0
    func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard at + count <= bytes.count else { throw GIFFormatError(description: "ends at \(at)") }
        defer { at += count }
        return bytes[at..<(at + count)]
    }
    func u8() throws -> Int { Int(try take(1).first ?? 0) }
    func u16() throws -> Int { let b = try take(2); return Int(b[b.startIndex]) | Int(b[b.startIndex + 1]) << 8 }
    func subBlocks() throws -> [UInt8] {
        var data: [UInt8] = []
        while true {
            let length = try u8()
            if length == 0 { return data }
            data += try take(length)
        }
    }

    guard Array(try take(6)) == Array("GIF89a".utf8) else { throw GIFFormatError(description: "signature") }
    var gif = DecodedGIF()
    gif.width = try u16()
    gif.height = try u16()
    let screenFlags = try u8()
    _ = try take(2)
    guard screenFlags & 0x80 == 0 else { throw GIFFormatError(description: "unexpected global table") }
    var delay = 0
    while true {
        switch try u8() {
        case 0x3B:
            guard at == bytes.count else { throw GIFFormatError(description: "bytes after trailer") }
            return gif
        case 0x21:
            let label = try u8()
            let data = try subBlocks()
            if label == 0xF9, data.count == 4 {
                delay = Int(data[1]) | Int(data[2]) << 8
            } else if label == 0xFF, data.count == 14, Array(data[0..<11]) == Array("NETSCAPE2.0".utf8) {
                gif.loopCount = Int(data[12]) | Int(data[13]) << 8
            }
        case 0x2C:
            let (left, top, width, height, flags) = (try u16(), try u16(), try u16(), try u16(), try u8())
            guard left == 0, top == 0, width == gif.width, height == gif.height, flags & 0xC0 == 0x80 else {
                throw GIFFormatError(description: "unexpected image descriptor")
            }
            let tableSize = 1 << ((flags & 7) + 1)
            let table = Array(try take(3 * tableSize))
            let minimumCodeSize = try u8()
            let indices = try lzwDecompress(try subBlocks(), minimumCodeSize: minimumCodeSize)
            guard indices.count == width * height, indices.allSatisfy({ Int($0) < tableSize }) else {
                throw GIFFormatError(description: "\(indices.count) indices for \(width)×\(height)")
            }
            var image = RGBImage(width: width, height: height)
            for (i, index) in indices.enumerated() {
                for c in 0..<3 {
                    image.pixels[c * width * height + i] = Float(table[3 * Int(index) + c])
                }
            }
            gif.frames.append(.init(delay: delay, tableSize: tableSize, image: image))
        case let other:
            throw GIFFormatError(description: "unknown block 0x\(String(other, radix: 16)) at \(at - 1)")
        }
    }
}

/// GIF LZW decoding; throws on an invalid code, a missing end code, or data after the end code
/// beyond the last byte's padding bits.
func lzwDecompress(_ data: [UInt8], minimumCodeSize: Int) throws -> [UInt8] {
    let clear = 1 << minimumCodeSize, end = clear + 1
    let roots = (0..<clear).map { [UInt8($0)] }
    var table = roots + [[], []]
    var codeSize = minimumCodeSize + 1
    var bitPosition = 0
    var previous: [UInt8]?
    var output: [UInt8] = []
    while true {
        guard bitPosition + codeSize <= 8 * data.count else { throw GIFFormatError(description: "no end code") }
        var code = 0
        for bit in 0..<codeSize {
            let position = bitPosition + bit
            code |= Int(data[position / 8] >> UInt8(position % 8) & 1) << bit
        }
        bitPosition += codeSize
        if code == clear {
            table = roots + [[], []]
            codeSize = minimumCodeSize + 1
            previous = nil
            continue
        }
        if code == end {
            guard (bitPosition + 7) / 8 == data.count else { throw GIFFormatError(description: "data after end code") }
            return output
        }
        let entry: [UInt8]
        if code < table.count && code != clear && code != end {
            entry = table[code]
        } else if code == table.count, let previous {
            entry = previous + [previous[0]]
        } else {
            throw GIFFormatError(description: "invalid code \(code) with \(table.count) entries")
        }
        if let previous, table.count < 4096 {
            table.append(previous + [entry[0]])
            if table.count == 1 << codeSize && codeSize < 12 {
                codeSize += 1
            }
        }
        output += entry
        previous = entry
    }
}
