//! Docker's `since`/`until` timestamps, one grammar for every endpoint.
//!
//! dockerd has two entry points, and so do we, built one on the other as in
//! moby's `api/types/time`:
//! - [`parse_timestamp`] (`ParseTimestamps`): what the API's `since`/`until`
//!   query parameters take (events, logs): `seconds[.nanoseconds]`. The CLI
//!   converts dates and durations to this form before sending them.
//! - [`until_filter`] (`GetTimestamp`, then `ParseTimestamps`): what an
//!   `until` *filter* takes (container, image and network prune): also RFC
//!   3339 with or without fraction and zone, `YYYY-MM-DD[THH[:MM]]`, and Go
//!   durations (`10m`, `1h30m`) meaning that long before now.
//!
//! Times without a zone are read in dockerd's local zone; the engine reads
//! them in UTC, the zone dockerd runs in on the machines we compare with.

use crate::errdefs::EngineError;

const NANOS: i64 = 1_000_000_000;

/// dockerd's `ParseTimestamps`: `seconds[.fraction]`, as nanoseconds since
/// the epoch; `""` is unset. Errors are Go's `strconv.ParseInt` messages,
/// which dockerd answers with 500.
pub fn parse_timestamp(raw: &str) -> Result<Option<i64>, EngineError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let (secs, frac) = match raw.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (raw, None),
    };
    let s = parse_int(secs)?;
    let nanos = match frac {
        None => 0,
        Some(f) => {
            let n = parse_int(f)?;
            // As Go: the fraction is scaled to nine digits, in floating point.
            (n as f64 * 10f64.powi(9 - f.len() as i32)) as i64
        }
    };
    Ok(Some(s.saturating_mul(NANOS).saturating_add(nanos)))
}

/// Go's `strconv.ParseInt(s, 10, 64)`, with its error messages.
fn parse_int(s: &str) -> Result<i64, EngineError> {
    super::go_parse::<i64>("ParseInt", s).map_err(EngineError::System)
}

/// An `until` filter value, as nanoseconds since the epoch (`now_ns` is
/// what a duration counts back from).
pub fn until_filter(value: &str, now_ns: i64) -> Result<i64, EngineError> {
    let ts = get_timestamp(value, now_ns)?;
    parse_timestamp(&ts)?.ok_or_else(|| bad_value(value))
}

/// Now, in nanoseconds since the epoch, for [`until_filter`].
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn bad_value(value: &str) -> EngineError {
    EngineError::System(format!(
        "failed to parse value as time or duration: {value:?}"
    ))
}

/// dockerd's `GetTimestamp`: turns a filter value into `seconds.nanoseconds`
/// (or returns a Unix timestamp as it is), for [`parse_timestamp`].
fn get_timestamp(value: &str, now_ns: i64) -> Result<String, EngineError> {
    if value != "0" {
        if let Some(d) = parse_go_duration(value) {
            let t = now_ns.saturating_sub(d);
            return Ok(t.div_euclid(NANOS).to_string());
        }
    }
    let zoned = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    let layout = if value.contains('.') {
        Layout::DateTime
    } else if value.contains('T') {
        let mut colons = value.matches(':').count();
        // The zone's own colon (`+01:00`) is not the time's.
        if zoned && !value.contains(['z', 'Z']) && colons > 0 {
            colons -= 1;
        }
        match colons {
            0 => Layout::Hour,
            1 => Layout::Minute,
            _ => Layout::DateTime,
        }
    } else {
        Layout::Date
    };
    match parse_layout(value, layout, zoned) {
        Some(ns) => Ok(format!(
            "{}.{:09}",
            ns.div_euclid(NANOS),
            ns.rem_euclid(NANOS)
        )),
        // With a dash it was meant as a date: Go's time error. Otherwise a
        // Unix timestamp goes through as it is, if it parses as one.
        None if value.contains('-') => Err(EngineError::System(format!(
            "parsing time {value:?} as {:?}: cannot parse {value:?}",
            layout.go(zoned)
        ))),
        None => match parse_timestamp(value) {
            Ok(Some(_)) => Ok(value.to_string()),
            _ => Err(bad_value(value)),
        },
    }
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    Date,
    Hour,
    Minute,
    DateTime,
}

