import Foundation

/// The central directory of a zip archive, read with every offset and length checked against
/// the file, and the data of STORED (uncompressed) entries. Zip64 sizes and offsets are
/// understood. Enough for PyTorch's zip checkpoints, which store every entry uncompressed.
struct ZipDirectory {
    struct Entry {
        let name: String
        let method: Int
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let entries: [Entry]

    private static let endSignature: UInt64 = 0x0605_4b50
    private static let zip64LocatorSignature: UInt64 = 0x0706_4b50
    private static let zip64EndSignature: UInt64 = 0x0606_4b50
    private static let centralSignature: UInt64 = 0x0201_4b50
    private static let localSignature: UInt64 = 0x0403_4b50

    init(file: RandomAccessFile) throws {
        // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
        let tailLength = min(file.size, 22 + 0xffff)
        let tailStart = file.size - tailLength
        let tail = try file.read(offset: tailStart, count: tailLength)
        guard
            let endIndex = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
                littleEndianValue(tail[$0..<$0 + 4]) == Self.endSignature
            })
        else {
            throw WeightsFormatError("zip end-of-directory record not found (truncated or not a zip)")
        }
        var end = MemoryInput(tail, position: endIndex + 10)
        var entryCount = try end.readUInt16()
        var directorySize = try end.readUInt32()
        var directoryOffset = try end.readUInt32()
        if entryCount == 0xffff || directorySize == 0xffff_ffff || directoryOffset == 0xffff_ffff {
            (entryCount, directorySize, directoryOffset) = try Self.zip64End(
                file: file, endOffset: tailStart + endIndex)
        }
        guard directoryOffset <= file.size, directorySize <= file.size - directoryOffset else {
            throw WeightsFormatError("zip central directory lies outside the file")
        }
        guard entryCount <= directorySize / 46 else {
            throw WeightsFormatError("zip declares \(entryCount) entries in a \(directorySize)-byte directory")
        }
        var directory = MemoryInput(try file.read(offset: directoryOffset, count: directorySize))
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            entries.append(try Self.entry(&directory))
        }
        self.entries = entries
    }

    private static func zip64End(file: RandomAccessFile, endOffset: Int) throws -> (Int, Int, Int) {
        guard endOffset >= 20 else { throw WeightsFormatError("zip64 locator missing") }
        var locator = MemoryInput(try file.read(offset: endOffset - 20, count: 20))
        guard try locator.readLittleEndian(width: 4) == zip64LocatorSignature else {
            throw WeightsFormatError("zip64 locator missing")
        }
        _ = try locator.read(4)
        let recordOffset = try locator.readCount64("zip64 record offset")
        var record = MemoryInput(try file.read(offset: recordOffset, count: 56))
        guard try record.readLittleEndian(width: 4) == zip64EndSignature else {
            throw WeightsFormatError("zip64 end record missing")
        }
        _ = try record.read(28)
        let count = try record.readCount64("zip64 entry count")
        let size = try record.readCount64("zip64 directory size")
        let offset = try record.readCount64("zip64 directory offset")
        return (count, size, offset)
    }

    private static func entry(_ input: inout MemoryInput) throws -> Entry {
        guard try input.readLittleEndian(width: 4) == centralSignature else {
            throw WeightsFormatError("corrupt zip central directory entry")
        }
        _ = try input.read(6)
        let method = try input.readUInt16()
        _ = try input.read(8)
        var compressedSize = try input.readUInt32()
        var uncompressedSize = try input.readUInt32()
        let nameLength = try input.readUInt16()
        let extraLength = try input.readUInt16()
        let commentLength = try input.readUInt16()
        _ = try input.read(8)
        var localHeaderOffset = try input.readUInt32()
        guard let name = String(bytes: try input.read(nameLength), encoding: .utf8) else {
            throw WeightsFormatError("zip entry name is not UTF-8")
        }
        var extra = MemoryInput(Array(try input.read(extraLength)))
        _ = try input.read(commentLength)
        // Zip64 extended information: only the fields that are 0xffffffff above, in this order.
        while extra.remaining >= 4 {
            let id = try extra.readUInt16()
            let size = try extra.readUInt16()
            var field = MemoryInput(Array(try extra.read(size)))
            guard id == 0x0001 else { continue }
            if uncompressedSize == 0xffff_ffff { uncompressedSize = try field.readCount64("zip64 size") }
            if compressedSize == 0xffff_ffff { compressedSize = try field.readCount64("zip64 size") }
            if localHeaderOffset == 0xffff_ffff { localHeaderOffset = try field.readCount64("zip64 offset") }
        }
        return Entry(
            name: name, method: method, compressedSize: compressedSize,
            uncompressedSize: uncompressedSize, localHeaderOffset: localHeaderOffset)
    }

    /// Where a STORED entry's bytes start in the file, checked to lie inside it.
    func dataOffset(of entry: Entry, in file: RandomAccessFile) throws -> Int {
        guard entry.method == 0 else {
            throw WeightsFormatError(
                "zip entry '\(entry.name)' is compressed (method \(entry.method)); only uncompressed entries are supported"
            )
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw WeightsFormatError("zip entry '\(entry.name)' has inconsistent sizes")
        }
        var header = MemoryInput(try file.read(offset: entry.localHeaderOffset, count: 30))
        guard try header.readLittleEndian(width: 4) == Self.localSignature else {
            throw WeightsFormatError("zip entry '\(entry.name)' has no local header")
        }
        _ = try header.read(22)
        let nameLength = try header.readUInt16()
        let extraLength = try header.readUInt16()
        let start = entry.localHeaderOffset + 30 + nameLength + extraLength
        guard start <= file.size, entry.uncompressedSize <= file.size - start else {
            throw WeightsFormatError("zip entry '\(entry.name)' reaches past the end of the file")
        }
        return start
    }
}
