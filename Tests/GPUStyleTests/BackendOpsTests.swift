import Foundation
@testable import GPUStyle
import XCTest

/// Every op of every OpenCL device against `NativeBackend`: every row of the library's `OpTable`
/// (the self-test's table too) on all its shapes, in the spirit of ggml's test-backend-ops.
/// The reference is `NativeBackend(convolution: .direct)`: its im2col convolutions are the direct
/// algorithm the bound below describes; where the device runs a convolution by Winograd, the conv
/// rows take that algorithm's bound (`winogradBound`, SelfTest/WinogradErrorBound.swift).
///
/// Error bound per output element: both backends compute in float32, each within γ(K)·Σ|terms|
/// of the exact value (Higham §3.1, `float32ErrorFactor`, any summation order, with or without
/// FMA), where K counts the products summed plus one rounding per extra step (bias, scaling,
/// accumulation). So |opencl − native| ≤ 2·γ(K)·Σ|terms|. Σ|terms| per output is, by default,
/// the same op run on native with every input and parameter replaced by its absolute value
/// (exact for the linear ops: conv, Gram, pooling averages, affine maps); rows whose terms do
/// not follow from |inputs| (squared losses, TV gradient, Adam) give their own. Ops without
/// rounding (ReLU, max pooling, copies, clampRound) get K = 0: bit-exact equality. An indexing
/// mistake or a missing term is off by orders of magnitude more than any of these bounds.
///
/// The grad rows run on both backends against finite differences of the Float64 reference
/// (`OpGradRow`'s bound: γ(K)·Σ|terms| plus the differences' own rounding).
final class BackendOpsTests: XCTestCase {
    /// With the options the device gets by default.
    func testEveryOpMatchesNative() throws {
        try checkTable(on: try OpenCLBackendTests.sharedBackend(), rows: OpTable.rows)
    }

    /// With a GPU's default options (smaller vectors and blocks, other reduction shapes) on the
    /// same device, so the GPU variants are proven on the CI machine too, and with odd blockings
    /// that are no device's default: every tile edge case then lands somewhere else (there every
    /// direct convolution runs conv3x3_narrow). The GPU's options again with `WGEMM_DB=1
    /// WGEMM_WIDE=64`. Then every convolution on conv3x3, and the defaults with Winograd
    /// F(4×4,3×3) (`WINO_TILE=4`). Only the rows whose kernels depend on those options (the rest
    /// differ in work-group size alone).
    func testEveryOpMatchesNativeWithOtherKernelOptions() throws {
        let device = try firstOpenCLDevice()
        var direct = ProgramOptions.defaults(for: device.info)
        direct.defines["CONV_WINOGRAD"] = 0
        direct.defines["CONV_NARROW"] = 0
        // The GPU's options with the Winograd multiply and the Gram the other way (local-memory
        // tiles or register blocks).
        var gpuOtherMultiply = ProgramOptions.preset(.gpu, for: device.info)
        gpuOtherMultiply.defines["WINO_GEMM"] = gpuOtherMultiply.winogradTiledMultiply ? 0 : 1
        gpuOtherMultiply.defines["GRAM_GEMM"] = gpuOtherMultiply.gramTiledProduct ? 0 : 1
        gpuOtherMultiply.defines["GB_GEMM"] = gpuOtherMultiply.gramBackwardTiledProduct ? 0 : 1
        // The GPU's options with the tiled products' next channels staged in a second buffer, and
        // the multiply's wide variant from 64 output channels.
        var gpuVariants = ProgramOptions.preset(.gpu, for: device.info)
        gpuVariants.defines["WGEMM_DB"] = 1
        gpuVariants.defines["WGEMM_WIDE"] = 64
        // The device's options with Winograd F(4×4,3×3) where they run Winograd.
        var winograd4 = ProgramOptions.defaults(for: device.info)
        winograd4.defines["WINO_TILE"] = 4
        for options in [
            ProgramOptions.preset(.gpu, for: device.info), gpuOtherMultiply, gpuVariants,
            OpenCLBackendTests.oddOptions, direct, winograd4,
        ] {
            try checkTable(on: try OpenCLBackend(device: device, options: options), rows: OpTable.rows.filter(\.tiled))
        }
    }

