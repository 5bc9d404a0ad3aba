import Foundation

/// A run saved between two iterations: the options it was started with, the weights and input
/// images it used (by content), and its state. Written atomically; `--resume` continues it
/// bit-identically on the same device.
///
/// File layout: the line "stylize-gpu checkpoint 3\n", an 8-byte little-endian header length,
/// the JSON header, every tensor as little-endian float32 in the header's order (the image, the
/// optimiser's, then the iterate average's when averaging), then the SHA-256 of everything
/// before it as 64 hex digits, so a damaged file is refused, not resumed.
public struct Checkpoint: Equatable {
    public struct Header: Codable, Equatable {
        public var options: StyleJobOptions
        /// SHA-256 of the weights file.
        public var weightsSHA256: String
        /// SHA-256 of the content image, each style image and the --init image, in that order:
        /// inputs are the same when their bytes are, whatever path names them.
        public var inputsSHA256: [String]
        /// The backend that computed it: a resume elsewhere continues, but not bit-identically.
        public var device: String
        /// The scale (0-based) and the iteration within it.
        public var scale: Int
        public var iteration: Int
        public var optimizerHostState: [Double]
        /// Float counts of the image and of each optimiser tensor.
        public var tensorCounts: [Int]
    }

    public var header: Header
    public var state: RunState

    static let magic = Array("stylize-gpu checkpoint 3\n".utf8)
    static let checksumLength = 64

    public init(
        options: StyleJobOptions, weightsSHA256: String, inputsSHA256: [String], device: String, state: RunState
    ) {
        header = Header(
            options: options, weightsSHA256: weightsSHA256, inputsSHA256: inputsSHA256, device: device,
            scale: state.scale, iteration: state.iteration,
            optimizerHostState: state.optimizerHostState,
            tensorCounts: [state.image.count] + state.optimizerTensors.map(\.count)
                + (state.average.map { [$0.count] } ?? []))
        self.state = state
    }

    public func write(to path: String) throws {
        let data = try Checkpoint.framed(
            header: header, tensors: [state.image] + state.optimizerTensors + (state.average.map { [$0] } ?? []))
        do {
            try AtomicOutput.write(to: path) { temporary in try data.write(to: URL(fileURLWithPath: temporary)) }
        } catch {
            throw StyleError("cannot write the checkpoint \(path): \(describe(error))")
        }
    }

    /// The file's bytes: signature, header length, header, tensors, checksum.
    static func framed(header: Header, tensors: [[Float]]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var data = Data(Checkpoint.magic)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for tensor in tensors { tensor.withUnsafeBytes { data.append(contentsOf: $0) } }
        data.append(contentsOf: Array(SHA256.hex(of: [UInt8](data)).utf8))
        return data
    }

