import XCTest
@testable import Container

final class ArgsFileTests: XCTestCase {
    func testParsing() throws {
        XCTAssertEqual(try ArgsFile.parse(""), [])
        XCTAssertEqual(try ArgsFile.parse("-m\nModel.gguf\n"), ["-m", "Model.gguf"])
        XCTAssertEqual(try ArgsFile.parse("-c 2048 --temp\t0.7\r\n--server"), ["-c", "2048", "--temp", "0.7", "--server"])
        XCTAssertEqual(try ArgsFile.parse("# a comment\n-n 5 # trailing comment\n#-x\n"), ["-n", "5"])
        XCTAssertEqual(try ArgsFile.parse("a#b"), ["a#b"], "# inside an argument is not a comment")
        XCTAssertEqual(try ArgsFile.parse("-p 'it''s' 'a \"b\" c'"), ["-p", "its", "a \"b\" c"])
        XCTAssertEqual(try ArgsFile.parse(#"-p "say \"hi\"\n\\ \q""#), ["-p", "say \"hi\"\n\\ \\q"])
        XCTAssertEqual(try ArgsFile.parse(#"--prompt="a b" x"#), ["--prompt=a b", "x"])
        XCTAssertEqual(try ArgsFile.parse("'' \"\""), ["", ""], "empty quotes are empty arguments")
        XCTAssertEqual(try ArgsFile.parse(#"C:\models\x.gguf"#), [#"C:\models\x.gguf"#])
        XCTAssertEqual(try ArgsFile.parse("'multi\nline' # c"), ["multi\nline"])
        XCTAssertEqual(try ArgsFile.parse("-p 'héllo 🌍'"), ["-p", "héllo 🌍"])
        XCTAssertEqual(try ArgsFile.parse("...\n"), ["..."])
    }

    func testSyntaxErrors() {
        XCTAssertThrowsError(try ArgsFile.parse("-p 'open", source: "x.args")) { error in
            XCTAssertEqual(error as? ContainerError, .argsSyntax(source: "x.args", line: 1, reason: "unterminated single quote"))
        }
        XCTAssertThrowsError(try ArgsFile.parse("a\nb\n-p \"x\\\"", source: "x.args")) { error in
            XCTAssertEqual(error as? ContainerError, .argsSyntax(source: "x.args", line: 3, reason: "unterminated double quote"))
        }
        let invalid: [UInt8] = [0x2D, 0x70, 0x20, 0xFF, 0xFE]
        XCTAssertThrowsError(try invalid.withUnsafeBytes { try ArgsFile.parse(bytes: $0) }) { error in
            XCTAssertEqual(error as? ContainerError, .argsNotUTF8(source: ".args"))
        }
    }

    func testMerge() {
        XCTAssertEqual(ArgsFile.merge(defaults: ["-m", "a.gguf"], user: ["-p", "hi"]), ["-m", "a.gguf", "-p", "hi"])
        XCTAssertEqual(ArgsFile.merge(defaults: ["-m", "a.gguf", "...", "--temp", "0"], user: ["-p", "hi"]),
                       ["-m", "a.gguf", "-p", "hi", "--temp", "0"])
        XCTAssertEqual(ArgsFile.merge(defaults: ["...", "-x", "..."], user: ["u"]), ["u", "-x"])
        XCTAssertEqual(ArgsFile.merge(defaults: ["--server", "..."], user: []), ["--server"])
        XCTAssertEqual(ArgsFile.merge(defaults: [], user: ["a"]), ["a"])
    }
}
