import Foundation

/// Opens weights files of the three formats the project reads. Only headers and pickles are
/// read here; tensor data is read later, tensor by tensor.
enum TensorFileFormats {
    static let torchLegacy = "PyTorch legacy checkpoint (torch.save, not zip)"
    static let torchZip = "PyTorch zip checkpoint"
    static let safetensors = "safetensors"

    /// Opens `file`, choosing the reader from its first bytes.
    static func open(_ file: RandomAccessFile) throws -> TensorArchive {
        let head = try file.read(offset: 0, count: min(file.size, 9))
        if head.starts(with: [0x50, 0x4b, 0x03, 0x04]) { return try openTorchZip(file) }
        // Before the pickle test: a safetensors header length of 128 + 256·k starts with 0x80
        // too, while a legacy checkpoint's byte 8 is always 0xf9 (inside its magic number).
        if head.count == 9, head[8] == UInt8(ascii: "{") { return try openSafetensors(file) }
        if head.first == 0x80 { return try openTorchLegacy(file) }
        throw WeightsFormatError(
            "not a recognised weights file: expected a PyTorch checkpoint (.pth/.bin) or a .safetensors file")
    }

    // MARK: PyTorch legacy

    /// torch.save's magic number 0x1950a86a20f9469cfc6c, as LONG1's little-endian bytes.
    private static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    /// Layout: pickles of the magic number, the protocol version (1001) and sys_info, then the
    /// object pickle (storages as persistent ids), then a pickled list of storage keys, then for
    /// each key in that order: an int64 element count and the storage's raw little-endian bytes.
    static func openTorchLegacy(_ file: RandomAccessFile) throws -> TensorArchive {
        var input = FileInput(file, position: 0)
        guard case let .bigInt(magic) = try PickleMachine.load(from: &input), magic == legacyMagic else {
            throw WeightsFormatError("not a PyTorch checkpoint (wrong magic number)")
        }
        guard case .int(1001) = try PickleMachine.load(from: &input) else {
            throw WeightsFormatError("unsupported PyTorch legacy protocol version")
        }
        guard case let .dict(sysInfo) = try PickleMachine.load(from: &input) else {
            throw WeightsFormatError("malformed PyTorch sys_info")
        }
        for (key, value) in sysInfo.entries {
            if case .string("little_endian") = key, case .bool(false) = value {
                throw WeightsFormatError("big-endian PyTorch checkpoints are not supported")
            }
        }
        let named = try PickleMachine.load(from: &input).namedTensors()
        guard case let .list(keyList) = try PickleMachine.load(from: &input) else {
            throw WeightsFormatError("malformed storage key list")
        }
        let storages = Dictionary(
            named.map { ($0.1.storage.key, $0.1.storage) }, uniquingKeysWith: { first, _ in first })
        // Walk the storage records to find each one's bytes; only the counts are read.
        var position = input.position
        var locations: [String: (offset: Int, byteCount: Int)] = [:]
        for item in keyList.items {
            guard case let .string(key) = item else { throw WeightsFormatError("storage key is not a string") }
            guard let storage = storages[key] else {
                throw WeightsFormatError("storage '\(key)' is not used by any tensor, so its size is unknown")
            }
            var countInput = MemoryInput(try file.read(offset: position, count: 8))
            let count = try countInput.readCount64("storage element count")
            guard count == storage.elementCount else {
                throw WeightsFormatError(
                    "storage '\(key)' holds \(count) elements, its reference says \(storage.elementCount)")
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: storage.elementType.size)
            guard !overflow, byteCount <= file.size - position - 8 else {
                throw WeightsFormatError(
                    "storage '\(key)' (\(count) elements) reaches past the end of the file; the file is truncated")
            }
            locations[key] = (position + 8, byteCount)
            position += 8 + byteCount
        }
        return try TensorArchive(
            file: file, formatDescription: torchLegacy,
            named: named.map { name, tensor in
                guard let location = locations[tensor.storage.key] else {
                    throw WeightsFormatError(
                        "tensor '\(name)' uses storage '\(tensor.storage.key)', which the file does not contain")
                }
                return (name, StoredTensor(pickled: tensor, fileOffset: location.offset, byteCount: location.byteCount))
            })
    }

    // MARK: PyTorch zip