impl Layout {
    /// chrono's format for the part before the zone.
    fn chrono(self) -> &'static str {
        match self {
            Layout::Date => "%Y-%m-%d",
            Layout::Hour => "%Y-%m-%dT%H",
            Layout::Minute => "%Y-%m-%dT%H:%M",
            Layout::DateTime => "%Y-%m-%dT%H:%M:%S%.f",
        }
    }

    /// Go's layout, for error messages.
    fn go(self, zoned: bool) -> String {
        let base = match self {
            Layout::Date => "2006-01-02",
            Layout::Hour => "2006-01-02T15",
            Layout::Minute => "2006-01-02T15:04",
            Layout::DateTime => "2006-01-02T15:04:05.999999999",
        };
        if zoned {
            format!("{base}Z07:00")
        } else {
            base.to_string()
        }
    }
}

/// Parses `value` in `layout`, followed by a zone (`Z` or `±hh:mm`) when
/// `zoned`; nanoseconds since the epoch.
fn parse_layout(value: &str, layout: Layout, zoned: bool) -> Option<i64> {
    let (local, offset_secs) = if zoned {
        split_zone(value)?
    } else {
        (value, 0)
    };
    let t = match layout {
        Layout::Date => chrono::NaiveDate::parse_from_str(local, layout.chrono())
            .ok()?
            .and_hms_opt(0, 0, 0)?,
        // chrono needs a minute to build a time: the hour layout gets ":00".
        Layout::Hour => {
            chrono::NaiveDateTime::parse_from_str(&format!("{local}:00"), "%Y-%m-%dT%H:%M").ok()?
        }
        _ => chrono::NaiveDateTime::parse_from_str(local, layout.chrono()).ok()?,
    };
    let utc = t.and_utc();
    let ns = utc
        .timestamp()
        .checked_sub(offset_secs)?
        .checked_mul(NANOS)?
        .checked_add(i64::from(utc.timestamp_subsec_nanos()))?;
    Some(ns)
}

