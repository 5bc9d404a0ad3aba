// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "stylize-gpu",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stylize-gpu", targets: ["stylize-gpu"]),
        .library(name: "GPUStyle", targets: ["GPUStyle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // The OpenCL 1.2 C API, linked through the ICD loader (libOpenCL).
        .systemLibrary(name: "CLOpenCL", path: "Sources/CLOpenCL"),
        // CBLAS from OpenBLAS for the native (host) path.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // libpng and libjpeg behind C wrappers that turn their longjmp/exit error
        // handling into return codes with a message.
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png")]),
        .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        // libtiff likewise (its error and warning handlers fill a message, never print), and
        // Little CMS for embedded colour profiles (its error handler likewise).
        .target(name: "CTIFF", path: "Sources/CTIFF", linkerSettings: [.linkedLibrary("tiff")]),
        .target(name: "CLCMS", path: "Sources/CLCMS", linkerSettings: [.linkedLibrary("lcms2")]),
        // Stores past the caches for the native backend's fresh output maps.
        .target(name: "CStream", path: "Sources/CStream", cSettings: [.unsafeFlags(["-O2"])]),
        // Turns the root Kernels.cl into a Swift string at build time.
        .executableTarget(name: "EmbedText", path: "Sources/EmbedText"),
        .plugin(
            name: "EmbedKernels", capability: .buildTool(), dependencies: ["EmbedText"],
            path: "Plugins/EmbedKernels"),
        .target(name: "Kernels", path: "Sources/Kernels", plugins: ["EmbedKernels"]),
        .target(
            name: "GPUStyle",
            dependencies: ["CLOpenCL", "CBLAS", "CPNG", "CJPEG", "CTIFF", "CLCMS", "CStream", "Kernels"],
            path: "Sources/GPUStyle",
            // Optimised in debug builds too: the tests run the native ops (the reference) thousands
            // of times, and unoptimised they dominate the suite's time.
            swiftSettings: [
                .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
                .unsafeFlags(["-O"], .when(configuration: .debug)),
            ]
        ),
        .executableTarget(
            name: "stylize-gpu",
            dependencies: ["GPUStyle", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/stylize-gpu"
        ),
        .testTarget(
            name: "GPUStyleTests", dependencies: ["GPUStyle", "Kernels"], path: "Tests/GPUStyleTests",
            resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
