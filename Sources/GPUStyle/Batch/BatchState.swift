import Foundation

/// What decides whether a finished job's output can be kept: its options (input paths
/// blanked), the inputs and weights by content, and how the image is encoded. A video frame
/// with a temporal term also depends on the weight and on the previous frame's result.
public struct BatchSettings: Codable, Equatable, Sendable {
    public var options: StyleJobOptions
    public var inputsSHA256: [String]
    public var weightsSHA256: String
    /// Bits per channel of PNG and TIFF outputs (`--bit-depth`).
    public var bitDepth: Int
    public var jpegQuality: Int
    /// A video frame's `--temporal-weight` (nil: no temporal term; batch jobs never have one).
    public var temporalWeight: Float?
    /// The SHA-256 of the previous output frame its temporal term was computed from.
    public var previousOutputSHA256: String?

    public init(options: StyleJobOptions, weightsSHA256: String, bitDepth: Int, jpegQuality: Int) throws {
        self.options = options.withoutInputPaths
        inputsSHA256 = try Checkpoint.inputsSHA256(of: options)
        self.weightsSHA256 = weightsSHA256
        self.bitDepth = bitDepth
        self.jpegQuality = jpegQuality
    }
}

/// The small record a finished job leaves (`OUT.json` in the state folder): its settings, the
/// output's SHA-256 and how the run went. A job whose record matches its settings and output is
/// skipped.
public struct BatchRecord: Codable, Equatable, Sendable {
    public static let format = "stylize-gpu batch record 1"

    public var format = BatchRecord.format
    public var content: String
    public var styles: [String]
    public var settings: BatchSettings
    public var outputSHA256: String
    public var device: String
    public var seconds: Double
    public var loss: Double?
    public var host: String
    public var finished: String

    public init(
        content: String, styles: [String], settings: BatchSettings, outputSHA256: String, device: String,
        seconds: Double, loss: Double?
    ) {
        self.content = content
        self.styles = styles
        self.settings = settings
        self.outputSHA256 = outputSHA256
        self.device = device
        self.seconds = seconds
        self.loss = loss
        host = BatchLock.hostName
        finished = ISO8601DateFormatter().string(from: Date())
    }

    /// The SHA-256 of a file, as the record keeps the output's.
    public static func digest(ofFile path: String) throws -> String {
        try SHA256.hex(ofFileAt: path)
    }

    /// The record at `path`, or nil when there is none or it cannot be read (then the job runs).
    public static func read(_ path: String) -> BatchRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(BatchRecord.self, from: data)
    }

    /// Writes atomically (a temporary file renamed), so a reader never sees half a record.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        try AtomicOutput.write(to: path) { try data.write(to: URL(fileURLWithPath: $0)) }
    }

    /// Whether `files`' output is this job's, finished with `settings`.
    public static func isFinished(_ files: BatchJobFiles, settings: BatchSettings) -> Bool {
        guard let record = read(files.record), record.format == format, record.settings == settings,
            FileManager.default.fileExists(atPath: files.output),
            let digest = try? SHA256.hex(ofFileAt: files.output)
        else { return false }
        return digest == record.outputSHA256
    }
}

/// A job's lock: a file created with O_CREAT|O_EXCL holding "pid host", so two workers, or two
/// processes on a shared file system, never run one job. A lock left by a process of this host
/// that is gone is taken over; one of another host is left alone (remove it by hand).
public final class BatchLock {
    public let path: String
    private var held = true

    private init(path: String) {
        self.path = path
    }

    /// This machine's name, as the lock records it.
    public static var hostName: String { TemporaryName.hostName }

    /// The lock, or nil when a live process holds it.
    public static func acquire(_ path: String) throws -> BatchLock? {
        if try create(path) { return BatchLock(path: path) }
        guard isStale(path) else { return nil }
        // Only one taker at a time: the guard is itself a lock, so two takers cannot both remove
        // the stale lock and one of them remove the other's new lock.
        let guardPath = path + ".takeover"
        guard try create(guardPath) else {
            if isStale(guardPath) { unlink(guardPath) }
            return nil
        }
        defer { unlink(guardPath) }
        guard isStale(path) else { return nil }
        unlink(path)
        return try create(path) ? BatchLock(path: path) : nil
    }

