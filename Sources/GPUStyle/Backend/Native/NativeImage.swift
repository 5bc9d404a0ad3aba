import CBLAS
import Foundation

extension NativeBackend {
    public func computePreprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws {
        let x = try native(image, "preprocess").pointer, y = try native(output, "preprocess").pointer
        let plane = image.shape.pixels
        HostParallel.forEach(3, totalWork: image.count) { c in
            let source = x + affine.permutation[c] * plane, target = y + c * plane
            let (s, o) = (affine.scale[c], affine.offset[c])
            for i in 0..<plane { target[i] = source[i] * s + o }
        }
    }

    public func computePreprocessBackward(
        gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor, accumulate: Bool
    ) throws {
        let dy = try native(gradOutput, "preprocessBackward").pointer
        let dx = try native(gradImage, "preprocessBackward").pointer
        let plane = gradImage.shape.pixels
        // requireAffine checked the permutation, so each image channel receives exactly one output channel.
        HostParallel.forEach(3, totalWork: gradImage.count) { c in
            let source = dy + c * plane, target = dx + affine.permutation[c] * plane
            let s = affine.scale[c]
            if accumulate {
                for i in 0..<plane { target[i] += source[i] * s }
            } else {
                for i in 0..<plane { target[i] = source[i] * s }
            }
        }
    }

    public func computeClampRound(image: Tensor, output: Tensor) throws {
        let x = try native(image, "clampRound").pointer, y = try native(output, "clampRound").pointer
        HostParallel.forEachChunk(image.count) { range in
            // Halves round away from zero, like OpenCL's round().
            for i in range { y[i] = min(max(x[i], 0), 255).rounded(.toNearestOrAwayFromZero) }
        }
    }
}
