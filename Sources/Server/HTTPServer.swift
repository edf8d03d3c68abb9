import Engine
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why the server could not start listening.
public enum ServerStartError: Error, CustomStringConvertible {
    case addressInUse(host: String, port: Int)
    case cannotListen(host: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case .addressInUse(let h, let p): return "cannot listen on \(h):\(p): the port is already in use (choose another with --port)"
        case .cannotListen(let h, let p, let r): return "cannot listen on \(h):\(p): \(r)"
        }
    }
}

/// The HTTP/1.1 listener: SwiftNIO event loops parse requests and write responses; generation runs on the
/// scheduler's own thread and writes back through the channel (thread-safe, ordered).
public final class HTTPServer: Sendable {
    public let channel: Channel
    public let group: MultiThreadedEventLoopGroup

    /// Binds and starts accepting. `threads`: event loops (tokenizing a large prompt happens there).
    public static func start(router: Router, threads: Int = 2) throws -> HTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let limits = router.configuration.limits
        let connections = ConnectionCounter()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.open(limit: limits.maximumConnections) else {
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.closed() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPConnectionHandler(router: router, limits: limits))
                }
            }
        let host = router.configuration.host, port = router.configuration.port
        do {
            let channel = try bootstrap.bind(host: host, port: port).wait()
            return HTTPServer(channel: channel, group: group)
        } catch {
            try? group.syncShutdownGracefully()
            if let io = error as? IOError, io.errnoCode == EADDRINUSE { throw ServerStartError.addressInUse(host: host, port: port) }
            throw ServerStartError.cannotListen(host: host, port: port, reason: "\(error)")
        }
    }

    private init(channel: Channel, group: MultiThreadedEventLoopGroup) {
        self.channel = channel
        self.group = group
    }

    /// The port actually bound (differs from the asked one for port 0).
    public var boundPort: Int { channel.localAddress?.port ?? 0 }

    /// Blocks until the listener closes.
    public func wait() throws { try channel.closeFuture.wait() }

    /// Stops listening; `wait` then returns.
    public func close() { channel.close(promise: nil) }

    /// Runs `body` once on each event loop's thread (where requests are handled) and returns the results.
    public func onEveryEventLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) throws -> [T] {
        try group.makeIterator().map { try $0.submit(body).wait() }
    }
}

/// Open connections, to refuse more than the limit.
final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)
    func open(limit: Int) -> Bool {
        let now = count.add(1, ordering: .relaxed).newValue
        if now > limit { count.subtract(1, ordering: .relaxed); return false }
        return true
    }
    func closed() { count.subtract(1, ordering: .relaxed) }
}

/// One connection: collects a bounded request, hands it to the router, cancels its generation on disconnect.
final class HTTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: Router
    let limits: ServerLimits
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// After a 413 the rest of that request is dropped and the connection closes.
    private var discarding = false
    private var cancellation: CancellationFlag?
    private var readTimer: Scheduled<Void>?

    init(router: Router, limits: ServerLimits) {
        self.router = router
        self.limits = limits
    }

    func channelActive(context: ChannelHandlerContext) {
        armReadTimer(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancellation?.cancel()
        readTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            guard !discarding else { return }
            head = requestHead
            body = []
            armReadTimer(context)
            if let length = requestHead.headers.first(name: "content-length").flatMap({ Int($0) }), length > limits.maximumBodyBytes {
                refuseTooLarge(context, version: requestHead.version)
                return
            }
            if requestHead.headers.first(name: "expect")?.lowercased() == "100-continue" {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: requestHead.version, status: .continue))), promise: nil)
            }
        case .body(let buffer):
            guard !discarding, let head else { return }
            guard body.count + buffer.readableBytes <= limits.maximumBodyBytes else {
                refuseTooLarge(context, version: head.version)
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            if discarding {
                // The 413 is out; the client has finished sending, so closing now cannot reset it mid-upload.
                context.close(promise: nil)
                return
            }
            guard let head else { return }
            readTimer?.cancel()
            readTimer = nil
            let flag = CancellationFlag()
            cancellation = flag
            let request = HTTPRequest(method: head.method.rawValue, uri: head.uri,
                                      headers: head.headers.map { ($0.name, $0.value) }, body: body, cancellation: flag)
            self.head = nil
            body = []
            let writer = ChannelResponseWriter(channel: context.channel, version: head.version, keepAlive: head.isKeepAlive)
            router.handle(request, writer: writer)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        cancellation?.cancel()
        context.close(promise: nil)
    }

    /// Answers 413 at once, then reads and drops the rest of the body (bounded by the read timer) before closing,
    /// so the client sees the answer instead of a connection reset.
    private func refuseTooLarge(_ context: ChannelHandlerContext, version: HTTPVersion) {
        discarding = true
        let writer = ChannelResponseWriter(channel: context.channel, version: version, keepAlive: false, closeAfterEnd: false)
        writer.respond(error: .payloadTooLarge(limit: limits.maximumBodyBytes))
    }

    /// A client gets a bounded time to send a whole request; a slow or silent one is disconnected.
    private func armReadTimer(_ context: ChannelHandlerContext) {
        readTimer?.cancel()
        let channel = context.channel
        readTimer = context.eventLoop.scheduleTask(in: .seconds(limits.requestReadTimeoutSeconds)) {
            channel.close(promise: nil)
        }
    }
}

/// Writes a response through the channel from any thread (NIO hops to the channel's event loop in order).
struct ChannelResponseWriter: ResponseWriter {
    let channel: Channel
    let version: HTTPVersion
    let keepAlive: Bool
    var closeAfterEnd: Bool

    init(channel: Channel, version: HTTPVersion, keepAlive: Bool, closeAfterEnd: Bool? = nil) {
        self.channel = channel
        self.version = version
        self.keepAlive = keepAlive
        self.closeAfterEnd = closeAfterEnd ?? !keepAlive
    }

    func writeHead(status: Int, headers: [(String, String)]) {
        var fields = HTTPHeaders(headers)
        fields.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: fields)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
    }

    func writeBody(_ text: String) {
        let buffer = channel.allocator.buffer(string: text)
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
    }

    func end() {
        let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        if closeAfterEnd {
            let channel = self.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
