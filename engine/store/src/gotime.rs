//! Go's time formats, as dockerd shows times: RFC3339Nano without trailing
//! zeros, and Go's zero time for a missing one.

pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
pub(crate) const GO_ZERO_UNIX: i64 = -62135596800;

/// An RFC3339 time as unix seconds; Go's zero time if it does not parse
/// (as dockerd shows a missing `created`).
pub fn parse_time_unix(s: &str) -> i64 {
    parse_time(s).map(|t| t.timestamp()).unwrap_or(GO_ZERO_UNIX)
}

pub(crate) fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// Go's `time.RFC3339Nano` formatting: fraction without trailing zeros, `Z` for UTC.
pub(crate) fn format_go_time(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    use chrono::Timelike;
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let off = t.offset().local_minus_utc();
    if off == 0 {
        s.push('Z');
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60));
    }
    s
}

pub(crate) fn now_go_time() -> String {
    format_go_time(&chrono::Utc::now().fixed_offset())
}
