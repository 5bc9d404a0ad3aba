import Foundation

extension NativeBackend {
    public func computeEncodeReluCodes(_ activation: Tensor, maxPooled: Bool, codes: Tensor) throws {
        let op = "encodeReluCodes"
        let a = try native(activation, op).pointer, words = try native(codes, op).pointer
        let (n, height, width) = (activation.count, activation.shape.h, activation.shape.w)
        let plane = height * width
        HostParallel.forEachChunk(codes.count) { range in
            for word in range {
                var bits: UInt32 = 0
                for k in 0..<reluCodesPerWord where word * reluCodesPerWord + k < n {
                    let index = word * reluCodesPerWord + k
                    let v = a[index]
                    var code: UInt32 = v > 0 ? 1 : 0
                    let (y, x) = ((index % plane) / width, index % width)
                    if code == 1, maxPooled, y < height & ~1, x < width & ~1 {
                        let top = a + index - (y & 1) * width - (x & 1)
                        if v == max(max(top[0], top[1]), max(top[width], top[width + 1])) { code = 2 }
                    }
                    bits |= code << (2 * UInt32(k))
                }
                // The codes in the fraction bits of a float in [1, 2): a normal number every copy keeps.
                words[word] = Float(bitPattern: 0x3F80_0000 | bits)
            }
        }
    }

    public func computeDecodeReluCodes(_ codes: Tensor, output: Tensor) throws {
        let op = "decodeReluCodes"
        let words = try native(codes, op).pointer, a = try native(output, op).pointer
        HostParallel.forEachChunk(output.count) { range in
            for i in range {
                let (word, k) = i.quotientAndRemainder(dividingBy: reluCodesPerWord)
                a[i] = Float((words[word].bitPattern >> (2 * UInt32(k))) & 3)
            }
        }
    }
}

/// Two-bit codes in the 22 lowest fraction bits of one float (Kernels.cl's CODES_PER_WORD).
private let reluCodesPerWord = 11
