import CLOpenCL
import Foundation

/// One OpenCL device with its context and a single in-order, profiling-enabled queue, and where
/// asked for and the device can be partitioned, one more queue on each half of its compute units.
/// Kernels.cl is built once per context, and again with extra defines for the kernels that read
/// or write 16-bit layer outputs when a run uses them; kernels are created once per build and reused.
public final class CLContext {
    public let device: CLDevice
    let context: cl_context
    let queue: cl_command_queue
    /// Queues on the two halves of the compute units (sub-devices), or none: work split between
    /// them stays on its half's cores from one kernel to the next (`forkHalves`, `joinHalves`).
    let halfQueues: [cl_command_queue]
    private let halfDevices: [cl_device_id?]
    private var kernels: [String: CLKernel] = [:]
    /// Each build of the source by its extra defines ("" the plain one).
    private var programs: [String: cl_program] = [:]
    private var source = ""
    private var options = ""
    /// Live buffer bytes and their peak, for the memory figures of bench and the planner.
    public private(set) var allocatedBytes = 0
    public private(set) var peakAllocatedBytes = 0
    /// When set, every enqueued kernel's event is kept for `profile()`.
    public var recordsProfile = false
    private var profileEvents: [(name: String, onHalf: Bool, event: cl_event)] = []

    /// With `halves`, a device of two or more compute units that can be partitioned by counts also
    /// gets `halfQueues`; one that cannot runs everything on its one queue.
    public init(device: CLDevice, halves: Bool = false) throws {
        self.device = device
        let halfDevices = halves ? Self.halves(of: device) : []
        var status: cl_int = CL_SUCCESS
        var deviceIDs = [device.id] + halfDevices
        guard let context = clCreateContext(nil, cl_uint(deviceIDs.count), &deviceIDs, nil, nil, &status),
            status == CL_SUCCESS
        else {
            halfDevices.forEach { clReleaseDevice($0) }
            throw CLError(call: "clCreateContext", code: status)
        }
        let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        var queues: [cl_command_queue] = []
        for id in deviceIDs {
            guard let queue = clCreateCommandQueue(context, id, properties, &status), status == CL_SUCCESS else {
                queues.forEach { clReleaseCommandQueue($0) }
                clReleaseContext(context)
                halfDevices.forEach { clReleaseDevice($0) }
                throw CLError(call: "clCreateCommandQueue", code: status)
            }
            queues.append(queue)
        }
        self.context = context
        self.queue = queues[0]
        self.halfQueues = Array(queues.dropFirst())
        self.halfDevices = halfDevices
    }

