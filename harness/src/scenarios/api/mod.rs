//! The API's surface beyond containers and images: routes a client meets
//! in its setup (plugins, swarm, the BuildKit session), version prefixes,
//! routing leniency and how malformed input is worded. What dockerd
//! answers is in specs/harness/expectations.json (`api/...`).

mod bad_params;
mod build;
mod build_checks;
mod build_classic;
mod build_copy;
mod build_options;
mod info;
mod json;
mod plugin_create;
mod plugins;
mod routing;
mod session;
mod swarm;
mod versions;

pub(crate) use build_classic::{build, clean, ok_build, tar_of};

use super::{scenario, Scenario, ScenarioFn};
use crate::client::Req;
use crate::ground::spec::expectation;
use crate::ground::{Ctx, Outcome};

/// Name, whether it needs the fixture image, body.
const SCENARIOS: &[(&str, bool, ScenarioFn)] = &[
    ("plugins-list-empty", false, plugins::list_empty),
    ("plugins-list-bad-filter", false, plugins::list_bad_filter),
    ("plugins-unknown", false, plugins::unknown),
    ("plugins-bad-reference", false, plugins::bad_reference),
    ("plugins-create-lifecycle", false, plugin_create::lifecycle),
    ("swarm-inactive", false, swarm::inactive),
    ("swarm-leave-inactive", false, swarm::leave_inactive),
    ("swarm-empty-body", false, swarm::empty_body),
    ("session-upgrade", false, session::upgrade),
    ("session-no-upgrade", false, session::no_upgrade),
    ("session-wrong-protocol", false, session::wrong_protocol),
    ("json-syntax-wording", false, json::syntax_wording),
    ("malformed-query-params", false, bad_params::malformed),
    ("json-type-wording", false, json::type_wording),
    ("json-empty-body", false, json::empty_body),
    (
        "json-before-lookup-update-commit",
        false,
        json::before_lookup_500,
    ),
    ("json-before-lookup-exec", false, json::before_lookup_400),
    ("build-null-query-params", false, build::null_query_params),
    ("build-bad-query-json", false, build::bad_query_json),
    ("build-prune-route-empty", false, build::prune_empty),
    (
        "build-prune-route-bad-filter",
        false,
        build::prune_bad_filter,
    ),
    ("build-prune-route-bad-json", false, build::prune_bad_json),
    ("build-multistage", true, build_classic::multistage),
    (
        "build-config-instructions",
        true,
        build_classic::config_instructions,
    ),
    ("build-dockerignore", true, build_classic::dockerignore),
    ("build-run-failure", true, build_classic::run_failure),
    ("build-cache-from", true, build_classic::cache_from),
    ("build-run-stderr", true, build_classic::run_stderr),
    ("build-options", true, build_options::options),
    ("build-prune", false, build_options::prune),
    ("build-remote-context", false, build_options::remote_context),
    (
        "build-remote-context-redirects",
        false,
        build_options::remote_context_redirects,
    ),
    (
        "build-empty-dockerfile-and-platform",
        true,
        build_checks::dockerfile_and_platform,
    ),
    ("build-stage-aux-ids", true, build_checks::stage_ids),
    ("build-run-sparse-file", true, build_checks::sparse_file),
    (
        "build-run-unchanged-twice",
        true,
        build_checks::run_unchanged_twice,
    ),
    (
        "build-copy-cache-by-content",
        true,
        build_copy::copy_cache_by_content,
    ),
    ("build-copy-chown", true, build_copy::copy_chown),
    ("list-trailing-slash", false, routing::list_trailing_slash),
    ("volume-empty-name", false, routing::volume_empty_name),
    (
        "network-trailing-slash",
        false,
        routing::network_trailing_slash,
    ),
    (
        "unclean-path-redirect",
        false,
        routing::unclean_path_redirect,
    ),
    ("container-name-slash", false, routing::container_name_slash),
    ("methods-not-routed", false, routing::methods_not_routed),
    ("old-versions-served", false, versions::old_versions_served),
    (
        "old-info-execution-driver",
        false,
        versions::old_info_execution_driver,
    ),
    (
        "kill-stopped-before-1.20",
        true,
        versions::kill_stopped_before_1_20,
    ),
    ("info-cgroup-flags", false, info::cgroup_flags),
];

pub fn scenarios() -> Vec<Scenario> {
    SCENARIOS
        .iter()
        .map(|&(name, needs_image, run)| scenario("api", name, needs_image, run))
        .collect()
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
