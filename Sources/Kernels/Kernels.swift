/// The text of the package-root Kernels.cl, embedded at build time (see Plugins/EmbedKernels).
/// `kernelSource` itself is generated; this file only documents it.
public enum KernelLibrary {
    public static var source: String { kernelSource }
}
