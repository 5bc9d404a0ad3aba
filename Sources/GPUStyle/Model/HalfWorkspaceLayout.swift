/// Where every tensor of one forward and backward pass lives with `--storage half` on a backend
/// with 16-bit buffers (`Backend.halfStorageAlignment`): layer outputs as halves, the input and
/// every gradient as floats, all in one allocation, placed by lifetime so that a tensor reuses the
/// bytes of tensors the pass has finished with (the gradients of the first level go into the
/// dead activations of the deeper ones). `MemoryPlan` counts `bytes`.
///
/// Time runs over the steps of a pass: 0 the preprocessing, 1 + i layer i's forward, 2n − i its
/// backward (n layers; a fused conv's backward is the step after its ReLU's), 2n + 1 the
/// preprocessing's backward. A tensor lives from the step that first writes it to the last step
/// that reads it, both included, so a kernel's inputs and outputs never share bytes.
struct HalfWorkspaceLayout: Equatable {
    /// The preprocessed image and its gradient (floats).
    private(set) var input: TensorView
    private(set) var inputGradient: TensorView
    /// Each layer's output (halves); a conv fused with its ReLU shares the ReLU's.
    private(set) var outputs: [TensorView]
    /// The gradient with respect to each layer's output (floats); a fused conv shares its ReLU's.
    private(set) var gradients: [TensorView]
    /// The allocations the gradients share (`gradientGroup[i]` holds layer i's): a conv that runs
    /// backward-data in place puts its input's gradient in its output's.
    private(set) var gradientGroups: [TensorView] = []
    private(set) var gradientGroup: [Int] = []
    /// The allocation's bytes.
    private(set) var bytes = 0
    let fusedWithNext: [Bool]
    /// Pooling layers whose backward applies the mask of the ReLU before them
    /// (`reluPool2x2Backward`): the ReLU unobserved and its conv fused with it, so the two share one
    /// gradient tensor.
    let fusedPools: Set<Int>

