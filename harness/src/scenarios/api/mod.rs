//! The API's surface beyond containers and images: routes a client meets
//! in its setup (plugins, swarm, the BuildKit session), version prefixes,
//! routing leniency and how malformed input is worded. What dockerd
//! answers is in specs/harness/expectations.json (`api/...`).

mod plugins;
mod session;
mod swarm;

use super::{scenario, Scenario};
use crate::client::Req;
use crate::ground::spec::expectation;
use crate::ground::{Ctx, Outcome};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario("api", "plugins-list-empty", false, plugins::list_empty),
        scenario(
            "api",
            "plugins-list-bad-filter",
            false,
            plugins::list_bad_filter,
        ),
        scenario("api", "plugins-unknown", false, plugins::unknown),
        scenario(
            "api",
            "plugins-bad-reference",
            false,
            plugins::bad_reference,
        ),
        scenario("api", "swarm-inactive", false, swarm::inactive),
        scenario("api", "swarm-leave-inactive", false, swarm::leave_inactive),
        scenario("api", "swarm-empty-body", false, swarm::empty_body),
        scenario("api", "session-upgrade", false, session::upgrade),
        scenario("api", "session-no-upgrade", false, session::no_upgrade),
        scenario(
            "api",
            "session-wrong-protocol",
            false,
            session::wrong_protocol,
        ),
    ]
}

/// Sends each request and checks it against the one expectation `spec`
/// (the routes that share dockerd's answer), stopping at the first miss.
fn each_answers(ctx: &Ctx, spec: &str, reqs: Vec<Req>, vars: &[(&str, &str)]) -> Outcome {
    let e = expectation(spec)?;
    for req in reqs {
        let what = format!("{} {}", req.method, req.path);
        let resp = ctx.send(req)?;
        e.check(&resp, vars).map_err(|p| p.note(what))?;
    }
    Ok(())
}