    /// Two sub-devices of ⌈n/2⌉ and ⌊n/2⌋ of the device's n compute units, or none where it has one
    /// or cannot be partitioned so.
    private static func halves(of device: CLDevice) -> [cl_device_id?] {
        var units: cl_uint = 0
        clGetDeviceInfo(device.id, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS), 4, &units, nil)
        guard units >= 2 else { return [] }
        var counts: [cl_device_partition_property] = [
            Int(CL_DEVICE_PARTITION_BY_COUNTS), Int(units + 1) / 2, Int(units) / 2,
            Int(CL_DEVICE_PARTITION_BY_COUNTS_LIST_END), 0,
        ]
        var halves: [cl_device_id?] = [nil, nil]
        var made: cl_uint = 0
        guard clCreateSubDevices(device.id, &counts, 2, &halves, &made) == CL_SUCCESS else { return [] }
        guard made == 2 else {
            halves.prefix(Int(made)).forEach { clReleaseDevice($0) }
            return []
        }
        return halves
    }

    deinit {
        halfQueues.forEach { clFinish($0) }
        clFinish(queue)
        for (_, _, event) in profileEvents { clReleaseEvent(event) }
        kernels.removeAll()
        for program in programs.values { clReleaseProgram(program) }
        halfQueues.forEach { clReleaseCommandQueue($0) }
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
        halfDevices.forEach { clReleaseDevice($0) }
    }

    // MARK: Programs and kernels

    /// Builds `source` with `options` for this device (once per context); the build log is
    /// part of the error when it fails. `kernel(_:defines:)` builds it again with more defines.
    public func buildProgram(source: String, options: String) throws {
        if programs[""] != nil { return }
        self.source = source
        self.options = options
        programs[""] = try build(options: options)
    }

    private func build(options: String) throws -> cl_program {
        var status: cl_int = CL_SUCCESS
        let built: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = strlen(text)
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let builtProgram = built, status == CL_SUCCESS else {
            throw CLError(call: "clCreateProgramWithSource", code: status)
        }
        let buildStatus = clBuildProgram(builtProgram, 0, nil, options, nil, nil)  // every device of the context
        if buildStatus != CL_SUCCESS {
            let log = buildLog(builtProgram)
            clReleaseProgram(builtProgram)
            throw CLError(
                call: "clBuildProgram (Kernels.cl on \(device.info.name), options \(options))",
                code: buildStatus, detail: log)
        }
        return builtProgram
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
        guard size > 1 else { return "" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil)
        return String(cString: bytes).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The kernel `name` of the program built with `defines` beside the options (built on first use).
    public func kernel(_ name: String, defines: String = "") throws -> CLKernel {
        let key = defines.isEmpty ? name : "\(name) \(defines)"
        if let kernel = kernels[key] { return kernel }
        guard programs[""] != nil else {
            throw CLError(call: "clCreateKernel(\(name)) before the program was built", code: CL_INVALID_PROGRAM)
        }
        let program = try programs[defines] ?? build(options: options + " " + defines)
        programs[defines] = program
        var status: cl_int = CL_SUCCESS
        guard let handle = clCreateKernel(program, name, &status), status == CL_SUCCESS else {
            throw CLError(call: "clCreateKernel(\(name))", code: status)
        }
        let kernel = try CLKernel(handle: handle, name: name, device: device.id)
        kernels[key] = kernel
        return kernel
    }

    // MARK: Buffers

    /// A new device buffer of `count` floats, zero-filled.
    public func makeBuffer(floats count: Int) throws -> CLBuffer {
        try makeBuffer(bytes: max(count, 1) * MemoryLayout<Float>.stride)
    }

    /// A new device buffer of `bytes` (a multiple of 4), zero-filled.
    public func makeBuffer(bytes: Int) throws -> CLBuffer {
        if UInt64(bytes) > device.info.maxAllocationBytes {
            throw StyleError(
                "a buffer of \(bytes >> 20) MiB exceeds \(device.info.name)'s largest allocation "
                    + "(\(device.info.maxAllocationBytes >> 20) MiB); use a smaller --image-size")
        }
        var status: cl_int = CL_SUCCESS
        guard let memory = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status),
            status == CL_SUCCESS
        else {
            throw CLError(call: "clCreateBuffer(\(bytes) bytes)", code: status)
        }
        let buffer = CLBuffer(memory: memory, byteCount: bytes, count: bytes / 4) { [weak self] bytes in
            self?.allocatedBytes -= bytes
        }
        allocatedBytes += bytes
        peakAllocatedBytes = max(peakAllocatedBytes, allocatedBytes)
        var zero: Float = 0
        try CLError.check(
            clEnqueueFillBuffer(queue, memory, &zero, MemoryLayout<Float>.size, 0, bytes, 0, nil, nil),
            "clEnqueueFillBuffer")
        return buffer
    }

    /// The alignment in bytes of a sub-buffer's origin (CL_DEVICE_MEM_BASE_ADDR_ALIGN).
    public private(set) lazy var subBufferAlignment: Int = {
        var bits: cl_uint = 0
        clGetDeviceInfo(device.id, cl_device_info(CL_DEVICE_MEM_BASE_ADDR_ALIGN), 4, &bits, nil)
        return max(Int(bits) / 8, 4)
    }()

    /// `bytes` of `parent` from `offset` (a multiple of `subBufferAlignment`) as a buffer of its
    /// own; it keeps the parent alive and allocates nothing.
    public func makeSubBuffer(of parent: CLBuffer, offset: Int, bytes: Int) throws -> CLBuffer {
        guard offset >= 0, bytes > 0, offset + bytes <= parent.byteCount, offset % subBufferAlignment == 0 else {
            throw StyleError(
                "internal error: a sub-buffer of \(bytes) bytes at \(offset) in a buffer of \(parent.byteCount)")
        }
        var region = cl_buffer_region(origin: offset, size: bytes)
        var status: cl_int = CL_SUCCESS
        guard
            let memory = clCreateSubBuffer(
                parent.memory, cl_mem_flags(CL_MEM_READ_WRITE),
                cl_buffer_create_type(CL_BUFFER_CREATE_TYPE_REGION), &region, &status),
            status == CL_SUCCESS
        else {
            throw CLError(call: "clCreateSubBuffer(\(bytes) bytes at \(offset))", code: status)
        }
        return CLBuffer(memory: memory, byteCount: bytes, count: bytes / 4, parent: parent)
    }

    /// Copies host values (floats, or 4-byte words of their bits) into the buffer, `offset` words
    /// in (blocking: the host array may go away after).
    public func write<Word: BitwiseCopyable>(_ values: [Word], to buffer: CLBuffer, offset: Int = 0) throws {
        precondition(MemoryLayout<Word>.stride == 4, "write takes 4-byte words")
        guard offset >= 0, offset + values.count <= buffer.count else {
            throw StyleError(
                "internal error: writing \(values.count) floats at \(offset) into a buffer of \(buffer.count)")
        }
        if values.isEmpty { return }
        try values.withUnsafeBytes { raw in
            try CLError.check(
                clEnqueueWriteBuffer(
                    queue, buffer.memory, cl_bool(CL_TRUE), offset * 4, raw.count,
                    raw.baseAddress, 0, nil, nil), "clEnqueueWriteBuffer")
        }
    }

    /// Reads `count` floats from the buffer (blocking; waits for the work before it).
    public func read(_ buffer: CLBuffer, count: Int? = nil) throws -> [Float] {
        let n = count ?? buffer.count
        guard n <= buffer.count else {
            throw StyleError("internal error: reading \(n) floats from a buffer of \(buffer.count)")
        }
        var values = [Float](repeating: 0, count: n)
        if n == 0 { return values }
        try values.withUnsafeMutableBytes { raw in
            try CLError.check(
                clEnqueueReadBuffer(
                    queue, buffer.memory, cl_bool(CL_TRUE), 0, raw.count,
                    raw.baseAddress, 0, nil, nil), "clEnqueueReadBuffer")
        }
        return values
    }

    /// Device-side copy of `count` floats.
    public func copy(_ source: CLBuffer, to destination: CLBuffer, count: Int) throws {
        try copy(source, to: destination, bytes: count * 4)
    }

    /// Device-side copy of the first `bytes`.
    public func copy(_ source: CLBuffer, to destination: CLBuffer, bytes: Int) throws {
        guard bytes <= source.byteCount, bytes <= destination.byteCount else {
            throw StyleError(
                "internal error: copying \(bytes) bytes between buffers of \(source.byteCount) and \(destination.byteCount)"
            )
        }
        if bytes == 0 { return }
        try CLError.check(
            clEnqueueCopyBuffer(queue, source.memory, destination.memory, 0, 0, bytes, 0, nil, nil),
            "clEnqueueCopyBuffer")
    }

    // MARK: Execution

    /// Sets the arguments and enqueues `kernel` over `global` work-items (rounded up to a
    /// multiple of `local` where given) on the main queue, or on `half`'s. Does not wait.
    public func enqueue(
        _ kernel: CLKernel, global: [Int], local: [Int]? = nil, half: Int? = nil, _ arguments: [KernelArgument]
    ) throws {
        let queue = half.map { halfQueues[$0] } ?? self.queue
        try kernel.setArguments(arguments)
        var globalSize = global
        if let local = local {
            guard local.count == global.count else {
                throw StyleError(
                    "internal error: kernel \(kernel.name) has \(global.count)-D global and \(local.count)-D local sizes"
                )
            }
            for d in 0..<global.count { globalSize[d] = (global[d] + local[d] - 1) / local[d] * local[d] }
        }
        if globalSize.contains(0) { return }
        var event: cl_event? = nil
        let status: cl_int = withUnsafeMutablePointer(to: &event) { eventPointer in
            let eventOut = recordsProfile ? eventPointer : nil
            return globalSize.withUnsafeBufferPointer { g in
                if let local = local {
                    return local.withUnsafeBufferPointer { l in
                        clEnqueueNDRangeKernel(
                            queue, kernel.handle, cl_uint(g.count), nil, g.baseAddress, l.baseAddress,
                            0, nil, eventOut)
                    }
                }
                return clEnqueueNDRangeKernel(
                    queue, kernel.handle, cl_uint(g.count), nil, g.baseAddress, nil, 0, nil,
                    eventOut)
            }
        }
        try CLError.check(status, "clEnqueueNDRangeKernel(\(kernel.name), global \(globalSize), local \(local ?? []))")
        if let event = event { profileEvents.append((kernel.name, half != nil, event)) }
    }

    /// Makes both half queues wait for the work enqueued on the main queue so far.
    func forkHalves() throws {
        let marker = try CLEvent(markerOn: queue)
        for halfQueue in halfQueues { try marker.barrier(on: halfQueue) }
    }

    /// Makes the main queue wait for the work enqueued on both half queues so far, and starts it.
    func joinHalves() throws {
        let markers = try halfQueues.map { try CLEvent(markerOn: $0) }
        try CLEvent.barrier(on: queue, after: markers)
        for halfQueue in halfQueues { try CLError.check(clFlush(halfQueue), "clFlush") }
    }

    /// An event that completes with the work enqueued on `half`'s queue so far.
    func marker(half: Int) throws -> CLEvent { try CLEvent(markerOn: halfQueues[half]) }

    /// Makes `half`'s queue wait for `event` before what is enqueued on it next.
    func wait(half: Int, for event: CLEvent) throws { try event.barrier(on: halfQueues[half]) }

    /// Blocks until the queue is empty.
    public func finish() throws {
        try CLError.check(clFinish(queue), "clFinish")
    }

    /// One kernel's recorded work: device seconds and launches.
    public struct KernelTime: Equatable, Sendable {
        public var seconds: Double = 0
        public var launches = 0

        public static func + (a: KernelTime, b: KernelTime) -> KernelTime {
            KernelTime(seconds: a.seconds + b.seconds, launches: a.launches + b.launches)
        }
    }

    /// Device time and launches per kernel name of the work recorded since the last call; clears the
    /// record. A kernel on a half queue counts half its time: the other half runs beside it.
    public func profile() throws -> [String: KernelTime] {
        try finish()
        var totals: [String: KernelTime] = [:]
        for (name, onHalf, event) in profileEvents {
            var start: cl_ulong = 0
            var end: cl_ulong = 0
            clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil)
            clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil)
            totals[name, default: KernelTime()].seconds += Double(end &- start) * (onHalf ? 0.5e-9 : 1e-9)
            totals[name, default: KernelTime()].launches += 1
            clReleaseEvent(event)
        }
        profileEvents.removeAll()
        return totals
    }
}

