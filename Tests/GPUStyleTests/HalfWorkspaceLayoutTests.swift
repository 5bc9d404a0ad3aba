@testable import GPUStyle
import XCTest

/// `HalfWorkspaceLayout`: the placement by lifetime of a half workspace's tensors.
final class HalfWorkspaceLayoutTests: XCTestCase {
    private let defaultLayers = LayerSelection()

    private func layout(
        _ selection: LayerSelection, height: Int, width: Int, alignment: Int = 128
    ) throws
        -> HalfWorkspaceLayout
    {
        let model = VGGModel.vgg19
        let layers = Array(model.layers[0...(try selection.deepestLayer(in: model))])
        let observed = Set(try (selection.content + selection.style).map(model.index(of:)))
        return HalfWorkspaceLayout(
            layers: layers, shapes: VGGNetwork.shapes(of: layers, height: height, width: width),
            inputShape: Shape(c: 3, h: height, w: width), observed: observed, alignment: alignment,
            backwardDataRunsInPlace: { min($0, $1) >= 8 })
    }

    /// Every tensor lies inside the allocation at an aligned offset, outputs are halves and
    /// gradients floats, and two tensors share bytes only where the pass never needs both at once:
    /// replaying the pass's reads and writes over the bytes finds every value still intact.
    func testEveryReadFindsWhatWasWritten() throws {
        for (selection, size) in [
            (defaultLayers, (height: 37, width: 53)),
            (LayerSelection(content: ["conv4_2"], style: ["relu1_1", "pool2", "relu3_1"]), (height: 40, width: 33)),
            (LayerSelection(content: ["relu2_2"], style: ["conv1_1"]), (height: 9, width: 16)),
        ] {
            let half = try layout(selection, height: size.height, width: size.width)
            let views = [half.input, half.inputGradient] + half.outputs + half.gradients
            for view in views {
                XCTAssertEqual(view.offset % 128, 0)
                XCTAssertLessThanOrEqual(view.offset + view.byteCount, half.bytes)
            }
            XCTAssertTrue(half.outputs.allSatisfy { $0.format == .half })
            XCTAssertTrue((half.gradients + [half.input, half.inputGradient]).allSatisfy { $0.format == .float })
            try replay(half, selection)
        }
    }

    /// Runs the pass's order of writes and reads on a map of byte ranges to their owner: a read
    /// that finds another tensor's bytes fails.
    private func replay(_ half: HalfWorkspaceLayout, _ selection: LayerSelection) throws {
        let model = VGGModel.vgg19
        let layers = Array(model.layers[0...(try selection.deepestLayer(in: model))])
        let observed = Set(try (selection.content + selection.style).map(model.index(of:)))
        var owner = [String?](repeating: nil, count: half.bytes)
        func write(_ view: TensorView, _ name: String) {
            for byte in view.offset..<(view.offset + view.byteCount) { owner[byte] = name }
        }
        func read(_ view: TensorView, _ name: String, _ step: String) {
            let intact = (view.offset..<(view.offset + view.byteCount)).allSatisfy { owner[$0] == name }
            XCTAssertTrue(intact, "\(step) reads \(name), overwritten")
        }
        let output = { (i: Int) in i > 0 && half.fusedWithNext[i - 1] ? "out\(i - 1)" : "out\(i)" }
        let gradient = { (i: Int) in i > 0 && half.fusedWithNext[i - 1] ? "grad\(i - 1)" : "grad\(i)" }
        write(half.input, "input")
        var previous = (half.input, "input")
        for i in layers.indices {
            read(previous.0, previous.1, "forward \(i)")
            if !(i > 0 && half.fusedWithNext[i - 1]) { write(half.outputs[i], output(i)) }
            previous = (half.outputs[i], output(i))
        }
        write(half.gradients[layers.count - 1], gradient(layers.count - 1))
        var index = layers.count - 1
        while index >= 0 {
            if observed.contains(index) {
                read(half.outputs[index], output(index), "loss \(index)")
                read(half.gradients[index], gradient(index), "loss \(index)")
            }
            let below = { (i: Int) in i > 0 ? (half.gradients[i - 1], gradient(i - 1)) : (half.inputGradient, "igrad") }
            switch layers[index].kind {
            case .relu:
                read(half.outputs[index], output(index), "relu backward \(index)")
                read(half.gradients[index], gradient(index), "relu backward \(index)")
                if index > 0 && half.fusedWithNext[index - 1] {
                    index -= 1
                    write(below(index).0, below(index).1)
                } else {
                    write(below(index).0, below(index).1)
                }
            case .conv:
                read(half.gradients[index], gradient(index), "conv backward \(index)")
                write(below(index).0, below(index).1)
            case .pool:
                read(half.gradients[index], gradient(index), "pool backward \(index)")
                read(half.outputs[index - 1], output(index - 1), "pool backward \(index)")
                write(below(index).0, below(index).1)
            }
            index -= 1
        }
        read(half.inputGradient, "igrad", "preprocess backward")
    }

    /// The default layers' allocation per image pixel: at pool1's backward relu1_1's and relu1_2's
    /// outputs (128 B each), pool1's output gradient (64 B) and relu1_2's (256 B) are alive at
    /// once, so no placement takes under 576 B; the float32 workspace takes 1168 B. conv1_2 runs
    /// backward-data in place (its two gradients share 256 B), as every 64 → 64 and wider Winograd
    /// layer of the same width does.
    func testDefaultLayersTakeLittleMoreThanTheirLargestStep() throws {
        let (height, width) = (384, 512)
        let half = try layout(defaultLayers, height: height, width: width)
        let perPixel = Double(half.bytes) / Double(height * width)
        XCTAssertGreaterThanOrEqual(perPixel, 576)
        XCTAssertLessThanOrEqual(perPixel, 616, "\(perPixel) B a pixel")
        XCTAssertLessThan(half.gradientGroups.count, half.gradients.count, "no backward-data ran in place")
    }
}
