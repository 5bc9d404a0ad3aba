import Foundation
@testable import GPUStyle
import XCTest

/// Helpers of the batch tests that run the binary.
class BatchCommandLineTestsBase: CommandLineTestCase {
    /// Run options that keep a job to a fraction of a second (on the native path unless
    /// `devices` is nil).
    func tiny(iterations: Int = 2, devices: String? = "native") throws -> [String] {
        [
            "--weights", try cachedWeightsPath(), "--image-size", "32", "--iterations", "\(iterations)",
            "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1",
        ] + (devices.map { ["--devices", $0] } ?? [])
    }

    func writeManifest(_ lines: [String], name: String = "jobs.jsonl") -> String {
        let manifest = path(name)
        FileManager.default.createFile(atPath: manifest, contents: Data(lines.joined(separator: "\n").utf8))
        return manifest
    }

    func job(_ content: String, _ style: String, output: String? = nil, options: String = "") -> String {
        #"{"content": "\#(content)", "styles": ["\#(style)"]"#
            + (output.map { #", "output": "\#($0)""# } ?? "") + (options.isEmpty ? "" : #", "options": \#(options)"#)
            + "}"
    }

    func images(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".png") }.sorted()
    }
}

/// `stylize-gpu batch` as a user runs it: tiny jobs (32 px, shallow layers) on the native path.
final class BatchCommandLineTests: BatchCommandLineTestsBase {

