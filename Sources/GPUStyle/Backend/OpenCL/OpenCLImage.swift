import Foundation
import Kernels

extension OpenCLBackend {
    public func computePreprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws {
        let plane = image.shape.pixels
        try elementwiseRows(
            "preprocess", width: plane, rows: image.shape.c,
            [.buffer(try buffer(image, "preprocess")), .int(plane)] + affine.permutation.map { .int($0) }
                + affine.scale.map { .float($0) } + affine.offset.map { .float($0) }
                + [.buffer(try buffer(output, "preprocess"))])
    }

    public func computePreprocessBackward(
        gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor, accumulate: Bool
    ) throws {
        let op = "preprocessBackward"
        try elementwiseRows(
            "preprocess_backward", width: gradImage.shape.pixels, rows: gradImage.shape.c,
            [.buffer(try buffer(gradOutput, op)), .int(gradImage.shape.pixels)]
                + affine.permutation.map { .int($0) } + affine.scale.map { .float($0) }
                + [.buffer(try buffer(gradImage, op)), .flag(accumulate)])
    }

    public func computeClampRound(image: Tensor, output: Tensor) throws {
        try elementwise(
            "clamp_round", image.count,
            [
                .buffer(try buffer(image, "clampRound")),
                .buffer(try buffer(output, "clampRound")), .int(image.count),
            ])
    }
}
