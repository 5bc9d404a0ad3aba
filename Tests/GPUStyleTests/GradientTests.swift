@testable import GPUStyle
import XCTest

/// The native backend's analytic gradients against central finite differences of the Float64
/// reference forward ops, on tiny shapes. Each op is checked as a vector-Jacobian product: with a
/// random r, the gradient of the scalar L(x) = Σ r ⊙ op(x) is exactly what the backward op must
/// return for gradOutput = r. The data keep a margin larger than the finite-difference step from
/// every kink (ReLU at 0, ties inside a max-pool window), so the piecewise-linear ops are
/// differentiated exactly, and linear or quadratic objectives have no truncation error at all:
/// what remains is float32 rounding in the backend, far inside the tolerance.
final class GradientTests: XCTestCase {
    private var generator = SeededGenerator(seed: 0x6EAD)
    private let backend = NativeBackend()

    func testConvBackwardDataIsTheInputGradientWithAndWithoutFusedReluAndAccumulate() throws {
        let (inputChannels, outputChannels) = (3, 2)
        let z = wellSpaced(Shape(c: inputChannels, h: 4, w: 5))
        let weights = ReferenceTensor.random(Shape(c: outputChannels * inputChannels, h: 3, w: 3), using: &generator).values
        let bias = ReferenceTensor.random(.vector(outputChannels), using: &generator).values
        let r = ReferenceTensor.random(Shape(c: outputChannels, h: 4, w: 5), using: &generator)
        let previous = ReferenceTensor.random(z.shape, using: &generator)
        let layer = try backend.makeConvWeights(weights: weights.map(Float.init), bias: bias.map(Float.init),
                                                outputChannels: outputChannels, inputChannels: inputChannels)
        for fusedRelu in [false, true] {
            // With the fused ReLU, z is the previous layer's pre-activation and the conv reads relu(z).
            let numeric = centralDifferences(z) { z in
                let activation = fusedRelu ? ReferenceOps.relu(z) : z
                return weightedSum(r, ReferenceOps.conv3x3(activation, weights: weights, bias: bias,
                                                           outputChannels: outputChannels, relu: false))
            }
            let mask = try backend.makeTensor(z.shape)
            try backend.relu(input: backend.makeTensor(z), output: mask)
            for accumulate in [false, true] {
                for method in ConvBackwardMethod.allCases {
                    backend.backwardMethodOverride = method
                    let gradInput = try backend.makeTensor(accumulate ? previous : ReferenceTensor.random(z.shape, using: &generator))
                    try backend.conv3x3BackwardData(gradOutput: backend.makeTensor(r), weights: layer,
                                                    reluMaskFrom: fusedRelu ? mask : nil, gradInput: gradInput,
                                                    accumulate: accumulate)
                    try assertGradient(backend.download(gradInput), numeric, plus: accumulate ? previous : nil,
                                       "conv relu \(fusedRelu) accumulate \(accumulate) \(method)")
                }
            }
        }
    }

    func testReluBackward() throws {
        let z = wellSpaced(Shape(c: 2, h: 3, w: 5))
        let r = ReferenceTensor.random(z.shape, using: &generator)
        let numeric = centralDifferences(z) { weightedSum(r, ReferenceOps.relu($0)) }
        let activation = try backend.makeTensor(z.shape)
        try backend.relu(input: backend.makeTensor(z), output: activation)
        let gradient = try backend.makeTensor(r)
        try backend.reluBackward(gradOutput: gradient, activation: activation, gradInput: gradient)  // in place
        try assertGradient(backend.download(gradient), numeric, "relu")
    }

    func testPoolBackwardBothModesOnOddSizes() throws {
        let x = wellSpaced(Shape(c: 2, h: 5, w: 7))  // distinct values: no ties in max windows
        let r = ReferenceTensor.random(Shape(c: 2, h: 2, w: 3), using: &generator)
        let previous = ReferenceTensor.random(x.shape, using: &generator)
        for mode in PoolMode.allCases {
            let numeric = centralDifferences(x) { weightedSum(r, ReferenceOps.pool2x2($0, mode: mode)) }
            for accumulate in [false, true] {
                let gradInput = try backend.makeTensor(accumulate ? previous : ReferenceTensor.random(x.shape, using: &generator))
                try backend.pool2x2Backward(gradOutput: backend.makeTensor(r), input: backend.makeTensor(x), mode: mode,
                                            gradInput: gradInput, accumulate: accumulate)
                try assertGradient(backend.download(gradInput), numeric, plus: accumulate ? previous : nil,
                                   "pool \(mode) accumulate \(accumulate)")
            }
        }
    }

