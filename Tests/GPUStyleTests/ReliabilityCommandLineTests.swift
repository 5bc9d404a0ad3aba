import Foundation
@testable import GPUStyle
import XCTest

/// A folder for outputs whose file system a test fills up and frees again: a tmpfs mounted on it
/// when the test may mount one (as root), else a plain folder whose atomic writes fail with
/// ENOSPC while `FOLDER.full` exists (`STYLIZE_GPU_TEST_DISK_FULL=FOLDER`, read by debug builds
/// only).
/// `STYLIZE_GPU_TEST_NO_MOUNT=1` asks for the second.
final class FillableDisk {
    let folder: String
    /// The binary's temporary folder (TMPDIR), where a run keeps an image it cannot write.
    let temporary: String
    /// What the test ran on, for its log: "a 4 MiB tmpfs" or "an injected ENOSPC (why)".
    let kind: String
    private let mounted: Bool
    private let flag: String
    private var ballast: String { folder + "/ballast" }

    init(in parent: String) throws {
        folder = parent + "/disk"
        flag = folder + ".full"
        temporary = parent + "/tmp"
        for made in [folder, temporary] {
            try FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: true)
        }
        var reason = "not root"
        if ProcessInfo.processInfo.environment["STYLIZE_GPU_TEST_NO_MOUNT"] == "1" {
            reason = "STYLIZE_GPU_TEST_NO_MOUNT=1"
        } else if geteuid() == 0 {
            let status = FillableDisk.command(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", folder])
            reason = "mount exited with \(status)"
            if status == 0 {
                mounted = true
                kind = "a 4 MiB tmpfs"
                print("disk full: \(kind)")
                return
            }
        }
        mounted = false
        kind = "an injected ENOSPC (cannot mount a tmpfs: \(reason))"
        print("disk full: \(kind)")
    }

    /// The binary's environment: its temporary folder, and the injected full disk.
    var environment: [String: String] {
        ["TMPDIR": temporary].merging(mounted ? [:] : ["STYLIZE_GPU_TEST_DISK_FULL": folder]) { $1 }
    }

