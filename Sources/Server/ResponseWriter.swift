/// Where a response goes: the NIO channel in the server, a recorder in tests. Calls for one response come in
/// order from one thread at a time.
public protocol ResponseWriter: Sendable {
    func writeHead(status: Int, headers: [(String, String)])
    func writeBody(_ text: String)
    /// Ends the response (the connection stays open for the next request unless the client asked otherwise).
    func end()
}

extension ResponseWriter {
    func respond(status: Int, json: JSONValue, headers: [(String, String)] = []) {
        respond(status: status, contentType: "application/json; charset=utf-8", body: json.serialized, headers: headers)
    }

    func respond(status: Int, contentType: String, body: String, headers: [(String, String)] = []) {
        writeHead(status: status, headers: [("Content-Type", contentType), ("Content-Length", String(body.utf8.count))] + headers)
        writeBody(body)
        end()
    }

    func respond(error: ServerError, headers: [(String, String)] = []) {
        var extra = headers
        if case .unavailable(_, let retry?) = error { extra.append(("Retry-After", String(retry))) }
        if case .unauthorized = error { extra.append(("WWW-Authenticate", "Bearer")) }
        respond(status: error.status, json: error.envelope, headers: extra)
    }
}

/// Server-sent events framing: one `data:` line of compact JSON and a blank line per event.
public enum ServerSentEvents {
    public static let headers: [(String, String)] = [
        ("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no"),
    ]
    public static func event(_ json: JSONValue) -> String { "data: " + json.serialized + "\n\n" }
    public static let done = "data: [DONE]\n\n"
}
