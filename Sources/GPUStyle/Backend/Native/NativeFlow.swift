import Foundation

/// The video ops on the host, operation for operation as Kernels.cl's video section computes
/// them in float32 (the same order of sums and products), so both backends round alike.
extension NativeBackend {
    public func computeWarpBilinear(_ image: Tensor, flow: Tensor, output: Tensor) throws {
        let op = "warpBilinear"
        let xs = try native(image, op).pointer, fs = try native(flow, op).pointer, ys = try native(output, op).pointer
        let (h, w) = (image.shape.h, image.shape.w), plane = h * w
        HostParallel.forEach(image.shape.c * h, totalWork: image.count) { row in
            let c = row / h, i = row % h
            for j in 0..<w {
                let p = i * w + j
                ys[c * plane + p] = NativeBackend.bilinearSample(
                    xs + c * plane, h, w, y: Float(i) + fs[plane + p], x: Float(j) + fs[p])
            }
        }
    }

    public func computeWarpBilinearBackward(
        gradOutput: Tensor, flow: Tensor, gradImage: Tensor, accumulate: Bool
    )
        throws
    {
        let op = "warpBilinearBackward"
        let dys = try native(gradOutput, op).pointer, fs = try native(flow, op).pointer
        let gs = try native(gradImage, op).pointer
        let (h, w) = (gradOutput.shape.h, gradOutput.shape.w), plane = h * w
        // One channel per task, its pixels in order, as the kernel's work-items.
        HostParallel.forEach(gradOutput.shape.c, totalWork: gradOutput.count) { c in
            let dy = dys + c * plane, g = gs + c * plane
            if !accumulate { g.update(repeating: 0, count: plane) }
            for p in 0..<plane {
                let s = NativeBackend.bilinearPosition(h, w, y: Float(p / w) + fs[plane + p], x: Float(p % w) + fs[p])
                let top = (1 - s.fy) * dy[p], bottom = s.fy * dy[p]
                g[s.y0 * w + s.x0] += (1 - s.fx) * top
                g[s.y0 * w + s.x1] += s.fx * top
                g[s.y1 * w + s.x0] += (1 - s.fx) * bottom
                g[s.y1 * w + s.x1] += s.fx * bottom
            }
        }
    }

    public func computeFlowDerivatives(reference: Tensor, warped: Tensor, output: Tensor) throws {
        let op = "flowDerivatives"
        let r = try native(reference, op).pointer, wp = try native(warped, op).pointer
        let out = try native(output, op).pointer
        let (h, w) = (reference.shape.h, reference.shape.w), plane = h * w
        HostParallel.forEach(h, totalWork: 3 * plane) { i in
            for j in 0..<w {
                let n = NativeBackend.neighbours(i, j, h, w), p = i * w + j
                out[p] = 0.25 * ((r[n.right] - r[n.left]) + (wp[n.right] - wp[n.left]))
                out[plane + p] = 0.25 * ((r[n.down] - r[n.up]) + (wp[n.down] - wp[n.up]))
                out[2 * plane + p] = wp[p] - r[p]
            }
        }
    }

    public func computeTVL1PrimalStep(
        derivatives: Tensor, base: Tensor, flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor
    ) throws {
        let op = "tvl1PrimalStep"
        let d = try native(derivatives, op).pointer, b = try native(base, op).pointer
        let f = try native(flow, op).pointer, dual = try native(dual, op).pointer, out = try native(output, op).pointer
        let (h, w) = (flow.shape.h, flow.shape.w), plane = h * w
        let (lambdaTheta, theta) = (parameters.lambdaTheta, parameters.theta)
        HostParallel.forEach(h, totalWork: 2 * plane) { i in
            for j in 0..<w {
                let p = i * w + j
                let (ix, iy, it) = (d[p], d[plane + p], d[2 * plane + p])
                let (u, v) = (f[p], f[plane + p])
                let rho = (it + ix * (u - b[p])) + iy * (v - b[plane + p])
                let g = ix * ix + iy * iy, bound = lambdaTheta * g
                let (du, dv): (Float, Float)
                if rho < -bound {
                    (du, dv) = (lambdaTheta * ix, lambdaTheta * iy)
                } else if rho > bound {
                    (du, dv) = (-lambdaTheta * ix, -lambdaTheta * iy)
                } else if g > 1e-10 {
                    let q = rho / g
                    (du, dv) = (-q * ix, -q * iy)
                } else {
                    (du, dv) = (0, 0)
                }
                for k in 0..<2 {
                    let px = dual + 2 * k * plane, py = px + plane
                    let divergence =
                        ((j < w - 1 ? px[p] : 0) - (j > 0 ? px[p - 1] : 0))
                        + ((i < h - 1 ? py[p] : 0) - (i > 0 ? py[p - w] : 0))
                    out[k * plane + p] = ((k == 0 ? u : v) + (k == 0 ? du : dv)) + theta * divergence
                }
            }
        }
    }