    /// Fills the file system (a ballast file written until ENOSPC), or raises the flag.
    func fill() {
        guard mounted else {
            _ = FileManager.default.createFile(atPath: flag, contents: Data())
            return
        }
        let descriptor = open(ballast, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        let chunk = [UInt8](repeating: 7, count: 4096)
        while write(descriptor, chunk, chunk.count) > 0 {}
        close(descriptor)
    }

    /// Frees the space again.
    func free() {
        unlink(mounted ? ballast : flag)
    }

    /// Unmounts what `init` mounted.
    func unmount() {
        if mounted { _ = FillableDisk.command(["umount", folder]) }
    }

    private static func command(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Helpers of the tests below: tiny jobs and frames, manifests with any characters, checks of
/// records against outputs.
class ReliabilityTestsBase: BatchCommandLineTestsBase {
    /// A manifest line, JSON-encoded (names may hold quotes).
    func jsonJob(_ content: String, _ style: String, output: String, seed: Int = 0) throws -> String {
        let object: [String: Any] = [
            "content": content, "styles": [style], "output": output, "options": ["seed": seed],
        ]
        return String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// `count` copies of a 40×32 crop of the content photo in a new folder.
    func makeFrames(_ names: [String], folder name: String = "frames") throws -> String {
        let frames = path(name)
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        let photo = try ImageFile.read(content).image.resized(width: 40, height: 32)
        for frame in names { try ImageFile.write(photo, to: frames + "/" + frame) }
        return frames
    }

    func videoOptions(iterations: Int) throws -> [String] {
        [
            "--weights", try cachedWeightsPath(), "--image-size", "32", "--iterations", "\(iterations)",
            "--frame-iterations", "\(iterations)", "--temporal-weight", "0", "--style-layers", "relu1_1,relu2_1",
            "--content-layers", "relu2_1", "--device", "native", "--progress", "none",
        ]
    }

    /// Every output in the folder `sub` of the output folder `out` has a record whose SHA-256 is
    /// the output's, and no temporary file is left beside them.
    func assertOutputsMatchTheirRecords(
        _ out: String, sub: String = "", file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let folder = sub.isEmpty ? out : out + "/" + sub
        for image in images(in: folder) {
            let record = try JSONDecoder().decode(
                BatchRecord.self,
                from: try Data(
                    contentsOf: URL(
                        fileURLWithPath: out + "/.stylize-gpu/" + (sub.isEmpty ? "" : sub + "/") + image + ".json")))
            XCTAssertEqual(
                record.outputSHA256, try BatchRecord.digest(ofFile: folder + "/" + image), image, file: file, line: line
            )
            XCTAssertNoThrow(try ImageFile.read(folder + "/" + image), image, file: file, line: line)
        }
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0.hasSuffix(".tmp")
        }
        XCTAssertEqual(left, [], "temporary files left in \(folder)", file: file, line: line)
    }

    /// Waits (at most two minutes) until `file` exists.
    func wait(for file: String) {
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: file), Date() < deadline { usleep(5_000) }
    }

    /// Runs `arguments` on `disk`, fills it once `firstOutput` exists, and checks that the
    /// command ends with exit 1 and one line starting `error: the disk is full (`.
    func fillDuring(_ arguments: [String], disk: FillableDisk, once firstOutput: String) throws -> Result {
        let (process, stdout, stderr) = try launch(arguments, environment: disk.environment)
        wait(for: firstOutput)
        disk.fill()
        let full = finish(process, stdout, stderr)
        XCTAssertEqual(full.status, 1, "\(disk.kind): \(full.stderr)")
        XCTAssertEqual(full.errorLines.count, 1, full.stderr)
        XCTAssertTrue(full.errorLines.first?.hasPrefix("error: the disk is full (") ?? false, full.stderr)
        XCTAssertTrue(full.stderr.contains("free space and run the same command again"), full.stderr)
        return full
    }

    /// Runs a launched process to its end (these commands print little on stdout, so reading
    /// the two pipes in turn cannot stall).
    func finish(_ process: Process, _ out: Pipe, _ err: Pipe) -> Result {
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// The output's file system fills up during a run, a batch and a video (issue 25).
final class DiskFullTests: ReliabilityTestsBase {
    func testRunOnAFullDiskKeepsTheImageElsewhere() throws {
        let disk = try FillableDisk(in: folder)
        defer { disk.unmount() }
        disk.fill()
        // The system's reason reaches the line from libpng's, libjpeg's and libtiff's writers alike.
        for name in ["out.png", "out.jpg", "out.tif"] {
            let result = try run(
                [
                    content, style, "-o", disk.folder + "/" + name, "--weights", try cachedWeightsPath(),
                    "--image-size", "32", "--iterations", "2", "--style-layers", "relu1_1", "--content-layers",
                    "relu1_1", "--device", "native", "--progress", "none",
                ], environment: disk.environment)
            XCTAssertEqual(result.status, 1, "\(disk.kind): \(result.stderr)")
            XCTAssertEqual(result.errorLines.count, 1, result.stderr)
            let line = String(result.errorLines.first ?? "")
            XCTAssertTrue(isOutOfSpace(StyleError(line)), line)
            let kept = try XCTUnwrap(
                line.components(separatedBy: "written to ").last?.components(separatedBy: " instead").first)
            XCTAssertTrue(kept.hasPrefix(disk.temporary), line)
            XCTAssertNoThrow(try ImageFile.read(kept), line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: disk.folder + "/" + name))
        }
        XCTAssertEqual(images(in: disk.folder), [])
        try assertOutputsMatchTheirRecords(disk.folder)
    }

    func testBatchOnAFullDiskStopsKeepsTheFinishedJobsAndARerunFinishes() throws {
        let disk = try FillableDisk(in: folder)
        defer { disk.unmount() }
        let out = disk.folder + "/out"
        let names = (0..<4).map { "j\($0).png" }
        let manifest = writeManifest(try names.enumerated().map { try jsonJob(content, style, output: $1, seed: $0) })
        let arguments = ["batch", "--manifest", manifest, "-o", out] + (try tiny(iterations: 40))
        let full = try fillDuring(arguments, disk: disk, once: out + "/j0.png")
        let kept = images(in: out)
        XCTAssertTrue(kept.contains("j0.png"), full.stderr)
        XCTAssertLessThan(kept.count, names.count, "the disk filled before the last job: \(full.stderr)")
        XCTAssertEqual(
            full.stderr.components(separatedBy: ": failed: ").count - 1, 1, "it stopped at once: \(full.stderr)")
        try assertOutputsMatchTheirRecords(out)
        let state = try FileManager.default.contentsOfDirectory(atPath: out + "/.stylize-gpu")
        XCTAssertEqual(state.filter { $0.hasSuffix(".tmp") || $0.contains(".partial.") }, [], "\(state)")
        let bytes = try kept.map { try Data(contentsOf: URL(fileURLWithPath: out + "/" + $0)) }

        disk.free()
        let rerun = try run(arguments, environment: disk.environment)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("\(names.count - kept.count) done, \(kept.count) skipped"), rerun.stderr)
        XCTAssertEqual(images(in: out), names)
        XCTAssertEqual(try kept.map { try Data(contentsOf: URL(fileURLWithPath: out + "/" + $0)) }, bytes)
        try assertOutputsMatchTheirRecords(out)
    }

    func testVideoOnAFullDiskStopsKeepsTheFinishedFramesAndARerunContinues() throws {
        let disk = try FillableDisk(in: folder)
        defer { disk.unmount() }
        let frames = try makeFrames(["1.png", "2.png", "3.png"])
        let out = disk.folder + "/out"
        let arguments = ["video", frames, style, "-o", out] + (try videoOptions(iterations: 40))
        let full = try fillDuring(arguments, disk: disk, once: out + "/00001.png")
        XCTAssertTrue(full.errorLines.first?.hasPrefix("error: the disk is full (frame ") ?? false, full.stderr)
        let kept = images(in: out)
        XCTAssertTrue(kept.contains("00001.png"), full.stderr)
        XCTAssertLessThan(kept.count, 3, full.stderr)
        XCTAssertTrue(full.stderr.contains("stopped with \(kept.count) of 3 frames finished and kept"), full.stderr)
        try assertOutputsMatchTheirRecords(out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/.stylize-gpu/video.lock"))

        disk.free()
        let rerun = try run(arguments, environment: disk.environment)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        for k in 1...kept.count { XCTAssertTrue(rerun.stderr.contains("frame \(k)/3: finished earlier"), rerun.stderr) }
        XCTAssertEqual(images(in: out), ["00001.png", "00002.png", "00003.png"])
        try assertOutputsMatchTheirRecords(out)
    }
}

/// Where outputs may go, and names with any characters (issue 25).
final class OutputFolderSafetyTests: ReliabilityTestsBase {
    func testSymbolicLinksInsideTheOutputFolderCannotLeadOutside() throws {
        let elsewhere = path("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let options = try tiny()
        // OUTDIR/sub -> elsewhere: a manifest output under it is refused before any work.
        let out = path("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: out + "/sub", withDestinationPath: elsewhere)
        let manifest = writeManifest([try jsonJob(content, style, output: "sub/deeper/x.png")])
        let linked = try run(["batch", "--manifest", manifest, "-o", out] + options)
        XCTAssertEqual(linked.status, 1, linked.stderr)
        XCTAssertEqual(linked.errorLines.count, 1, linked.stderr)
        XCTAssertTrue(linked.stderr.contains("leads outside the output folder"), linked.stderr)
        for escape in [elsewhere + "/x.png", "../x.png", "a/../../x.png"] {
            let refused = try run(
                ["batch", "--manifest", writeManifest([try jsonJob(content, style, output: escape)]), "-o", out]
                    + options)
            XCTAssertEqual(refused.status, 1, refused.stderr)
            XCTAssertTrue(refused.errorLines.first?.contains("leaves the output folder") ?? false, refused.stderr)
        }
        // The state folder a link out, for batch and for video.
        let stateOut = path("state-out")
        try FileManager.default.createDirectory(atPath: stateOut, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: stateOut + "/.stylize-gpu", withDestinationPath: elsewhere)
        let state = try run(["batch", "--contents", content, "--styles", style, "-o", stateOut] + options)
        XCTAssertEqual(state.status, 1, state.stderr)
        XCTAssertTrue(state.errorLines.first?.contains("leads outside the output folder") ?? false, state.stderr)
        let frames = try makeFrames(["1.png", "2.png"])
        let video = try run(["video", frames, style, "-o", stateOut] + (try videoOptions(iterations: 2)))
        XCTAssertEqual(video.status, 1, video.stderr)
        XCTAssertTrue(video.errorLines.first?.contains("leads outside the output folder") ?? false, video.stderr)
        // Beside a video file (a GIF: no ffmpeg needed) the state folder holds the frames.
        let gif = try run(["video", frames, style, "-o", stateOut + "/clip.gif"] + (try videoOptions(iterations: 2)))
        XCTAssertEqual(gif.status, 1, gif.stderr)
        XCTAssertTrue(gif.errorLines.first?.contains("leads outside the output folder") ?? false, gif.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere), [], "nothing written outside")
        XCTAssertEqual(images(in: stateOut), [])

        // A link inside the folder, and an output folder that is itself a link (given by the user), work.
        let inside = path("inside")
        try FileManager.default.createDirectory(atPath: inside + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: inside + "/alias", withDestinationPath: inside + "/real")
        let given = path("given")
        try FileManager.default.createSymbolicLink(atPath: given, withDestinationPath: inside)
        let fine = try run(
            ["batch", "--manifest", writeManifest([try jsonJob(content, style, output: "alias/x.png")]), "-o", given]
                + options)
        XCTAssertEqual(fine.status, 0, fine.stderr)
        XCTAssertEqual(images(in: inside + "/real"), ["x.png"])
    }

    func testNamesWithSpacesQuotesAndNonASCIIWorkEndToEnd() throws {
        let odd = path("in 'é' \"q\"")
        try FileManager.default.createDirectory(atPath: odd, withIntermediateDirectories: true)
        let oddContent = odd + "/my “café” photo's.png"
        let oddStyle = odd + "/stíle \"ü\" 1.png"
        try FileManager.default.copyItem(atPath: content, toPath: oddContent)
        try FileManager.default.copyItem(atPath: style, toPath: oddStyle)
        let runOutput = odd + "/out ö \"x\" 'y'.png"
        let single = try run(
            [
                oddContent, oddStyle, "-o", runOutput, "--weights", try cachedWeightsPath(), "--image-size", "32",
                "--iterations", "2", "--style-layers", "relu1_1", "--content-layers", "relu1_1", "--device", "native",
                "--progress", "none",
            ])
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertNoThrow(try ImageFile.read(runOutput))

        let out = path("out ü \"z\" 'w'")
        let grid = try run(["batch", "--contents", oddContent, "--styles", oddStyle, "-o", out] + (try tiny()))
        XCTAssertEqual(grid.status, 0, grid.stderr)
        XCTAssertEqual(images(in: out), ["my “café” photo's__stíle \"ü\" 1.png"])
        let manifest = writeManifest(
            [try jsonJob(oddContent, oddStyle, output: "sub dir é/\"ñ\" 'o'.png")], name: "jobs \"é\".jsonl")
        let listed = try run(["batch", "--manifest", manifest, "-o", out] + (try tiny()))
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertEqual(images(in: out + "/sub dir é"), ["\"ñ\" 'o'.png"])
        try assertOutputsMatchTheirRecords(out)
        try assertOutputsMatchTheirRecords(out, sub: "sub dir é")

        let frames = try makeFrames(["f 1 é.png", "f “2”.png"], folder: "frames 'ä' \"b\"")
        let videoOut = path("video ø \"c\"")
        let video = try run(["video", frames, oddStyle, "-o", videoOut] + (try videoOptions(iterations: 2)))
        XCTAssertEqual(video.status, 0, video.stderr)
        XCTAssertEqual(images(in: videoOut), ["00001.png", "00002.png"])
        XCTAssertEqual(
            try JSONDecoder().decode(
                BatchRecord.self,
                from: Data(contentsOf: URL(fileURLWithPath: videoOut + "/.stylize-gpu/00001.png.json"))
            ).content, frames + "/f 1 é.png")
    }
}

/// Two batch processes on one manifest and one output folder, without shards (issue 25).
final class BatchConcurrencyTests: ReliabilityTestsBase {
    /// The outputs a run's stderr says it finished ("[2/6] j1.png: done in …").
    func doneOutputs(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").filter { $0.contains(": done in") }.map {
            String($0.split(separator: " ")[1].dropLast())
        }
    }

    func testTwoProcessesRunEveryJobOnceAndAKilledOneLeavesNoJobMarkedDone() throws {
        // Jobs of a second or two each, so both processes are mid-job most of the time.
        let names = (0..<6).map { "j\($0).png" }
        let manifest = writeManifest(try names.enumerated().map { try jsonJob(content, style, output: $1, seed: $0) })
        let options = [
            "--weights", try cachedWeightsPath(), "--image-size", "64", "--iterations", "25", "--style-layers",
            "relu1_1,relu2_1", "--content-layers", "relu2_1", "--devices", "native",
        ]

        // Both to the end: every job done by exactly one of them, the other skipped or left it (locked).
        let out = path("both")
        let launched = try (0..<2).map { index in
            try launch(["batch", "--manifest", manifest, "-o", out, "--report", path("r\(index).json")] + options)
        }
        let results = launched.map { finish($0.0, $0.1, $0.2) }
        for result in results { XCTAssertEqual(result.status, 0, result.stderr) }
        XCTAssertEqual(results.flatMap { doneOutputs($0.stderr) }.sorted(), names, results.map(\.stderr).joined())
        let reports = try (0..<2).map {
            try JSONDecoder().decode(
                BatchReport.self, from: try Data(contentsOf: URL(fileURLWithPath: path("r\($0).json"))))
        }
        for position in names.indices {
            let statuses = reports.map { $0.jobs[position].status }
            XCTAssertEqual(statuses.filter { $0 == .done }.count, 1, "\(names[position]): \(statuses)")
            XCTAssertTrue(statuses.allSatisfy { [.done, .skipped, .locked].contains($0) }, "\(statuses)")
        }
        XCTAssertEqual(images(in: out), names)
        try assertOutputsMatchTheirRecords(out)

        // One killed (SIGKILL) while it holds a job's lock: no output without its record, and a
        // rerun completes the rest, every job done once over the three processes.
        let killedOut = path("killed")
        // Started together; the first is killed once both hold a job's lock at the same time.
        let (victim, victimOut, victimErr) = try launch(["batch", "--manifest", manifest, "-o", killedOut] + options)
        let (other, otherOut, otherErr) = try launch(["batch", "--manifest", manifest, "-o", killedOut] + options)
        func job(heldBy process: Process) -> String? {
            names.first { BatchLock.owner(killedOut + "/.stylize-gpu/\($0).lock")?.pid == process.processIdentifier }
        }
        let deadline = Date().addingTimeInterval(120)
        var held: String?
        while victim.isRunning, Date() < deadline {
            if job(heldBy: other) != nil, let victims = job(heldBy: victim) {
                held = victims
                break
            }
            usleep(2_000)
        }
        kill(victim.processIdentifier, SIGKILL)
        let killed = finish(victim, victimOut, victimErr)
        let survivor = finish(other, otherOut, otherErr)
        XCTAssertNotNil(held, "the two never held locks at once: \(killed.stderr)")
        XCTAssertEqual(killed.status, 9, killed.stderr)
        XCTAssertEqual(survivor.status, 0, survivor.stderr)
        try assertOutputsMatchTheirRecords(killedOut)
        if let held { XCTAssertFalse(doneOutputs(killed.stderr).contains(held)) }

        let rerun = try run(["batch", "--manifest", manifest, "-o", killedOut] + options)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertEqual(images(in: killedOut), names)
        try assertOutputsMatchTheirRecords(killedOut)
        let done = [killed, survivor, rerun].flatMap { doneOutputs($0.stderr) }
        XCTAssertEqual(done.sorted(), names, "each job done once: \(done)")
    }
}

/// Temporary files a process killed with SIGKILL leaves behind, and the next run's clean-up (issue 25).
final class StaleTemporaryTests: ReliabilityTestsBase {
    /// The pid of a process that has ended.
    func deadPid() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    /// A temporary's name as `TemporaryName.make` gives it, for another pid or host.
    func temporary(_ stem: String, pid: Int32, host: String = TemporaryName.host) -> String {
        "\(stem).\(pid).12345.\(host).tmp"
    }

    func testOnlyThisHostsTemporariesWhoseWriterIsGoneAreRemoved() throws {
        let dead = try deadPid()
        let live = getppid()
        let otherHost = TemporaryName.host == "00000000" ? "11111111" : "00000000"
        let made = TemporaryName.make(".out.png")
        XCTAssertEqual(TemporaryName.writer(of: made, stemPrefix: "."), getpid(), made)
        let stale = [temporary(".out.png", pid: dead), temporary(".a.b c.json", pid: dead)]
        let kept = [
            temporary(".out.png", pid: live), temporary(".out.png", pid: dead, host: otherHost), "out.png",
            ".out.png.tmp", ".out.png.\(dead).tmp", ".out.png.\(dead).x.\(TemporaryName.host).tmp",
            temporary("out.png", pid: dead),
        ]
        for name in stale + kept { _ = FileManager.default.createFile(atPath: path(name), contents: Data([1])) }
        // A folder of decoded frames in the temporary folder goes too, with what it holds.
        let frames = temporary(TemporaryName.decodedVideoStem, pid: dead)
        try FileManager.default.createDirectory(atPath: path(frames) + "/in", withIntermediateDirectories: true)
        XCTAssertEqual(TemporaryName.removeStale(in: folder).sorted(), stale.sorted())
        XCTAssertEqual(TemporaryName.removeStale(in: folder, stemPrefix: TemporaryName.decodedVideoStem), [frames])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), kept.sorted())
    }

    /// A run, a batch and a video killed with SIGKILL; temporaries named with the killed pid (as
    /// its unfinished writes were) are removed by the next run, which completes; another host's and
    /// the user's files stay.
    func testARerunAfterSIGKILLRemovesTheKilledProcessesTemporariesAndCompletes() throws {
        let otherHost = TemporaryName.host == "00000000" ? "11111111" : "00000000"
        let temporaryFolder = path("tmp")
        try FileManager.default.createDirectory(atPath: temporaryFolder, withIntermediateDirectories: true)
        func killed(_ arguments: [String], once started: String) throws -> Int32 {
            let (process, stdout, stderr) = try launch(arguments, environment: ["TMPDIR": temporaryFolder])
            wait(for: started)
            kill(process.processIdentifier, SIGKILL)
            XCTAssertEqual(finish(process, stdout, stderr).status, 9)
            return process.processIdentifier
        }
        func plant(_ folder: String, _ stems: [String], pid: Int32) -> [String] {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            return stems.map { stem in
                let file = folder + "/" + temporary(stem, pid: pid)
                _ = FileManager.default.createFile(atPath: file, contents: Data([1]))
                return file
            }
        }
        func assertGone(_ files: [String], _ result: Result, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
            XCTAssertTrue(
                result.stderr.contains("left by a stopped stylize-gpu"), result.stderr, file: file, line: line)
            for left in files where FileManager.default.fileExists(atPath: left) {
                XCTFail("\(left) was not removed: \(result.stderr)", file: file, line: line)
            }
        }

        // run: a long run with checkpoints, killed once its first checkpoint is written.
        let output = path("run/out.png")
        try FileManager.default.createDirectory(atPath: path("run"), withIntermediateDirectories: true)
        let runArguments = [
            content, style, "-o", output, "--weights", try cachedWeightsPath(), "--image-size", "32",
            "--style-layers", "relu1_1", "--content-layers", "relu1_1", "--device", "native", "--progress", "none",
            "--checkpoint", path("run/out.ckpt"), "--checkpoint-every", "1",
        ]
        let runPid = try killed(runArguments + ["--iterations", "100000"], once: path("run/out.ckpt"))
        let runLeft = plant(path("run"), [".out.png", ".out.ckpt"], pid: runPid)
        let foreign = path("run/" + temporary(".out.png", pid: runPid, host: otherHost))
        let users = path("run/.out.png.keep.tmp")
        for kept in [foreign, users] { _ = FileManager.default.createFile(atPath: kept, contents: Data([2])) }
        let rerun = try run(runArguments + ["--iterations", "2"], environment: ["TMPDIR": temporaryFolder])
        assertGone(runLeft, rerun)
        XCTAssertNoThrow(try ImageFile.read(output))
        XCTAssertTrue(FileManager.default.fileExists(atPath: foreign), "another host's temporary stays")
        XCTAssertTrue(FileManager.default.fileExists(atPath: users), "a file we did not name stays")

        // batch: killed once its lock exists; the state folder's temporaries go.
        let out = path("batch")
        let batch = ["batch", "--contents", content, "--styles", style, "-o", out] + (try tiny(iterations: 100000))
        let stem =
            URL(fileURLWithPath: content).deletingPathExtension().lastPathComponent + "__"
            + URL(fileURLWithPath: style).deletingPathExtension().lastPathComponent
        let batchPid = try killed(batch, once: out + "/.stylize-gpu/\(stem).png.lock")
        let batchLeft =
            plant(
                out + "/.stylize-gpu", [".\(stem).partial.png", ".\(stem).png.json", ".\(stem).png.ckpt"], pid: batchPid
            )
            + plant(out, [".\(stem).png"], pid: batchPid)
        let batchRerun = try run(
            ["batch", "--contents", content, "--styles", style, "-o", out] + (try tiny(iterations: 2)),
            environment: ["TMPDIR": temporaryFolder])
        assertGone(batchLeft, batchRerun)
        try assertOutputsMatchTheirRecords(out)
        XCTAssertEqual(images(in: out), [stem + ".png"])

        // video: killed once its lock exists; the frames' temporaries and a decoded-frames folder go.
        let frames = try makeFrames(["1.png", "2.png"])
        let videoOut = path("video")
        let video = ["video", frames, style, "-o", videoOut]
        let videoPid = try killed(
            video + (try videoOptions(iterations: 100000)), once: videoOut + "/.stylize-gpu/video.lock")
        let decoded = temporaryFolder + "/" + temporary(TemporaryName.decodedVideoStem, pid: videoPid)
        try FileManager.default.createDirectory(atPath: decoded, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: decoded + "/00001.png", contents: Data([1]))
        let videoLeft =
            plant(videoOut, [".00001.png"], pid: videoPid)
            + plant(videoOut + "/.stylize-gpu", [".00001.partial.png", ".00001.png.json"], pid: videoPid) + [decoded]
        let videoRerun = try run(video + (try videoOptions(iterations: 2)), environment: ["TMPDIR": temporaryFolder])
        assertGone(videoLeft, videoRerun)
        XCTAssertEqual(images(in: videoOut), ["00001.png", "00002.png"])
        try assertOutputsMatchTheirRecords(videoOut)
    }
}

/// What a long batch keeps between jobs (issue 25; benchmarks/longrun measures the process over
/// 50 jobs and 2,000 iterations).
final class LongRunTests: ReliabilityTestsBase {
    func testABatchHoldsTheSameDeviceMemoryAfterEveryJob() throws {
        // Two sizes and two styles: the style-target cache and the workspaces change between jobs.
        let style2 = path("style2.png")
        try ImageFile.write(try ImageFile.read(style).image.resized(width: 24, height: 40), to: style2)
        let jobs = try (0..<6).map { k in
            String(
                decoding: try JSONSerialization.data(
                    withJSONObject: [
                        "content": content, "styles": [k % 2 == 0 ? style : style2], "output": "j\(k).png",
                        "options": ["seed": k, "image-size": k % 3 == 0 ? 32 : 48],
                    ], options: [.sortedKeys]), as: UTF8.self)
        }
        let report = path("report.json")
        let result = try run(
            ["batch", "--manifest", writeManifest(jobs), "-o", path("out"), "--report", report] + (try tiny()))
        XCTAssertEqual(result.status, 0, result.stderr)
        let held = try JSONDecoder().decode(BatchReport.self, from: Data(contentsOf: URL(fileURLWithPath: report)))
            .jobs.map(\.deviceBytes)
        XCTAssertEqual(held.count, 6)
        XCTAssertGreaterThan(held.first.flatMap { $0 } ?? 0, 0, "the network stays on the device: \(held)")
        XCTAssertEqual(Set(held).count, 1, "the same after every job: \(held)")
    }
}
