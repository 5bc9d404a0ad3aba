import Foundation

/// Element types the weight readers understand.
enum StoredElementType: String, Sendable {
    case float32, float16, bfloat16, float64, uint8

    var size: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .float64: return 8
        case .uint8: return 1
        }
    }

    var isFloatingPoint: Bool { self != .uint8 }
}

/// A tensor inside a weights file: where its storage lies and how the tensor views it.
/// Nothing of its data is read until asked for.
struct StoredTensor {
    let elementType: StoredElementType
    let shape: [Int]
    /// In elements, one per dimension.
    let strides: [Int]
    /// In elements, from the start of the storage.
    let storageOffset: Int
    /// The storage's bytes in the file.
    let storageFileOffset: Int
    let storageByteCount: Int

    static let maximumDimensions = 64

    /// Only after `validate()`, which checks that this product does not overflow.
    var elementCount: Int { shape.reduce(1, *) }

    /// Checks that every element the view can address lies inside the storage, so reading it
    /// can neither fail half-way nor read a neighbour's bytes.
    func validate() throws {
        guard shape.count == strides.count else {
            throw WeightsFormatError("tensor has \(shape.count) sizes but \(strides.count) strides")
        }
        // Gathering a strided view costs elements × dimensions: without a bound, a 240 KB file of
        // 20,000 size-1 dimensions over 20,000 elements took seconds, and time grows with the square
        // of the file. Weights have 1 to 4 dimensions.
        guard shape.count <= Self.maximumDimensions else {
            throw WeightsFormatError(
                "tensor has \(shape.count) dimensions; at most \(Self.maximumDimensions) are supported")
        }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), storageOffset >= 0 else {
            throw WeightsFormatError("tensor has a negative size, stride or offset")
        }
        var count = 1
        for size in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw WeightsFormatError("tensor of shape \(shape) is too large") }
            count = product
        }
        guard count > 0 else { return }
        // Views that repeat elements (stride 0, overlapping strides) never occur in weights, and
        // refusing them bounds what is allocated by the file's size.
        guard count <= storageByteCount / elementType.size else {
            throw WeightsFormatError(
                "tensor of shape \(shape) has more elements than its storage (\(storageByteCount) bytes)")
        }
        var lastIndex = storageOffset
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflow2) = lastIndex.addingReportingOverflow(product)
            guard !overflow, !overflow2 else { throw WeightsFormatError("tensor extent overflows") }
            lastIndex = sum
        }
        let (end, overflow) = lastIndex.multipliedReportingOverflow(by: elementType.size)
        guard !overflow, end < storageByteCount, elementType.size <= storageByteCount - end else {
            throw WeightsFormatError("tensor of shape \(shape) reaches past its storage of \(storageByteCount) bytes")
        }
    }

    private var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            if stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// The byte range of the storage this view touches (so only that is read).
    private var touchedByteRange: Range<Int> {
        let first = storageOffset
        let last = zip(shape, strides).reduce(storageOffset) { $0 + ($1.0 - 1) * $1.1 }
        return first * elementType.size..<(last + 1) * elementType.size
    }

    /// The raw elements in row-major order of `shape`, each `elementType.size` bytes.
    func readElementBytes(from file: RandomAccessFile) throws -> [UInt8] {
        try validate()
        guard elementCount > 0 else { return [] }
        let range = touchedByteRange
        let bytes = try file.read(offset: storageFileOffset + range.lowerBound, count: range.count)
        if isContiguous { return bytes }
        // Gather a strided view into row-major order.
        let size = elementType.size
        var out = [UInt8](repeating: 0, count: elementCount * size)
        var index = [Int](repeating: 0, count: shape.count)
        for element in 0..<elementCount {
            var source = 0
            for d in 0..<shape.count { source += index[d] * strides[d] }
            let from = source * size
            for b in 0..<size { out[element * size + b] = bytes[from + b] }
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// The values as Float, converting half, bfloat16 and double.
    func readFloats(from file: RandomAccessFile) throws -> [Float] {
        guard elementType.isFloatingPoint else {
            throw WeightsFormatError("expected floating-point values, found \(elementType.rawValue)")
        }
        let bytes = try readElementBytes(from: file)
        return decodeFloats(bytes, as: elementType)
    }

    /// The values of a uint8 tensor.
    func readBytes(from file: RandomAccessFile) throws -> [UInt8] {
        guard elementType == .uint8 else {
            throw WeightsFormatError("expected uint8 values, found \(elementType.rawValue)")
        }
        return try readElementBytes(from: file)
    }
}

/// Little-endian elements of `type` as Float.
func decodeFloats(_ bytes: [UInt8], as type: StoredElementType) -> [Float] {
    let count = bytes.count / type.size
    #if _endian(little)
        if type == .float32 {
            // The common case as one copy: element by element takes seconds for 80 MB in debug builds.
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                bytes.withUnsafeBytes { raw in
                    if let source = raw.baseAddress, let target = out.baseAddress {
                        UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: count * 4)
                    }
                }
                initialized = count
            }
        }
    #endif
    return bytes.withUnsafeBufferPointer { raw -> [Float] in
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count {
                let at = i * type.size
                switch type {
                case .float32:
                    let bits =
                        UInt32(raw[at]) | UInt32(raw[at + 1]) << 8 | UInt32(raw[at + 2]) << 16 | UInt32(raw[at + 3])
                        << 24
                    out[i] = Float(bitPattern: bits)
                case .float16:
                    out[i] = floatFromHalf(UInt16(raw[at]) | UInt16(raw[at + 1]) << 8)
                case .bfloat16:
                    out[i] = Float(bitPattern: (UInt32(raw[at]) | UInt32(raw[at + 1]) << 8) << 16)
                case .float64:
                    var bits: UInt64 = 0
                    for b in 0..<8 { bits |= UInt64(raw[at + b]) << (8 * UInt64(b)) }
                    out[i] = Float(Double(bitPattern: bits))
                case .uint8:
                    out[i] = Float(raw[at])
                }
            }
            initialized = count
        }
    }
}

