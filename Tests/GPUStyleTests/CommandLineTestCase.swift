import Foundation
@testable import GPUStyle
import XCTest

/// Runs the built `stylize-gpu` binary as a user would, in a temporary folder of its own.
class CommandLineTestCase: TemporaryFolderTestCase {
    func path(_ name: String) -> String { folder + "/" + name }

    var content: String { (try? fixturePath("reference/content.png")) ?? "" }
    var style: String { (try? fixturePath("reference/style.png")) ?? "" }

    /// The built binary, beside the test bundle in the build folder.
    func binary() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent("stylize-gpu")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw XCTSkip("stylize-gpu binary not found beside the tests; build it with `swift build`")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The stderr lines that start with `error:`.
        var errorLines: [Substring] { stderr.split(separator: "\n").filter { $0.hasPrefix("error:") } }
    }

    /// Starts the binary (or `prefix` + the binary, e.g. prlimit) with extra environment variables.
    func launch(
        _ arguments: [String], environment: [String: String] = [:],
        prefix: [String] = []
    ) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        let binary = try binary()
        if let tool = prefix.first {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = Array(prefix.dropFirst()) + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// Runs to the end; a run still going after `timeout` seconds is killed and fails the test
    /// (a hang must not hang the suite).
    func run(
        _ arguments: [String], environment: [String: String] = [:], prefix: [String] = [],
        timeout: Double = 600
    ) throws -> Result {
        let (process, out, err) = try launch(arguments, environment: environment, prefix: prefix)
        let collected = Collected()
        let group = DispatchGroup()
        for (pipe, index) in [(out, 0), (err, 1)] {
            DispatchQueue.global().async(group: group) {
                collected.set(index, pipe.fileHandleForReading.readDataToEndOfFile())
            }
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            group.wait()
            XCTFail("\(arguments) still ran after \(timeout) s and was killed")
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: collected.get(0), as: UTF8.self),
            stderr: String(decoding: collected.get(1), as: UTF8.self))
    }

    /// Starts the binary, sends SIGINT once `file` exists (or after two minutes) and returns
    /// the exit status and stderr.
    func interrupt(_ arguments: [String], once file: String) throws -> (status: Int32, stderr: String) {
        let (process, _, err) = try launch(arguments)
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: file), Date() < deadline { usleep(20_000) }
        kill(process.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stderr)
    }

    /// Runs the binary with arguments given as raw bytes (names that are not UTF-8, which
    /// Foundation's Process cannot pass); returns the exit status and stderr.
    func runRaw(_ arguments: [[UInt8]]) throws -> (status: Int32, stderr: String) {
        let binaryPath = try binary().path
        var pipe: [Int32] = [0, 0]
        XCTAssertEqual(makePipe(&pipe), 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipe[0])
        let cStrings =
            ([Array(binaryPath.utf8)] + arguments).map { bytes -> UnsafeMutablePointer<CChar>? in
                let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
                for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
                pointer[bytes.count] = 0
                return pointer
            } + [nil]
        defer { cStrings.forEach { $0?.deallocate() } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binaryPath, &actions, nil, cStrings, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(pipe[1])
        XCTAssertEqual(spawned, 0)
        let stderr = FileHandle(fileDescriptor: pipe[0], closeOnDealloc: true).readDataToEndOfFile()
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xff, String(decoding: stderr, as: UTF8.self))
    }
}

/// pipe(2) into a two-element array.
private func makePipe(_ fds: inout [Int32]) -> Int32 {
    fds.withUnsafeMutableBufferPointer { Glibc.pipe($0.baseAddress!) }
}

/// stdout and stderr as two readers collect them.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var parts = [Data(), Data()]

    func set(_ index: Int, _ data: Data) {
        lock.lock()
        parts[index] = data
        lock.unlock()
    }

    func get(_ index: Int) -> Data {
        lock.lock()
        defer { lock.unlock() }
        return parts[index]
    }
}
