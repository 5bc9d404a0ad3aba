import Foundation
@testable import GPUStyle
import XCTest

/// `--preserve-colors match`: the recoloured style has the content's colour mean and covariance.
final class ColorMatchTests: XCTestCase {
    private func randomImage(width: Int, height: Int, seed: UInt64, mix: [[Double]], offset: [Double]) -> RGBImage {
        var generator = SplitMix64(seed: seed)
        let plane = width * height
        var pixels = [Float](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            let u = (0..<3).map { _ in generator.nextUnit() }
            for c in 0..<3 {
                pixels[c * plane + p] = Float(offset[c] + mix[c][0] * u[0] + mix[c][1] * u[1] + mix[c][2] * u[2])
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    func testRecolouredStyleHasTheContentsMeanAndCovariance() throws {
        let content = randomImage(
            width: 37, height: 23, seed: 1, mix: [[90, 10, 0], [40, 60, 5], [0, 20, 30]], offset: [60, 50, 120])
        let style = randomImage(
            width: 41, height: 29, seed: 2, mix: [[20, 0, 80], [0, 100, 0], [50, 50, 50]], offset: [10, 80, 40])
        let recoloured = ColorMatch.transformed(style, like: content)
        let (μc, Σc) = ColorMatch.statistics(content), (μr, Σr) = ColorMatch.statistics(recoloured)
        // The map is exact in Double; each value is then rounded to Float once (|δ| ≤ u·|v|), so
        // the mean moves by at most u·max|v| and each covariance entry by at most
        // 2·u·max|v|·max|v − μ| + (u·max|v|)², with u = 2⁻²⁴.
        let u = 0x1p-24, largest = Double(recoloured.pixels.map(abs).max()!)
        let deviation = largest + μr.map(abs).max()!
        for c in 0..<3 {
            XCTAssertEqual(μr[c], μc[c], accuracy: 1e-9 * abs(μc[c]) + u * largest, "mean \(c)")
            for d in 0..<3 {
                let bound =
                    1e-9 * abs(Σc[c][d]) + 1e-9 * (Σc[c][c] * Σc[d][d]).squareRoot()
                    + 2 * u * largest * deviation + (u * largest) * (u * largest)
                XCTAssertEqual(Σr[c][d], Σc[c][d], accuracy: bound, "covariance \(c),\(d)")
            }
        }
        // Clamping to 0…255 changes nothing where the map stays inside.
        XCTAssertTrue(recoloured.pixels.allSatisfy { (0...255).contains($0) })
        XCTAssertEqual(ColorMatch.recolor(style, like: content), recoloured)
    }

    /// The symmetric roots: S^½ · S^½ = S and S^½ · S^−½ = I for a covariance of the examples.
    func testSymmetricRootsOfARealCovariance() throws {
        let (_, s) = ColorMatch.statistics(try ImageFile.read(examplePath("starry_night.jpg")).image)
        let root = ColorMatch.symmetricPower(s, 0.5), inverse = ColorMatch.symmetricPower(s, -0.5)
        let square = ColorMatch.multiply(root, root), identity = ColorMatch.multiply(root, inverse)
        for i in 0..<3 {
            for j in 0..<3 {
                XCTAssertEqual(square[i][j], s[i][j], accuracy: 1e-9 * (s[0][0] + s[1][1] + s[2][2]))
                XCTAssertEqual(identity[i][j], i == j ? 1 : 0, accuracy: 1e-9)
            }
        }
    }
}
