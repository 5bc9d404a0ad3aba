import CBLAS
import Foundation

extension NativeBackend {
    public func computeMeanSquaredError(
        _ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int,
        accumulate: Bool
    ) throws {
        let slotPointer = try scalarSlot(scalars, slot, "meanSquaredError")
        let xs = try native(a, "meanSquaredError").pointer, ys = try native(b, "meanSquaredError").pointer
        let sum = HostParallel.deterministicSum(a.count) { range in
            var sum = 0.0
            for i in range {
                let d = Double(xs[i]) - Double(ys[i])
                sum += d * d
            }
            return sum
        }
        store(Double(scale) * sum / Double(max(a.count, 1)), at: slotPointer, accumulate: accumulate)
    }

    public func computeMeanSquaredErrorGradient(
        _ a: Tensor, _ b: Tensor, factor: Float, grad: Tensor,
        accumulate: Bool
    ) throws {
        let xs = try native(a, "meanSquaredErrorGradient").pointer,
            ys = try native(b, "meanSquaredErrorGradient").pointer
        let g = try native(grad, "meanSquaredErrorGradient").pointer
        HostParallel.forEachChunk(a.count) { range in
            if accumulate {
                for i in range { g[i] += factor * (xs[i] - ys[i]) }
            } else {
                for i in range { g[i] = factor * (xs[i] - ys[i]) }
            }
        }
    }

    public func computeTotalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        let slotPointer = try scalarSlot(scalars, slot, "totalVariation")
        let xs = try native(x, "totalVariation").pointer
        let (c, h, w) = (x.shape.c, x.shape.h, x.shape.w)
        // One chunk per anchor row (channel, i < H−1): fixed order, deterministic.
        let rows = h > 1 && w > 1 ? c * (h - 1) : 0
        let sum = HostParallel.deterministicRowSum(rows, rowLength: w) { row in
            let channel = row / (h - 1), i = row % (h - 1)
            let top = xs + channel * h * w + i * w, below = top + w
            var sum = 0.0
            for j in 0..<(w - 1) {
                let right = Double(top[j]) - Double(top[j + 1])
                let down = Double(top[j]) - Double(below[j])
                sum += right * right + down * down
            }
            return sum
        }
        store(0.5 * Double(scale) * sum, at: slotPointer, accumulate: accumulate)
    }

    public func computeTotalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        let xs = try native(x, "totalVariationGradient").pointer
        let g = try native(grad, "totalVariationGradient").pointer
        let (c, h, w) = (x.shape.c, x.shape.h, x.shape.w)
        // Gathered per pixel, so rows are independent: the pixel is the anchor of its own
        // right and down differences (when i < H−1 and j < W−1), and the far end of the right
        // difference anchored at (i, j−1) and of the down difference anchored at (i−1, j).
        HostParallel.forEach(c * h, totalWork: x.count) { row in
            let channel = row / h, i = row % h
            let plane = xs + channel * h * w
            let out = g + channel * h * w + i * w
            for j in 0..<w {
                let v = plane[i * w + j]
                var d: Float = 0
                if i < h - 1 && j < w - 1 {
                    d += (v - plane[i * w + j + 1]) + (v - plane[(i + 1) * w + j])
                }
                if j > 0 && i < h - 1 {
                    d -= plane[i * w + j - 1] - v
                }
                if i > 0 && j < w - 1 {
                    d -= plane[(i - 1) * w + j] - v
                }
                out[j] = accumulate ? out[j] + scale * d : scale * d
            }
        }
    }
}
