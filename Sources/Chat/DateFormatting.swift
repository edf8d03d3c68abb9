#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

private let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
private let weekdayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

/// C strftime for the specifiers chat templates use (`%d %b %Y`, `%B`, `%H:%M` …), in the local time zone.
/// Unknown specifiers are copied through unchanged.
func formatDate(_ date: Date, _ format: String) -> String {
    // The C library's local time (TZ, /etc/localtime): no ICU time-zone tables in the runner.
    var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
    var parts = tm()
    localtime_r(&seconds, &parts)
    let year = Int(parts.tm_year) + 1900
    let month = Int(parts.tm_mon) + 1
    let day = Int(parts.tm_mday)
    let hour = Int(parts.tm_hour)
    let weekday = Int(parts.tm_wday)
    let dayOfYear = Int(parts.tm_yday) + 1
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
        case "M": result += padded(Int(parts.tm_min))
        case "S": result += padded(Int(parts.tm_sec))
        case "j": result += padded(dayOfYear, 3)
        case "%": result += "%"
        default: result += "%" + String(specifier)
        }
    }
    return result
}
