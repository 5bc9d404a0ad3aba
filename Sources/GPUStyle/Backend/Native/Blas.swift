import CBLAS
import Dispatch

/// Row-major single-precision BLAS calls with Swift `Int` sizes (OpenBLAS takes 32-bit ints;
/// every size here is far below 2³¹ for any image that fits in memory).
///
/// OpenBLAS itself runs on one thread (`NativeBackend` sets it): the products that are large
/// enough are split here over the cores with Dispatch, like every other host loop. With OpenBLAS's
/// own threads, its idle workers spun on `sched_yield` beside Dispatch's during the Winograd
/// transforms (a fifth of an iteration's samples in `perf`), and each of the 16 Winograd products
/// of a band forked and joined on its own. The splits depend on the shape alone, never the core
/// count, so every machine computes the same bits.
enum Blas {
    /// Columns of C per parallel part of `gemm`: 1024, or about an eighth of a narrower C (from
    /// 64), so that the small products of the deep layers still split over the cores.
    static func columnChunk(_ n: Int) -> Int { min(1024, max(64, (n + 127) / 128 * 16)) }

    /// C = alpha · op(A) · op(B) + beta · C, with op(A) m×k, op(B) k×n, C m×n. `parallel`: split
    /// the columns of C over the cores when it is large (callers that already run several
    /// products at once pass false). `afterChunk(first, columns)` runs on each part's columns of C
    /// as soon as they are made, on the same thread.
    static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true,
        afterChunk: ((_ firstColumn: Int, _ columns: Int) -> Void)? = nil
    ) {
        guard m > 0, n > 0 else { return }
        let chunk = columnChunk(n)
        let parts = parallel ? (n + chunk - 1) / chunk : 1
        HostParallel.forEach(parts, totalWork: m * n * max(k, 1)) { part in
            let first = part * chunk
            let columns = parts == 1 ? n : min(chunk, n - first)
            cblas_sgemm(
                CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(columns), Int32(k), alpha, a, Int32(max(lda, 1)),
                b + (transposeB ? first * ldb : first), Int32(max(ldb, 1)),
                beta, c + first, Int32(max(ldc, 1)))
            afterChunk?(first, columns)
        }
    }

    /// Upper triangle of C (n×n) = alpha · A Aᵀ + beta · C, with A n×k. One thread.
    static func syrkUpper(
        n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard n > 0 else { return }
        cblas_ssyrk(
            CblasRowMajor, CblasUpper, CblasNoTrans, Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)),
            beta, c, Int32(max(ldc, 1)))
    }
}
