/// How the native backend computes its 3×3 convolutions.
public enum ConvolutionAlgorithm: String, CaseIterable, Sendable {
    /// Per layer and direction, whichever of the two measured faster (`NativeConvPlan.automatic`).
    case automatic
    /// im2col + sgemm everywhere: the direct algorithm, the numeric reference.
    case direct
    /// Winograd F(2×2,3×3) everywhere.
    case winograd
}

/// Which algorithm each direction of one conv layer uses; fixed when its weights are made, so
/// the weights hold only the layouts the plan needs.
struct NativeConvPlan: Equatable {
    var forwardWinograd: Bool
    var backwardWinograd: Bool

    init(_ algorithm: ConvolutionAlgorithm, outputChannels: Int, inputChannels: Int) {
        switch algorithm {
        case .direct: (forwardWinograd, backwardWinograd) = (false, false)
        case .winograd: (forwardWinograd, backwardWinograd) = (true, true)
        case .automatic:
            forwardWinograd = NativeConvPlan.winogradWins(summedChannels: inputChannels)
            backwardWinograd = NativeConvPlan.winogradWins(summedChannels: outputChannels)
        }
    }

    /// The measured rule (bench ops, VGG19 layers at 512×384 and 256×192, see benchmarks/README.md):
    /// Winograd pays once the sgemm sums enough channels to outweigh its transforms.
    static func winogradWins(summedChannels: Int) -> Bool { summedChannels >= 16 }

    /// im2col needs the forward O×(I·9) layout and the flipped I×(O·9) one (backward-data by
    /// either `ConvBackwardMethod`).
    var needsDirectLayouts: Bool { !forwardWinograd || !backwardWinograd }
    /// Both directions share the one transformed layout (see `NativeConvWeights.winograd`).
    var needsWinogradLayout: Bool { forwardWinograd || backwardWinograd }

