import CStream

/// How the native backend computes its 3×3 convolutions.
public enum ConvolutionAlgorithm: String, CaseIterable, Sendable {
    /// Per layer, whichever of im2col and Winograd measured faster (`NativeConvPlan.winogradWins`),
    /// and per convolution F(2×2) or F(4×4) by the map's size (`NativeConvPlan.tile`).
    case automatic
    /// im2col + sgemm everywhere: the direct algorithm, the numeric reference.
    case direct
    /// Winograd F(2×2,3×3) everywhere.
    case winograd
    /// Winograd F(4×4,3×3) everywhere (`Winograd4`).
    case winograd4
    /// Winograd F(6×6,3×3) everywhere (`Winograd6`).
    case winograd6
}

/// Whether one conv layer runs Winograd (forward and backward-data) or im2col, fixed when its
/// weights are made, so the weights hold only the layouts the plan needs; Winograd's tile is
/// chosen per convolution, its weight transforms made for each (`NativeBackend.winogradTransforms`).
struct NativeConvPlan: Equatable {
    let winograd: Bool
    /// F(m×m,3×3) forced (2, 4 or 6); 0 chooses by the map's size.
    private let forcedTile: Int

    init(_ algorithm: ConvolutionAlgorithm, outputChannels: Int, inputChannels: Int) {
        switch algorithm {
        case .direct: (winograd, forcedTile) = (false, 0)
        case .winograd: (winograd, forcedTile) = (true, 2)
        case .winograd4: (winograd, forcedTile) = (true, 4)
        case .winograd6: (winograd, forcedTile) = (true, 6)
        case .automatic:
            (winograd, forcedTile) = (
                NativeConvPlan.winogradWins(outputChannels: outputChannels, inputChannels: inputChannels), 0
            )
        }
    }

    /// The output tile side m of a Winograd convolution on a height × width map: F(6×6) from
    /// `ConvolutionShape.nativeWinograd6MinimumPixels` on, F(4×4) from `nativeWinograd4MinimumPixels`
    /// (natively it won from 64 channels up on such maps, lost on smaller ones: benchmarks/README.md,
    /// "native F(4×4) per convolution"), else F(2×2).
    func tile(height: Int, width: Int) -> Int {
        let pixels = height * width
        return forcedTile != 0
            ? forcedTile
            : pixels >= ConvolutionShape.nativeWinograd6MinimumPixels
                ? 6 : pixels >= ConvolutionShape.nativeWinograd4MinimumPixels ? 4 : 2
    }

    /// Winograd where both sides have enough channels: with 3 on one side (conv1_1) its 16 sgemms
    /// are too thin to pay for the transforms (benchmarks/README.md, "Measurements moved out of
    /// comments").
    static func winogradWins(outputChannels: Int, inputChannels: Int) -> Bool {
        min(outputChannels, inputChannels) >= 16
    }

    /// Floats the weights of an O×I layer hold under this plan: im2col's forward O×(I·9) and
    /// flipped I×(O·9) layouts, or Winograd's raw O×(I·9) taps; and the bias.
    func weightFloats(outputChannels: Int, inputChannels: Int) -> Int {
        (winograd ? 9 : 2 * 9) * outputChannels * inputChannels + outputChannels
    }
}

/// Winograd F(2×2,3×3) (Lavin & Gray 2015) with the standard matrices
/// Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]], G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]],
/// Aᵀ = [[1,1,1,0],[0,1,−1,−1]]: 4×4 input tiles overlapping by 2 (zero padding 1; odd sizes
/// get a zero-padded last tile), V = Bᵀ d B stored [16][C][tiles], 16 sgemms M[ξ] = U[ξ] · V[ξ],
/// then Y = Aᵀ M A (2×2 outputs per tile) fused with the bias, ReLU, mask and accumulation.
/// The error bound is tested in WinogradTests (SelfTest/WinogradErrorBound.swift).
enum Winograd: WinogradTile {
    /// 16 transforms U[ξ][o][i] (`WinogradG`), which serve both directions.
    static let points = 4

    /// G times a 3-vector, lane by lane: (a, ½(a + b + c), ½(a − b + c), c).
    @inline(__always)
    static func applyG(
        _ a: SIMD4<Double>, _ b: SIMD4<Double>, _ c: SIMD4<Double>, into r: UnsafeMutablePointer<SIMD4<Double>>
    ) {
        (r[0], r[1], r[2], r[3]) = (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
    }

    /// The transform of the flipped weights W'[i][o] = J W[o][i] J (J reverses the 3 taps) is
    /// U'[a][b] = U[p(a)][p(b)] transposed, p swapping 0 and 3, since G J = P G with P the row
    /// swap 0↔3: backward-data reads the forward transform at the permuted ξ, transposed.
    static func flippedIndex(_ xi: Int) -> Int {
        func swap(_ k: Int) -> Int { k == 0 ? 3 : k == 3 ? 0 : k }
        return swap(xi / 4) * 4 + swap(xi % 4)
    }

    /// What the output transform does with each 2×2 result.
    enum Output {
        /// y = result + bias[o], then max(·, 0) when `relu`.
        case biased(UnsafePointer<Float>, relu: Bool)
        /// y = result, or y += result when `accumulate`; where `mask` ≤ 0 the result counts as 0.
        case gradient(mask: UnsafePointer<Float>?, accumulate: Bool)
    }
}

/// Up to four consecutive (o, i) pairs of an O×I×3×3 layer (of one o), their taps as SIMD lanes:
/// the weight transforms run lane by lane in the scalar arithmetic, four pairs at a time.
struct PairBlock {
    /// The first pair (o·I + i) and how many follow it (1–4).
    let first: Int
    let lanes: Int
    let taps: UnsafePointer<Float>
    /// The flipped kernels' taps (J g J: tap k is tap 8 − k).
    let flipped: Bool

