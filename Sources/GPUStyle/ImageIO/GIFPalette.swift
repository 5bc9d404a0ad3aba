/// A frame reduced to at most 256 colours, ready for GIF: a palette and one index per pixel.
struct IndexedFrame {
    /// RGB triples, at most 256 of them.
    var palette: [UInt8]
    /// One palette index per pixel, rows top to bottom.
    var indices: [UInt8]

    var colourCount: Int { palette.count / 3 }

    /// Quantises `image` (clamped to 0…255 and rounded first). A frame with at most 256 distinct
    /// colours keeps them exactly. Otherwise the palette comes from median cut over a 6-bit-per-
    /// channel histogram (the box with the largest pixel count × longest side is split at its
    /// pixel median along that side; each entry is the mean of its pixels), and pixels map to the
    /// nearest entry, optionally with serpentine Floyd–Steinberg error diffusion.
    init(_ image: RGBImage, dithering: Bool) {
        let rgb = ImageFile.interleavedBytes(image)
        if let exact = IndexedFrame(exactColoursOf: rgb) {
            self = exact
            return
        }
        palette = medianCutPalette(rgb)
        let mapper = NearestColour(palette: palette)
        indices =
            dithering
            ? mapper.dithered(rgb, width: image.width, height: image.height)
            : mapper.mapped(rgb)
    }

    /// nil when `rgb` holds more than 256 distinct colours.
    private init?(exactColoursOf rgb: [UInt8]) {
        var index: [UInt32: UInt8] = [:]
        var palette: [UInt8] = []
        var indices = [UInt8](repeating: 0, count: rgb.count / 3)
        for i in 0..<indices.count {
            let key = UInt32(rgb[3 * i]) << 16 | UInt32(rgb[3 * i + 1]) << 8 | UInt32(rgb[3 * i + 2])
            if let known = index[key] {
                indices[i] = known
                continue
            }
            guard index.count < 256 else {
                return nil
            }
            index[key] = UInt8(index.count)
            indices[i] = UInt8(index.count - 1)
            palette += rgb[(3 * i)..<(3 * i + 3)]
        }
        self.palette = palette
        self.indices = indices
    }
}

/// Median cut over the 6-bit histogram of interleaved `rgb`, refined by k-means; at most 256
/// RGB triples.
private func medianCutPalette(_ rgb: [UInt8]) -> [UInt8] {
    let histogram = ColourHistogram(rgb)
    var bins = histogram.occupied
    var boxes = [ColourBox(bins: bins, range: 0..<bins.count, histogram: histogram)]
    while boxes.count < 256 {
        // Split where it helps most: many pixels spread along a long side.
        guard
            let pick = boxes.indices.filter({ boxes[$0].range.count > 1 })
                .max(by: { boxes[$0].score < boxes[$1].score })
        else {
            break
        }
        let range = boxes[pick].range
        let split = boxes[pick].split(&bins, histogram: histogram)
        boxes[pick] = ColourBox(bins: bins, range: range.lowerBound..<split, histogram: histogram)
        boxes.append(ColourBox(bins: bins, range: split..<range.upperBound, histogram: histogram))
    }
    var palette: [Double] = boxes.flatMap { $0.mean }
    refine(&palette, histogram: histogram)
    return palette.map { UInt8(min(max($0, 0), 255).rounded()) }
}

/// Pixel counts and colour sums per cell of a 6-bit-per-channel grid (bin = r6 << 12 | g6 << 6 | b6).
private struct ColourHistogram {
    var counts = [Int](repeating: 0, count: 1 << 18)
    var sums = [Int](repeating: 0, count: 3 << 18)
    /// Bins with at least one pixel.
    let occupied: [Int]

    init(_ rgb: [UInt8]) {
        for i in stride(from: 0, to: rgb.count, by: 3) {
            let bin = Int(rgb[i] >> 2) << 12 | Int(rgb[i + 1] >> 2) << 6 | Int(rgb[i + 2] >> 2)
            counts[bin] += 1
            for c in 0..<3 {
                sums[3 * bin + c] += Int(rgb[i + c])
            }
        }
        let counts = counts
        occupied = (0..<counts.count).filter { counts[$0] > 0 }
    }

    static func channel(_ bin: Int, _ axis: Int) -> Int { bin >> (12 - 6 * axis) & 63 }
}

/// A run of `bins` (a box of median cut) with its pixel count and extent.
private struct ColourBox {
    let range: Range<Int>
    var count = 0
    var low = [63, 63, 63], high = [0, 0, 0]
    var sums = [0, 0, 0]

    init(bins: [Int], range: Range<Int>, histogram: ColourHistogram) {
        self.range = range
        for bin in bins[range] {
            count += histogram.counts[bin]
            for axis in 0..<3 {
                let value = ColourHistogram.channel(bin, axis)
                low[axis] = min(low[axis], value)
                high[axis] = max(high[axis], value)
                sums[axis] += histogram.sums[3 * bin + axis]
            }
        }
    }

    var longestAxis: Int { (0..<3).max { high[$0] - low[$0] < high[$1] - low[$1] } ?? 0 }
    var score: Int { count * (high[longestAxis] - low[longestAxis]) }
    var mean: [Double] { sums.map { Double($0) / Double(count) } }

