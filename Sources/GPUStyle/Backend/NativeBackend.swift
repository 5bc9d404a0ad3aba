import CBLAS
import Foundation

/// The host implementation of every `Backend` op: Swift loops spread over the cores and
/// OpenBLAS sgemm for the convolutions and Gram matrices. It is the numeric reference for the
/// OpenCL backend and the CPU timing baseline, so it is multi-threaded and does not allocate
/// in the iteration loop (im2col columns and temporaries live in scratch buffers it keeps).
/// Ops run synchronously; `finish` has nothing to wait for.
///
/// Not thread-safe: one run drives one backend from one thread (the scratch buffers are shared).
public final class NativeBackend: Backend {
    /// "native", or "native-direct" / "native-winograd" when one convolution algorithm is forced.
    public let name: String
    /// How the 3×3 convolutions are computed; each layer's plan is fixed when its weights are made.
    public let convolution: ConvolutionAlgorithm
    let ledger = MemoryLedger()
    /// im2col columns of the current row tile.
    let columnScratch = ScratchBuffer()
    /// Results that must be combined with an output afterwards (masked accumulation, dG + dGᵀ).
    let resultScratch = ScratchBuffer()
    /// Largest im2col tile in floats; bounds the column scratch whatever the image size.
    var columnTileFloats: Int
    /// Largest Winograd band (transformed inputs and products) in floats; shares the column scratch.
    var winogradBandFloats: Int
    /// Forces one way of computing conv3x3BackwardData where it runs im2col (tests, benchmarks);
    /// nil picks per layer.
    var backwardMethodOverride: ConvBackwardMethod?

    /// - Parameter convolution: im2col, Winograd, or per layer whichever measured faster (the default).
    public init(convolution: ConvolutionAlgorithm = .automatic) {
        _ = BlasKernelChoice.applied
        // One OpenBLAS thread (a process-wide setting): `Blas` spreads the products over the cores.
        openblas_set_num_threads(1)
        self.convolution = convolution
        name = convolution == .automatic ? "native" : "native-\(convolution.rawValue)"
        columnTileFloats = NativeBackend.defaultColumnTileFloats
        winogradBandFloats = NativeBackend.defaultWinogradBandFloats
    }

    /// The algorithms a layer of these channel counts gets on this backend.
    func convPlan(outputChannels: Int, inputChannels: Int) -> NativeConvPlan {
        NativeConvPlan(convolution, outputChannels: outputChannels, inputChannels: inputChannels)
    }

    // MARK: Memory

    public func makeTensor(_ shape: Shape) throws -> Tensor {
        guard shape.c >= 0, shape.h >= 0, shape.w >= 0 else {
            throw StyleError("native makeTensor: shape \(shape) has a negative size (internal error)")
        }
        return Tensor(shape: shape, storage: try NativeStorage(count: shape.count, ledger: ledger))
    }

    public func upload(_ values: [Float], to tensor: Tensor) throws {
        let target = try native(tensor, "upload")
        guard values.count == target.count else {
            throw StyleError("native upload: \(values.count) values for a tensor of shape \(tensor.shape) (\(target.count) values; internal error)")
        }
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { target.pointer.update(from: base, count: values.count) }
        }
    }

    /// The tensor's values: its shape's count from the start of the storage, which may be larger
    /// (a tensor in a borrowed buffer, `WorkspaceLayout`), as on OpenCL.
    public func download(_ tensor: Tensor) throws -> [Float] {
        let storage = try native(tensor, "download")
        guard tensor.count <= storage.count else {
            throw StyleError("native download: a tensor of \(tensor.count) values in a buffer of \(storage.count) (internal error)")
        }
        return Array(UnsafeBufferPointer(start: storage.pointer, count: tensor.count))
    }

    public var allocatedBytes: Int { ledger.allocatedBytes }
    public var peakAllocatedBytes: Int { ledger.peakAllocatedBytes }
    /// Bytes of the reusable scratch buffers (not part of `allocatedBytes`, which counts tensors
    /// and weights as the protocol says).
    public var scratchBytes: Int { columnScratch.byteCount + resultScratch.byteCount }

    public func finish() throws {}

    // MARK: Elementwise and vector ops

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

    public func computeDot(_ x: Tensor, _ y: Tensor) throws -> Double {
        let xs = try native(x, "dot").pointer, ys = try native(y, "dot").pointer
        return HostParallel.deterministicSum(x.count) { range in
            var sum = 0.0
            for i in range { sum += Double(xs[i]) * Double(ys[i]) }
            return sum
        }
    }

    // MARK: ReLU

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

    // MARK: Losses

    public func computeMeanSquaredError(_ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int,
                                 accumulate: Bool) throws {
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

    public func computeMeanSquaredErrorGradient(_ a: Tensor, _ b: Tensor, factor: Float, grad: Tensor,
                                                accumulate: Bool) throws {
        let xs = try native(a, "meanSquaredErrorGradient").pointer, ys = try native(b, "meanSquaredErrorGradient").pointer
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

    // MARK: Image pre/post-processing

    public func computePreprocess(image: Tensor, affine: ChannelAffine, output: Tensor) throws {
        let x = try native(image, "preprocess").pointer, y = try native(output, "preprocess").pointer
        let plane = image.shape.pixels
        HostParallel.forEach(3, totalWork: image.count) { c in
            let source = x + affine.permutation[c] * plane, target = y + c * plane
            let (s, o) = (affine.scale[c], affine.offset[c])
            for i in 0..<plane { target[i] = source[i] * s + o }
        }
    }

    public func computePreprocessBackward(gradOutput: Tensor, affine: ChannelAffine, gradImage: Tensor, accumulate: Bool) throws {
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

    // MARK: Optimiser

    public func computeAdamStep(parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, parameters: AdamParameters,
                                corrections: AdamCorrections) throws {
        let p = try native(parameter, "adamStep").pointer, g = try native(gradient, "adamStep").pointer
        let ms = try native(m, "adamStep").pointer, vs = try native(v, "adamStep").pointer
        let (beta1, beta2) = (parameters.beta1, parameters.beta2)
        // The per-element update in Float, like the kernel.
        let (correction1, correction2) = (corrections.first, corrections.second)
        let (rate, epsilon) = (parameters.learningRate, parameters.epsilon)
        HostParallel.forEachChunk(parameter.count) { range in
            for i in range {
                let mi = beta1 * ms[i] + (1 - beta1) * g[i]
                let vi = beta2 * vs[i] + (1 - beta2) * g[i] * g[i]
                ms[i] = mi
                vs[i] = vi
                p[i] -= rate * (mi / correction1) / ((vi / correction2).squareRoot() + epsilon)
            }
        }
    }

    // MARK: Checks shared by the ops

    /// The native storage of `tensor`, or an error when it belongs to another backend.
    func native(_ tensor: Tensor, _ op: String) throws -> NativeStorage {
        guard let storage = tensor.storage as? NativeStorage else {
            throw StyleError("native \(op): the tensor was made by another backend (internal error: tensors cannot be shared between backends)")
        }
        return storage
    }

    /// The slot's float (`requireSlot` checked its index).
    private func scalarSlot(_ scalars: Tensor, _ slot: Int, _ op: String) throws -> UnsafeMutablePointer<Float> {
        try native(scalars, op).pointer + slot
    }

    private func store(_ value: Double, at slot: UnsafeMutablePointer<Float>, accumulate: Bool) {
        slot.pointee = Float(accumulate ? Double(slot.pointee) + value : value)
    }
}
