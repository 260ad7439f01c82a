//! Docker's seccomp profile format (moby profiles/seccomp, as dockerd 20.10
//! reads it) and how dockerd picks a container's rules from a profile: by
//! architecture, by the container's capabilities and by kernel version
//! (`includes`/`excludes`).

use std::collections::BTreeMap;
use std::str::FromStr;

use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
use serde::Deserialize;

use super::SeccompError;

/// Docker's default profile: moby's profiles/seccomp/default.json as
/// shipped with dockerd 20.10.24 (Debian's golang-github-docker-docker-dev
/// 20.10.24+dfsg1-1+deb12u1), kept as data.
pub(super) const DEFAULT_PROFILE: &str =
    include_str!("../../../../specs/engine/seccomp-default.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Option<Vec<Syscall>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Syscall {
    /// The old single-name form.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Arg {
    pub index: u8,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// What a matching syscall gets. Ordered, so rules group by action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Action {
    Allow,
    Errno(u32),
    KillThread,
    KillProcess,
    Trap,
    Trace(u32),
    Log,
}

impl Action {
    /// `SCMP_ACT_ERRNO` without an errno is EPERM, as runc makes it.
    pub fn parse(s: &str, errno: Option<u32>) -> Result<Action, SeccompError> {
        Ok(match s {
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(libc::EPERM as u32)),
            "SCMP_ACT_LOG" => Action::Log,
            other => return Err(SeccompError::Action(other.to_string())),
        })
    }

    pub fn to_seccompiler(self) -> seccompiler::SeccompAction {
        use seccompiler::SeccompAction as S;
        match self {
            Action::Allow => S::Allow,
            Action::Errno(n) => S::Errno(n),
            Action::KillThread => S::KillThread,
            Action::KillProcess => S::KillProcess,
            Action::Trap => S::Trap,
            Action::Trace(n) => S::Trace(n),
            Action::Log => S::Log,
        }
    }
}

/// Rules of one syscall: `None` matches it unconditionally, else any of
/// the rules (each an AND of argument conditions).
pub(super) type Rules = Option<Vec<SeccompRule>>;

/// The container the profile is applied to.
pub(super) struct Target<'a> {
    /// Go's name for this architecture (`runtime.GOARCH`), as profiles
    /// spell it in `includes.arches`.
    pub goarch: &'a str,
    /// `CAP_X` names of the container's capabilities.
    pub caps: &'a [String],
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

/// moby's `setupSeccomp` filter: whether an entry applies to `target`.
fn applies(s: &Syscall, target: &Target) -> bool {
    if let Some(inc) = &s.includes {
        let arches = inc.arches.as_deref().unwrap_or_default();
        if !arches.is_empty() && !arches.iter().any(|a| a == target.goarch) {
            return false;
        }
        // Every listed capability is needed.
        if !inc
            .caps
            .as_deref()
            .unwrap_or_default()
            .iter()
            .all(|c| target.caps.contains(c))
        {
            return false;
        }
        if let Some(min) = inc.min_kernel.as_deref().and_then(parse_kernel) {
            if target.kernel < min {
                return false;
            }
        }
    }
    if let Some(exc) = &s.excludes {
        if exc
            .arches
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|a| a == target.goarch)
        {
            return false;
        }
        // Any listed capability excludes it.
        if exc
            .caps
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|c| target.caps.contains(c))
        {
            return false;
        }
    }
    true
}

/// "4.8" or "6.18.44-fc" to (major, minor).
pub(super) fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn condition(a: &Arg) -> Result<SeccompCondition, SeccompError> {
    let (op, value) = match a.op.as_str() {
        "SCMP_CMP_NE" => (SeccompCmpOp::Ne, a.value),
        "SCMP_CMP_LT" => (SeccompCmpOp::Lt, a.value),
        "SCMP_CMP_LE" => (SeccompCmpOp::Le, a.value),
        "SCMP_CMP_EQ" => (SeccompCmpOp::Eq, a.value),
        "SCMP_CMP_GE" => (SeccompCmpOp::Ge, a.value),
        "SCMP_CMP_GT" => (SeccompCmpOp::Gt, a.value),
        // Docker's value is the mask, valueTwo the datum.
        "SCMP_CMP_MASKED_EQ" => (SeccompCmpOp::MaskedEq(a.value), a.value_two),
        other => return Err(SeccompError::Operator(other.to_string())),
    };
    SeccompCondition::new(a.index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| SeccompError::Compile(e.to_string()))
}

/// The profile's rules for `target`, by action then syscall number. Names
/// this architecture does not have are skipped, as libseccomp does for runc.
pub(super) fn rules_for(
    profile: &Profile,
    target: &Target,
) -> Result<BTreeMap<Action, BTreeMap<i64, Rules>>, SeccompError> {
    let mut out: BTreeMap<Action, BTreeMap<i64, Rules>> = BTreeMap::new();
    for s in profile.syscalls.as_deref().unwrap_or_default() {
        let action = Action::parse(&s.action, s.errno_ret)?;
        if !applies(s, target) {
            continue;
        }
        let conditions = s
            .args
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()?;
        let names = s.name.iter().chain(s.names.iter().flatten());
        for name in names {
            let Ok(sysno) = syscalls::Sysno::from_str(name) else {
                continue;
            };
            let entry = out
                .entry(action)
                .or_default()
                .entry(sysno.id() as i64)
                .or_insert_with(|| Some(Vec::new()));
            match (entry.as_mut(), conditions.is_empty()) {
                // Unconditional wins over any condition.
                (_, true) => *entry = None,
                (Some(rules), false) => rules.push(
                    SeccompRule::new(conditions.clone())
                        .map_err(|e| SeccompError::Compile(e.to_string()))?,
                ),
                (None, false) => {}
            }
        }
    }
    Ok(out)
}
