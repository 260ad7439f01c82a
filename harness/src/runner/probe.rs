//! What the harness asks the endpoint before the scenarios: its identity
//! (for the report's header) and its answer to a route that exists nowhere
//! (for the unsupported rule, `crate::report::unsupported`).

use crate::client::{printable, Client, ClientError, Negotiation, Req};
use crate::report::unsupported::NotFoundAnswer;
use crate::report::Endpoint;
use serde_json::Value;

/// What the harness asks the endpoint before the scenarios: its identity
/// and its answer to a route that exists nowhere (for the unsupported rule).
pub fn endpoint(client: &Client, negotiation: &Negotiation) -> (Endpoint, Option<NotFoundAnswer>) {
    let mut ep = Endpoint {
        server_header: negotiation.server_header.clone(),
        max_api_version: negotiation.server_api_version.to_string(),
        min_api_version: negotiation.server_min_api_version.map(|v| v.to_string()),
        pinned: negotiation.pinned,
        transport: Some(client.target().transport()),
        ..Endpoint::default()
    };
    if let Ok(v) = client
        .send(Req::get("/version"))
        .and_then(|r| r.json().map_err(ClientError::Protocol))
    {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        ep.os = s("Os");
        ep.arch = s("Arch");
        ep.kernel = s("KernelVersion");
        ep.platform = v
            .pointer("/Platform/Name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .or_else(|| v.pointer("/Components/0/Name").and_then(Value::as_str))
            .map(str::to_string);
    }
    let not_found = client
        .send(Req::get("/shipshape-no-such-route"))
        .ok()
        .map(|r| NotFoundAnswer {
            status: r.status,
            body: printable(&r.body, r.body.len()),
        });
    (ep, not_found)
}
