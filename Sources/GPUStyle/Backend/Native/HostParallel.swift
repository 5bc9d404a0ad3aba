import Dispatch

/// Splits host loops over the cores with `DispatchQueue.concurrentPerform`, but only when the
/// work is large enough to pay for waking the threads.
enum HostParallel {
    /// Below this many elements of work a loop runs on the calling thread.
    static let minimumParallelWork = 1 << 15

    /// Calls `body(i)` for every i in 0..<iterations, in parallel when `totalWork` (elements
    /// touched in all) is large. Iterations must be independent.
    static func forEach(_ iterations: Int, totalWork: Int, _ body: (Int) -> Void) {
        if iterations > 1 && totalWork >= minimumParallelWork {
            DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
        } else {
            for i in 0..<iterations { body(i) }
        }
    }

    /// Iterations of `forEach(_:totalWork:scratch:_:)` that share one scratch allocation.
    static let scratchGroup = 8

    /// `forEach` with `scratch` floats of scratch for each call, one allocation per group of
    /// `scratchGroup` iterations (an allocation this large per iteration goes to malloc).
    static func forEach(
        _ iterations: Int, totalWork: Int, scratch: Int, _ body: (Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        let groups = (iterations + scratchGroup - 1) / scratchGroup
        forEach(groups, totalWork: totalWork) { group in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(scratch, 1)) { buffer in
                for i in (group * scratchGroup)..<min((group + 1) * scratchGroup, iterations) {
                    body(i, buffer.baseAddress!)
                }
            }
        }
    }

    /// Elements per chunk of `forEachChunk` and of the deterministic reductions. Fixed (not
    /// derived from the core count) so reductions sum in the same order on every machine.
    static let chunkSize = 1 << 14

    /// Calls `body(range)` over consecutive chunks of 0..<count.
    static func forEachChunk(_ count: Int, _ body: (Range<Int>) -> Void) {
        forEach(chunkCount(count), totalWork: count) { chunk in body(chunkRange(chunk, count)) }
    }

    /// Σ of the Double partial sums `term(range)` over the chunks of 0..<count, combined in
    /// chunk order: the same bits on every run and every core count.
    static func deterministicSum(_ count: Int, _ term: (Range<Int>) -> Double) -> Double {
        deterministicSum(chunks: chunkCount(count), totalWork: count) { chunk in term(chunkRange(chunk, count)) }
    }

    /// Σ of `rowTerm(row)` over 0..<rows, rows grouped into chunks of about `chunkSize` elements
    /// that depend only on the shape; deterministic like `deterministicSum`.
    static func deterministicRowSum(_ rows: Int, rowLength: Int, _ rowTerm: (Int) -> Double) -> Double {
        let rowsPerChunk = max(1, chunkSize / max(rowLength, 1))
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        return deterministicSum(chunks: chunks, totalWork: rows * rowLength) { chunk in
            var sum = 0.0
            for row in (chunk * rowsPerChunk)..<min((chunk + 1) * rowsPerChunk, rows) { sum += rowTerm(row) }
            return sum
        }
    }

    private static func deterministicSum(chunks: Int, totalWork: Int, _ chunkTerm: (Int) -> Double) -> Double {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: max(chunks, 1)) { partials in
            // Each chunk writes only its own slot.
            let slots = partials.baseAddress!
            forEach(chunks, totalWork: totalWork) { chunk in slots[chunk] = chunkTerm(chunk) }
            var total = 0.0
            for chunk in 0..<chunks { total += slots[chunk] }
            return total
        }
    }

    private static func chunkCount(_ count: Int) -> Int { (count + chunkSize - 1) / chunkSize }

    private static func chunkRange(_ chunk: Int, _ count: Int) -> Range<Int> {
        chunk * chunkSize..<min((chunk + 1) * chunkSize, count)
    }
}
