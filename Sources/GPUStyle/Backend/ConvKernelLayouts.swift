/// Layouts of 3×3 conv weights that both backends derive from the file's O×I×3×3 order.
enum ConvKernelLayouts {
    /// W'[i][o][ky][kx] = W[o][i][2−ky][2−kx] (I×O×3×3): backward-data of W is the forward
    /// convolution of the output gradient with W'.
    static func flippedTransposed<Value: Numeric>(
        _ weights: [Value], outputChannels: Int, inputChannels: Int
    )
        -> [Value]
    {
        var flipped = [Value](repeating: 0, count: weights.count)
        for o in 0..<outputChannels {
            for i in 0..<inputChannels {
                for tap in 0..<9 {
                    flipped[(i * outputChannels + o) * 9 + (8 - tap)] = weights[(o * inputChannels + i) * 9 + tap]
                }
            }
        }
        return flipped
    }
}