    /// Runs `body(first, count, lines)` over every run of up to 16 consecutive pairs of one o (one
    /// 64-byte line of each of the `points` planes), spread over the cores, `lines` a buffer of
    /// 16 · `points` floats to gather them in; each o's streamed stores are fenced after its runs.
    static func forEachLine(
        outputChannels: Int, inputChannels: Int, points: Int,
        _ body: (_ first: Int, _ count: Int, _ lines: UnsafeMutablePointer<Float>) -> Void
    ) {
        HostParallel.forEach(outputChannels, totalWork: outputChannels * inputChannels * points) { o in
            // Once per o: above 1 KiB the temporary comes from malloc.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * points) { buffer in
                guard let lines = buffer.baseAddress else { return }
                let end = (o + 1) * inputChannels
                for first in stride(from: o * inputChannels, to: end, by: 16) {
                    body(first, min(16, end - first), lines)
                }
            }
            cstream_fence()
        }
    }

    /// Tap k (row-major 3×3) of each lane's kernel; lanes past `lanes` 0.
    @inline(__always)
    func tap(_ k: Int) -> SIMD4<Double> {
        let g = taps + first * 9 + (flipped ? 8 - k : k)
        if lanes == 4 { return SIMD4(Double(g[0]), Double(g[9]), Double(g[18]), Double(g[27])) }
        var value = SIMD4<Double>()
        for lane in 0..<lanes { value[lane] = Double(g[9 * lane]) }
        return value
    }

    /// The lanes rounded once to Float at target[0 ..< lanes].
    @inline(__always)
    func store(_ value: SIMD4<Double>, into target: UnsafeMutablePointer<Float>) {
        let rounded = SIMD4<Float>(value)
        if lanes == 4 {
            UnsafeMutableRawPointer(target).storeBytes(of: rounded, as: SIMD4<Float>.self)
        } else {
            for lane in 0..<lanes { target[lane] = rounded[lane] }
        }
    }
}

/// The weight side of Winograd F(m×m,3×3): its n = m + 2 points and G. The weight transforms
/// of every tile are one loop, specialised per tile.
protocol WinogradG {
    static var points: Int { get }
    /// G times the 3-vector (a, b, c), lane by lane, into r[0 ..< points].
    static func applyG(
        _ a: SIMD4<Double>, _ b: SIMD4<Double>, _ c: SIMD4<Double>, into r: UnsafeMutablePointer<SIMD4<Double>>)
}

/// One native Winograd F(m×m,3×3) whole: `NativeBackend.winograd(tile:)` picks it once per
/// convolution, and each transform is specialised for it.
protocol WinogradTile: WinogradG {
    static func transformWeights(
        _ taps: UnsafePointer<Float>, outputChannels: Int, inputChannels: Int, flipped: Bool,
        into u: UnsafeMutablePointer<Float>)
    static func transformInput(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int,
        into v: UnsafeMutablePointer<Float>)
    static func transformOutput(
        _ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int, output: Winograd.Output,
        into y: UnsafeMutablePointer<Float>)
}

extension WinogradG {
    /// U[ξ][o][i] = (G g Gᵀ)[ξ] for the n×n points (ξ = n·a + b) of every pair of an O×I×3×3
    /// layer, or with `flipped` of its flipped kernels J g J (same [o][i] order; backward-data reads
    /// them transposed), in Float64 rounded once. It runs at every convolution: four pairs at a time
    /// in SIMD lanes, each lane the scalar arithmetic, 16 pairs' results gathered and stored past the
    /// caches as one line of each of the n² planes (through the caches, each line was first read
    /// from memory).
    static func transformWeights(
        _ taps: UnsafePointer<Float>, outputChannels: Int, inputChannels: Int, flipped: Bool,
        into u: UnsafeMutablePointer<Float>
    ) {
        let (pairs, n) = (outputChannels * inputChannels, points)
        PairBlock.forEachLine(outputChannels: outputChannels, inputChannels: inputChannels, points: n * n) {
            first, count, lines in
            withUnsafeTemporaryAllocation(of: SIMD4<Double>.self, capacity: 4 * n) { buffer in
                guard let columns = buffer.baseAddress else { return }
                for lane in stride(from: 0, to: count, by: 4) {
                    let block = PairBlock(
                        first: first + lane, lanes: min(4, count - lane), taps: taps, flipped: flipped)
                    // G g column by column (column q at columns + q·n), then each of its rows times Gᵀ.
                    for q in 0..<3 { applyG(block.tap(q), block.tap(3 + q), block.tap(6 + q), into: columns + q * n) }
                    let row = columns + 3 * n
                    for a in 0..<n {
                        applyG(columns[a], columns[n + a], columns[2 * n + a], into: row)
                        for b in 0..<n { block.store(row[b], into: lines + 16 * (n * a + b) + lane) }
                    }
                }
                cstream_rows16(u + first, pairs, lines, n * n, Int32(count))
            }
        }
    }
}

extension NativeBackend {
    /// Default bound on one Winograd band (transformed input and products, floats): 4 Mi floats,
    /// 16 MiB (2, 4 and 8 Mi ran alike within the noise of the shared machine).
    static let defaultWinogradBandFloats = 4 << 20
    /// Default bound on the bands of layers with large weight transforms: 16 Mi floats, 64 MiB.
    static let defaultWinogradWideBandFloats = 16 << 20

    /// The floats a band of a layer with `transformFloats` floats of weight transforms may hold.
    /// OpenBLAS packs U[ξ] again for each band's product, so a band of at least 8 times U keeps
    /// that repacking under an eighth of the band's own traffic (conv3_2 … conv4_4 in one band
    /// at 512 px); the base budget keeps the small-U layers' bands in cache
    /// (benchmarks/README.md, 2026-12-07 06:37).
    func winogradBandBudget(transformFloats: Int) -> Int {
        max(winogradBandFloats, min(8 * transformFloats, winogradWideBandFloats))
    }

