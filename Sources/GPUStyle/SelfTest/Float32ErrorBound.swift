/// γ(n) = n·u / (1 − n·u), u = 2⁻²⁴: the classic bound on the relative error of a float32 sum or
/// dot product of n terms, in any order and with or without FMA (Higham, Accuracy and Stability
/// of Numerical Algorithms, §3.1): |computed − exact| ≤ γ(n) · Σ|terms|.
/// Two float32 implementations of one op therefore differ by at most 2·γ(n)·Σ|terms|: the bound
/// of the OpenCL-vs-native tests and of `stylize-gpu selftest`; one differs from the exact value
/// by at most γ(n)·Σ|terms|: the bound of the grad mode (`OpGradRow`).
public func float32ErrorFactor(terms n: Int) -> Double {
    errorFactor(terms: n, unitRoundoff: 0x1p-24)
}

/// γ(n) for Float64 (u = 2⁻⁵³): the rounding of the reference ops the grad mode differentiates.
public func float64ErrorFactor(terms n: Int) -> Double {
    errorFactor(terms: n, unitRoundoff: 0x1p-53)
}

private func errorFactor(terms n: Int, unitRoundoff u: Double) -> Double {
    Double(n) * u / (1 - Double(n) * u)
}
