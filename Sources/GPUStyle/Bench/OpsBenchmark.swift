import Foundation

/// Times the heavy ops of the run (conv forward, conv backward-data, Gram, Gram backward) at
/// every VGG19 convolution shape of an image size, on any backend: the median wall time of
/// `repeats` runs after one warm-up, each bracketed by `finish()` so asynchronous backends are
/// timed to completion.
public enum OpsBenchmark {
    public enum Op: String, CaseIterable, Sendable {
        case convForward = "conv forward"
        case convBackwardData = "conv backward-data"
        case gram = "gram"
        case gramBackward = "gram backward"
    }

    /// One VGG19 convolution at one image size.
    public struct ConvShape: Equatable, Sendable {
        public let layer: String
        public let inputChannels: Int
        public let outputChannels: Int
        public let height: Int
        public let width: Int

        /// FLOPs of `op` at this shape: 2·C_in·9·C_out·H·W for the convolutions, 2·C²·H·W for the
        /// Gram ops (C = C_out; the full product, even where a kernel uses the symmetry).
        public func flops(_ op: Op) -> Double {
            let pixels = Double(height * width)
            switch op {
            case .convForward, .convBackwardData:
                return 2 * Double(inputChannels * 9 * outputChannels) * pixels
            case .gram, .gramBackward:
                return 2 * Double(outputChannels * outputChannels) * pixels
            }
        }
    }

    public struct Measurement: Sendable {
        public let backend: String
        public let shape: ConvShape
        public let op: Op
        public let medianSeconds: Double
        public var gflops: Double { shape.flops(op) / medianSeconds / 1e9 }
    }

    /// The 16 convolutions of VGG19 on a `width`×`height` image: each block works at the size the
    /// pooling layers before it leave (halved, floor).
    public static func vggShapes(width: Int, height: Int) -> [ConvShape] {
        var (h, w) = (height, width)
        var block = 1
        return VGGModel.vgg19.convolutions.map { conv in
            let convBlock = Int(conv.name.dropFirst(4).prefix(while: { $0 != "_" })) ?? block
            while block < convBlock {
                (h, w) = (h / 2, w / 2)
                block += 1
            }
            return ConvShape(
                layer: conv.name, inputChannels: conv.inputChannels, outputChannels: conv.outputChannels,
                height: h, width: w)
        }
    }

    /// Measures `ops` at every shape on every backend. The backends take turns op by op, so
    /// their ratios are measured side by side even when the machine's load drifts. Inputs are
    /// the same deterministic pseudo-random values on every backend. `progress` is called after
    /// each measurement.
    public static func run(
        backends: [Backend], shapes: [ConvShape], ops: [Op] = Op.allCases, repeats: Int,
        progress: (Measurement) -> Void = { _ in }
    ) throws -> [Measurement] {
        guard repeats >= 1 else { throw StyleError("--repeats must be at least 1") }
        var results: [Measurement] = []
        for shape in shapes {
            let workloads = try backends.map { try Workload(backend: $0, shape: shape) }
            for op in ops {
                for workload in workloads {
                    let seconds = try medianTime(repeats: repeats, backend: workload.backend) { try workload.run(op) }
                    let measurement = Measurement(
                        backend: workload.backend.name, shape: shape, op: op,
                        medianSeconds: seconds)
                    progress(measurement)
                    results.append(measurement)
                }
            }
        }
        return results
    }

    /// The tensors and weights of one shape on one backend, filled with the same values everywhere.
    private struct Workload {
        let backend: Backend
        let input: Tensor, output: Tensor, gradOutput: Tensor, gradInput: Tensor, gram: Tensor
        let weights: ConvWeights

        init(backend: Backend, shape: ConvShape) throws {
            self.backend = backend
            var generator = SplitMix64(seed: 42)
            let inputShape = Shape(c: shape.inputChannels, h: shape.height, w: shape.width)
            let outputShape = Shape(c: shape.outputChannels, h: shape.height, w: shape.width)
            let gramShape = Shape(c: 1, h: shape.outputChannels, w: shape.outputChannels)
            input = try backend.makeTensor(inputShape)
            output = try backend.makeTensor(outputShape)
            gradOutput = try backend.makeTensor(outputShape)
            gradInput = try backend.makeTensor(inputShape)
            gram = try backend.makeTensor(gramShape)
            try backend.upload(generator.floats(inputShape.count, in: 0...1), to: input)
            try backend.upload(generator.floats(outputShape.count, in: -1...1), to: output)
            try backend.upload(generator.floats(gramShape.count, in: -1...1), to: gram)
            let weightCount = shape.outputChannels * shape.inputChannels * 9
            weights = try backend.makeConvWeights(
                weights: generator.floats(weightCount, in: -0.05...0.05),
                bias: generator.floats(shape.outputChannels, in: -0.1...0.1),
                outputChannels: shape.outputChannels, inputChannels: shape.inputChannels)
        }

        func run(_ op: Op) throws {
            switch op {
            case .convForward:
                try backend.conv3x3(input: input, weights: weights, relu: true, output: output)
            case .convBackwardData:
                // The input doubles as the ReLU mask (values in 0…1: nearly all pass).
                try backend.conv3x3BackwardData(
                    gradOutput: output, weights: weights, reluMaskFrom: input,
                    gradInput: gradInput, accumulate: false)
            case .gram:
                try backend.gram(features: output, output: gram)
            case .gramBackward:
                try backend.gramBackward(gradGram: gram, features: output, gradFeatures: gradOutput, accumulate: true)
            }
        }
    }

    /// Median wall time of `repeats` runs of `work` after one warm-up, each run bracketed by `finish()`.
    static func medianTime(repeats: Int, backend: Backend, _ work: () throws -> Void) throws -> Double {
        try work()
        try backend.finish()
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try work()
            try backend.finish()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        times.sort()
        return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    }
}

extension SplitMix64 {
    /// `count` values uniform in `range`.
    mutating func floats(_ count: Int, in range: ClosedRange<Float>) -> [Float] {
        (0..<count).map { _ in
            let unit = Float(next() >> 40) / Float(1 << 24)
            return range.lowerBound + unit * (range.upperBound - range.lowerBound)
        }
    }
}
