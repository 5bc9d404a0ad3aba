import Foundation

extension NativeBackend {
    public func computeMultiplyByMask(_ x: Tensor, mask: Tensor, output: Tensor, accumulate: Bool) throws {
        let op = "multiplyByMask"
        let xs = try native(x, op).pointer, ms = try native(mask, op).pointer, ys = try native(output, op).pointer
        let plane = x.shape.pixels
        HostParallel.forEach(x.shape.c, totalWork: x.count) { c in
            let source = xs + c * plane, target = ys + c * plane
            if accumulate {
                for i in 0..<plane { target[i] += source[i] * ms[i] }
            } else {
                for i in 0..<plane { target[i] = source[i] * ms[i] }
            }
        }
    }
}