    /// Floats the weights of an O×I layer hold under this plan (bias included).
    func weightFloats(outputChannels: Int, inputChannels: Int) -> Int {
        let pairs = outputChannels * inputChannels
        return (needsDirectLayouts ? 2 * pairs * 9 : 0) + (needsWinogradLayout ? 16 * pairs : 0) + outputChannels
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
    /// Float64 and rounded once.
    static func transformWeights(_ weights: [Float], outputChannels: Int, inputChannels: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        let pairs = outputChannels * inputChannels
        for pair in 0..<pairs {
            let taps = weights[(pair * 9)..<(pair * 9 + 9)].map(Double.init)
            for a in 0..<4 {
                for b in 0..<4 {
                    var sum = 0.0
                    for ky in 0..<3 where g[a][ky] != 0 {
                        for kx in 0..<3 { sum += g[a][ky] * taps[taps.startIndex + ky * 3 + kx] * g[b][kx] }
                    }
                    u[(a * 4 + b) * pairs + pair] = Float(sum)
                }
            }
        }
    }

    /// The transform of the flipped weights W'[i][o] = J W[o][i] J (J reverses the 3 taps) is
    /// U'[a][b] = U[p(a)][p(b)] transposed, p swapping 0 and 3, since G J = P G with P the row
    /// swap 0↔3: backward-data reads the forward transform at the permuted ξ, transposed.
    static func flippedIndex(_ xi: Int) -> Int {
        let swap = [3, 1, 2, 0]
        return swap[xi / 4] * 4 + swap[xi % 4]
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
    /// Default bound on one Winograd band (transformed input and products, floats): 2 Mi floats,
    /// 8 MiB, so a band's sgemm operands stay near the caches.
    static let defaultWinogradBandFloats = 2 << 20

    /// y (O × H·W) from x (C × H·W) by Winograd F(2×2,3×3), C being the summed channels. The
    /// products are M[ξ] = U[ξ] · V[ξ] with `u` holding [16][O][C], or for `flipped` the
    /// backward-data products U[p(ξ)]ᵀ · V[ξ] with `u` holding the layer's [16][C][O].
    func winogradConvolve(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                          transform u: UnsafePointer<Float>, flipped: Bool, outputChannels: Int,
                          output: Winograd.Output, into y: UnsafeMutablePointer<Float>) {
        guard h > 0, w > 0 else { return }
        let (tileRows, tileColumns) = ((h + 1) / 2, (w + 1) / 2)
        let perTile = 16 * (channels + outputChannels)
        let rowsPerBand = max(1, min(tileRows, winogradBandFloats / max(perTile * tileColumns, 1)))
        let scratch = columnScratch.floats(perTile * rowsPerBand * tileColumns)
        let pairs = channels * outputChannels
        for firstTileRow in stride(from: 0, to: tileRows, by: rowsPerBand) {
            let rows = min(rowsPerBand, tileRows - firstTileRow)
            let n = rows * tileColumns
            let v = scratch, m = scratch + 16 * channels * n
            Winograd.transformInput(x, channels: channels, height: h, width: w, firstTileRow: firstTileRow,
                                    tileRows: rows, tileColumns: tileColumns, into: v)
            for xi in 0..<16 {
                if flipped {
                    Blas.gemm(transposeA: true, m: outputChannels, n: n, k: channels,
                              a: u + Winograd.flippedIndex(xi) * pairs, lda: outputChannels,
                              b: v + xi * channels * n, ldb: n, beta: 0, c: m + xi * outputChannels * n, ldc: n)
                } else {
                    Blas.gemm(m: outputChannels, n: n, k: channels, a: u + xi * pairs, lda: channels,
                              b: v + xi * channels * n, ldb: n, beta: 0, c: m + xi * outputChannels * n, ldc: n)
                }
            }
            Winograd.transformOutput(m, channels: outputChannels, height: h, width: w, firstTileRow: firstTileRow,
                                     tileRows: rows, tileColumns: tileColumns, output: output, into: y)
        }
    }
}

extension Winograd {
    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for the tiles t of `tileRows` tile rows from `firstTileRow`
    /// (t = row-in-band · tileColumns + column), d the 4×4 patch at (2·ty − 1, 2·tx − 1).
    static func transformInput(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                               firstTileRow: Int, tileRows: Int, tileColumns: Int,
                               into v: UnsafeMutablePointer<Float>) {
        let n = tileRows * tileColumns
        let stride = channels * n
        HostParallel.forEach(channels * tileRows, totalWork: 16 * stride) { job in
            let (c, bandRow) = (job / tileRows, job % tileRows)
            let top = 2 * (firstTileRow + bandRow) - 1
            let plane = x + c * h * w
            // The four source rows, nil where the patch leaves the image.
            func row(_ k: Int) -> UnsafePointer<Float>? {
                let y = top + k
                return y >= 0 && y < h ? plane + y * w : nil
            }
            let rows = (row(0), row(1), row(2), row(3))
            let out = v + c * n + bandRow * tileColumns
            for tx in 0..<tileColumns {
                let left = 2 * tx - 1
                let d0 = load(rows.0, left, w), d1 = load(rows.1, left, w)
                let d2 = load(rows.2, left, w), d3 = load(rows.3, left, w)
                // Bᵀ d: one rounding; then each row times B: one more.
                let t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3
                let target = out + tx
                @inline(__always) func put(_ t: SIMD4<Float>, _ k: Int) {
                    let base = target + 4 * k * stride
                    base[0] = t.x - t.z
                    base[stride] = t.y + t.z
                    base[2 * stride] = t.z - t.y
                    base[3 * stride] = t.y - t.w
                }
                put(t0, 0)
                put(t1, 1)
                put(t2, 2)
                put(t3, 3)
            }
        }
    }

    /// Four pixels of one row from column `left` (may be −1 or run past the edge: zeros there).
    @inline(__always)
    private static func load(_ row: UnsafePointer<Float>?, _ left: Int, _ w: Int) -> SIMD4<Float> {
        guard let row else { return .zero }
        if left >= 0 && left + 4 <= w {
            return SIMD4(row[left], row[left + 1], row[left + 2], row[left + 3])
        }
        var d = SIMD4<Float>.zero
        for k in 0..<4 where left + k >= 0 && left + k < w { d[k] = row[left + k] }
        return d
    }

    /// y = Aᵀ M A for every tile of the band, combined with y as `output` says; only the pixels
    /// inside the image are written.
    static func transformOutput(_ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                firstTileRow: Int, tileRows: Int, tileColumns: Int, output: Output,
                                into y: UnsafeMutablePointer<Float>) {
        let n = tileRows * tileColumns
        let stride = channels * n
        HostParallel.forEach(channels * tileRows, totalWork: 16 * stride) { job in
            let (o, bandRow) = (job / tileRows, job % tileRows)
            let top = 2 * (firstTileRow + bandRow)
            let source = m + o * n + bandRow * tileColumns
            let bothRows = top + 1 < h
            for tx in 0..<tileColumns {
                let s = source + tx
                func rowOfM(_ a: Int) -> SIMD4<Float> {
                    let base = s + 4 * a * stride
                    return SIMD4(base[0], base[stride], base[2 * stride], base[3 * stride])
                }
                let m0 = rowOfM(0), m1 = rowOfM(1), m2 = rowOfM(2), m3 = rowOfM(3)
                // Aᵀ M: two roundings; then each row times A: two more.
                let s0 = m0 + m1 + m2, s1 = m1 - m2 - m3
                let left = 2 * tx
                let bothColumns = left + 1 < w
                let index = (o * h + top) * w + left
                store(s0.x + s0.y + s0.z, s0.y - s0.z - s0.w, y, index, o, bothColumns, output)
                if bothRows { store(s1.x + s1.y + s1.z, s1.y - s1.z - s1.w, y, index + w, o, bothColumns, output) }
            }
        }
    }

    /// Writes one or two horizontally adjacent results at y[index], y[index + 1].
    @inline(__always)
    private static func store(_ first: Float, _ second: Float, _ y: UnsafeMutablePointer<Float>, _ index: Int,
                              _ channel: Int, _ both: Bool, _ output: Output) {
        @inline(__always) func combine(_ value: Float, _ k: Int) {
            switch output {
            case let .biased(bias, relu):
                let biased = value + bias[channel]
                y[k] = relu ? max(biased, 0) : biased
            case let .gradient(mask, accumulate):
                let term = mask.map { $0[k] > 0 ? value : 0 } ?? value
                y[k] = accumulate ? y[k] + term : term
            }
        }
        combine(first, index)
        if both { combine(second, index + 1) }
    }
}
