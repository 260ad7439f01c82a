//! A container's privileges as dockerd 20.10 decides them: capabilities
//! (`CapAdd`, `CapDrop`) and security options (`SecurityOpt`:
//! no-new-privileges, seccomp (Docker's default profile unless
//! `seccomp=unconfined` or a profile's JSON), label, apparmor).
//!
//! Checked at create (capabilities before the image is looked up, options
//! after, as dockerd), turned into the runtime's [`Security`] at each start
//! and exec, with `Privileged` and the `Ulimits`.

use shipshape_runtime::{
    all_capabilities, capability_number, Rlimit, Security, DOCKER_DEFAULT_CAPS,
};

use super::record::HostConfig;
use crate::errdefs::EngineError;

/// The word that means every capability (only bare, in any case).
const ALL: &str = "ALL";

/// One normalised `CapAdd`/`CapDrop` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    All,
    One(u32),
}

/// moby's `NormalizeLegacyCapabilities`: upper case, `CAP_` prefixed,
/// known to the kernel headers dockerd was built with.
fn normalize(list: &[String], field: &str) -> Result<Vec<Cap>, EngineError> {
    list.iter()
        .map(|c| {
            let upper = c.to_uppercase();
            if upper == ALL {
                return Ok(Cap::All);
            }
            let name = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            capability_number(&name).map(Cap::One).ok_or_else(|| {
                EngineError::InvalidParameter(format!(
                    "invalid {field}: unknown capability: \"{name}\""
                ))
            })
        })
        .collect()
}

/// What `SecurityOpt` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    pub no_new_privileges: bool,
    /// `seccomp=...`: "unconfined", or a profile's JSON (the CLI sends the
    /// file's content); `None`: Docker's default profile.
    pub seccomp: Option<String>,
}

/// moby's `parseSecurityOpt`: `key=value` (or the deprecated `key:value`);
/// label and apparmor options are accepted and have no effect here (no
/// SELinux or AppArmor). The "1"/"2" in the messages are dockerd's.
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts, EngineError> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            continue;
        }
        let split = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((key, value)) = split else {
            return Err(invalid_opt(1, opt));
        };
        match key {
            "label" | "apparmor" => {}
            "seccomp" => out.seccomp = Some(value.to_string()),
            "no-new-privileges" => {
                out.no_new_privileges = parse_go_bool(value).ok_or_else(|| invalid_opt(2, opt))?
            }
            _ => return Err(invalid_opt(2, opt)),
        }
    }
    Ok(out)
}

