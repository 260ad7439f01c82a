//! What a container may do beyond the defaults, and what it may not do even
//! as root: `CapAdd`/`CapDrop`, `--security-opt no-new-privileges`, and the
//! seccomp filter (Docker's default profile, `seccomp=unconfined`, a profile
//! given as JSON).
//!
//! Each expectation was read off dockerd 20.10.24 (runc 1.1.5) running the
//! probe image on 2026-12-03; statuses and messages of refused requests are
//! in specs/harness/expectations.json. `--privileged` and `CapAdd: ["ALL"]`
//! are not checked: on the machine the oracle runs on, dockerd itself lacks
//! CAP_SYS_RESOURCE, and runc fails both with "unable to apply caps:
//! operation not permitted".

use super::{check_caps, default_mask, Scenario, SOURCE};
use crate::client::{enc, Req};
use crate::ground::spec::expectation;
use crate::ground::{fail, Ctx, Failure, Outcome, Problem};
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::super::scenario("security", "cap-add-drop", true, cap_add_drop),
        super::super::scenario("security", "cap-unknown", true, cap_unknown),
        super::super::scenario("security", "no-new-privileges", true, no_new_privileges),
        super::super::scenario(
            "security",
            "security-opt-invalid",
            true,
            security_opt_invalid,
        ),
        super::super::scenario("security", "seccomp-default", true, seccomp_default),
        super::super::scenario(
            "security",
            "seccomp-cap-sys-admin",
            true,
            seccomp_cap_sys_admin,
        ),
        super::super::scenario("security", "seccomp-unconfined", true, seccomp_unconfined),
        super::super::scenario(
            "security",
            "seccomp-profile-json",
            true,
            seccomp_profile_json,
        ),
        super::super::scenario(
            "security",
            "seccomp-profile-invalid",
            true,
            seccomp_profile_invalid,
        ),
        super::super::scenario("security", "devices", true, devices),
        super::super::scenario("security", "device-missing", true, device_missing),
    ]
}

const NET_ADMIN: u64 = 1 << 12;
const CHOWN: u64 = 1;

/// The probe's `/proc/self/status` with `host_config` merged into its config.
fn status_with(ctx: &Ctx, host_config: Value, extra: &[&str]) -> Result<String, Problem> {
    let mut args: Vec<&str> = extra.to_vec();
    if !args.is_empty() {
        args.push("--");
    }
    args.extend(["read", "/proc/self/status"]);
    let mut config = ctx.probe_config(&args)?;
    config["HostConfig"] = host_config;
    ctx.config_output(config)
}

fn cap_add_drop(ctx: &Ctx) -> Outcome {
    let d = default_mask();
    // Names are accepted with or without CAP_, in any case (dockerd
    // upper-cases them and adds the prefix); CapDrop ALL empties the set
    // before CapAdd applies.
    let cases = [
        (json!({"CapAdd": ["net_admin"]}), d | NET_ADMIN),
        (
            json!({"CapAdd": ["CAP_NET_ADMIN"], "CapDrop": ["chown"]}),
            (d | NET_ADMIN) & !CHOWN,
        ),
        (json!({"CapDrop": ["ALL"], "CapAdd": ["Cap_Chown"]}), CHOWN),
    ];
    for (hc, mask) in cases {
        let status = status_with(ctx, hc.clone(), &[])?;
        check_caps(
            &status,
            &[("Bnd", mask), ("Eff", mask), ("Prm", mask), ("Inh", 0)],
            &format!("HostConfig {hc}"),
        )?;
    }
    Ok(())
}

/// `POST /containers/create` with `host_config`, checked against an
/// expectation; a container created by mistake is removed.
fn create_refused(ctx: &Ctx, host_config: Value, check: &str, vars: &[(&str, &str)]) -> Outcome {
    let mut config = ctx.probe_config(&["exit", "0"])?;
    config["HostConfig"] = host_config;
    let resp = ctx.send(Req::post("/containers/create").json(config))?;
    let result = expectation(check)?.check(&resp, vars);
    if resp.status == 201 {
        if let Some(id) = resp
            .json()
            .ok()
            .and_then(|v| v.get("Id")?.as_str().map(str::to_string))
        {
            ctx.remove(&id);
        }
    }
    result
}

fn cap_unknown(ctx: &Ctx) -> Outcome {
    create_refused(
        ctx,
        json!({"CapAdd": ["foo"]}),
        "security/cap-unknown",
        &[("field", "CapAdd"), ("cap", "CAP_FOO")],
    )?;
    // CAP_ALL is not ALL: only the bare word means every capability.
    create_refused(
        ctx,
        json!({"CapAdd": ["CAP_ALL"]}),
        "security/cap-unknown",
        &[("field", "CapAdd"), ("cap", "CAP_ALL")],
    )?;
    create_refused(
        ctx,
        json!({"CapAdd": ["NET_ADMIN"], "CapDrop": ["cap_bogus"]}),
        "security/cap-unknown",
        &[("field", "CapDrop"), ("cap", "CAP_BOGUS")],
    )
}