    func testManifestProblemsAreRefusedBeforeAnyWorkWithOneLine() throws {
        let options = try tiny()
        let good = job(content, style, output: "good.png")
        let cases: [([String], String)] = [
            ([good, job(content, style, output: "b.png", options: #"{"image-sise": 64}"#)], "jobs.jsonl:2: "),
            (
                [good, job(path("missing.png"), style, output: "b.png")],
                "jobs.jsonl:2: \(path("missing.png")): no such file"
            ),
            ([good, job(content, style, output: "b.png", options: #"{"style-layers": "relu9_9"}"#)], "jobs.jsonl:2: "),
            ([good, "{oops"], "jobs.jsonl:2: not a JSON object"),
            ([good, job(content, style, output: "good.png")], "two jobs write good.png"),
            ([good, job(content, style, output: "../escape.png")], "leaves the output folder"),
        ]
        for (lines, expected) in cases {
            let out = path("out-\(UUID().uuidString)")
            let result = try run(["batch", "--manifest", writeManifest(lines), "-o", out] + options)
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertEqual(result.errorLines.count, 1, result.stderr)
            XCTAssertTrue(result.errorLines.first?.contains(expected) ?? false, "\(expected): \(result.stderr)")
            XCTAssertEqual(images(in: out), [], "nothing ran: \(result.stderr)")
        }
        // Options of a single run, and --device, belong to run only.
        for extra in [["--device", "native"], ["--gif", path("a.gif")], ["--resume", path("x.ckpt")]] {
            let result = try run(["batch", "--contents", content, "--styles", style, "-o", path("o")] + extra)
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertEqual(result.errorLines.count, 1, result.stderr)
        }
    }

    func testGridWritesEveryPairAndSkipsWhatIsFinished() throws {
        let out = path("out")
        let arguments = ["batch", "--contents", content, examplePath("chelsea.png"), "--styles", style, "-o", out]
        let first = try run(arguments + (try tiny()) + ["--report", path("report.json")])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(images(in: out), ["chelsea__style.png", "content__style.png"])
        let report = try JSONDecoder().decode(
            BatchReport.self, from: try Data(contentsOf: URL(fileURLWithPath: path("report.json"))))
        XCTAssertEqual(report.jobs.map(\.status), [.done, .done])
        XCTAssertNotNil(report.jobs[0].loss)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out + "/content__style.png"))

        let again = try run(arguments + (try tiny()))
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("2 skipped"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/content__style.png")), bytes)

        // A damaged output, or other settings, run again.
        FileManager.default.createFile(atPath: out + "/chelsea__style.png", contents: Data("x".utf8))
        let repaired = try run(arguments + (try tiny()))
        XCTAssertTrue(repaired.stderr.contains("1 done, 1 skipped"), repaired.stderr)
        let changed = try run(arguments + (try tiny(iterations: 3)))
        XCTAssertTrue(changed.stderr.contains("2 done"), changed.stderr)
    }

    func testOneBadJobFailsAloneAndTheExitCodeSaysHowMany() throws {
        let bad = path("bad.png")
        FileManager.default.createFile(atPath: bad, contents: Data("not an image".utf8))
        let manifest = writeManifest([
            job(content, style, output: "a.png"), job(bad, style, output: "b.png"),
            job(content, style, output: "c.png"),
        ])
        let out = path("out")
        let result = try run(["batch", "--manifest", manifest, "-o", out, "--report", path("r.json")] + (try tiny()))
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(
            result.errorLines,
            ["error: 1 of 3 jobs failed; run the same command again to retry them (finished jobs are skipped)"])
        XCTAssertTrue(result.stderr.contains("[2/3] b.png: failed: \(bad)"), result.stderr)
        XCTAssertEqual(images(in: out), ["a.png", "c.png"])
        let report = try JSONDecoder().decode(
            BatchReport.self, from: try Data(contentsOf: URL(fileURLWithPath: path("r.json"))))
        XCTAssertEqual(report.jobs.map(\.status), [.done, .failed, .done])
        XCTAssertNotNil(report.jobs[1].error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/.stylize-gpu/b.png.lock"))
    }

    func testAnInterruptedJobResumesFromItsCheckpointBitIdentically() throws {
        let options = try tiny(iterations: 300) + ["--checkpoint-every", "20"]
        let reference = path("reference")
        let whole = try run(["batch", "--contents", content, "--styles", style, "-o", reference] + options)
        XCTAssertEqual(whole.status, 0, whole.stderr)

        let out = path("out")
        let arguments = ["batch", "--contents", content, "--styles", style, "-o", out] + options
        let checkpoint = out + "/.stylize-gpu/content__style.png.ckpt"
        let (status, stderr) = try interrupt(arguments, once: checkpoint)
        XCTAssertEqual(status, 130, stderr)
        XCTAssertTrue(stderr.contains("interrupted; its checkpoint resumes it"), stderr)
        XCTAssertEqual(images(in: out), [], "an unfinished job leaves no output")
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/.stylize-gpu/content__style.png.lock"))

        let resumed = try run(arguments)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resumed at iteration"), resumed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint), "removed when the job is done")
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: out + "/content__style.png")),
            try Data(contentsOf: URL(fileURLWithPath: reference + "/content__style.png")))
    }

    func testTwoWorkersAndALiveLockNeverRunAJobTwice() throws {
        let out = path("out")
        let manifest = writeManifest(
            (0..<4).map { job(content, style, output: "j\($0).png", options: #"{"seed": \#($0)}"#) })
        // A live process of this host (this test) holds j2's lock: it is left alone.
        try FileManager.default.createDirectory(atPath: out + "/.stylize-gpu", withIntermediateDirectories: true)
        FileManager.default.createFile(
            atPath: out + "/.stylize-gpu/j2.png.lock", contents: Data("\(getpid()) \(BatchLock.hostName)\n".utf8))
        var options = try tiny()
        options[options.count - 1] = "native,native"
        let result = try run(["batch", "--manifest", manifest, "-o", out, "--report", path("r.json")] + options)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("on 2 workers"), result.stderr)
        XCTAssertEqual(images(in: out), ["j0.png", "j1.png", "j3.png"])
        let report = try JSONDecoder().decode(
            BatchReport.self, from: try Data(contentsOf: URL(fileURLWithPath: path("r.json"))))
        XCTAssertEqual(report.jobs.map(\.status), [.done, .done, .locked, .done])
        XCTAssertEqual(result.stderr.components(separatedBy: ": done in").count - 1, 3, result.stderr)
    }

    func testShardsOfOneBatchTogetherRunEveryJobOnce() throws {
        let out = path("out")
        let manifest = writeManifest(
            (0..<5).map { job(content, style, output: "j\($0).png", options: #"{"seed": \#($0)}"#) })
        var done: [String] = []
        for index in 0..<2 {
            let result = try run(
                ["batch", "--manifest", manifest, "-o", out, "--shard", "auto", "--shards", "2"] + (try tiny()),
                environment: ["JOB_COMPLETION_INDEX": "\(index)"])
            XCTAssertEqual(result.status, 0, result.stderr)
            done += result.stderr.split(separator: "\n").filter { $0.contains(": done in") }.map {
                String($0.split(separator: " ")[1].dropLast())
            }
        }
        XCTAssertEqual(done, ["j0.png", "j2.png", "j4.png", "j1.png", "j3.png"])
        XCTAssertEqual(images(in: out).count, 5)
    }

    /// examples/k8s/indexed-job.yaml's container command, run here once per completion index
    /// with /data in a temporary folder, the binary built here and the native path for its GPU.
    func testTheIndexedJobsPodCommandRunsEveryJobOnceAcrossItsIndexes() throws {
        let yaml = try String(contentsOfFile: examplePath("k8s/indexed-job.yaml"), encoding: .utf8)
        let lines = yaml.split(separator: "\n").map(String.init)
        let completions = try XCTUnwrap(
            lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("completions:") }.flatMap {
                Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
            })
        let start = try XCTUnwrap(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "command:" })
        let command = lines[(start + 1)...].prefix { $0.trimmingCharacters(in: .whitespaces).hasPrefix("- ") }.map {
            $0.trimmingCharacters(in: .whitespaces).dropFirst(2).trimmingCharacters(
                in: CharacterSet(charactersIn: "\""))
        }
        XCTAssertEqual(command[1], "batch")
        XCTAssertEqual(command[command.firstIndex(of: "--shards")! + 1], "\(completions)")
        let data = path("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let options =
            #"{"weights": "\#(try cachedWeightsPath())", "image-size": 32, "iterations": 2, "#
            + #""style-layers": "relu1_1,relu2_1", "content-layers": "relu2_1", "seed": SEED}"#
        FileManager.default.createFile(
            atPath: data + "/jobs.jsonl",
            contents: Data(
                (0..<6).map {
                    job(
                        content, style, output: "j\($0).png",
                        options: options.replacingOccurrences(of: "SEED", with: "\($0)"))
                }
                .joined(separator: "\n").utf8))
        var done = 0
        for index in 0..<completions {
            let arguments = command.dropFirst().map {
                $0.replacingOccurrences(of: "/data", with: data).replacingOccurrences(
                    of: "$(JOB_COMPLETION_INDEX)", with: "\(index)")
            }.map { $0 == "gpu" ? "native" : $0 }
            let result = try run(arguments, environment: ["JOB_COMPLETION_INDEX": "\(index)"])
            XCTAssertEqual(result.status, 0, result.stderr)
            done += result.stderr.components(separatedBy: ": done in").count - 1
            XCTAssertTrue(FileManager.default.fileExists(atPath: data + "/out/report-\(index).json"))
        }
        XCTAssertEqual(done, 6)
        XCTAssertEqual(images(in: data + "/out"), (0..<6).map { "j\($0).png" })
    }
}
