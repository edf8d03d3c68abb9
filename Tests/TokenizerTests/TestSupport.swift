import Foundation
import GGUF
import XCTest
@testable import Tokenizer

/// Locates fixtures and loads the shared vocabularies once (they take a moment to parse).
enum TestSupport {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var testdata: URL {
        if let path = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return packageRoot.appendingPathComponent("testdata")
    }

    static func vocabularyPath(_ name: String) -> String {
        testdata.appendingPathComponent("vocab/ggml-vocab-\(name).gguf").path
    }

    static let smolLMPath = packageRoot.appendingPathComponent(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    static let llamaBPE = load(vocabularyPath("llama-bpe"))
    static let llamaSPM = load(vocabularyPath("llama-spm"))
    static let smolLM = load(smolLMPath)

    private static func load(_ path: String) -> Result<Tokenizer, Error> {
        Result { try Tokenizer(gguf: GGUFFile.load(path: path)) }
    }

    static func tokenizer(_ result: Result<Tokenizer, Error>, file: StaticString = #filePath, line: UInt = #line) throws -> Tokenizer {
        switch result {
        case .success(let tokenizer): return tokenizer
        case .failure(let error):
            XCTFail("cannot load tokenizer (run `make models` to fetch testdata/vocab): \(error)", file: file, line: line)
            throw error
        }
    }

    /// The `.inp` strings and `.out` ids of a vocabulary's test vectors.
    static func vectors(_ name: String) throws -> [(text: String, ids: [Int])] {
        let base = vocabularyPath(name)
        let input = try String(contentsOfFile: base + ".inp", encoding: .utf8)
        let expected = try String(contentsOfFile: base + ".out", encoding: .utf8)
        let separator = "\n__ggml_vocab_test__\n"
        var texts: [String] = []
        var rest = Substring(input)
        while let range = rest.range(of: separator) {
            texts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        var lines = expected.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        guard lines.count == texts.count else {
            throw NSError(domain: "vectors", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name): \(texts.count) strings but \(lines.count) id lines"])
        }
        return zip(texts, lines).map { text, line in
            (text, line.split(separator: " ").compactMap { Int($0) })
        }
    }
}
