//! When a failure is really "the endpoint does not implement this".
//!
//! The rule, applied to a scenario that would otherwise fail, looking at the
//! exchange that showed the failure:
//!
//! 1. the endpoint answered **501 Not Implemented**, or
//! 2. it answered **404 or 405 with exactly the body it gives for a route that
//!    exists nowhere** (the harness asks `GET /vX.Y/shipshape-no-such-route`
//!    once before the scenarios, and compares bodies byte for byte), i.e. its
//!    router has no such route or method — not a Docker-style
//!    "No such container" answer, whose body differs;
//!
//! and neither of these holds:
//!
//! * the endpoint identifies as Docker (`Server: Docker/...`): every route the
//!   scenarios use exists in dockerd, so there a not-found is a real failure
//!   (this keeps the dockerd gate strict);
//! * the scenario's subject *is* the not-found answer (`errors/unknown-route`).
//!
//! Anything else stays a failure. With a baseline, an unsupported scenario
//! must be listed like a failure, so a route that silently disappears is
//! still caught.

use super::{Endpoint, ExchangeRecord};

/// Scenarios whose subject is the answer to a route that does not exist.
pub const NOT_FOUND_IS_THE_SUBJECT: &[&str] = &["errors/unknown-route"];

/// The endpoint's answer to a route that exists nowhere.
#[derive(Debug, Clone, Default)]
pub struct NotFoundAnswer {
    pub status: u16,
    pub body: String,
}

/// Why the failure is "unsupported", or None when it stays a failure.
pub fn classify(
    scenario: &str,
    ex: &ExchangeRecord,
    endpoint: &Endpoint,
    not_found: Option<&NotFoundAnswer>,
) -> Option<String> {
    if endpoint.is_docker() || NOT_FOUND_IS_THE_SUBJECT.contains(&scenario) {
        return None;
    }
    let status = ex.status?;
    let route = format!("{} {}", ex.method, ex.path);
    if status == 501 {
        return Some(format!("{route} answered 501 Not Implemented"));
    }
    let nf = not_found?;
    if (status == 404 || status == 405) && !nf.body.is_empty() && ex.response_body == nf.body {
        return Some(format!(
            "{route} answered {status} with the endpoint's no-such-route body {:?}",
            nf.body.trim()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(status: u16, body: &str) -> ExchangeRecord {
        ExchangeRecord {
            method: "POST".into(),
            path: "/v1.41/commit".into(),
            status: Some(status),
            response_body: body.into(),
            ..ExchangeRecord::default()
        }
    }

    fn ep(server: &str) -> Endpoint {
        Endpoint {
            server_header: Some(server.into()),
            ..Endpoint::default()
        }
    }

    #[test]
    fn rule() {
        let nf = NotFoundAnswer {
            status: 404,
            body: "404 page not found\n".into(),
        };
        let other = ep("Libpod/4.3.1 (linux)");
        assert!(classify("a/b", &ex(501, "x"), &other, Some(&nf)).is_some());
        assert!(classify("a/b", &ex(404, "404 page not found\n"), &other, Some(&nf)).is_some());
        assert!(classify("a/b", &ex(405, "404 page not found\n"), &other, Some(&nf)).is_some());
        // A Docker-style "no such object" 404 is an answer, not a missing route.
        let no_such = r#"{"message":"No such container: x"}"#;
        assert!(classify("a/b", &ex(404, no_such), &other, Some(&nf)).is_none());
        assert!(classify("a/b", &ex(500, "404 page not found\n"), &other, Some(&nf)).is_none());
        // Never on dockerd, never for the scenario about unknown routes.
        let docker = ep("Docker/20.10.24+dfsg1 (linux)");
        assert!(classify("a/b", &ex(501, "x"), &docker, Some(&nf)).is_none());
        assert!(classify(
            "errors/unknown-route",
            &ex(404, "404 page not found\n"),
            &other,
            Some(&nf)
        )
        .is_none());
    }
}
