import Foundation

/// The frames of `stylize-gpu video`: a folder's images in natural order, the names of the
/// output frames, and where a video's state lives.
public enum VideoFrames {
    /// The extensions a frame folder is read for.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff"]
    /// Output video files, by extension; any other output is a folder of frames.
    public static let videoExtensions: Set<String> = ["mp4", "webm", "gif"]
    /// Frames per second of a folder of frames when `--fps` is not given.
    public static let defaultFrameRate = FrameRate(numerator: 24, denominator: 1)

    /// The images of a folder in natural order (`f2` before `f10`); hidden files are skipped.
    /// An empty folder is an error.
    public static func list(folder: String) throws -> [String] {
        let images = try BatchPlan.fileNames(in: folder, extensions: imageExtensions, role: "INPUT").sorted(
            by: naturalOrder)
        guard !images.isEmpty else {
            throw StyleError("INPUT \(folder): the folder holds no frames (.png, .jpg, .jpeg, .tif or .tiff images)")
        }
        return images.map { URL(fileURLWithPath: folder).appendingPathComponent($0).path }
    }

    /// Whether `a` comes before `b` when runs of digits compare as numbers ("f2" < "f10",
    /// "f.png" < "f1.png", "f02" < "f2" < "f3"), other characters one by one; a total order, so
    /// every machine sorts a folder the same way.
    public static func naturalOrder(_ a: String, _ b: String) -> Bool {
        func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
        var (i, j) = (Substring(a).unicodeScalars, Substring(b).unicodeScalars)
        while let x = i.first, let y = j.first {
            guard isDigit(x), isDigit(y) else {
                if x != y { return x < y }
                (i, j) = (i.dropFirst(), j.dropFirst())
                continue
            }
            let (p, q) = (i.prefix(while: isDigit), j.prefix(while: isDigit))
            let (u, v) = (p.drop { $0 == "0" }, q.drop { $0 == "0" })
            if u.count != v.count { return u.count < v.count }
            if !u.elementsEqual(v) { return u.lexicographicallyPrecedes(v) }
            if p.count != q.count { return p.count > q.count }  // equal values: more leading zeros first
            (i, j) = (i.dropFirst(p.count), j.dropFirst(q.count))
        }
        return i.isEmpty && !j.isEmpty
    }

    /// The file name of output frame `index` (0-based): 00001.png ….
    public static func frameName(_ index: Int) -> String {
        String(format: "%05d.png", index + 1)
    }

    /// The ffmpeg pattern that reads the frames `frameName` names.
    static let framePattern = "%05d.png"

    /// Where the output frames go: the output itself when it is a folder; for a video file
    /// `dir/clip.mp4`, the state folder beside it, `dir/.stylize-gpu/clip.mp4.frames`.
    public static func framesFolder(output: String) -> String {
        guard isVideoFile(output) else { return output }
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().appendingPathComponent(BatchJobFiles.stateFolderName)
            .appendingPathComponent(url.lastPathComponent + ".frames").path
    }

    /// Whether an output names a video file (.mp4, .webm, .gif) rather than a folder of frames.
    public static func isVideoFile(_ path: String) -> Bool {
        videoExtensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased())
    }
}

/// A frame rate as a ratio (ffmpeg's "30000/1001").
public struct FrameRate: Equatable, Sendable, CustomStringConvertible {
    public var numerator: Int
    public var denominator: Int

    /// The ratio in lowest terms.
    public init(numerator: Int, denominator: Int) {
        let divisor = max(1, greatestCommonDivisor(numerator, denominator))
        self.numerator = numerator / divisor
        self.denominator = denominator / divisor
    }

    /// The rates `init?(_:)` accepts, frames per second: one frame per 100 s up to 1000 a
    /// second, so a GIF's delay (100 / rate centiseconds) stays within its 16 bits.
    public static let accepted: ClosedRange<Double> = 0.01...1000

    /// "24", "23.976" or "30000/1001"; nil for anything else, a ratio of numbers beyond ffmpeg's
    /// 32 bits or a rate outside `accepted`.
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, let n = Int32(parts[0]), let d = Int32(parts[1]), n > 0, d > 0 {
            self.init(numerator: Int(n), denominator: Int(d))
        } else if parts.count == 1, let value = Double(parts[0]), Self.accepted.contains(value) {
            self.init(numerator: Int((value * 1000).rounded()), denominator: 1000)
        } else {
            return nil
        }
        guard Self.accepted.contains(perSecond) else { return nil }
    }

    public var perSecond: Double { Double(numerator) / Double(denominator) }
    /// "24" or "30000/1001", as ffmpeg reads it.
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}

/// gcd(a, b) with gcd(a, 0) = a: a frame rate in lowest terms, the snapshot interval that serves
/// two intervals (0 = none).
func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
    b == 0 ? a : greatestCommonDivisor(b, a % b)
}

/// The video command's own defaults, one place each (benchmarks/README.md).
public enum VideoDefaults {
    /// Optimiser steps of each frame after the first: half of `run`'s 1000, as artistic-videos'
    /// 2000 then 1000 (a frame starting from the warped previous result has less to do).
    public static let frameIterations = 500
    /// `--temporal-weight`: 1e4, measured on a pan (benchmarks/README.md, "video.py"): it cuts the
    /// warping error 5× where artistic-videos' 1e3 cut it by a fifth; 0: every frame on its own.
    public static let temporalWeight: Float = 10_000
}
