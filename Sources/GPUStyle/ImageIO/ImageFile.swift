import CJPEG
import CPNG
import Foundation

/// Reads and writes PNG and JPEG files as `RGBImage`s.
///
/// Reading accepts any PNG (gray, gray+alpha, palette with transparency, RGB, RGBA, 1–16 bits)
/// and JPEG (baseline, progressive, grayscale, CMYK/YCCK); the content decides the decoder, not
/// the extension. Alpha is composited on white, 16-bit samples keep their precision (scaled to
/// 0…255 as Float), and the EXIF orientation of a JPEG is applied. Every problem is a
/// `StyleError` that names the file.
///
/// Writing picks the format from the extension, clamps to 0…255 and rounds, and replaces the
/// destination atomically: no partial file is left behind on any failure.
public enum ImageFile {
    /// Decodes the file at `path`. Images above `maxPixels` (width × height as declared in the
    /// header) are refused before any pixel memory is allocated. `notes` are one-line remarks
    /// for the user, each starting with the path (alpha composited, EXIF orientation applied,
    /// grayscale or CMYK converted, a decoder warning, a misleading extension).
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
            return (image, notes)
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
            return (image, notes)
        }
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
        try AtomicOutput.write(to: path) { temporary in
            let status: Int32
            switch (format, options.bitDepth) {
            case (.png, 16):
                let samples = interleavedLevels(image, maxValue: 65535)
                status = cpng_write(temporary, width, height, 3, 16, samples, &message, message.count)
            case (.png, _):
                let samples = interleavedBytes(image)
                status = cpng_write(temporary, width, height, 3, 8, samples, &message, message.count)
            case (.jpeg, _):
                let samples = interleavedBytes(image)
                status = cjpeg_write(
                    temporary, width, height, samples, Int32(options.jpegQuality),
                    &message, message.count)
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
            throw StyleError("\(path): \(kind); only PNG and JPEG files can be read")
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
        if text == "II*\0" || text == "MM\0*" { return "TIFF" }
        return nil
    }

    private static func readError(
        _ path: String, _ format: ImageFormat, status: Int32, message: String,
        width: UInt32, height: UInt32, maxPixels: Int
    ) -> StyleError {
        let kind = format.displayName
        // Both C wrappers number their statuses alike (OK 0 … NOMEM 6).
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
        default:
            return StyleError("\(path): corrupt \(kind) data (\(message))")
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

    /// Interleaved RGB(A) samples to planar 0…255 floats, compositing alpha on white; each value
    /// is `Float(Double(sample) * 255 / maxValue)` (correctly rounded) for opaque pixels.
    /// `composited` is true when some pixel was not fully opaque.
    private static func planarImage<Sample: BinaryInteger>(
        _ samples: UnsafePointer<Sample>, width: Int, height: Int, channels: Int, maxValue: Double
    ) -> (image: RGBImage, composited: Bool) {
        let plane = width * height
        var composited = false
        var pixels = [Float](repeating: 0, count: 3 * plane)
        pixels.withUnsafeMutableBufferPointer { out in
            for i in 0..<plane {
                let source = samples + i * channels
                let alpha = channels == 4 ? Double(source[3]) / maxValue : 1
                if alpha < 1 {
                    composited = true
                }
                for c in 0..<3 {
                    let value = Double(source[c]) * 255 / maxValue
                    out[c * plane + i] = Float(alpha < 1 ? value * alpha + 255 * (1 - alpha) : value)
                }
            }
        }
        return (RGBImage(width: width, height: height, pixels: pixels), composited)
    }

    /// Planar 0…255 floats to interleaved RGB levels 0…`maxValue` (255 or 65535), clamped and
    /// rounded (NaN becomes 0). Concrete types, not generics: this runs over every pixel and
    /// unspecialised generic code is many times slower in debug builds.
    static func interleavedLevels(_ image: RGBImage, maxValue: Double) -> [UInt16] {
        let plane = image.planeSize
        let scale = maxValue / 255
        var levels = [UInt16](repeating: 0, count: 3 * plane)
        image.pixels.withUnsafeBufferPointer { source in
            levels.withUnsafeMutableBufferPointer { out in
                for c in 0..<3 {
                    for i in 0..<plane {
                        let value = Double(source[c * plane + i]) * scale
                        out[3 * i + c] = value > 0 ? UInt16(min(value, maxValue).rounded()) : 0  // NaN fails > 0
                    }
                }
            }
        }
        return levels
    }

    /// `interleavedLevels` at 8 bits.
    static func interleavedBytes(_ image: RGBImage) -> [UInt8] {
        let levels = interleavedLevels(image, maxValue: 255)
        return [UInt8](unsafeUninitializedCapacity: levels.count) { bytes, count in
            levels.withUnsafeBufferPointer { levels in
                for i in 0..<levels.count {
                    bytes[i] = UInt8(truncatingIfNeeded: levels[i])
                }
            }
            count = levels.count
        }
    }
}