fn no_new_privs(status: &str) -> Option<&str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NoNewPrivs:"))
        .map(str::trim)
}

fn seccomp_mode(status: &str) -> Option<&str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim)
}

fn failure(reason: String, expected: String) -> Problem {
    Problem::Fail(Failure {
        reason,
        expected: Some(expected),
        source: Some(SOURCE.into()),
        ..Failure::default()
    })
}

fn no_new_privileges(ctx: &Ctx) -> Outcome {
    let cases = [
        (json!(null), "0"),
        (json!(["no-new-privileges"]), "1"),
        (json!(["no-new-privileges:true"]), "1"),
        (json!(["no-new-privileges=false"]), "0"),
    ];
    for (opts, want) in cases {
        let status = status_with(ctx, json!({"SecurityOpt": opts}), &[])?;
        let got = no_new_privs(&status)
            .ok_or_else(|| fail("/proc/self/status has no NoNewPrivs line"))?;
        if got != want {
            return Err(failure(
                format!("SecurityOpt {opts}: NoNewPrivs is {got}"),
                format!("NoNewPrivs: {want}"),
            ));
        }
    }
    Ok(())
}

fn security_opt_invalid(ctx: &Ctx) -> Outcome {
    // dockerd counts the option's parts: "1" for a bare word, "2" for
    // key=value with an unknown key or value.
    for (opt, parts) in [
        ("bogus", "1"),
        ("seccomp", "1"),
        ("bogus=1", "2"),
        ("no-new-privileges=maybe", "2"),
    ] {
        create_refused(
            ctx,
            json!({"SecurityOpt": [opt]}),
            "security/security-opt-invalid",
            &[("parts", parts), ("opt", opt)],
        )?;
    }
    // Capabilities are checked before security options.
    create_refused(
        ctx,
        json!({"CapAdd": ["foo"], "SecurityOpt": ["bogus"]}),
        "security/cap-unknown",
        &[("field", "CapAdd"), ("cap", "CAP_FOO")],
    )
}

const SYSCALLS: &[&str] = &[
    "try-syscall",
    "personality",
    "--",
    "try-syscall",
    "personality-query",
    "--",
    "try-syscall",
    "keyctl",
    "--",
    "try-syscall",
    "unshare-uts",
];

/// Runs the probe's syscall attempts and /proc/self/status under
/// `host_config`; compares the attempts and the `Seccomp:` mode.
fn check_syscalls(ctx: &Ctx, host_config: Value, want: &str, mode: &str) -> Outcome {
    let out = status_with(ctx, host_config.clone(), SYSCALLS)?;
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("syscall ")).collect();
    let got = got.join("\n");
    if got != want {
        return Err(failure(
            format!("HostConfig {host_config}: {got}"),
            want.to_string(),
        ));
    }
    let got_mode =
        seccomp_mode(&out).ok_or_else(|| fail("/proc/self/status has no Seccomp line"))?;
    if got_mode != mode {
        return Err(failure(
            format!("HostConfig {host_config}: Seccomp: {got_mode}"),
            format!("Seccomp: {mode} (2 = filter, 0 = none)"),
        ));
    }
    Ok(())
}

fn seccomp_default(ctx: &Ctx) -> Outcome {
    // Docker's default profile: personality only with the personas it
    // lists (0xffffffff queries), keyctl never, unshare only with
    // CAP_SYS_ADMIN; a blocked call gets EPERM.
    check_syscalls(
        ctx,
        json!({}),
        "syscall personality: EPERM\nsyscall personality-query: ok\n\
         syscall keyctl: EPERM\nsyscall unshare-uts: EPERM",
        "2",
    )?;
    // The filter stays with no-new-privileges (installed after it).
    check_syscalls(
        ctx,
        json!({"SecurityOpt": ["no-new-privileges"]}),
        "syscall personality: EPERM\nsyscall personality-query: ok\n\
         syscall keyctl: EPERM\nsyscall unshare-uts: EPERM",
        "2",
    )
}

fn seccomp_cap_sys_admin(ctx: &Ctx) -> Outcome {
    // The profile's syscalls gated on CAP_SYS_ADMIN (unshare, mount,
    // setns...) are allowed when the container has it; the rest is as
    // strict as ever.
    check_syscalls(
        ctx,
        json!({"CapAdd": ["SYS_ADMIN"]}),
        "syscall personality: EPERM\nsyscall personality-query: ok\n\
         syscall keyctl: EPERM\nsyscall unshare-uts: ok",
        "2",
    )
}

fn seccomp_unconfined(ctx: &Ctx) -> Outcome {
    // Without a filter only capabilities limit root: unshare still needs
    // CAP_SYS_ADMIN.
    check_syscalls(
        ctx,
        json!({"SecurityOpt": ["seccomp=unconfined"]}),
        "syscall personality: ok\nsyscall personality-query: ok\n\
         syscall keyctl: ok\nsyscall unshare-uts: EPERM",
        "0",
    )
}