    public func computeTVL1DualStep(flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor) throws {
        let op = "tvl1DualStep"
        let f = try native(flow, op).pointer, ps = try native(dual, op).pointer, out = try native(output, op).pointer
        let (h, w) = (flow.shape.h, flow.shape.w), plane = h * w
        let step = parameters.dualStep
        HostParallel.forEach(h, totalWork: 4 * plane) { i in
            for j in 0..<w {
                let p = i * w + j
                for k in 0..<2 {
                    let c = f + k * plane
                    let wx = j < w - 1 ? c[p + 1] - c[p] : 0
                    let wy = i < h - 1 ? c[p + w] - c[p] : 0
                    let scale = 1 + step * (wx * wx + wy * wy).squareRoot()
                    out[2 * k * plane + p] = (ps[2 * k * plane + p] + step * wx) / scale
                    out[(2 * k + 1) * plane + p] = (ps[(2 * k + 1) * plane + p] + step * wy) / scale
                }
            }
        }
    }

    public func computeMedian3x3(_ x: Tensor, output: Tensor) throws {
        let op = "median3x3"
        let xs = try native(x, op).pointer, out = try native(output, op).pointer
        let (h, w) = (x.shape.h, x.shape.w)
        HostParallel.forEach(x.shape.c * h, totalWork: x.count) { row in
            let plane = xs + (row / h) * h * w, i = row % h
            var window = [Float](repeating: 0, count: 9)
            for j in 0..<w {
                var k = 0
                for di in -1...1 {
                    for dj in -1...1 {
                        window[k] = plane[min(max(i + di, 0), h - 1) * w + min(max(j + dj, 0), w - 1)]
                        k += 1
                    }
                }
                window.sort()
                out[row * w + j] = window[4]
            }
        }
    }

    public func computeUpsampleFlow(_ coarse: Tensor, output: Tensor) throws {
        let op = "upsampleFlow"
        let cs = try native(coarse, op).pointer, out = try native(output, op).pointer
        let (ch, cw) = (coarse.shape.h, coarse.shape.w), (h, w) = (output.shape.h, output.shape.w)
        HostParallel.forEach(2 * h, totalWork: output.count) { row in
            let c = row / h, i = row % h
            for j in 0..<w {
                out[(c * h + i) * w + j] =
                    2
                    * NativeBackend.bilinearSample(
                        cs + c * ch * cw, ch, cw, y: 0.5 * Float(i) - 0.25, x: 0.5 * Float(j) - 0.25)
            }
        }
    }