    /// Layout (torch ≥ 1.6): `<folder>/data.pkl` is the object pickle, storage `key` is the
    /// entry `<folder>/data/<key>`; the folder is named after the file when it was saved.
    static func openTorchZip(_ file: RandomAccessFile) throws -> TensorArchive {
        let zip = try ZipDirectory(file: file)
        guard
            let pickleEntry = zip.entries.first(where: {
                $0.name.hasSuffix("/data.pkl") && $0.name.dropLast("/data.pkl".count).firstIndex(of: "/") == nil
            })
        else {
            throw WeightsFormatError("zip file has no <folder>/data.pkl: not a PyTorch checkpoint")
        }
        let folder = String(pickleEntry.name.dropLast("data.pkl".count))
        let entriesByName = Dictionary(zip.entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        if let byteOrder = entriesByName[folder + "byteorder"] {
            let text = try file.read(
                offset: try zip.dataOffset(of: byteOrder, in: file), count: min(byteOrder.uncompressedSize, 16))
            guard text == Array("little".utf8) else {
                throw WeightsFormatError("big-endian PyTorch checkpoints are not supported")
            }
        }
        let pickleBytes = try file.read(
            offset: try zip.dataOffset(of: pickleEntry, in: file), count: pickleEntry.uncompressedSize)
        var input = MemoryInput(pickleBytes)
        let named = try PickleMachine.load(from: &input).namedTensors()
        return try TensorArchive(
            file: file, formatDescription: torchZip,
            named: named.map { name, tensor in
                let entryName = folder + "data/" + tensor.storage.key
                guard let entry = entriesByName[entryName] else {
                    throw WeightsFormatError(
                        "tensor '\(name)' uses storage '\(entryName)', which the zip does not contain")
                }
                let expected = tensor.storage.elementCount.multipliedReportingOverflow(
                    by: tensor.storage.elementType.size)
                guard !expected.overflow, entry.uncompressedSize >= expected.partialValue else {
                    throw WeightsFormatError(
                        "storage '\(entryName)' is \(entry.uncompressedSize) bytes, shorter than its \(tensor.storage.elementCount) elements"
                    )
                }
                return (
                    name,
                    StoredTensor(
                        pickled: tensor, fileOffset: try zip.dataOffset(of: entry, in: file),
                        byteCount: entry.uncompressedSize)
                )
            })
    }

    // MARK: safetensors

    private static let safetensorsTypes: [String: StoredElementType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64, "U8": .uint8,
    ]

    /// Layout: a little-endian u64 header length, a JSON header
    /// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then the data,
    /// offsets relative to its start; tensors are contiguous row-major.
    static func openSafetensors(_ file: RandomAccessFile) throws -> TensorArchive {
        var lengthInput = MemoryInput(try file.read(offset: 0, count: 8))
        let headerLength = try lengthInput.readCount64("safetensors header length")
        guard headerLength <= file.size - 8, headerLength <= 100 << 20 else {
            throw WeightsFormatError("safetensors header length \(headerLength) exceeds the file (\(file.size) bytes)")
        }
        let header = try file.read(offset: 8, count: headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: Data(header)), let entries = json as? [String: Any]
        else {
            throw WeightsFormatError("safetensors header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        var named: [(String, StoredTensor, Int)] = []
        for (name, value) in entries where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw WeightsFormatError("safetensors entry '\(name)' is malformed")
            }
            guard let type = safetensorsTypes[dtype] else {
                throw WeightsFormatError(
                    "safetensors entry '\(name)' has unsupported dtype \(dtype) (supported: F32 F16 BF16 F64 U8)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= file.size - dataStart else {
                throw WeightsFormatError("safetensors entry '\(name)' lies outside the file")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw WeightsFormatError("safetensors entry '\(name)' has a negative size")
            }
            var strides = [Int](repeating: 1, count: shape.count)
            var elementCount = 1
            for d in shape.indices.reversed() {
                strides[d] = elementCount
                let (product, overflow) = elementCount.multipliedReportingOverflow(by: shape[d])
                guard !overflow else { throw WeightsFormatError("safetensors entry '\(name)' is too large") }
                elementCount = product
            }
            guard elementCount.multipliedReportingOverflow(by: type.size) == (end - begin, false) else {
                throw WeightsFormatError(
                    "safetensors entry '\(name)': \(end - begin) bytes do not hold shape \(shape) of \(dtype)")
            }
            named.append(
                (
                    name,
                    StoredTensor(
                        elementType: type, shape: shape, strides: strides, storageOffset: 0,
                        storageFileOffset: dataStart + begin, storageByteCount: end - begin), begin
                ))
        }
        // JSON objects are unordered; file order is data order.
        named.sort { ($0.2, $0.0) < ($1.2, $1.0) }
        return try TensorArchive(file: file, formatDescription: safetensors, named: named.map { ($0.0, $0.1) })
    }
}

extension StoredTensor {
    init(pickled: PickledTensor, fileOffset: Int, byteCount: Int) {
        self.init(
            elementType: pickled.storage.elementType, shape: pickled.shape, strides: pickled.strides,
            storageOffset: pickled.storageOffset, storageFileOffset: fileOffset, storageByteCount: byteCount)
    }
}
