import Foundation
@testable import GPUStyle
import XCTest

/// The bytes a fixed set of runs writes, recorded before the architecture change of issue 18
/// and compared after it: a refactoring that changes any of them changed behaviour. Both
/// backends, Adam and L-BFGS, a run resumed through a checkpoint file, and the key structure of
/// `bench --json`. The digests depend on the processor (OpenBLAS's and PoCL's code paths), so
/// they are kept per machine; STYLIZE_GPU_RECORD_FIXTURE=1 records this machine's.
final class BehaviourFixtureTests: CommandLineTestCase {
    private struct Record: Codable {
        /// Machine key → run name → SHA-256 of the image's float32 bits and the PNG file written.
        var outputs: [String: [String: String]]
        /// Every key path of `stylize-gpu bench --json`, sorted.
        var benchKeys: [String]
    }

    private var fixtureFile: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/behaviour/outputs.json").path
    }

    /// The processor's model name and OpenBLAS's kernel set: what the digests depend on. A model
    /// name alone ("AMD EPYC" on virtual machines) spans processors with and without AVX-512,
    /// whose OpenBLAS kernels sum in different orders (the native digests differ).
    private var machineKey: String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        return "\(model ?? "unknown processor"), OpenBLAS \(BlasKernelChoice.applied ?? "unknown")"
    }

    private func options(iterations: Int, optimizer: OptimizerKind) -> StyleJobOptions {
        var options = StyleJobOptions(contentPath: content, stylePaths: [style])
        options.imageSize = 32
        // The classic single-scale, unprojected run: the bytes recorded before issue 19.
        options.scales = 1
        options.optimization = OptimizationSettings(iterations: iterations, optimizer: optimizer, clamp: false)
        return options
    }

    /// The digest of the job's current image as float32 bits and as the PNG file it writes
    /// (the bits first: rounding to 8 bits would hide a change in the last place).
    private func written(_ job: StyleJob) throws -> String {
        let pixels = try job.run.currentImage()
        let file = path(UUID().uuidString + ".png")
        try ImageFile.write(try job.outputImage(pixels: pixels), to: file)
        let bits = pixels.withUnsafeBytes { [UInt8]($0) }
        return SHA256.hex(of: bits + [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
    }

    private func currentOutputs() throws -> [String: String] {
        var digests: [String: String] = [:]
        let weights = try cachedWeightsPath()
        for backend in try testBackends() {
            let kind = backend is NativeBackend ? "native" : "opencl"
            for optimizer in OptimizerKind.allCases {
                let straight = try StyleJob(
                    options: options(iterations: 4, optimizer: optimizer), weightsPath: weights,
                    backend: backend
                ) { _ in }
                _ = try straight.run.run(reportEvery: 0, onReport: { _ in })
                digests["\(kind) \(optimizer) 4"] = try written(straight)

                let first = try StyleJob(
                    options: options(iterations: 2, optimizer: optimizer), weightsPath: weights,
                    backend: backend
                ) { _ in }
                _ = try first.run.run(reportEvery: 0, onReport: { _ in })
                let file = path("run.ckpt")
                try Checkpoint(
                    options: first.options, weightsSHA256: "w", inputsSHA256: [], device: backend.name,
                    state: try first.run.exportState()
                ).write(to: file)
                let resumed = try StyleJob(
                    options: options(iterations: 4, optimizer: optimizer), weightsPath: weights,
                    backend: backend
                ) { _ in }
                try resumed.run.restore(try Checkpoint.read(file).state)
                _ = try resumed.run.run(reportEvery: 0, onReport: { _ in })
                digests["\(kind) \(optimizer) 2+2 resumed"] = try written(resumed)
            }
        }
        return digests
    }

    private func currentBenchKeys() throws -> [String] {
        let result = try run([
            "bench", "--devices", "native", "--sizes", "32", "--iterations", "1", "--warmup", "0",
            "--json", "--content", content, "--style", style, "--weights", try cachedWeightsPath(),
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        var keys = Set<String>()
        func walk(_ value: Any, _ prefix: String) {
            if let object = value as? [String: Any] {
                for (key, inner) in object { walk(inner, prefix + "." + key) }
            } else if let array = value as? [Any] {
                array.forEach { walk($0, prefix + "[]") }
            } else {
                keys.insert(prefix)
            }
        }
        walk(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)), "")
        return keys.sorted()
    }

    func testFixedRunsWriteTheRecordedBytes() throws {
        let outputs = try currentOutputs()
        let benchKeys = try currentBenchKeys()
        var record =
            (try? JSONDecoder().decode(Record.self, from: Data(contentsOf: URL(fileURLWithPath: fixtureFile))))
            ?? Record(outputs: [:], benchKeys: [])
        if ProcessInfo.processInfo.environment["STYLIZE_GPU_RECORD_FIXTURE"] == "1" {
            record.outputs[machineKey] = outputs
            record.benchKeys = benchKeys
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(record).write(to: URL(fileURLWithPath: fixtureFile))
            throw XCTSkip("recorded \(outputs.count) digests for \(machineKey) in \(fixtureFile)")
        }
        XCTAssertEqual(benchKeys, record.benchKeys, "bench --json's structure")
        guard let expected = record.outputs[machineKey] else {
            throw XCTSkip("no digests recorded for \(machineKey); STYLIZE_GPU_RECORD_FIXTURE=1 records them")
        }
        for (name, digest) in outputs.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(digest, expected[name], name)
        }
    }
}
