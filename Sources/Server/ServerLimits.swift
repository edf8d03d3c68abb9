/// Bounds on what one request may ask for; each violation is a 400 (413 for the body) naming the limit.
public struct ServerLimits: Sendable, Equatable {
    public var maximumBodyBytes = 8 << 20
    public var maximumJSONDepth = 64
    /// Largest accepted `max_tokens` / `n_predict`; generation also ends when the slot's context is full.
    public var maximumTokensToGenerate = 1 << 20
    public var maximumStopStrings = 16
    public var maximumStopStringBytes = 512
    public var maximumMessages = 1024
    /// Requests waiting for a slot before new ones get 503 with Retry-After.
    public var queueCapacity = 32
    /// Open connections at once; more are closed on accept.
    public var maximumConnections = 512
    /// Seconds a client may take to send one complete request (slow clients hold no slot meanwhile).
    public var requestReadTimeoutSeconds: Int64 = 30
    public init() {}
}