    /// Reorders this box's bins so those below the pixel median along the longest side come
    /// first, and returns where the second half starts (both halves non-empty).
    func split(_ bins: inout [Int], histogram: ColourHistogram) -> Int {
        let axis = longestAxis
        var perValue = [Int](repeating: 0, count: 64)
        for bin in bins[range] {
            perValue[ColourHistogram.channel(bin, axis)] += histogram.counts[bin]
        }
        // The smallest cut value with half the pixels below it, kept inside (low, high].
        var cut = low[axis] + 1, below = perValue[low[axis]]
        while cut < high[axis] && 2 * below < count {
            below += perValue[cut]
            cut += 1
        }
        var first = range.lowerBound
        for i in range where ColourHistogram.channel(bins[i], axis) < cut {
            bins.swapAt(i, first)
            first += 1
        }
        return first
    }
}

/// A few Lloyd (k-means) iterations over the occupied bins, weighted by pixel count: median cut
/// places boxes well, but box means are not the colours that minimise the error.
private func refine(_ palette: inout [Double], histogram: ColourHistogram, iterations: Int = 3) {
    let bins = histogram.occupied
    let means = bins.flatMap { bin in
        (0..<3).map { Double(histogram.sums[3 * bin + $0]) / Double(histogram.counts[bin]) }
    }
    let entries = palette.count / 3
    for _ in 0..<iterations {
        var totals = [Double](repeating: 0, count: palette.count)
        var weights = [Double](repeating: 0, count: entries)
        palette.withUnsafeBufferPointer { colours in
            means.withUnsafeBufferPointer { means in
                for b in 0..<bins.count {
                    let (r, g, bl) = (means[3 * b], means[3 * b + 1], means[3 * b + 2])
                    var best = 0, bestDistance = Double.infinity
                    for entry in 0..<entries {
                        let dr = colours[3 * entry] - r, dg = colours[3 * entry + 1] - g,
                            db = colours[3 * entry + 2] - bl
                        let distance = dr * dr + dg * dg + db * db
                        if distance < bestDistance {
                            best = entry
                            bestDistance = distance
                        }
                    }
                    let weight = Double(histogram.counts[bins[b]])
                    weights[best] += weight
                    totals[3 * best] += weight * r
                    totals[3 * best + 1] += weight * g
                    totals[3 * best + 2] += weight * bl
                }
            }
        }
        for entry in 0..<entries where weights[entry] > 0 {
            for c in 0..<3 {
                palette[3 * entry + c] = totals[3 * entry + c] / weights[entry]
            }
        }
    }
}

/// Maps colours to the nearest palette entry (squared RGB distance). Answers are cached per
/// cell of a 6-bit-per-channel grid, computed for the cell centre on first use.
private final class NearestColour {
    private let palette: [Int]
    private var cache = [Int16](repeating: -1, count: 1 << 18)

    init(palette: [UInt8]) {
        self.palette = palette.map(Int.init)
    }

    func index(_ r: Int, _ g: Int, _ b: Int) -> UInt8 {
        let cell = (r >> 2) << 12 | (g >> 2) << 6 | (b >> 2)
        if cache[cell] >= 0 {
            return UInt8(cache[cell])
        }
        let (cr, cg, cb) = ((r >> 2) << 2 + 2, (g >> 2) << 2 + 2, (b >> 2) << 2 + 2)
        let best = palette.withUnsafeBufferPointer { colours in
            var best = 0, bestDistance = Int.max
            for entry in 0..<(colours.count / 3) {
                let dr = colours[3 * entry] - cr, dg = colours[3 * entry + 1] - cg, db = colours[3 * entry + 2] - cb
                let distance = dr * dr + dg * dg + db * db
                if distance < bestDistance {
                    best = entry
                    bestDistance = distance
                }
            }
            return best
        }
        cache[cell] = Int16(best)
        return UInt8(best)
    }

    func mapped(_ rgb: [UInt8]) -> [UInt8] {
        (0..<(rgb.count / 3)).map { index(Int(rgb[3 * $0]), Int(rgb[3 * $0 + 1]), Int(rgb[3 * $0 + 2])) }
    }

    /// Floyd–Steinberg (7/16 ahead, 3/16 behind-below, 5/16 below, 1/16 ahead-below), scanning
    /// rows in alternate directions so the error does not drift one way.
    func dithered(_ rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
        var indices = [UInt8](repeating: 0, count: width * height)
        // Error carried into this row and the next, 3 per pixel, one pixel of margin each side.
        var current = [Float](repeating: 0, count: 3 * (width + 2))
        var next = current
        for y in 0..<height {
            let forward = y % 2 == 0
            let ahead = forward ? 1 : -1
            for step in 0..<width {
                let x = forward ? step : width - 1 - step
                let pixel = 3 * (y * width + x), slot = 3 * (x + 1)
                func wanted(_ c: Int) -> Int {
                    Int(min(max(Float(rgb[pixel + c]) + current[slot + c], 0), 255).rounded())
                }
                let (r, g, b) = (wanted(0), wanted(1), wanted(2))
                let chosen = Int(index(r, g, b))
                indices[y * width + x] = UInt8(chosen)
                for (c, value) in [r, g, b].enumerated() {
                    let error = Float(value - palette[3 * chosen + c])
                    current[slot + 3 * ahead + c] += error * 7 / 16
                    next[slot - 3 * ahead + c] += error * 3 / 16
                    next[slot + c] += error * 5 / 16
                    next[slot + 3 * ahead + c] += error / 16
                }
            }
            swap(&current, &next)
            for i in next.indices {
                next[i] = 0
            }
        }
        return indices
    }
}
