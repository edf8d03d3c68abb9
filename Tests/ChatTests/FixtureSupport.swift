import Foundation
import XCTest
import Chat

/// Locates Tests/ChatTests/Fixtures from this file's path and loads Jinja2's expected outputs.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func text(_ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
            throw XCTSkip("missing fixture \(url.path); regenerate with Tests/ChatTests/Fixtures/make_expected.py")
        }
        return text
    }

    static func expected() throws -> TemplateDictionary {
        guard case let .dictionary(root) = try TemplateValue(parsingJSON: try text("expected.json")) else {
            throw ChatTemplateError.invalidJSON(message: "expected.json is not an object", offset: 0)
        }
        return root
    }

    static func now(_ root: TemplateDictionary) -> Date {
        if case let .int(seconds)? = root["now_unix"] { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
        return Date(timeIntervalSince1970: 0)
    }
}

extension TemplateValue {
    var dictionaryValue: TemplateDictionary? {
        if case let .dictionary(dictionary) = self { return dictionary }
        return nil
    }

    var stringValue: String? {
        if case let .string(text) = self { return text }
        return nil
    }

    var listValue: [TemplateValue]? {
        if case let .list(items) = self { return items }
        return nil
    }
}

/// Asserts byte equality and, on failure, shows the first differing offset.
func assertSameBytes(_ actual: String, _ expected: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    guard actual != expected else { return }
    let actualBytes = Array(actual.utf8)
    let expectedBytes = Array(expected.utf8)
    let offset = zip(actualBytes, expectedBytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actualBytes.count, expectedBytes.count)
    let context = { (bytes: [UInt8]) in String(decoding: bytes[max(0, offset - 40)..<min(bytes.count, offset + 40)], as: UTF8.self) }
    XCTFail("\(label): differs at byte \(offset)\n got: \(context(actualBytes).debugDescription)\nwant: \(context(expectedBytes).debugDescription)",
            file: file, line: line)
}