    /// The fused in-place op is the gradient of pool(relu(z)), and bit for bit what the two ops
    /// it replaces compute (the backward pass relies on that: ObjectiveGradientTests).
    func testReluPoolBackwardInPlaceBothModesOnOddSizes() throws {
        let z = wellSpaced(Shape(c: 2, h: 5, w: 7))
        let r = ReferenceTensor.random(Shape(c: 2, h: 2, w: 3), using: &generator)
        for mode in PoolMode.allCases {
            let numeric = centralDifferences(z) { weightedSum(r, ReferenceOps.pool2x2(ReferenceOps.relu($0), mode: mode)) }
            let activation = try backend.makeTensor(z.shape), dy = try backend.makeTensor(r)
            try backend.relu(input: backend.makeTensor(z), output: activation)
            let separate = try backend.makeTensor(z.shape)
            try backend.pool2x2Backward(gradOutput: dy, input: activation, mode: mode, gradInput: separate, accumulate: false)
            try backend.reluBackward(gradOutput: separate, activation: activation, gradInput: separate)
            try backend.reluPool2x2BackwardInPlace(gradOutput: dy, activation: activation, mode: mode)
            try assertGradient(backend.download(activation), numeric, "relu + pool \(mode) in place")
            XCTAssertEqual(try backend.download(activation), try backend.download(separate), "\(mode)")
        }
    }

    func testMaxPoolTiesRouteToTheFirstMaximumInRowMajorOrder() throws {
        let input = try backend.makeTensor(ReferenceTensor(shape: Shape(c: 1, h: 2, w: 4), values: [1, 3, 5, 5,
                                                                                                   3, 2, 5, 5]))
        let gradInput = try backend.makeTensor(input.shape)
        try backend.pool2x2Backward(gradOutput: backend.makeTensor(ReferenceTensor(shape: Shape(c: 1, h: 1, w: 2), values: [10, 20])),
                                    input: input, mode: .max, gradInput: gradInput, accumulate: false)
        XCTAssertEqual(try backend.download(gradInput), [0, 10, 20, 0,
                                                          0, 0, 0, 0])
    }

    func testGramBackward() throws {
        let features = ReferenceTensor.random(Shape(c: 3, h: 3, w: 4), using: &generator)
        let r = ReferenceTensor.random(Shape(c: 1, h: 3, w: 3), using: &generator)  // not symmetric: tests dG + dGᵀ
        let previous = ReferenceTensor.random(features.shape, using: &generator)
        let numeric = centralDifferences(features) { weightedSum(r, ReferenceOps.gram($0)) }
        for accumulate in [false, true] {
            let gradFeatures = try backend.makeTensor(accumulate ? previous : ReferenceTensor.random(features.shape, using: &generator))
            try backend.gramBackward(gradGram: backend.makeTensor(r), features: backend.makeTensor(features),
                                     gradFeatures: gradFeatures, accumulate: accumulate)
            try assertGradient(backend.download(gradFeatures), numeric, plus: accumulate ? previous : nil,
                               "gram accumulate \(accumulate)")
        }
    }

    func testContentLossGradient() throws {
        let (a, b) = (ReferenceTensor.random(Shape(c: 3, h: 2, w: 5), using: &generator),
                      ReferenceTensor.random(Shape(c: 3, h: 2, w: 5), using: &generator))
        let previous = ReferenceTensor.random(a.shape, using: &generator)
        let scale: Float = 5
        let numeric = centralDifferences(a) { Double(scale) * ReferenceOps.meanSquaredError($0, b) }
        for accumulate in [false, true] {
            let grad = try backend.makeTensor(accumulate ? previous : ReferenceTensor.random(a.shape, using: &generator))
            try backend.meanSquaredErrorGradient(backend.makeTensor(a), backend.makeTensor(b), scale: scale, grad: grad,
                                                 accumulate: accumulate)
            try assertGradient(backend.download(grad), numeric, plus: accumulate ? previous : nil,
                               "content accumulate \(accumulate)")
        }
    }

    /// L_s = s · mean((G(F) − A)²) through the backend's chain: gram, MSE gradient on G, gram backward.
    func testStyleLossGradientThroughGram() throws {
        let features = ReferenceTensor.random(Shape(c: 4, h: 3, w: 2), using: &generator)
        let target = ReferenceOps.gram(ReferenceTensor.random(features.shape, using: &generator))
        let scale: Float = 100
        let numeric = centralDifferences(features) { Double(scale) * ReferenceOps.meanSquaredError(ReferenceOps.gram($0), target) }
        let f = try backend.makeTensor(features)
        let gram = try backend.makeTensor(target.shape), gradGram = try backend.makeTensor(target.shape)
        let gradFeatures = try backend.makeTensor(features.shape)
        try backend.gram(features: f, output: gram)
        try backend.meanSquaredErrorGradient(gram, backend.makeTensor(target), scale: scale, grad: gradGram, accumulate: false)
        try backend.gramBackward(gradGram: gradGram, features: f, gradFeatures: gradFeatures, accumulate: false)
        try assertGradient(backend.download(gradFeatures), numeric, "style")
    }

