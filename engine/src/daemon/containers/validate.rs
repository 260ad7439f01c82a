//! What `POST /containers/create` refuses before anything is made, with
//! dockerd 20.10.24's messages (harness `containers-api/create-rejects-*`):
//! environment entries, links and `VolumesFrom` naming missing containers,
//! healthcheck durations, the log driver, and the `platform` query against
//! the image's own.

use serde_json::Value;
use shipshape_store::Image;

use super::record::Config;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// The log drivers dockerd 20.10 ships; any other is a plugin it cannot find.
const LOG_DRIVERS: &[&str] = &[
    "json-file",
    "local",
    "journald",
    "syslog",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
    "none",
];

fn invalid(msg: String) -> EngineError {
    EngineError::InvalidParameter(msg)
}

pub fn check(d: &Daemon, config: &Config, host_raw: &Value) -> Result<(), EngineError> {
    // A variable needs a name: "=foo" and "" are refused, "FOO" alone is not.
    if let Some(bad) = config
        .env
        .iter()
        .flatten()
        .find(|e| e.split('=').next().is_none_or(str::is_empty))
    {
        return Err(invalid(format!("invalid environment variable: {bad}")));
    }
    if let Some(hc) = &config.healthcheck {
        healthcheck(hc)?;
    }
    for link in strings(host_raw, "Links") {
        let target = link.split(':').next().unwrap_or("");
        if d.container(target).is_err() {
            return Err(invalid(format!(
                "could not get container for {target}: No such container: {target}"
            )));
        }
    }
    for entry in strings(host_raw, "ExtraHosts") {
        crate::daemon::networks::dns::parse_extra_host(entry)?;
    }
    for from in strings(host_raw, "VolumesFrom") {
        let source = from.split(':').next().unwrap_or("");
        if d.container(source).is_err() {
            return Err(invalid(format!("No such container: {source}")));
        }
    }
    let driver = host_raw
        .pointer("/LogConfig/Type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !driver.is_empty() && !LOG_DRIVERS.contains(&driver) {
        return Err(invalid(format!(
            "error looking up logging plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    Ok(())
}

fn strings<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Durations are nanoseconds; 0 means the default, else at least 1 ms.
fn healthcheck(hc: &Value) -> Result<(), EngineError> {
    const MIN: i64 = 1_000_000;
    for field in ["Interval", "Timeout", "StartPeriod"] {
        let n = hc.get(field).and_then(Value::as_i64).unwrap_or(0);
        if n != 0 && n < MIN {
            return Err(invalid(format!(
                "{field} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if hc.get("Retries").and_then(Value::as_i64).unwrap_or(0) < 0 {
        return Err(invalid("Retries in Healthcheck cannot be negative".into()));
    }
    Ok(())
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// containerd's architecture aliases.
fn normalize_arch(a: &str) -> &str {
    match a {
        "i386" => "386",
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "armhf" | "armel" => "arm",
        other => other,
    }
}

/// A `platform` query as containerd's `platforms.Parse` reads it (`os`,
/// `arch`, `os/arch[/variant]`, case-insensitive) into (os, arch);
/// malformed is 400 in dockerd's words. Create and import share it.
pub fn parse_platform(platform: &str) -> Result<(String, String), EngineError> {
    let lower = platform.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    let (os, arch) = match parts.as_slice() {
        [one] if KNOWN_OS.contains(one) => (one.to_string(), std::env::consts::ARCH),
        [one] if KNOWN_ARCH.contains(&normalize_arch(one)) => {
            ("linux".to_string(), normalize_arch(one))
        }
        [_] => {
            return Err(invalid(format!(
                "{platform:?}: unknown operating system or architecture: invalid argument"
            )))
        }
        [os, arch] | [os, arch, _] => (os.to_string(), normalize_arch(arch)),
        _ => {
            return Err(invalid(format!(
                "{platform:?}: cannot parse platform specifier: invalid argument"
            )))
        }
    };
    // Rust names the host's architecture as uname does; Go as GOARCH.
    Ok((os, normalize_arch(arch).to_string()))
}

/// The `platform` query of a create ([`parse_platform`]), checked against
/// the image: another platform than the image's is 404, as dockerd answers.
pub fn platform(image: &Image, reference: &str, platform: &str) -> Result<(), EngineError> {
    if platform.is_empty() {
        return Ok(());
    }
    let (os, arch) = parse_platform(platform)?;
    let field = |k: &str| image.config.get(k).and_then(Value::as_str).unwrap_or("");
    let (have_os, have_arch) = (field("os"), normalize_arch(field("architecture")));
    if os != have_os || arch != have_arch {
        return Err(EngineError::NotFound(format!(
            "image with reference {reference} was found but does not match the specified platform: wanted {os}/{arch}, actual: {have_os}/{have_arch}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_durations_as_dockerd() {
        let msg = |v: Value| healthcheck(&v).map_err(|e| e.to_string());
        assert!(msg(serde_json::json!({"Interval": 0, "Retries": 0})).is_ok());
        assert!(msg(serde_json::json!({"Timeout": 1_000_000})).is_ok());
        assert_eq!(
            msg(serde_json::json!({"StartPeriod": 999_999})).unwrap_err(),
            "StartPeriod in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            msg(serde_json::json!({"Retries": -1})).unwrap_err(),
            "Retries in Healthcheck cannot be negative"
        );
    }
}
