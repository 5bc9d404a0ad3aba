import Foundation

/// A problem in the contents of a weights file. The loaders turn it into a `StyleError` that
/// names the file; the text here names only the problem.
struct WeightsFormatError: Error, CustomStringConvertible {
    let problem: String
    init(_ problem: String) { self.problem = problem }
    var description: String { problem }
}

/// Sequential reads from bytes, each bounds-checked: reading past the end is an error, never a
/// crash, and a length taken from the data is checked against what is left before anything is
/// allocated for it.
protocol ByteInput {
    /// Bytes not yet read.
    var remaining: Int { get }
    /// The next `count` bytes.
    mutating func read(_ count: Int) throws -> ArraySlice<UInt8>
}

extension ByteInput {
    mutating func readByte() throws -> UInt8 {
        let slice = try read(1)
        return slice[slice.startIndex]
    }

    /// A little-endian unsigned integer of `width` bytes (at most 8).
    mutating func readLittleEndian(width: Int) throws -> UInt64 {
        let slice = try read(width)
        return littleEndianValue(slice)
    }

    mutating func readUInt16() throws -> Int { Int(try readLittleEndian(width: 2)) }
    mutating func readUInt32() throws -> Int { Int(try readLittleEndian(width: 4)) }
    mutating func readInt32() throws -> Int { Int(Int32(truncatingIfNeeded: try readLittleEndian(width: 4))) }

    /// A little-endian 64-bit length or count; one that does not fit an `Int` is an error.
    mutating func readCount64(_ what: String) throws -> Int {
        let value = try readLittleEndian(width: 8)
        guard value <= UInt64(Int.max) else { throw WeightsFormatError("\(what) \(value) is too large") }
        return Int(value)
    }
}

/// The value of up to 8 little-endian bytes.
func littleEndianValue(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var value: UInt64 = 0
    for (shift, byte) in bytes.prefix(8).enumerated() {
        value |= UInt64(byte) << (8 * UInt64(shift))
    }
    return value
}

/// Reads bytes held in memory.
struct MemoryInput: ByteInput {
    private let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    mutating func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw WeightsFormatError(
                "unexpected end of data at byte \(position) (wanted \(count) more bytes, \(remaining) left)")
        }
        defer { position += count }
        return bytes[position..<position + count]
    }
}

/// A file opened for bounds-checked random-access reads. Only the ranges asked for are read.
final class RandomAccessFile {
    let path: String
    let size: Int
    private let handle: FileHandle

    init(path: String) throws {
        self.path = path
        try requireRegularFile(path, role: "weights file")
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StyleError("cannot open weights file '\(path)' for reading (check its permissions)")
        }
        self.handle = handle
        do {
            size = Int(try handle.seekToEnd())
        } catch {
            throw StyleError("cannot read the size of weights file '\(path)': \(describe(error))")
        }
    }

    deinit { try? handle.close() }

    /// `count` bytes at `offset`; the range must lie inside the file.
    func read(offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw WeightsFormatError(
                "data at byte \(offset), \(count) bytes long, lies past the end of the file (\(size) bytes); the file is truncated or corrupt"
            )
        }
        if count == 0 { return [] }
        do {
            try handle.seek(toOffset: UInt64(offset))
            guard let data = try handle.read(upToCount: count), data.count == count else {
                throw WeightsFormatError("short read of \(count) bytes at byte \(offset)")
            }
            return [UInt8](data)
        } catch let error as WeightsFormatError {
            throw error
        } catch {
            throw WeightsFormatError("read error at byte \(offset): \(describe(error))")
        }
    }
}

/// Sequential reads from a file through a buffer, for pickles whose length is only known once
/// they have been parsed.
struct FileInput: ByteInput {
    private let file: RandomAccessFile
    private(set) var position: Int
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    private static let chunk = 1 << 16

    init(_ file: RandomAccessFile, position: Int) {
        self.file = file
        self.position = position
        bufferStart = position
    }

    var remaining: Int { file.size - position }

    mutating func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw WeightsFormatError(
                "unexpected end of file at byte \(position) (wanted \(count) more bytes, \(remaining) left)")
        }
        let bufferEnd = bufferStart + buffer.count
        if position < bufferStart || position + count > bufferEnd {
            bufferStart = position
            buffer = try file.read(offset: position, count: min(max(count, Self.chunk), remaining))
        }
        let start = position - bufferStart
        position += count
        return buffer[start..<start + count]
    }
}
