import CJPEG
import CPNG
import CTIFF
import Foundation

/// Reads and writes PNG, JPEG and TIFF files as `RGBImage`s.
///
/// Reading accepts any PNG (gray, gray+alpha, palette with transparency, RGB, RGBA, 1–16 bits),
/// JPEG (baseline, progressive, grayscale, CMYK/YCCK) and TIFF (8/16-bit gray or RGB, optional
/// alpha, strips or tiles); the content decides the decoder, not the extension. Alpha is
/// composited on white, 16-bit samples keep their precision (scaled to 0…255 as Float), the
/// EXIF or TIFF orientation is applied, and an embedded ICC profile (PNG iCCP, JPEG APP2, TIFF
/// tag 34675) is converted to sRGB (`ColorProfile`). Every problem is a `StyleError` that names
/// the file.
///
/// Writing picks the format from the extension, clamps to 0…255 and rounds, tags the file as
/// sRGB, encodes a row at a time, and replaces the destination atomically: no partial file is
/// left behind on any failure.
public enum ImageFile {
    /// Decodes the file at `path`. Images above `maxPixels` (width × height as declared in the
    /// header) are refused before any pixel memory is allocated. `notes` are one-line remarks
    /// for the user, each starting with the path (alpha composited, EXIF orientation applied,
    /// grayscale or CMYK converted, a colour profile converted or ignored, a decoder warning, a
    /// misleading extension).
    public static func read(
        _ path: String, maxPixels: Int = 100_000_000
    ) throws
        -> (image: RGBImage, notes: [String])
    {
        let format = try sniffFormat(path)
        let limit = UInt64(max(0, maxPixels))
        var notes: [String] = []
        if let named = try? ImageFormat(path: path), named != format {
            notes.append("\(path): the file is a \(format.displayName) despite its extension")
        }
        var message = [CChar](repeating: 0, count: 512)
        var result: (image: RGBImage, profile: [UInt8]?, gray: Bool)
        switch format {
        case .png:
            var decoded = cpng_image()
            let status = cpng_read(path, limit, &decoded, &message, message.count)
            defer { cpng_free(&decoded) }
            guard status == Int32(CPNG_OK), let pixels = decoded.pixels else {
                throw readError(
                    path, format, status: status, message: String(cString: message),
                    width: decoded.width, height: decoded.height, maxPixels: maxPixels)
            }
            let (image, composited) = planarImage(decoded, pixels)
            if composited {
                notes.append("\(path): alpha composited on white")
            }
            // An sRGB chunk says the colours are sRGB, whatever else the file holds.
            let profile = decoded.srgb == 0 ? bytes(decoded.icc, count: Int(decoded.icc_length)) : nil
            let gray = [CPNG_COLOR_GRAY, CPNG_COLOR_GRAY_ALPHA].map(Int32.init).contains(decoded.source_color_type)
            result = (image, profile, gray)
        case .jpeg:
            var decoded = cjpeg_image()
            let status = cjpeg_read(path, limit, &decoded, &message, message.count)
            defer { cjpeg_free(&decoded) }
            guard status == Int32(CJPEG_OK), let pixels = decoded.pixels else {
                throw readError(
                    path, format, status: status, message: String(cString: message),
                    width: decoded.width, height: decoded.height, maxPixels: maxPixels)
            }
            var image = planarImage(
                UnsafePointer(pixels), width: Int(decoded.width),
                height: Int(decoded.height), channels: 3, maxValue: 255
            ).image
            notes += jpegNotes(path, decoded)
            if decoded.orientation > 1 {
                image = image.applyingEXIFOrientation(Int(decoded.orientation))
                notes.append("\(path): EXIF orientation \(decoded.orientation) applied")
            }
            result = (
                image, bytes(decoded.icc, count: Int(decoded.icc_length)),
                decoded.source == Int32(CJPEG_SOURCE_GRAY)
            )
        case .tiff:
            result = try readTIFF(path, limit: limit, maxPixels: maxPixels, notes: &notes)
        }
        if let profile = result.profile,
            let note = ColorProfile.convertToSRGB(
                &result.image, profile: profile, sourceIsGray: result.gray, path: path)
        {
            notes.append(note)
        }
        return (result.image, notes)
    }

