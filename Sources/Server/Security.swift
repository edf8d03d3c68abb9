/// Who may talk to the server: API key, same-origin CORS (plus listed origins) and the DNS-rebinding guard.
public struct SecurityPolicy: Sendable {
    public let apiKey: [UInt8]?
    public let allowedOrigins: Set<String>
    /// True on a loopback bind without a key: a browser page on a foreign name that resolves to 127.0.0.1 (DNS
    /// rebinding) must not reach the API, so the Host header has to be a loopback name.
    public let requireLoopbackHost: Bool

    public init(apiKey: String?, allowedOrigins: [String], bindHost: String) {
        self.apiKey = apiKey.map { Array($0.utf8) }
        self.allowedOrigins = Set(allowedOrigins.map { Self.trimmedOrigin($0) })
        requireLoopbackHost = apiKey == nil && Self.isLoopbackName(bindHost)
    }

    /// The reason to refuse, or nil. `requiresKey` is false for /health and the UI's static files.
    public func refusal(host: String?, origin: String?, authorization: String?, apiKeyHeader: String?, requiresKey: Bool) -> ServerError? {
        if requireLoopbackHost, let host, !Self.isLoopbackName(Self.hostName(ofHostHeader: host)) {
            return .forbidden("Host \"\(String(host.prefix(100)))\" is not a loopback name; this server only answers to localhost (start it with --api-key to serve other names)")
        }
        if let origin, !isAllowed(origin: origin, host: host) {
            return .forbidden("cross-origin request from \(String(origin.prefix(100))) refused (allow it with --cors-origin)")
        }
        if requiresKey, let apiKey {
            var presented: String?
            if let authorization {
                let parts = authorization.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "bearer" { presented = String(parts[1]).trimmingSpaces }
            }
            if presented == nil { presented = apiKeyHeader?.trimmingSpaces }
            guard let presented, Self.constantTimeEqual(Array(presented.utf8), apiKey) else { return .unauthorized }
        }
        return nil
    }

    /// Same origin (scheme://Host) or listed with --cors-origin ("*" allows every origin).
    public func isAllowed(origin: String, host: String?) -> Bool {
        let origin = Self.trimmedOrigin(origin)
        if let host, origin == "http://\(host.lowercased())" || origin == "https://\(host.lowercased())" { return true }
        return allowedOrigins.contains(origin) || allowedOrigins.contains("*")
    }

    /// Headers that let a listed foreign origin read the response (none for same-origin requests).
    public func corsHeaders(origin: String?, host: String?) -> [(String, String)] {
        guard let origin else { return [] }
        let trimmed = Self.trimmedOrigin(origin)
        if let host, trimmed == "http://\(host.lowercased())" || trimmed == "https://\(host.lowercased())" { return [] }
        guard allowedOrigins.contains(trimmed) || allowedOrigins.contains("*") else { return [] }
        return [("Access-Control-Allow-Origin", allowedOrigins.contains("*") ? "*" : origin), ("Vary", "Origin")]
    }

    /// Compares every byte whatever the first difference, so timing does not reveal the key.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt64(a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= UInt64(x ^ y)
        }
        return difference == 0
    }

    public static func isLoopbackName(_ name: String) -> Bool {
        let n = name.lowercased()
        if n == "localhost" || n.hasSuffix(".localhost") || n == "::1" || n == "[::1]" { return true }
        let octets = n.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// "example.com:8080" → "example.com"; "[::1]:8080" → "[::1]".
    public static func hostName(ofHostHeader host: String) -> String {
        let h = host.trimmingSpaces
        if h.hasPrefix("[") {
            if let close = h.firstIndex(of: "]") { return String(h[...close]) }
            return h
        }
        if let colon = h.lastIndex(of: ":") { return String(h[..<colon]) }
        return h
    }

    static func trimmedOrigin(_ origin: String) -> String {
        var o = origin.trimmingSpaces.lowercased()
        while o.hasSuffix("/") { o.removeLast() }
        return o
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
