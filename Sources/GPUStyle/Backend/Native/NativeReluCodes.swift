import Foundation

extension NativeBackend {
    public func computeEncodeReluCodes(_ activation: Tensor, maxPooled: Bool, codes: Tensor) throws {
        let op = "encodeReluCodes"
        let a = try native(activation, op).pointer, words = try native(codes, op).pointer
        let (height, width) = (activation.shape.h, activation.shape.w)
        let perRow = Shape.reluCodesPerRow(width)
        HostParallel.forEach(activation.shape.c * height, totalWork: activation.count) { row in
            let y = row % height
            let values = a + row * width
            // The window's two rows, where the row lies in one (not an odd last row).
            let pooledRow = maxPooled && y < height & ~1
            let top = a + (row - (y & 1)) * width, bottom = top + width
            for j in 0..<perRow {
                var bits: UInt32 = 0
                for x in j * Shape.reluCodesPerFloat..<min((j + 1) * Shape.reluCodesPerFloat, width) {
                    let v = values[x]
                    var code: UInt32 = v > 0 ? 1 : 0
                    if code == 1, pooledRow, x < width & ~1 {
                        let left = x & ~1
                        if v == max(max(top[left], top[left + 1]), max(bottom[left], bottom[left + 1])) { code = 2 }
                    }
                    bits |= code << (2 * UInt32(x - j * Shape.reluCodesPerFloat))
                }
                // The codes in the fraction bits of a float in [1, 2): a normal number every copy keeps.
                words[row * perRow + j] = Float(bitPattern: 0x3F80_0000 | bits)
            }
        }
    }

    public func computeDecodeReluCodes(_ codes: Tensor, output: Tensor) throws {
        let op = "decodeReluCodes"
        let words = try native(codes, op).pointer, a = try native(output, op).pointer
        let width = output.shape.w
        let perRow = Shape.reluCodesPerRow(width)
        HostParallel.forEach(output.shape.c * output.shape.h, totalWork: output.count) { row in
            for j in 0..<perRow {
                let bits = words[row * perRow + j].bitPattern
                for x in j * Shape.reluCodesPerFloat..<min((j + 1) * Shape.reluCodesPerFloat, width) {
                    a[row * width + x] = Float((bits >> (2 * UInt32(x - j * Shape.reluCodesPerFloat))) & 3)
                }
            }
        }
    }
}
