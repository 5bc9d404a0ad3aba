import CBLAS

/// Row-major single-precision BLAS calls with Swift `Int` sizes (OpenBLAS takes 32-bit ints;
/// every size here is far below 2³¹ for any image that fits in memory).
enum Blas {
    /// C = alpha · op(A) · op(B) + beta · C, with op(A) m×k, op(B) k×n, C m×n.
    static func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
                    beta, c, Int32(max(ldc, 1)))
    }

    /// Upper triangle of C (n×n) = alpha · A Aᵀ + beta · C, with A n×k.
    static func syrkUpper(n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, beta: Float,
                          c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard n > 0 else { return }
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)),
                    beta, c, Int32(max(ldc, 1)))
    }
}
