/// How the native backend computes its 3×3 convolutions.
public enum ConvolutionAlgorithm: String, CaseIterable, Sendable {
    /// Per layer, whichever of the two measured faster (`NativeConvPlan.winogradWins`).
    case automatic
    /// im2col + sgemm everywhere: the direct algorithm, the numeric reference.
    case direct
    /// Winograd F(2×2,3×3) everywhere.
    case winograd
}

/// Whether one conv layer runs Winograd (forward and backward-data) or im2col; fixed when its
/// weights are made, so the weights hold only the layouts the plan needs.
struct NativeConvPlan: Equatable {
    let winograd: Bool

    init(_ algorithm: ConvolutionAlgorithm, outputChannels: Int, inputChannels: Int) {
        switch algorithm {
        case .direct: winograd = false
        case .winograd: winograd = true
        case .automatic:
            winograd = NativeConvPlan.winogradWins(outputChannels: outputChannels, inputChannels: inputChannels)
        }
    }

    /// Winograd where both sides have enough channels: with 3 on one side (conv1_1) its 16 sgemms
    /// are too thin to pay for the transforms (benchmarks/README.md, "Measurements moved out of
    /// comments").
    static func winogradWins(outputChannels: Int, inputChannels: Int) -> Bool {
        min(outputChannels, inputChannels) >= 16
    }

    /// Floats the weights of an O×I layer hold under this plan: im2col's forward O×(I·9) and
    /// flipped I×(O·9) layouts, or Winograd's 16 transforms [16][O][I]; and the bias.
    func weightFloats(outputChannels: Int, inputChannels: Int) -> Int {
        (winograd ? 16 : 2 * 9) * outputChannels * inputChannels + outputChannels
    }
}

/// Winograd F(2×2,3×3) (Lavin & Gray 2015) with the standard matrices
/// Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]], G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]],
/// Aᵀ = [[1,1,1,0],[0,1,−1,−1]]: 4×4 input tiles overlapping by 2 (zero padding 1; odd sizes
/// get a zero-padded last tile), V = Bᵀ d B stored [16][C][tiles], 16 sgemms M[ξ] = U[ξ] · V[ξ],
/// then Y = Aᵀ M A (2×2 outputs per tile) fused with the bias, ReLU, mask and accumulation.
/// The error bound is tested in WinogradTests (Tests/GPUStyleTests/WinogradBound.swift).
enum Winograd {
    /// The 16 transformed weights U[ξ][o][i] = (G g_{o,i} Gᵀ)[ξ] of an O×I×3×3 layer, computed in
    /// Float64 and rounded once. Written out as scalars: it runs for every layer at load time,
    /// in debug builds too.
    static func transformWeights(
        _ weights: [Float], outputChannels: Int, inputChannels: Int,
        into u: UnsafeMutablePointer<Float>
    ) {
        let pairs = outputChannels * inputChannels
        weights.withUnsafeBufferPointer { taps in
            guard let taps = taps.baseAddress else { return }
            HostParallel.forEach(outputChannels, totalWork: pairs * 16) { o in
                for pair in (o * inputChannels)..<((o + 1) * inputChannels) {
                    let g = taps + pair * 9
                    // G g column by column, then each of its rows times Gᵀ.
                    let c0 = transform(Double(g[0]), Double(g[3]), Double(g[6]))
                    let c1 = transform(Double(g[1]), Double(g[4]), Double(g[7]))
                    let c2 = transform(Double(g[2]), Double(g[5]), Double(g[8]))
                    func store(row a: Int, _ r: (Double, Double, Double, Double)) {
                        let target = u + a * 4 * pairs + pair
                        target[0] = Float(r.0)
                        target[pairs] = Float(r.1)
                        target[2 * pairs] = Float(r.2)
                        target[3 * pairs] = Float(r.3)
                    }
                    store(row: 0, transform(c0.0, c1.0, c2.0))
                    store(row: 1, transform(c0.1, c1.1, c2.1))
                    store(row: 2, transform(c0.2, c1.2, c2.2))
                    store(row: 3, transform(c0.3, c1.3, c2.3))
                }
            }
        }
    }

