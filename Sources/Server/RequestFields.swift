/// Typed reads of request fields, each failure a 400 that names the field and what was wrong.
struct RequestFields {
    let body: JSONValue
    let members: [(String, JSONValue)]

    init(_ body: JSONValue) throws(ServerError) {
        guard case .object(let members) = body else {
            throw .badRequest("the request body must be a JSON object, got \(body.kindName)")
        }
        self.body = body
        self.members = members
    }

    /// The value of the first of `names` present and not null.
    func value(_ names: [String]) -> (name: String, value: JSONValue)? {
        for name in names {
            if let v = body[name], !v.isNull { return (name, v) }
        }
        return nil
    }

    func integer(_ names: String..., in range: ClosedRange<Int>) throws(ServerError) -> Int? {
        guard let (name, v) = value(names) else { return nil }
        let number: Int
        switch v {
        case .integer(let i): number = i
        case .number(let d):
            guard d.isFinite, d == d.rounded(), d >= Double(Int.min), d <= Double(Int.max) else {
                throw .badRequest("'\(name)' must be an integer between \(range.lowerBound) and \(range.upperBound), got \(JSONValue.format(d))")
            }
            number = Int(d)
        default: throw .badRequest("'\(name)' must be an integer, got \(v.kindName)")
        }
        guard range.contains(number) else {
            throw .badRequest("'\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
        }
        return number
    }

    func number(_ names: String..., in range: ClosedRange<Double>) throws(ServerError) -> Double? {
        guard let (name, v) = value(names) else { return nil }
        let number: Double
        switch v {
        case .integer(let i): number = Double(i)
        case .number(let d): number = d
        default: throw .badRequest("'\(name)' must be a number, got \(v.kindName)")
        }
        guard number.isFinite, range.contains(number) else {
            throw .badRequest("'\(name)' must be between \(JSONValue.format(range.lowerBound)) and \(JSONValue.format(range.upperBound)), got \(JSONValue.format(number))")
        }
        return number
    }

    func bool(_ name: String) throws(ServerError) -> Bool? {
        guard let (_, v) = value([name]) else { return nil }
        guard case .bool(let b) = v else { throw .badRequest("'\(name)' must be true or false, got \(v.kindName)") }
        return b
    }

    func string(_ name: String) throws(ServerError) -> String? {
        guard let (_, v) = value([name]) else { return nil }
        guard case .string(let s) = v else { throw .badRequest("'\(name)' must be a string, got \(v.kindName)") }
        return s
    }
}
