//! The subject of an X.509 certificate, read from its DER just far enough
//! to name it in reports (`CN=...,O=...`). rustls does not expose it, and
//! a full X.509 parser would be a dependency for one line of a report.

/// One DER element: (tag, content, rest).
fn element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;

/// `CN=localhost,O=shipshape`, in the certificate's order; None when the
/// DER is not a certificate.
pub fn of(der: &[u8]) -> Option<String> {
    let (_, cert, _) = element(der).filter(|(t, _, _)| *t == SEQUENCE)?;
    let (_, tbs, _) = element(cert).filter(|(t, _, _)| *t == SEQUENCE)?;
    let mut rest = tbs;
    // [0] version is optional; then serial, signature, issuer, validity,
    // subject.
    let (tag, _, r) = element(rest)?;
    rest = if tag == 0xa0 { element(r)?.2 } else { r };
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (_, mut name, _) = element(rest).filter(|(t, _, _)| *t == SEQUENCE)?;
    let mut parts = Vec::new();
    while !name.is_empty() {
        let (_, set, r) = element(name)?;
        name = r;
        let (_, atv, _) = element(set)?;
        let (_, oid, r) = element(atv)?;
        let (_, value, _) = element(r)?;
        let key = match oid {
            [0x55, 0x04, 0x03] => "CN".to_string(),
            [0x55, 0x04, 0x06] => "C".to_string(),
            [0x55, 0x04, 0x0a] => "O".to_string(),
            [0x55, 0x04, 0x0b] => "OU".to_string(),
            other => format!("OID {}", hex::encode(other)),
        };
        parts.push(format!("{key}={}", String::from_utf8_lossy(value)));
    }
    Some(if parts.is_empty() {
        "(empty subject)".to_string()
    } else {
        parts.join(",")
    })
}
