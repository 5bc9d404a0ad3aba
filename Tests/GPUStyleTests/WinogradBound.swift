import GPUStyle

/// The float32 error bound of a Winograd F(2×2,3×3) convolution (Lavin & Gray 2015), for any
/// backend that computes it with the standard matrices
///
///     Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]
///     G  = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]
///     Aᵀ = [[1,1,1,0],[0,1,−1,−1]]
///
/// on 4×4 input tiles d that overlap by 2 (tile (ty, tx) starts at row 2·ty − 1, column 2·tx − 1;
/// zero outside the image, so odd sizes get a zero-padded ragged last tile):
/// Y = Aᵀ [Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B)] A, 2×2 outputs per tile.
///
/// Error analysis (Higham, Accuracy and Stability of Numerical Algorithms, §3.1 and Lemma 3.3).
/// Expand Y into monomials A·G·g·G·B·d·B·A (one weight, one input, constant matrix entries).
/// Every computed float32 operation perturbs each monomial that passes through it by a factor
/// (1 + δ), |δ| ≤ u = 2⁻²⁴; products of k such factors are 1 + θ_k, |θ_k| ≤ γ(k). Every entry of
/// the three matrices is 0, ±1 or ±½: exact in binary, so a multiplication by one is exact (no
/// underflow at the magnitudes of images and weights) and costs no rounding. The roundings any
/// monomial meets, at most:
///   - weight transform U = G g Gᵀ: G g sums ≤ 3 terms (2 roundings), (G g) Gᵀ sums ≤ 3 (2 more): 4.
///     (A transform computed in Float64 and rounded once meets 1; 4 covers both.)
///   - input transform V = Bᵀ d B: every row of Bᵀ has 2 non-zeros, so 1 rounding per side: 2.
///   - the sum over channels M = Σ_c U_c ⊙ V_c: one product and at most C − 1 additions, in any
///     order or blocking (sgemm) and with or without FMA: C.
///   - output transform Y = Aᵀ M A: every row of Aᵀ has 3 non-zeros, 2 roundings per side: 4.
/// So K = C + `winogradTransformRoundings` (10), plus one per extra step of the op (bias add,
/// accumulation into an existing value), and
///
///     |winograd_f32 − exact| ≤ γ(K) · Σ|monomials| = γ(K) · |Aᵀ| [Σ_c (|G||g_c||Gᵀ|) ⊙ (|Bᵀ||d_c||B|)] |A|,
///
/// the magnitude this helper returns (plus |bias| or |previous value| for the extra steps).
/// Backward-data is the same convolution of the output gradient with the flipped, transposed
/// weights W'[i][o][ky][kx] = W[o][i][2−ky][2−kx]: pass those (`flippedTransposedWeights`).
let winogradTransformRoundings = 10

/// γ(K) for a Winograd F(2×2,3×3) output summing `channels` input channels, with `extraRoundings`
/// further float32 steps (bias add, accumulation).
func winogradErrorFactor(channels: Int, extraRoundings: Int = 0) -> Double {
    float32ErrorFactor(terms: channels + winogradTransformRoundings + extraRoundings)
}

