//! Security defaults a Docker endpoint gives every container and its own
//! socket: socket permissions, the capability set, masked and read-only
//! /proc and /sys paths, and no access to host devices.
//!
//! Each expectation was read off dockerd 20.10.24 (runc 1.1.5, cgroup v1)
//! running the probe image, and is the same list moby's defaults spell out
//! (oci/defaults.go, oci/caps/defaults.go, runc's default device rules).

mod privileges;

use super::Scenario;
use crate::client::Target;
use crate::ground::{fail, fail_expected, Ctx, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("security", "socket-mode", false, socket_mode),
        super::scenario("security", "default-capabilities", true, capabilities),
        super::scenario("security", "non-root-capabilities", true, non_root_caps),
        super::scenario("security", "masked-paths", true, masked_paths),
        super::scenario("security", "readonly-paths", true, readonly_paths),
        super::scenario("security", "inspect-path-lists", true, inspect_path_lists),
        super::scenario("security", "dev-default-nodes", true, dev_nodes),
        super::scenario("security", "no-host-devices", true, no_host_devices),
    ]
    .into_iter()
    .chain(privileges::scenarios())
    .collect()
}

const SOURCE: &str = "dockerd 20.10.24 (runc 1.1.5) with the probe image, 2026-11-26; \
                      moby oci/defaults.go and oci/caps/defaults.go";

/// Docker's default capabilities (moby oci/caps/defaults.go), by number
/// from linux/capability.h.
const DEFAULT_CAPS: &[(u32, &str)] = &[
    (0, "CHOWN"),
    (1, "DAC_OVERRIDE"),
    (3, "FOWNER"),
    (4, "FSETID"),
    (5, "KILL"),
    (6, "SETGID"),
    (7, "SETUID"),
    (8, "SETPCAP"),
    (10, "NET_BIND_SERVICE"),
    (13, "NET_RAW"),
    (18, "SYS_CHROOT"),
    (27, "MKNOD"),
    (29, "AUDIT_WRITE"),
    (31, "SETFCAP"),
];

/// Masked paths every Docker since 20.10 reports in HostConfig.MaskedPaths
/// (newer releases add /proc/interrupts and /sys/devices/virtual/powercap).
const BASE_MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

const BASE_READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What runc puts in a container's /dev without a tty (dockerd's `ls /dev`).
/// `core` (-> /proc/kcore) is added only when the kernel has /proc/kcore.
const DEV_NODES: &[&str] = &[
    "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
    "tty", "urandom", "zero",
];

fn failure(reason: impl Into<String>, expected: impl Into<String>) -> Problem {
    fail_expected(reason, expected, SOURCE)
}

fn probe(ctx: &Ctx, args: &[&str]) -> Result<String, Problem> {
    ctx.config_output(ctx.probe_config(args)?)
}

/// `probe a x -- b y`, from commands given one per slice.
fn chain(cmds: &[Vec<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in cmds.iter().enumerate() {
        if i > 0 {
            out.push("--".to_string());
        }
        out.extend(c.iter().cloned());
    }
    out
}

fn socket_mode(ctx: &Ctx) -> Outcome {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let path = match ctx.client.target() {
        Target::Unix(p) => p.clone(),
        other => {
            return Err(Problem::Skip(format!(
                "the target is {other}: no socket file to inspect"
            )))
        }
    };
    let meta = std::fs::metadata(&path).map_err(|e| {
        Problem::Skip(format!(
            "cannot stat {} from this machine: {e}",
            path.display()
        ))
    })?;
    if !meta.file_type().is_socket() {
        return Err(failure(
            format!("{} is not a socket", path.display()),
            "a unix socket",
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode != 0o660 {
        return Err(failure(
            format!("{} has mode {mode:04o}", path.display()),
            "mode 0660 (owner and group read/write, nobody else)",
        ));
    }
    if meta.uid() != 0 {
        return Err(failure(
            format!("{} is owned by uid {}", path.display(), meta.uid()),
            "owned by root",
        ));
    }
    // dockerd hands the socket to the `docker` group when it exists (its
    // -G default), else leaves it root's.
    let docker_gid = docker_group_gid();
    let want = docker_gid.unwrap_or(0);
    if meta.gid() != want {
        return Err(failure(
            format!("{} has group id {}", path.display(), meta.gid()),
            format!(
                "group id {want} ({})",
                if docker_gid.is_some() {
                    "the docker group"
                } else {
                    "root: there is no docker group"
                }
            ),
        ));
    }
    Ok(())
}

fn docker_group_gid() -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut it = l.split(':');
        if it.next()? != "docker" {
            return None;
        }
        it.nth(1)?.parse().ok()
    })
}

/// The `CapXxx:` hex masks of /proc/self/status.
fn cap_masks(status: &str) -> Vec<(String, u64)> {
    status
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.strip_prefix("Cap")?;
            Some((k.to_string(), u64::from_str_radix(v.trim(), 16).ok()?))
        })
        .collect()
}

