import CBLAS
import Foundation

extension NativeBackend {
    public func computePool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws {
        let (c, h, w) = (input.shape.c, input.shape.h, input.shape.w)
        let (outH, outW) = (h / 2, w / 2)
        let x = try native(input, "pool2x2").pointer, y = try native(output, "pool2x2").pointer
        HostParallel.forEach(c * outH, totalWork: input.count) { row in
            let (channel, i) = (row / outH, row % outH)
            let top = x + (channel * h + 2 * i) * w, bottom = top + w
            let out = y + row * outW
            for j in 0..<outW {
                let (a, b, d, e) = (top[2 * j], top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1])
                switch mode {
                case .max: out[j] = max(max(a, b), max(d, e))
                case .avg: out[j] = ((a + b) + (d + e)) * 0.25
                }
            }
        }
    }

    public func computePool2x2Backward(
        gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        let op = "pool2x2Backward"
        let (c, h, w) = (input.shape.c, input.shape.h, input.shape.w)
        let (outH, outW) = (h / 2, w / 2)
        let dy = try native(gradOutput, op).pointer, x = try native(input, op).pointer
        let dx = try native(gradInput, op).pointer
        // One job per channel; it owns that channel's rows of gradInput, leftover odd row and column included.
        HostParallel.forEach(c, totalWork: input.count) { channel in
            let plane = channel * h * w
            if !accumulate { (dx + plane).update(repeating: 0, count: h * w) }
            for i in 0..<outH {
                let top = plane + 2 * i * w, bottom = top + w
                let gradients = dy + (channel * outH + i) * outW
                switch mode {
                case .avg:
                    for j in 0..<outW {
                        let quarter = gradients[j] * 0.25
                        dx[top + 2 * j] += quarter
                        dx[top + 2 * j + 1] += quarter
                        dx[bottom + 2 * j] += quarter
                        dx[bottom + 2 * j + 1] += quarter
                    }
                case .max:
                    for j in 0..<outW {
                        // The first maximum in row-major order takes the gradient (strict > keeps the
                        // first). Selects on values already loaded, then one computed store: branches
                        // mispredict on real data, and SIMD blends or masked stores were slower.
                        let (a, b) = (x[top + 2 * j], x[top + 2 * j + 1])
                        let (d, e) = (x[bottom + 2 * j], x[bottom + 2 * j + 1])
                        var winner = top + 2 * j, largest = a
                        winner = b > largest ? top + 2 * j + 1 : winner
                        largest = b > largest ? b : largest
                        winner = d > largest ? bottom + 2 * j : winner
                        largest = d > largest ? d : largest
                        winner = e > largest ? bottom + 2 * j + 1 : winner
                        dx[winner] += gradients[j]
                    }
                }
            }
        }
    }

    /// Max pooling's routing lane by lane: the gradient to the first largest of a, b, d, e (the
    /// window in row-major order; strict > keeps the first), +0 to the rest.
    @inline(__always)
    private func maxPoolShares(_ a: Lanes, _ b: Lanes, _ d: Lanes, _ e: Lanes, _ gradient: Lanes) -> Lanes4 {
        let overA = b .> a
        let largestAB = a.replacing(with: b, where: overA)
        let toD = d .> largestAB
        let toE = e .> largestAB.replacing(with: d, where: toD)
        let later = toD .| toE
        return (
            Lanes.zero.replacing(with: gradient, where: .!(overA .| later)),
            Lanes.zero.replacing(with: gradient, where: overA .& .!later),
            Lanes.zero.replacing(with: gradient, where: toD .& .!toE),
            Lanes.zero.replacing(with: gradient, where: toE)
        )
    }

    public func computeReluPool2x2Backward(
        gradOutput: Tensor, activation: Tensor, mode: PoolMode, gradInput: Tensor
    ) throws {
        let op = "reluPool2x2Backward"
        let (c, h, w) = (activation.shape.c, activation.shape.h, activation.shape.w)
        let (outH, outW) = (h / 2, w / 2)
        let dy = try native(gradOutput, op).pointer, a = try native(activation, op).pointer
        let g = try native(gradInput, op).pointer
        HostParallel.forEach(c, totalWork: activation.count) { channel in
            let plane = a + channel * h * w, gradientPlane = g + channel * h * w
            for i in 0..<outH {
                let top = plane + 2 * i * w, bottom = top + w
                let gradientTop = gradientPlane + 2 * i * w, gradientBottom = gradientTop + w
                let gradients = dy + (channel * outH + i) * outW
                // Max pooling eight windows at a time, the scalar loop's selections lane by lane.
                var first = 0
                if mode == .max {
                    while first + 8 <= outW {
                        let x = 2 * first
                        let top16 = UnsafeRawPointer(top + x).loadUnaligned(as: SIMD16<Float>.self)
                        let bottom16 = UnsafeRawPointer(bottom + x).loadUnaligned(as: SIMD16<Float>.self)
                        let gradient = 0 + UnsafeRawPointer(gradients + first).loadUnaligned(as: Lanes.self)
                        let shares = maxPoolShares(
                            top16.evenHalf, top16.oddHalf, bottom16.evenHalf, bottom16.oddHalf, gradient)
                        let masked = (
                            Lanes.zero.replacing(with: shares.0, where: top16.evenHalf .> 0),
                            Lanes.zero.replacing(with: shares.1, where: top16.oddHalf .> 0),
                            Lanes.zero.replacing(with: shares.2, where: bottom16.evenHalf .> 0),
                            Lanes.zero.replacing(with: shares.3, where: bottom16.oddHalf .> 0)
                        )
                        (gradientTop + x).interleave((masked.0, masked.1), count: 8)
                        (gradientBottom + x).interleave((masked.2, masked.3), count: 8)
                        first += 8
                    }
                }
                for j in first..<outW {
                    // The window's four values, read before any is written; the same routing as
                    // pool2x2Backward (first maximum in row-major order), then ReLU's mask.
                    let values = (top[2 * j], top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1])
                    var shares = (Float(0), Float(0), Float(0), Float(0))
                    // 0 + g as pool2x2Backward adds into zeros: −0 becomes +0 there too.
                    let gradient = 0 + gradients[j]
                    switch mode {
                    case .avg:
                        let quarter = 0 + gradients[j] * 0.25
                        shares = (quarter, quarter, quarter, quarter)
                    case .max:
                        var winner = 0, largest = values.0
                        if values.1 > largest { winner = 1; largest = values.1 }
                        if values.2 > largest { winner = 2; largest = values.2 }
                        if values.3 > largest { winner = 3 }
                        switch winner {
                        case 0: shares.0 = gradient
                        case 1: shares.1 = gradient
                        case 2: shares.2 = gradient
                        default: shares.3 = gradient
                        }
                    }
                    gradientTop[2 * j] = values.0 > 0 ? shares.0 : 0
                    gradientTop[2 * j + 1] = values.1 > 0 ? shares.1 : 0
                    gradientBottom[2 * j] = values.2 > 0 ? shares.2 : 0
                    gradientBottom[2 * j + 1] = values.3 > 0 ? shares.3 : 0
                }
                // The odd last column is in no window.
                if w % 2 == 1 {
                    gradientTop[w - 1] = 0
                    gradientBottom[w - 1] = 0
                }
            }
            // The odd last row is in no window.
            if h % 2 == 1 { (gradientPlane + (h - 1) * w).update(repeating: 0, count: w) }
        }
    }
}
