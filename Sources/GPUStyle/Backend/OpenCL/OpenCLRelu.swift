import Foundation
import Kernels

extension OpenCLBackend {
    public func computeRelu(input: Tensor, output: Tensor) throws {
        try elementwise(
            "relu", input.count,
            [
                .buffer(try buffer(input, "relu")), .buffer(try buffer(output, "relu")),
                .int(input.count),
            ])
    }

    public func computeReluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        let op = "reluBackward"
        try elementwise(
            "relu_backward", gradOutput.count,
            [
                .buffer(try buffer(gradOutput, op)),
                .buffer(try buffer(activation, op)),
                .buffer(try buffer(gradInput, op)), .int(gradOutput.count),
            ])
    }
}
