/// A value passed into a template (messages, tools, extra variables).
/// Dictionaries keep insertion order, as Python dicts do, because `tojson` output depends on it.
public enum TemplateValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([TemplateValue])
    case dictionary(TemplateDictionary)
}

/// An insertion-ordered dictionary with string keys.
public struct TemplateDictionary: Sendable, Equatable {
    var map: OrderedMap<TemplateValue>

    public init() { map = OrderedMap() }

    public init(_ pairs: [(String, TemplateValue)]) {
        map = OrderedMap()
        for (key, value) in pairs { map[key] = value }
    }

    public var keys: [String] { map.keys }
    public var count: Int { map.keys.count }

    public subscript(key: String) -> TemplateValue? {
        get { map[key] }
        set { map[key] = newValue }
    }
}

extension TemplateDictionary: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self.init(elements)
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .dictionary(TemplateDictionary(elements)) }
    public init(nilLiteral: ()) { self = .none }
}

/// Keys in insertion order plus a hash index; replacing a key keeps its place.
struct OrderedMap<Element: Sendable & Equatable>: Sendable, Equatable {
    private(set) var keys: [String] = []
    private var storage: [String: Element] = [:]

    subscript(key: String) -> Element? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    var count: Int { keys.count }
    var values: [Element] { keys.compactMap { storage[$0] } }
    var pairs: [(String, Element)] { keys.compactMap { key in storage[key].map { (key, $0) } } }
}
