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
            // Both loads before the select, so it compiles to a blend rather than an unpredictable branch.
            for i in range {
                let g = dy[i]
                dx[i] = a[i] > 0 ? g : 0
            }
        }
    }
}