    func testTotalVariationGradient() throws {
        let scale: Float = 0.25
        // Borders matter: the last row and column are never anchors; 1-wide images have no terms.
        for shape in [Shape(c: 2, h: 4, w: 5), Shape(c: 1, h: 2, w: 2), Shape(c: 1, h: 1, w: 4), Shape(c: 3, h: 3, w: 1)] {
            let x = ReferenceTensor.random(shape, using: &generator)
            let previous = ReferenceTensor.random(shape, using: &generator)
            let numeric = centralDifferences(x) { Double(scale) * ReferenceOps.totalVariation($0) }
            for accumulate in [false, true] {
                let grad = try backend.makeTensor(accumulate ? previous : ReferenceTensor.random(shape, using: &generator))
                try backend.totalVariationGradient(backend.makeTensor(x), scale: scale, grad: grad, accumulate: accumulate)
                try assertGradient(backend.download(grad), numeric, plus: accumulate ? previous : nil,
                                   "tv \(shape) accumulate \(accumulate)")
            }
        }
    }

    func testPreprocessBackwardForBothFlavours() throws {
        let image = ReferenceTensor.random(Shape(c: 3, h: 2, w: 3), in: 0...255, using: &generator)
        let r = ReferenceTensor.random(image.shape, using: &generator)
        let previous = ReferenceTensor.random(image.shape, using: &generator)
        for affine in [ReferenceOps.caffeAffine, ReferenceOps.torchAffine] {
            let numeric = centralDifferences(image) { weightedSum(r, ReferenceOps.preprocess($0, affine: affine)) }
            for accumulate in [false, true] {
                let gradImage = try backend.makeTensor(accumulate ? previous : ReferenceTensor.random(image.shape, using: &generator))
                try backend.preprocessBackward(gradOutput: backend.makeTensor(r), affine: affine, gradImage: gradImage,
                                               accumulate: accumulate)
                try assertGradient(backend.download(gradImage), numeric, plus: accumulate ? previous : nil,
                                   "preprocess \(affine.permutation) accumulate \(accumulate)")
            }
        }
    }

    // MARK: Helpers

    /// Float-exact values spaced 0.01 apart, none within 0.005 of 0, shuffled: no ReLU kink and no
    /// max-pool tie lies within the finite-difference step.
    private func wellSpaced(_ shape: Shape) -> ReferenceTensor {
        let values = (0..<shape.count).map { Double(Float((Double($0) - Double(shape.count) / 2 + 0.5) * 0.01)) }
        return ReferenceTensor(shape: shape, values: values.shuffled(using: &generator))
    }

    /// ∂f/∂x by central differences in Float64.
    private func centralDifferences(_ x: ReferenceTensor, step: Double = 1e-3,
                                    _ f: (ReferenceTensor) -> Double) -> ReferenceTensor {
        var gradient = ReferenceTensor.zeros(x.shape)
        var probe = x
        for k in 0..<x.values.count {
            probe.values[k] = x.values[k] + step
            let up = f(probe)
            probe.values[k] = x.values[k] - step
            let down = f(probe)
            probe.values[k] = x.values[k]
            gradient.values[k] = (up - down) / (2 * step)
        }
        return gradient
    }

    /// Analytic (float32) against numeric gradient, plus what an accumulating op started from.
    private func assertGradient(_ analytic: [Float], _ numeric: ReferenceTensor, plus previous: ReferenceTensor? = nil,
                                _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var expected = numeric
        if let previous { expected.values = zip(numeric.values, previous.values).map(+) }
        // float32 rounding of a few dozen terms is ~1e-6 relative; a wrong gradient is off by O(1).
        let tolerance = 1e-4 * max(1, expected.values.map(abs).max() ?? 0)
        assertClose(analytic, expected, bounds: Array(repeating: tolerance, count: analytic.count), what, file: file, line: line)
    }
}

/// Σ r ⊙ y: the scalar objective whose gradient with respect to y is r.
func weightedSum(_ r: ReferenceTensor, _ y: ReferenceTensor) -> Double {
    precondition(r.shape == y.shape)
    return zip(r.values, y.values).reduce(0) { $0 + $1.0 * $1.1 }
}
