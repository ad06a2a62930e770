/// The version cronq reports in `User-Agent` and `--version`.
public enum CronqVersion {
    public static let string = "0.1.0"
}
