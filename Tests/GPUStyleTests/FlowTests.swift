import Foundation
@testable import GPUStyle
import XCTest

/// The video ops against the Float64 reference, and the optical flow end to end on sequences
/// with known motion made from the example photos (the op table checks every step OpenCL against
/// native and the gradients against finite differences).
final class FlowTests: OpTestCase {
    func testWarpAndTemporalLossMatchTheReference() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        for shape in [Shape(c: 3, h: 20, w: 31), Shape(c: 2, h: 1, w: 9), Shape(c: 1, h: 1, w: 1)] {
            let image = ReferenceTensor.random(shape, using: &generator)
            let flow = ReferenceTensor.random(Shape(c: 2, h: shape.h, w: shape.w), in: -4...4, using: &generator)
            let output = try backend.makeTensor(shape)
            try backend.warpBilinear(try backend.makeTensor(image), flow: try backend.makeTensor(flow), output: output)
            let expected = ReferenceOps.warpBilinear(image, flow: flow)
            // γ(6) of the bilinear sum of |terms| (weights ≥ 0): the reference on |image|.
            let sizes = ReferenceOps.warpBilinear(image.magnitudes, flow: flow).values
            assertClose(
                try backend.download(output), expected, bounds: sizes.map { float32ErrorFactor(terms: 6) * $0 },
                "warp \(shape)")

            let warped = ReferenceTensor.random(shape, using: &generator)
            let mask = ReferenceTensor.random(Shape(c: 1, h: shape.h, w: shape.w), in: 0...1, using: &generator)
            let scalars = try backend.makeTensor(.vector(1))
            try backend.temporalLoss(
                try backend.makeTensor(image), warped: try backend.makeTensor(warped),
                mask: try backend.makeTensor(mask),
                scale: 0.5, scalars: scalars, slot: 0, accumulate: false)
            let loss = 0.5 * ReferenceOps.temporalLoss(image, warped: warped, mask: mask)
            // Native sums in Double: one rounding of the scaled sum (the terms are all ≥ 0).
            XCTAssertEqual(Double(try backend.download(scalars)[0]), loss, accuracy: 4 * 0x1p-24 * loss + 1e-30)
        }
    }

    // MARK: Sequences with known motion

    /// A frame rendered from `source` (a photo, RGB 0–255) through `map`, which gives each frame
    /// pixel's position on the photo: the mean of 4×4 bilinear samples across the pixel, so that
    /// every frame is filtered alike whatever the motion.
    static func render(
        _ source: RGBImage, width: Int, height: Int, map: (Double, Double) -> (Double, Double)
    )
        -> RGBImage
    {
        var frame = RGBImage(width: width, height: height, red: 0, green: 0, blue: 0)
        for i in 0..<height {
            for j in 0..<width {
                var sums = [0.0, 0.0, 0.0]
                for a in 0..<4 {
                    for b in 0..<4 {
                        let (y, x) = map(Double(i) + (Double(a) - 1.5) / 4, Double(j) + (Double(b) - 1.5) / 4)
                        for c in 0..<3 { sums[c] += bilinear(source, c, y, x) }
                    }
                }
                for c in 0..<3 { frame[c, i, j] = Float(sums[c] / 16) }
            }
        }
        return frame
    }

    static func bilinear(_ image: RGBImage, _ c: Int, _ y: Double, _ x: Double) -> Double {
        let y = min(max(y, 0), Double(image.height - 1)), x = min(max(x, 0), Double(image.width - 1))
        let (y0, x0) = (Int(y), Int(x))
        let (y1, x1) = (min(y0 + 1, image.height - 1), min(x0 + 1, image.width - 1))
        let (fy, fx) = (y - Double(y0), x - Double(x0))
        let top = (1 - fx) * Double(image[c, y0, x0]) + fx * Double(image[c, y0, x1])
        let bottom = (1 - fx) * Double(image[c, y1, x0]) + fx * Double(image[c, y1, x1])
        return (1 - fy) * top + fy * bottom
    }

    static let side = 96

    /// The photo the sequences are cut from: 2× the frame size, so a frame shows a detailed crop.
    static func photo(_ name: String) throws -> RGBImage {
        try ImageFile.read(examplePath(name)).image.resized(maxSide: 2 * side)
    }

    /// Frames A and B with B(G(x)) = A(x), G = centre + M(x − centre) + t, both rendered from the
    /// photo around its centre: the true flow from A to B is G(x) − x.
    static func affinePair(
        _ photo: RGBImage, matrix m: (Double, Double, Double, Double), shift: (Double, Double)
    )
        -> (from: RGBImage, to: RGBImage, truth: [(Double, Double)])
    {
        let centre = Double(side - 1) / 2
        let (oy, ox) = (Double(photo.height - side) / 2, Double(photo.width - side) / 2)
        let from = render(photo, width: side, height: side) { y, x in (y + oy, x + ox) }
        // B(y) = A(G⁻¹(y)); G⁻¹(y) = centre + M⁻¹(y − centre − t).
        let det = m.0 * m.3 - m.1 * m.2
        let to = render(photo, width: side, height: side) { y, x in
            let (dy, dx) = (y - centre - shift.0, x - centre - shift.1)
            return (centre + (m.3 * dy - m.1 * dx) / det + oy, centre + (-m.2 * dy + m.0 * dx) / det + ox)
        }
        var truth: [(Double, Double)] = []
        for i in 0..<side {
            for j in 0..<side {
                let (dy, dx) = (Double(i) - centre, Double(j) - centre)
                truth.append((m.0 * dy + m.1 * dx + shift.0 - dy, m.2 * dy + m.3 * dx + shift.1 - dx))
            }
        }
        return (from, to, truth)
    }

    /// Mean end-point error over the pixels `count` selects (flow planes x then y; truth (y, x)).
    static func endPointError(_ flow: [Float], _ truth: [(Double, Double)], where count: (Int, Int) -> Bool) -> Double {
        let plane = side * side
        var (sum, n) = (0.0, 0)
        for i in 0..<side {
            for j in 0..<side where count(i, j) {
                let p = i * side + j
                let (dy, dx) = (Double(flow[plane + p]) - truth[p].0, Double(flow[p]) - truth[p].1)
                sum += (dx * dx + dy * dy).squareRoot()
                n += 1
            }
        }
        return sum / Double(max(n, 1))
    }

    /// Pixels at least this far from the frame's edge: those whose motion may leave the frame
    /// (up to ~3.5 px here) have no data term, only the smoothness.
    static let margin = 6

    static func interior(_ i: Int, _ j: Int) -> Bool {
        (margin..<(side - margin)).contains(i) && (margin..<(side - margin)).contains(j)
    }

    /// Sub-pixel translation, zoom and rotation of a photo with texture everywhere (where a frame
    /// has none, as a sky, the flow is the regulariser's fill-in and no method recovers it): the
    /// mean EPE in the interior within a tenth of a pixel for the translation (TV-L1's model is
    /// piecewise constant: only the linearisation and the frames' filtering are left) and a fifth
    /// for zoom and rotation, whose linear fields TV biases towards steps.
    func testFlowRecoversTranslationZoomAndRotation() throws {
        let photo = try Self.photo("shipwreck.jpg")
        let angle = 3.0 * Double.pi / 180
        let cases: [(String, (Double, Double, Double, Double), (Double, Double), Double)] = [
            ("translation", (1, 0, 0, 1), (-1.62, 2.37), 0.1),
            ("zoom 1.05", (1.05, 0, 0, 1.05), (0, 0), 0.2),
            ("rotation 3°", (cos(angle), -sin(angle), sin(angle), cos(angle)), (0.4, 0), 0.2),
        ]
        for backend in try testBackends() {
            for (name, matrix, shift, bound) in cases {
                let pair = Self.affinePair(photo, matrix: matrix, shift: shift)
                let flow = try OpticalFlow().flow(backend: backend, from: pair.from, to: pair.to)
                let error = Self.endPointError(flow, pair.truth, where: Self.interior)
                XCTAssertLessThan(error, bound, "\(backend.name) \(name): mean EPE \(error) px")
            }
        }
    }

    /// A 24×24 patch of another photo pasted on a still background, moved by (3, 5) px: the flow
    /// inside the patch (eroded by 3 px, away from the motion boundary) within a quarter pixel, and
    /// on the background away from both of its positions within a tenth (TV keeps the boundary
    /// sharp, so the patch's motion does not leak into the still background).
    func testFlowFollowsAPastedMovingPatch() throws {
        let sequence = try Self.patchSequence(shift: (3, 5))
        for backend in try testBackends() {
            let flow = try OpticalFlow().flow(backend: backend, from: sequence.frames[0], to: sequence.frames[1])
            let truth = (0..<(Self.side * Self.side)).map { p in
                sequence.inPatch(0, p / Self.side, p % Self.side, 0) ? (3.0, 5.0) : (0.0, 0.0)
            }
            let inside = Self.endPointError(flow, truth) { sequence.inPatch(0, $0, $1, 3) }
            let background = Self.endPointError(flow, truth) { i, j in
                Self.interior(i, j) && !sequence.inPatch(0, i, j, -6) && !sequence.inPatch(1, i, j, -6)
            }
            XCTAssertLessThan(inside, 0.25, "\(backend.name): inside the patch, mean EPE \(inside) px")
            XCTAssertLessThan(background, 0.1, "\(backend.name): on the background, mean EPE \(background) px")
        }
    }

    /// Frame k shows the background photo with the patch's top-left at (30, 30) + k·shift.
    static func patchSequence(
        shift: (Int, Int)
    ) throws -> (
        frames: [RGBImage], inPatch: (_ frame: Int, _ i: Int, _ j: Int, _ inset: Int) -> Bool
    ) {
        let background = try photo("tubingen.jpg"), patch = try photo("starry_night.jpg")
        let size = 24
        func inPatch(_ frame: Int, _ i: Int, _ j: Int, _ inset: Int) -> Bool {
            let (top, left) = (30 + frame * shift.0, 30 + frame * shift.1)
            return (top + inset..<top + size - inset).contains(i) && (left + inset..<left + size - inset).contains(j)
        }
        let (oy, ox) = (Double(background.height - side) / 2, Double(background.width - side) / 2)
        let still = render(background, width: side, height: side) { ($0 + oy, $1 + ox) }
        let texture = render(patch, width: side, height: side) { ($0 + 40, $1 + 60) }
        let frames = (0..<2).map { k -> RGBImage in
            var frame = still
            for i in 0..<side {
                for j in 0..<side where inPatch(k, i, j, 0) {
                    let (pi, pj) = (i - k * shift.0, j - k * shift.1)
                    for c in 0..<3 { frame[c, i, j] = texture[c, pi, pj] }
                }
            }
            return frame
        }
        return (frames, inPatch)
    }

    /// A translated frame: the previous one warped by the computed flow matches this one on the
    /// reliable pixels within 20 % of what the true motion gives (bilinear resampling is not the
    /// frames' filtering: 1.5 levels of 255 on average), and at least 5 times closer than the
    /// frames themselves (15.6); the pixels whose motion comes from outside the frame are masked.
    func testTheGuideWarpsThePreviousFrameOntoThisOne() throws {
        let pair = Self.affinePair(try Self.photo("shipwreck.jpg"), matrix: (1, 0, 0, 1), shift: (-1.62, 2.37))
        let truth = Self.affinePair(try Self.photo("shipwreck.jpg"), matrix: (1, 0, 0, 1), shift: (1.62, -2.37))
        for backend in try testBackends() {
            // Previous frame A, this frame B: B(x) = A(x + w) with w = (1.62, −2.37) (y, x).
            let guide = try TemporalGuide.compute(
                backend: backend, previousContent: pair.from, content: pair.to, previousResult: pair.from,
                weight: 1, maxSide: Self.side)
            var (warped, unwarped, exact, reliable) = (0.0, 0.0, 0.0, 0)
            let plane = Self.side * Self.side
            for p in 0..<plane where guide.reliability[p] == 1 {
                reliable += 1
                let (i, j) = (p / Self.side, p % Self.side)
                for c in 0..<3 {
                    let target = Double(pair.to[c, i, j])
                    warped += abs(Double(guide.warped.pixels[c * plane + p]) - target)
                    unwarped += abs(Double(pair.from[c, i, j]) - target)
                    exact += abs(
                        Self.bilinear(pair.from, c, Double(i) + truth.truth[p].0, Double(j) + truth.truth[p].1) - target
                    )
                }
            }
            let n = Double(3 * reliable)
            XCTAssertLessThan(warped / n, 1.2 * exact / n, "\(backend.name)")
            XCTAssertGreaterThan(unwarped / n, 5 * warped / n, "\(backend.name)")
            // The first 3 columns and the last 2 rows sample outside A: the first column is masked.
            XCTAssertEqual((0..<Self.side).map { guide.reliability[$0 * Self.side] }.max(), 0, "\(backend.name)")
            XCTAssertGreaterThan(reliable, plane * 8 / 10, "\(backend.name)")
        }
    }

    /// The patch moves right by 6 px: in the current frame, the background it covered in the
    /// previous frame and uncovers now has no previous pixel, and must be masked out; the
    /// background far from both positions must be kept.
    func testReliabilityMaskMarksWhatTheMovingPatchUncovers() throws {
        let sequence = try Self.patchSequence(shift: (0, 6))
        for backend in try testBackends() {
            let guide = try TemporalGuide.compute(
                backend: backend, previousContent: sequence.frames[0], content: sequence.frames[1],
                previousResult: sequence.frames[0], weight: 1, maxSide: Self.side)
            var (uncovered, uncoveredMasked, far, farKept) = (0, 0, 0, 0)
            for i in 0..<Self.side {
                for j in 0..<Self.side {
                    let reliable = guide.reliability[i * Self.side + j] == 1
                    if sequence.inPatch(0, i, j, 0) && !sequence.inPatch(1, i, j, -1) {
                        uncovered += 1
                        if !reliable { uncoveredMasked += 1 }
                    } else if Self.interior(i, j) && !sequence.inPatch(0, i, j, -6) && !sequence.inPatch(1, i, j, -6) {
                        far += 1
                        if reliable { farKept += 1 }
                    }
                }
            }
            XCTAssertGreaterThan(uncovered, 0)
            XCTAssertGreaterThanOrEqual(
                Double(uncoveredMasked), 0.9 * Double(uncovered),
                "\(backend.name): \(uncoveredMasked) of \(uncovered) uncovered pixels masked")
            XCTAssertGreaterThanOrEqual(
                Double(farKept), 0.95 * Double(far), "\(backend.name): \(farKept) of \(far) far pixels kept")
        }
    }
}