    /// The Winograd F(tile×tile,3×3) of `tile` 6 or 4, else F(2×2).
    static func winograd(tile: Int) -> any WinogradTile.Type {
        switch tile {
        case 6: Winograd6.self
        case 4: Winograd4.self
        default: Winograd.self
        }
    }

    /// y (O × H·W) from x (C × H·W) by Winograd F(m×m,3×3), m = `tile` (2, 4 or 6), C being the
    /// summed channels. The products are M[ξ] = U[ξ] · V[ξ] with `u` holding [n²][O][C]
    /// (n = m + 2), or for `flipped` the backward-data products with `u` holding the layer's
    /// [n²][C][O]: F(2×2) reads the forward transforms U[p(ξ)]ᵀ, F(4×4) and F(6×6) the flipped
    /// kernels' transforms Uᶠ[ξ]ᵀ.
    func winogradConvolve(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        transform u: UnsafePointer<Float>, tile: Int, flipped: Bool, outputChannels: Int,
        output: Winograd.Output, into y: UnsafeMutablePointer<Float>
    ) throws {
        guard h > 0, w > 0 else { return }
        let points = (tile + 2) * (tile + 2)
        let (tileRows, tileColumns) = ((h + tile - 1) / tile, (w + tile - 1) / tile)
        let perTile = points * (channels + outputChannels)
        let pairs = channels * outputChannels
        let budget = winogradBandBudget(transformFloats: points * pairs)
        let rowsPerBand = max(1, min(tileRows, budget / max(perTile * tileColumns, 1)))
        // The output transforms load a tile row's last tiles as whole vectors too: loaded lane by
        // lane, each lane waited on a store to the stack. The lanes past the row hold the next
        // row's products, or these 8 zeros past the band's, and their results are never stored.
        let bandFloats = perTile * rowsPerBand * tileColumns
        let scratch = try columnScratch.floats(bandFloats + 8)
        (scratch + bandFloats).update(repeating: 0, count: 8)
        let v = scratch, m = scratch + points * channels * rowsPerBand * tileColumns
        let kind = NativeBackend.winograd(tile: tile)
        // A band's outputs are stored after the next band's input is transformed, so y may be x
        // itself (backward-data in place): no band still to be read needs the rows they overwrite.
        var pending: (firstTileRow: Int, rows: Int)?
        func storePending() {
            guard let (firstTileRow, rows) = pending else { return }
            kind.transformOutput(
                m, channels: outputChannels, height: h, width: w, firstTileRow: firstTileRow,
                tileRows: rows, tileColumns: tileColumns, output: output, into: y)
        }
        for firstTileRow in stride(from: 0, to: tileRows, by: rowsPerBand) {
            let rows = min(rowsPerBand, tileRows - firstTileRow)
            let n = rows * tileColumns
            kind.transformInput(
                x, channels: channels, height: h, width: w, firstTileRow: firstTileRow,
                tileRows: rows, tileColumns: tileColumns, into: v)
            storePending()
            // The products side by side, each on one thread.
            HostParallel.forEach(points, totalWork: points * outputChannels * channels * n) { xi in
                // Zeros and β = 1 rather than OpenBLAS's β = 0 pass over C, which took longer than
                // a memset (the same sums: both add the products to zeros).
                let c = m + xi * outputChannels * n
                c.update(repeating: 0, count: outputChannels * n)
                if flipped {
                    let weights = (tile == 2 ? Winograd.flippedIndex(xi) : xi) * pairs
                    Blas.gemm(
                        transposeA: true, m: outputChannels, n: n, k: channels,
                        a: u + weights, lda: outputChannels,
                        b: v + xi * channels * n, ldb: n, beta: 1, c: c, ldc: n, parallel: false)
                } else {
                    Blas.gemm(
                        m: outputChannels, n: n, k: channels, a: u + xi * pairs, lda: channels,
                        b: v + xi * channels * n, ldb: n, beta: 1, c: c, ldc: n, parallel: false)
                }
            }
            pending = (firstTileRow, rows)
        }
        storePending()
    }
}

extension Winograd {
    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for the tiles t of `tileRows` tile rows from `firstTileRow`
    /// (t = row-in-band · tileColumns + column), d the 4×4 patch at (2·ty − 1, 2·tx − 1).
    static func transformInput(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int,
        into v: UnsafeMutablePointer<Float>
    ) {
        forEachPaddedTileRow(
            x, channels: channels, height: h, width: w, firstTileRow: firstTileRow, tileRows: tileRows,
            tileColumns: tileColumns, tile: 2, into: v
        ) { rows, t, phase, out, stride in
            // Bᵀ d down the columns, whole rows at once: one rounding.
            let row = 2 * phase
            for j in Swift.stride(from: 0, to: row, by: 8) {
                let d = rows + j
                (t + j).store(
                    inputColumn((Lanes(d), Lanes(d + row), Lanes(d + 2 * row), Lanes(d + 3 * row))), stride: row,
                    count: 8)
            }
            // Each row times B along the tiles: one more; the 16 outputs are contiguous in t.
            for k in 0..<4 {
                let (even, odd) = (t + k * row, t + k * row + phase)
                for tx in Swift.stride(from: 0, to: tileColumns, by: 8) {
                    let r = inputColumn((Lanes(even + tx), Lanes(odd + tx), Lanes(even + tx + 1), Lanes(odd + tx + 1)))
                    (out + 4 * k * stride + tx).store(r, stride: stride, count: min(8, tileColumns - tx))
                }
            }
        }
    }

    /// Bᵀ times a column (or a row times B) of 4, eight lanes at a time: one rounding per term.
    @inline(__always)
    static func inputColumn(_ d: Lanes4) -> Lanes4 { (d.0 - d.2, d.1 + d.2, d.2 - d.1, d.1 - d.3) }

