/// The file formats ImageFile reads and writes, chosen by extension when writing.
public enum ImageFormat: String, CaseIterable, Sendable {
    case png
    case jpeg
    case tiff

    /// The format named by the path's extension (.png, .jpg, .jpeg, .tif, .tiff, any case). Throws for any
    /// other extension, so a command line can refuse an output name before doing any work.
    public init(path: String) throws {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let dot = name.lastIndex(of: ".")
        let ext = dot.map { String(name[name.index(after: $0)...]).lowercased() } ?? ""
        switch ext {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "tif", "tiff": self = .tiff
        default:
            let shown = ext.isEmpty ? "no extension" : "unknown extension '.\(ext)'"
            throw StyleError("\(path): \(shown); image files must end in .png, .jpg, .jpeg, .tif or .tiff")
        }
    }

    /// The format whose signature starts `bytes`, or nil.
    init?(signature bytes: [UInt8]) {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if [[0x49, 0x49, 0x2A, 0], [0x4D, 0x4D, 0, 0x2A], [0x49, 0x49, 0x2B, 0], [0x4D, 0x4D, 0, 0x2B]]
            .contains(where: bytes.starts(with:))
        {
            self = .tiff  // classic and BigTIFF, either byte order
        } else {
            return nil
        }
    }

    var displayName: String { rawValue.uppercased() }

    /// PNG and TIFF hold 16 bits per sample; JPEG 8.
    public var holds16Bits: Bool { self != .jpeg }
}

/// How ImageFile.write encodes an image.
public struct ImageWriteOptions: Equatable, Sendable {
    /// 8 or 16 bits per sample; 16 is for PNG and TIFF.
    public var bitDepth: Int
    /// JPEG quality 1…100 (libjpeg scale); ignored for PNG and TIFF.
    public var jpegQuality: Int

    public init(bitDepth: Int = 8, jpegQuality: Int = 95) {
        self.bitDepth = bitDepth
        self.jpegQuality = jpegQuality
    }

    /// Throws when the options do not fit `format`.
    func validate(for format: ImageFormat, path: String) throws {
        guard bitDepth == 8 || bitDepth == 16 else {
            throw StyleError("\(path): bit depth \(bitDepth) is not supported; use 8 or 16")
        }
        if bitDepth == 16 && format == .jpeg {
            throw StyleError("\(path): JPEG has 8 bits per sample; write a .png or .tif for 16-bit output")
        }
        guard (1...100).contains(jpegQuality) else {
            throw StyleError("\(path): JPEG quality \(jpegQuality) is outside 1…100")
        }
    }
}
