import Foundation

/// A list or dict built by a pickle. Reference types, because pickle's memo shares objects:
/// SETITEMS after BINPUT must change the object the memo holds too.
///
/// Once placed inside another container a list or dict is frozen (torch's pickles fill each one
/// before using it). That makes cycles impossible and keeps every container's recorded nesting
/// depth exact, so a hostile file can neither loop the readers nor nest values deep enough to
/// overflow the stack when they are traversed or freed.
final class PickleList {
    var items: [PickleValue] = []
    var depth = 1
    var isFrozen = false
}

final class PickleDict {
    var entries: [(key: PickleValue, value: PickleValue)] = []
    var depth = 1
    var isFrozen = false
}

/// A storage named by a torch checkpoint's persistent id.
struct PickledStorage {
    let key: String
    let elementType: StoredElementType
    let elementCount: Int
}

/// What `torch._utils._rebuild_tensor_v2` describes: a strided view of a storage.
struct PickledTensor {
    let storage: PickledStorage
    let storageOffset: Int
    let shape: [Int]
    let strides: [Int]
}

/// The globals a torch state dict may name. Any other is refused: a pickle can name any
/// Python callable, and guessing what an unknown one does would be wrong.
enum PickleGlobal: Equatable {
    /// torch < 0.4 (e.g. torchvision's 2017 model files): (storage, offset, size, stride).
    case rebuildTensor
    case rebuildTensorV2
    case rebuildParameter
    case orderedDict
    case storageType(StoredElementType)

    init(module: String, name: String) throws {
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch", _), ("torch.cuda", _):
            // Typed storages (`torch.FloatStorage`, also `torch.cuda.FloatStorage` in files
            // saved from a GPU: the location is irrelevant to us) and the untyped byte storage.
            let types: [String: StoredElementType] = [
                "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
                "DoubleStorage": .float64, "ByteStorage": .uint8, "UntypedStorage": .uint8,
            ]
            guard let type = types[name] else {
                throw WeightsFormatError("unsupported pickle global '\(module).\(name)'")
            }
            self = .storageType(type)
        default:
            throw WeightsFormatError("unsupported pickle global '\(module).\(name)'")
        }
    }
}

indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too wide for `Int`: its little-endian two's-complement bytes (torch's magic number).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(PickledStorage)
    case tensor(PickledTensor)

    /// Containers nested inside this value, itself included.
    var depth: Int {
        switch self {
        case let .tuple(_, depth): return depth
        case let .list(list): return list.depth
        case let .dict(dict): return dict.depth
        default: return 0
        }
    }

    /// Marks a list or dict as placed inside another container.
    func freeze() {
        if case let .list(list) = self { list.isFrozen = true }
        if case let .dict(dict) = self { dict.isFrozen = true }
    }

    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global: return "global"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// A pickle interpreter for exactly the opcodes and globals that torch checkpoints use
