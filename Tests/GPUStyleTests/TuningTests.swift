import Foundation
@testable import GPUStyle
import XCTest

/// `stylize-gpu tune`: the per-device cache, what a run does with a bad one, the search on a real
/// device, and the command line.
final class TuningTests: TemporaryFolderTestCase {
    private var environment: [String: String] { ["XDG_CACHE_HOME": folder] }

    private func device(
        driver: String = "1.0", name: String = "Test GPU", kind: CLDeviceInfo.Kind = .gpu
    ) -> CLDeviceInfo {
        fakeDeviceInfo(
            name: name, kind: kind, maxWorkGroupSize: 256, localMemoryBytes: 1 << 16, driverVersion: driver,
            preferredFloatVectorWidth: 4)
    }

    private func record(
        for device: CLDeviceInfo, defines: [String: Int] = ["CONV_PXB": 8, "GRAM_T": 2],
        kernelSource: String = "kernels"
    ) -> TuningRecord {
        TuningRecord(
            key: TuningKey(device: device, kernelSource: kernelSource), date: "2026-11-29T00:00:00Z",
            imageSize: 64, layers: ["conv1_2"], defines: defines, defaultMilliseconds: 3, tunedMilliseconds: 2,
            times: [TunedOpTime(layer: "conv1_2", op: "gram", defaultMilliseconds: 3, tunedMilliseconds: 2)])
    }

    private func lookup(
        _ device: CLDeviceInfo, kernelSource: String = "kernels",
        extra: [String: String] = [:]
    ) -> TuningLookup {
        TuningCache.lookup(device, kernelSource: kernelSource, environment: environment.merging(extra) { $1 })
    }

    /// When the options a search found run slower than the defaults side by side, `tune` stores
    /// the defaults for the searched defines (and their times as the tuned ones), never a loser.
    func testASlowerTuningFallsBackToTheDefaults() {
        let gpu = device()
        var slower = record(for: gpu, defines: ["CONV_PXB": 8, "GRAM_T": 2, "VW": 8])
        slower.tunedMilliseconds = 5
        slower.times[0].tunedMilliseconds = 5
        let defaults = ProgramOptions.defaults(for: gpu)
        let kept = slower.keepingDefaults(for: ["CONV_PXB", "GRAM_T"], defaults: defaults)
        XCTAssertEqual(
            kept.defines, ["CONV_PXB": defaults.defines["CONV_PXB"], "GRAM_T": defaults.defines["GRAM_T"], "VW": 8],
            "searched defines at the defaults, the others kept")
        XCTAssertEqual(kept.tunedMilliseconds, kept.defaultMilliseconds)
        XCTAssertEqual(kept.times.map { $0.tunedMilliseconds }, kept.times.map { $0.defaultMilliseconds })
        XCTAssertEqual(kept.speedup, 1)
    }

