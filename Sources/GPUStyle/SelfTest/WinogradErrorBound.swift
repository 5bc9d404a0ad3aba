/// The float32 error bound of a Winograd F(2×2,3×3), F(4×4,3×3) or F(6×6,3×3) convolution (Lavin & Gray 2015), for any
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
/// weights W'[i][o][ky][kx] = W[o][i][2−ky][2−kx]: pass those (`ConvKernelLayouts.flippedTransposed`).
///
/// F(4×4,3×3) (`tile` 4; points 0, ±1, ±2, ∞; 6×6 tiles at (4·ty − 1, 4·tx − 1), 4×4 outputs)
///
///     Bᵀ = [[4,0,−5,0,1,0],[0,−4,−4,1,1,0],[0,4,−4,−1,1,0],[0,−2,−1,2,1,0],[0,2,−1,−2,1,0],[0,4,0,−5,0,1]]
///     G  = [[¼,0,0],[−⅙,−⅙,−⅙],[−⅙,⅙,−⅙],[1/24,1/12,⅙],[1/24,−1/12,⅙],[0,0,1]]
///     Aᵀ = [[1,1,1,1,1,0],[0,1,−1,2,−2,0],[0,1,1,4,4,0],[0,1,−1,8,−8,1]]
///
/// has the same form with these matrices. A and B are integers: a product by 2, 4 or 8 is exact,
/// one by 5 is a rounding. Per monomial, at most:
///   - weight transform: per side two sums, the rounded constant (⅙, 1/24) and its product: 4;
///     both sides 8 (computed in double and rounded once, natively and on OpenCL devices with
///     cl_khr_fp64: 1).
///   - input transform: per side a product by 5 and two sums, or three sums: 3; both sides 6.
///   - the channel sum: C.
///   - output transform: per side (s1 ± s2) and (s3 ± s4) then two more sums: 3; both sides 6.
/// So K = C + 20. A product by a constant that the compiler fuses into a multiply-add only drops
/// a rounding. |Aᵀ|, |G|, |Bᵀ| reach 8, 5 and ⅙ where F(2×2)'s are at most 1: the magnitude per
/// output is up to 256 times the direct Σ|terms| (F(2×2): 16). The points ±½ mirror these (x → 1/x
/// reverses the tile) and give the same bound.
///
/// F(6×6,3×3) (`tile` 6; points 0, ±1, ±2, ±½, ∞; 8×8 tiles at (6·ty − 1, 6·tx − 1), 6×6 outputs)
///
///     Bᵀ = [[1,0,−21/4,0,21/4,0,−1,0],[0,1,1,−17/4,−17/4,1,1,0],[0,−1,1,17/4,−17/4,−1,1,0],
///           [0,½,¼,−5/2,−5/4,2,1,0],[0,−½,¼,5/2,−5/4,−2,1,0],[0,2,4,−5/2,−5,½,1,0],
///           [0,−2,4,5/2,−5,−½,1,0],[0,−1,0,21/4,0,−21/4,0,1]]
///     G  = [[1,0,0],[−2/9,−2/9,−2/9],[−2/9,2/9,−2/9],[1/90,1/45,2/45],[1/90,−1/45,2/45],
///           [32/45,16/45,8/45],[32/45,−16/45,8/45],[0,0,1]]
///     Aᵀ = [[1,1,1,1,1,1,1,0],[0,1,−1,2,−2,½,−½,0],[0,1,1,4,4,¼,¼,0],[0,1,−1,8,−8,⅛,−⅛,0],
///           [0,1,1,16,16,1/16,1/16,0],[0,1,−1,32,−32,1/32,−1/32,1]]
///
/// A's entries are powers of two (exact products); B's 21/4, 17/4, 5/4 and 5/2 are exact in
/// binary but their products round. Per monomial, at most:
///   - weight transform: per side two sums, the rounded constant (2/9, 1/90, 8/45) and its
///     product: 4; both sides 8 (in double and rounded once: 1).
///   - input transform: per side a product by 5/2, a difference, a sum and the last ± (e.g. row 3:
///     ((½d₁ − (5/2)d₃) + 2d₅) + t): 4; both sides 8.
///   - the channel sum: C.
///   - output transform: per side the pair (s₁ ± s₂) and two more sums: 3; both sides 6.
/// So K = C + 22. The magnitude per output reaches 509 times the direct Σ|terms| of an all-ones
/// input (F(4×4): 256).
let winogradTransformRoundings = 10
let winograd4TransformRoundings = 20
let winograd6TransformRoundings = 22

/// γ(K) for a Winograd F(tile×tile,3×3) output summing `channels` input channels, with
/// `extraRoundings` further float32 steps (bias add, accumulation).
func winogradErrorFactor(channels: Int, extraRoundings: Int = 0, tile: Int = 2) -> Double {
    float32ErrorFactor(terms: winogradRoundedTerms(channels: channels, extraRoundings: extraRoundings, tile: tile))
}

/// K of that bound: the channel sum, the transforms' roundings and `extraRoundings`.
func winogradRoundedTerms(channels: Int, extraRoundings: Int = 0, tile: Int = 2) -> Int {
    channels + extraRoundings
        + (tile == 6
            ? winograd6TransformRoundings : tile == 4 ? winograd4TransformRoundings : winogradTransformRoundings)
}

