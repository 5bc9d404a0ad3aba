import Foundation

/// A run saved between two iterations: the options it was started with, the weights it used,
/// and its state. Written atomically; `--resume` continues it bit-identically on the same device.
///
/// File layout: the line "stylize-gpu checkpoint 1\n", an 8-byte little-endian header length,
/// the JSON header, then every tensor as little-endian float32 in the header's order.
public struct Checkpoint: Equatable {
    public struct Header: Codable, Equatable {
        public var options: StyleJobOptions
        /// SHA-256 of the weights file.
        public var weightsSHA256: String
        /// The backend that computed it: a resume elsewhere continues, but not bit-identically.
        public var device: String
        public var iteration: Int
        public var optimizerHostState: [Double]
        /// Float counts of the image and of each optimiser tensor.
        public var tensorCounts: [Int]
    }

    public var header: Header
    public var state: RunState

    static let magic = Array("stylize-gpu checkpoint 1\n".utf8)

    public init(options: StyleJobOptions, weightsSHA256: String, device: String, state: RunState) {
        header = Header(options: options, weightsSHA256: weightsSHA256, device: device, iteration: state.iteration,
                        optimizerHostState: state.optimizerHostState,
                        tensorCounts: [state.image.count] + state.optimizerTensors.map(\.count))
        self.state = state
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var data = Data(Checkpoint.magic)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for tensor in [state.image] + state.optimizerTensors {
            tensor.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        do {
            try AtomicOutput.write(to: path) { temporary in try data.write(to: URL(fileURLWithPath: temporary)) }
        } catch {
            throw StyleError("cannot write the checkpoint \(path): \(describe(error))")
        }
    }

    public static func read(_ path: String) throws -> Checkpoint {
        func corrupt(_ why: String) -> StyleError {
            StyleError("\(path) is not a usable stylize-gpu checkpoint (\(why)); start without --resume")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw StyleError("cannot read the checkpoint \(path): \(describe(error))")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= magic.count + 8, Array(bytes[0..<magic.count]) == magic else { throw corrupt("wrong signature") }
        var offset = magic.count
        let length = bytes[offset..<(offset + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
        offset += 8
        guard length <= UInt64(bytes.count - offset) else { throw corrupt("truncated header") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[offset..<(offset + Int(length))]))
        } catch {
            throw corrupt("unreadable header")
        }
        offset += Int(length)
        let floats = header.tensorCounts.reduce(0) { $0 + max($1, 0) }
        guard !header.tensorCounts.isEmpty, header.tensorCounts.allSatisfy({ $0 >= 0 }),
              bytes.count - offset == floats * 4 else {
            throw corrupt("\(bytes.count - offset) bytes of tensors, expected \(floats * 4)")
        }
        var tensors: [[Float]] = []
        for count in header.tensorCounts {
            tensors.append(bytes[offset..<(offset + count * 4)].withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            })
            offset += count * 4
        }
        let state = RunState(iteration: header.iteration, image: tensors[0], optimizerTensors: Array(tensors.dropFirst()),
                             optimizerHostState: header.optimizerHostState)
        return Checkpoint(header: header, state: state)
    }

    private init(header: Header, state: RunState) {
        self.header = header
        self.state = state
    }

    /// Refuses a checkpoint made with other options or weights, naming the first differences.
    /// The total number of iterations may differ: `--iterations` is always the total.
    public func checkCompatible(options: StyleJobOptions, weightsSHA256: String) throws {
        if header.weightsSHA256 != weightsSHA256 {
            throw StyleError("the checkpoint was made with other weights (sha256 \(header.weightsSHA256.prefix(12))…, "
                + "now \(weightsSHA256.prefix(12))…); pass the same --weights or start without --resume")
        }
        var saved = header.options
        saved.optimization.iterations = options.optimization.iterations
        let differences = Checkpoint.differences(saved, options)
        if !differences.isEmpty {
            throw StyleError("the checkpoint was made with other options: \(differences.joined(separator: "; ")); "
                + "run with the same options or start without --resume")
        }
    }

    /// "name (checkpoint X, now Y)" for every field that differs, from the options' JSON form.
    static func differences(_ a: StyleJobOptions, _ b: StyleJobOptions) -> [String] {
        func flatten(_ value: Any, _ prefix: String, into result: inout [String: String]) {
            if let dictionary = value as? [String: Any] {
                for (key, inner) in dictionary { flatten(inner, prefix.isEmpty ? key : "\(prefix).\(key)", into: &result) }
            } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                result[prefix] = String(decoding: data, as: UTF8.self)
            }
        }
        func fields(_ options: StyleJobOptions) -> [String: String] {
            var result: [String: String] = [:]
            if let data = try? JSONEncoder().encode(options), let object = try? JSONSerialization.jsonObject(with: data) {
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