    func testRecordRoundTripsThroughTheCacheFolder() throws {
        let gpu = device()
        let path = try TuningCache.write(record(for: gpu), for: gpu, environment: environment)
        XCTAssertTrue(path.hasPrefix(folder + "/stylize-gpu/tuning/"), path)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: folder + "/stylize-gpu/tuning"),
            [(path as NSString).lastPathComponent], "no temporary file left beside it")
        var expected = ProgramOptions.defaults(for: gpu)
        expected.defines["CONV_PXB"] = 8
        expected.defines["GRAM_T"] = 2
        XCTAssertEqual(lookup(gpu), .tuned(expected, path: path))
        let decoded = try JSONDecoder().decode(TuningRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(decoded, record(for: gpu))
        XCTAssertEqual(decoded.speedup, 1.5)
        XCTAssertEqual(lookup(gpu, extra: [TuningCache.disableVariable: "1"]), .disabled)
        XCTAssertEqual(lookup(gpu, extra: [TuningCache.disableVariable: "0"]), .tuned(expected, path: path))
        XCTAssertEqual(lookup(device(name: "Other GPU")), TuningLookup.none, "another device has its own file")
    }

    func testANewDriverOrKernelFileMakesTheTuningStale() throws {
        let gpu = device()
        XCTAssertNotEqual(TuningKey(device: gpu, kernelSource: "a"), TuningKey(device: gpu, kernelSource: "b"))
        XCTAssertNotEqual(
            TuningKey(device: gpu, kernelSource: "a"), TuningKey(device: device(driver: "2.0"), kernelSource: "a"))
        XCTAssertEqual(TuningKey(device: gpu, kernelSource: "a"), TuningKey(device: gpu, kernelSource: "a"))
        let path = try TuningCache.write(record(for: gpu), for: gpu, environment: environment)
        guard case .ignored(path, let kernelReason) = lookup(gpu, kernelSource: "changed kernels") else {
            return XCTFail("a changed Kernels.cl must make the tuning stale")
        }
        XCTAssertTrue(kernelReason.contains("Kernels.cl"), kernelReason)
        guard case .ignored(path, let driverReason) = lookup(device(driver: "2.0")) else {
            return XCTFail("a new driver must make the tuning stale")
        }
        XCTAssertTrue(driverReason.contains("driver 1.0") && driverReason.contains("2.0"), driverReason)
    }

    func testCorruptOrInvalidTuningIsIgnoredWithOneLineSayingHowToRefresh() throws {
        let gpu = device()
        let path = TuningCache.path(for: gpu, environment: environment)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        for content in ["", "{\"key\": 3", "[1, 2, 3]"] {
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            let result = lookup(gpu)
            guard case .ignored(path, _) = result else { return XCTFail("\(content): \(result)") }
            let note = try XCTUnwrap(result.note)
            XCTAssertFalse(note.contains("\n"))
            XCTAssertTrue(note.contains("stylize-gpu tune") && note.contains(path), note)
            XCTAssertEqual(result.options(for: gpu), ProgramOptions.defaults(for: gpu))
        }
        try TuningCache.write(record(for: gpu, defines: ["CONV_COB": 3]), for: gpu, environment: environment)
        guard case .ignored(_, let reason) = lookup(gpu) else { return XCTFail("CONV_COB=3 cannot work") }
        XCTAssertTrue(reason.contains("CONV_COB"), reason)
        // A name no longer an option (an older version's file) is refused the same way.
        try TuningCache.write(record(for: gpu, defines: ["DEVICE_IS_CPU": 0]), for: gpu, environment: environment)
        guard case .ignored(_, let unknown) = lookup(gpu) else { return XCTFail("DEVICE_IS_CPU is no option") }
        XCTAssertTrue(unknown.contains("DEVICE_IS_CPU is unknown") && !unknown.contains("\n"), unknown)
    }

    /// The first OpenCL device, or a skip.
    private func openCLDevice() throws -> CLDevice {
        guard let device = DeviceCatalog.discover().openCLDevices.first else {
            throw XCTSkip("no OpenCL device")
        }
        return device
    }

    /// A tiny search on a real device: candidates that are refused (`float` is no kernel option,
    /// CONV_COB=3 cannot work: both fail validate) are skipped, the others are timed, and the record
    /// covers every op at the measured layer.
    func testTinySearchSkipsCandidatesThatFailAndRecordsTheWinner() throws {
        let device = try openCLDevice()
        var settings = TuningSettings.quick
        settings.imageSize = 16
        settings.layers = ["conv1_2"]
        settings.defines = [
            TunableDefine("float", [1], affects: [.gram]),
            TunableDefine("CONV_COB", [3], affects: [.convForward]),
            TunableDefine("GRAM_T", [2, 4], affects: [.gram]),
        ]
        var lines: [String] = []
        var tuner = KernelTuner(device: device, settings: settings)
        tuner.progress = { lines.append($0) }
        let outcome = try tuner.run()
        let skipped = outcome.trials.filter { $0.skipped != nil }
        XCTAssertEqual(skipped.map(\.define), ["float", "CONV_COB"], "\(outcome.trials)")
        XCTAssertTrue(skipped[0].skipped?.contains("float is unknown") ?? false, skipped[0].skipped ?? "")
        XCTAssertTrue(skipped[1].skipped?.contains("CONV_COB") ?? false, skipped[1].skipped ?? "")
        let timed = outcome.trials.filter { $0.define == "GRAM_T" }
        // The candidates and the device's default (3 on AVX2, 4 elsewhere), which is timed too.
        XCTAssertEqual(Set(timed.map(\.value)), [2, 4, ProgramOptions.defaults(for: device.info).gramTile])
        XCTAssertEqual(timed.filter(\.chosen).count, 1)
        XCTAssertEqual(
            outcome.record.defines.keys.sorted(), ["CONV_COB", "GRAM_T"], "the values of the valid tunables")
        // The winner, unless it then ran slower than the defaults side by side (noise at 16×16).
        let keptDefaults = lines.contains { $0.contains("keeping the defaults") }
        XCTAssertEqual(
            outcome.record.defines["GRAM_T"],
            keptDefaults
                ? ProgramOptions.defaults(for: device.info).gramTile
                : timed.first(where: \.chosen)?.value)
        XCTAssertEqual(outcome.record.defines["CONV_COB"], ProgramOptions.defaults(for: device.info).convOutputBlock)
        XCTAssertEqual(outcome.record.times.map(\.op), OpsBenchmark.Op.allCases.map(\.rawValue))
        XCTAssertTrue(outcome.record.times.allSatisfy { $0.defaultMilliseconds > 0 && $0.tunedMilliseconds > 0 })
        XCTAssertEqual(outcome.record.key, TuningKey(device: device.info))
        XCTAssertGreaterThan(outcome.checks, 0)
        XCTAssertTrue(lines.contains { $0.contains("float=1: skipped") }, lines.joined(separator: "\n"))
    }

    /// A candidate that builds and passes the self-test but fails when timed (a GPU refusing a
    /// work-group size at the timed shapes) is skipped; the round goes on with the others. (2 is
    /// no device's default: the defaults are timed too.)
    func testCandidateThatFailsWhileTimedIsSkipped() throws {
        let device = try openCLDevice()
        var settings = TuningSettings.quick
        settings.imageSize = 16
        settings.layers = ["conv1_2"]
        settings.defines = [TunableDefine("GRAM_T", [2, 3, 4], affects: [.gram])]
        var tuner = KernelTuner(device: device, settings: settings)
        tuner.beforeTiming = { options in
            if options.gramTile == 2 { throw StyleError("clEnqueueNDRangeKernel: CL_OUT_OF_RESOURCES") }
        }
        let outcome = try tuner.run()
        let skipped = outcome.trials.filter { $0.skipped != nil }
        XCTAssertEqual(skipped.map(\.value), [2], "\(outcome.trials)")
        XCTAssertTrue(skipped[0].skipped?.contains("CL_OUT_OF_RESOURCES") ?? false)
        XCTAssertEqual(Set(outcome.trials.filter { $0.milliseconds != nil }.map(\.value)), [3, 4])
        XCTAssertNotEqual(outcome.record.defines["GRAM_T"], 2)
    }

    func testWorkGroupWidthsAreNotTunedOnCPUDevices() throws {
        let widths = try TunableDefine.select(["CONV_WG", "TILE_WG"])
        XCTAssertTrue(widths.allSatisfy { $0.applies(to: device()) && !$0.applies(to: device(kind: .cpu)) })
        XCTAssertTrue(try TunableDefine.select(["CONV_PXB"])[0].applies(to: device(kind: .cpu)))
        let openCL = try openCLDevice()
        guard openCL.info.kind == .cpu else { return }
        var settings = TuningSettings.quick
        settings.defines = widths
        XCTAssertThrowsError(try KernelTuner(device: openCL, settings: settings).run()) {
            XCTAssertTrue(describe($0).contains("not tuned on CPU"), describe($0))
        }
    }

    func testStopRequestEndsTheSearchWithAnError() throws {
        var tuner = KernelTuner(device: try openCLDevice(), settings: .quick)
        tuner.shouldStop = { true }
        XCTAssertThrowsError(try tuner.run()) { XCTAssertTrue(describe($0).contains("interrupted"), describe($0)) }
    }

    func testUnknownDefineAndNativeDeviceAreOneLineErrors() {
        XCTAssertThrowsError(try TunableDefine.select(["CONV_PXB", "NOPE"])) {
            XCTAssertTrue(describe($0).contains("NOPE") && describe($0).contains("GB_ROWS"), describe($0))
        }
        XCTAssertEqual(try TunableDefine.select(["GB_ROWS"]).map(\.name), ["GB_ROWS"])
        var settings = TuningSettings()
        settings.layers = ["conv9_9"]
        XCTAssertThrowsError(try settings.shapes())
    }

    // MARK: Command line

    /// `tune --quick` writes the device's file into the cache folder the environment names, a run
    /// picks it up and says so, and a corrupt file is ignored with a note while the run goes on.
    /// This process's environment with the cache folder in the test's folder.
    private func commandEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        // PoCL keeps its compiled kernels under XDG_CACHE_HOME unless told otherwise: keep them
        // where they are, so the test does not compile every kernel again.
        let home = environment["HOME"] ?? NSHomeDirectory()
        environment["POCL_CACHE_DIR"] =
            environment["POCL_CACHE_DIR"] ?? (home as NSString).appendingPathComponent(".cache/pocl")
        environment["XDG_CACHE_HOME"] = folder
        return environment
    }

    func testTuneThenRunUsesTheTuningAndIgnoresACorruptOne() throws {
        let device = try openCLDevice()
        let binary = try stylizeBinary()
        let environment = commandEnvironment()
        let id = "\(device.info.index)"

        let tune = try runProcess(
            binary, ["tune", "--quick", "--size", "16", "--only", "GB_ROWS", "--device", id],
            environment: environment, folder: folder)
        XCTAssertEqual(tune.status, 0, tune.stderr)
        XCTAssertTrue(tune.stdout.contains("winners: GB_ROWS="), tune.stdout)
        XCTAssertTrue(tune.stderr.contains("GB_ROWS=8"), tune.stderr)
        let path = TuningCache.path(for: device.info, environment: environment)
        XCTAssertTrue(tune.stderr.contains("wrote \(path)"), tune.stderr)
        let first = try JSONDecoder().decode(TuningRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))

        // Tuning another define starts from this tuning and keeps GB_ROWS's winner.
        let again = try runProcess(
            binary, ["tune", "--quick", "--size", "16", "--only", "GRAM_T", "--device", id],
            environment: environment, folder: folder)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("starting from the tuning in \(path)"), again.stderr)
        let second = try JSONDecoder().decode(TuningRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(second.defines["GB_ROWS"], first.defines["GB_ROWS"])
        XCTAssertEqual(Set(second.defines.keys), ["GB_ROWS", "GRAM_T"], "no default frozen into the file")

        let content = try fixturePath("reference/content.png"), style = try fixturePath("reference/style.png")
        let runArguments = [
            content, style, "-o", folder + "/out.png", "--weights", try cachedWeightsPath(),
            "--image-size", "32", "--iterations", "1", "--progress", "none", "--device", id,
        ]
        let tuned = try runProcess(binary, runArguments, environment: environment, folder: folder)
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        XCTAssertTrue(tuned.stderr.contains("kernel options: tuned") && tuned.stderr.contains(path), tuned.stderr)

        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: path))
        let corrupt = try runProcess(binary, runArguments, environment: environment, folder: folder)
        XCTAssertEqual(corrupt.status, 0, corrupt.stderr)
        XCTAssertEqual(corrupt.stderr.components(separatedBy: "ignoring the kernel tuning").count, 2, corrupt.stderr)

        let native = try runProcess(binary, ["tune", "--device", "native"], environment: environment, folder: folder)
        XCTAssertEqual(native.status, 1)
        XCTAssertTrue(
            native.stderr.hasPrefix("error: ") && native.stderr.contains("no kernel options to tune"), native.stderr)
    }

    /// Ctrl-C during the search: exit status 130 and nothing in the cache folder, not even a temporary file.
    func testInterruptedTuneWritesNothing() throws {
        let device = try openCLDevice()
        let launched = try LaunchedProcess(
            try stylizeBinary(),
            [
                "tune", "--quick", "--size", "16", "--device",
                "\(device.info.index)",
            ],
            environment: commandEnvironment(), folder: folder)
        let deadline = Date().addingTimeInterval(60)
        while !launched.stderrSoFar.contains("pass 1"), launched.process.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        launched.process.interrupt()
        let result = try launched.finish()
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertTrue(result.stderr.contains("no tuning was written"), result.stderr)
        let tuningFolder = folder + "/stylize-gpu/tuning"
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: tuningFolder)) ?? [], [])
    }
}