    /// A copy of a C buffer, or nil when there is none.
    private static func bytes(_ pointer: UnsafeMutablePointer<UInt8>?, count: Int) -> [UInt8]? {
        guard let pointer, count > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// Decodes a TIFF a strip or a band of tiles at a time straight into the planar image.
    private static func readTIFF(
        _ path: String, limit: UInt64, maxPixels: Int, notes: inout [String]
    ) throws -> (image: RGBImage, profile: [UInt8]?, gray: Bool) {
        var message = [CChar](repeating: 0, count: 512)
        var reader: OpaquePointer?
        var info = ctiff_info()
        let status = ctiff_open(path, limit, &reader, &info, &message, message.count)
        guard status == Int32(CTIFF_OK), let reader else {
            throw readError(
                path, .tiff, status: status, message: String(cString: message),
                width: info.width, height: info.height, maxPixels: maxPixels)
        }
        defer { ctiff_close(reader) }
        let profile = info.icc.map { Array(UnsafeBufferPointer(start: $0, count: Int(info.icc_length))) }
        let width = Int(info.width), height = Int(info.height)
        var pixels = [Float](repeating: 0, count: 3 * width * height)
        var composited = false
        let read = pixels.withUnsafeMutableBufferPointer { pixels in
            var sink = PlanarRows(
                target: pixels.baseAddress!, width: width, height: height, channels: Int(info.channels),
                bitDepth: Int(info.bit_depth))
            defer { composited = sink.composited }
            return withUnsafeMutablePointer(to: &sink) { context in
                ctiff_read_rows(
                    reader,
                    { context, y, samples in
                        guard let context, let samples else { return }
                        context.assumingMemoryBound(to: PlanarRows.self).pointee.store(row: Int(y), samples)
                    }, context, &message, message.count)
            }
        }
        guard read == Int32(CTIFF_OK) else {
            throw readError(
                path, .tiff, status: read, message: String(cString: message),
                width: info.width, height: info.height, maxPixels: maxPixels)
        }
        var image = RGBImage(width: width, height: height, pixels: pixels)
        if composited {
            notes.append("\(path): alpha composited on white")
        }
        let warning = withUnsafeBytes(of: info.warning) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if !warning.isEmpty {
            notes.append("\(path): decoder warning: \(singleLine(warning))")
        }
        if info.orientation > 1 {
            image = image.applyingEXIFOrientation(Int(info.orientation))
            notes.append("\(path): TIFF orientation \(info.orientation) applied")
        }
        return (image, profile, info.channels <= 2)
    }

    /// Writes `image` as PNG or JPEG according to the extension of `path`.
    public static func write(
        _ image: RGBImage, to path: String, options: ImageWriteOptions = .init()
    )
        throws
    {
        let format = try ImageFormat(path: path)
        try options.validate(for: format, path: path)
        guard image.width > 0, image.height > 0, image.pixels.count == 3 * image.planeSize else {
            throw StyleError(
                "\(path): cannot write an image of \(image.width)×\(image.height) "
                    + "with \(image.pixels.count) values")
        }
        var message = [CChar](repeating: 0, count: 512)
        let width = UInt32(image.width), height = UInt32(image.height)
        let depth = Int32(format == .jpeg ? 8 : options.bitDepth)
        let profile = ColorProfile.sRGB, profileLength = UInt32(profile.count)
        // Every writer takes its rows from this one callback: no interleaved copy of the image.
        let fill: @convention(c) (UnsafeMutableRawPointer?, UInt32, UnsafeMutableRawPointer?) -> Void = {
            context, y, row in
            guard let context, let row else { return }
            context.assumingMemoryBound(to: InterleavedRows.self).pointee.fill(row: Int(y), row)
        }
        try AtomicOutput.write(to: path) { temporary in
            var temporary = temporary
            #if DEBUG
                // The test seam's full disk reaches the encoders: every write to /dev/full fails with ENOSPC.
                if AtomicOutput.testDiskIsFull(path) { temporary = "/dev/full" }
            #endif
            let status = image.pixels.withUnsafeBufferPointer { pixels -> Int32 in
                var rows = InterleavedRows(
                    pixels: pixels, width: image.width, height: image.height, bitDepth: Int(depth))
                return withUnsafeMutablePointer(to: &rows) { context in
                    switch format {
                    case .png:
                        return cpng_write(temporary, width, height, 3, depth, 1, fill, context, &message, message.count)
                    case .jpeg:
                        return cjpeg_write(
                            temporary, width, height, fill, context, Int32(options.jpegQuality),
                            profile, profileLength, &message, message.count)
                    case .tiff:
                        return ctiff_write_rgb(
                            temporary, width, height, depth, fill, context, profile, profileLength,
                            &message, message.count)
                    }
                }
            }
            guard status == 0 else {
                throw StyleError(
                    "\(path): could not write the \(format.displayName) file: "
                        + String(cString: message))
            }
        }
    }

    /// Checks that `path` is a non-empty readable file and returns the format of its content.
    private static func sniffFormat(_ path: String) throws -> ImageFormat {
        try requireRegularFile(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StyleError("\(path): cannot open the file for reading (check its permissions)")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 12)) ?? Data())
        if head.isEmpty {
            throw StyleError("\(path): the file is empty (0 bytes)")
        }
        guard let format = ImageFormat(signature: head) else {
            let kind = otherFormatName(head).map { "a \($0) image" } ?? "not an image"
            throw StyleError("\(path): \(kind); only PNG, JPEG and TIFF files can be read")
        }
        return format
    }

    /// Formats people commonly try, so the message can say what the file is.
    private static func otherFormatName(_ head: [UInt8]) -> String? {
        let text = String(decoding: head.prefix(4), as: UTF8.self)
        if text.hasPrefix("GIF8") { return "GIF" }
        if text.hasPrefix("BM") { return "BMP" }
        if text == "RIFF", head.count >= 12, String(decoding: head[8..<12], as: UTF8.self) == "WEBP" {
            return "WebP"
        }
        return nil
    }

    private static func readError(
        _ path: String, _ format: ImageFormat, status: Int32, message: String,
        width: UInt32, height: UInt32, maxPixels: Int
    ) -> StyleError {
        let kind = format.displayName
        // The C wrappers number their statuses alike (OK 0 … NOMEM 6).
        switch status {
        case Int32(CPNG_ERR_OPEN):
            return StyleError("\(path): cannot open: \(message)")
        case Int32(CPNG_ERR_NOT_PNG):
            return StyleError("\(path): not a valid \(kind) file (\(message))")
        case Int32(CPNG_ERR_TRUNCATED):
            return StyleError(
                "\(path): the \(kind) file is truncated (it ends before its image data); "
                    + "re-export or re-download it")
        case Int32(CPNG_ERR_TOO_LARGE):
            return StyleError(
                "\(path): declared \(width)×\(height) = "
                    + "\(megapixels(Double(width) * Double(height))) megapixels exceeds the limit of "
                    + "\(megapixels(Double(maxPixels))) megapixels; pass a smaller image or raise --max-megapixels")
        case Int32(CPNG_ERR_NOMEM):
            return StyleError("\(path): out of memory decoding a \(width)×\(height) \(kind) image")
        case Int32(CJPEG_ERR_UNSUPPORTED) where format == .jpeg:
            return StyleError("\(path): unsupported JPEG (\(message)); convert it to an RGB JPEG or PNG")
        case Int32(CTIFF_ERR_UNSUPPORTED) where format == .tiff:
            return StyleError(
                "\(path): cannot read a \(message); convert it to an 8- or 16-bit RGB (or gray) TIFF or PNG")
        case Int32(CTIFF_ERR_NOT_TIFF) where format == .tiff:
            return StyleError("\(path): not a valid TIFF file (\(singleLine(message)))")
        default:
            return StyleError("\(path): corrupt \(kind) data (\(singleLine(message)))")
        }
    }

    private static func megapixels(_ pixels: Double) -> String {
        let value = pixels / 1_000_000
        return value >= 100 ? String(Int(value.rounded())) : String(format: "%.3g", value)
    }

    private static func jpegNotes(_ path: String, _ decoded: cjpeg_image) -> [String] {
        var notes: [String] = []
        if decoded.source == Int32(CJPEG_SOURCE_GRAY) {
            notes.append("\(path): grayscale JPEG expanded to RGB")
        } else if decoded.source == Int32(CJPEG_SOURCE_CMYK) {
            let inverted = decoded.adobe_inverted != 0 ? " (Adobe inverted CMYK)" : ""
            notes.append("\(path): CMYK converted to RGB without a colour profile\(inverted); colours are approximate")
        }
        let warning = withUnsafeBytes(of: decoded.warning) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if !warning.isEmpty {
            notes.append("\(path): decoder warning: \(warning)")
        }
        return notes
    }

    private static func planarImage(
        _ decoded: cpng_image, _ pixels: UnsafeMutableRawPointer
    )
        -> (image: RGBImage, composited: Bool)
    {
        let width = Int(decoded.width), height = Int(decoded.height), channels = Int(decoded.channels)
        if decoded.bit_depth == 16 {
            let samples = pixels.assumingMemoryBound(to: UInt16.self)
            return planarImage(
                UnsafePointer(samples), width: width, height: height, channels: channels,
                maxValue: 65535)
        }
        let samples = pixels.assumingMemoryBound(to: UInt8.self)
        return planarImage(
            UnsafePointer(samples), width: width, height: height, channels: channels,
            maxValue: 255)
    }

    /// Interleaved RGB(A) samples to planar 0…255 floats (`PlanarRows`, a row at a time).
    private static func planarImage<Sample: BinaryInteger>(
        _ samples: UnsafePointer<Sample>, width: Int, height: Int, channels: Int, maxValue: Double
    ) -> (image: RGBImage, composited: Bool) {
        var pixels = [Float](repeating: 0, count: 3 * width * height)
        var composited = false
        pixels.withUnsafeMutableBufferPointer { pixels in
            var rows = PlanarRows(
                target: pixels.baseAddress!, width: width, height: height, channels: channels,
                bitDepth: maxValue > 255 ? 16 : 8)
            for y in 0..<height {
                rows.store(row: y, UnsafeRawPointer(samples + y * width * channels))
            }
            composited = rows.composited
        }
        return (RGBImage(width: width, height: height, pixels: pixels), composited)
    }

    /// Planar 0…255 floats to interleaved 8-bit RGB, clamped and rounded (`InterleavedRows`).
    static func interleavedBytes(_ image: RGBImage) -> [UInt8] {
        let rowBytes = 3 * image.width
        var bytes = [UInt8](repeating: 0, count: rowBytes * image.height)
        image.pixels.withUnsafeBufferPointer { pixels in
            let rows = InterleavedRows(pixels: pixels, width: image.width, height: image.height, bitDepth: 8)
            bytes.withUnsafeMutableBytes { out in
                for y in 0..<image.height {
                    rows.fill(row: y, out.baseAddress! + y * rowBytes)
                }
            }
        }
        return bytes
    }
}

