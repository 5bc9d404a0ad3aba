/// A CHW tensor of Float64 values on the host: the currency of the reference implementations.
struct ReferenceTensor: Equatable {
    var shape: Shape
    var values: [Double]

    init(shape: Shape, values: [Double]) {
        precondition(values.count == shape.count, "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    init(shape: Shape, floats: [Float]) {
        self.init(shape: shape, values: floats.map(Double.init))
    }

    static func zeros(_ shape: Shape) -> ReferenceTensor {
        ReferenceTensor(shape: shape, values: Array(repeating: 0, count: shape.count))
    }

    /// Uniform values in `range`, rounded to Float so a float32 backend sees exactly the same inputs.
    static func random(
        _ shape: Shape, in range: ClosedRange<Double> = -1...1,
        using generator: inout SplitMix64
    ) -> ReferenceTensor {
        ReferenceTensor(
            shape: shape,
            values: (0..<shape.count).map { _ in
                Double(Float(Double.random(in: range, using: &generator)))
            })
    }

    subscript(c: Int, i: Int, j: Int) -> Double {
        get { values[(c * shape.h + i) * shape.w + j] }
        set { values[(c * shape.h + i) * shape.w + j] = newValue }
    }

    var floats: [Float] { values.map(Float.init) }

    /// Elementwise |x|: running a reference op on absolute values gives Σ|terms| for error bounds.
    var magnitudes: ReferenceTensor { ReferenceTensor(shape: shape, values: values.map(abs)) }
}

/// Straightforward Float64 loops for every forward op of `Backend` (no BLAS, no cleverness),
/// the ground truth for the native and OpenCL backends: the op tests check the native forward ops
/// against them, and the op table's grad mode differentiates them by finite differences.
enum ReferenceOps {
    /// conv3x3 + bias (+ ReLU): stride 1, zero padding 1, cross-correlation; weights O×I×3×3.
    static func conv3x3(
        _ input: ReferenceTensor, weights: [Double], bias: [Double], outputChannels: Int,
        relu: Bool
    ) -> ReferenceTensor {
        let (inputChannels, h, w) = (input.shape.c, input.shape.h, input.shape.w)
        precondition(weights.count == outputChannels * inputChannels * 9 && bias.count == outputChannels)
        var output = ReferenceTensor.zeros(Shape(c: outputChannels, h: h, w: w))
        for o in 0..<outputChannels {
            for y in 0..<h {
                for x in 0..<w {
                    var sum = bias[o]
                    for c in 0..<inputChannels {
                        for ky in 0..<3 {
                            let sourceY = y + ky - 1
                            guard sourceY >= 0 && sourceY < h else { continue }
                            for kx in 0..<3 {
                                let sourceX = x + kx - 1
                                guard sourceX >= 0 && sourceX < w else { continue }
                                sum += weights[((o * inputChannels + c) * 3 + ky) * 3 + kx] * input[c, sourceY, sourceX]
                            }
                        }
                    }
                    output[o, y, x] = relu ? max(sum, 0) : sum
                }
            }
        }
        return output
    }

    static func relu(_ x: ReferenceTensor) -> ReferenceTensor {
        ReferenceTensor(shape: x.shape, values: x.values.map { max($0, 0) })
    }

    /// 2×2 stride-2 pooling, odd sizes floor.
    static func pool2x2(_ x: ReferenceTensor, mode: PoolMode) -> ReferenceTensor {
        var output = ReferenceTensor.zeros(Shape(c: x.shape.c, h: x.shape.h / 2, w: x.shape.w / 2))
        for c in 0..<output.shape.c {
            for i in 0..<output.shape.h {
                for j in 0..<output.shape.w {
                    let window = [
                        x[c, 2 * i, 2 * j], x[c, 2 * i, 2 * j + 1], x[c, 2 * i + 1, 2 * j], x[c, 2 * i + 1, 2 * j + 1],
                    ]
                    switch mode {
                    case .max: output[c, i, j] = window.max() ?? 0
                    case .avg: output[c, i, j] = window.reduce(0, +) / 4
                    }
                }
            }
        }
        return output
    }

    /// G = F Fᵀ / N with F the C×M features, N = C·M; shape 1×C×C.
    static func gram(_ features: ReferenceTensor) -> ReferenceTensor {
        let (c, m) = (features.shape.c, features.shape.pixels)
        let n = Double(c * m)
        var output = ReferenceTensor.zeros(Shape(c: 1, h: c, w: c))
        for a in 0..<c {
            for b in 0..<c {
                var sum = 0.0
                for k in 0..<m { sum += features.values[a * m + k] * features.values[b * m + k] }
                output[0, a, b] = sum / n
            }
        }
        return output
    }

    /// mean((a − b)²)
    /// target with `region` of every plane of `source` written at `origin` (copyRegion).
    static func copyRegion(
        _ source: ReferenceTensor, _ region: PlaneRegion, into target: ReferenceTensor, at origin: PlanePoint
    ) -> ReferenceTensor {
        var result = target
        for c in 0..<source.shape.c {
            for i in 0..<region.height {
                for j in 0..<region.width {
                    result[c, origin.y + i, origin.x + j] = source[c, region.y + i, region.x + j]
                }
            }
        }
        return result
    }

    static func meanSquaredError(_ a: ReferenceTensor, _ b: ReferenceTensor) -> Double {
        precondition(a.shape == b.shape)
        return zip(a.values, b.values).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.values.count)
    }

