//! seccomp: the filter a container's processes run under.
//!
//! [`programs`] turns a Docker profile (the default one, kept as data in
//! specs/engine/seccomp-default.json, or one given in `SecurityOpt`) into
//! classic BPF with `seccompiler`, once per distinct profile and capability
//! set: the result is cached, so a start pays for a lookup only. The
//! programs travel to the init in the spec; the init installs them right
//! before execve (see `init::process`).
//!
//! seccompiler gives a filter one match action, where a Docker profile
//! gives each rule its own. So a profile becomes one program per action:
//! the first lets through every syscall the profile names (the rest gets
//! the default action), each further one applies one action to its
//! syscalls and lets the rest through. The kernel runs them all and keeps
//! the most restrictive verdict, and among equal ones (two errnos) the last
//! installed: what libseccomp's single filter answers.
//!
//! Known gap: one architecture per filter (this machine's); dockerd's
//! profile also allows the 32-bit and x32 ABIs on x86_64, which here get
//! the default action.

mod profile;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use seccompiler::{BpfProgram, SeccompFilter, TargetArch};
use serde::{Deserialize, Serialize};

use profile::{Action, Profile, Rules, Target};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// dockerd's words for a profile that is not JSON of the right shape.
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(serde_json::Error),
    /// runc's words.
    #[error("string {0} is not a valid action for seccomp")]
    Action(String),
    #[error("string {0} is not a valid operator for seccomp")]
    Operator(String),
    #[error("seccomp: {0}")]
    Compile(String),
}

/// One compiled seccomp program: BPF instructions, each packed as
/// `code << 48 | jt << 40 | jf << 32 | k` (compact on the init's channel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program(pub Vec<u64>);

/// Installs `program` on the calling thread (the init is single-threaded).
/// Needs no_new_privs or CAP_SYS_ADMIN; sets neither (unlike
/// `seccompiler::apply_filter`, which always sets no_new_privs: dockerd
/// leaves it off unless asked).
pub(crate) fn install(program: &Program) -> io::Result<()> {
    let filter: Vec<libc::sock_filter> = program
        .0
        .iter()
        .map(|i| libc::sock_filter {
            code: (i >> 48) as u16,
            jt: (i >> 40) as u8,
            jf: (i >> 32) as u8,
            k: *i as u32,
        })
        .collect();
    let len = u16::try_from(filter.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let prog = libc::sock_fprog {
        len,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `filter`, alive for the call; the kernel
    // copies the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Compiled programs by (custom profile or `None` for the default,
/// capability numbers).
type Cache = HashMap<(Option<String>, Vec<u32>), Arc<Vec<Program>>>;

/// Distinct custom profiles are few; a client sending endless new ones
/// only makes the cache start over.
const CACHE_MAX: usize = 64;

/// The programs for a container with capabilities `caps` (numbers) under
/// `custom` (a profile's JSON) or, when `None`, Docker's default profile.
pub fn programs(custom: Option<&str>, caps: &[u32]) -> Result<Arc<Vec<Program>>, SeccompError> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (custom.map(str::to_string), caps.to_vec());
    if let Some(p) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(p.clone());
    }
    let compiled = Arc::new(compile(custom.unwrap_or(profile::DEFAULT_PROFILE), caps)?);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= CACHE_MAX {
        map.clear();
    }
    map.insert(key, compiled.clone());
    Ok(compiled)
}

fn compile(text: &str, caps: &[u32]) -> Result<Vec<Program>, SeccompError> {
    let profile: Profile = serde_json::from_str(text).map_err(SeccompError::Decode)?;
    let default = Action::parse(&profile.default_action, profile.default_errno_ret)?;
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SeccompError::Compile(e.to_string()))?;
    let cap_names: Vec<String> = caps
        .iter()
        .filter_map(|c| crate::init::caps::capability_name(*c))
        .map(|n| format!("CAP_{n}"))
        .collect();
    let target = Target {
        goarch: goarch(),
        caps: &cap_names,
        kernel: kernel_version(),
    };
    let by_action = profile::rules_for(&profile, &target)?;
    let mut out = Vec::new();
    if default != Action::Allow {
        // Everything the profile names passes this one; the programs
        // below narrow it down.
        let mut named: BTreeMap<i64, Rules> = BTreeMap::new();
        for rules in by_action.values() {
            for (nr, r) in rules {
                merge(named.entry(*nr).or_insert_with(|| Some(Vec::new())), r);
            }
        }
        out.push(build(named, default, Action::Allow, arch)?);
    }
    for (action, rules) in by_action {
        if action != Action::Allow {
            out.push(build(rules, Action::Allow, action, arch)?);
        }
    }
    Ok(out)
}

fn merge(into: &mut Rules, more: &Rules) {
    match (into.as_mut(), more) {
        (_, None) => *into = None,
        (Some(rules), Some(m)) => rules.extend(m.iter().cloned()),
        (None, Some(_)) => {}
    }
}

fn build(
    rules: BTreeMap<i64, Rules>,
    mismatch: Action,
    on_match: Action,
    arch: TargetArch,
) -> Result<Program, SeccompError> {
    let rules = rules
        .into_iter()
        .map(|(nr, r)| (nr, r.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        mismatch.to_seccompiler(),
        on_match.to_seccompiler(),
        arch,
    )
    .map_err(|e| SeccompError::Compile(e.to_string()))?;
    let bpf: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SeccompError::Compile(e.to_string()))?;
    Ok(Program(
        bpf.iter()
            .map(|i| {
                (u64::from(i.code) << 48)
                    | (u64::from(i.jt) << 40)
                    | (u64::from(i.jf) << 32)
                    | u64::from(i.k)
            })
            .collect(),
    ))
}

/// Go's `runtime.GOARCH` for this machine, as profiles name arches.
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn kernel_version() -> (u32, u32) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| profile::parse_kernel(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYS_ADMIN: u32 = 21;

    #[test]
    fn default_profile_compiles_and_is_cached() {
        let caps = crate::init::caps::DOCKER_DEFAULT_CAPS;
        let a = programs(None, caps).unwrap();
        // The allow list, then one program for clone3's ENOSYS.
        assert_eq!(a.len(), 2, "{a:?}");
        assert!(a.iter().all(|p| !p.0.is_empty() && p.0.len() < 4096));
        let b = programs(None, caps).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // CAP_SYS_ADMIN opens more syscalls: a different program.
        let mut more = caps.to_vec();
        more.push(SYS_ADMIN);
        let c = programs(None, &more).unwrap();
        assert_ne!(a[0], c[0]);
    }

    #[test]
    fn bad_profiles_are_refused_in_dockers_words() {
        let e = programs(Some("{not json"), &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Decoding seccomp profile failed: "),
            "{e}"
        );
        let e = programs(Some(r#"{"defaultAction":"SCMP_ACT_BOGUS"}"#), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "string SCMP_ACT_BOGUS is not a valid action for seccomp"
        );
    }

    #[test]
    fn allow_by_default_profile_has_only_its_errno_programs() {
        let p = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["keyctl","no_such_syscall"],"action":"SCMP_ACT_ERRNO"},
            {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":22}]}"#;
        assert_eq!(programs(Some(p), &[]).unwrap().len(), 2);
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(profile::parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(profile::parse_kernel("6.18.44-fc-v595"), Some((6, 18)));
        assert!((6, 18) >= (4, 8));
    }
}
