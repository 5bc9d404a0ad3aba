import Foundation

/// Writes an animated GIF (GIF89a) frame by frame, for example the progress of a long run.
///
/// Each frame is quantised to its own palette of at most 256 colours (a local colour table; see
/// `IndexedFrame` for the method), LZW-compressed and appended to a temporary file in the
/// destination folder as soon as it is added, so only one frame is in memory at a time.
/// `finish()` writes the trailer and renames the file into place; an animation that is never
/// finished (an error, `cancel()`, or the writer going away) leaves no file behind.
/// All frames must have the size of the first one. The animation loops (NETSCAPE2.0 extension).
public final class GIFWriter {
    public let path: String
    public let delayCentiseconds: Int
    public let dithering: Bool
    /// How many times the animation repeats; 0 loops forever.
    public let loopCount: Int
    public private(set) var frameCount = 0

    private let output: AtomicOutput
    private var handle: FileHandle?
    private var size: (width: Int, height: Int)?

    /// - Parameters:
    ///   - delayCentiseconds: time each frame is shown, 0…65535 hundredths of a second.
    ///   - loopCount: 0 (forever) … 65535.
    ///   - dithering: Floyd–Steinberg error diffusion when a frame has more than 256 colours.
    public init(path: String, delayCentiseconds: Int = 10, loopCount: Int = 0, dithering: Bool = true) throws {
        guard (0...65535).contains(delayCentiseconds), (0...65535).contains(loopCount) else {
            throw StyleError("\(path): GIF frame delay and loop count must be within 0…65535")
        }
        self.path = path
        self.delayCentiseconds = delayCentiseconds
        self.loopCount = loopCount
        self.dithering = dithering
        output = AtomicOutput(destination: path)
        guard FileManager.default.createFile(atPath: output.temporaryPath, contents: nil),
            let handle = FileHandle(forWritingAtPath: output.temporaryPath)
        else {
            throw StyleError("\(path): cannot create the GIF (does the folder exist and is it writable?)")
        }
        self.handle = handle
    }

    deinit {
        cancel()
    }

    /// Quantises and appends one frame; `delayCentiseconds` overrides the writer's delay for it.
    /// A frame that is refused (wrong size, empty) leaves the animation as it was; a failed
    /// write abandons it.
    public func add(frame: RGBImage, delayCentiseconds delay: Int? = nil) throws {
        guard let handle else {
            throw StyleError("\(path): frame added after the GIF was finished or cancelled")
        }
        let delay = delay ?? delayCentiseconds
        guard (0...65535).contains(delay) else {
            throw StyleError("\(path): GIF frame delay \(delay) is outside 0…65535 centiseconds")
        }
        guard frame.width > 0, frame.height > 0, frame.pixels.count == 3 * frame.planeSize else {
            throw StyleError("\(path): frame \(frameCount + 1) is empty")
        }
        var bytes: [UInt8] = []
        if let size {
            guard size == (frame.width, frame.height) else {
                throw StyleError(
                    "\(path): frame \(frameCount + 1) is \(frame.width)×\(frame.height) but the "
                        + "animation is \(size.width)×\(size.height); resize frames to one size")
            }
        } else {
            guard frame.width <= 65535, frame.height <= 65535 else {
                throw StyleError("\(path): \(frame.width)×\(frame.height) is larger than GIF allows (65535 a side)")
            }
            size = (frame.width, frame.height)
            bytes += header(width: frame.width, height: frame.height)
        }
        bytes += frameBlock(
            IndexedFrame(frame, dithering: dithering), width: frame.width,
            height: frame.height, delay: delay)
        try append(bytes, to: handle)
        frameCount += 1
    }

    /// Writes the trailer and moves the file into place. Throws (leaving no file) if no frame
    /// was added.
    public func finish() throws {
        guard let handle else {
            throw StyleError("\(path): the GIF was already finished or cancelled")
        }
        guard frameCount > 0 else {
            cancel()
            throw StyleError("\(path): no frames were added; nothing written")
        }
        try append([0x3B], to: handle)
        self.handle = nil
        do {
            try handle.close()
        } catch {
            output.discard()
            throw StyleError("\(path): could not finish writing the GIF: \(error)")
        }
        try output.commit()
    }

    /// Abandons the animation and removes the temporary file.
    public func cancel() {
        if let handle {
            try? handle.close()
            self.handle = nil
            output.discard()
        }
    }

    private func append(_ bytes: [UInt8], to handle: FileHandle) throws {
        do {
            try handle.write(contentsOf: Data(bytes))
        } catch {
            cancel()
            throw StyleError("\(path): could not write the GIF: \(error)")
        }
    }

