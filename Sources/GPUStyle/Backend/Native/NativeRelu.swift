import CBLAS
import Foundation

extension NativeBackend {
    public func computeRelu(input: Tensor, output: Tensor) throws {
        let x = try native(input, "relu").pointer, y = try native(output, "relu").pointer
        HostParallel.forEachChunk(input.count) { range in
            for i in range { y[i] = max(x[i], 0) }
        }
    }

    public func computeReluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        let dy = try native(gradOutput, "reluBackward").pointer
        let a = try native(activation, "reluBackward").pointer
        let dx = try native(gradInput, "reluBackward").pointer
        HostParallel.forEachChunk(gradOutput.count) { range in
            let first = range.lowerBound
            Self.reluMask(dy + first, by: a + first, into: dx + first, count: range.count)
        }
    }

    /// target[k] (+)= values[k] where activation[k] > 0, else 0 (+ 0), for k < count: the backward
    /// of the ReLU whose output `activation` is. `target` may be `values` itself.
    @inline(__always)
    static func reluMask(
        _ values: UnsafePointer<Float>, by activation: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>,
        count: Int, accumulate: Bool = false
    ) {
        // The value loaded before the select, so it compiles to a blend rather than a branch on
        // the ReLU's pattern, which follows none.
        if accumulate {
            for k in 0..<count {
                let v = values[k]
                target[k] += activation[k] > 0 ? v : 0
            }
        } else {
            for k in 0..<count {
                let v = values[k]
                target[k] = activation[k] > 0 ? v : 0
            }
        }
    }
}
