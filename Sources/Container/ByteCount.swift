/// Sizes as people type and read them: binary units (K = 1024).
public enum ByteCount {
    /// "50G", "2G", "10M", "1500K", "123" (bytes); also "2GiB", "2GB", "2g". nil when malformed or zero.
    public static func parse(_ text: String) -> UInt64? {
        guard text.utf8.count <= 64 else { return nil }
        let trimmed = text.trimmingWhitespace()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 20, let value = UInt64(digits) else { return nil }
        var unit = trimmed.dropFirst(digits.count).uppercased()
        for suffix in ["IB", "B"] where unit.count > 1 && unit.hasSuffix(suffix) {
            unit = String(unit.dropLast(suffix.count))
            break
        }
        let shifts: [String: UInt64] = ["": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50]
        guard let shift = shifts[unit] else { return nil }
        let (result, overflow) = value.multipliedReportingOverflow(by: UInt64(1) << shift)
        guard !overflow, result > 0 else { return nil }
        return result
    }

    /// "812 B", "1.5 KiB", "3.27 GiB".
    public static func format(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) \(units[unit])"
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