    /// Creates the file exclusively with "pid host"; false when it exists.
    private static func create(_ path: String) throws -> Bool {
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            if errno == EEXIST { return false }
            throw StyleError("cannot create the lock \(path): \(String(cString: strerror(errno)))")
        }
        let text = "\(getpid()) \(hostName)\n"
        let written = text.utf8CString.withUnsafeBufferPointer { write(descriptor, $0.baseAddress, text.utf8.count) }
        close(descriptor)
        guard written == text.utf8.count else {
            unlink(path)
            throw StyleError("cannot write the lock \(path): \(String(cString: strerror(errno)))")
        }
        return true
    }

    /// The pid and host a lock file holds.
    public static func owner(_ path: String) -> (pid: Int32, host: String)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, let pid = Int32(parts[0]) else { return nil }
        return (pid, String(parts[1]))
    }

    /// A lock of this host whose process is gone, or one left empty or unreadable by a
    /// process of this host that died while writing it.
    static func isStale(_ path: String) -> Bool {
        guard let (pid, host) = owner(path) else {
            // Written in one call right after creation: an unreadable lock is old or damaged.
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let modified = attributes[.modificationDate] as? Date
            else { return false }
            return Date().timeIntervalSince(modified) > 60
        }
        guard host == hostName, pid > 0 else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Removes the lock (also on deinit).
    public func release() {
        guard held else { return }
        held = false
        unlink(path)
    }

    deinit { release() }
}

/// One line of `--report`: a job's status, time and loss.
public struct BatchJobReport: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Ran to the end in this process.
        case done
        /// Its output and record matched: nothing to do.
        case skipped
        /// Another worker or process holds its lock.
        case locked
        case failed
        /// Stopped by Ctrl-C or SIGTERM (its checkpoint resumes it), or never taken because the
        /// batch stopped at a full disk.
        case interrupted
    }

    public var output: String
    public var content: String
    public var styles: [String]
    public var status: Status
    public var device: String?
    public var seconds: Double?
    public var setupSeconds: Double?
    public var loss: Double?
    public var resumedAt: Int?
    public var error: String?
    /// Bytes the worker's backend held allocated after the job (the cached network and scratch
    /// that the next job reuses): the same after every job when nothing leaks.
    public var deviceBytes: Int?

    public init(output: String, content: String, styles: [String], status: Status) {
        self.output = output
        self.content = content
        self.styles = styles
        self.status = status
    }
}

/// The `--report` file: every job of the shard in order, and the counts.
public struct BatchReport: Codable, Sendable {
    public var shard: String
    public var host: String
    public var jobs: [BatchJobReport]
    public var total: Int { jobs.count }
    public var failed: Int { jobs.filter { $0.status == .failed }.count }

    public init(shard: String, jobs: [BatchJobReport]) {
        self.shard = shard
        host = BatchLock.hostName
        self.jobs = jobs
    }

    enum CodingKeys: String, CodingKey { case shard, host, jobs, total, failed, counts }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(shard, forKey: .shard)
        try container.encode(host, forKey: .host)
        try container.encode(jobs, forKey: .jobs)
        try container.encode(total, forKey: .total)
        try container.encode(failed, forKey: .failed)
        var counts: [String: Int] = [:]
        for job in jobs { counts[job.status.rawValue, default: 0] += 1 }
        try container.encode(counts, forKey: .counts)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        shard = try container.decode(String.self, forKey: .shard)
        host = try container.decode(String.self, forKey: .host)
        jobs = try container.decode([BatchJobReport].self, forKey: .jobs)
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        try AtomicOutput.write(to: path) { try data.write(to: URL(fileURLWithPath: $0)) }
    }
}
