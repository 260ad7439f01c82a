//! serde_json's errors in Go's `encoding/json` words. dockerd decodes every
//! JSON input (bodies, `filters=`, `buildargs=`, ...) with Go, and clients
//! and scripts match on its messages, so each decoding error the engine
//! shows goes through [`describe`] (or [`describe_data`] when the input is
//! already a `Value`). Below both `api` and `daemon`, like `filters`.
//!
//! Covered: syntax errors (`invalid character 'x' looking for beginning of
//! value`, `... after object key`, `... in literal true (expecting 'r')`,
//! ...), a value cut short (`unexpected EOF`) and type mismatches (`json:
//! cannot unmarshal string into Go value of type map[string]string`). Go
//! names its struct fields there (`Go struct field HostConfig.Memory`);
//! serde does not know the path, so the engine says `Go value`. Rarer
//! errors (a number out of range, a bad unicode escape) keep serde's text.

use serde::de::DeserializeOwned;
use serde_json::error::Category;
use serde_json::Value;

/// A JSON-valued query parameter (`filters`, `buildargs`, `labels`,
/// `cachefrom`, ...), the one way they are all read: absent, empty or
/// `null` is `T::default()` (Go clients send `null` for an empty map, and
/// Go decodes it into a nil one); anything malformed is Go's message.
pub fn from_param<T: DeserializeOwned + Default>(raw: Option<&str>) -> Result<T, String> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(T::default());
    };
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Null) => Ok(T::default()),
        Ok(v) => serde_json::from_value(v).map_err(|e| describe_data(&e)),
        Err(e) => Err(describe(&e, raw.as_bytes())),
    }
}

/// Go's message for an error from decoding `input`.
pub fn describe(e: &serde_json::Error, input: &[u8]) -> String {
    match e.classify() {
        Category::Eof => "unexpected EOF".into(),
        Category::Syntax => syntax(e, input).unwrap_or_else(|| e.to_string()),
        Category::Data => describe_data(e),
        Category::Io => e.to_string(),
    }
}

/// Go's message for a type mismatch (serde's `invalid type: ...` or
/// `invalid value: ...`), for errors from `serde_json::from_value` too.
pub fn describe_data(e: &serde_json::Error) -> String {
    let text = without_position(e);
    type_mismatch(&text).unwrap_or(text)
}

/// How Go's encoding/json names a JSON value's kind in its errors.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// serde's message without its ` at line L column C` suffix.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// The byte serde stopped at (its line is 1-based, its column the 1-based
/// byte within the line).
fn offset(e: &serde_json::Error, input: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..e.line() {
        line_start += input[line_start..].iter().position(|&b| b == b'\n')? + 1;
    }
    let at = line_start + e.column().checked_sub(1)?;
    (at < input.len()).then_some(at)
}

fn syntax(e: &serde_json::Error, input: &[u8]) -> Option<String> {
    let text = without_position(e);
    let at = offset(e, input)?;
    let c = input[at];
    let context = match text.as_str() {
        "expected value" => "looking for beginning of value".to_string(),
        "key must be a string" => "looking for beginning of object key string".into(),
        "expected `:`" => "after object key".into(),
        "expected `,` or `}`" => "after object key:value pair".into(),
        "expected `,` or `]`" => "after array element".into(),
        "trailing comma" if c == b'}' => "looking for beginning of object key string".into(),
        "trailing comma" => "looking for beginning of value".into(),
        "invalid escape" => "in string escape code".into(),
        t if t.starts_with("control character") => "in string literal".into(),
        "expected ident" => literal(input, at)?,
        "invalid number" => match at.checked_sub(1).map(|i| input[i]) {
            Some(b'.') => "after decimal point in numeric literal".into(),
            Some(b'e' | b'E') => "in exponent of numeric literal".into(),
            Some(b'+' | b'-') if at >= 2 && matches!(input[at - 2], b'e' | b'E') => {
                "in exponent of numeric literal".into()
            }
            _ => "in numeric literal".into(),
        },
        _ => return None,
    };
    Some(format!("invalid character {} {context}", quote_char(c)))
}

/// `in literal true (expecting 'r')`: which literal the bytes before `at`
/// begin, and the letter Go expected where they went wrong.
fn literal(input: &[u8], at: usize) -> Option<String> {
    let start = input[..at]
        .iter()
        .rposition(|b| !b.is_ascii_lowercase())
        .map_or(0, |i| i + 1);
    let word = match input.get(start)? {
        b't' => "true",
        b'f' => "false",
        b'n' => "null",
        _ => return None,
    };
    let expecting = *word.as_bytes().get(at - start)?;
    Some(format!(
        "in literal {word} (expecting {})",
        quote_char(expecting)
    ))
}