    /// Aᵀ times a column (or a row times A) of 4, eight lanes at a time: two roundings per term.
    @inline(__always)
    static func outputColumn(_ m: Lanes4) -> (Lanes, Lanes) { (m.0 + m.1 + m.2, m.1 - m.2 - m.3) }

    /// Runs `body(rows, scratch, phase, out, stride)` for each channel c and tile row of the band:
    /// `rows` holds the tile row's tile + 2 input rows from tile·(firstTileRow + bandRow) − 1, each
    /// of `tile · phase` floats, zeros outside the image. A row is split by column into `tile`
    /// phases of `phase` floats, column q at phase (q + 1) % tile, index (q + 1) / tile, so that
    /// column j of every tile (tile·tx − 1 + j) lies at phase j % tile, index tx + j / tile: a run
    /// of tiles reads contiguous floats. `phase` is a multiple of 8 with 8 zeros to spare past the
    /// last tile's. `scratch` is as much again as `rows`. `out` is where the tile row's V[0][c]
    /// goes in `v` ([ξ][c][t], t = row-in-band · tileColumns + column), `stride` the distance
    /// between its ξ.
    static func forEachPaddedTileRow(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, firstTileRow: Int, tileRows: Int,
        tileColumns: Int, tile: Int, into v: UnsafeMutablePointer<Float>,
        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) ->
            Void
    ) {
        let side = tile + 2, phase = lanesWide(tileColumns) + 8
        let row = tile * phase, n = tileRows * tileColumns
        HostParallel.forEach(
            channels * tileRows, totalWork: side * side * channels * tileRows * tileColumns, scratch: 2 * side * row
        ) { job, rows in
            let (c, bandRow) = (job / tileRows, job % tileRows)
            let top = tile * (firstTileRow + bandRow) - 1
            let plane = x + c * h * w
            rows.update(repeating: 0, count: side * row)
            for k in 0..<side where top + k >= 0 && top + k < h {
                splitPhases(plane + (top + k) * w, width: w, tile: tile, into: rows + k * row, phase: phase)
            }
            body(rows, rows + side * row, phase, v + c * n + bandRow * tileColumns, channels * n)
        }
    }

    /// An image row of `width` columns into the phases of `forEachPaddedTileRow` (column q at
    /// phase (q + 1) % tile, index (q + 1) / tile); the zeros outside the image are left as found.
    @inline(__always)
    static func splitPhases(
        _ source: UnsafePointer<Float>, width w: Int, tile: Int, into target: UnsafeMutablePointer<Float>,
        phase: Int
    ) {
        // Whole runs of 8 indices of every phase, from index 1 (columns tile − 1 on); then one run
        // ending at the row's last whole one, over part of the run before it (the same values).
        var i = 1
        if tile == 4 {
            func run(_ i: Int) {
                let v = UnsafeRawPointer(source + 4 * i - 1).loadUnaligned(as: SIMD32<Float>.self)
                let (even, odd) = (v.evenHalf, v.oddHalf)
                even.evenHalf.store(into: target + i, count: 8)
                odd.evenHalf.store(into: target + phase + i, count: 8)
                even.oddHalf.store(into: target + 2 * phase + i, count: 8)
                odd.oddHalf.store(into: target + 3 * phase + i, count: 8)
            }
            while 4 * i + 31 <= w {
                run(i)
                i += 8
            }
            if i > 1, (w - 31) / 4 + 8 > i {
                run((w - 31) / 4)
                i = (w - 31) / 4 + 8
            }
        } else if tile == 6 {
            func run(_ i: Int) {
                let s = source + 6 * i - 1
                for p in 0..<6 {
                    Lanes(s[p], s[6 + p], s[12 + p], s[18 + p], s[24 + p], s[30 + p], s[36 + p], s[42 + p])
                        .store(into: target + p * phase + i, count: 8)
                }
            }
            while 6 * i + 47 <= w {
                run(i)
                i += 8
            }
            if i > 1, (w - 47) / 6 + 8 > i {
                run((w - 47) / 6)
                i = (w - 47) / 6 + 8
            }
        } else if tile == 2 {
            func run(_ i: Int) {
                let v = UnsafeRawPointer(source + 2 * i - 1).loadUnaligned(as: SIMD16<Float>.self)
                v.evenHalf.store(into: target + i, count: 8)
                v.oddHalf.store(into: target + phase + i, count: 8)
            }
            while 2 * i + 15 <= w {
                run(i)
                i += 8
            }
            if i > 1, (w - 15) / 2 + 8 > i {
                run((w - 15) / 2)
                i = (w - 15) / 2 + 8
            }
        }
        // The rest a column at a time: index 0 of the phases past the first, then from i on.
        for p in 0..<tile {
            let plane = target + p * phase
            if p > 0, p - 1 < w { plane[0] = source[p - 1] }
            var (j, q) = (i, tile * i + p - 1)
            while q < w {
                plane[j] = source[q]
                (j, q) = (j + 1, q + tile)
            }
        }
    }

    /// y = Aᵀ M A for every tile of the band, combined with y as `output` says; only the pixels
    /// inside the image are written. Works a tile row at a time on contiguous runs, so the loops
    /// vectorise.
    static func transformOutput(
        _ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int, output: Output,
        into y: UnsafeMutablePointer<Float>
    ) {
        let (tc, wide) = (tileColumns, lanesWide(tileColumns))
        forEachOutputTileRow(
            m, channels: channels, height: h, width: w, firstTileRow: firstTileRow, tileRows: tileRows,
            tileColumns: tileColumns, tile: 2, output: output, into: y
        ) { source, stride, sums, rows in
            // 8 runs of Aᵀ M (rows 0 and 1, columns 0–3), then the two output rows (2·tc each).
            // Aᵀ M: two roundings.
            for b in 0..<4 {
                for tx in Swift.stride(from: 0, to: tc, by: 8) {
                    let s = source + b * stride + tx  // whole vectors (`winogradConvolve`)
                    let r = outputColumn(
                        (Lanes(s), Lanes(s + 4 * stride), Lanes(s + 8 * stride), Lanes(s + 12 * stride)))
                    r.0.store(into: sums + b * wide + tx, count: 8)
                    r.1.store(into: sums + (4 + b) * wide + tx, count: 8)
                }
            }
            // Each row times A: two more.
            for r in 0..<2 {
                for tx in Swift.stride(from: 0, to: tc, by: 8) {
                    let s = sums + 4 * r * wide + tx
                    let o = outputColumn((Lanes(s), Lanes(s + wide), Lanes(s + 2 * wide), Lanes(s + 3 * wide)))
                    (rows + r * 2 * tc + 2 * tx).interleave(o, count: min(8, tc - tx))
                }
            }
        }
    }

    /// Runs `body(source, stride, sums, rows)` for each output channel and tile row of the band,
    /// then combines the `tile` output rows it wrote into `rows` (tile·tileColumns each) with y as
    /// `output` says, those inside the image. `source` is the channel's products at the tile row,
    /// `stride` the distance between their ξ, `sums` scratch of tile·(tile + 2) rows of
    /// `lanesWide(tileColumns)` floats.
    static func forEachOutputTileRow(
        _ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, firstTileRow: Int, tileRows: Int,
        tileColumns: Int, tile: Int, output: Output, into y: UnsafeMutablePointer<Float>,
        _ body: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) {
        let n = tileRows * tileColumns
        let stride = channels * n
        let (sumFloats, rowFloats) = (tile * (tile + 2) * lanesWide(tileColumns), tile * tile * tileColumns)
        HostParallel.forEach(
            channels * tileRows, totalWork: (tile + 2) * (tile + 2) * stride, scratch: sumFloats + rowFloats
        ) { job, sums in
            let (o, bandRow) = (job / tileRows, job % tileRows)
            let top = tile * (firstTileRow + bandRow)
            let rows = sums + sumFloats
            body(m + o * n + bandRow * tileColumns, stride, sums, rows)
            let outputRows = min(tile, h - top)
            // The rows at once where they lie end to end in `rows` as they do in y.
            let (runs, run) = tile * tileColumns == w ? (1, outputRows * w) : (outputRows, w)
            for r in 0..<runs {
                let index = (o * h + top + r) * w
                combine(
                    rows + r * tile * tileColumns, into: y + index, count: run, channel: o,
                    mask: output.mask.map { $0 + index }, output)
            }
        }
    }

    /// target[k] = value[k] combined as `output` says, for k < count; `mask` is the mask at target.
    private static func combine(
        _ values: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int,
        channel: Int, mask: UnsafePointer<Float>?, _ output: Output
    ) {
        switch output {
        case let .biased(bias, relu):
            cstream_biased(target, values, count, bias[channel], relu ? 1 : 0)
        case let .gradient(_, accumulate):
            switch (mask, accumulate) {
            case (nil, false): cstream_copy(target, values, count)
            case (nil, true): for k in 0..<count { target[k] += values[k] }
            case let (mask?, _):
                NativeBackend.reluMask(values, by: mask, into: target, count: count, accumulate: accumulate)
            }
        }
    }
}