/// The temporal term in a job that tiles: pixel-wise, it is added over the whole image after the
/// tiles, so the tiled job's losses and gradient are the untiled job's within the shallow tiled
/// bound (TiledObjectiveTests), with the state on the device or on the host.
final class TemporalJobTests: XCTestCase {
    func testTiledRunsTakeTheTemporalTerm() throws {
        var options = StyleJobOptions(
            contentPath: examplePath("tubingen.jpg"), stylePaths: [examplePath("starry_night.jpg")])
        options.imageSize = 64
        options.layers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])
        let (width, height) = (64, 48)
        let warped = RGBImage(
            width: width, height: height, pixels: (0..<(3 * width * height)).map { Float(($0 * 53) % 256) })
        let reliability = (0..<(width * height)).map { Float(($0 / 7) % 2) }
        let guide = TemporalGuide(warped: warped, reliability: reliability, weight: 1000)
        let m = width * height
        let k = (m + 16) + (64 * 64 + 1) + (2 * 128 + 3) + (9 * 128 + 1) + (9 * 64 + 1) + (9 * 64 + 1) + 3 + 8
        let bound = 2 * float32ErrorFactor(terms: k)
        for backend in try testBackends() {
            func evaluate(tileSize: Int?, hostState: Bool = false) throws -> (LossValues, [Float]) {
                var options = options
                options.tileSize = tileSize
                var memory: (device: MemoryCapacity, host: UInt64)? = nil
                if hostState {
                    let plan = try options.memoryPlan(
                        imageSize: 64, content: (width, height), styles: [(width, height)], backend: backend,
                        tiling: Tiling(tileSize: 32, stateOnHost: true))
                    memory = (MemoryCapacity(totalBytes: UInt64(plan.totalBytes), largestBufferBytes: 1 << 40), .max)
                }
                let job = try StyleJob(
                    options: options, weightsPath: try cachedWeightsPath(), backend: backend, temporal: guide,
                    memory: memory
                ) { _ in }
                XCTAssertEqual(job.tilings.first??.stateOnHost, tileSize == nil ? nil : hostState)
                let run = job.run
                let noisy = try run.backend.download(run.image).enumerated().map { $1 * 0.5 + Float($0 % 97) }
                try run.backend.upload(noisy, to: run.image)
                let gradient = try run.backend.makeTensor(run.image.shape)
                try run.objective.evaluate(image: run.image, gradient: gradient)
                return (try run.objective.readLosses(), try run.backend.download(gradient))
            }
            let (losses, gradient) = try evaluate(tileSize: nil)
            XCTAssertGreaterThan(losses.temporal, 0.1 * losses.total, backend.name)
            for hostState in [false, true] where !hostState || backend is NativeBackend {
                let (tiledLosses, tiledGradient) = try evaluate(tileSize: 32, hostState: hostState)
                let name = "\(backend.name)\(hostState ? ", state on the host" : "")"
                for (a, b) in [
                    (tiledLosses.temporal, losses.temporal), (tiledLosses.style, losses.style),
                    (tiledLosses.content, losses.content),
                ] {
                    XCTAssertLessThanOrEqual(abs(a - b), bound * b, "\(name): \(a) against \(b)")
                }
                let largest = gradient.reduce(0) { max($0, abs($1)) }
                let difference = zip(tiledGradient, gradient).reduce(0) { max($0, abs($1.0 - $1.1)) }
                XCTAssertLessThanOrEqual(Double(difference / largest), bound, name)
            }
        }
    }
}
