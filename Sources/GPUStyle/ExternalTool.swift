import Foundation

/// Commands the library runs (pip for the weights, ffmpeg for videos): found on PATH and run
/// with an argument list, never through a shell.
enum ExternalTool {
    /// The first executable called `name` on the PATH, or nil.
    static func find(_ name: String, environment: [String: String]) -> String? {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { (String($0) as NSString).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a tool to completion and returns its standard output; a failure is an error with the
    /// tool's last stderr line. Output goes to files in `workFolder`, so a chatty tool cannot
    /// fill a pipe and stall.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        workFolder: String, what: String
    ) throws -> Data {
        let stdoutPath = (workFolder as NSString).appendingPathComponent("tool.out")
        let stderrPath = (workFolder as NSString).appendingPathComponent("tool.err")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        guard let out = FileHandle(forWritingAtPath: stdoutPath), let err = FileHandle(forWritingAtPath: stderrPath)
        else {
            throw StyleError("cannot create log files in \(workFolder)")
        }
        defer { try? out.close(); try? err.close() }
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            throw StyleError("cannot start \(executable) for \(what): \(describe(error))")
        }
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            let lastLine = stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? "no message"
            throw StyleError("\(what) failed (exit status \(process.terminationStatus)): \(lastLine)")
        }
        return FileManager.default.contents(atPath: stdoutPath) ?? Data()
    }

    /// `run` with its output files in a temporary folder of its own, removed afterwards.
    static func run(_ executable: String, _ arguments: [String], what: String) throws -> Data {
        let folder = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            TemporaryName.make(TemporaryName.toolStem))
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StyleError("cannot create a temporary folder for \(what): \(describe(error))")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try run(executable, arguments, workFolder: folder, what: what)
    }
}
