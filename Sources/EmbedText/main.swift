import Foundation

// Usage: EmbedText INPUT OUTPUT.swift NAME
// Writes `public let NAME: String = <raw string literal of INPUT>`.
let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write("usage: EmbedText INPUT OUTPUT.swift NAME\n".data(using: .utf8)!)
    exit(2)
}
let (input, output, name) = (arguments[1], arguments[2], arguments[3])
guard let text = try? String(contentsOfFile: input, encoding: .utf8) else {
    FileHandle.standardError.write("EmbedText: cannot read \(input) as UTF-8\n".data(using: .utf8)!)
    exit(1)
}
// Pick a raw-string delimiter (#…#) long enough that the text cannot close the literal.
var hashes = "#"
while text.contains("\"\"\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
let swift = """
    // Generated from Kernels.cl at build time by the EmbedKernels plugin. Do not edit.
    public let \(name): String = \(hashes)\"\"\"
    \(text)
    \"\"\"\(hashes)

    """
do {
    try swift.write(toFile: output, atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write("EmbedText: cannot write \(output): \(error)\n".data(using: .utf8)!)
    exit(1)
}
