import Foundation

/// One job of a batch: its inputs, its output (relative to the output folder) and the run
/// options of its own, as command-line arguments (`--image-size 768`), which come after the
/// batch's own and so override them.
public struct BatchJobSpec: Equatable, Sendable {
    public var content: String
    public var styles: [String]
    /// The output, relative to the batch's output folder (never absolute, never with `..`).
    public var output: String
    public var arguments: [String]
    /// Where the job was given: "jobs.jsonl:3", or "" for a grid job.
    public var origin: String

    public init(content: String, styles: [String], output: String, arguments: [String] = [], origin: String = "") {
        self.content = content
        self.styles = styles
        self.output = output
        self.arguments = arguments
        self.origin = origin
    }

    /// "jobs.jsonl:3: " or "" before an error about this job.
    public var errorPrefix: String { origin.isEmpty ? "" : origin + ": " }
}

/// The jobs of a batch in their fixed order: a grid (every content × every style) or a manifest
/// (one JSON object a line). The order never depends on the machine, so shards agree.
public enum BatchPlan {
    /// The image extensions a folder expands to.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// A path, or a folder's images (sorted by name); a folder without images is an error.
    public static func expand(_ path: String, role: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return [path]
        }
        let images = try fileNames(in: path, extensions: imageExtensions, role: role).sorted()
        guard !images.isEmpty else {
            throw StyleError("\(role) \(path): the folder holds no .png, .jpg or .jpeg image")
        }
        return images.map { URL(fileURLWithPath: path).appendingPathComponent($0).path }
    }

    /// The names of a folder's files that end in one of `extensions` (any case), hidden files
    /// left out, in no particular order.
    static func fileNames(in folder: String, extensions: Set<String>, role: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw StyleError("\(role) \(folder): cannot list the folder (\(describe(error)))")
        }
        return names.filter {
            !$0.hasPrefix(".") && extensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased())
        }
    }

    /// The file name's stem: "photos/cat.jpg" → "cat".
    public static func stem(_ path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    /// `<content>__<style>.<ext>` for every content × every style (folders expanded), contents
    /// in the outer loop.
    public static func grid(contents: [String], styles: [String], format: String) throws -> [BatchJobSpec] {
        guard !contents.isEmpty else { throw StyleError("--contents names no image; give files or folders") }
        guard !styles.isEmpty else { throw StyleError("--styles names no image; give files or folders") }
        let contentFiles = try contents.flatMap { try expand($0, role: "--contents") }
        let styleFiles = try styles.flatMap { try expand($0, role: "--styles") }
        let jobs = contentFiles.flatMap { content in
            styleFiles.map { style in
                BatchJobSpec(content: content, styles: [style], output: "\(stem(content))__\(stem(style)).\(format)")
            }
        }
        try checkOutputs(jobs)
        return jobs
    }

    /// Keys a manifest line may have.
    static let manifestKeys: Set<String> = ["content", "styles", "output", "options"]

    /// Run options a job may not set: they belong to the batch (device, outputs, progress).
    public static let batchOnlyOptions: Set<String> = [
        "output", "o", "device", "gif", "gif-every", "sheet", "checkpoint", "resume", "save-every", "overwrite",
        "progress", "help", "h",
    ]

    /// Reads a manifest: one JSON object a line (blank lines skipped), `content`, `styles`,
    /// optional `output` (default `<content>__<style>.<format>`) and `options` (command-line
    /// names, with or without the dashes: numbers and strings as values, lists joined with
    /// commas, `true` for a flag, `false` leaving it out). Relative inputs resolve against the
    /// manifest's folder. Every error names the line.
    public static func manifest(path: String, format: String) throws -> [BatchJobSpec] {
        try requireRegularFile(path, role: "--manifest")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw StyleError("--manifest \(path): \(describe(error))")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        var jobs: [BatchJobSpec] = []
        // Split as bytes: in a String, CRLF is one Character, so a Windows file was one line.
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let origin = "\(path):\(index + 1)"
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            jobs.append(try manifestJob(text, origin: origin, folder: folder, format: format))
        }
        guard !jobs.isEmpty else { throw StyleError("--manifest \(path): holds no job (one JSON object a line)") }
        try checkOutputs(jobs)
        return jobs
    }

    static func manifestJob(_ text: String, origin: String, folder: URL, format: String) throws -> BatchJobSpec {
        // One line even when a key or value holds a newline (JSON's "\n").
        func fail(_ message: String) -> StyleError { StyleError(singleLine("\(origin): \(message)")) }
        guard let value = try? JSONDecoder().decode(ManifestValue.self, from: Data(text.utf8)),
            case .object(let fields) = value
        else {
            throw fail("not a JSON object; each line holds one, e.g. {\"content\": \"a.jpg\", \"styles\": [\"b.jpg\"]}")
        }
        if let unknown = fields.keys.sorted().first(where: { !manifestKeys.contains($0) }) {
            throw fail("unknown key \"\(unknown)\"; a job has content, styles, output and options")
        }
        guard case .string(let content)? = fields["content"], !content.isEmpty else {
            throw fail("\"content\" must be the path of an image")
        }
        guard case .array(let list)? = fields["styles"], !list.isEmpty else {
            throw fail("\"styles\" must be a list of one or more image paths")
        }
        let styles = list.compactMap { item -> String? in
            if case .string(let path) = item, !path.isEmpty { return path }
            return nil
        }
        guard styles.count == list.count else { throw fail("\"styles\" must be a list of one or more image paths") }
        func resolved(_ path: String) -> String {
            path.hasPrefix("/") ? path : folder.appendingPathComponent(path).standardized.path
        }
        var output = "\(stem(content))__\(stem(styles[0])).\(format)"
        if let given = fields["output"] {
            guard case .string(let text) = given, !text.isEmpty else { throw fail("\"output\" must be a file name") }
            output = text
        }
        var arguments: [String] = []
        if let given = fields["options"] {
            guard case .object(let options) = given else {
                throw fail("\"options\" must be an object, e.g. {\"image-size\": 768}")
            }
            for key in options.keys.sorted() {
                let name = key.hasPrefix("--") ? String(key.dropFirst(2)) : key
                if batchOnlyOptions.contains(name) {
                    throw fail("the option \(name) belongs to the whole batch and cannot be set per job")
                }
                arguments += try optionArguments(name: name, value: options[key] ?? .null, fail: fail)
            }
        }
        return BatchJobSpec(
            content: resolved(content), styles: styles.map(resolved), output: output, arguments: arguments,
            origin: origin)
    }

    /// One manifest option as command-line arguments.
    static func optionArguments(name: String, value: ManifestValue, fail: (String) -> StyleError) throws -> [String] {
        switch value {
        case .bool(let flag): return flag ? ["--\(name)"] : []
        case .scalar(let text): return ["--\(name)", text]
        case .string(let text): return ["--\(name)", text]
        case .array(let items):
            let texts = items.compactMap { item -> String? in
                switch item {
                case .scalar(let text), .string(let text): return text
                default: return nil
                }
            }
            guard !texts.isEmpty, texts.count == items.count else {
                throw fail("option \(name): a list must hold numbers or strings")
            }
            return ["--\(name)", texts.joined(separator: ",")]
        case .object, .null:
            throw fail("option \(name): give a number, a string, a list or true")
        }
    }

    /// Refuses, before any work, an output that leaves the output folder (absolute, `..`) and
    /// two jobs with one output.
    public static func checkOutputs(_ jobs: [BatchJobSpec]) throws {
        var seen: [String: BatchJobSpec] = [:]
        for job in jobs {
            let parts = job.output.split(separator: "/", omittingEmptySubsequences: true)
            if job.output.hasPrefix("/") || parts.contains("..") || parts.isEmpty {
                throw StyleError(
                    singleLine(
                        "\(job.errorPrefix)the output \(job.output) leaves the output folder; give a path inside it "
                            + "(no leading /, no ..)"))
            }
            if parts.contains(where: { $0 == "." }) || parts.first == ".stylize-gpu" {
                throw StyleError(singleLine("\(job.errorPrefix)the output \(job.output): give a plain relative path"))
            }
            let key = parts.joined(separator: "/")
            if let first = seen[key] {
                let firstName =
                    first.origin.isEmpty ? "\(first.content) × \(first.styles.joined(separator: "+"))" : first.origin
                let secondName =
                    job.origin.isEmpty ? "\(job.content) × \(job.styles.joined(separator: "+"))" : job.origin
                throw StyleError(
                    singleLine(
                        "two jobs write \(key) (\(firstName) and \(secondName)); give each its own output "
                            + "(images with the same name in two folders need a manifest)"))
            }
            seen[key] = job
        }
    }
}