fn seccomp_profile_json(ctx: &Ctx) -> Outcome {
    // The docker CLI reads `--security-opt seccomp=FILE` and sends the
    // file's content. errnoRet picks the errno (22 = EINVAL); without it
    // SCMP_ACT_ERRNO answers EPERM.
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22}
        ]
    });
    check_syscalls(
        ctx,
        json!({"SecurityOpt": [format!("seccomp={profile}")]}),
        "syscall personality: EINVAL\nsyscall personality-query: EINVAL\n\
         syscall keyctl: EPERM\nsyscall unshare-uts: EPERM",
        "2",
    )
}

fn seccomp_profile_invalid(ctx: &Ctx) -> Outcome {
    // dockerd accepts the create and refuses the start: the profile is
    // decoded when the container's spec is built.
    let mut config = ctx.probe_config(&["exit", "0"])?;
    config["HostConfig"] = json!({"SecurityOpt": ["seccomp={not json"]});
    let id = ctx.create(config, None)?;
    let res = (|| {
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        expectation("security/seccomp-profile-invalid")?.check(&resp, &[])?;
        let state = ctx.inspect(&id)?;
        let status = state["State"]["Status"].as_str().unwrap_or("");
        if status != "created" {
            return Err(failure(
                format!("after the refused start the container is {status:?}"),
                "\"created\"".into(),
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}

/// The host device `--device` scenarios hand in: /dev/fuse (10:229), which
/// opens without any capability, so only the device cgroup decides.
const FUSE: &str = "/dev/fuse";

fn devices(ctx: &Ctx) -> Outcome {
    let cases = [
        // The node appears at the same path, and opens both ways.
        (
            json!([{"PathOnHost": FUSE, "PathInContainer": FUSE, "CgroupPermissions": "rwm"}]),
            "/dev/fuse: char 10:229\nopen /dev/fuse r: ok\nopen /dev/fuse w: ok",
            vec![
                "devstat", FUSE, "--", "try-open", FUSE, "r", "--", "try-open", FUSE, "w",
            ],
        ),
        // Another path; "r" only: the device cgroup refuses writing.
        (
            json!([{"PathOnHost": FUSE, "PathInContainer": "/dev/shipshape-fuse", "CgroupPermissions": "r"}]),
            "/dev/shipshape-fuse: char 10:229\nopen /dev/shipshape-fuse r: ok\n\
             open /dev/shipshape-fuse w: EPERM",
            vec![
                "devstat",
                "/dev/shipshape-fuse",
                "--",
                "try-open",
                "/dev/shipshape-fuse",
                "r",
                "--",
                "try-open",
                "/dev/shipshape-fuse",
                "w",
            ],
        ),
    ];
    for (devs, want, args) in cases {
        let mut config = ctx.probe_config(&args)?;
        config["HostConfig"] = json!({ "Devices": devs });
        let id = ctx.create(config, None)?;
        let res = (|| {
            let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
            if resp.status == 500
                && resp
                    .message()
                    .is_some_and(|m| m.contains("error gathering device information"))
            {
                return Err(Problem::Skip(format!("the endpoint's host has no {FUSE}")));
            }
            crate::ground::expect_status(&resp, 204, "starting a container")?;
            ctx.wait(&id)?;
            Ok(ctx.logs(&id)?.stdout_text())
        })();
        ctx.remove(&id);
        let out = res?;
        if out.trim() != want {
            return Err(failure(
                format!("Devices {devs}: {}", out.trim()),
                want.to_string(),
            ));
        }
    }
    Ok(())
}

fn device_missing(ctx: &Ctx) -> Outcome {
    // Like a bad seccomp profile: the create succeeds, the start fails
    // and the container stays created.
    let path = format!("/dev/shipshape-no-such-device-{}", ctx.run_id);
    let mut config = ctx.probe_config(&["exit", "0"])?;
    config["HostConfig"] = json!({"Devices": [
        {"PathOnHost": path, "PathInContainer": path, "CgroupPermissions": "rwm"}
    ]});
    let id = ctx.create(config, None)?;
    let res = (|| {
        let resp = ctx.send(Req::post(format!("/containers/{}/start", enc(&id))))?;
        expectation("security/device-missing")?.check(&resp, &[("path", &path)])?;
        let state = ctx.inspect(&id)?;
        let status = state["State"]["Status"].as_str().unwrap_or("");
        if status != "created" {
            return Err(failure(
                format!("after the refused start the container is {status:?}"),
                "\"created\"".into(),
            ));
        }
        Ok(())
    })();
    ctx.remove(&id);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let s = "Name:\tprobe\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";
        assert_eq!(no_new_privs(s), Some("1"));
        assert_eq!(seccomp_mode(s), Some("2"));
        assert_eq!(seccomp_mode("Name:\tprobe\n"), None);
    }
}
