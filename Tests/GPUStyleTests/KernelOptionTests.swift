@testable import GPUStyle
import Kernels
import XCTest

/// The option registry against Kernels.cl and what derives from it.
final class KernelOptionTests: XCTestCase {
    /// Kernels.cl's `#ifndef NAME` / `#define NAME VALUE` header, by name.
    private func kernelDefaults() -> [String: Int] {
        let lines = KernelLibrary.source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var defaults: [String: Int] = [:]
        for (index, line) in lines.enumerated() where line.hasPrefix("#ifndef ") && index + 1 < lines.count {
            let name = String(line.dropFirst("#ifndef ".count))
            let define = lines[index + 1].split(separator: " ")
            XCTAssertEqual(define.count, 3, lines[index + 1])
            XCTAssertEqual(define.first.map(String.init), "#define")
            XCTAssertEqual(define.dropFirst().first.map(String.init), name)
            defaults[name] = define.last.flatMap { Int($0) }
        }
        return defaults
    }

    /// Compile-time options are exactly Kernels.cl's `#ifndef` header, with the same fallbacks;
    /// launch-only names appear nowhere in Kernels.cl.
    func testCompileTimeOptionsAreKernelsHeaderAndLaunchOnlyOnesAreAbsent() {
        let compileTime = KernelOption.all.filter { $0.kind == .compileTime }
        XCTAssertEqual(Set(compileTime.map(\.name)), Set(kernelDefaults().keys))
        for option in compileTime {
            XCTAssertEqual(kernelDefaults()[option.name], option.fallback, option.name)
        }
        for option in KernelOption.all where option.kind == .launchOnly {
            let pattern = "\\b\(option.name)\\b"
            XCTAssertNil(KernelLibrary.source.range(of: pattern, options: .regularExpression), option.name)
        }
    }

    func testEveryOptionIsListedOnceAndItsValuesAreValid() {
        let names = KernelOption.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(Set(ProgramOptions.baseline.keys), Set(names))
        XCTAssertEqual(TunableDefine.table.map(\.name), KernelOption.all.filter { $0.tuning != nil }.map(\.name))
        let device = fakeDeviceInfo()
        for option in KernelOption.all {
            XCTAssertNil(option.problem(with: option.fallback, on: device), option.name)
            for value in option.tuning?.values ?? [] {
                XCTAssertNil(option.problem(with: value, on: device), "\(option.name)=\(value)")
            }
        }
    }

    /// Only compile-time options reach the compiler; an unknown name is refused by validate.
    func testBuildStringHoldsOnlyKernelDefines() {
        let options = ProgramOptions(defines: [:])
        let passed = options.buildString.split(separator: " ").dropFirst()
            .map { $0.dropFirst(2).split(separator: "=")[0] }
        XCTAssertEqual(Set(passed.map(String.init)), Set(kernelDefaults().keys))
        XCTAssertFalse(options.buildString.contains("WINO_BAND"), options.buildString)
        let cpu = fakeDeviceInfo(
            kind: .cpu, maxWorkGroupSize: 4096, localMemoryBytes: 1 << 16, preferredFloatVectorWidth: 8)
        XCTAssertNoThrow(try ProgramOptions.defaults(for: cpu).validate(for: cpu))
        XCTAssertThrowsError(try ProgramOptions(defines: ["DEVICE_IS_CPU": 1]).validate(for: cpu)) {
            XCTAssertTrue(describe($0).contains("DEVICE_IS_CPU is unknown"), describe($0))
        }
    }

