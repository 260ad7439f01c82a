//! The registry: every scenario by name, in run order, and which of them a
//! run's filters select (with the setup and cleanup checks they imply).

use super::{
    api, containers, containers_api, distribution, errors, hostile, hygiene, images, model,
    protocol, runtime, schema, security, seed, snapshots, streams, system,
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
    v.extend(runtime::scenarios());
    v.extend(distribution::scenarios());
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
