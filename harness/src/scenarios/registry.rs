//! The registry: every scenario by name, in run order, and which of them a
//! run's filters select (with the setup and cleanup checks they imply).

use super::{
    api, attach_api, containers, containers_api, distribution, distribution_manifests, errors,
    exec_identity, hostile, hygiene, image_api, image_ops, images, model, network, network_api,
    network_connect, network_container, network_dns, network_egress, network_identity,
    network_ipv6, network_ports, network_props, network_release, protocol, run_options,
    run_resources, runtime, schema, security, seed, snapshots, streams, system,
};
use crate::ground::{Ctx, Outcome};

pub type ScenarioFn = fn(&Ctx) -> Outcome;

pub struct Scenario {
    pub area: &'static str,
    pub name: &'static str,
    /// Needs the fixture image (so images/load-fixture runs first).
    pub needs_image: bool,
    pub run: ScenarioFn,
}

impl Scenario {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.area, self.name)
    }
}

pub const fn scenario(
    area: &'static str,
    name: &'static str,
    needs_image: bool,
    run: ScenarioFn,
) -> Scenario {
    Scenario {
        area,
        name,
        needs_image,
        run,
    }
}

/// Every scenario in run order. images/load-fixture comes first among the
/// image users; hygiene/nothing-left is last.
pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(system::scenarios());
    v.extend(images::scenarios());
    v.extend(errors::scenarios());
    v.extend(containers::scenarios());
    v.extend(containers_api::scenarios());
    v.extend(hostile::scenarios());
    v.extend(seed::scenarios());
    v.extend(model::scenarios());
    v.extend(protocol::scenarios());
    v.extend(schema::scenarios());
    v.extend(snapshots::scenarios());
    v.extend(security::scenarios());
    v.extend(api::scenarios());
    v.extend(streams::scenarios());
    v.extend(exec_identity::scenarios());
    v.extend(attach_api::scenarios());
    v.extend(runtime::scenarios());
    v.extend(run_options::scenarios());
    v.extend(run_resources::scenarios());
    // coverage (issue 13): operations nothing else sent
    v.extend(image_ops::scenarios());
    v.extend(image_api::scenarios());
    v.extend(network::scenarios());
    v.extend(network_api::scenarios());
    v.extend(network_dns::scenarios());
    v.extend(network_connect::scenarios());
    v.extend(network_ipv6::scenarios());
    v.extend(network_props::scenarios());
    v.extend(network_container::scenarios());
    v.extend(network_identity::scenarios());
    v.extend(network_egress::scenarios());
    v.extend(network_ports::scenarios());
    v.extend(network_release::scenarios());
    v.extend(distribution::scenarios());
    v.extend(distribution_manifests::scenarios());
    v.extend(hygiene::scenarios());
    v
}

/// Every scenario's full name (`area/name`), in run order.
pub fn all_names() -> Vec<String> {
    all().iter().map(Scenario::full_name).collect()
}

/// Setup and teardown scenarios that run whenever something needs them,
/// whatever the filters say (they load the fixture and check the cleanup).
pub const LOAD_FIXTURE: &str = "images/load-fixture";
pub const NOTHING_LEFT: &str = "hygiene/nothing-left";

/// How many scenarios the filters match by name (prerequisites aside).
pub fn matching(filters: &[String]) -> usize {
    all()
        .iter()
        .filter(|s| {
            let n = s.full_name();
            filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str()))
        })
        .count()
}

/// Scenarios that cannot share the endpoint with others and run alone
/// (`--jobs` waits for everything before them and starts nothing beside
/// them): the setup every image user waits for, checks over the whole
/// run's transcript or over everything on the endpoint, and the model
/// whose many steps are timed against the endpoint's pace.
pub const EXCLUSIVE: &[&str] = &[
    // setup: every needs_image scenario after it uses the fixture it loads
    LOAD_FIXTURE,
    // re-checks every exchange made so far: all earlier ones must be in
    "schema/transcript",
    // compares answers with dockerd's snapshots; how long ago a container
    // exited is normalised (under load it read "1 second ago"), the rest
    // of its answers still best taken without a busy neighbour
    "snapshots/dockerd-baseline",
    // removes everything of the run first, then counts what is left
    NOTHING_LEFT,
];

/// Long scenarios (property runs, dockerd's slow plugin lookup) that
/// `--jobs` starts first within their batch so the short ones fill in
/// around them; order of results and output is unchanged.
pub const LONG: &[&str] = &[
    "seed/",
    "model/lifecycle",
    "containers-api/list-filter-property",
    "containers-api/create-rejects-unknown-log-driver",
    "runtime/stop-signal-restart",
    // dockerd looks an unknown driver up as a plugin for about 15 s
    "containers-api/volume-list-filters-and-options",
    "network/create-errors",
];

/// Whether `full_name` is one of the [`LONG`] ones.
pub fn is_long(full_name: &str) -> bool {
    LONG.iter().any(|l| full_name.starts_with(l))
}

/// Whether `full_name` must run alone (see [`EXCLUSIVE`]).
pub fn is_exclusive(full_name: &str) -> bool {
    EXCLUSIVE.contains(&full_name)
}