/// The built `stylize-gpu`, beside the test bundle in the build folder.
private func stylizeBinary() throws -> URL {
    for directory in [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] {
        let url = directory.appendingPathComponent("stylize-gpu")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw XCTSkip("stylize-gpu binary not found beside the tests; build it with `swift build`")
}

/// A started `stylize-gpu` whose output goes to files in a folder, so no pipe can fill and stall.
private struct LaunchedProcess {
    let process = Process()
    let paths: [String]
    let handles: [FileHandle]

    init(_ binary: URL, _ arguments: [String], environment: [String: String], folder: String) throws {
        paths = [folder + "/process.out", folder + "/process.err"]
        handles = try paths.map { path -> FileHandle in
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        }
        process.executableURL = binary
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = handles[0]
        process.standardError = handles[1]
        try process.run()
    }

    /// What the process has written to stderr so far.
    var stderrSoFar: String {
        String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: paths[1]))) ?? Data(), as: UTF8.self)
    }

    func finish() throws -> (status: Int32, stdout: String, stderr: String) {
        process.waitUntilExit()
        try handles.forEach { try $0.close() }
        let texts = try paths.map { String(decoding: try Data(contentsOf: URL(fileURLWithPath: $0)), as: UTF8.self) }
        return (process.terminationStatus, texts[0], texts[1])
    }
}

/// Runs `binary` to completion with `environment`.
private func runProcess(
    _ binary: URL, _ arguments: [String], environment: [String: String],
    folder: String
) throws -> (status: Int32, stdout: String, stderr: String) {
    try LaunchedProcess(binary, arguments, environment: environment, folder: folder).finish()
}
