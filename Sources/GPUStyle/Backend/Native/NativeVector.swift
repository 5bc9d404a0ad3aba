import CBLAS
import Foundation

extension NativeBackend {
    public func computeFill(_ tensor: Tensor, value: Float) throws {
        let x = try native(tensor, "fill").pointer
        HostParallel.forEachChunk(tensor.count) { range in
            (x + range.lowerBound).update(repeating: value, count: range.count)
        }
    }

    public func computeCopy(_ x: Tensor, to y: Tensor) throws {
        let source = try native(x, "copy").pointer, target = try native(y, "copy").pointer
        HostParallel.forEachChunk(x.count) { range in
            (target + range.lowerBound).update(from: source + range.lowerBound, count: range.count)
        }
    }

    public func computeCopyRegion(
        _ source: Tensor, _ region: PlaneRegion, to target: Tensor, at origin: PlanePoint
    ) throws {
        let from = try native(source, "copyRegion").pointer, to = try native(target, "copyRegion").pointer
        let (s, t) = (source.shape, target.shape)
        let rows = s.c * region.height
        HostParallel.forEach(rows, totalWork: rows * region.width) { row in
            let (c, i) = (row / region.height, row % region.height)
            (to + (c * t.h + origin.y + i) * t.w + origin.x).update(
                from: from + (c * s.h + region.y + i) * s.w + region.x, count: region.width)
        }
    }

    public func computeAxpy(alpha: Float, x: Tensor, y: Tensor) throws {
        let xs = try native(x, "axpy").pointer, ys = try native(y, "axpy").pointer
        HostParallel.forEachChunk(x.count) { range in
            for i in range { ys[i] += alpha * xs[i] }
        }
    }

    public func computeScale(_ x: Tensor, by alpha: Float) throws {
        let xs = try native(x, "scale").pointer
        HostParallel.forEachChunk(x.count) { range in
            for i in range { xs[i] *= alpha }
        }
    }

    public func computeClamp(_ x: Tensor, lower: Float, upper: Float) throws {
        let xs = try native(x, "clamp").pointer
        HostParallel.forEachChunk(x.count) { range in
            for i in range {
                let v = xs[i]
                xs[i] = v < lower ? lower : (v > upper ? upper : v)
            }
        }
    }

    public func computeRoundToHalf(_ x: Tensor) throws {
        let xs = try native(x, "roundToHalf").pointer
        HostParallel.forEachChunk(x.count) { range in
            for i in range { xs[i] = Float(Float16(xs[i])) }
        }
    }

    public func computeDot(_ x: Tensor, _ y: Tensor) throws -> Double {
        let xs = try native(x, "dot").pointer, ys = try native(y, "dot").pointer
        return HostParallel.deterministicSum(x.count) { range in
            var sum = 0.0
            for i in range { sum += Double(xs[i]) * Double(ys[i]) }
            return sum
        }
    }
}