/// An event of a marker command: done when the work before it on its queue is.
final class CLEvent {
    let event: cl_event

    init(markerOn queue: cl_command_queue) throws {
        var event: cl_event?
        try CLError.check(clEnqueueMarkerWithWaitList(queue, 0, nil, &event), "clEnqueueMarkerWithWaitList")
        guard let event else { throw CLError(call: "clEnqueueMarkerWithWaitList", code: CL_OUT_OF_RESOURCES) }
        self.event = event
    }

    deinit { clReleaseEvent(event) }

    /// Makes `queue` wait for this event before its next command.
    func barrier(on queue: cl_command_queue) throws { try Self.barrier(on: queue, after: [self]) }

    /// Makes `queue` wait for `events` before its next command.
    static func barrier(on queue: cl_command_queue, after events: [CLEvent]) throws {
        var list: [cl_event?] = events.map(\.event)
        try CLError.check(
            clEnqueueBarrierWithWaitList(queue, cl_uint(list.count), &list, nil), "clEnqueueBarrierWithWaitList")
    }
}

/// A device buffer of floats; released when the last reference goes.
public final class CLBuffer: TensorStorage {
    let memory: cl_mem
    public let byteCount: Int
    /// Number of floats.
    public let count: Int
    private let onRelease: (Int) -> Void

