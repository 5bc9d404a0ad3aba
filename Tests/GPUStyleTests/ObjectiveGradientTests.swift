import Foundation
@testable import GPUStyle
import XCTest

/// The whole backward pass (network, losses, preprocessing, every buffer it reuses) against the
/// loss it differentiates: the directional derivative ⟨∇L(x), d⟩ of the full objective at the
/// real VGG19 weights must match the central difference (L(x + h·d) − L(x − h·d)) / 2h.
///
/// The op gradient tests prove each op; this catches wiring: a gradient read from or written to
/// the wrong buffer, a loss gradient added at the wrong layer, a missing mask. Measured: the two
/// agree within 0.1% on both backends; without the ReLU masks the analytic value is 4–40× off,
/// and with a pooling layer's input gradient written over its output gradient 4–300× off (or of
/// the wrong sign). The 1% tolerance covers what an exact gradient still leaves: the central
/// difference's O(h²) truncation, ReLU and max-pool kinks crossed within ±h, and float32 rounding
/// of L divided by 2h.
final class ObjectiveGradientTests: XCTestCase {
    func testImageGradientMatchesCentralDifferencesOfTheLoss() throws {
        try checkGradient(layers: LayerSelection())
    }

    /// A network whose deepest layer is a pooling layer (the backward pass starts on a pooling
    /// gradient) and whose content layer is a conv output (not fused with its ReLU).
    func testImageGradientWithAPoolingLayerDeepestAndAnObservedConv() throws {
        try checkGradient(layers: LayerSelection(content: ["conv2_1"], style: ["relu1_1", "pool2"]))
    }

    /// A style layer just before a pooling layer (relu1_2): pool1 cannot run in place and uses the
    /// gradient arena while pool2 runs in place; on native im2col no conv runs in place, so every
    /// pooling layer uses the arena.
    func testImageGradientWithTheGradientArena() throws {
        try checkGradient(
            layers: LayerSelection(content: ["relu2_1"], style: ["relu1_2", "relu3_1"]),
            backends: try testBackends() + [NativeBackend(convolution: .direct)])
    }

    /// A video frame's temporal term (slot 3) on top of the default losses: its gradient is wired
    /// in, at a weight where it is about as large as the rest of L, and the run starts from the
    /// warped image. The guide is made at another size, so the job resizes it.
    func testImageGradientWithATemporalTerm() throws {
        var generator = SeededGenerator(seed: 11)
        let warped = RGBImage(
            width: 50, height: 37, pixels: (0..<(3 * 50 * 37)).map { _ in Float.random(in: 0...255, using: &generator) }
        )
        let reliability = (0..<(50 * 37)).map { _ in Float(Int.random(in: 0...3, using: &generator) == 0 ? 0 : 1) }
        let guide = TemporalGuide(warped: warped, reliability: reliability, weight: 3_000_000)
        try checkGradient(layers: LayerSelection(), temporal: guide)
    }

    /// In place or through the arena, the backward pass computes the same numbers in the same
    /// order: the image gradient must agree bit for bit.
    func testInPlaceBackwardIsBitwiseTheArenaBackward() throws {
        for backend in try testBackends() {
            try assertSameImageGradientBits(backend, NoInPlaceConvolution(backend))
        }
    }

    /// The ReLU masks fused into other ops give the bits of the ReLUs' own passes: those of the
    /// ReLUs no loss reads (relu3_2, relu3_3, relu4_3 of the default layers) in the backward-data of
    /// the conv above, and those of the style layers in their Gram backward.
    func testFusedReluMasksAreBitwiseTheReluPasses() throws {
        for backend in try testBackends() {
            let separate = SeparateReluMasks(backend)
            try assertSameImageGradientBits(backend, separate)
            XCTAssertEqual(separate.maskedConvolutions, 3, "\(backend.name): the convs above relu3_2, relu3_3, relu4_3")
            XCTAssertEqual(separate.maskedGrams, 5, "\(backend.name): relu1_1 … relu5_1")
        }
    }

    /// One evaluation of the default objective at 40 pixels on each backend: the same image
    /// gradient, bit for bit, and not all zero.
    private func assertSameImageGradientBits(_ backend: Backend, _ other: Backend) throws {
        var gradients: [[UInt32]] = []
        for candidate in [backend, other] {
            var options = StyleJobOptions(
                contentPath: examplePath("tubingen.jpg"),
                stylePaths: [examplePath("starry_night.jpg")])
            options.imageSize = 40
            let job = try StyleJob(options: options, weightsPath: try cachedWeightsPath(), backend: candidate) { _ in }
            let gradient = try candidate.makeTensor(job.run.image.shape)
            try job.run.objective.evaluate(image: job.run.image, gradient: gradient)
            gradients.append(try candidate.download(gradient).map(\.bitPattern))
        }
        XCTAssertTrue(gradients[0].contains { $0 & 0x7fff_ffff != 0 }, backend.name)
        XCTAssertEqual(gradients[0], gradients[1], backend.name)
    }

