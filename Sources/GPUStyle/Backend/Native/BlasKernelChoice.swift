import CBLAS
import Foundation

/// Corrects OpenBLAS's kernel choice on CPUs it does not recognise.
///
/// A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU model number, and falls back to its SSE3
/// kernels ("Prescott") on CPUs it does not know, such as virtualised AVX-512 Xeons: several times
/// slower (benchmarks/README.md, "Measurements moved out of comments"). The native backend is
/// every comparison's CPU baseline, so it asks for the kernels the CPU supports when the
/// detected ones use less.
/// `OPENBLAS_CORETYPE` set by the user always wins.
enum BlasKernelChoice {
    /// OpenBLAS kernel sets that use AVX-512 (their `openblas_get_corename` spelling, lower-cased).
    static let avx512Cores: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]
    /// Kernel sets with neither AVX2 nor FMA that OpenBLAS falls back to for unknown Intel CPUs.
    static let preAVX2Cores: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
        "sandybridge", "katmai", "coppermine", "northwood", "banias",
    ]

    /// The kernel set to force, or nil to keep OpenBLAS's choice. `vectorLevel` as
    /// `stylize_cpu_vector_level`: 2 = AVX-512F, 1 = AVX2 + FMA, 0 = neither.
    static func correction(detected: String, vectorLevel: Int, userChoice: String?) -> String? {
        guard userChoice == nil else { return nil }
        let core = detected.lowercased()
        if vectorLevel >= 2 && !avx512Cores.contains(core) && (preAVX2Cores.contains(core) || core == "haswell") {
            return "SkylakeX"
        }
        if vectorLevel == 1 && preAVX2Cores.contains(core) { return "Haswell" }
        return nil
    }

    /// The kernel set in use after the first call (process-wide, done once before any BLAS call
    /// of a native backend).
    static let applied: String? = {
        guard let name = stylize_openblas_corename() else { return nil }
        let detected = String(cString: name)
        let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        guard let core = correction(detected: detected, vectorLevel: Int(stylize_cpu_vector_level()), userChoice: user),
            stylize_openblas_force_core(core) == 1,
            let now = stylize_openblas_corename()
        else { return detected }
        return String(cString: now)
    }()

    /// How reports name the kernels: "OpenBLAS Cooperlake", "OpenBLAS Haswell (OPENBLAS_CORETYPE)"
    /// where the environment chose them (benchmarks must say so), or "BLAS" where it cannot tell.
    static func summary(core: String?, userChoice: String?) -> String {
        guard let core else { return "BLAS" }
        return "OpenBLAS \(core)" + (userChoice == nil ? "" : " (OPENBLAS_CORETYPE)")
    }
}