/// |Bᵀ|, |G| and |Aᵀ| of F(2×2,3×3), F(4×4,3×3) or F(6×6,3×3).
func winogradAbsoluteMatrices(tile: Int) -> (bt: [[Double]], g: [[Double]], at: [[Double]]) {
    if tile == 6 {
        return (
            [
                [1, 0, 5.25, 0, 5.25, 0, 1, 0], [0, 1, 1, 4.25, 4.25, 1, 1, 0], [0, 1, 1, 4.25, 4.25, 1, 1, 0],
                [0, 0.5, 0.25, 2.5, 1.25, 2, 1, 0], [0, 0.5, 0.25, 2.5, 1.25, 2, 1, 0],
                [0, 2, 4, 2.5, 5, 0.5, 1, 0], [0, 2, 4, 2.5, 5, 0.5, 1, 0], [0, 1, 0, 5.25, 0, 5.25, 0, 1],
            ],
            [
                [1, 0, 0], [2.0 / 9, 2.0 / 9, 2.0 / 9], [2.0 / 9, 2.0 / 9, 2.0 / 9], [1.0 / 90, 1.0 / 45, 2.0 / 45],
                [1.0 / 90, 1.0 / 45, 2.0 / 45], [32.0 / 45, 16.0 / 45, 8.0 / 45], [32.0 / 45, 16.0 / 45, 8.0 / 45],
                [0, 0, 1],
            ],
            [
                [1, 1, 1, 1, 1, 1, 1, 0], [0, 1, 1, 2, 2, 0.5, 0.5, 0], [0, 1, 1, 4, 4, 0.25, 0.25, 0],
                [0, 1, 1, 8, 8, 0.125, 0.125, 0], [0, 1, 1, 16, 16, 0.0625, 0.0625, 0],
                [0, 1, 1, 32, 32, 0.03125, 0.03125, 1],
            ]
        )
    }
    if tile == 4 {
        return (
            [
                [4, 0, 5, 0, 1, 0], [0, 4, 4, 1, 1, 0], [0, 4, 4, 1, 1, 0], [0, 2, 1, 2, 1, 0], [0, 2, 1, 2, 1, 0],
                [0, 4, 0, 5, 0, 1],
            ],
            [
                [0.25, 0, 0], [1.0 / 6, 1.0 / 6, 1.0 / 6], [1.0 / 6, 1.0 / 6, 1.0 / 6], [1.0 / 24, 1.0 / 12, 1.0 / 6],
                [1.0 / 24, 1.0 / 12, 1.0 / 6], [0, 0, 1],
            ],
            [[1, 1, 1, 1, 1, 0], [0, 1, 1, 2, 2, 0], [0, 1, 1, 4, 4, 0], [0, 1, 1, 8, 8, 1]]
        )
    }
    return (
        [[1, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, 1, 1]]
    )
}

/// For a 3×3 convolution (stride 1, zero padding 1, cross-correlation, no bias) of `input`
/// (channels × height × width) with `weights` (outputChannels × channels × 3 × 3), both in
/// Float64: the exact result computed directly, and per output element the magnitude
/// |Aᵀ|·(Σ_c (|G||g_c||Gᵀ|) ⊙ (|Bᵀ||d_c||B|))·|A| that the Winograd error bound scales
/// (see `winogradTransformRoundings`). Both are outputChannels × height × width.
func winogradErrorBound(
    input: [Double], channels: Int, height: Int, width: Int, weights: [Double],
    outputChannels: Int, tile: Int = 2
) -> (exact: [Double], magnitude: [Double]) {
    precondition(input.count == channels * height * width && weights.count == outputChannels * channels * 9)
    let plane = height * width
    var exact = [Double](repeating: 0, count: outputChannels * plane)
    var magnitude = exact
    let (absBT, absG, absAT) = winogradAbsoluteMatrices(tile: tile)
    let n = tile + 2, points = n * n
    // |G| |g| |Gᵀ| per (o, c): n² values.
    var weightMagnitudes = [Double](repeating: 0, count: outputChannels * channels * points)
    for pair in 0..<(outputChannels * channels) {
        let g = (0..<9).map { abs(weights[pair * 9 + $0]) }
        for a in 0..<n {
            for b in 0..<n {
                var sum = 0.0
                for ky in 0..<3 {
                    for kx in 0..<3 { sum += absG[a][ky] * g[ky * 3 + kx] * absG[b][kx] }
                }
                weightMagnitudes[pair * points + a * n + b] = sum
            }
        }
    }
    func pixel(_ c: Int, _ y: Int, _ x: Int) -> Double {
        y >= 0 && y < height && x >= 0 && x < width ? input[(c * height + y) * width + x] : 0
    }
    let (tileRows, tileColumns) = ((height + tile - 1) / tile, (width + tile - 1) / tile)
    var inputMagnitudes = [Double](repeating: 0, count: channels * points)
    var sums = [Double](repeating: 0, count: points)
    for ty in 0..<tileRows {
        for tx in 0..<tileColumns {
            // |Bᵀ| |d_c| |B| for every channel of this tile.
            for c in 0..<channels {
                for a in 0..<n {
                    for b in 0..<n {
                        var sum = 0.0
                        for i in 0..<n {
                            for j in 0..<n where absBT[a][i] != 0 && absBT[b][j] != 0 {
                                sum += absBT[a][i] * absBT[b][j] * abs(pixel(c, tile * ty - 1 + i, tile * tx - 1 + j))
                            }
                        }
                        inputMagnitudes[c * points + a * n + b] = sum
                    }
                }
            }
            for o in 0..<outputChannels {
                for xi in 0..<points {
                    var sum = 0.0
                    for c in 0..<channels {
                        sum += weightMagnitudes[(o * channels + c) * points + xi] * inputMagnitudes[c * points + xi]
                    }
                    sums[xi] = sum
                }
                for i in 0..<tile {
                    for j in 0..<tile {
                        let (y, x) = (tile * ty + i, tile * tx + j)
                        guard y < height && x < width else { continue }
                        var sum = 0.0
                        for a in 0..<n {
                            for b in 0..<n { sum += absAT[i][a] * sums[a * n + b] * absAT[j][b] }
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
