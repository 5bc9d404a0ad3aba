import Foundation
import Kernels

extension OpenCLBackend {
    public func computeGram(features: Tensor, output: Tensor) throws {
        let (c, m) = (features.shape.c, features.shape.pixels)
        if c == 0 { return }
        let split = gramSplit(pixels: m)
        let partials = try gramPartials.atLeast(split.slices * c * c)
        let arguments: [KernelArgument] = [
            .buffer(try activationBuffer(features, "gram")), .int(c), .int(m), .int(split.length),
            .buffer(partials),
        ]
        if options.gramTiledProduct {
            let blocks = (c + Self.gramTiledBlock - 1) / Self.gramTiledBlock
            try context.enqueue(
                try kernel("gram_partial_tiled", reads: features.format),
                global: [blocks * 16, blocks * 16, split.slices],
                local: [16, 16, 1], arguments)
        } else {
            let tiles = (c + options.gramTile - 1) / options.gramTile
            try context.enqueue(
                try kernel("gram_partial", reads: features.format), global: [tiles, tiles, split.slices],
                local: workGroup(options.tileWorkGroupWidth, dimensions: 3), arguments)
        }
        try context.enqueue(
            try context.kernel("gram_finish"), global: [c, c], local: [options.elementwiseGroupSize, 1],
            [
                .buffer(partials), .int(c), .int(split.slices), .float(Float(1 / Double(max(c * m, 1)))),
                .buffer(try buffer(output, "gram")),
            ])
    }

    /// How `gram` splits the M pixels: slices of about GRAM_SLICE pixels (a multiple of the vector
    /// width), at most GRAM_SLICES, so small-C layers still give every core work. A function of the
    /// shape and the options only, so the sum order (and the bits) never change between runs.
    func gramSplit(pixels m: Int) -> (slices: Int, length: Int) {
        let width = options.vectorWidth
        let slice = options.gramSliceLength
        let wanted = min(max((m + slice - 1) / slice, 1), options.gramMaxSlices)
        let length = max(((m + wanted - 1) / wanted + width - 1) / width * width, width)
        return (max((m + length - 1) / length, 1), length)
    }

    public func computeGramBackward(
        gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool, reluMasked: Bool
    ) throws {
        let op = "gramBackward"
        let (c, m) = (features.shape.c, features.shape.pixels)
        if c == 0 || m == 0 { return }
        let tiled = options.gramBackwardTiledProduct
        let paddedRows = options.gramSymmetricRows(channels: c)
        let symmetric = try gramSymmetric.atLeast(paddedRows * c)
        try context.enqueue(
            try context.kernel("gram_symmetrize"), global: [c, paddedRows], local: [options.elementwiseGroupSize, 1],
            [
                .buffer(try buffer(gradGram, op)), .int(c), .float(Float(1 / Double(c * m))),
                .buffer(symmetric),
            ])
        let arguments: [KernelArgument] = [
            .buffer(symmetric), .buffer(try activationBuffer(features, op)), .int(c), .int(m),
            .buffer(try buffer(gradFeatures, op)), .flag(accumulate), .flag(reluMasked),
        ]
        if tiled {
            let (rows, pixels) = options.tiledProductBlock
            try context.enqueue(
                try kernel("gram_backward_tiled", reads: features.format),
                global: [(m + pixels - 1) / pixels * 16, (c + rows - 1) / rows * 16], local: [16, 16],
                arguments)
        } else {
            try context.enqueue(
                try kernel("gram_backward", reads: features.format),
                global: [
                    (m + options.gramBackwardColumns - 1) / options.gramBackwardColumns,
                    (paddedRows / options.gramBackwardRows + options.gramBackwardBlocksPerItem - 1)
                        / options.gramBackwardBlocksPerItem,
                ],
                local: workGroup(options.tileWorkGroupWidth, dimensions: 2), arguments)
        }
    }
}