    /// Every convolution forced onto Winograd F(2×2), F(4×4) and F(6×6) (`CONV_WINOGRAD=2`, even
    /// with 1 or 3 channels) on OpenCL and natively, against the direct
    /// native path and central differences: within the Winograd bound of each case (the conv rows'
    /// `winogradBound`). With the direct bound alone, the 3-channel forward shapes failed at F(4×4)
    /// and F(6×6) (4.5–7.7·10⁻⁶ against 3.34·10⁻⁶).
    func testEveryConvolutionOnWinogradIsWithinItsBound() throws {
        let device = try firstOpenCLDevice()
        var backends: [Backend] = [
            NativeBackend(convolution: .winograd), NativeBackend(convolution: .winograd4),
            NativeBackend(convolution: .winograd6),
        ]
        for tile in [2, 4, 6] {
            var options = ProgramOptions.defaults(for: device.info)
            options.defines["CONV_WINOGRAD"] = 2
            options.defines["WINO_TILE"] = tile
            let backend = try OpenCLBackend(device: device, options: options)
            XCTAssertEqual(backend.winogradTile(outputChannels: 64, inputChannels: 3, height: 7, width: 13), tile)
            backends.append(backend)
        }
        let reference = NativeBackend(convolution: .direct)
        let rows = OpTable.convolutionRows + [OpTable.halfStorageRows[0]]
        for backend in backends {
            for check in OpTable.checks(allCases: true, seed: 0xC0FFEE, rows: rows)
                + OpTable.gradChecks(allCases: true, seed: 0x6EAD, rows: OpTable.convolutionGradRows)
            {
                let result = check.evaluate(on: backend, reference: reference)
                XCTAssertTrue(result.passed, "\(result.line) on \(backend.name)")
            }
        }
    }

    /// A convolution's bound follows the algorithm each backend runs it by.
    func testWinogradTileIsTheBackendsChoice() throws {
        XCTAssertNil(
            NativeBackend(convolution: .direct).winogradTile(outputChannels: 64, inputChannels: 64, height: 9, width: 9)
        )
        XCTAssertEqual(
            NativeBackend(convolution: .winograd4).winogradTile(
                outputChannels: 3, inputChannels: 64, height: 1, width: 1), 4)
        let automatic = NativeBackend()
        XCTAssertNil(
            automatic.winogradTile(outputChannels: 64, inputChannels: 3, height: 224, width: 224), "conv1_1: im2col")
        XCTAssertEqual(automatic.winogradTile(outputChannels: 64, inputChannels: 64, height: 4, width: 4), 2)
        XCTAssertEqual(automatic.winogradTile(outputChannels: 64, inputChannels: 64, height: 112, width: 112), 4)
        XCTAssertEqual(automatic.winogradTile(outputChannels: 64, inputChannels: 64, height: 224, width: 224), 6)
        let device = try firstOpenCLDevice()
        var options = ProgramOptions.defaults(for: device.info)
        options.defines["CONV_WINOGRAD"] = 0
        XCTAssertNil(
            try OpenCLBackend(device: device, options: options)
                .winogradTile(outputChannels: 64, inputChannels: 64, height: 64, width: 64))
    }

    /// Every backward op on native and OpenCL against central differences, on all the grad rows' shapes.
    func testEveryGradientMatchesFiniteDifferences() throws {
        let reference = NativeBackend(convolution: .direct)
        for backend in [NativeBackend(), try OpenCLBackendTests.sharedBackend()] as [Backend] {
            for check in OpTable.gradChecks(allCases: true, seed: 0x6EAD) {
                let result = check.evaluate(on: backend, reference: reference)
                XCTAssertTrue(result.passed, "\(result.line) on \(backend.name)")
            }
        }
    }

    /// Every check of `rows` on all their shapes: the device against the direct-convolution
    /// native path, each output within 2·γ(K)·Σ|terms|, reductions twice to the same bits.
    private func checkTable(on openCL: OpenCLBackend, rows: [OpRow]) throws {
        let native = NativeBackend(convolution: .direct)
        for check in OpTable.checks(allCases: true, seed: 0xC0FFEE, rows: rows) {
            let result = check.evaluate(on: openCL, reference: native)
            XCTAssertTrue(result.passed, "\(result.line) with \(openCL.options.buildString)")
        }
    }
}