/// IEEE 754 half precision to single (exact), written out because `Float16` is not available
/// on every platform Swift runs on.
func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int((h >> 10) & 0x1f)
    let mantissa = UInt32(h & 0x3ff)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa · 2^-24.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign == 0 ? magnitude : -magnitude
    case 0x1f:
        return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}

/// The tensors of one weights file, by name, read lazily.
final class TensorArchive {
    let file: RandomAccessFile
    /// e.g. "PyTorch legacy (torch.save, not zip)".
    let formatDescription: String
    /// In file order.
    let names: [String]
    let tensors: [String: StoredTensor]

    init(file: RandomAccessFile, formatDescription: String, named: [(String, StoredTensor)]) throws {
        self.file = file
        self.formatDescription = formatDescription
        var tensors: [String: StoredTensor] = [:]
        var names: [String] = []
        for (name, tensor) in named {
            do {
                try tensor.validate()
            } catch let error as WeightsFormatError {
                throw WeightsFormatError("tensor '\(name)': \(error.problem)")
            }
            if tensors.updateValue(tensor, forKey: name) == nil { names.append(name) }
        }
        self.names = names
        self.tensors = tensors
    }

    func tensor(_ name: String) throws -> StoredTensor {
        guard let tensor = tensors[name] else { throw WeightsFormatError("tensor '\(name)' is missing") }
        return tensor
    }

    func floats(_ name: String) throws -> [Float] { try reading(name) { try $0.readFloats(from: file) } }

    func bytes(_ name: String) throws -> [UInt8] { try reading(name) { try $0.readBytes(from: file) } }

    /// Runs `read` on tensor `name`, naming the tensor in its errors.
    private func reading<T>(_ name: String, _ read: (StoredTensor) throws -> T) throws -> T {
        let stored = try tensor(name)
        do {
            return try read(stored)
        } catch let error as WeightsFormatError {
            throw WeightsFormatError("tensor '\(name)': \(error.problem)")
        }
    }
}