    /// The buffer a sub-buffer views (kept alive while it is).
    private let parent: CLBuffer?

    init(memory: cl_mem, byteCount: Int, count: Int, onRelease: @escaping (Int) -> Void) {
        self.memory = memory
        self.byteCount = byteCount
        self.count = count
        self.onRelease = onRelease
        parent = nil
    }

    /// A sub-buffer: its bytes are its parent's, counted there.
    init(memory: cl_mem, byteCount: Int, count: Int, parent: CLBuffer) {
        self.memory = memory
        self.byteCount = byteCount
        self.count = count
        self.parent = parent
        onRelease = { _ in }
    }

    deinit {
        clReleaseMemObject(memory)
        onRelease(byteCount)
    }
}

/// One kernel argument. The enum fixes each argument's size, so a wrong-sized value cannot be passed.
public enum KernelArgument {
    case buffer(CLBuffer)
    case int(Int)
    case float(Float)
    /// Local memory of this many floats.
    case localFloats(Int)
}

/// A kernel object; knows its argument count so a call with the wrong number of arguments fails loudly.
public final class CLKernel {
    let handle: cl_kernel
    public let name: String
    public let argumentCount: Int
    /// CL_KERNEL_WORK_GROUP_SIZE for this device.
    public let maxWorkGroupSize: Int

