import Synchronization
@testable import Server

/// Collects what a route writes, for assertions.
final class RecordingWriter: ResponseWriter {
    struct Recorded: Sendable {
        var status: Int?
        var headers: [(String, String)] = []
        var body = ""
        var ended = false
    }
    private let state = Mutex(Recorded())

    func writeHead(status: Int, headers: [(String, String)]) { state.withLock { $0.status = status; $0.headers = headers } }
    func writeBody(_ text: String) { state.withLock { $0.body += text } }
    func end() { state.withLock { $0.ended = true } }

    var recorded: Recorded { state.withLock { $0 } }
    func header(_ name: String) -> String? { recorded.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var json: JSONValue? { try? JSONParser.parse(Array(recorded.body.utf8)) }
}