/// (protocols 2 to 5). It builds values, never runs code: anything else is an
/// "unsupported …" error.
struct PickleMachine {
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// Reads one pickle (up to and including STOP) from `input` and returns its value.
    static func load<Input: ByteInput>(from input: inout Input) throws -> PickleValue {
        var machine = PickleMachine()
        return try machine.run(&input)
    }

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw WeightsFormatError("pickle stack underflow") }
        if let mark = marks.last, stack.count < mark { throw WeightsFormatError("pickle pops past a MARK") }
        return value
    }

    /// The values pushed since the last MARK, which is removed.
    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw WeightsFormatError("pickle has no MARK to pop to")
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func top() throws -> PickleValue {
        guard let value = stack.last else { throw WeightsFormatError("pickle stack underflow") }
        return value
    }

    private func text<Input: ByteInput>(_ input: inout Input, count: Int) throws -> String {
        let bytes = try input.read(count)
        guard let string = String(bytes: bytes, encoding: .utf8) else {
            throw WeightsFormatError("pickle string is not valid UTF-8")
        }
        return string
    }

    /// A newline-terminated line (GLOBAL's operands), at most 256 bytes.
    private func line<Input: ByteInput>(_ input: inout Input) throws -> String {
        var bytes: [UInt8] = []
        while true {
            let byte = try input.readByte()
            if byte == 0x0a { break }
            bytes.append(byte)
            guard bytes.count <= 256 else { throw WeightsFormatError("pickle GLOBAL name is too long") }
        }
        guard let string = String(bytes: bytes, encoding: .utf8) else {
            throw WeightsFormatError("pickle GLOBAL name is not UTF-8")
        }
        return string
    }

    private func length<Input: ByteInput>(_ input: inout Input, width: Int) throws -> Int {
        let value = try input.readLittleEndian(width: width)
        guard value <= UInt64(input.remaining) else {
            throw WeightsFormatError("pickle declares \(value) bytes but only \(input.remaining) remain")
        }
        return Int(value)
    }

    private mutating func run<Input: ByteInput>(_ input: inout Input) throws -> PickleValue {
        while true {
            let opcode = try input.readByte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try input.readByte()
                guard (2...5).contains(version) else {
                    throw WeightsFormatError("unsupported pickle protocol \(version)")
                }
            case 0x95:  // FRAME: framing only groups opcodes; its length needs no action.
                _ = try input.read(8)
            case 0x28: marks.append(stack.count)  // MARK
            case 0x7d: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x5d: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([], depth: 1))  // EMPTY_TUPLE
            case 0x85, 0x86, 0x87:  // TUPLE1/2/3
                let count = Int(opcode - 0x84)
                var items: [PickleValue] = []
                for _ in 0..<count { items.insert(try pop(), at: 0) }
                stack.append(try Self.tuple(items))
            case 0x74: stack.append(try Self.tuple(try popToMark()))  // TUPLE
            case 0x64:  // DICT
                let dict = PickleDict()
                try addPairs(try popToMark(), to: dict)
                stack.append(.dict(dict))
            case 0x73:  // SETITEM
                let value = try pop()
                let key = try pop()
                try addPairs([key, value], to: try dictOnTop())
            case 0x75:  // SETITEMS
                let items = try popToMark()
                try addPairs(items, to: try dictOnTop())
            case 0x61:  // APPEND
                let value = try pop()
                try add([value], to: try listOnTop())
            case 0x65:  // APPENDS
                let items = try popToMark()
                try add(items, to: try listOnTop())
            case 0x4a: stack.append(.int(try input.readInt32()))  // BININT
            case 0x4b: stack.append(.int(Int(try input.readByte())))  // BININT1
            case 0x4d: stack.append(.int(try input.readUInt16()))  // BININT2
            case 0x8a:  // LONG1
                let count = Int(try input.readByte())
                stack.append(Self.long(Array(try input.read(count))))
            case 0x47:  // BINFLOAT, big-endian
                let bytes = try input.read(8)
                var bits: UInt64 = 0
                for byte in bytes { bits = bits << 8 | UInt64(byte) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x58: stack.append(.string(try text(&input, count: try length(&input, width: 4))))  // BINUNICODE
            case 0x8c: stack.append(.string(try text(&input, count: Int(try input.readByte()))))  // SHORT_BINUNICODE
            case 0x8d: stack.append(.string(try text(&input, count: try length(&input, width: 8))))  // BINUNICODE8
            case 0x54:  // BINSTRING (Python 2 str): latin-1 text
                let count = try input.readInt32()
                guard count >= 0, count <= input.remaining else {
                    throw WeightsFormatError("pickle BINSTRING has a bad length \(count)")
                }
                stack.append(.string(String(decoding: try input.read(count).map { UInt16($0) }, as: UTF16.self)))
            case 0x55:  // SHORT_BINSTRING
                let count = Int(try input.readByte())
                stack.append(.string(String(decoding: try input.read(count).map { UInt16($0) }, as: UTF16.self)))
            case 0x42: stack.append(.bytes(Array(try input.read(try length(&input, width: 4)))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try input.read(Int(try input.readByte())))))  // SHORT_BINBYTES
            case 0x8e: stack.append(.bytes(Array(try input.read(try length(&input, width: 8)))))  // BINBYTES8
            case 0x63:  // GLOBAL
                let module = try line(&input)
                let name = try line(&input)
                stack.append(.global(try PickleGlobal(module: module, name: name)))
            case 0x93:  // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard case let .string(m) = module, case let .string(n) = name else {
                    throw WeightsFormatError("pickle STACK_GLOBAL operands are not strings")
                }
                stack.append(.global(try PickleGlobal(module: m, name: n)))
            case 0x52, 0x81:  // REDUCE, NEWOBJ: call a global with a tuple of arguments
                let arguments = try pop()
                let callable = try pop()
                guard case let .global(global) = callable, case let .tuple(args, _) = arguments else {
                    throw WeightsFormatError("pickle calls a \(callable.kindName) with \(arguments.kindName) arguments")
                }
                stack.append(try Self.call(global, args))
            case 0x62:  // BUILD
                let state = try pop()
                let object = try top()
                // torch's state dicts are OrderedDicts that carry a `_metadata` attribute
                // (module versions); attributes are of no use here.
                guard case .dict = object else {
                    throw WeightsFormatError("unsupported pickle BUILD on a \(object.kindName)")
                }
                _ = state
            case 0x51:  // BINPERSID
                stack.append(try Self.persistentLoad(try pop()))
            case 0x71: memo[Int(try input.readByte())] = try top()  // BINPUT
            case 0x72: memo[try input.readUInt32()] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68, 0x6a:  // BINGET, LONG_BINGET
                let index = opcode == 0x68 ? Int(try input.readByte()) : try input.readUInt32()
                guard let value = memo[index] else {
                    throw WeightsFormatError("pickle refers to memo entry \(index), which was never stored")
                }
                stack.append(value)
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4e: stack.append(.none)  // NONE
            case 0x2e:  // STOP
                guard marks.isEmpty, stack.count == 1, let result = stack.last else {
                    throw WeightsFormatError("pickle ends with \(stack.count) values on its stack")
                }
                return result
            default:
                throw WeightsFormatError("unsupported pickle opcode 0x\(String(opcode, radix: 16))")
            }
        }
    }

    private mutating func dictOnTop() throws -> PickleDict {
        guard case let .dict(dict) = try top() else { throw WeightsFormatError("pickle sets an item on a non-dict") }
        return dict
    }

    private mutating func listOnTop() throws -> PickleList {
        guard case let .list(list) = try top() else { throw WeightsFormatError("pickle appends to a non-list") }
        return list
    }

    /// Containers may nest this deep; torch state dicts need 3 or 4.
    static let maximumDepth = 32

    /// Freezes `items` and returns the depth of a container holding them, checked.
    private static func containing(_ items: [PickleValue], depth: Int) throws -> Int {
        var result = depth
        for item in items {
            item.freeze()
            result = max(result, 1 + item.depth)
        }
        guard result <= maximumDepth else {
            throw WeightsFormatError("pickle nests containers more than \(maximumDepth) deep")
        }
        return result
    }

    private static func tuple(_ items: [PickleValue]) throws -> PickleValue {
        .tuple(items, depth: try containing(items, depth: 1))
    }

    private func add(_ items: [PickleValue], to list: PickleList) throws {
        let depth = try Self.containing(items, depth: list.depth)
        guard !list.isFrozen else { throw WeightsFormatError("unsupported pickle: a list is changed after being used") }
        list.depth = depth
        list.items.append(contentsOf: items)
    }

    private func addPairs(_ items: [PickleValue], to dict: PickleDict) throws {
        guard items.count % 2 == 0 else { throw WeightsFormatError("pickle dict has a key without a value") }
        let depth = try Self.containing(items, depth: dict.depth)
        guard !dict.isFrozen else { throw WeightsFormatError("unsupported pickle: a dict is changed after being used") }
        dict.depth = depth
        for i in stride(from: 0, to: items.count, by: 2) {
            dict.entries.append((items[i], items[i + 1]))
        }
    }

    /// LONG1's little-endian two's-complement integer.
    private static func long(_ bytes: [UInt8]) -> PickleValue {
        guard bytes.count <= 8 else { return .bigInt(bytes) }
        guard let last = bytes.last else { return .int(0) }
        var value = littleEndianValue(bytes[...])
        if last & 0x80 != 0, bytes.count < 8 { value |= ~0 << (8 * UInt64(bytes.count)) }  // sign-extend
        return .int(Int(Int64(bitPattern: value)))
    }

    private static func call(_ global: PickleGlobal, _ args: [PickleValue]) throws -> PickleValue {
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw WeightsFormatError("unsupported OrderedDict construction with arguments") }
            return .dict(PickleDict())
        case .rebuildParameter:
            // (data, requires_grad, backward_hooks): a Parameter is its data here.
            guard args.count == 3, case .tensor = args[0] else {
                throw WeightsFormatError("malformed _rebuild_parameter call")
            }
            return args[0]
        case .rebuildTensor, .rebuildTensorV2:
            // (storage, storage_offset, size, stride), v2 adds (requires_grad, backward_hooks[, metadata])
            let counts = global == .rebuildTensor ? [4] : [6, 7]
            guard counts.contains(args.count), case let .storage(storage) = args[0], case let .int(offset) = args[1]
            else {
                throw WeightsFormatError("malformed _rebuild_tensor_v2 call")
            }
            return .tensor(
                PickledTensor(
                    storage: storage, storageOffset: offset,
                    shape: try intTuple(args[2]), strides: try intTuple(args[3])))
        case .storageType:
            throw WeightsFormatError("unsupported pickle: a storage type is called")
        }
    }

    private static func intTuple(_ value: PickleValue) throws -> [Int] {
        guard case let .tuple(items, _) = value else {
            throw WeightsFormatError("tensor size/stride is a \(value.kindName), not a tuple")
        }
        return try items.map {
            guard case let .int(v) = $0 else { throw WeightsFormatError("tensor size/stride holds a \($0.kindName)") }
            return v
        }
    }

    /// torch's persistent id for a storage: ('storage', storage type, key, location, element count)
    /// plus, in the legacy format, view metadata that is always None in files written since torch 0.4.
    private static func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case let .tuple(items, _) = pid, items.count == 5 || items.count == 6, case .string("storage") = items[0]
        else {
            throw WeightsFormatError("unsupported persistent id (expected a torch storage reference)")
        }
        guard case let .global(.storageType(type)) = items[1], case let .string(key) = items[2],
            case let .int(count) = items[4], count >= 0
        else {
            throw WeightsFormatError("malformed torch storage reference")
        }
        if items.count == 6, case .none = items[5] {
        } else if items.count == 6 {
            throw WeightsFormatError("unsupported storage view in a legacy checkpoint")
        }
        return .storage(PickledStorage(key: key, elementType: type, elementCount: count))
    }
}

