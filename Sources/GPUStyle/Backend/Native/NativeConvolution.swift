/// A 3×3 conv layer in host memory, in the layouts its `NativeConvPlan` multiplies with.
public final class NativeConvWeights: ConvWeights {
    public let outputChannels: Int
    public let inputChannels: Int
    let plan: NativeConvPlan
    /// O × (I·9), the file's O×I×3×3 order as is: the left operand of the forward im2col sgemm,
    /// and what a Winograd layer's transforms are made from at each convolution.
    let forward: NativeStorage
    /// I × (O·9) with element [i][o][ky][kx] = weight[o][i][2−ky][2−kx]: backward-data is then a
    /// forward convolution of the output gradient with the channel roles swapped (nil for a
    /// Winograd layer).
    let flipped: NativeStorage?
    let bias: NativeStorage

    init(
        weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int, plan: NativeConvPlan,
        ledger: MemoryLedger
    ) throws {
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        self.plan = plan
        self.bias = try NativeStorage(count: bias.count, ledger: ledger)
        _ = self.bias.buffer.update(fromContentsOf: bias)
        forward = try NativeStorage(count: weights.count, ledger: ledger)
        _ = forward.buffer.update(fromContentsOf: weights)
        if plan.winograd {
            flipped = nil
        } else {
            let flipped = try NativeStorage(count: weights.count, ledger: ledger)
            _ = flipped.buffer.update(
                fromContentsOf: ConvKernelLayouts.flippedTransposed(
                    weights, outputChannels: outputChannels, inputChannels: inputChannels))
            self.flipped = flipped
        }
    }

    public var byteCount: Int { [forward, flipped, bias].reduce(0) { $0 + ($1?.byteCount ?? 0) } }

    /// The layout `storage`, which the plan guarantees for the path asking.
    func layout(_ storage: NativeStorage?, _ op: String) throws -> UnsafeMutablePointer<Float> {
        guard let storage else {
            throw StyleError(
                "native \(op): the layer's weights lack the layout of its planned algorithm (internal error)")
        }
        return storage.pointer
    }
}

/// The two ways `conv3x3BackwardData` can compute Wᵀ∗dY; both are one sgemm with the same FLOPs.
/// What differs is the column matrix streamed through memory: O·9 × H·W for the first, I·9 × H·W
/// for the second, so `preferred` streams the smaller (benchmarks/README.md, "Measurements moved
/// out of comments").
enum ConvBackwardMethod: CaseIterable {
    /// im2col of dY, then (I × O·9 flipped weights) · columns: the forward path with channel roles swapped.
    case flippedConvolution
    /// columns = Wᵀ (I·9 × O) · dY, then col2im scatter-adds them into the input gradient.
    case columnsToImage

    /// The method with the smaller column matrix (ties: the forward path, which needs no scatter).
    static func preferred(inputChannels: Int, outputChannels: Int) -> ConvBackwardMethod {
        inputChannels < outputChannels ? .columnsToImage : .flippedConvolution
    }
}

extension NativeBackend {
    /// Default bound on one im2col tile (floats): 8 Mi floats = 32 MiB.
    static let defaultColumnTileFloats = 8 << 20

    public func makeConvWeights(
        weights: [Float], bias: [Float], outputChannels: Int, inputChannels: Int
    ) throws -> ConvWeights {
        guard outputChannels > 0, inputChannels > 0 else {
            throw StyleError(
                "native makeConvWeights: \(outputChannels)×\(inputChannels) channels; both must be at least 1")
        }
        guard weights.count == outputChannels * inputChannels * 9, bias.count == outputChannels else {
            throw StyleError(
                "native makeConvWeights: \(weights.count) weights and \(bias.count) biases do not fit a \(outputChannels)×\(inputChannels)×3×3 layer"
            )
        }
        return try NativeConvWeights(
            weights: weights, bias: bias, outputChannels: outputChannels, inputChannels: inputChannels,
            plan: convPlan(outputChannels: outputChannels, inputChannels: inputChannels),
            ledger: ledger)
    }

    public func computeConv3x3(
        input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor, pool: ConvPooling?
    )
        throws
    {
        try convolveForward(input: input, weights: weights, relu: relu, output: output)
        if let pool { try computePool2x2(input: output, mode: pool.mode, output: pool.output) }
    }

