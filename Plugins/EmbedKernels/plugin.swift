import Foundation
import PackagePlugin

/// Embeds the package-root Kernels.cl into the Kernels target as a Swift string, so the
/// binary never reads kernel source at run time and Kernels.cl stays the only copy.
@main
struct EmbedKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let source = context.package.directoryURL.appending(path: "Kernels.cl")
        let output = context.pluginWorkDirectoryURL.appending(path: "KernelSource.swift")
        return [
            .buildCommand(
                displayName: "Embedding Kernels.cl",
                executable: try context.tool(named: "EmbedText").url,
                arguments: [source.path, output.path, "kernelSource"],
                inputFiles: [source],
                outputFiles: [output]
            )
        ]
    }
}
