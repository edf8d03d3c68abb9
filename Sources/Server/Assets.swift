/// A file the server serves from inside the binary.
public struct StaticAsset: Sendable {
    public let contentType: String
    public let body: String
}

/// The web UI's files, looked up by exact path only, so no request path can reach the file system
/// (`/../`, `%2e%2e` and friends simply are not keys). The web UI issue fills this table.
public enum Assets {
    public static let table: [String: StaticAsset] = [
        "/": StaticAsset(contentType: "text/html; charset=utf-8", body: WebUIPage.html),
        "/index.html": StaticAsset(contentType: "text/html; charset=utf-8", body: WebUIPage.html),
        "/favicon.svg": StaticAsset(contentType: "image/svg+xml", body: WebUIPage.favicon),
        "/favicon.ico": StaticAsset(contentType: "image/svg+xml", body: WebUIPage.favicon),
    ]

    public static func asset(at path: String) -> StaticAsset? { table[path] }
}