fn cap_names(mask: u64) -> String {
    let mut names = Vec::new();
    for bit in 0..64 {
        if mask & (1 << bit) != 0 {
            names.push(
                DEFAULT_CAPS
                    .iter()
                    .find(|(n, _)| *n == bit)
                    .map(|(_, s)| s.to_string())
                    .unwrap_or_else(|| format!("cap#{bit}")),
            );
        }
    }
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}

fn default_mask() -> u64 {
    DEFAULT_CAPS.iter().fold(0, |m, (n, _)| m | (1u64 << n))
}

/// Checks the Cap* lines against what Docker gives: each listed set must
/// equal its mask; every set must be present.
fn check_caps(status: &str, want: &[(&str, u64)], who: &str) -> Outcome {
    let got = cap_masks(status);
    for (set, mask) in want {
        let Some((_, v)) = got.iter().find(|(k, _)| k == set) else {
            return Err(fail(format!("/proc/self/status has no Cap{set} line")));
        };
        if v != mask {
            return Err(failure(
                format!(
                    "{who}: Cap{set} is {v:016x} ({}), not {mask:016x}",
                    cap_names(*v & !mask)
                        .split(',')
                        .map(|c| format!("+{c}"))
                        .chain(cap_names(*mask & !v).split(',').map(|c| format!("-{c}")))
                        .filter(|c| !c.ends_with("none"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                format!("Cap{set} {mask:016x} ({})", cap_names(*mask)),
            ));
        }
    }
    Ok(())
}

fn capabilities(ctx: &Ctx) -> Outcome {
    let status = probe(ctx, &["read", "/proc/self/status"])?;
    let d = default_mask();
    // Docker >= 20.10.14 leaves the inheritable set empty (CVE-2022-24769).
    check_caps(
        &status,
        &[("Bnd", d), ("Eff", d), ("Prm", d), ("Inh", 0), ("Amb", 0)],
        "root",
    )
}

fn non_root_caps(ctx: &Ctx) -> Outcome {
    let mut config = ctx.probe_config(&["read", "/proc/self/status"])?;
    config["User"] = json!("1000:1000");
    let status = ctx.config_output(config)?;
    // setuid away from root clears the permitted and effective sets; the
    // bounding set still caps what a setuid binary could regain.
    check_caps(
        &status,
        &[
            ("Bnd", default_mask()),
            ("Eff", 0),
            ("Prm", 0),
            ("Inh", 0),
            ("Amb", 0),
        ],
        "user 1000",
    )
}

/// One /proc/self/mountinfo line: mount point, per-mount options, fs type.
struct Mount {
    point: String,
    options: String,
    fstype: String,
}

fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            Some(Mount {
                point: fields.get(4)?.to_string(),
                options: fields.get(5)?.to_string(),
                fstype: fields.get(sep + 1)?.to_string(),
            })
        })
        .collect()
}

/// The topmost mount at `path`, if it is a mount point.
fn mount_at<'m>(mounts: &'m [Mount], path: &str) -> Option<&'m Mount> {
    mounts.iter().rev().find(|m| m.point == path)
}

fn is_ro(m: &Mount) -> bool {
    m.options.split(',').any(|o| o == "ro")
}

