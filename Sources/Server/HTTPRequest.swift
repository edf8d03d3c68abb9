import Engine

/// One complete HTTP request as the routes see it (the transport has already bounded its size).
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query string, as sent (not percent-decoded: routes and assets match it exactly).
    public var path: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Set when the client disconnects; generation for this request then stops.
    public let cancellation: CancellationFlag

    public init(method: String, uri: String, headers: [(String, String)], body: [UInt8], cancellation: CancellationFlag = CancellationFlag()) {
        self.method = method
        let pathPart = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        path = pathPart
        self.headers = headers
        self.body = body
        self.cancellation = cancellation
    }

    /// The first header of that name (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }
}
