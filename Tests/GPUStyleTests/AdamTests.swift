import GPUStyle
import XCTest

/// Three bias-corrected Adam steps (β1 = 0.9, β2 = 0.999, ε = 1e-8, lr = 0.5) on two parameters,
/// against values worked out by hand:
///   m_t = β1 m + (1 − β1) g,  v_t = β2 v + (1 − β2) g²,
///   m̂ = m_t / (1 − β1^t),     v̂ = v_t / (1 − β2^t),     p −= lr · m̂ / (√v̂ + ε).
final class AdamTests: XCTestCase {
    func testThreeStepsMatchHandComputedValues() throws {
        let backend = NativeBackend()
        let parameter = try backend.makeTensor(.vector(2))
        let (m, v) = (try backend.makeTensor(.vector(2)), try backend.makeTensor(.vector(2)))
        try backend.upload([1, -3], to: parameter)
        let adam = AdamParameters(learningRate: 0.5)

        // Parameter A starts at 1 with gradients 2, −4, 1; parameter B starts at −3 with 0, 0.5, 0.5.
        //
        // Step 1 (1 − β1 = 0.1, 1 − β2 = 0.001):
        //   A: m = 0.1·2 = 0.2; v = 0.001·4 = 0.004; m̂ = 0.2/0.1 = 2; v̂ = 0.004/0.001 = 4;
        //      p = 1 − 0.5·2/(2 + 1e-8) = 0.5000000025
        //   B: g = 0, so m = v = 0 and p = −3 − 0.5·0/(0 + 1e-8) = −3 (ε keeps it finite).
        try step(backend, gradient: [2, 0], parameter, m, v, 1, adam)
        try assertValues(backend, parameter, [0.5000000025, -3], m, [0.2, 0], v, [0.004, 0])

        // Step 2 (1 − β1² = 0.19, 1 − β2² = 0.001999):
        //   A: m = 0.9·0.2 + 0.1·(−4) = −0.22; v = 0.999·0.004 + 0.001·16 = 0.019996;
        //      m̂ = −0.22/0.19 = −1.1578947368; v̂ = 0.019996/0.001999 = 10.0030015008, √v̂ = 3.1627522035;
        //      p = 0.5000000025 + 0.5·1.1578947368/3.1627522035 = 0.6830517654
        //   B: m = 0.1·0.5 = 0.05; v = 0.001·0.25 = 0.00025;
        //      m̂ = 0.05/0.19 = 0.2631578947; v̂ = 0.00025/0.001999 = 0.1250625313, √v̂ = 0.3536418121;
        //      p = −3 − 0.5·0.2631578947/0.3536418121 = −3.3720684013
        try step(backend, gradient: [-4, 0.5], parameter, m, v, 2, adam)
        try assertValues(backend, parameter, [0.6830517654, -3.3720684013], m, [-0.22, 0.05], v, [0.019996, 0.00025])

        // Step 3 (1 − β1³ = 0.271, 1 − β2³ = 0.002997001):
        //   A: m = 0.9·(−0.22) + 0.1·1 = −0.098; v = 0.999·0.019996 + 0.001·1 = 0.020976004;
        //      m̂ = −0.098/0.271 = −0.3616236162; v̂ = 0.020976004/0.002997001 = 6.9989979983, √v̂ = 2.6455619438;
        //      p = 0.6830517654 + 0.5·0.3616236162/2.6455619438 = 0.7513970967
        //   B: m = 0.9·0.05 + 0.1·0.5 = 0.095; v = 0.999·0.00025 + 0.001·0.25 = 0.00049975;
        //      m̂ = 0.095/0.271 = 0.3505535055; v̂ = 0.00049975/0.002997001 = 0.1667500278, √v̂ = 0.4083503738;
        //      p = −3.3720684013 − 0.5·0.3505535055/0.4083503738 = −3.8012996686
        try step(backend, gradient: [1, 0.5], parameter, m, v, 3, adam)
        try assertValues(
            backend, parameter, [0.7513970967, -3.8012996686], m, [-0.098, 0.095], v, [0.020976004, 0.00049975])
    }

    private func step(
        _ backend: NativeBackend, gradient values: [Float], _ parameter: Tensor, _ m: Tensor, _ v: Tensor,
        _ step: Int, _ adam: AdamParameters
    ) throws {
        let gradient = try backend.makeTensor(.vector(values.count))
        try backend.upload(values, to: gradient)
        try backend.adamStep(parameter: parameter, gradient: gradient, m: m, v: v, step: step, parameters: adam)
    }

    /// float32 state: a few roundings per step, so agreement to ~2e-6 relative, except v: β2 is
    /// a Float in `AdamParameters`, Float(0.999) = 0.99900001287, so 1 − β2 = 0.00099998713 and
    /// v sits 1.3e-5 relative below the decimal hand value. The bias correction uses the same β2,
    /// so v̂ and the parameter are not affected beyond float32 rounding.
    private func assertValues(
        _ backend: NativeBackend, _ parameter: Tensor, _ expectedParameter: [Double],
        _ m: Tensor, _ expectedM: [Double], _ v: Tensor, _ expectedV: [Double],
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for (tensor, expected, name) in [
            (parameter, expectedParameter, "parameter"), (m, expectedM, "m"), (v, expectedV, "v"),
        ] {
            for (actual, wanted) in zip(try backend.download(tensor), expected) {
                let relative = name == "v" ? 2e-5 : 2e-6
                XCTAssertEqual(
                    Double(actual), wanted, accuracy: relative * max(abs(wanted), 1e-3), name, file: file, line: line)
            }
        }
    }
}
