/// One row of the op table's grad mode (ggml's test-backend-ops `grad` mode in spirit): a
/// backward op checked as a vector-Jacobian product. With x the row's first input and dy its
/// second ("gradOutput", seeded random), the backward op on the device must return
/// ∂⟨dy, f(x)⟩/∂x, f the op's Float64 reference (`ReferenceOps`); central differences
/// (⟨dy, f(x + h·e_k)⟩ − ⟨dy, f(x − h·e_k)⟩) / 2h give it at every coordinate k of a small x, at a
/// seeded sample of them for a larger one. Accumulating variants must add it to "gradInput".
///
/// Bound per coordinate: |device − numeric| ≤ γ(K)·Σ|terms| + δ, where
/// - γ(K)·Σ|terms| bounds the float32 backward's own error (`float32ErrorFactor`, one
///   implementation against the exact value): K rounded terms per coordinate, accumulation
///   included; Σ|terms| is the backward run on the reference backend on |inputs| and
///   |parameters|, unless the row gives its own;
/// - the central difference has no truncation error: within h of x every f of the table is a
///   polynomial of degree ≤ 2 in each coordinate (linear ops, Gram, squared losses; ReLU and max
///   pooling on inputs kept further than h from their kinks and ties), for which it is exact;
/// - δ bounds its Float64 rounding: each ⟨dy, f⟩ is within γ₆₄(T)·A of its exact value, T its
///   rounded terms and A = ⟨|dy|, Σ|terms| of f at |x| + h⟩, so δ = 2·γ₆₄(T)·A / 2h.
/// The printed relative error is (|device − numeric| − δ)⁺ / Σ|terms|, against the bound γ(K).
public struct OpGradRow: OpTableRow {
    public let name: String
    /// The test suite's shapes (small and awkward: each case costs 2 reference forwards a
    /// checked coordinate), and the few the self-test runs.
    let cases: [OpCase]
    let selfTestCases: [OpCase]
    /// The inputs for one case: x first, "gradOutput" (dy, f's output shape) second, then the
    /// op's parameters and the "gradInput" that accumulating variants start from.
    let inputs: (OpCase, inout SplitMix64) -> [OpInput]
    /// f(x) in Float64, the other inputs as they are. `absolute`: x is |x| + h, and the result
    /// must bound f's Σ|terms| per output anywhere within h of x (|parameters|, or a sign
    /// pattern that makes every squared difference |a| + |b|).
    let forward: (_ x: ReferenceTensor, _ inputs: [OpInput], OpCase, _ absolute: Bool) -> [Double]
    /// Rounded terms per output of `forward`.
    let forwardTerms: (OpCase) -> Int
    /// Runs the backward op (every variant) on a backend: each variant's gradient with respect to
    /// x, concatenated. `absolute` asks for |parameters|: the magnitude run.
    let backward: (Backend, [OpInput], OpCase, _ absolute: Bool) throws -> [Float]
    /// Per variant: whether it adds to "gradInput".
    let accumulates: [Bool]
    /// K of the backward, per coordinate.
    let terms: (OpCase) -> Int
    /// The backward's Σ|terms| per output where it does not follow from |inputs| (routing by x).
    var magnitudes: (([OpInput], OpCase) -> [Double])? = nil
    /// Convolutions: K and Σ|terms| where the device runs the case by Winograd F(tile)
    /// (`Backend.winogradTile`), whose error has its own bound.
    var winogradBound: ((_ tile: Int, [OpInput], OpCase) -> (terms: Int, magnitudes: [Double]))? = nil

    /// The finite-difference step: a power of two, so x ± h is exact for float32 x of the tests'
    /// sizes (the differences are divided by (x + h) − (x − h) as computed all the same).
    static let step = 0x1p-10
    /// Up to this many coordinates a case checks them all, beyond it a seeded sample of this many.
    static let checkedCoordinates = 64

