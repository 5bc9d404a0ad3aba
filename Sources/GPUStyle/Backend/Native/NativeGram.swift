import CBLAS
import Foundation

extension NativeBackend {
    /// Fewest pixels per partial Gram, and most partial Grams (their scratch: at most 16·C² floats).
    static let gramPixelChunk = 1024
    static let gramPartials = 16

    public func computeGram(features: Tensor, output: Tensor) throws {
        let (c, m) = (features.shape.c, features.shape.pixels)
        let f = try native(features, "gram").pointer, g = try native(output, "gram").pointer
        let n = Double(max(c * m, 1))
        // One Gram per chunk of pixels, in parallel, then their sum in chunk order. The chunks
        // depend on the shape alone (same bits on every machine); at most `gramPartials` of them.
        let chunkPixels = max(Self.gramPixelChunk, (m + Self.gramPartials - 1) / Self.gramPartials)
        let chunks = (m + chunkPixels - 1) / chunkPixels
        let partials = chunks == 1 ? g : try resultScratch.floats(chunks * c * c)
        HostParallel.forEach(chunks, totalWork: c * c * m) { chunk in
            let first = chunk * chunkPixels
            Blas.syrkUpper(
                n: c, k: min(chunkPixels, m - first), alpha: Float(1 / n), a: f + first, lda: m,
                beta: 0, c: partials + chunk * c * c, ldc: c)
        }
        if chunks > 1 {
            HostParallel.forEach(c, totalWork: c * c * chunks) { i in
                for j in i..<c {
                    var sum: Float = 0
                    for chunk in 0..<chunks { sum += partials[chunk * c * c + i * c + j] }
                    g[i * c + j] = sum
                }
            }
        }
        // Mirror the upper triangle, so G is exactly symmetric.
        for i in 0..<c {
            for j in 0..<i { g[i * c + j] = g[j * c + i] }
        }
    }

    public func computeGramBackward(
        gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool, reluMasked: Bool
    ) throws {
        let op = "gramBackward"
        let (c, m) = (features.shape.c, features.shape.pixels)
        let dg = try native(gradGram, op).pointer, f = try native(features, op).pointer
        let df = try native(gradFeatures, op).pointer
        let symmetric = try resultScratch.floats(c * c)
        for i in 0..<c {
            for j in 0..<c { symmetric[i * c + j] = dg[i * c + j] + dg[j * c + i] }
        }
        let n = Double(max(c * m, 1))
        // The mask of each chunk of columns right after its product, while it is in cache.
        Blas.gemm(
            m: c, n: m, k: c, alpha: Float(1 / n), a: symmetric, lda: c, b: f, ldb: m,
            beta: accumulate ? 1 : 0, c: df, ldc: m,
            afterChunk: reluMasked
                ? { first, columns in
                    for i in 0..<c {
                        let row = i * m + first
                        NativeBackend.reluMask(df + row, by: f + row, into: df + row, count: columns)
                    }
                } : nil)
    }
}