    private func convolveForward(input: Tensor, weights: ConvWeights, relu: Bool, output: Tensor) throws {
        let layer = try nativeWeights(weights, "conv3x3")
        let (h, w) = (input.shape.h, input.shape.w)
        let x = try native(input, "conv3x3").pointer, y = try native(output, "conv3x3").pointer
        let bias = layer.bias.pointer, plane = h * w
        if layer.plan.winograd {
            let tile = layer.plan.tile(height: h, width: w)
            try winogradConvolve(
                x, channels: layer.inputChannels, height: h, width: w,
                transform: try winogradTransforms(layer, tile: tile, flipped: false), tile: tile, flipped: false,
                outputChannels: layer.outputChannels, output: .biased(bias, relu: relu), into: y)
            return
        }
        try convolve(
            x, channels: layer.inputChannels, height: h, width: w, matrix: layer.forward.pointer,
            outputChannels: layer.outputChannels, into: y, beta: 0)
        HostParallel.forEach(layer.outputChannels, totalWork: output.count) { o in
            let row = y + o * plane, b = bias[o]
            if relu {
                for i in 0..<plane { row[i] = max(row[i] + b, 0) }
            } else {
                for i in 0..<plane { row[i] += b }
            }
        }
    }

    public func computeConv3x3BackwardData(
        gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        let op = "conv3x3BackwardData"
        let layer = try nativeWeights(weights, op)
        let (h, w) = (gradOutput.shape.h, gradOutput.shape.w)
        let dy = try native(gradOutput, op).pointer, dx = try native(gradInput, op).pointer
        let mask = try reluMaskFrom.map { try native($0, op).pointer }
        if layer.plan.winograd {
            // Mask and accumulation fused into the output transform.
            let tile = layer.plan.tile(height: h, width: w)
            try winogradConvolve(
                dy, channels: layer.outputChannels, height: h, width: w,
                transform: try winogradTransforms(layer, tile: tile, flipped: true), tile: tile, flipped: true,
                outputChannels: layer.inputChannels, output: .gradient(mask: mask, accumulate: accumulate),
                into: dx)
            return
        }
        // The mask applies to the new term only, so with accumulation the term is computed
        // aside and added masked; otherwise it goes straight into gradInput.
        let aside = mask != nil && accumulate
        let target = aside ? try resultScratch.floats(gradInput.count) : dx
        let addToTarget = accumulate && !aside
        let method =
            backwardMethodOverride
            ?? .preferred(inputChannels: layer.inputChannels, outputChannels: layer.outputChannels)
        switch method {
        case .flippedConvolution:
            try convolve(
                dy, channels: layer.outputChannels, height: h, width: w, matrix: try layer.layout(layer.flipped, op),
                outputChannels: layer.inputChannels, into: target, beta: addToTarget ? 1 : 0)
        case .columnsToImage:
            if !addToTarget {
                HostParallel.forEachChunk(gradInput.count) { range in
                    (target + range.lowerBound).update(repeating: 0, count: range.count)
                }
            }
            try scatterTransposed(
                dy, outputChannels: layer.outputChannels, height: h, width: w,
                matrix: layer.forward.pointer, inputChannels: layer.inputChannels, into: target)
        }
        guard let mask else { return }
        HostParallel.forEachChunk(gradInput.count) { range in
            let first = range.lowerBound
            NativeBackend.reluMask(
                target + first, by: mask + first, into: dx + first, count: range.count, accumulate: aside)
        }
    }

    /// The layer's Winograd weight transforms for one convolution of tile `tile`, in the transform
    /// scratch: F(2×2)'s 16 [ξ][O][I] serve both directions (backward-data reads them permuted),
    /// F(4×4)'s 36 and F(6×6)'s 64 are the flipped kernels' for backward-data. Made at every convolution, as
    /// OpenCL does: keeping F(4×4)'s for both directions would cost 72 floats a weight pair, 8
    /// times the raw taps (benchmarks/README.md, "native F(4×4) per convolution").
    func winogradTransforms(_ layer: NativeConvWeights, tile: Int, flipped: Bool) throws -> UnsafePointer<Float> {
        let (o, i) = (layer.outputChannels, layer.inputChannels)
        let u = try transformScratch.floats((tile + 2) * (tile + 2) * o * i)
        NativeBackend.winograd(tile: tile).transformWeights(
            layer.forward.pointer, outputChannels: o, inputChannels: i, flipped: flipped && tile != 2, into: u)
        return UnsafePointer(u)
    }

    /// Winograd layers run in place: `winogradConvolve` stores a band only after the next band's
    /// input is transformed. im2col layers do not.
    public func backwardDataRunsInPlace(outputChannels: Int, inputChannels: Int) -> Bool {
        convPlan(outputChannels: outputChannels, inputChannels: inputChannels).winograd
    }

    public func winogradTile(outputChannels: Int, inputChannels: Int, height: Int, width: Int) -> Int? {
        let plan = convPlan(outputChannels: outputChannels, inputChannels: inputChannels)
        return plan.winograd ? plan.tile(height: height, width: width) : nil
    }

    func nativeWeights(_ weights: ConvWeights, _ op: String) throws -> NativeConvWeights {
        guard let layer = weights as? NativeConvWeights else {
            throw StyleError("native \(op): the conv weights were made by another backend (internal error)")
        }
        return layer
    }

