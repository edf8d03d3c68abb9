import XCTest
@testable import Server

/// Routes that answer without a model: loading state, security, unknown paths, static assets.
final class RouterTests: XCTestCase {
    func router(apiKey: String? = nil, host: String = "127.0.0.1") -> Router {
        var c = ServerConfiguration()
        c.apiKey = apiKey
        c.host = host
        return Router(configuration: c, state: ServiceState(), startTime: 0)
    }

    func send(_ router: Router, _ method: String, _ path: String, headers: [(String, String)] = [("Host", "localhost:8080")], body: String = "") -> RecordingWriter {
        let writer = RecordingWriter()
        router.handle(HTTPRequest(method: method, uri: path, headers: headers, body: Array(body.utf8)), writer: writer)
        return writer
    }

    func testHealthWhileLoading() {
        let w = send(router(), "GET", "/health")
        XCTAssertEqual(w.recorded.status, 503)
        XCTAssertEqual(w.json?["error"]?["type"], "unavailable_error")
        XCTAssertEqual(w.header("Retry-After"), "1")
    }

    func testModelRoutesWhileLoadingAre503() {
        XCTAssertEqual(send(router(), "POST", "/v1/chat/completions", body: "{}").recorded.status, 503)
        XCTAssertEqual(send(router(), "GET", "/v1/models").recorded.status, 503)
    }

    func testUnknownAndTraversalPathsAre404() {
        for path in ["/nope", "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/index.html/../../etc/passwd", "//etc/passwd", "/static/..%2f..%2fetc/passwd"] {
            let w = send(router(), "GET", path)
            XCTAssertEqual(w.recorded.status, 404, path)
            XCTAssertEqual(w.json?["error"]?["type"], "not_found_error", path)
        }
    }

    func testPlaceholderPageAndQueryString() {
        let w = send(router(), "GET", "/?x=1")
        XCTAssertEqual(w.recorded.status, 200)
        XCTAssertEqual(w.header("Content-Type"), "text/html; charset=utf-8")
        XCTAssertTrue(w.recorded.body.contains("swiftfile"))
    }

    func testWrongMethod() {
        XCTAssertEqual(send(router(), "GET", "/v1/chat/completions").recorded.status, 405)
        XCTAssertEqual(send(router(), "DELETE", "/health").recorded.status, 405)
    }

    func testApiKeyRequiredExceptHealthAndAssets() {
        let r = router(apiKey: "k")
        XCTAssertEqual(send(r, "GET", "/v1/models").recorded.status, 401)
        XCTAssertEqual(send(r, "GET", "/v1/models").json?["error"]?["type"], "authentication_error")
        XCTAssertEqual(send(r, "GET", "/v1/models", headers: [("Authorization", "Bearer k")]).recorded.status, 503)  // past auth; still loading
        XCTAssertEqual(send(r, "GET", "/health").recorded.status, 503)
        XCTAssertEqual(send(r, "GET", "/").recorded.status, 200)
    }

    func testForeignHostAndOrigin() {
        XCTAssertEqual(send(router(), "GET", "/health", headers: [("Host", "evil.example")]).recorded.status, 403)
        XCTAssertEqual(send(router(), "GET", "/health", headers: [("Host", "localhost:8080"), ("Origin", "http://evil.example")]).recorded.status, 403)
        let preflight = send(router(), "OPTIONS", "/v1/chat/completions", headers: [("Host", "localhost:8080"), ("Origin", "http://evil.example")])
        XCTAssertEqual(preflight.recorded.status, 403)
        XCTAssertNil(preflight.header("Access-Control-Allow-Origin"))
    }
}
