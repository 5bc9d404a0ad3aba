import Foundation

/// Counts the bytes a `NativeBackend` has allocated for tensors and weights; storages
/// report their release from `deinit`, so the count stays right however tensors are dropped.
final class MemoryLedger: @unchecked Sendable {
    private let lock = NSLock()
    private var current = 0
    private var peak = 0

    func allocate(_ bytes: Int) {
        lock.lock()
        defer { lock.unlock() }
        current += bytes
        peak = max(peak, current)
    }

    func release(_ bytes: Int) {
        lock.lock()
        defer { lock.unlock() }
        current -= bytes
    }

    var allocatedBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    var peakAllocatedBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return peak
    }
}

/// Host memory of one native tensor: `count` zero-initialised floats, freed on deinit.
final class NativeStorage: TensorStorage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    private let ledger: MemoryLedger

    /// Throws when the host cannot give the memory (a process or container limit), where
    /// Swift's own allocation would end the process.
    init(count: Int, ledger: MemoryLedger) throws {
        self.count = count
        // Never a zero-byte allocation, so `pointer` is always valid; calloc zeroes it.
        guard let memory = calloc(max(count, 1), MemoryLayout<Float>.stride) else {
            throw hostAllocationError(bytes: count * MemoryLayout<Float>.stride, for: "a tensor")
        }
        pointer = memory.bindMemory(to: Float.self, capacity: max(count, 1))
        self.ledger = ledger
        ledger.allocate(byteCount)
    }

    var byteCount: Int { count * MemoryLayout<Float>.stride }

    var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    deinit {
        free(pointer)
        ledger.release(byteCount)
    }
}

/// A growable host buffer reused across calls (im2col columns, temporary results), so the
/// hot path does not allocate once it has seen the largest layer.
final class ScratchBuffer {
    private var pointer: UnsafeMutablePointer<Float>?
    private(set) var capacity = 0

    /// At least `count` floats; the contents are unspecified. Throws when the host refuses the
    /// memory, where Swift's own allocation would end the process.
    func floats(_ count: Int) throws -> UnsafeMutablePointer<Float> {
        if let pointer, count <= capacity { return pointer }
        let wanted = max(count, 1)
        // On 64-byte lines, so that the stores past the caches (CStream) find whole lines.
        var allocated: UnsafeMutableRawPointer?
        guard posix_memalign(&allocated, 64, wanted * MemoryLayout<Float>.stride) == 0, let memory = allocated else {
            throw hostAllocationError(bytes: wanted * MemoryLayout<Float>.stride, for: "scratch")
        }
        free(pointer)
        let floats = memory.bindMemory(to: Float.self, capacity: wanted)
        (pointer, capacity) = (floats, wanted)
        return floats
    }

    var byteCount: Int { capacity * MemoryLayout<Float>.stride }

    deinit {
        free(pointer)
    }
}

/// The error for host memory the system refused.
func hostAllocationError(bytes: Int, for use: String) -> StyleError {
    StyleError(
        "cannot allocate \(describeBytes(bytes)) of host memory for \(use) (a memory limit of the process "
            + "or its container?); use a smaller --image-size")
}