extension Winograd.Output {
    var mask: UnsafePointer<Float>? {
        if case let .gradient(mask, _) = self { return mask }
        return nil
    }
}

/// Winograd F(4×4,3×3) (Lavin & Gray 2015) at the points 0, ±1, ±2 and ∞:
///
///     Bᵀ = [[4,0,−5,0,1,0],[0,−4,−4,1,1,0],[0,4,−4,−1,1,0],[0,−2,−1,2,1,0],[0,2,−1,−2,1,0],[0,4,0,−5,0,1]]
///     G  = [[¼,0,0],[−⅙,−⅙,−⅙],[−⅙,⅙,−⅙],[1/24,1/12,⅙],[1/24,−1/12,⅙],[0,0,1]]
///     Aᵀ = [[1,1,1,1,1,0],[0,1,−1,2,−2,0],[0,1,1,4,4,0],[0,1,−1,8,−8,1]]
///
/// 6×6 input tiles overlapping by 2 (tile (ty, tx) at (4·ty − 1, 4·tx − 1), zero outside), 36
/// products, 4×4 outputs per tile. A and B are integers (exact); the inexact constants are all in
/// G, which is applied once per layer. The points ±½ are the mirror image (x → 1/x reverses the
/// tile) with the same error bound; neither set is closed under x → 1/x, so backward-data
/// transforms the flipped kernel itself. Bound: SelfTest/WinogradErrorBound.swift.
enum Winograd4: WinogradTile {
    /// 36 transforms U[ξ][o][i] (`WinogradG`), the flipped kernels' for backward-data.
    static let points = 6

    /// G times a 3-vector, lane by lane.
    @inline(__always)
    static func applyG(
        _ a: SIMD4<Double>, _ b: SIMD4<Double>, _ c: SIMD4<Double>, into r: UnsafeMutablePointer<SIMD4<Double>>
    ) {
        (r[0], r[1], r[2], r[3], r[4], r[5]) = (
            a / 4, -(a + b + c) / 6, -(a - b + c) / 6, (a + 2 * b + 4 * c) / 24, (a - 2 * b + 4 * c) / 24, c
        )
    }