/// For a 3×3 convolution (stride 1, zero padding 1, cross-correlation, no bias) of `input`
/// (channels × height × width) with `weights` (outputChannels × channels × 3 × 3), both in
/// Float64: the exact result computed directly, and per output element the magnitude
/// |Aᵀ|·(Σ_c (|G||g_c||Gᵀ|) ⊙ (|Bᵀ||d_c||B|))·|A| that the Winograd error bound scales
/// (see `winogradTransformRoundings`). Both are outputChannels × height × width.
func winogradErrorBound(
    input: [Double], channels: Int, height: Int, width: Int, weights: [Double],
    outputChannels: Int
) -> (exact: [Double], magnitude: [Double]) {
    precondition(input.count == channels * height * width && weights.count == outputChannels * channels * 9)
    let plane = height * width
    var exact = [Double](repeating: 0, count: outputChannels * plane)
    var magnitude = exact
    // |G| |g| |Gᵀ| per (o, c): 16 values.
    let absG: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0, 0, 1]]
    let absBT: [[Double]] = [[1, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 1]]
    let absAT: [[Double]] = [[1, 1, 1, 0], [0, 1, 1, 1]]
    var weightMagnitudes = [Double](repeating: 0, count: outputChannels * channels * 16)
    for pair in 0..<(outputChannels * channels) {
        let g = (0..<9).map { abs(weights[pair * 9 + $0]) }
        for a in 0..<4 {
            for b in 0..<4 {
                var sum = 0.0
                for ky in 0..<3 {
                    for kx in 0..<3 { sum += absG[a][ky] * g[ky * 3 + kx] * absG[b][kx] }
                }
                weightMagnitudes[pair * 16 + a * 4 + b] = sum
            }
        }
    }
    func pixel(_ c: Int, _ y: Int, _ x: Int) -> Double {
        y >= 0 && y < height && x >= 0 && x < width ? input[(c * height + y) * width + x] : 0
    }
    let (tileRows, tileColumns) = ((height + 1) / 2, (width + 1) / 2)
    var inputMagnitudes = [Double](repeating: 0, count: channels * 16)
    var sums = [Double](repeating: 0, count: 16)
    for ty in 0..<tileRows {
        for tx in 0..<tileColumns {
            // |Bᵀ| |d_c| |B| for every channel of this tile.
            for c in 0..<channels {
                for a in 0..<4 {
                    for b in 0..<4 {
                        var sum = 0.0
                        for i in 0..<4 {
                            for j in 0..<4 where absBT[a][i] != 0 && absBT[b][j] != 0 {
                                sum += abs(pixel(c, 2 * ty - 1 + i, 2 * tx - 1 + j))
                            }
                        }
                        inputMagnitudes[c * 16 + a * 4 + b] = sum
                    }
                }
            }
            for o in 0..<outputChannels {
                for xi in 0..<16 {
                    var sum = 0.0
                    for c in 0..<channels {
                        sum += weightMagnitudes[(o * channels + c) * 16 + xi] * inputMagnitudes[c * 16 + xi]
                    }
                    sums[xi] = sum
                }
                for i in 0..<2 {
                    for j in 0..<2 {
                        let (y, x) = (2 * ty + i, 2 * tx + j)
                        guard y < height && x < width else { continue }
                        var sum = 0.0
                        for a in 0..<4 {
                            for b in 0..<4 { sum += absAT[i][a] * sums[a * 4 + b] * absAT[j][b] }
                        }
                        magnitude[(o * height + y) * width + x] = sum
                    }
                }
            }
        }
    }
    for o in 0..<outputChannels {
        for y in 0..<height {
            for x in 0..<width {
                var sum = 0.0
                for c in 0..<channels {
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            sum += weights[((o * channels + c) * 3 + ky) * 3 + kx] * pixel(c, y + ky - 1, x + kx - 1)
                        }
                    }
                }
                exact[(o * height + y) * width + x] = sum
            }
        }
    }
    return (exact, magnitude)
}

/// W'[i][o][ky][kx] = W[o][i][2−ky][2−kx]: the weights whose forward convolution is the
/// backward-data of W (I × O × 3 × 3 from O × I × 3 × 3).
func flippedTransposedWeights(_ weights: [Double], outputChannels: Int, inputChannels: Int) -> [Double] {
    var flipped = [Double](repeating: 0, count: weights.count)
    for o in 0..<outputChannels {
        for i in 0..<inputChannels {
            for tap in 0..<9 {
                flipped[(i * outputChannels + o) * 9 + (8 - tap)] = weights[(o * inputChannels + i) * 9 + tap]
            }
        }
    }
    return flipped
}