    /// Signature, logical screen (no global colour table) and the looping extension.
    private func header(width: Int, height: Int) -> [UInt8] {
        Array("GIF89a".utf8) + littleEndian16(width) + littleEndian16(height)
            + [0x70, 0, 0]  // 8 bits per primary, no global table, background 0, square pixels
            + [0x21, 0xFF, 11] + Array("NETSCAPE2.0".utf8) + [3, 1] + littleEndian16(loopCount) + [0]
    }

    /// Graphic control extension, image descriptor, local colour table, LZW data.
    private func frameBlock(_ frame: IndexedFrame, width: Int, height: Int, delay: Int) -> [UInt8] {
        var tableBits = 1
        while 1 << tableBits < frame.colourCount {
            tableBits += 1
        }
        let table = frame.palette + [UInt8](repeating: 0, count: 3 * (1 << tableBits) - frame.palette.count)
        let minimumCodeSize = max(2, tableBits)
        var bytes: [UInt8] = [0x21, 0xF9, 4, 0x04] + littleEndian16(delay) + [0, 0]  // disposal: leave in place
        bytes += [0x2C] + littleEndian16(0) + littleEndian16(0) + littleEndian16(width) + littleEndian16(height)
        bytes += [0x80 | UInt8(tableBits - 1)] + table
        bytes.append(UInt8(minimumCodeSize))
        let data = lzwCompress(frame.indices, minimumCodeSize: minimumCodeSize)
        for start in stride(from: 0, to: data.count, by: 255) {
            let end = min(start + 255, data.count)
            bytes.append(UInt8(end - start))
            bytes += data[start..<end]
        }
        bytes.append(0)
        return bytes
    }
}

private func littleEndian16(_ value: Int) -> [UInt8] {
    [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)]
}

/// GIF's variable-length LZW: codes start at `minimumCodeSize + 1` bits and grow to 12, packed
/// least significant bit first; a clear code starts, and resets a full dictionary.
func lzwCompress(_ symbols: [UInt8], minimumCodeSize: Int) -> [UInt8] {
    let clear = 1 << minimumCodeSize, end = clear + 1
    var output: [UInt8] = []
    var buffer: UInt32 = 0, bufferedBits = 0
    var codeSize = minimumCodeSize + 1
    func emit(_ code: Int) {
        buffer |= UInt32(code) << UInt32(bufferedBits)
        bufferedBits += codeSize
        while bufferedBits >= 8 {
            output.append(UInt8(buffer & 0xFF))
            buffer >>= 8
            bufferedBits -= 8
        }
    }
    var dictionary = LZWDictionary()
    var nextCode = clear + 2

    emit(clear)
    if let first = symbols.first {
        var prefix = Int(first)
        for symbol in symbols.dropFirst() {
            if let code = dictionary.code(prefix: prefix, symbol: symbol) {
                prefix = code
                continue
            }
            emit(prefix)
            dictionary.insert(prefix: prefix, symbol: symbol, code: nextCode)
            // The decoder adds each entry one code later; growing here, on the code just
            // assigned, matches the width at which it will read the next code.
            if nextCode >= 1 << codeSize {
                codeSize += 1
            }
            if nextCode == 4095 {
                emit(clear)
                dictionary.removeAll()
                codeSize = minimumCodeSize + 1
                nextCode = clear + 2
            } else {
                nextCode += 1
            }
            prefix = Int(symbol)
        }
        emit(prefix)
        // Reading that last code, the decoder adds one more entry and may widen its codes for
        // the end code; write it at that width.
        if nextCode >= 1 << codeSize && codeSize < 12 {
            codeSize += 1
        }
    }
    emit(end)
    if bufferedBits > 0 {
        output.append(UInt8(buffer & 0xFF))
    }
    return output
}

/// (prefix code, next symbol) → code, open addressing in 8192 slots: at most 3838 entries live
/// between two clear codes, so probes stay short and a reset touches only 8192 keys.
private struct LZWDictionary {
    private var keys = [Int32](repeating: -1, count: 8192)
    private var codes = [UInt16](repeating: 0, count: 8192)

    private func slot(for key: Int32) -> Int {
        var slot = Int((UInt32(bitPattern: key) &* 2_654_435_761) >> 19)
        while keys[slot] != key && keys[slot] != -1 {
            slot = (slot + 1) & 8191
        }
        return slot
    }

    func code(prefix: Int, symbol: UInt8) -> Int? {
        let key = Int32(prefix << 8 | Int(symbol))
        let slot = slot(for: key)
        return keys[slot] == key ? Int(codes[slot]) : nil
    }

    mutating func insert(prefix: Int, symbol: UInt8, code: Int) {
        let key = Int32(prefix << 8 | Int(symbol))
        let slot = slot(for: key)
        keys[slot] = key
        codes[slot] = UInt16(code)
    }

    mutating func removeAll() {
        for i in keys.indices {
            keys[i] = -1
        }
    }
}
