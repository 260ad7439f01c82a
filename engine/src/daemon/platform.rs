//! Platform specifiers (`os`, `arch`, `os/arch[/variant]`) as containerd's
//! `platforms.Parse` reads them for dockerd: the one grammar behind the
//! `platform` of create, pull and build. A bad one is dockerd's 400:
//! `"foobar": unknown operating system or architecture: invalid argument`.

use crate::errdefs::EngineError;

/// A parsed specifier; `arch` is Go's name (`amd64`, not `x86_64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub os: String,
    pub arch: String,
    pub variant: String,
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
pub fn normalize_arch(a: &str) -> &str {
    match a {
        "i386" => "386",
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "armhf" | "armel" => "arm",
        other => other,
    }
}

/// The host's architecture as Go names it.
pub fn host_arch() -> &'static str {
    normalize_arch(std::env::consts::ARCH)
}

/// Parses a specifier, case-insensitively; a lone word is an OS (on the
/// host's architecture) or an architecture (on linux).
pub fn parse(platform: &str) -> Result<Spec, EngineError> {
    let lower = platform.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    let spec = |os: &str, arch: &str, variant: &str| Spec {
        os: os.to_string(),
        arch: normalize_arch(arch).to_string(),
        variant: variant.to_string(),
    };
    match parts.as_slice() {
        [one] if KNOWN_OS.contains(one) => Ok(spec(one, host_arch(), "")),
        [one] if KNOWN_ARCH.contains(&normalize_arch(one)) => Ok(spec("linux", one, "")),
        [_] => Err(EngineError::InvalidParameter(format!(
            "{platform:?}: unknown operating system or architecture: invalid argument"
        ))),
        [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(spec(os, arch, "")),
        [os, arch, variant] if !os.is_empty() && !arch.is_empty() => Ok(spec(os, arch, variant)),
        _ => Err(EngineError::InvalidParameter(format!(
            "{platform:?}: cannot parse platform specifier: invalid argument"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_triples_as_containerd_reads_them() {
        let ok = |s: &str| parse(s).map(|p| format!("{}/{}/{}", p.os, p.arch, p.variant));
        assert_eq!(ok("linux").unwrap(), format!("linux/{}/", host_arch()));
        assert_eq!(ok("x86_64").unwrap(), "linux/amd64/");
        assert_eq!(ok("Linux/ARM/v7").unwrap(), "linux/arm/v7");
        // dockerd 20.10.24: POST /build?platform=foobar and
        // /images/create?fromImage=busybox&platform=foobar.
        assert_eq!(
            parse("foobar").unwrap_err().to_string(),
            "\"foobar\": unknown operating system or architecture: invalid argument"
        );
        assert!(parse("a/b/c/d").is_err());
    }
}
