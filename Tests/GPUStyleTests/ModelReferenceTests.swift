import Foundation
@testable import GPUStyle
import XCTest

/// The forward pass and the initial losses against an independent implementation: PyTorch in
/// float64 on the same weights file (Tests/Reference/reference_stats.py made the fixture).
final class ModelReferenceTests: XCTestCase {
    private struct Reference: Decodable {
        struct Layer: Decodable {
            struct Sample: Decodable { let c: Int; let y: Int; let x: Int; let value: Double }
            let shape: [Int]
            let mean: Double
            let std: Double
            let samples: [Sample]
            let float32_max_abs_difference: Double
        }
        struct Losses: Decodable {
            let name: String
            let content: Double
            let style: Double
            let tv: Double
        }
        let activations: [String: [String: Layer]]
        let losses: [Losses]
    }

    private func load() throws -> (Reference, RGBImage, RGBImage) {
        let json = try Data(contentsOf: URL(fileURLWithPath: try fixturePath("reference/vgg19_reference.json")))
        let reference = try JSONDecoder().decode(Reference.self, from: json)
        let content = try ImageFile.read(try fixturePath("reference/content.png")).image
        let style = try ImageFile.read(try fixturePath("reference/style.png")).image
        return (reference, content, style)
    }

    private func network(_ backend: Backend, weightsPath: String, deepest: String) throws -> VGGNetwork {
        let index = try VGGModel.vgg19.index(of: deepest)
        let weights = try VGGWeights.load(path: weightsPath, upTo: VGGModel.vgg19.convolutionCount(upTo: index))
        return try VGGNetwork(
            backend: backend, model: weights.model, convolutions: weights.layers.map { ($0.weights, $0.bias) },
            preprocessing: weights.preprocessing.affine, deepestLayer: index, pooling: .max)
    }

    func testForwardActivationsMatchPyTorch() throws {
        let weightsPath = try cachedWeightsPath()
        let (reference, content, _) = try load()
        let layerNames = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
        for backend in try testBackends() {
            let net = try network(backend, weightsPath: weightsPath, deepest: "relu5_1")
            let image = try backend.makeTensor(Shape(c: 3, h: content.height, w: content.width))
            try backend.upload(content.pixels, to: image)
            let observed = Set(try layerNames.map(VGGModel.vgg19.index(of:)))
            let workspace = try net.makeWorkspace(height: content.height, width: content.width, observed: observed)
            try net.forward(image: image, workspace: workspace)
            for name in layerNames {
                guard let expected = reference.activations["content"]?[name] else {
                    return XCTFail("fixture lacks \(name)")
                }
                let output = workspace.outputs[try VGGModel.vgg19.index(of: name)]
                XCTAssertEqual([output.shape.c, output.shape.h, output.shape.w], expected.shape, name)
                let values = try backend.download(output).map(Double.init)
                let mean = values.reduce(0, +) / Double(values.count)
                let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
                // PyTorch's own float32 forward drifts by float32_max_abs_difference from float64; a float32
                // implementation summing in another order lands within a few times that (we allow 8×).
                let tolerance = 8 * expected.float32_max_abs_difference
                XCTAssertEqual(mean, expected.mean, accuracy: tolerance, "\(backend.name) \(name) mean")
                XCTAssertEqual(std, expected.std, accuracy: tolerance, "\(backend.name) \(name) std")
                for sample in expected.samples {
                    let value = values[(sample.c * output.shape.h + sample.y) * output.shape.w + sample.x]
                    XCTAssertEqual(
                        value, sample.value, accuracy: tolerance,
                        "\(backend.name) \(name)[\(sample.c),\(sample.y),\(sample.x)]")
                }
            }
        }
    }

    func testInitialLossesMatchPyTorch() throws {
        let weightsPath = try cachedWeightsPath()
        let (reference, content, style) = try load()
        let blend = RGBImage(
            width: content.width, height: content.height,
            pixels: zip(content.pixels, style.pixels).map { ($0 + $1) / 2 })
        for backend in try testBackends() {
            let net = try network(backend, weightsPath: weightsPath, deepest: "relu5_1")
            func upload(_ image: RGBImage) throws -> Tensor {
                let tensor = try backend.makeTensor(Shape(c: 3, h: image.height, w: image.width))
                try backend.upload(image.pixels, to: tensor)
                return tensor
            }
            // Unit weights: the objective's slots then hold the unweighted terms of the fixture.
            let objective = try StyleObjective(
                network: net, height: content.height, width: content.width,
                content: try upload(content),
                styles: [StyleTarget(image: try upload(style), blendWeight: 1)],
                layers: LayerSelection(), weights: LossWeights(content: 1, style: 1, totalVariation: 1))
            let gradient = try backend.makeTensor(Shape(c: 3, h: content.height, w: content.width))
            for (name, x) in [("x_is_content", content), ("x_is_style", style), ("x_is_blend", blend)] {
                guard let expected = reference.losses.first(where: { $0.name == name }) else { return XCTFail(name) }
                try objective.evaluate(image: try upload(x), gradient: gradient)
                let losses = try objective.readLosses()
                // Relative 1e-3: the terms are squared differences of float32 features (relative error
                // ~1e-5 each, see the forward test) and Grams summed over up to 64·48 products; the zero
                // terms (x equals a target) must come out as 0 up to the same float32 noise.
                XCTAssertEqual(
                    losses.content, expected.content, accuracy: 1e-3 * max(expected.content, 1),
                    "\(backend.name) \(name) content")
                XCTAssertEqual(
                    losses.style, expected.style, accuracy: 1e-3 * max(expected.style, 1),
                    "\(backend.name) \(name) style")
                XCTAssertEqual(
                    losses.totalVariation, expected.tv, accuracy: 1e-4 * expected.tv, "\(backend.name) \(name) tv")
            }
        }
    }
}