    private func checkGradient(
        layers: LayerSelection, backends: [Backend]? = nil, temporal: TemporalGuide? = nil
    )
        throws
    {
        for backend in try backends ?? testBackends() {
            // h = 0.02 pixel units: at 0.5 the kinks crossed put a central difference along a
            // random direction 2–15% off (it converges on the analytic value as h shrinks: 914k,
            // 842k, 834k, 832k for h = 0.5, 0.1, 0.02, 0.005 against 830k); below 0.02 float32
            // rounding of L starts to show.
            var options = StyleJobOptions(
                contentPath: examplePath("tubingen.jpg"),
                stylePaths: [examplePath("starry_night.jpg")])
            options.imageSize = 40
            options.layers = layers
            let job = try StyleJob(
                options: options, weightsPath: try cachedWeightsPath(), backend: backend, temporal: temporal
            ) { _ in }
            let objective = job.run.objective
            if let temporal {
                let first = try job.run.currentImage()
                let size = (job.run.image.shape.w, job.run.image.shape.h)
                XCTAssertEqual(first, temporal.warped.resized(width: size.0, height: size.1).pixels, "starts warped")
            }
            let shape = job.run.image.shape
            var generator = SeededGenerator(seed: 7)
            // Away from the content image, where the content loss and its gradient vanish.
            let start = try job.run.currentImage().map { $0 + Float.random(in: -20...20, using: &generator) }
            let image = try backend.makeTensor(shape), gradient = try backend.makeTensor(shape)
            func loss(at values: [Float]) throws -> Double {
                try backend.upload(values, to: image)
                try objective.evaluate(image: image, gradient: gradient)
                return try objective.readLosses().total
            }
            _ = try loss(at: start)
            let g = try backend.download(gradient)
            if temporal != nil {
                let losses = try objective.readLosses()
                XCTAssertGreaterThan(losses.temporal, 0.2 * losses.total, "\(backend.name): the temporal term matters")
            }
            for trial in 0..<4 {
                // Random weights on the gradient's signs: a direction in which the derivative does
                // not cancel to near zero (where float32 rounding of L would swamp it), different
                // in every trial; the central difference measures the true derivative along it.
                let d = g.map { ($0 < 0 ? -1 : 1) * Float.random(in: 0...1, using: &generator) }
                let h: Float = 0.02
                let difference =
                    (try loss(at: zip(start, d).map { $0 + h * $1 })
                        - (try loss(at: zip(start, d).map { $0 - h * $1 }))) / Double(2 * h)
                let derivative = zip(g, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                print(
                    "objective gradient \(backend.name) trial \(trial): analytic \(derivative), central difference \(difference)"
                )
                XCTAssertEqual(
                    derivative, difference, accuracy: 0.01 * abs(derivative),
                    "\(backend.name) trial \(trial)")
            }
        }
    }
}

/// A backend whose convolutions claim they cannot run backward-data in place, so every pooling
/// layer's backward goes through the gradient arena.
private final class NoInPlaceConvolution: ForwardingBackend {
    override func backwardDataRunsInPlace(outputChannels: Int, inputChannels: Int) -> Bool { false }
}

/// A backend that runs a conv's or a Gram backward's fused ReLU mask as the ReLU's own backward
/// pass after it, as the network did before it passed the masks; counts the masked ops.
private final class SeparateReluMasks: ForwardingBackend {
    private(set) var maskedConvolutions = 0
    private(set) var maskedGrams = 0

    override func computeConv3x3BackwardData(
        gradOutput: Tensor, weights: ConvWeights, reluMaskFrom: Tensor?, gradInput: Tensor, accumulate: Bool
    ) throws {
        try inner.conv3x3BackwardData(
            gradOutput: gradOutput, weights: weights, reluMaskFrom: nil, gradInput: gradInput, accumulate: accumulate)
        guard let mask = reluMaskFrom else { return }
        maskedConvolutions += 1
        try inner.reluBackward(gradOutput: gradInput, activation: mask, gradInput: gradInput)
    }

    override func computeGramBackward(
        gradGram: Tensor, features: Tensor, gradFeatures: Tensor, accumulate: Bool, reluMasked: Bool
    ) throws {
        try inner.gramBackward(
            gradGram: gradGram, features: features, gradFeatures: gradFeatures, accumulate: accumulate)
        guard reluMasked else { return }
        maskedGrams += 1
        try inner.reluBackward(gradOutput: gradFeatures, activation: features, gradInput: gradFeatures)
    }
}
