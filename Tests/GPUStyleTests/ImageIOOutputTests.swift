import Foundation
@testable import GPUStyle
import XCTest

/// Output paths are checked before work starts, and files appear whole or not at all.
final class ImageIOOutputTests: TemporaryFolderTestCase {
    private func assertRefused(
        _ output: String, inputs: [String], containing expected: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try checkOutputPath(output, inputs: inputs), file: file, line: line) {
            XCTAssertTrue(describe($0).contains(expected), describe($0), file: file, line: line)
        }
    }

    func testOutputThatIsAnInputIsRefusedHoweverItIsSpelled() throws {
        let input = folder + "/in.png"
        try ImageFile.write(smoothPattern(width: 4, height: 4), to: input)
        let link = folder + "/link.png", hard = folder + "/hard.png"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: input)
        try FileManager.default.linkItem(atPath: input, toPath: hard)
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: false)
        for output in [input, folder + "/./in.png", folder + "/sub/../in.png", link, hard] {
            assertRefused(output, inputs: ["style.jpg", input], containing: "would overwrite the input")
        }
        // The same name reached through a symlinked folder.
        let linkedFolder = folder + "/alias"
        try FileManager.default.createSymbolicLink(atPath: linkedFolder, withDestinationPath: folder)
        assertRefused(linkedFolder + "/in.png", inputs: [input], containing: "would overwrite the input")
        XCTAssertNoThrow(try checkOutputPath(folder + "/out.png", inputs: [input]))
        XCTAssertNoThrow(try checkOutputPath(folder + "/sub/in.png", inputs: [input]))
    }

    func testMissingFolderAndFolderOutputAreRefused() throws {
        assertRefused(folder + "/nowhere/out.png", inputs: [], containing: "does not exist")
        assertRefused(folder, inputs: [], containing: "is a folder")
    }

    func testUnwritableFolderIsRefused() throws {
        try XCTSkipIf(getuid() == 0, "root can write anywhere")
        let locked = folder + "/locked"
        try FileManager.default.createDirectory(
            atPath: locked, withIntermediateDirectories: false,
            attributes: [.posixPermissions: 0o555])
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked) }
        assertRefused(locked + "/out.png", inputs: [], containing: "is not writable")
    }

    func testWriteReplacesWholeFileAndLeavesNoTemporary() throws {
        let path = folder + "/out.png"
        try ImageFile.write(randomImage(width: 40, height: 40, seed: 6), to: path)
        let small = smoothPattern(width: 3, height: 2)
        try ImageFile.write(small, to: path)
        XCTAssertEqual(try ImageFile.read(path).image, small)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["out.png"])
    }

    func testFailedWritesLeaveNoFileBehind() throws {
        // The final rename fails: the destination is a folder with something in it.
        let blocked = folder + "/blocked.png"
        try FileManager.default.createDirectory(atPath: blocked, withIntermediateDirectories: false)
        _ = FileManager.default.createFile(atPath: blocked + "/keep", contents: Data([1]))
        XCTAssertThrowsError(try ImageFile.write(smoothPattern(width: 4, height: 4), to: blocked)) {
            XCTAssertTrue(describe($0).contains("could not move the finished file into place"), describe($0))
        }
        // The encoder fails after the temporary file exists: the old file is untouched.
        let existing = folder + "/existing.png"
        _ = FileManager.default.createFile(atPath: existing, contents: Data("old".utf8))
        XCTAssertThrowsError(
            try AtomicOutput.write(to: existing) { temporary in
                _ = FileManager.default.createFile(atPath: temporary, contents: Data("partial".utf8))
                throw StyleError("encoder failed")
            })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: existing)), Data("old".utf8))
        // A JPEG wider than the format allows fails inside the C writer.
        XCTAssertThrowsError(try ImageFile.write(RGBImage(width: 70_000, height: 1), to: folder + "/wide.jpg")) {
            XCTAssertTrue(describe($0).contains("65500"), describe($0))
        }
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["blocked.png", "existing.png"])
    }
}