/// Splits Go's `Z07:00`: a final `Z`, or `+hh:mm`/`-hh:mm`.
fn split_zone(value: &str) -> Option<(&str, i64)> {
    if let Some(v) = value.strip_suffix('Z') {
        return Some((v, 0));
    }
    let at = value.len().checked_sub(6)?;
    let (local, zone) = value.split_at_checked(at)?;
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = zone[1..].split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    Some((local, sign * (h * 3600 + m * 60)))
}

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]` then one or more
/// `number[.fraction]unit`, units ns, us (µs, μs), ms, s, m, h.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    go_duration(s).ok()
}

/// [`parse_go_duration`] with Go's error message when it fails (`time:
/// invalid duration "x"`, `time: missing unit in duration "1"`, `time:
/// unknown unit "-" in duration "2020-01-01"`), which dockerd passes on.
pub fn go_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..n];
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let num: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        total += num * unit;
        rest = &rest[u..];
    }
    let total = total as i64;
    Ok(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /events?since=V&until=V` on dockerd 20.10.24: the query
    /// parameters take `seconds[.nanoseconds]` only.
    #[test]
    fn query_timestamps_as_dockerd() {
        let ok = |v: &str| parse_timestamp(v).unwrap();
        let err = |v: &str| parse_timestamp(v).unwrap_err().to_string();
        assert_eq!(ok(""), None); // 200: unset
        assert_eq!(ok("5"), Some(5 * NANOS));
        assert_eq!(ok("1700000000.5"), Some(1_700_000_000 * NANOS + NANOS / 2)); // 200
        assert_eq!(ok("1.000000001"), Some(NANOS + 1));
        assert_eq!(ok("-1"), Some(-NANOS)); // 200
                                            // 200: more than nine digits are scaled down, as Go does.
        assert_eq!(ok("1.1234567890123456789"), Some(NANOS + 123_456_789));
        // dockerd: 500 {"message":"strconv.ParseInt: parsing \"abc\": invalid syntax"}
        assert_eq!(
            err("abc"),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        // dockerd: 500 ... parsing \"x\": invalid syntax
        assert_eq!(
            err("1.x"),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        // dockerd: 500 ... parsing \"2023-11-14T22:13:20Z\": invalid syntax
        assert_eq!(
            err("2023-11-14T22:13:20Z"),
            "strconv.ParseInt: parsing \"2023-11-14T22:13:20Z\": invalid syntax"
        );
        // dockerd: 500 ... parsing \"2023-11-14T22:13:20\": invalid syntax (the part before the dot)
        assert_eq!(
            err("2023-11-14T22:13:20.5Z"),
            "strconv.ParseInt: parsing \"2023-11-14T22:13:20\": invalid syntax"
        );
        // dockerd: 500 ... parsing \"10m\": invalid syntax
        assert_eq!(
            err("10m"),
            "strconv.ParseInt: parsing \"10m\": invalid syntax"
        );
        // dockerd: 500 ... parsing \"99999999999999999999\": value out of range
        assert_eq!(
            err("99999999999999999999"),
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
        );
    }

    /// `POST /containers/prune?filters={"until":["V"]}` (and images/prune)
    /// on dockerd 20.10.24.
    #[test]
    fn until_filters_as_dockerd() {
        let now = 1_700_000_000 * NANOS;
        let ok = |v: &str| until_filter(v, now).unwrap();
        let err = |v: &str| until_filter(v, now).unwrap_err().to_string();
        // All answered 200.
        assert_eq!(ok("1700000000"), 1_700_000_000 * NANOS);
        assert_eq!(ok("1700000000.5"), 1_700_000_000 * NANOS + NANOS / 2);
        assert_eq!(ok("2023-11-14T22:13:20Z"), 1_700_000_000 * NANOS);
        assert_eq!(
            ok("2023-11-14T22:13:20.5Z"),
            1_700_000_000 * NANOS + NANOS / 2
        );
        assert_eq!(ok("2023-11-14T22:13:20+01:00"), 1_699_996_400 * NANOS);
        assert_eq!(
            ok("2023-11-14T22:13:20.5+01:00"),
            1_699_996_400 * NANOS + NANOS / 2
        );
        assert_eq!(ok("2023-11-14T22:13:20"), 1_700_000_000 * NANOS);
        assert_eq!(
            ok("2023-11-14T22:13:20.123456789"),
            1_700_000_000 * NANOS + 123_456_789
        );
        assert_eq!(ok("2023-11-14T22:13"), 1_699_999_980 * NANOS);
        assert_eq!(ok("2023-11-14T22"), 1_699_999_200 * NANOS);
        assert_eq!(ok("2023-11-14"), 1_699_920_000 * NANOS);
        assert_eq!(ok("2023-11-14+01:00"), 1_699_916_400 * NANOS);
        assert_eq!(ok("10m"), now - 600 * NANOS);
        assert_eq!(ok("-10m"), now + 600 * NANOS);
        assert_eq!(ok("1h30m"), now - 5400 * NANOS);
        assert_eq!(ok("0"), 0); // "0" is a timestamp, not a duration
                                // dockerd: 500 {"message":"failed to parse value as time or duration: \"abc\""}
        for v in ["abc", "", "1e9", "1.5.5", "10x", "1700000000.abc"] {
            assert_eq!(
                err(v),
                format!("failed to parse value as time or duration: {v:?}"),
                "{v}"
            );
        }
        // dockerd: 500 with Go's time error ("parsing time \"2023-13-01\":
        // month out of range", "parsing time \"-5\" as \"2006-01-02\": ...").
        for v in ["2023-13-01", "-5", "2023-11-14T25:00:00Z"] {
            assert!(err(v).starts_with(&format!("parsing time {v:?}")), "{v}");
        }
    }
}
