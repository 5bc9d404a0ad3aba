extension RGBImage {
    /// Scales the image, keeping its aspect ratio, so that its longer side is exactly `maxSide`
    /// (up or down); the shorter side is rounded to the nearest integer and is at least 1.
    /// Filters as in `resized(width:height:)`. A `maxSide` below 1 is taken as 1.
    public func resized(maxSide: Int) -> RGBImage {
        let size = RGBImage.size(width: width, height: height, maxSide: maxSide)
        return resized(width: size.width, height: size.height)
    }

    /// The size `resized(maxSide:)` gives an image of width × height.
    public static func size(width: Int, height: Int, maxSide: Int) -> (width: Int, height: Int) {
        let target = max(1, maxSide)
        let longer = max(width, height), shorter = min(width, height)
        guard longer > 0 else { return (target, target) }
        let scaledShorter = max(1, Int((Double(shorter) * Double(target) / Double(longer)).rounded()))
        return width >= height ? (target, scaledShorter) : (scaledShorter, target)
    }

    /// Resamples to `width`×`height` (each at least 1), one axis at a time:
    /// - shrinking an axis uses area averaging: an exact box filter in which each output pixel is
    ///   the mean of the source area it covers, partly covered source pixels weighted by their
    ///   fractional coverage (halving is exactly the mean of each 2×2 block);
    /// - enlarging an axis uses bicubic interpolation (Keys' cubic with a = −0.5, i.e.
    ///   Catmull-Rom) at pixel centres, edges replicated;
    /// - an axis of unchanged size is copied.
    /// Values are not clamped: bicubic can overshoot slightly at sharp edges; writers clamp.
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        let targetWidth = max(1, newWidth), targetHeight = max(1, newHeight)
        guard width > 0, height > 0 else {
            return RGBImage(width: targetWidth, height: targetHeight)
        }
        var image = self
        if targetWidth != width {
            image = image.resampled(axis: .horizontal, taps: ResampleTaps(from: width, to: targetWidth))
        }
        if targetHeight != height {
            image = image.resampled(axis: .vertical, taps: ResampleTaps(from: height, to: targetHeight))
        }
        return image
    }

    private enum Axis { case horizontal, vertical }

    private func resampled(axis: Axis, taps: ResampleTaps) -> RGBImage {
        let outWidth = axis == .horizontal ? taps.outputCount : width
        let outHeight = axis == .vertical ? taps.outputCount : height
        // Distance in the flat plane between neighbours along the axis, and between lines.
        let step = axis == .horizontal ? 1 : width
        let lines = axis == .horizontal ? height : width
        let inLine = axis == .horizontal ? width : 1
        let outLine = axis == .horizontal ? outWidth : 1
        let outStep = axis == .horizontal ? 1 : outWidth
        let inPlane = planeSize, outPlane = outWidth * outHeight
        var out = [Float](repeating: 0, count: 3 * outPlane)
        pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                taps.indices.withUnsafeBufferPointer { indices in
                    taps.weights.withUnsafeBufferPointer { weights in
                        for c in 0..<3 {
                            for line in 0..<lines {
                                let source = c * inPlane + line * inLine
                                let target = c * outPlane + line * outLine
                                for o in 0..<taps.outputCount {
                                    var sum: Float = 0
                                    for t in taps.offsets[o]..<taps.offsets[o + 1] {
                                        sum += weights[t] * input[source + indices[t] * step]
                                    }
                                    output[target + o * outStep] = sum
                                }
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }
}

/// The weighted source samples of every output sample along one axis: output `o` is
/// `Σ weights[t] · source[indices[t]]` for `t` in `offsets[o]..<offsets[o + 1]`.
struct ResampleTaps {
    let outputCount: Int
    private(set) var offsets: [Int] = [0]
    private(set) var indices: [Int] = []
    private(set) var weights: [Float] = []

    init(from inputCount: Int, to outputCount: Int) {
        self.outputCount = outputCount
        let scale = Double(inputCount) / Double(outputCount)
        for o in 0..<outputCount {
            if outputCount < inputCount {
                addBox(o, scale: scale, inputCount: inputCount)
            } else {
                addCubic(o, scale: scale, inputCount: inputCount)
            }
            offsets.append(indices.count)
        }
    }

    /// Output `o` covers source interval [o·scale, (o+1)·scale); each source pixel is weighted by
    /// the length of its overlap with it, over the interval's length.
    private mutating func addBox(_ o: Int, scale: Double, inputCount: Int) {
        let low = Double(o) * scale, high = min(Double(o + 1) * scale, Double(inputCount))
        var i = Int(low.rounded(.down))
        while Double(i) < high && i < inputCount {
            let overlap = min(high, Double(i + 1)) - max(low, Double(i))
            if overlap > 0 {
                indices.append(i)
                weights.append(Float(overlap / scale))
            }
            i += 1
        }
    }

    /// Keys' cubic (a = −0.5) through the four source pixels around the output pixel's centre.
    private mutating func addCubic(_ o: Int, scale: Double, inputCount: Int) {
        let centre = (Double(o) + 0.5) * scale - 0.5
        let base = Int(centre.rounded(.down))
        let t = centre - Double(base)
        let raw = [keys(t + 1), keys(t), keys(1 - t), keys(2 - t)]
        let total = raw.reduce(0, +)  // 1 up to rounding; normalised so flat areas stay flat
        for (k, weight) in raw.enumerated() {
            indices.append(min(max(base - 1 + k, 0), inputCount - 1))
            weights.append(Float(weight / total))
        }
    }

    private func keys(_ x: Double) -> Double {
        let a = -0.5, d = abs(x)
        if d <= 1 {
            return (a + 2) * d * d * d - (a + 3) * d * d + 1
        }
        if d < 2 {
            return a * d * d * d - 5 * a * d * d + 8 * a * d - 4 * a
        }
        return 0
    }
}