    /// ½ Σ_{c, i<H−1, j<W−1} (x[c,i,j] − x[c,i,j+1])² + (x[c,i,j] − x[c,i+1,j])² (docs/DESIGN.md).
    static func totalVariation(_ x: ReferenceTensor) -> Double {
        var sum = 0.0
        for c in 0..<x.shape.c {
            for i in 0..<max(x.shape.h - 1, 0) {
                for j in 0..<max(x.shape.w - 1, 0) {
                    let right = x[c, i, j] - x[c, i, j + 1], down = x[c, i, j] - x[c, i + 1, j]
                    sum += right * right + down * down
                }
            }
        }
        return sum / 2
    }

    /// out[c] = image[permutation[c]] · scale[c] + offset[c]
    static func preprocess(_ image: ReferenceTensor, affine: ChannelAffine) -> ReferenceTensor {
        var output = ReferenceTensor.zeros(image.shape)
        for c in 0..<image.shape.c {
            for i in 0..<image.shape.h {
                for j in 0..<image.shape.w {
                    output[c, i, j] =
                        image[affine.permutation[c], i, j] * Double(affine.scale[c]) + Double(affine.offset[c])
                }
            }
        }
        return output
    }

    /// x ⊙ mask, the 1×H×W mask over every channel.
    static func multiplyByMask(_ x: ReferenceTensor, mask: ReferenceTensor) -> ReferenceTensor {
        let plane = x.shape.pixels
        return ReferenceTensor(shape: x.shape, values: x.values.indices.map { x.values[$0] * mask.values[$0 % plane] })
    }

    /// The backward warp: image[c] sampled bilinearly at (i + v, j + u), (u, v) = flow[·, i, j],
    /// the position clamped into the plane. The position is i + v and j + u rounded to float32,
    /// as both backends compute it (the op samples there); the rest is in Float64.
    static func warpBilinear(_ image: ReferenceTensor, flow: ReferenceTensor) -> ReferenceTensor {
        let (h, w) = (image.shape.h, image.shape.w)
        var output = ReferenceTensor.zeros(image.shape)
        for c in 0..<image.shape.c {
            for i in 0..<h {
                for j in 0..<w {
                    output[c, i, j] = bilinearWeights(flow, i, j).map { $0.weight * image[c, $0.y, $0.x] }
                        .reduce(0, +)
                }
            }
        }
        return output
    }

    /// The four samples the warp by `flow` reads at pixel (i, j): the bilinear read at
    /// (i + v, j + u), both rounded to float32, the position clamped into the plane (NaN as 0).
    static func bilinearWeights(_ flow: ReferenceTensor, _ i: Int, _ j: Int) -> [(y: Int, x: Int, weight: Double)] {
        let (h, w) = (flow.shape.h, flow.shape.w)
        let (py, px) = (Float(i) + Float(flow[1, i, j]), Float(j) + Float(flow[0, i, j]))
        let x = Double(px >= 0 ? min(px, Float(w - 1)) : 0), y = Double(py >= 0 ? min(py, Float(h - 1)) : 0)
        let (x0, y0) = (Int(x), Int(y))
        let (x1, y1) = (min(x0 + 1, w - 1), min(y0 + 1, h - 1))
        let (fx, fy) = (x - Double(x0), y - Double(y0))
        return [(y0, x0, (1 - fx) * (1 - fy)), (y0, x1, fx * (1 - fy)), (y1, x0, (1 - fx) * fy), (y1, x1, fx * fy)]
    }

    /// warpᵀ(gradOutput): each pixel's value scattered onto the samples it reads.
    static func warpBilinearBackward(_ gradOutput: ReferenceTensor, flow: ReferenceTensor) -> ReferenceTensor {
        var output = ReferenceTensor.zeros(gradOutput.shape)
        for c in 0..<gradOutput.shape.c {
            for i in 0..<gradOutput.shape.h {
                for j in 0..<gradOutput.shape.w {
                    for s in bilinearWeights(flow, i, j) {
                        output[c, s.y, s.x] += s.weight * gradOutput[c, i, j]
                    }
                }
            }
        }
        return output
    }

    /// Σ_{c,p} mask[p] · (x − warped)², the temporal loss before its scale.
    static func temporalLoss(_ x: ReferenceTensor, warped: ReferenceTensor, mask: ReferenceTensor) -> Double {
        let plane = x.shape.pixels
        return x.values.indices.reduce(0) { sum, k in
            let d = x.values[k] - warped.values[k]
            return sum + mask.values[k % plane] * d * d
        }
    }

    /// round(clamp(x, 0, 255)), halves away from zero.
    static func clampRound(_ image: ReferenceTensor) -> ReferenceTensor {
        ReferenceTensor(
            shape: image.shape, values: image.values.map { min(max($0, 0), 255).rounded(.toNearestOrAwayFromZero) })
    }

    /// The preprocessing maps of docs/DESIGN.md's two weight flavours.
    static let caffeAffine = ChannelAffine(
        permutation: [2, 1, 0], scale: [1, 1, 1],
        offset: [-103.939, -116.779, -123.68])
    static let torchAffine = ChannelAffine(
        permutation: [0, 1, 2],
        scale: [0.229, 0.224, 0.225].map { Float(1 / (255 * $0)) },
        offset: zip([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).map { Float(-$0 / $1) })
}

extension Backend {
    /// A new tensor holding `reference`'s values (rounded to Float).
    func makeTensor(_ reference: ReferenceTensor) throws -> Tensor {
        let tensor = try makeTensor(reference.shape)
        try upload(reference.floats, to: tensor)
        return tensor
    }

    /// A tensor's values as a reference tensor.
    func reference(_ tensor: Tensor) throws -> ReferenceTensor {
        ReferenceTensor(shape: tensor.shape, floats: try download(tensor))
    }
}