/// HostConfig.`key` of a container's inspect (empty when absent).
fn declared(v: &Value, key: &str) -> Vec<String> {
    v.pointer(&format!("/HostConfig/{key}"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// dockerd reports the paths it masks and makes read-only in inspect.
fn inspect_path_lists(ctx: &Ctx) -> Outcome {
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let v = ctx.inspect(&id);
    ctx.remove(&id);
    let v = v?;
    for (key, base) in [
        ("MaskedPaths", BASE_MASKED),
        ("ReadonlyPaths", BASE_READONLY),
    ] {
        let list = declared(&v, key);
        if let Some(missing) = base.iter().find(|p| !list.iter().any(|l| l == *p)) {
            return Err(failure(
                format!("HostConfig.{key} does not list {missing}: {list:?}"),
                format!("at least Docker's defaults {base:?}"),
            ));
        }
    }
    Ok(())
}

/// Runs `mountinfo` plus `devstat` of each path in one container. The
/// paths are Docker's defaults plus whatever else the endpoint says in
/// inspect that it applies (newer Docker masks more).
fn paths_report(ctx: &Ctx, key: &str, base: &[&str]) -> Result<(Vec<String>, String), Problem> {
    let id = ctx.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let v = ctx.inspect(&id);
    ctx.remove(&id);
    let mut list: Vec<String> = base.iter().map(|p| p.to_string()).collect();
    for p in declared(&v?, key) {
        if !list.contains(&p) {
            list.push(p);
        }
    }
    let mut cmds = vec![vec!["read".to_string(), "/proc/self/mountinfo".to_string()]];
    for p in &list {
        cmds.push(vec!["devstat".into(), p.clone()]);
    }
    let args = chain(&cmds);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok((list, probe(ctx, &args)?))
}

/// What `devstat PATH` printed for `path`.
fn devstat<'o>(out: &'o str, path: &str) -> &'o str {
    let prefix = format!("{path}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or("")
}

fn masked_paths(ctx: &Ctx) -> Outcome {
    let (list, out) = paths_report(ctx, "MaskedPaths", BASE_MASKED)?;
    let mounts = mounts(&out);
    let mut checked = 0;
    for p in &list {
        let kind = devstat(&out, p);
        if kind == "ENOENT" {
            // Not on this kernel (as dockerd: runc skips missing paths).
            continue;
        }
        checked += 1;
        let m = mount_at(&mounts, p);
        let ok = match kind {
            // A file is hidden under a bind of /dev/null.
            "char 1:3" => m.is_some(),
            // A directory under an empty read-only tmpfs.
            "dir" => m.is_some_and(|m| m.fstype == "tmpfs" && is_ro(m)),
            _ => false,
        };
        if !ok {
            return Err(failure(
                format!(
                    "{p} is not masked: it is {kind:?}, mount {}",
                    m.map(|m| format!("{} {}", m.fstype, m.options))
                        .unwrap_or_else(|| "none".into())
                ),
                "files: a bind of /dev/null (char 1:3); directories: a read-only tmpfs",
            ));
        }
    }
    ctx.note(format!(
        "{checked} of {} masked paths exist on this kernel",
        list.len()
    ));
    Ok(())
}

fn readonly_paths(ctx: &Ctx) -> Outcome {
    let (list, out) = paths_report(ctx, "ReadonlyPaths", BASE_READONLY)?;
    let mounts = mounts(&out);
    let mut checked = 0;
    for p in &list {
        if devstat(&out, p) == "ENOENT" {
            continue;
        }
        checked += 1;
        match mount_at(&mounts, p) {
            Some(m) if is_ro(m) => {}
            m => {
                return Err(failure(
                    format!(
                        "{p} is not a read-only mount: {}",
                        m.map(|m| format!("{} {}", m.fstype, m.options))
                            .unwrap_or_else(|| "not a mount point".into())
                    ),
                    "a read-only bind mount of itself",
                ))
            }
        }
    }
    // And the kernel agrees: a sysctl cannot be opened for writing.
    let w = probe(ctx, &["try-open", "/proc/sys/kernel/hostname", "w"])?;
    if w.trim() != "open /proc/sys/kernel/hostname w: EROFS" {
        return Err(failure(
            format!("writing a sysctl: {}", w.trim()),
            "open /proc/sys/kernel/hostname w: EROFS",
        ));
    }
    ctx.note(format!(
        "{checked} of {} read-only paths exist on this kernel",
        list.len()
    ));
    Ok(())
}

fn dev_nodes(ctx: &Ctx) -> Outcome {
    let out = probe(ctx, &["ls", "/dev", "--", "devstat", "/proc/kcore"])?;
    let kcore = out.lines().any(|l| l.starts_with("/proc/kcore: char"));
    let got: Vec<&str> = out.lines().filter(|l| !l.starts_with('/')).collect();
    let mut want: Vec<&str> = DEV_NODES.to_vec();
    if kcore {
        want.push("core");
    }
    want.sort();
    if got != want {
        return Err(failure(
            format!("/dev holds {got:?}"),
            format!("{want:?} (runc's defaults without a tty)"),
        ));
    }
    // The nodes themselves are the usual character devices.
    let out = probe(
        ctx,
        &[
            "devstat",
            "/dev/null",
            "--",
            "devstat",
            "/dev/zero",
            "--",
            "devstat",
            "/dev/full",
            "--",
            "devstat",
            "/dev/random",
            "--",
            "devstat",
            "/dev/urandom",
            "--",
            "devstat",
            "/dev/tty",
        ],
    )?;
    let want = "/dev/null: char 1:3\n/dev/zero: char 1:5\n/dev/full: char 1:7\n\
                /dev/random: char 1:8\n/dev/urandom: char 1:9\n/dev/tty: char 5:0";
    if out.trim() != want {
        return Err(failure(format!("device nodes: {}", out.trim()), want));
    }
    Ok(())
}

/// The first disk in /proc/partitions (major, minor): the host's, since
/// /proc/partitions is not namespaced.
fn first_disk(partitions: &str) -> Option<(u32, u32)> {
    partitions.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 4 {
            return None;
        }
        Some((f[0].parse().ok()?, f[1].parse().ok()?))
    })
}

