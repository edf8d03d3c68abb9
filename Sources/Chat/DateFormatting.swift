import Foundation

private let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
private let weekdayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

/// C strftime for the specifiers chat templates use (`%d %b %Y`, `%B`, `%H:%M` …), in the local time zone.
/// Unknown specifiers are copied through unchanged.
func formatDate(_ date: Date, _ format: String, timeZone: TimeZone = .current) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
    let year = parts.year ?? 1970
    let month = parts.month ?? 1
    let day = parts.day ?? 1
    let hour = parts.hour ?? 0
    let weekday = (parts.weekday ?? 1) - 1
    let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
    func padded(_ number: Int, _ width: Int = 2) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
    var result = ""
    var iterator = format.makeIterator()
    while let character = iterator.next() {
        guard character == "%" else { result.append(character); continue }
        guard let specifier = iterator.next() else { result.append("%"); break }
        switch specifier {
        case "d": result += padded(day)
        case "e": result += (day < 10 ? " " : "") + String(day)
        case "m": result += padded(month)
        case "Y": result += String(year)
        case "y": result += padded(year % 100)
        case "b", "h": result += String(monthNames[month - 1].prefix(3))
        case "B": result += monthNames[month - 1]
        case "a": result += String(weekdayNames[weekday].prefix(3))
        case "A": result += weekdayNames[weekday]
        case "H": result += padded(hour)
        case "I": result += padded(hour % 12 == 0 ? 12 : hour % 12)
        case "p": result += hour < 12 ? "AM" : "PM"
        case "M": result += padded(parts.minute ?? 0)
        case "S": result += padded(parts.second ?? 0)
        case "j": result += padded(dayOfYear, 3)
        case "%": result += "%"
        default: result += "%" + String(specifier)
        }
    }
    return result
}
