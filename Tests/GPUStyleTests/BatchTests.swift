import Foundation
@testable import GPUStyle
import XCTest

/// The batch's plan (grid, manifest, shards), its records and its locks, without running jobs.
final class BatchTests: TemporaryFolderTestCase {
    private func write(_ text: String, to name: String) -> String {
        let path = folder + "/" + name
        try? FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    func testGridExpandsFoldersSortedAndNamesEveryPair() throws {
        for name in ["photos/b.jpg", "photos/a.PNG", "photos/notes.txt", "photos/.hidden.png", "art/x.jpeg"] {
            _ = write("", to: name)
        }
        let jobs = try BatchPlan.grid(
            contents: [folder + "/photos", folder + "/art/x.jpeg"], styles: [folder + "/art"], format: "png")
        XCTAssertEqual(jobs.map(\.output), ["a__x.png", "b__x.png", "x__x.png"])
        XCTAssertEqual(jobs[0].content, folder + "/photos/a.PNG")
        XCTAssertEqual(jobs[0].styles, [folder + "/art/x.jpeg"])
        _ = write("", to: "empty/readme.txt")
        XCTAssertThrowsError(try BatchPlan.grid(contents: [folder + "/empty"], styles: ["s.png"], format: "png")) {
            XCTAssertTrue(describe($0).contains("holds no .png, .jpg or .jpeg image"), describe($0))
        }
        // The same name in two folders would write one output twice.
        _ = write("", to: "other/a.png")
        XCTAssertThrowsError(
            try BatchPlan.grid(contents: [folder + "/photos", folder + "/other"], styles: ["s.png"], format: "png")
        ) { XCTAssertTrue(describe($0).contains("two jobs write a__s.png"), describe($0)) }
    }

    func testManifestTurnsOptionsIntoArgumentsAndResolvesPathsAgainstItsFolder() throws {
        let manifest = write(
            """
            {"content": "in/cat.jpg", "styles": ["a.png", "/abs/b.png"], "output": "sub/cat.jpg", \
            "options": {"image-size": 768, "style-weight": 2.5e2, "style-layers": ["relu1_1", "relu2_1"], \
            "original-colors": true, "png16": false, "--init": "random"}}

            {"content": "dog.png", "styles": ["a.png"]}
            """, to: "m/jobs.jsonl")
        let jobs = try BatchPlan.manifest(path: manifest, format: "jpg")
        XCTAssertEqual(jobs.count, 2)
        XCTAssertEqual(jobs[0].content, folder + "/m/in/cat.jpg")
        XCTAssertEqual(jobs[0].styles, [folder + "/m/a.png", "/abs/b.png"])
        XCTAssertEqual(jobs[0].output, "sub/cat.jpg")
        XCTAssertEqual(
            jobs[0].arguments,
            [
                "--init", "random", "--image-size", "768", "--original-colors", "--style-layers", "relu1_1,relu2_1",
                "--style-weight", "250",
            ])
        XCTAssertEqual(jobs[0].origin, manifest + ":1")
        XCTAssertEqual(jobs[1].output, "dog__a.jpg")
        XCTAssertEqual(jobs[1].origin, manifest + ":3")
    }

    func testEveryManifestErrorIsOneLineNamingTheLine() throws {
        let good = #"{"content": "c.png", "styles": ["s.png"]}"#
        let cases: [(String, String)] = [
            ("{\"content\": \"c.png\", ", ":2: not a JSON object"),
            ("[1, 2]", ":2: not a JSON object"),
            (#"{"content": "c.png", "styles": ["s.png"], "stlyes": []}"#, ":2: unknown key \"stlyes\""),
            (#"{"styles": ["s.png"]}"#, ":2: \"content\" must be"),
            (#"{"content": "c.png", "styles": []}"#, ":2: \"styles\" must be a list"),
            (#"{"content": "c.png", "styles": "s.png"}"#, ":2: \"styles\" must be a list"),
            (#"{"content": "c.png", "styles": ["s.png"], "options": {"device": "0"}}"#, "belongs to the whole batch"),
            (#"{"content": "c.png", "styles": ["s.png"], "options": {"seed": null}}"#, "option seed: give a number"),
            (#"{"content": "c.png", "styles": ["s.png"], "options": 3}"#, "\"options\" must be an object"),
            (#"{"content": "c.png", "styles": ["s.png"], "output": "../up.png"}"#, "leaves the output folder"),
            (#"{"content": "c.png", "styles": ["s.png"], "output": "a/../../up.png"}"#, "leaves the output folder"),
            (#"{"content": "c.png", "styles": ["s.png"], "output": "/tmp/abs.png"}"#, "leaves the output folder"),
            (#"{"content": "d/c.png", "styles": ["s.png"]}"#, "two jobs write c__s.png"),
        ]
        for (index, (line, expected)) in cases.enumerated() {
            let manifest = write(good + "\n" + line + "\n", to: "jobs\(index).jsonl")
            XCTAssertThrowsError(try BatchPlan.manifest(path: manifest, format: "png"), line) { error in
                let message = describe(error)
                XCTAssertTrue(message.contains(expected), "\(line): \(message)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
        XCTAssertThrowsError(try BatchPlan.manifest(path: folder + "/missing.jsonl", format: "png")) {
            XCTAssertTrue(describe($0).contains("--manifest \(self.folder)/missing.jsonl: no such file"), describe($0))
        }
        XCTAssertThrowsError(try BatchPlan.manifest(path: write("\n\n", to: "blank.jsonl"), format: "png")) {
            XCTAssertTrue(describe($0).contains("holds no job"), describe($0))
        }
    }

    func testShardsAreDisjointAndCoverEveryJob() throws {
        for total in 0...13 {
            for count in 1...5 {
                let positions = try (0..<count).flatMap { try BatchShard(index: $0, count: count).positions(of: total) }
                XCTAssertEqual(positions.sorted(), Array(0..<total), "\(total) jobs, \(count) shards")
            }
        }
        XCTAssertEqual(try BatchShard.parse("1/3", shards: nil, environment: [:]), try BatchShard(index: 1, count: 3))
        for bad in ["3/3", "-1/2", "1", "a/b", "0/0"] {
            XCTAssertThrowsError(try BatchShard.parse(bad, shards: nil, environment: [:]), bad)
        }
    }

    func testShardAutoReadsSlurmArraysAndKubernetesIndexedJobs() throws {
        let slurm = ["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "5"]
        XCTAssertEqual(
            try BatchShard.parse("auto", shards: nil, environment: slurm), try BatchShard(index: 2, count: 3))
        let zeroBased = ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"]
        XCTAssertEqual(
            try BatchShard.parse("auto", shards: nil, environment: zeroBased), try BatchShard(index: 0, count: 2))
        let stepped = ["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_STEP": "2"]
        XCTAssertEqual(
            try BatchShard.parse("auto", shards: nil, environment: stepped), try BatchShard(index: 2, count: 3))
        let kubernetes = ["JOB_COMPLETION_INDEX": "4"]
        XCTAssertEqual(
            try BatchShard.parse("auto", shards: 5, environment: kubernetes), try BatchShard(index: 4, count: 5))
        let failing: [([String: String], Int?, String)] = [
            ([:], nil, "neither SLURM_ARRAY_TASK_ID"),
            (kubernetes, nil, "give --shards N"),
            (["SLURM_ARRAY_TASK_ID": "1"], nil, "SLURM_ARRAY_TASK_COUNT is not"),
            (["SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "3"], nil, "contiguous range"),
            (["JOB_COMPLETION_INDEX": "5"], 5, "the index must be"),
            (["JOB_COMPLETION_INDEX": "x"], 5, "is not a number"),
        ]
        for (environment, shards, expected) in failing {
            XCTAssertThrowsError(try BatchShard.parse("auto", shards: shards, environment: environment)) {
                XCTAssertTrue(describe($0).contains(expected), describe($0))
            }
        }
    }

    func testALockIsExclusiveAndOnlyADeadLocalProcessesLockIsTakenOver() throws {
        let path = folder + "/job.lock"
        let first = try XCTUnwrap(try BatchLock.acquire(path))
        XCTAssertEqual(BatchLock.owner(path)?.pid, getpid())
        XCTAssertEqual(BatchLock.owner(path)?.host, BatchLock.hostName)
        XCTAssertNil(try BatchLock.acquire(path), "held by this live process")
        first.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))

        // A process of this host that is gone: its lock is taken over.
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        FileManager.default.createFile(
            atPath: path, contents: Data("\(dead.processIdentifier) \(BatchLock.hostName)\n".utf8))
        let taken = try XCTUnwrap(try BatchLock.acquire(path))
        XCTAssertEqual(BatchLock.owner(path)?.pid, getpid())
        taken.release()

        // Another host's lock is never taken over, whatever its pid.
        FileManager.default.createFile(
            atPath: path, contents: Data("\(dead.processIdentifier) another-host\n".utf8))
        XCTAssertNil(try BatchLock.acquire(path))
    }

    func testARecordMatchesOnlyItsSettingsAndItsOutput() throws {
        let content = write("content bytes", to: "c.png"), style = write("style bytes", to: "s.png")
        let files = BatchJobFiles(outputFolder: folder + "/out", relativeOutput: "sub/c__s.png")
        XCTAssertEqual(files.record, folder + "/out/.stylize-gpu/sub/c__s.png.json")
        XCTAssertEqual(files.partialImage, folder + "/out/.stylize-gpu/sub/c__s.partial.png")
        try files.makeFolders()
        var options = StyleJobOptions(contentPath: content, stylePaths: [style])
        let settings = try BatchSettings(options: options, weightsSHA256: "w", bitDepth: 8, jpegQuality: 95)
        FileManager.default.createFile(atPath: files.output, contents: Data("image".utf8))
        try BatchRecord(
            content: content, styles: [style], settings: settings,
            outputSHA256: try BatchRecord.digest(ofFile: files.output), device: "native", seconds: 1, loss: 2
        ).write(to: files.record)
        XCTAssertTrue(BatchRecord.isFinished(files, settings: settings))
        options.imageSize = 256
        XCTAssertFalse(
            BatchRecord.isFinished(
                files, settings: try BatchSettings(options: options, weightsSHA256: "w", bitDepth: 8, jpegQuality: 95))
        )
        _ = write("other style", to: "s.png")
        XCTAssertFalse(
            BatchRecord.isFinished(
                files,
                settings: try BatchSettings(
                    options: StyleJobOptions(contentPath: content, stylePaths: [style]), weightsSHA256: "w",
                    bitDepth: 8, jpegQuality: 95)))
        FileManager.default.createFile(atPath: files.output, contents: Data("changed".utf8))
        XCTAssertFalse(BatchRecord.isFinished(files, settings: settings))
    }
}
