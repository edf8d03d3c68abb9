import XCTest
@testable import Server

final class SecurityTests: XCTestCase {
    func testConstantTimeEqual() {
        XCTAssertTrue(SecurityPolicy.constantTimeEqual(Array("secret".utf8), Array("secret".utf8)))
        XCTAssertFalse(SecurityPolicy.constantTimeEqual(Array("secret".utf8), Array("secreT".utf8)))
        XCTAssertFalse(SecurityPolicy.constantTimeEqual(Array("secret".utf8), Array("secret1".utf8)))
        XCTAssertFalse(SecurityPolicy.constantTimeEqual([], Array("s".utf8)))
    }

    func testLoopbackHostGuardWithoutKey() {
        let policy = SecurityPolicy(apiKey: nil, allowedOrigins: [], bindHost: "127.0.0.1")
        XCTAssertTrue(policy.requireLoopbackHost)
        for host in ["localhost:8080", "127.0.0.1:8080", "127.1.2.3", "[::1]:8080", "LOCALHOST", "app.localhost:80"] {
            XCTAssertNil(policy.refusal(host: host, origin: nil, authorization: nil, apiKeyHeader: nil, requiresKey: true), host)
        }
        for host in ["evil.example:8080", "127.0.0.1.evil.example", "192.168.1.2:8080", "localhost.evil.example"] {
            XCTAssertEqual(policy.refusal(host: host, origin: nil, authorization: nil, apiKeyHeader: nil, requiresKey: true)?.status, 403, host)
        }
    }

    func testNoHostGuardWithKeyOrPublicBind() {
        XCTAssertFalse(SecurityPolicy(apiKey: "k", allowedOrigins: [], bindHost: "127.0.0.1").requireLoopbackHost)
        XCTAssertFalse(SecurityPolicy(apiKey: nil, allowedOrigins: [], bindHost: "0.0.0.0").requireLoopbackHost)
    }

    func testOrigins() {
        let policy = SecurityPolicy(apiKey: nil, allowedOrigins: ["https://app.example/"], bindHost: "127.0.0.1")
        XCTAssertNil(policy.refusal(host: "localhost:8080", origin: "http://localhost:8080", authorization: nil, apiKeyHeader: nil, requiresKey: true))
        XCTAssertEqual(policy.refusal(host: "localhost:8080", origin: "http://evil.example", authorization: nil, apiKeyHeader: nil, requiresKey: true)?.status, 403)
        XCTAssertNil(policy.refusal(host: "localhost:8080", origin: "https://app.example", authorization: nil, apiKeyHeader: nil, requiresKey: true))
        XCTAssertEqual(policy.corsHeaders(origin: "https://app.example", host: "localhost:8080").first?.1, "https://app.example")
        XCTAssertTrue(policy.corsHeaders(origin: "http://localhost:8080", host: "localhost:8080").isEmpty)
        XCTAssertTrue(policy.corsHeaders(origin: "http://evil.example", host: "localhost:8080").isEmpty)
    }

    func testApiKey() {
        let policy = SecurityPolicy(apiKey: "sk-test", allowedOrigins: [], bindHost: "127.0.0.1")
        XCTAssertNil(policy.refusal(host: nil, origin: nil, authorization: "Bearer sk-test", apiKeyHeader: nil, requiresKey: true))
        XCTAssertNil(policy.refusal(host: nil, origin: nil, authorization: "bearer sk-test", apiKeyHeader: nil, requiresKey: true))
        XCTAssertNil(policy.refusal(host: nil, origin: nil, authorization: nil, apiKeyHeader: "sk-test", requiresKey: true))
        XCTAssertEqual(policy.refusal(host: nil, origin: nil, authorization: "Bearer wrong", apiKeyHeader: nil, requiresKey: true), .unauthorized)
        XCTAssertEqual(policy.refusal(host: nil, origin: nil, authorization: nil, apiKeyHeader: nil, requiresKey: true), .unauthorized)
        XCTAssertEqual(policy.refusal(host: nil, origin: nil, authorization: "Basic sk-test", apiKeyHeader: nil, requiresKey: true), .unauthorized)
        XCTAssertNil(policy.refusal(host: nil, origin: nil, authorization: nil, apiKeyHeader: nil, requiresKey: false))
    }

    func testHostNameParsing() {
        XCTAssertEqual(SecurityPolicy.hostName(ofHostHeader: "example.com:8080"), "example.com")
        XCTAssertEqual(SecurityPolicy.hostName(ofHostHeader: "[::1]:8080"), "[::1]")
        XCTAssertEqual(SecurityPolicy.hostName(ofHostHeader: "localhost"), "localhost")
    }
}