    /// Bᵀ times a column (or a row times B) of 6, eight lanes at a time: at most 3 roundings per
    /// term (a product by 5 and two sums, or three sums).
    @inline(__always)
    static func inputColumn(_ d: Lanes6) -> Lanes6 {
        (
            4 * d.0 - 5 * d.2 + d.4, -4 * d.1 - 4 * d.2 + d.3 + d.4, 4 * d.1 - 4 * d.2 - d.3 + d.4,
            -2 * d.1 - d.2 + 2 * d.3 + d.4, 2 * d.1 - d.2 - 2 * d.3 + d.4, 4 * d.1 - 5 * d.3 + d.5
        )
    }

    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for the tiles t of `tileRows` tile rows from `firstTileRow`
    /// (t = row-in-band · tileColumns + column), d the 6×6 patch at (4·ty − 1, 4·tx − 1).
    static func transformInput(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int,
        into v: UnsafeMutablePointer<Float>
    ) {
        Winograd.forEachPaddedTileRow(
            x, channels: channels, height: h, width: w, firstTileRow: firstTileRow, tileRows: tileRows,
            tileColumns: tileColumns, tile: 4, into: v
        ) { rows, t, phase, out, stride in
            // Bᵀ d down the columns, whole rows at once.
            let row = 4 * phase
            for j in Swift.stride(from: 0, to: row, by: 8) {
                let d = rows + j
                let r = inputColumn(
                    (
                        Lanes(d), Lanes(d + row), Lanes(d + 2 * row), Lanes(d + 3 * row), Lanes(d + 4 * row),
                        Lanes(d + 5 * row)
                    ))
                (t + j).store(r, stride: row, count: 8)
            }
            // Each row times B along the tiles, eight at a time; the 36 outputs are contiguous in t.
            for k in 0..<6 {
                let p = t + k * row
                for tx in Swift.stride(from: 0, to: tileColumns, by: 8) {
                    let d = p + tx
                    let r = inputColumn(
                        (
                            Lanes(d), Lanes(d + phase), Lanes(d + 2 * phase), Lanes(d + 3 * phase), Lanes(d + 1),
                            Lanes(d + phase + 1)
                        ))
                    (out + 6 * k * stride + tx).store(r, stride: stride, count: min(8, tileColumns - tx))
                }
            }
        }
    }

    /// Aᵀ times a column (or a row times A) of 6, eight lanes at a time: 3 roundings per term.
    @inline(__always)
    static func outputColumn(_ m: Lanes6) -> Lanes4 {
        let (a, b) = (m.1 + m.2, m.1 - m.2)
        let (c, d) = (m.3 + m.4, m.3 - m.4)
        return (m.0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + m.5)
    }

    /// y = Aᵀ M A for every tile of the band, combined with y as `output` says; only the pixels
    /// inside the image are written.
    static func transformOutput(
        _ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int, output: Winograd.Output,
        into y: UnsafeMutablePointer<Float>
    ) {
        let (tc, wide) = (tileColumns, Winograd.lanesWide(tileColumns))
        Winograd.forEachOutputTileRow(
            m, channels: channels, height: h, width: w, firstTileRow: firstTileRow, tileRows: tileRows,
            tileColumns: tileColumns, tile: 4, output: output, into: y
        ) { source, stride, sums, rows in
            // 24 runs of Aᵀ M (rows 0–3, columns 0–5), eight tiles at a time, then each of those
            // rows times A into the four output rows (4·tc each).
            for b in 0..<6 {
                for tx in Swift.stride(from: 0, to: tc, by: 8) {
                    let s = source + b * stride + tx  // whole vectors (`winogradConvolve`)
                    let r = outputColumn(
                        (
                            Lanes(s), Lanes(s + 6 * stride), Lanes(s + 12 * stride), Lanes(s + 18 * stride),
                            Lanes(s + 24 * stride), Lanes(s + 30 * stride)
                        ))
                    (sums + b * wide + tx).store(r, stride: 6 * wide)
                }
            }
            for r in 0..<4 {
                for tx in Swift.stride(from: 0, to: tc, by: 8) {
                    let s = sums + 6 * r * wide + tx
                    let o = outputColumn(
                        (
                            Lanes(s), Lanes(s + wide), Lanes(s + 2 * wide), Lanes(s + 3 * wide), Lanes(s + 4 * wide),
                            Lanes(s + 5 * wide)
                        ))
                    (rows + r * 4 * tc + 4 * tx).interleave(o, count: min(8, tc - tx))
                }
            }
        }
    }
}

/// Winograd F(6×6,3×3) at the points 0, ±1, ±2, ±½ and ∞, as OpenCL's `winograd6_*` kernels
/// (Kernels.cl has Bᵀ, G and Aᵀ): 8×8 input tiles overlapping by 2 (tile (ty, tx) at
/// (6·ty − 1, 6·tx − 1), zero outside), 64 products, 6×6 outputs per tile: 64/36 multiplies an
/// output and channel pair against F(4×4)'s 36/16. B's and A's entries are exact in binary; G's
/// inexact ones are applied once per layer, in Float64 with OpenCL's arithmetic. Backward-data
/// transforms the flipped kernel itself, as F(4×4). Bound: SelfTest/WinogradErrorBound.swift.
enum Winograd6: WinogradTile {
    /// Four lanes, four tiles or columns at once: a column of 8 values in eight lanes would take
    /// all 16 of SSE2's registers, and the transforms spilled.
    typealias Quad = SIMD4<Float>
    typealias Quads8 = (Quad, Quad, Quad, Quad, Quad, Quad, Quad, Quad)
    typealias Quads6 = (Quad, Quad, Quad, Quad, Quad, Quad)

    /// 64 transforms U[ξ][o][i] (`WinogradG`), the flipped kernels' for backward-data.
    static let points = 8

    /// G times a 3-vector, lane by lane, as `WINOGRAD6_G` (multiplying by the constants rounded to
    /// double).
    @inline(__always)
    static func applyG(
        _ a: SIMD4<Double>, _ b: SIMD4<Double>, _ c: SIMD4<Double>, into r: UnsafeMutablePointer<SIMD4<Double>>
    ) {
        let (twoNinths, ninetieth, eightFortyFifths) = (2.0 / 9, 1.0 / 90, 8.0 / 45)
        (r[0], r[1], r[2]) = (a, -((a + b) + c) * twoNinths, -((a - b) + c) * twoNinths)
        (r[3], r[4]) = (((a + 2 * b) + 4 * c) * ninetieth, ((a - 2 * b) + 4 * c) * ninetieth)
        (r[5], r[6], r[7]) = (((4 * a + 2 * b) + c) * eightFortyFifths, ((4 * a - 2 * b) + c) * eightFortyFifths, c)
    }

