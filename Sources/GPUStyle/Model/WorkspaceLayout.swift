/// Where every tensor of one forward and backward pass lives, decided before anything is
/// allocated, so that `MemoryPlan` counts exactly what `VGGNetwork.makeWorkspace` makes.
///
/// Buffers are shared wherever lifetimes allow:
/// - a conv fused with its ReLU shares the ReLU's buffer;
/// - a tensor only the forward pass reads (the preprocessed input, a pooling output no loss reads)
///   lives in the buffer of a later layer, which is first written after its one reader ran;
/// - the backward pass puts a conv's input gradient into the conv's own output buffer, and a
///   pooling layer runs its backward (fused with the ReLU before it) in place over its input, the
///   conv below then running in place too (`Backend.backwardDataRunsInPlace`);
/// - only a pooling layer that cannot run in place (the ReLU before it is observed, or the conv
///   below cannot run in place) needs a gradient arena.
struct WorkspaceLayout: Equatable {
    /// Floats of each buffer.
    private(set) var buffers: [Int] = []
    /// The buffer of each layer's output.
    private(set) var outputBuffer: [Int]
    /// The buffer of the preprocessed image.
    private(set) var inputBuffer = 0
    /// Where the backward pass starts: the gradient with respect to the deepest layer's output.
    private(set) var firstGradientBuffer = 0
    /// Where the input gradients of pooling layers that cannot run in place go; nil if all can.
    private(set) var arenaBuffer: Int?
    /// A conv's output buffer shared with its ReLU (`VGGNetwork.fusesWithNext`).
    let fusedWithNext: [Bool]
    /// Pooling layers whose backward runs in place over their input, fused with the ReLU's.
    let inPlacePools: Set<Int>

    /// - Parameter backwardDataRunsInPlace: the backend's answer for a conv of (outputs, inputs).
    init(
        layers: [VGGModel.Layer], shapes: [Shape], inputShape: Shape, observed: Set<Int>,
        backwardDataRunsInPlace: (_ outputChannels: Int, _ inputChannels: Int) -> Bool
    ) {
        let fused = layers.indices.map { VGGNetwork.fusesWithNext($0, layers: layers, observed: observed) }
        fusedWithNext = fused
        inPlacePools = Set(
            layers.indices.filter { index in
                guard layers[index].kind == .pool, index >= 2, layers[index - 1].kind == .relu,
                    !observed.contains(index - 1)
                else { return false }
                guard fused[index - 2], case let .conv(inputs, outputs) = layers[index - 2].kind else { return true }
                return backwardDataRunsInPlace(outputs, inputs)
            })
        outputBuffer = Array(repeating: 0, count: layers.count)

        // A tensor is forward-only when only the next layer reads it: the input, and a pooling output
        // that no loss reads (the conv after it needs no input for backward-data).
        let forwardOnly = { (index: Int) in
            index < 0 || (layers[index].kind == .pool && !observed.contains(index) && index + 1 < layers.count)
        }
        for index in layers.indices {
            if index > 0, fused[index - 1] {
                outputBuffer[index] = outputBuffer[index - 1]
            } else if !forwardOnly(index) {
                outputBuffer[index] = add(shapes[index].count)
            }
        }
        firstGradientBuffer = add(shapes.last?.count ?? 0)
        let arena = arenaFloats(layers: layers, shapes: shapes)
        if arena > 0 { arenaBuffer = add(arena) }

        // Each forward-only tensor goes into the first buffer that a layer after its reader writes
        // first (or the first gradient's or the arena, free until the backward pass) and is large enough.
        let gradientBuffers = [firstGradientBuffer] + (arenaBuffer.map { [$0] } ?? [])
        for index in [-1] + Array(layers.indices) where forwardOnly(index) {
            let count = index < 0 ? inputShape.count : shapes[index].count
            let reader = outputBuffer[index + 1]
            let later = layers.indices.filter { $0 > index + 1 && !forwardOnly($0) }.map { outputBuffer[$0] }
            let host = (later + gradientBuffers).first { $0 != reader && buffers[$0] >= count } ?? add(count)
            if index < 0 { inputBuffer = host } else { outputBuffer[index] = host }
        }
    }

    /// The arena's floats: the largest input of a pooling layer that cannot run in place.
    private func arenaFloats(layers: [VGGModel.Layer], shapes: [Shape]) -> Int {
        layers.indices.filter { layers[$0].kind == .pool && $0 > 0 && !inPlacePools.contains($0) }
            .map { shapes[$0 - 1].count }.max() ?? 0
    }

    private mutating func add(_ floats: Int) -> Int {
        buffers.append(floats)
        return buffers.count - 1
    }

    var totalFloats: Int { buffers.reduce(0, +) }
    var gradientFloats: Int { buffers[firstGradientBuffer] + (arenaBuffer.map { buffers[$0] } ?? 0) }
}