    /// - Parameter backwardDataRunsInPlace: the backend's answer for a conv of (outputs, inputs).
    init(
        layers: [VGGModel.Layer], shapes: [Shape], inputShape: Shape, observed: Set<Int>, alignment: Int,
        backwardDataRunsInPlace: (_ outputChannels: Int, _ inputChannels: Int) -> Bool
    ) {
        let n = layers.count
        let fused = layers.indices.map { VGGNetwork.fusesWithNext($0, layers: layers, observed: observed) }
        fusedWithNext = fused
        fusedPools = Set(
            layers.indices.filter {
                layers[$0].kind == .pool && $0 >= 2 && layers[$0 - 1].kind == .relu && !observed.contains($0 - 1)
                    && fused[$0 - 2]
            })
        // The tensor that holds layer i's output: a fused conv's is its ReLU's.
        let holder = { (i: Int) in fused[i] ? i + 1 : i }
        let backwardStep = { (i: Int) in 2 * n - i }

        var requests: [(view: TensorView, first: Int, last: Int)] = []
        func request(_ shape: Shape, _ format: ActivationStorage, first: Int, last: Int) -> Int {
            requests.append((TensorView(offset: 0, shape: shape, format: format), first, last))
            return requests.count - 1
        }
        let inputIndex = request(inputShape, .float, first: 0, last: 1)
        var outputIndex = [Int](repeating: 0, count: n)
        for i in layers.indices where !fused[i] {
            // Readers: the next layer's forward, the losses, the ReLU's own mask, the pooling
            // after it (its window maxima), all by layer i's backward step at the latest.
            let first = i > 0 && fused[i - 1] ? i : i + 1
            var last = i + 1 < n ? i + 2 : first
            let readInBackward =
                observed.contains(i) || layers[i].kind == .relu || (i + 1 < n && layers[i + 1].kind == .pool)
            if readInBackward { last = backwardStep(i) }
            outputIndex[i] = request(shapes[i], .half, first: first, last: last)
        }
        var gradientIndex = [Int](repeating: 0, count: n)
        for i in layers.indices where !fused[i] {
            // Written by the backward of the layer above (zero-filled at the deepest), read up to
            // the backward of the layer (of the fused conv below it, a step later).
            let above = i + 1
            let first = above < n ? backwardStep(above) : backwardStep(n - 1)
            let last = i > 0 && fused[i - 1] ? backwardStep(i - 1) : backwardStep(i)
            gradientIndex[i] = request(shapes[i], .float, first: first, last: last)
        }
        let inputGradientIndex = request(inputShape, .float, first: backwardStep(0), last: backwardStep(0) + 1)
        // In place: the conv's input gradient joins its output gradient's request, which then
        // lives from the first's birth to the last's death (a chain is contiguous in time). Only
        // where the two are the same size: a smaller input gradient (conv2_1's, after a pooling
        // layer) would keep the larger tensor alive down to the pooling layer's backward.
        var representative = Array(requests.indices)
        for c in layers.indices.reversed() where c >= 1 {
            guard case let .conv(inputs, outputs) = layers[c].kind, inputs == outputs,
                backwardDataRunsInPlace(outputs, inputs)
            else { continue }
            let target = representative[gradientIndex[holder(c)]], joining = gradientIndex[holder(c - 1)]
            requests[target].first = min(requests[target].first, requests[joining].first)
            requests[target].last = max(requests[target].last, requests[joining].last)
            if requests[joining].view.byteCount > requests[target].view.byteCount {
                requests[target].view.shape = requests[joining].view.shape
            }
            for index in requests.indices where representative[index] == joining { representative[index] = target }
        }
        let placedRequests = requests.indices.filter { representative[$0] == $0 }

        // Each tensor in turn at the lowest aligned offset clear of every placed tensor whose
        // lifetime overlaps its own; of a few orders (largest first, longest-lived first, first
        // born first) the one that needs the fewest bytes.
        let size = { (index: Int) in requests[index].view.byteCount }
        let span = { (index: Int) in requests[index].last - requests[index].first }
        let orders = [
            placedRequests.sorted { size($0) > size($1) },
            placedRequests.sorted { (span($0), size($0)) > (span($1), size($1)) },
            placedRequests.sorted { (requests[$0].first, -size($0)) < (requests[$1].first, -size($1)) },
        ]
        var offsets: [Int] = []
        bytes = Int.max
        for order in orders {
            var placed: [(offset: Int, end: Int, first: Int, last: Int)] = []
            var candidate = [Int](repeating: 0, count: requests.count)
            var end = 0
            for index in order {
                let request = requests[index]
                let conflicts = placed.filter { $0.first <= request.last && request.first <= $0.last }
                    .sorted { $0.offset < $1.offset }
                var offset = 0
                for other in conflicts where offset + size(index) > other.offset {
                    offset = max(offset, (other.end + alignment - 1) / alignment * alignment)
                }
                candidate[index] = offset
                placed.append((offset, offset + size(index), request.first, request.last))
                end = max(end, offset + size(index))
            }
            if end < bytes { (bytes, offsets) = (end, candidate) }
        }
        let view = { (index: Int) in
            TensorView(offset: offsets[index], shape: requests[index].view.shape, format: requests[index].view.format)
        }
        input = view(inputIndex)
        inputGradient = view(inputGradientIndex)
        outputs = layers.indices.map { view(outputIndex[holder($0)]) }
        gradients = layers.indices.map { view(gradientIndex[holder($0)]) }
        let groups = Array(Set(layers.indices.map { representative[gradientIndex[holder($0)]] })).sorted()
        let groupOf = Dictionary(uniqueKeysWithValues: groups.enumerated().map { ($1, $0) })
        gradientGroups = groups.map(view)
        gradientGroup = layers.indices.map { groupOf[representative[gradientIndex[holder($0)]]] ?? 0 }
        for i in layers.indices { gradients[i].offset = gradientGroups[gradientGroup[i]].offset }
        bytes = (bytes + 3) / 4 * 4  // a whole number of floats, as buffers are made
    }
}