    /// The row at one case, inputs and sampled coordinates drawn from `generator`.
    func check(_ testCase: OpCase, _ generator: inout SplitMix64) -> SelfTestCheck {
        let inputs = self.inputs(testCase, &generator)
        let count = inputs[0].values.count
        let coordinates =
            count <= Self.checkedCoordinates
            ? Array(0..<count) : (0..<count).shuffled(using: &generator).prefix(Self.checkedCoordinates).sorted()
        return SelfTestCheck(op: name, shape: testCase.description) { device, reference in
            var terms = terms(testCase)
            func result(_ worst: Double, _ problem: String?) -> SelfTestResult {
                // γ(K), not 2·γ(K): one float32 backward against the exact gradient, not two implementations.
                SelfTestResult(
                    op: name, shape: testCase.description, maxRelativeError: worst,
                    bound: float32ErrorFactor(terms: terms), problem: problem)
            }
            do {
                let actual = try backward(device, inputs, testCase, false)
                let absolute = inputs.map { OpInput($0.name, $0.shape, $0.values.map(abs)) }
                var sizes =
                    try magnitudes?(inputs, testCase)
                    ?? backward(reference, absolute, testCase, true).map { Double(abs($0)) }
                if let winogradBound,
                    let tile = device.winogradTile(
                        outputChannels: testCase.o, inputChannels: testCase.c, height: testCase.h, width: testCase.w)
                {
                    let other = winogradBound(tile, inputs, testCase)
                    guard let covering = covering(terms: terms, sizes: sizes, other) else {
                        return result(.infinity, "\(other.magnitudes.count) magnitudes, expected \(sizes.count)")
                    }
                    (terms, sizes) = covering
                }
                guard actual.count == accumulates.count * count, sizes.count == actual.count else {
                    return result(.infinity, "\(actual.count) gradients, expected \(accumulates.count * count)")
                }
                let previous = inputs.first { $0.name == "gradInput" }?.values ?? []
                guard previous.count == count || !accumulates.contains(true) else {
                    return result(.infinity, "an accumulating variant without a gradInput of x's shape")
                }
                let (numeric, rounding) = finiteDifferences(inputs, testCase, at: coordinates)
                var worst = 0.0
                for (variant, accumulated) in accumulates.enumerated() {
                    for (index, k) in coordinates.enumerated() {
                        let expected = numeric[index] + (accumulated ? Double(previous[k]) : 0)
                        let error = abs(Double(actual[variant * count + k]) - expected)
                        let beyond = error.isNaN ? error : max(error - rounding, 0)
                        worst = max(worst, relativeError(beyond, of: sizes[variant * count + k]))
                    }
                }
                return result(worst, nil)
            } catch {
                return result(.infinity, describe(error))
            }
        }
    }

    /// ∂⟨dy, f⟩/∂x at `coordinates` by central differences in Float64, and δ, the bound on their
    /// rounding error.
    func finiteDifferences(
        _ inputs: [OpInput], _ testCase: OpCase, at coordinates: [Int]
    ) -> (gradient: [Double], rounding: Double) {
        let x = ReferenceTensor(shape: inputs[0].shape, floats: inputs[0].values)
        let dy = inputs[1].values.map(Double.init)
        func objective(_ x: ReferenceTensor) -> Double {
            zip(dy, forward(x, inputs, testCase, false)).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var probe = x
        let gradient = coordinates.map { k in
            let (up, down) = (x.values[k] + Self.step, x.values[k] - Self.step)
            probe.values[k] = up
            let high = objective(probe)
            probe.values[k] = down
            let low = objective(probe)
            probe.values[k] = x.values[k]
            return (high - low) / (up - down)
        }
        let widened = ReferenceTensor(shape: x.shape, values: x.values.map { abs($0) + Self.step })
        let size = zip(dy, forward(widened, inputs, testCase, true)).reduce(0) { $0 + abs($1.0) * $1.1 }
        // T: f's terms, the dot with dy, then the difference and the division.
        let terms = forwardTerms(testCase) + dy.count + 2
        return (gradient, 2 * float64ErrorFactor(terms: terms) * size / (2 * Self.step))
    }
}

extension OpInput {
    /// ±0.005, ±0.015, ±0.025 … shuffled: values at least 0.01 apart and 0.005 from 0, so no ReLU
    /// kink and no max-pool tie lies within the finite-difference step of the grad mode.
    static func wellSpaced(_ name: String, _ shape: Shape, _ generator: inout SplitMix64) -> OpInput {
        let values = (0..<shape.count).map { index -> Float in
            let size = 0.005 + 0.01 * Double(index / 2)
            return Float(index % 2 == 0 ? size : -size)
        }
        return OpInput(name, shape, values.shuffled(using: &generator))
    }
}