    init(handle: cl_kernel, name: String, device: cl_device_id) throws {
        self.handle = handle
        self.name = name
        var count: cl_uint = 0
        try CLError.check(
            clGetKernelInfo(handle, cl_kernel_info(CL_KERNEL_NUM_ARGS), 4, &count, nil),
            "clGetKernelInfo(\(name))")
        argumentCount = Int(count)
        var groupSize = 0
        try CLError.check(
            clGetKernelWorkGroupInfo(
                handle, device, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                MemoryLayout<Int>.size, &groupSize, nil),
            "clGetKernelWorkGroupInfo(\(name))")
        maxWorkGroupSize = groupSize
    }

    deinit { clReleaseKernel(handle) }

    func setArguments(_ arguments: [KernelArgument]) throws {
        guard arguments.count == argumentCount else {
            throw StyleError(
                "internal error: kernel \(name) takes \(argumentCount) arguments, given \(arguments.count)")
        }
        for (index, argument) in arguments.enumerated() {
            let i = cl_uint(index)
            let status: cl_int
            switch argument {
            case .buffer(let buffer):
                var memory: cl_mem? = buffer.memory
                status = clSetKernelArg(handle, i, MemoryLayout<cl_mem>.size, &memory)
            case .int(let value):
                guard var value32 = Int32(exactly: value) else {
                    throw StyleError("internal error: argument \(index) of \(name) (\(value)) does not fit in 32 bits")
                }
                status = clSetKernelArg(handle, i, 4, &value32)
            case .float(var value):
                status = clSetKernelArg(handle, i, 4, &value)
            case .localFloats(let count):
                status = clSetKernelArg(handle, i, max(count, 1) * 4, nil)
            }
            try CLError.check(status, "clSetKernelArg(\(name), argument \(index))")
        }
    }
}