fn no_host_devices(ctx: &Ctx) -> Outcome {
    let parts = probe(ctx, &["read", "/proc/partitions"])?;
    // Without a disk in sight (some VMs), a SCSI disk's numbers still show
    // whether the device cgroup lets a container reach block devices.
    let (maj, min) = first_disk(&parts).unwrap_or((8, 0));
    let (maj, min) = (maj.to_string(), min.to_string());
    let disk = "/dev/shipshape-disk";
    let out = probe(
        ctx,
        &[
            "try-mknod",
            disk,
            "b",
            &maj,
            &min,
            "--",
            "try-open",
            disk,
            "r",
            "--",
            "try-open",
            disk,
            "w",
            "--",
            "try-mknod",
            "/dev/shipshape-mem",
            "c",
            "1",
            "1",
            "--",
            "try-open",
            "/dev/shipshape-mem",
            "r",
            "--",
            "try-mknod",
            "/dev/shipshape-fuse",
            "c",
            "10",
            "229",
            "--",
            "try-open",
            "/dev/shipshape-fuse",
            "r",
            "--",
            "try-mknod",
            "/dev/shipshape-null",
            "c",
            "1",
            "3",
            "--",
            "try-open",
            "/dev/shipshape-null",
            "w",
        ],
    )?;
    // /dev/fuse (10:229) opens without any capability: only the device
    // cgroup keeps a container from it (and from a host disk, /dev/mem).
    // dockerd's device cgroup allows mknod of any node ("b *:* m", "c *:* m")
    // but read/write only of its default list (null, zero, full, random,
    // urandom, tty, console, ptmx, pts, tun).
    let want = format!(
        "mknod {disk}: ok\nopen {disk} r: EPERM\nopen {disk} w: EPERM\n\
         mknod /dev/shipshape-mem: ok\nopen /dev/shipshape-mem r: EPERM\n\
         mknod /dev/shipshape-fuse: ok\nopen /dev/shipshape-fuse r: EPERM\n\
         mknod /dev/shipshape-null: ok\nopen /dev/shipshape-null w: ok"
    );
    if out.trim() != want {
        return Err(failure(
            format!("host disk {maj}:{min}, /dev/mem, /dev/fuse: {}", out.trim()),
            want,
        ));
    }
    ctx.note(format!("host disk {maj}:{min}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mask_is_dockers() {
        // The value dockerd's containers show as CapBnd.
        assert_eq!(default_mask(), 0xa80425fb);
    }

    #[test]
    fn caps_mismatch_names_the_difference() {
        let status = "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n\
                      CapEff:\t00000000a80425fb\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";
        let d = default_mask();
        assert!(check_caps(status, &[("Eff", d)], "root").is_ok());
        match check_caps(status, &[("Bnd", d)], "root") {
            Err(Problem::Fail(f)) => assert!(f.reason.contains("+cap#21"), "{}", f.reason),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn mountinfo_and_partitions_parse() {
        let mi = "49 70 0:41 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw\n\
                  50 70 0:47 / /proc/acpi ro,relatime - tmpfs tmpfs ro\n";
        let m = mounts(mi);
        assert!(is_ro(mount_at(&m, "/proc/sys").unwrap()));
        assert_eq!(mount_at(&m, "/proc/acpi").unwrap().fstype, "tmpfs");
        assert!(mount_at(&m, "/proc/irq").is_none());
        let parts = "major minor  #blocks  name\n\n 254        0  268435456 vda\n";
        assert_eq!(first_disk(parts), Some((254, 0)));
    }
}