/// Go's `quoteChar`: the byte in single quotes, escaped as `strconv.Quote` does.
fn quote_char(c: u8) -> String {
    let inner = match c {
        b'\'' => "\\'".to_string(),
        b'"' => "\"".to_string(),
        b'\\' => "\\\\".to_string(),
        0x07 => "\\a".into(),
        0x08 => "\\b".into(),
        0x0c => "\\f".into(),
        b'\n' => "\\n".into(),
        b'\r' => "\\r".into(),
        b'\t' => "\\t".into(),
        0x0b => "\\v".into(),
        c if c < 0x20 || c == 0x7f => format!("\\x{c:02x}"),
        c if (0x80..0xa0).contains(&c) => format!("\\u{c:04x}"),
        c => char::from(c).to_string(),
    };
    format!("'{inner}'")
}

/// `invalid type: string "a", expected a map` -> `json: cannot unmarshal
/// string into Go value of type map[string]string`.
fn type_mismatch(text: &str) -> Option<String> {
    let (got, expected) = text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))?
        .split_once(", expected ")?;
    let got_kind = if got.starts_with("string") || got.starts_with("char") {
        "string".to_string()
    } else if got.starts_with("integer") || got.starts_with("floating point") {
        // Go shows the number when it is of the wrong range or kind.
        match got.split_once('`') {
            Some((_, n)) if text.starts_with("invalid value") => {
                format!("number {}", n.trim_end_matches('`'))
            }
            _ => "number".into(),
        }
    } else if got.starts_with("boolean") {
        "bool".into()
    } else if got == "sequence" {
        "array".into()
    } else if got == "map" {
        "object".into()
    } else if got == "null" || got == "unit value" {
        "null".into()
    } else {
        return None;
    };
    Some(format!(
        "json: cannot unmarshal {got_kind} into Go value of type {}",
        go_type(expected)
    ))
}

/// serde's name of what it expected, as the Go type it stands for.
fn go_type(expected: &str) -> String {
    let e = expected.trim_start_matches("a ").trim_start_matches("an ");
    match e {
        "string" | "borrowed string" => "string".into(),
        "boolean" => "bool".into(),
        "map" => "map[string]string".into(),
        "sequence" => "[]string".into(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => {
            let (sign, bits) = e.split_at(1);
            format!("{}int{bits}", if sign == "u" { "u" } else { "" })
        }
        "f32" | "f64" => format!("float{}", &e[1..]),
        other => other.strip_prefix("struct ").unwrap_or(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(input: &str) -> String {
        let e = serde_json::from_str::<Value>(input).unwrap_err();
        describe(&e, input.as_bytes())
    }

    /// Each pair is dockerd 20.10.24's answer to that body (see the harness
    /// scenario api/json-syntax-wording).
    #[test]
    fn syntax_errors_read_like_go() {
        for (input, want) in [
            ("x", "invalid character 'x' looking for beginning of value"),
            (
                "  x",
                "invalid character 'x' looking for beginning of value",
            ),
            (
                "{x",
                "invalid character 'x' looking for beginning of object key string",
            ),
            (
                "{'a':1}",
                "invalid character '\\'' looking for beginning of object key string",
            ),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "{\"a\":1 x",
                "invalid character 'x' after object key:value pair",
            ),
            (
                "{\"a\":\"\u{e9}\"x",
                "invalid character 'x' after object key:value pair",
            ),
            ("[1 x", "invalid character 'x' after array element"),
            (
                "{\"a\":tru}",
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (
                "{\"a\":1,}",
                "invalid character '}' looking for beginning of object key string",
            ),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
            ),
            (
                "{\"a\":\"\\q\"}",
                "invalid character 'q' in string escape code",
            ),
            (
                "{\"a\":\"\u{1}\"}",
                "invalid character '\\x01' in string literal",
            ),
            ("{\"a\":-x}", "invalid character 'x' in numeric literal"),
            (
                "{\"a\":1.x}",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                "{\"a\":1ex}",
                "invalid character 'x' in exponent of numeric literal",
            ),
            (
                "{\n\"a\":\n x}",
                "invalid character 'x' looking for beginning of value",
            ),
            ("{\"a\":", "unexpected EOF"),
        ] {
            assert_eq!(go(input), want, "input {input:?}");
        }
    }

    #[test]
    fn params_take_null_as_empty() {
        type M = std::collections::BTreeMap<String, String>;
        assert!(from_param::<M>(Some("null")).unwrap().is_empty());
        assert!(from_param::<M>(None).unwrap().is_empty());
        assert!(from_param::<M>(Some("")).unwrap().is_empty());
        assert_eq!(from_param::<M>(Some(r#"{"a":"b"}"#)).unwrap()["a"], "b");
        assert_eq!(
            from_param::<M>(Some("x")).unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
    }

    #[test]
    fn type_errors_read_like_go() {
        let e =
            serde_json::from_str::<std::collections::BTreeMap<String, String>>("[]").unwrap_err();
        assert_eq!(
            describe(&e, b"[]"),
            "json: cannot unmarshal array into Go value of type map[string]string"
        );
        let e = serde_json::from_str::<u64>("-1").unwrap_err();
        assert_eq!(
            describe(&e, b"-1"),
            "json: cannot unmarshal number -1 into Go value of type uint64"
        );
        let e = serde_json::from_value::<String>(serde_json::json!(true)).unwrap_err();
        assert_eq!(
            describe_data(&e),
            "json: cannot unmarshal bool into Go value of type string"
        );
    }
}