    public static func read(_ path: String) throws -> Checkpoint {
        func corrupt(_ why: String) -> StyleError {
            StyleError("\(path) is not a usable stylize-gpu checkpoint (\(why)); start without --resume")
        }
        try requireRegularFile(path, role: "checkpoint")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw StyleError("cannot read the checkpoint \(path): \(describe(error))")
        }
        var bytes = [UInt8](data)
        if bytes.starts(with: Array("stylize-gpu checkpoint ".utf8)), !bytes.starts(with: magic) {
            throw corrupt("written by another version of stylize-gpu")
        }
        guard bytes.count >= magic.count + 8 + checksumLength, bytes.starts(with: magic) else {
            throw corrupt("wrong signature")
        }
        let stored = String(decoding: bytes.suffix(checksumLength), as: UTF8.self)
        bytes.removeLast(checksumLength)
        guard SHA256.hex(of: bytes) == stored else { throw corrupt("its checksum does not match: the file is damaged") }
        var offset = magic.count
        let length = bytes[offset..<(offset + 8)].enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * $1.offset)
        }
        offset += 8
        guard length <= UInt64(bytes.count - offset) else { throw corrupt("truncated header") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[offset..<(offset + Int(length))]))
        } catch {
            throw corrupt("unreadable header")
        }
        offset += Int(length)
        // Each count bounded by the file first, so that their sum cannot overflow.
        let inFile = (bytes.count - offset) / 4
        guard header.tensorCounts.allSatisfy({ (0...inFile).contains($0) }) else {
            throw corrupt("a tensor larger than the file")
        }
        let floats = header.tensorCounts.reduce(0, +)
        let averaged = header.options.optimization.averageDecay > 0
        guard header.tensorCounts.count >= (averaged ? 2 : 1), bytes.count - offset == floats * 4 else {
            throw corrupt("\(bytes.count - offset) bytes of tensors, expected \(floats * 4)")
        }
        var tensors: [[Float]] = []
        for count in header.tensorCounts {
            tensors.append(
                bytes[offset..<(offset + count * 4)].withUnsafeBytes { raw in
                    (0..<count).map {
                        Float(
                            bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))
                        )
                    }
                })
            offset += count * 4
        }
        let average = averaged ? tensors.removeLast() : nil
        let state = RunState(
            scale: header.scale, iteration: header.iteration, image: tensors[0],
            optimizerTensors: Array(tensors.dropFirst()), optimizerHostState: header.optimizerHostState,
            average: average)
        return Checkpoint(header: header, state: state)
    }

    private init(header: Header, state: RunState) {
        self.header = header
        self.state = state
    }

    /// SHA-256 of the input images `inputsSHA256` lists (content, styles, --init image).
    public static func inputsSHA256(of options: StyleJobOptions) throws -> [String] {
        var paths = [options.contentPath] + options.stylePaths
        if case .image(let path) = options.initialization { paths.append(path) }
        paths += (options.styleMaskPaths ?? []) + (options.styleSourceMaskPaths ?? [])
        return try paths.map(SHA256.hex(ofFileAt:))
    }

    /// Refuses a checkpoint made with other options, weights or input images, naming the
    /// differences. Inputs are compared by content, so a path spelt another way is the same input
    /// and a file replaced under the same name is not. The numbers of iterations may differ:
    /// `--iterations` and `--initial-iterations` are always the totals of their scales.
    public func checkCompatible(options: StyleJobOptions, weightsSHA256: String, inputsSHA256: [String]) throws {
        if header.weightsSHA256 != weightsSHA256 {
            throw StyleError(
                "the checkpoint was made with other weights (sha256 \(header.weightsSHA256.prefix(12))…, "
                    + "now \(weightsSHA256.prefix(12))…); pass the same --weights or start without --resume")
        }
        var names = ["the content image"] + options.stylePaths.map { "the style image \($0)" }
        if case .image = options.initialization { names.append("the --init image") }
        names += (options.styleMaskPaths ?? []).map { "the style mask \($0)" }
        names += (options.styleSourceMaskPaths ?? []).map { "the style source mask \($0)" }
        for (index, (saved, now)) in zip(header.inputsSHA256, inputsSHA256).enumerated() where saved != now {
            throw StyleError(
                "\(names[min(index, names.count - 1)]) is not the one the checkpoint was made with "
                    + "(its content differs); give the same images or start without --resume")
        }
        var saved = header.options
        saved.optimization.iterations = options.optimization.iterations
        saved.initialIterations = options.initialIterations
        let differences = Checkpoint.differences(saved.withoutInputPaths, options.withoutInputPaths)
        if !differences.isEmpty {
            throw StyleError(
                "the checkpoint was made with other options: \(differences.joined(separator: "; ")); "
                    + "run with the same options or start without --resume")
        }
    }

    /// "name (checkpoint X, now Y)" for every field that differs, from the options' JSON form.
    static func differences(_ a: StyleJobOptions, _ b: StyleJobOptions) -> [String] {
        func flatten(_ value: Any, _ prefix: String, into result: inout [String: String]) {
            if let dictionary = value as? [String: Any] {
                for (key, inner) in dictionary {
                    flatten(inner, prefix.isEmpty ? key : "\(prefix).\(key)", into: &result)
                }
            } else if let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
            {
                result[prefix] = String(decoding: data, as: UTF8.self)
            }
        }
        func fields(_ options: StyleJobOptions) -> [String: String] {
            var result: [String: String] = [:]
            if let data = try? JSONEncoder().encode(options), let object = try? JSONSerialization.jsonObject(with: data)
            {
                flatten(object, "", into: &result)
            }
            return result
        }
        let (fa, fb) = (fields(a), fields(b))
        return Set(fa.keys).union(fb.keys).sorted().compactMap { key in
            fa[key] == fb[key] ? nil : "\(key) (checkpoint \(fa[key] ?? "unset"), now \(fb[key] ?? "unset"))"
        }
    }
}

extension StyleJobOptions {
    /// The options with the input images' paths blanked (their number kept), for comparing runs
    /// whose inputs are compared by content.
    var withoutInputPaths: StyleJobOptions {
        var copy = self
        copy.contentPath = ""
        copy.stylePaths = stylePaths.map { _ in "" }
        if case .image = initialization { copy.initialization = .image(path: "") }
        copy.styleMaskPaths = styleMaskPaths?.map { _ in "" }
        copy.styleSourceMaskPaths = styleSourceMaskPaths?.map { _ in "" }
        return copy
    }
}