extension PickleValue {
    /// The tensors of a state dict, by name; nested dicts give dotted names, values that are not
    /// tensors (version numbers, optimiser settings) are skipped.
    func namedTensors() throws -> [(String, PickledTensor)] {
        var budget = Self.maximumEntriesWalked
        return try namedTensors(prefix: "", budget: &budget)
    }

    /// The memo lets a pickle put one dict under several keys, and each level can double the
    /// paths: 30 nested dicts of two keys each, 634 bytes, would be 2^30 entries to walk. Real
    /// checkpoints hold thousands of entries at most.
    static let maximumEntriesWalked = 100_000

    private func namedTensors(prefix: String, budget: inout Int) throws -> [(String, PickledTensor)] {
        guard case let .dict(dict) = self else {
            throw WeightsFormatError("the checkpoint holds a \(kindName), not a dict of tensors")
        }
        budget -= dict.entries.count
        guard budget >= 0 else {
            throw WeightsFormatError(
                "the checkpoint's dicts hold more than \(Self.maximumEntriesWalked) entries (counting a shared dict once per key it is under)"
            )
        }
        var result: [(String, PickledTensor)] = []
        for (key, value) in dict.entries {
            guard case let .string(name) = key else { continue }
            switch value {
            case let .tensor(tensor): result.append((prefix + name, tensor))
            case .dict: result += try value.namedTensors(prefix: prefix + name + ".", budget: &budget)
            default: continue
            }
        }
        return result
    }
}