    public func computeReliabilityMask(flow: Tensor, backwardFlow: Tensor, output: Tensor) throws {
        let op = "reliabilityMask"
        let u = try native(flow, op).pointer, b = try native(backwardFlow, op).pointer
        let out = try native(output, op).pointer
        let (h, w) = (flow.shape.h, flow.shape.w), plane = h * w
        let v = u + plane
        HostParallel.forEach(h, totalWork: plane) { i in
            for j in 0..<w {
                let n = NativeBackend.neighbours(i, j, h, w), p = i * w + j
                let (u0, v0, bu, bv) = (u[p], v[p], b[p], b[plane + p])
                let (su, sv) = (u0 + bu, v0 + bv)
                let motion = u0 * u0 + v0 * v0
                let inconsistent = 100 * (su * su + sv * sv) > (motion + (bu * bu + bv * bv)) + 50
                let ux = 0.5 * (u[n.right] - u[n.left]), uy = 0.5 * (u[n.down] - u[n.up])
                let vx = 0.5 * (v[n.right] - v[n.left]), vy = 0.5 * (v[n.down] - v[n.up])
                let boundary = 100 * ((ux * ux + uy * uy) + (vx * vx + vy * vy)) > motion + 0.2
                let (x, y) = (Float(j) + u0, Float(i) + v0)
                let outside = x < 0 || x > Float(w - 1) || y < 0 || y > Float(h - 1)
                out[p] = inconsistent || boundary || outside ? 0 : 1
            }
        }
    }

    public func computeTemporalLoss(
        _ x: Tensor, warped: Tensor, mask: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool
    ) throws {
        let op = "temporalLoss"
        let slotPointer = try scalarSlot(scalars, slot, op)
        let xs = try native(x, op).pointer, ws = try native(warped, op).pointer, ms = try native(mask, op).pointer
        let plane = x.shape.pixels
        let sum = HostParallel.deterministicSum(x.count) { range in
            var sum = 0.0
            for i in range {
                let d = Double(xs[i]) - Double(ws[i])
                sum += Double(ms[i % plane]) * d * d
            }
            return sum
        }
        store(Double(scale) * sum, at: slotPointer, accumulate: accumulate)
    }

    public func computeTemporalLossGradient(
        _ x: Tensor, warped: Tensor, mask: Tensor, factor: Float, grad: Tensor, accumulate: Bool
    ) throws {
        let op = "temporalLossGradient"
        let xs = try native(x, op).pointer, ws = try native(warped, op).pointer, ms = try native(mask, op).pointer
        let g = try native(grad, op).pointer
        let plane = x.shape.pixels
        HostParallel.forEachChunk(x.count) { range in
            for i in range {
                let value = factor * (ms[i % plane] * (xs[i] - ws[i]))
                g[i] = accumulate ? g[i] + value : value
            }
        }
    }

    /// The four neighbours' indices of (i, j), the border replicated.
    static func neighbours(_ i: Int, _ j: Int, _ h: Int, _ w: Int) -> (left: Int, right: Int, up: Int, down: Int) {
        (i * w + max(j - 1, 0), i * w + min(j + 1, w - 1), max(i - 1, 0) * w + j, min(i + 1, h - 1) * w + j)
    }

    /// The corners and fractions of a bilinear sample at (y, x) of an h×w plane, the position
    /// clamped into the plane (NaN becomes 0, as Kernels.cl's CLAMP_POSITION).
    static func bilinearPosition(
        _ h: Int, _ w: Int, y: Float, x: Float
    )
        -> (x0: Int, x1: Int, y0: Int, y1: Int, fx: Float, fy: Float)
    {
        var (x, y) = (x >= 0 ? x : 0, y >= 0 ? y : 0)
        (x, y) = (x <= Float(w - 1) ? x : Float(w - 1), y <= Float(h - 1) ? y : Float(h - 1))
        let (x0, y0) = (Int(x), Int(y))
        return (x0, min(x0 + 1, w - 1), y0, min(y0 + 1, h - 1), x - Float(x0), y - Float(y0))
    }

    /// Kernels.cl's `bilinear_sample`.
    static func bilinearSample(_ plane: UnsafeMutablePointer<Float>, _ h: Int, _ w: Int, y: Float, x: Float) -> Float {
        let s = bilinearPosition(h, w, y: y, x: x)
        let top = (1 - s.fx) * plane[s.y0 * w + s.x0] + s.fx * plane[s.y0 * w + s.x1]
        let bottom = (1 - s.fx) * plane[s.y1 * w + s.x0] + s.fx * plane[s.y1 * w + s.x1]
        return (1 - s.fy) * top + s.fy * bottom
    }
}