    /// Bᵀ times a column (or a row times B) of 8, four lanes at a time, as `WINOGRAD6_BT`: at
    /// most 4 roundings per term.
    @inline(__always)
    static func inputColumn(_ d: Quads8) -> Quads8 {
        let r0 = (d.0 - d.6) + 5.25 * (d.4 - d.2), r7 = (d.7 - d.1) + 5.25 * (d.3 - d.5)
        let s1 = (d.2 + d.6) - 4.25 * d.4, t1 = (d.1 + d.5) - 4.25 * d.3
        let s3 = (0.25 * d.2 + d.6) - 1.25 * d.4, t3 = (0.5 * d.1 - 2.5 * d.3) + 2 * d.5
        let s5 = (4 * d.2 + d.6) - 5 * d.4, t5 = (2 * d.1 - 2.5 * d.3) + 0.5 * d.5
        return (r0, s1 + t1, s1 - t1, s3 + t3, s3 - t3, s5 + t5, s5 - t5, r7)
    }

    /// Aᵀ times a column (or a row times A) of 8, four lanes at a time, as `WINOGRAD6_AT`: at
    /// most 3 roundings per term.
    @inline(__always)
    static func outputColumn(_ m: Quads8) -> Quads6 {
        let (p, q, u) = (m.1 + m.2, m.1 - m.2, m.3 + m.4)
        let (w, y, z) = (m.3 - m.4, m.5 + m.6, m.5 - m.6)
        let r0 = (m.0 + p) + (u + y), r1 = (q + 2 * w) + 0.5 * z, r2 = (p + 4 * u) + 0.25 * y
        let r3 = (q + 8 * w) + 0.125 * z, r4 = (p + 16 * u) + 0.0625 * y, r5 = (q + 32 * w) + (0.03125 * z + m.7)
        return (r0, r1, r2, r3, r4, r5)
    }

    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for the tiles t of `tileRows` tile rows from `firstTileRow`
    /// (t = row-in-band · tileColumns + column), d the 8×8 patch at (6·ty − 1, 6·tx − 1).
    static func transformInput(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int,
        into v: UnsafeMutablePointer<Float>
    ) {
        Winograd.forEachPaddedTileRow(
            x, channels: channels, height: h, width: w, firstTileRow: firstTileRow, tileRows: tileRows,
            tileColumns: tileColumns, tile: 6, into: v
        ) { rows, t, phase, out, stride in
            // Bᵀ d down the columns, whole rows at once.
            let row = 6 * phase
            for j in Swift.stride(from: 0, to: row, by: 4) {
                let d = rows + j
                let r = inputColumn(
                    (
                        Quad(d), Quad(d + row), Quad(d + 2 * row), Quad(d + 3 * row), Quad(d + 4 * row),
                        Quad(d + 5 * row), Quad(d + 6 * row), Quad(d + 7 * row)
                    ))
                (t + j).store(r, stride: row, count: 4)
            }
            // Each row times B along the tiles, four at a time (tile tx's columns 6 and 7 are
            // phases 0 and 1 at index tx + 1); the 64 outputs are contiguous in t.
            for k in 0..<8 {
                let p = t + k * row
                for tx in Swift.stride(from: 0, to: tileColumns, by: 4) {
                    let d = p + tx
                    let r = inputColumn(
                        (
                            Quad(d), Quad(d + phase), Quad(d + 2 * phase), Quad(d + 3 * phase), Quad(d + 4 * phase),
                            Quad(d + 5 * phase), Quad(d + 1), Quad(d + phase + 1)
                        ))
                    (out + 8 * k * stride + tx).store(r, stride: stride, count: min(4, tileColumns - tx))
                }
            }
        }
    }

    /// y = Aᵀ M A for every tile of the band, combined with y as `output` says; only the pixels
    /// inside the image are written.
    static func transformOutput(
        _ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        firstTileRow: Int, tileRows: Int, tileColumns: Int, output: Winograd.Output,
        into y: UnsafeMutablePointer<Float>
    ) {
        let (tc, wide) = (tileColumns, Winograd.lanesWide(tileColumns))
        Winograd.forEachOutputTileRow(
            m, channels: channels, height: h, width: w, firstTileRow: firstTileRow, tileRows: tileRows,
            tileColumns: tileColumns, tile: 6, output: output, into: y
        ) { source, stride, sums, rows in
            // 48 runs of Aᵀ M (rows 0–5, columns 0–7), four tiles at a time (a row's last ones as
            // whole vectors too: `winogradConvolve`), then each of those rows times A into the six
            // output rows (6·tc each).
            for b in 0..<8 {
                for tx in Swift.stride(from: 0, to: tc, by: 4) {
                    let s = source + b * stride + tx
                    let r = outputColumn(
                        (
                            Quad(s), Quad(s + 8 * stride), Quad(s + 16 * stride), Quad(s + 24 * stride),
                            Quad(s + 32 * stride), Quad(s + 40 * stride), Quad(s + 48 * stride), Quad(s + 56 * stride)
                        ))
                    let target = sums + b * wide + tx
                    r.0.store(into: target, count: 4)
                    r.1.store(into: target + 8 * wide, count: 4)
                    r.2.store(into: target + 16 * wide, count: 4)
                    r.3.store(into: target + 24 * wide, count: 4)
                    r.4.store(into: target + 32 * wide, count: 4)
                    r.5.store(into: target + 40 * wide, count: 4)
                }
            }
            for r in 0..<6 {
                for tx in Swift.stride(from: 0, to: tc, by: 4) {
                    let s = sums + 8 * r * wide + tx
                    let o = outputColumn(
                        (
                            Quad(s), Quad(s + wide), Quad(s + 2 * wide), Quad(s + 3 * wide), Quad(s + 4 * wide),
                            Quad(s + 5 * wide), Quad(s + 6 * wide), Quad(s + 7 * wide)
                        ))
                    (rows + r * 6 * tc + 6 * tx).interleave(o, count: min(4, tc - tx))
                }
            }
        }
    }
}