/// Where decoders put their rows: interleaved samples (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; 8 or
/// 16 bits) into planar 0…255 floats, alpha composited on white. Each value is
/// `Float(Double(sample) * 255 / maxValue)` (correctly rounded) for opaque pixels.
struct PlanarRows {
    /// The planar image's 3 × width × height floats.
    let target: UnsafeMutablePointer<Float>
    let width: Int, height: Int, channels: Int, bitDepth: Int
    /// Some pixel was not fully opaque.
    var composited = false

    mutating func store(row y: Int, _ samples: UnsafeRawPointer) {
        if bitDepth == 16 {
            store(row: y, samples.assumingMemoryBound(to: UInt16.self), maxValue: 65535)
        } else {
            store(row: y, samples.assumingMemoryBound(to: UInt8.self), maxValue: 255)
        }
    }

    private mutating func store<Sample: BinaryInteger>(
        row y: Int, _ samples: UnsafePointer<Sample>, maxValue: Double
    ) {
        guard y >= 0, y < height else { return }
        let out = target
        let plane = width * height
        let colors = channels >= 3 ? 3 : 1
        let hasAlpha = channels == 2 || channels == 4
        for x in 0..<width {
            let source = samples + x * channels
            let alpha = hasAlpha ? Double(source[colors]) / maxValue : 1
            if alpha < 1 {
                composited = true
            }
            let i = y * width + x
            for c in 0..<3 {
                let value = Double(source[colors == 3 ? c : 0]) * 255 / maxValue
                out[c * plane + i] = Float(alpha < 1 ? value * alpha + 255 * (1 - alpha) : value)
            }
        }
    }
}

/// Where encoders take their rows from: planar 0…255 floats to interleaved RGB levels of 8 or 16
/// bits, clamped and rounded (NaN becomes 0).
struct InterleavedRows {
    let pixels: UnsafeBufferPointer<Float>
    let width: Int, height: Int, bitDepth: Int

    func fill(row y: Int, _ row: UnsafeMutableRawPointer) {
        let plane = width * height
        let maxValue: Double = bitDepth == 16 ? 65535 : 255
        let scale = maxValue / 255
        let words = row.assumingMemoryBound(to: UInt16.self), bytes = row.assumingMemoryBound(to: UInt8.self)
        for c in 0..<3 {
            for x in 0..<width {
                let value = Double(pixels[c * plane + y * width + x]) * scale
                let level = value > 0 ? UInt16(min(value, maxValue).rounded()) : 0  // NaN fails > 0
                if bitDepth == 16 {
                    words[3 * x + c] = level
                } else {
                    bytes[3 * x + c] = UInt8(truncatingIfNeeded: level)
                }
            }
        }
    }
}