    /// A CPU's register blocks follow its vector width: the Winograd multiply's 3 × 8 vectors of 16
    /// floats for AVX-512's 32 registers, 3 × 4 of 8 for AVX2's 16 (and narrower), with the
    /// multiply's tile prefetch only for the former, and the Gram kernels' vectors 16 or 8 floats
    /// wide; GPUs keep theirs.
    func testCPURegisterBlocksFollowTheVectorWidth() throws {
        let names = ["WINO_TB", "WINO_COB", "WINO_OB", "VW", "WINO_PREFETCH"]
        for (width, expected) in [(16, [16, 8, 8, 16, 4]), (8, [8, 4, 16, 8, 0]), (4, [8, 4, 16, 8, 0])] {
            let cpu = fakeDeviceInfo(
                kind: .cpu, maxWorkGroupSize: 4096, localMemoryBytes: 1 << 16, preferredFloatVectorWidth: width)
            let options = ProgramOptions.defaults(for: cpu)
            XCTAssertEqual(names.map { options.defines[$0] }, expected, "width \(width)")
            XCTAssertNoThrow(try options.validate(for: cpu))
        }
        let gpu = ProgramOptions.defaults(for: fakeDeviceInfo(preferredFloatVectorWidth: 16))
        XCTAssertEqual(names.map { gpu.defines[$0] }, [4, 8, 1, 8, 0])
    }

    /// `selftest --kernel-options`: cpu and gpu are those kinds' defaults with the device's limits
    /// (a CPU device gets the GPU's tiled kernels, a GPU the CPU's narrow ones); min and max put every
    /// option the tuner varies on the device at its extreme, the rest at the device's defaults; every
    /// set passes validation.
    func testPresetsAreTheKindsDefaultsAndTheTunersExtremes() throws {
        for device in [fakeDeviceInfo(kind: .cpu, maxWorkGroupSize: 4096), fakeDeviceInfo(kind: .gpu)] {
            let defaults = ProgramOptions.defaults(for: device)
            XCTAssertEqual(ProgramOptions.preset(device.kind == .cpu ? .cpu : .gpu, for: device), defaults)
            XCTAssertTrue(ProgramOptions.preset(.gpu, for: device).winogradTiledMultiply)
            XCTAssertEqual(ProgramOptions.preset(.cpu, for: device).convNarrow, 1)
            for preset in [ProgramOptions.Preset.min, .max] {
                let options = ProgramOptions.preset(preset, for: device)
                XCTAssertNoThrow(try options.validate(for: device), "\(preset) on \(device.kind)")
                for option in KernelOption.all {
                    let varied = TunableDefine.table.first { $0.name == option.name && $0.applies(to: device) }
                    XCTAssertEqual(
                        options.defines[option.name],
                        varied.map { preset == .min ? $0.values.min() : $0.values.max() }
                            ?? defaults.defines[option.name],
                        "\(option.name) \(preset) on \(device.kind)")
                }
            }
        }
    }
}

/// `WINO_TILE=0`'s per-layer choice, at VGG19's layers at 512×384 (and conv5_1 at 256×192).
final class WinogradTileRuleTests: XCTestCase {
    func testPerLayerRuleTakesF4AndF6OnlyWhereTheyWereMeasuredToWin() {
        let cpu = fakeDeviceInfo(
            kind: .cpu, maxWorkGroupSize: 4096, localMemoryBytes: 1 << 16, preferredFloatVectorWidth: 8)
        let perLayer = ProgramOptions.defaults(for: cpu)
        let layers: [(name: String, inputs: Int, outputs: Int, height: Int, width: Int, tile: Int)] = [
            ("conv1_2", 64, 64, 384, 512, 6), ("conv2_2", 128, 128, 192, 256, 6),
            ("conv3_1", 128, 256, 96, 128, 4), ("conv4_2", 512, 512, 48, 64, 4), ("conv5_1", 512, 512, 24, 32, 4),
            ("conv5_1 at 256×192", 512, 512, 12, 16, 2),
        ]
        for layer in layers {
            XCTAssertEqual(perLayer.winogradTile(height: layer.height, width: layer.width), layer.tile, layer.name)
        }
        let gpu = ProgramOptions.defaults(for: fakeDeviceInfo())
        XCTAssertEqual(gpu.winogradTile(height: 48, width: 64), 2)
        var forced = perLayer
        forced.defines["WINO_TILE"] = 4
        XCTAssertEqual(forced.winogradTile(height: 8, width: 8), 4)
        XCTAssertEqual(forced.winogradTile(height: 384, width: 512), 4)
        forced.defines["WINO_TILE"] = 6
        XCTAssertEqual(forced.winogradTile(height: 8, width: 8), 6)
    }
}