    /// G times a 3-vector: (a, ½(a + b + c), ½(a − b + c), c).
    private static func transform(_ a: Double, _ b: Double, _ c: Double) -> (Double, Double, Double, Double) {
        (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
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

extension NativeBackend {
    /// Default bound on one Winograd band (transformed input and products, floats): 4 Mi floats,
    /// 16 MiB (2, 4 and 8 Mi ran alike within the noise of the shared machine).
    static let defaultWinogradBandFloats = 4 << 20

    /// y (O × H·W) from x (C × H·W) by Winograd F(2×2,3×3), C being the summed channels. The
    /// products are M[ξ] = U[ξ] · V[ξ] with `u` holding [16][O][C], or for `flipped` the
    /// backward-data products U[p(ξ)]ᵀ · V[ξ] with `u` holding the layer's [16][C][O].
    func winogradConvolve(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
        transform u: UnsafePointer<Float>, flipped: Bool, outputChannels: Int,
        output: Winograd.Output, into y: UnsafeMutablePointer<Float>
    ) throws {
        guard h > 0, w > 0 else { return }
        let (tileRows, tileColumns) = ((h + 1) / 2, (w + 1) / 2)
        let perTile = 16 * (channels + outputChannels)
        let rowsPerBand = max(1, min(tileRows, winogradBandFloats / max(perTile * tileColumns, 1)))
        let scratch = try columnScratch.floats(perTile * rowsPerBand * tileColumns)
        let pairs = channels * outputChannels
        let v = scratch, m = scratch + 16 * channels * rowsPerBand * tileColumns
        // A band's outputs are stored after the next band's input is transformed, so y may be x
        // itself (backward-data in place): no band still to be read needs the rows they overwrite.
        var pending: (firstTileRow: Int, rows: Int)?
        func storePending() {
            guard let (firstTileRow, rows) = pending else { return }
            Winograd.transformOutput(
                m, channels: outputChannels, height: h, width: w, firstTileRow: firstTileRow,
                tileRows: rows, tileColumns: tileColumns, output: output, into: y)
        }
        for firstTileRow in stride(from: 0, to: tileRows, by: rowsPerBand) {
            let rows = min(rowsPerBand, tileRows - firstTileRow)
            let n = rows * tileColumns
            Winograd.transformInput(
                x, channels: channels, height: h, width: w, firstTileRow: firstTileRow,
                tileRows: rows, tileColumns: tileColumns, into: v)
            storePending()
            // The 16 products side by side, each on one thread.
            HostParallel.forEach(16, totalWork: 16 * outputChannels * channels * n) { xi in
                if flipped {
                    Blas.gemm(
                        transposeA: true, m: outputChannels, n: n, k: channels,
                        a: u + Winograd.flippedIndex(xi) * pairs, lda: outputChannels,
                        b: v + xi * channels * n, ldb: n, beta: 0, c: m + xi * outputChannels * n, ldc: n,
                        parallel: false)
                } else {
                    Blas.gemm(
                        m: outputChannels, n: n, k: channels, a: u + xi * pairs, lda: channels,
                        b: v + xi * channels * n, ldb: n, beta: 0, c: m + xi * outputChannels * n, ldc: n,
                        parallel: false)
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
        let n = tileRows * tileColumns
        let stride = channels * n
        // A padded row holds image columns −1 ..< 2·tileColumns + 1 (index = column + 1), zeros outside.
        let padded = 2 * tileColumns + 2
        HostParallel.forEach(channels * tileRows, totalWork: 16 * stride) { job in
            let (c, bandRow) = (job / tileRows, job % tileRows)
            let top = 2 * (firstTileRow + bandRow) - 1
            let plane = x + c * h * w
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * padded) { buffer in
                let rows = buffer.baseAddress!, t = rows + 4 * padded
                rows.update(repeating: 0, count: 4 * padded)
                for k in 0..<4 where top + k >= 0 && top + k < h {
                    (rows + k * padded + 1).update(from: plane + (top + k) * w, count: w)
                }
                // Bᵀ d down the columns, whole rows at once: one rounding.
                let (d0, d1, d2, d3) = (rows, rows + padded, rows + 2 * padded, rows + 3 * padded)
                let (t0, t1, t2, t3) = (t, t + padded, t + 2 * padded, t + 3 * padded)
                for j in 0..<padded {
                    t0[j] = d0[j] - d2[j]
                    t1[j] = d1[j] + d2[j]
                    t2[j] = d2[j] - d1[j]
                    t3[j] = d1[j] - d3[j]
                }
                // Each row times B along the tiles: one more; the 16 outputs are contiguous in t.
                let out = v + c * n + bandRow * tileColumns
                for k in 0..<4 {
                    let row = t + k * padded
                    let (v0, v1) = (out + 4 * k * stride, out + (4 * k + 1) * stride)
                    let (v2, v3) = (out + (4 * k + 2) * stride, out + (4 * k + 3) * stride)
                    for tx in 0..<tileColumns {
                        let (a, b, c, d) = (row[2 * tx], row[2 * tx + 1], row[2 * tx + 2], row[2 * tx + 3])
                        v0[tx] = a - c
                        v1[tx] = b + c
                        v2[tx] = c - b
                        v3[tx] = b - d
                    }
                }
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
        let n = tileRows * tileColumns
        let stride = channels * n
        let tc = tileColumns
        HostParallel.forEach(channels * tileRows, totalWork: 16 * stride) { job in
            let (o, bandRow) = (job / tileRows, job % tileRows)
            let top = 2 * (firstTileRow + bandRow)
            let source = m + o * n + bandRow * tileColumns
            // 8 runs of Aᵀ M (rows 0 and 1, columns 0–3), then the two output rows (2·tc each).
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 12 * tc) { buffer in
                let sums = buffer.baseAddress!, rows = sums + 8 * tc
                // Aᵀ M: two roundings.
                for b in 0..<4 {
                    let (m0, m1) = (source + b * stride, source + (4 + b) * stride)
                    let (m2, m3) = (source + (8 + b) * stride, source + (12 + b) * stride)
                    let (s0, s1) = (sums + b * tc, sums + (4 + b) * tc)
                    for tx in 0..<tc {
                        s0[tx] = m0[tx] + m1[tx] + m2[tx]
                        s1[tx] = m1[tx] - m2[tx] - m3[tx]
                    }
                }
                // Each row times A: two more.
                for r in 0..<2 {
                    let (a, b, c, d) = (
                        sums + 4 * r * tc, sums + (4 * r + 1) * tc, sums + (4 * r + 2) * tc,
                        sums + (4 * r + 3) * tc
                    )
                    let row = rows + r * 2 * tc
                    for tx in 0..<tc {
                        row[2 * tx] = a[tx] + b[tx] + c[tx]
                        row[2 * tx + 1] = b[tx] - c[tx] - d[tx]
                    }
                }
                for r in 0..<min(2, h - top) {
                    let index = (o * h + top + r) * w
                    combine(
                        rows + r * 2 * tc, into: y + index, count: w, channel: o,
                        mask: output.mask.map { $0 + index }, output)
                }
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
            let b = bias[channel]
            if relu {
                for k in 0..<count { target[k] = max(values[k] + b, 0) }
            } else {
                for k in 0..<count { target[k] = values[k] + b }
            }
        case let .gradient(_, accumulate):
            switch (mask, accumulate) {
            case (nil, false): target.update(from: values, count: count)
            case (nil, true): for k in 0..<count { target[k] += values[k] }
            case let (mask?, false): for k in 0..<count { target[k] = mask[k] > 0 ? values[k] : 0 }
            case let (mask?, true): for k in 0..<count { target[k] += mask[k] > 0 ? values[k] : 0 }
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
