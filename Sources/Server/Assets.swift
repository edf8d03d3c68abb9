/// A file the server serves from inside the binary.
public struct StaticAsset: Sendable {
    public let contentType: String
    public let body: String
}

/// The web UI's files, looked up by exact path only, so no request path can reach the file system
/// (`/../`, `%2e%2e` and friends simply are not keys). The web UI issue fills this table.
public enum Assets {
    public static let table: [String: StaticAsset] = [
        "/": StaticAsset(contentType: "text/html; charset=utf-8", body: placeholderPage),
        "/index.html": StaticAsset(contentType: "text/html; charset=utf-8", body: placeholderPage),
    ]

    public static func asset(at path: String) -> StaticAsset? { table[path] }

    static let placeholderPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>swiftfile</title></head>
        <body><h1>swiftfile</h1><p>The model is served here. The web UI is not part of this build yet; use the
        OpenAI-compatible API at <code>/v1/chat/completions</code>.</p></body></html>

        """
}