/// Eight lanes of a Winograd transform: eight columns or eight tiles at once, each lane the
/// scalar arithmetic (Swift does not contract into fused multiply-adds, so the bits are those of
/// the scalar code).
typealias Lanes = SIMD8<Float>
typealias Lanes4 = (Lanes, Lanes, Lanes, Lanes)
typealias Lanes6 = (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)

extension Winograd {
    /// A row of `count` tiles rounded up to whole lanes.
    static func lanesWide(_ count: Int) -> Int { (count + 7) / 8 * 8 }
}

extension SIMD where Scalar == Float {
    /// p[0 ..< scalarCount], or its first `count` floats and zeros when fewer remain.
    @inline(__always)
    init(_ p: UnsafePointer<Float>, count: Int) {
        if count >= Self.scalarCount {
            self = UnsafeRawPointer(p).loadUnaligned(as: Self.self)
        } else {
            self.init()
            for i in 0..<count { self[i] = p[i] }
        }
    }

    @inline(__always)
    init(_ p: UnsafePointer<Float>) { self.init(p, count: Self.scalarCount) }

    @inline(__always)
    init(_ p: UnsafeMutablePointer<Float>, count: Int) { self.init(UnsafePointer(p), count: count) }

    @inline(__always)
    init(_ p: UnsafeMutablePointer<Float>) { self.init(UnsafePointer(p), count: Self.scalarCount) }

    /// The first `count` lanes into p.
    @inline(__always)
    func store(into p: UnsafeMutablePointer<Float>, count: Int) {
        if count >= Self.scalarCount {
            UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
        } else {
            for i in 0..<count { p[i] = self[i] }
        }
    }
}

extension UnsafeMutablePointer<Float> {
    /// The first `count` lanes of each of six values at self + k·stride.
    @inline(__always)
    func store(_ r: Lanes6, stride: Int, count: Int) {
        r.0.store(into: self, count: count)
        r.1.store(into: self + stride, count: count)
        r.2.store(into: self + 2 * stride, count: count)
        r.3.store(into: self + 3 * stride, count: count)
        r.4.store(into: self + 4 * stride, count: count)
        r.5.store(into: self + 5 * stride, count: count)
    }

    /// The first `count` lanes of each of eight values at self + k·stride.
    @inline(__always)
    func store(_ r: Winograd6.Quads8, stride: Int, count: Int) {
        r.0.store(into: self, count: count)
        r.1.store(into: self + stride, count: count)
        r.2.store(into: self + 2 * stride, count: count)
        r.3.store(into: self + 3 * stride, count: count)
        r.4.store(into: self + 4 * stride, count: count)
        r.5.store(into: self + 5 * stride, count: count)
        r.6.store(into: self + 6 * stride, count: count)
        r.7.store(into: self + 7 * stride, count: count)
    }

    /// The first `count` lanes of each of four values at self + k·stride.
    @inline(__always)
    func store(_ r: Lanes4, stride: Int, count: Int = 8) {
        r.0.store(into: self, count: count)
        r.1.store(into: self + stride, count: count)
        r.2.store(into: self + 2 * stride, count: count)
        r.3.store(into: self + 3 * stride, count: count)
    }

    /// self[2·i + j] = lane i of value j, for i < count: two values of a run of tiles back in the
    /// order of the image's columns.
    @inline(__always)
    func interleave(_ o: (Lanes, Lanes), count: Int) {
        // A whole run at constant lanes, so the compiler can shuffle instead of going through memory.
        if count == 8 {
            for i in 0..<8 {
                self[2 * i] = o.0[i]
                self[2 * i + 1] = o.1[i]
            }
            return
        }
        for i in 0..<count {
            self[2 * i] = o.0[i]
            self[2 * i + 1] = o.1[i]
        }
    }

    /// self[6·i + j] = lane i of value j, for i < count: six values of a run of tiles back in the
    /// order of the image's columns.
    @inline(__always)
    func interleave(_ o: Winograd6.Quads6, count: Int) {
        // A whole run at constant lanes, so the compiler can shuffle instead of going through memory.
        if count == 4 {
            for i in 0..<4 {
                self[6 * i] = o.0[i]
                self[6 * i + 1] = o.1[i]
                self[6 * i + 2] = o.2[i]
                self[6 * i + 3] = o.3[i]
                self[6 * i + 4] = o.4[i]
                self[6 * i + 5] = o.5[i]
            }
            return
        }
        for i in 0..<count {
            self[6 * i] = o.0[i]
            self[6 * i + 1] = o.1[i]
            self[6 * i + 2] = o.2[i]
            self[6 * i + 3] = o.3[i]
            self[6 * i + 4] = o.4[i]
            self[6 * i + 5] = o.5[i]
        }
    }

    /// self[4·i + j] = lane i of value j, for i < count: four values of a run of tiles back in
    /// the order of the image's columns.
    @inline(__always)
    func interleave(_ o: Lanes4, count: Int) {
        // A whole run at constant lanes, so the compiler can shuffle instead of going through memory.
        if count == 8 {
            for i in 0..<8 {
                self[4 * i] = o.0[i]
                self[4 * i + 1] = o.1[i]
                self[4 * i + 2] = o.2[i]
                self[4 * i + 3] = o.3[i]
            }
            return
        }
        for i in 0..<count {
            self[4 * i] = o.0[i]
            self[4 * i + 1] = o.1[i]
            self[4 * i + 2] = o.2[i]
            self[4 * i + 3] = o.3[i]
        }
    }
}