/// `--shard I/N`: every N-th job starting at I, of the batch's fixed order.
public struct BatchShard: Equatable, Sendable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else {
            throw StyleError("--shard \(index)/\(count): the index must be 0…count−1 and the count at least 1")
        }
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }

    /// "I/N", or "auto": Slurm's `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` (0 when unset)
    /// of `SLURM_ARRAY_TASK_COUNT`, else Kubernetes' `JOB_COMPLETION_INDEX` of `shards`.
    public static func parse(_ text: String, shards: Int?, environment: [String: String]) throws -> BatchShard {
        if text != "auto" {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
                throw StyleError("--shard \(text): give I/N (e.g. 0/4) or auto")
            }
            if shards != nil {
                throw StyleError("--shards goes with --shard auto only; --shard \(text) gives the count")
            }
            return try BatchShard(index: index, count: count)
        }
        func number(_ name: String) throws -> Int? {
            guard let value = environment[name] else { return nil }
            guard let number = Int(value) else { throw StyleError("--shard auto: \(name)=\(value) is not a number") }
            return number
        }
        if let id = try number("SLURM_ARRAY_TASK_ID") {
            guard let count = try number("SLURM_ARRAY_TASK_COUNT") else {
                throw StyleError("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
            }
            let minimum = try number("SLURM_ARRAY_TASK_MIN") ?? 0
            let step = try number("SLURM_ARRAY_TASK_STEP") ?? 1
            guard step >= 1, (id - minimum) % step == 0 else {
                throw StyleError("--shard auto: Slurm task \(id) is not on the array's range; use --array=MIN-MAX")
            }
            let shard = (id - minimum) / step
            guard (0..<count).contains(shard) else {
                throw StyleError(
                    "--shard auto: Slurm task \(id) is not within \(count) tasks from \(minimum); "
                        + "submit a contiguous range (--array=0-\(count - 1)) or use --shard I/N")
            }
            if let given = shards, given != count {
                throw StyleError("--shards \(given) differs from the array's \(count) tasks; leave --shards out")
            }
            return try BatchShard(index: shard, count: count)
        }
        if let index = try number("JOB_COMPLETION_INDEX") {
            guard let count = shards else {
                throw StyleError(
                    "--shard auto: JOB_COMPLETION_INDEX is set; give --shards N (the Indexed Job's completions)")
            }
            return try BatchShard(index: index, count: count)
        }
        throw StyleError(
            "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX "
                + "(a Kubernetes Indexed Job) is set; use --shard I/N")
    }

    /// The positions of `total` jobs this shard runs.
    public func positions(of total: Int) -> [Int] {
        Array(stride(from: index, to: total, by: count))
    }
}

/// A JSON value of a manifest line; numbers keep their text (768, not 768.0).
enum ManifestValue: Decodable, Equatable {
    case bool(Bool)
    case scalar(String)
    case string(String)
    case array([ManifestValue])
    case object([String: ManifestValue])
    case null

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Int.self) {
            self = .scalar(String(number))
        } else if let number = try? container.decode(Double.self) {
            self = .scalar(String(number))
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let list = try? container.decode([ManifestValue].self) {
            self = .array(list)
        } else {
            self = .object(try container.decode([String: ManifestValue].self))
        }
    }
}