/// A deterministic share of a run: `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: usize,
    pub count: usize,
}

impl Partition {
    /// Parses `K/N` (1 <= K <= N).
    pub fn parse(s: &str) -> Result<Partition, String> {
        let bad = || format!("invalid partition {s:?} (expected K/N with 1 <= K <= N, e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// [`select`], keeping of the scenarios the filters match only those of
/// `partition`: the K-th of every N in run order (round robin, so areas
/// spread over the partitions). Setup and cleanup checks run in every
/// partition that needs them; the N partitions together run each matched
/// scenario exactly once.
pub fn select_partition(filters: &[String], partition: Option<Partition>) -> Vec<Scenario> {
    let Some(p) = partition else {
        return select(filters);
    };
    let matches = |s: &Scenario| {
        let n = s.full_name();
        filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str()))
    };
    let setup = |n: &str| n == LOAD_FIXTURE || n == NOTHING_LEFT;
    let mut i = 0usize;
    let mine: Vec<Scenario> = all()
        .into_iter()
        .filter(|s| !setup(&s.full_name()) && matches(s))
        .filter(|_| {
            let keep = i % p.count == p.index - 1;
            i += 1;
            keep
        })
        .collect();
    let need_image = mine.iter().any(|s| s.needs_image);
    let kept: Vec<String> = mine.iter().map(Scenario::full_name).collect();
    all()
        .into_iter()
        .filter(|s| {
            let n = s.full_name();
            kept.contains(&n) || (n == LOAD_FIXTURE && need_image) || n == NOTHING_LEFT
        })
        .collect()
}

/// Which scenarios a run executes, in order.
pub fn select(filters: &[String]) -> Vec<Scenario> {
    let matches = |s: &Scenario| {
        let n = s.full_name();
        filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str()))
    };
    let all = all();
    let need_image = all.iter().any(|s| s.needs_image && matches(s));
    all.into_iter()
        .filter(|s| {
            let n = s.full_name();
            matches(s) || (n == LOAD_FIXTURE && need_image) || n == NOTHING_LEFT
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_specced() {
        let all = all();
        let mut names: Vec<String> = all.iter().map(Scenario::full_name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate scenario names");
        assert!(n >= 30, "only {n} scenarios");
        assert_eq!(
            all.last().map(Scenario::full_name).as_deref(),
            Some(NOTHING_LEFT)
        );
    }

    #[test]
    fn filters_select_by_substring_plus_prerequisites() {
        let names = |f: &[&str]| {
            select(&f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .iter()
                .map(Scenario::full_name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&["system/ping-get"]),
            vec!["system/ping-get", NOTHING_LEFT]
        );
        assert_eq!(
            names(&["errors/start-twice"]),
            vec![LOAD_FIXTURE, "errors/start-twice", NOTHING_LEFT]
        );
        let both = names(&["ping-get", "ping-head"]);
        assert!(both.contains(&"system/ping-head".to_string()));
        assert_eq!(names(&[]).len(), all().len());
    }

    #[test]
    fn partitions_split_the_run_exactly_once() {
        assert_eq!(
            Partition::parse("2/3"),
            Ok(Partition { index: 2, count: 3 })
        );
        for bad in ["0/3", "4/3", "1/0", "x/2", "3", "1/2/3"] {
            assert!(Partition::parse(bad).is_err(), "{bad} accepted");
        }
        let names = |p: Option<Partition>| {
            select_partition(&[], p)
                .iter()
                .map(Scenario::full_name)
                .collect::<Vec<_>>()
        };
        let whole = names(None);
        let parts: Vec<Vec<String>> = (1..=3)
            .map(|k| names(Some(Partition { index: k, count: 3 })))
            .collect();
        for p in &parts {
            assert_eq!(p.last().map(String::as_str), Some(NOTHING_LEFT));
            assert!(p.len() < whole.len());
        }
        for n in &whole {
            let times = parts.iter().filter(|p| p.contains(n)).count();
            let want = if n == NOTHING_LEFT || n == LOAD_FIXTURE {
                3
            } else {
                1
            };
            assert_eq!(times, want, "{n} runs {times} times over 3 partitions");
        }
        // Deterministic, and 1/1 is the whole run.
        assert_eq!(names(Some(Partition { index: 2, count: 3 })), parts[1]);
        assert_eq!(names(Some(Partition { index: 1, count: 1 })), whole);
    }

    #[test]
    fn exclusive_and_long_scenarios_exist() {
        let names = all_names();
        for e in EXCLUSIVE {
            assert!(names.iter().any(|n| n == e), "{e} is not a scenario");
        }
        for l in LONG {
            assert!(names.iter().any(|n| n.starts_with(l)), "{l} is no scenario");
        }
    }

    #[test]
    fn every_spec_entry_belongs_to_a_scenario() {
        let names: Vec<String> = all().iter().map(|s| s.full_name()).collect();
        let s = crate::ground::spec::spec()
            .map_err(|_| "invalid spec")
            .expect("spec parses");
        for name in s.checks.keys() {
            assert!(names.contains(name), "spec entry {name} has no scenario");
        }
    }
}