fn invalid_opt(n: u8, opt: &str) -> EngineError {
    // dockerd answers these with a plain error: 500.
    EngineError::System(format!("invalid --security-opt {n}: {opt:?}"))
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Create-time check of `CapAdd` then `CapDrop` (before the image lookup).
pub fn validate_capabilities(hc: &HostConfig) -> Result<(), EngineError> {
    normalize(hc.cap_add.as_deref().unwrap_or_default(), "CapAdd")?;
    normalize(hc.cap_drop.as_deref().unwrap_or_default(), "CapDrop")?;
    Ok(())
}

/// moby's `TweakCapabilities`: `ALL` in CapAdd is everything but the drops;
/// `ALL` in CapDrop leaves only the adds; otherwise the default set minus
/// the drops plus the adds.
pub fn capabilities(hc: &HostConfig) -> Result<Vec<u32>, EngineError> {
    let adds = normalize(hc.cap_add.as_deref().unwrap_or_default(), "CapAdd")?;
    let drops = normalize(hc.cap_drop.as_deref().unwrap_or_default(), "CapDrop")?;
    let ones = |list: &[Cap]| -> Vec<u32> {
        list.iter()
            .filter_map(|c| match c {
                Cap::One(n) => Some(*n),
                Cap::All => None,
            })
            .collect()
    };
    let (add, drop) = (ones(&adds), ones(&drops));
    let mut caps: Vec<u32> = if adds.contains(&Cap::All) {
        all_capabilities()
            .into_iter()
            .filter(|c| !drop.contains(c))
            .collect()
    } else if drops.contains(&Cap::All) {
        add
    } else {
        DOCKER_DEFAULT_CAPS
            .iter()
            .copied()
            .filter(|c| !drop.contains(c))
            .chain(add)
            .collect()
    };
    caps.sort_unstable();
    caps.dedup();
    Ok(caps)
}

/// The runtime's view of a container's privileges, for a start or an exec.
pub fn runtime_security(hc: &HostConfig) -> Result<Security, EngineError> {
    let opts = parse_security_opts(hc.security_opt.as_deref().unwrap_or_default())?;
    // Privileged: every capability and no filter, as dockerd (a daemon
    // without all of them fails the start, see `init::caps`).
    let caps = if hc.privileged {
        all_capabilities()
    } else {
        capabilities(hc)?
    };
    // Compiled once per distinct profile and capability set (cached by the
    // runtime); a profile that does not decode fails the start, as dockerd.
    let seccomp = match opts.seccomp.as_deref() {
        _ if hc.privileged => Vec::new(),
        Some("unconfined") => Vec::new(),
        custom => shipshape_runtime::seccomp::programs(custom, &caps)
            .map_err(EngineError::system)?
            .to_vec(),
    };
    Ok(Security {
        capabilities: Some(caps),
        no_new_privileges: opts.no_new_privileges,
        seccomp,
        rlimits: hc
            .ulimits
            .iter()
            .flatten()
            .map(|u| Rlimit {
                name: u.name.clone(),
                soft: u.soft as u64,
                hard: u.hard as u64,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(add: &[&str], drop: &[&str]) -> HostConfig {
        HostConfig {
            cap_add: Some(add.iter().map(|s| s.to_string()).collect()),
            cap_drop: Some(drop.iter().map(|s| s.to_string()).collect()),
            ..HostConfig::default()
        }
    }

    #[test]
    fn capabilities_follow_dockers_rules() {
        let default: Vec<u32> = DOCKER_DEFAULT_CAPS.to_vec();
        assert_eq!(capabilities(&hc(&[], &[])).unwrap(), default);
        let with_admin = capabilities(&hc(&["net_admin"], &["CAP_CHOWN"])).unwrap();
        assert!(with_admin.contains(&12) && !with_admin.contains(&0));
        assert_eq!(capabilities(&hc(&["chown"], &["all"])).unwrap(), vec![0]);
        let all = capabilities(&hc(&["ALL"], &["kill"])).unwrap();
        assert!(all.contains(&21) && !all.contains(&5));
    }

    #[test]
    fn unknown_capabilities_are_refused_in_dockers_words() {
        let e = validate_capabilities(&hc(&["foo"], &[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        let e = validate_capabilities(&hc(&["CAP_ALL"], &[])).unwrap_err();
        assert!(e.to_string().contains("\"CAP_ALL\""));
        let e = validate_capabilities(&hc(&[], &["bogus"])).unwrap_err();
        assert!(matches!(e, EngineError::InvalidParameter(_)));
        assert!(e.to_string().starts_with("invalid CapDrop"));
    }

    #[test]
    fn security_opts_parse_as_dockerd() {
        let p =
            |v: &[&str]| parse_security_opts(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(p(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(p(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(!p(&["no-new-privileges=false"]).unwrap().no_new_privileges);
        assert_eq!(
            p(&["seccomp=unconfined"]).unwrap().seccomp.as_deref(),
            Some("unconfined")
        );
        assert_eq!(
            p(&["bogus"]).unwrap_err().to_string(),
            "invalid --security-opt 1: \"bogus\""
        );
        assert_eq!(
            p(&["no-new-privileges=maybe"]).unwrap_err().to_string(),
            "invalid --security-opt 2: \"no-new-privileges=maybe\""
        );
        assert!(p(&["label=disable", "apparmor=unconfined"]).is_ok());
    }
}
