import Foundation

/// The sizes of a coarse-to-fine run: each scale's longest side, smallest first, the last one
/// --image-size. VGG's receptive fields have a fixed size in pixels, so a large image optimised
/// directly gets small, busy strokes; starting small and enlarging the result gives the
/// painting's large structures room (benchmarks/README.md measures it).
public struct ScalePlan: Equatable, Sendable {
    public var sides: [Int]

    /// The ratio between neighbouring scales when only one of --scales and --min-size is given.
    public static let ratio = 2.0
    /// Above this --image-size the default is coarse-to-fine; at or below it, one scale.
    public static let coarseToFineAbove = 512
    /// The smallest scale's longest side when --min-size is not given: half the image, at most this.
    public static let largestDefaultMinSize = 512
    /// More scales than this only repeat sizes.
    public static let maximumScales = 16

    /// - Parameters:
    ///   - scales: the number of scales; nil: from `minSize`, or one scale up to
    ///     `coarseToFineAbove` and above it coarse-to-fine from half the size, at most
    ///     `largestDefaultMinSize`.
    ///   - minSize: the smallest scale's longest side; nil: --image-size / ratio^(scales − 1).
    public init(imageSize: Int, scales: Int?, minSize: Int?) throws {
        if let scales, !(1...ScalePlan.maximumScales).contains(scales) {
            throw StyleError("--scales must be 1…\(ScalePlan.maximumScales) (got \(scales))")
        }
        if let minSize, !(16...imageSize).contains(minSize) {
            throw StyleError("--min-size must be 16…\(imageSize) (the --image-size; got \(minSize))")
        }
        switch (scales, minSize) {
        case (1?, let minSize?) where minSize != imageSize:
            throw StyleError("--min-size \(minSize) needs two scales or more; drop --scales 1 or --min-size")
        case (let count?, let minSize?):
            sides = ScalePlan.geometric(from: minSize, to: imageSize, count: count)
        case (let count?, nil):
            sides = (0..<count).map {
                max(16, Int((Double(imageSize) / pow(ScalePlan.ratio, Double(count - 1 - $0))).rounded()))
            }
        case (nil, let minSize?):
            sides = ScalePlan.geometric(
                from: minSize, to: imageSize, count: ScalePlan.count(from: minSize, to: imageSize))
        case (nil, nil):
            let minSize = min(ScalePlan.largestDefaultMinSize, (imageSize + 1) / 2)
            sides =
                imageSize <= ScalePlan.coarseToFineAbove
                ? [imageSize]
                : ScalePlan.geometric(
                    from: minSize, to: imageSize, count: ScalePlan.count(from: minSize, to: imageSize))
        }
        if let repeated = zip(sides, sides.dropFirst()).first(where: { $0 >= $1 }) {
            throw StyleError(
                "--scales \(sides.count) repeats the size \(repeated.0) px between \(sides[0]) and \(imageSize); "
                    + "give fewer scales or a smaller --min-size")
        }
    }

    /// Enough scales from `small` to `large` that neighbours differ by at most `ratio`.
    static func count(from small: Int, to large: Int) -> Int {
        1 + Int((log(Double(large) / Double(small)) / log(ratio) - 1e-9).rounded(.up))
    }

    /// `count` sides from `small` to `large` in a geometric progression.
    static func geometric(from small: Int, to large: Int, count: Int) -> [Int] {
        guard count > 1 else { return [large] }
        let step = pow(Double(large) / Double(small), 1 / Double(count - 1))
        return (0..<count).map { $0 == count - 1 ? large : Int((Double(small) * pow(step, Double($0))).rounded()) }
    }

    /// The image size at a scale for an input of width × height.
    public func size(scale: Int, width: Int, height: Int) -> (width: Int, height: Int) {
        RGBImage.size(width: width, height: height, maxSide: sides[scale])
    }

    /// "256×171, 362×241, 512×341" for an input of width × height.
    public func describe(width: Int, height: Int) -> String {
        sides.indices.map { size(scale: $0, width: width, height: height) }.map { "\($0.width)×\($0.height)" }
            .joined(separator: ", ")
    }
}