    /// y (outC × H·W) = matrix (outC × inC·9) · im2col(x) + beta · y.
    func convolve(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, matrix: UnsafePointer<Float>,
        outputChannels: Int, into y: UnsafeMutablePointer<Float>, beta: Float
    ) throws {
        try forEachRowTile(channels: channels, height: h, width: w) { firstRow, rows, columns in
            let (k, n) = (channels * 9, rows * w)
            NativeBackend.im2col(
                x, channels: channels, height: h, width: w, firstRow: firstRow, rows: rows, into: columns)
            Blas.gemm(
                m: outputChannels, n: n, k: k, a: matrix, lda: k, b: columns, ldb: n,
                beta: beta, c: y + firstRow * w, ldc: h * w)
        }
    }

    /// dx (inC × H·W) += col2im(matrixᵀ · dy), matrix being the forward O × (I·9) weights.
    func scatterTransposed(
        _ dy: UnsafePointer<Float>, outputChannels: Int, height h: Int, width w: Int,
        matrix: UnsafePointer<Float>, inputChannels: Int, into dx: UnsafeMutablePointer<Float>
    ) throws {
        try forEachRowTile(channels: inputChannels, height: h, width: w) { firstRow, rows, columns in
            let (k, n) = (inputChannels * 9, rows * w)
            Blas.gemm(
                transposeA: true, m: k, n: n, k: outputChannels, a: matrix, lda: k, b: dy + firstRow * w,
                ldb: h * w, beta: 0, c: columns, ldc: n)
            NativeBackend.col2im(
                columns, channels: inputChannels, height: h, width: w, firstRow: firstRow, rows: rows,
                into: dx)
        }
    }

    /// Splits the H rows into tiles whose im2col columns (channels·9 × rows·W) fit in
    /// `columnTileFloats`, and calls `body(firstRow, rows, columns)` for each in order.
    private func forEachRowTile(
        channels: Int, height h: Int, width w: Int,
        _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void
    ) throws {
        guard h > 0, w > 0 else { return }
        let rowsPerTile = max(1, min(h, columnTileFloats / max(channels * 9 * w, 1)))
        let columns = try columnScratch.floats(channels * 9 * rowsPerTile * w)
        for firstRow in stride(from: 0, to: h, by: rowsPerTile) {
            body(firstRow, min(rowsPerTile, h - firstRow), columns)
        }
    }

    /// columns[(c·9 + ky·3 + kx)][y·W + x] = x[c][firstRow + y + ky − 1][x + kx − 1], zero outside the image,
    /// for the `rows` output rows from `firstRow`.
    static func im2col(
        _ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, firstRow: Int, rows: Int,
        into columns: UnsafeMutablePointer<Float>
    ) {
        let n = rows * w
        HostParallel.forEach(channels * 3, totalWork: channels * 9 * n) { job in
            let (c, ky) = (job / 3, job % 3)
            for kx in 0..<3 {
                let tap = columns + (c * 9 + ky * 3 + kx) * n
                for y in 0..<rows {
                    let sourceRow = firstRow + y + ky - 1
                    let target = tap + y * w
                    guard sourceRow >= 0 && sourceRow < h else {
                        target.update(repeating: 0, count: w)
                        continue
                    }
                    let source = x + (c * h + sourceRow) * w
                    switch kx {
                    case 0:
                        target[0] = 0
                        (target + 1).update(from: source, count: w - 1)
                    case 1:
                        target.update(from: source, count: w)
                    default:
                        target.update(from: source + 1, count: w - 1)
                        target[w - 1] = 0
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: dx[c][firstRow + y + ky − 1][x + kx − 1] += columns[(c·9 + ky·3 + kx)][y·W + x].
    static func col2im(
        _ columns: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, firstRow: Int,
        rows: Int, into dx: UnsafeMutablePointer<Float>
    ) {
        let n = rows * w
        // Gathered per target row (the tile's rows and the halo row on each side, clipped to the
        // image), so every job owns the row it writes: parallel even for 3 channels.
        let (top, bottom) = (max(firstRow - 1, 0), min(firstRow + rows + 1, h))
        let targetRows = bottom - top
        HostParallel.forEach(channels * targetRows, totalWork: channels * 9 * n) { job in
            let (c, targetRow) = (job / targetRows, top + job % targetRows)
            let target = dx + (c * h + targetRow) * w
            for ky in 0..<3 {
                let y = targetRow - firstRow - ky + 1
                guard y >= 0 && y < rows else { continue }
                let left = columns + (c * 9 + ky * 3) * n + y * w, middle = left + n, right = middle + n
                for j in 0..<w { target[j] += middle[j] }
                for j in 0..<(w - 1) {
                    target[j] += left[j + 1]
                    target[j + 1] += right[j]
                }
            }
        }
    }
}
