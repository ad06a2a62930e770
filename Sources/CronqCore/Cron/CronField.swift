/// The fields of a cron expression, in order, with their ranges and names.
public enum CronField: Int, Sendable, CaseIterable {
    case second, minute, hour, dayOfMonth, month, dayOfWeek

    public var name: String {
        switch self {
        case .second: return "second"
        case .minute: return "minute"
        case .hour: return "hour"
        case .dayOfMonth: return "day-of-month"
        case .month: return "month"
        case .dayOfWeek: return "day-of-week"
        }
    }

    /// Smallest and largest value a token may name. Day-of-week allows 7 as a second Sunday.
    public var range: ClosedRange<Int> {
        switch self {
        case .second, .minute: return 0...59
        case .hour: return 0...23
        case .dayOfMonth: return 1...31
        case .month: return 1...12
        case .dayOfWeek: return 0...7
        }
    }

    /// Names accepted in place of numbers, upper-cased.
    var names: [String: Int] {
        switch self {
        case .month:
            return [
                "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10,
                "NOV": 11, "DEC": 12,
            ]
        case .dayOfWeek:
            return ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
        default:
            return [:]
        }
    }
}
