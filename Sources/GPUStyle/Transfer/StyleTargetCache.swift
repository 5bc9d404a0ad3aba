import Foundation

/// The blended style Grams A_l of earlier runs on one network, kept on the host so that a batch
/// (or a video's frames) using the same styles at the same size computes them once. Entries are
/// keyed by a digest of everything A_l depends on besides the network: the styles' pixels at their
/// working sizes, their blend weights and the style layers. `VGGNetworkCache` empties it when it
/// replaces the network.
public final class StyleTargetCache {
    /// A few entries cover a grid's styles; each is at most ~2.5 MB (VGG19's five style layers).
    public static let capacity = 16
    private var entries: [(key: String, grams: [Int: [Float]])] = []
    /// Targets computed and targets reused, for notes and tests.
    public private(set) var computed = 0
    public private(set) var reused = 0

    public init() {}

    /// The digest `StyleObjective` looks targets up by.
    public static func key(styles: [RGBImage], blendWeights: [Float], layers: [Int]) -> String {
        var hash = SHA256()
        for (image, weight) in zip(styles, blendWeights) {
            hash.update(withUnsafeBytes(of: Int64(image.width).littleEndian, Array.init))
            hash.update(withUnsafeBytes(of: Int64(image.height).littleEndian, Array.init))
            hash.update(withUnsafeBytes(of: weight.bitPattern.littleEndian, Array.init))
            hash.update(image.pixels.withUnsafeBytes { Array($0) })
        }
        for layer in layers.sorted() { hash.update(withUnsafeBytes(of: Int64(layer).littleEndian, Array.init)) }
        return hash.finish()
    }

    func grams(for key: String) -> [Int: [Float]]? {
        guard let found = entries.firstIndex(where: { $0.key == key }) else { return nil }
        let entry = entries.remove(at: found)
        entries.append(entry)
        reused += 1
        return entry.grams
    }

    func store(_ grams: [Int: [Float]], for key: String) {
        entries.removeAll { $0.key == key }
        entries.append((key, grams))
        if entries.count > Self.capacity { entries.removeFirst() }
        computed += 1
    }

    func removeAll() { entries.removeAll() }
}

/// A style target cache and the key of one objective's styles in it.
public struct SharedStyleTargets {
    public let cache: StyleTargetCache
    public let key: String

    public init(cache: StyleTargetCache, key: String) {
        self.cache = cache
        self.key = key
    }
}
