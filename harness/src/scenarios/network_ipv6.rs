//! IPv6 on bridge networks (issue 15): `EnableIPv6` with an IPv6 subnet
//! gives each container an IPv6 address on the bridge, and containers on
//! the network reach each other over it.
//!
//! Read off dockerd 20.10.24 on this project's host (curl on its socket,
//! the docker CLI, a busybox image):
//! - `EnableIPv6` without an IPv6 subnet: 404 `could not find an available,
//!   non-overlapping IPv6 address pool among the defaults to assign to the
//!   network` (dockerd has no default IPv6 pool);
//! - two IPv6 subnets: 403 `bridge driver doesn't support multiple subnets`;
//! - a gateway outside the subnet: 500 `failed to allocate gateway
//!   (fd00:2::1): Requested address is out of range`;
//! - the same IPv6 subnet as another network: 403 `Pool overlaps with other
//!   one on this address space`;
//! - created with only `{"Subnet": "fd00:ab::/64"}`: `IPAM.Config` is
//!   `[{"Subnet": "172.19.0.0/16", "Gateway": "172.19.0.1"}, {"Subnet":
//!   "fd00:ab::/64"}]` (an IPv4 subnet from the pool first, the IPv6 entry
//!   as given), `EnableIPv6: true`;
//! - the first container gets `fd00:ab::2` (the gateway is `::1`):
//!   `Networks[N].GlobalIPv6Address` `fd00:ab::2`, `GlobalIPv6PrefixLen`
//!   64, `IPv6Gateway` `fd00:ab::1`; the network's `Containers[id]`
//!   `IPv6Address` `fd00:ab::2/64`; `IPAMConfig.IPv6Address` picks the
//!   address; other containers on the network reach both over IPv6.
//! - /etc/hosts (2026-12-04, `docker network create --ipv6 --subnet
//!   fd00:55::/64`): a container started on the network ends its file with
//!   `172.18.0.2\t<hostname>` then `fd00:55::2\t<hostname>`; one on the
//!   default bridge connected live with `--ip6 fd00:55::77` gets
//!   `<bridge address>\t<hostname>`, `<IPv4 address on the network>\t
//!   <hostname>`, `fd00:55::77\t<hostname>`, in that order.
//! - the embedded resolver (127.0.0.11) on such a network answers AAAA for
//!   a container's name, `name.network` and its `--network-alias` with its
//!   IPv6 address (`fd00:55::2`, also for one connected live with an
//!   alias), A as before, and PTR of the IPv6 address (`ip6.arpa`) with
//!   `name.network`; AAAA for a name known on an IPv4-only network has no
//!   answer (and is not an error: the probe says "no answer").

use super::network_props::Made;
use super::Scenario;
use crate::client::{enc, Req};
use crate::ground::{expect_status, fail, fail_at, json_body, Ctx, Outcome, Problem};
use crate::scenarios::containers_api::expect_error;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        super::scenario("network", "ipv6-bridge", true, ipv6_bridge),
        super::scenario("network", "ipv6-etc-hosts", true, ipv6_etc_hosts),
        super::scenario("network", "ipv6-dns", true, ipv6_dns),
    ]
}

const PORT: &str = "7778";

/// A unique-local /64 prefix picked by the run id (`fd00:5353:HHHH:`), so
/// runs side by side rarely ask for the same one, and never the host's.
fn prefix(ctx: &Ctx, salt: &str) -> String {
    let h = Sha256::digest(format!("{}{salt}", ctx.run_id).as_bytes());
    format!("fd00:5353:{:x}:", u16::from_be_bytes([h[0], h[1]]))
}

impl Made<'_, '_> {
    fn network(&mut self, body: Value) -> Result<crate::client::Response, Problem> {
        let mut body = body;
        body["Labels"] = self.ctx.labels();
        let resp = self
            .ctx
            .send(Req::post("/networks/create").json(body.clone()))?;
        if resp.status == 201 {
            if let Some(n) = body["Name"].as_str() {
                self.nets.push(n.to_string());
            }
        }
        Ok(resp)
    }

    fn container(
        &mut self,
        net: &str,
        args: &[&str],
        ip6: Option<&str>,
    ) -> Result<String, Problem> {
        self.named(None, net, args, ip6)
    }

    /// A probe container on `net`, named `name` when given, created and
    /// started; its id.
    fn named(
        &mut self,
        name: Option<&str>,
        net: &str,
        args: &[&str],
        ip6: Option<&str>,
    ) -> Result<String, Problem> {
        let mut c = self.ctx.probe_config(args)?;
        c["HostConfig"] = json!({"NetworkMode": net});
        if let Some(ip) = ip6 {
            c["NetworkingConfig"] =
                json!({"EndpointsConfig": {net: {"IPAMConfig": {"IPv6Address": ip}}}});
        }
        let id = self.ctx.create(c, name)?;
        self.containers.push(id.clone());
        self.ctx.start(&id)?;
        Ok(id)
    }
}

fn ipv6_bridge(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let p = prefix(ctx, "ipv6");
    let resp = made.network(json!({"Name": ctx.unique_name("v6-nopool"), "EnableIPv6": true}))?;
    expect_error(
        &resp,
        404,
        "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network",
        "EnableIPv6 without an IPv6 subnet",
    )?;
    let resp = made.network(
        json!({"Name": ctx.unique_name("v6-two"), "EnableIPv6": true,
        "IPAM": {"Config": [{"Subnet": format!("{p}1::/64")}, {"Subnet": format!("{p}2::/64")}]}}),
    )?;
    expect_error(
        &resp,
        403,
        "bridge driver doesn't support multiple subnets",
        "two IPv6 subnets",
    )?;
    let resp = made.network(json!({"Name": ctx.unique_name("v6-gw"), "EnableIPv6": true,
        "IPAM": {"Config": [{"Subnet": format!("{p}1::/64"), "Gateway": format!("{p}2::1")}]}}))?;
    expect_error(
        &resp,
        500,
        &format!("failed to allocate gateway ({p}2::1): Requested address is out of range"),
        "an IPv6 gateway outside the subnet",
    )?;
    let name = ctx.unique_name("v6");
    let subnet = format!("{p}:/64");
    let resp = made.network(json!({"Name": name, "EnableIPv6": true,
        "IPAM": {"Config": [{"Subnet": subnet}]}}))?;
    expect_status(&resp, 201, "creating a network with an IPv6 subnet")?;
    let resp = made.network(
        json!({"Name": ctx.unique_name("v6-again"), "EnableIPv6": true,
        "IPAM": {"Config": [{"Subnet": subnet}]}}),
    )?;
    expect_error(
        &resp,
        403,
        "Pool overlaps with other one on this address space",
        "the same IPv6 subnet again",
    )?;
    let resp = ctx.send(Req::get(format!("/networks/{}", enc(&name))))?;
    expect_status(&resp, 200, "inspecting the network")?;
    let v = json_body(&resp, "network inspect")?;
    let config = v["IPAM"]["Config"].as_array().cloned().unwrap_or_default();
    let v4_first = config
        .first()
        .and_then(|c| c["Subnet"].as_str())
        .is_some_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok() || s.contains('.'));
    if v["EnableIPv6"] != true
        || config.len() != 2
        || !v4_first
        || config[1] != json!({"Subnet": subnet})
    {
        return Err(fail_at(
            &resp,
            format!(
                "EnableIPv6 {} IPAM.Config {}; dockerd: true, and [an IPv4 subnet from the pool \
                 with its gateway, {{\"Subnet\": \"{subnet}\"}}]",
                v["EnableIPv6"], v["IPAM"]["Config"]
            ),
        ));
    }
    let server = made.container(&name, &["tcp-serve", PORT, "srv6"], None)?;
    super::network::wait_listening(ctx, &server)?;
    let info = ctx.inspect(&server)?;
    let ep = &info["NetworkSettings"]["Networks"][&name];
    let want = (format!("{p}:2"), format!("{p}:1"));
    if ep["GlobalIPv6Address"] != json!(want.0)
        || ep["GlobalIPv6PrefixLen"] != 64
        || ep["IPv6Gateway"] != json!(want.1)
    {
        return Err(fail(format!(
            "the container's endpoint on {name} is {ep}; dockerd: GlobalIPv6Address {}, \
             GlobalIPv6PrefixLen 64, IPv6Gateway {}",
            want.0, want.1
        )));
    }
    let resp = ctx.send(Req::get(format!("/networks/{}", enc(&name))))?;
    let v = json_body(&resp, "network inspect")?;
    let listed = &v["Containers"][&server]["IPv6Address"];
    if *listed != json!(format!("{}/64", want.0)) {
        return Err(fail_at(
            &resp,
            format!(
                "the network lists the container's IPv6Address as {listed}; dockerd: {}/64",
                want.0
            ),
        ));
    }
    // A second server at a chosen address, reached from a third container
    // over IPv6.
    let fixed = format!("{p}:99");
    let second = made.container(&name, &["tcp-serve", PORT, "fixed6"], Some(&fixed))?;
    super::network::wait_listening(ctx, &second)?;
    let info = ctx.inspect(&second)?;
    let ep = &info["NetworkSettings"]["Networks"][&name];
    if ep["GlobalIPv6Address"] != json!(fixed) || ep["IPAMConfig"]["IPv6Address"] != json!(fixed) {
        return Err(fail(format!(
            "the second container's endpoint is {ep}; dockerd: GlobalIPv6Address {fixed} \
             and IPAMConfig.IPv6Address {fixed}"
        )));
    }
    for (ip, text) in [(&fixed, "fixed6"), (&want.0, "srv6")] {
        let client = made.container(&name, &["tcp-connect", ip, PORT, "3000"], None)?;
        let code = ctx.wait(&client)?;
        let out = ctx.logs(&client)?.stdout_text();
        if code != 0 || out.trim() != format!("got {text}") {
            return Err(fail(format!(
                "tcp-connect to [{ip}]:{PORT} from the same network exited {code} with \
                 {out:?}; dockerd: 0, \"got {text}\""
            )));
        }
    }
    Ok(())
}

/// An IPv6-enabled network with this run's prefix (salted by `what`): its
/// name and its IPv6 prefix (`fd00:5353:HHHH:`).
fn v6_network(made: &mut Made, what: &str) -> Result<(String, String), Problem> {
    let p = prefix(made.ctx, what);
    let name = made.ctx.unique_name(what);
    let resp = made.network(json!({"Name": name, "EnableIPv6": true,
        "IPAM": {"Config": [{"Subnet": format!("{p}:/64")}]}}))?;
    expect_status(&resp, 201, "creating a network with an IPv6 subnet")?;
    Ok((name, p))
}

/// The lines of container `id`'s /etc/hosts that name `hostname`.
fn own_hosts_lines(ctx: &Ctx, id: &str, hostname: &str) -> Result<Vec<String>, Problem> {
    let (code, hosts) = super::network_props::exec(ctx, id, &["read", "/etc/hosts"])?;
    if code != 0 {
        return Err(fail(format!("reading /etc/hosts in {id} exited {code}")));
    }
    let suffix = format!("\t{hostname}");
    Ok(hosts
        .lines()
        .filter(|l| l.ends_with(&suffix))
        .map(String::from)
        .collect())
}

fn ipv6_etc_hosts(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let (net, p) = v6_network(&mut made, "v6-hosts")?;
    let started = made.container(&net, &["sleep", "60"], None)?;
    let info = ctx.inspect(&started)?;
    let ep = &info["NetworkSettings"]["Networks"][&net];
    let hostname = info["Config"]["Hostname"].as_str().unwrap_or_default();
    let want = vec![
        format!(
            "{}\t{hostname}",
            ep["IPAddress"].as_str().unwrap_or_default()
        ),
        format!("{p}:2\t{hostname}"),
    ];
    let got = own_hosts_lines(ctx, &started, hostname)?;
    if got != want {
        return Err(fail(format!(
            "a container started on {net} has {got:?} for its own name in /etc/hosts; \
             dockerd: {want:?} (the IPv4 line, then the IPv6 one)"
        )));
    }
    // On the default bridge, then connected live with a chosen IPv6
    // address.
    let late = made.container("bridge", &["sleep", "60"], None)?;
    let fixed = format!("{p}:77");
    let resp = ctx.send(
        Req::post(format!("/networks/{}/connect", enc(&net))).json(json!({
            "Container": late,
            "EndpointConfig": {"IPAMConfig": {"IPv6Address": fixed}},
        })),
    )?;
    expect_status(
        &resp,
        200,
        "connecting a running container to the IPv6 network",
    )?;
    let info = ctx.inspect(&late)?;
    let hostname = info["Config"]["Hostname"].as_str().unwrap_or_default();
    let nets = &info["NetworkSettings"]["Networks"];
    let want = vec![
        format!(
            "{}\t{hostname}",
            nets["bridge"]["IPAddress"].as_str().unwrap_or_default()
        ),
        format!(
            "{}\t{hostname}",
            nets[&net]["IPAddress"].as_str().unwrap_or_default()
        ),
        format!("{fixed}\t{hostname}"),
    ];
    let got = own_hosts_lines(ctx, &late, hostname)?;
    if got != want {
        return Err(fail(format!(
            "after a live connect to {net} /etc/hosts has {got:?} for the container's own \
             name; dockerd: {want:?} (the new IPv4 and IPv6 addresses appended)"
        )));
    }
    Ok(())
}

/// Runs a probe container on `net` to its end: exit code, stdout, stderr.
fn run_on(made: &mut Made, net: &str, args: &[&str]) -> Result<(i64, String, String), Problem> {
    let id = made.container(net, args, None)?;
    let code = made.ctx.wait(&id)?;
    let logs = made.ctx.logs(&id)?;
    Ok((code, logs.stdout_text(), logs.stderr_text()))
}

fn ipv6_dns(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let (net, p) = v6_network(&mut made, "v6-dns")?;
    let server = ctx.unique_name("v6-dns-srv");
    let id = made.named(Some(&server), &net, &["sleep", "60"], None)?;
    let ep = ctx.inspect(&id)?["NetworkSettings"]["Networks"][&net].clone();
    let (v4, v6) = (
        ep["IPAddress"].as_str().unwrap_or_default().to_string(),
        ep["GlobalIPv6Address"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    if v6 != format!("{p}:2") {
        return Err(fail(format!(
            "the container's GlobalIPv6Address on {net} is {v6:?}; dockerd: {p}:2"
        )));
    }
    // Another container on an IPv4-only network, connected live to the
    // IPv6 one with an alias.
    let v4net = ctx.unique_name("v6-dns-v4");
    let resp = made.network(json!({"Name": v4net}))?;
    expect_status(&resp, 201, "creating an IPv4-only network")?;
    let other = ctx.unique_name("v6-dns-late");
    let late = made.named(Some(&other), &v4net, &["sleep", "60"], None)?;
    let alias = format!("{other}-al");
    let resp = ctx.send(
        Req::post(format!("/networks/{}/connect", enc(&net))).json(json!({
            "Container": late,
            "EndpointConfig": {"Aliases": [alias]},
        })),
    )?;
    expect_status(
        &resp,
        200,
        "connecting a running container to the IPv6 network",
    )?;
    let late_v6 = ctx.inspect(&late)?["NetworkSettings"]["Networks"][&net]["GlobalIPv6Address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let scoped = format!("{server}.{net}");
    let q =
        |name: &str, kind: &str| ["--", "dns-query", name, "127.0.0.11", kind].map(String::from);
    let mut args: Vec<String> = vec!["echo".into(), "start".into()];
    for (name, kind) in [
        (server.as_str(), "aaaa"),
        (scoped.as_str(), "aaaa"),
        (server.as_str(), "a"),
        (v6.as_str(), "ptr"),
        (alias.as_str(), "aaaa"),
        (other.as_str(), "aaaa"),
    ] {
        args.extend(q(name, kind));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_on(&mut made, &net, &args)?;
    let want = format!("start\n{v6}\n{v6}\n{v4}\n{scoped}\n{late_v6}\n{late_v6}\n");
    if code != 0 || out != want || late_v6.is_empty() {
        return Err(fail(format!(
            "a container on {net} (exit {code}) asked 127.0.0.11 for AAAA {server}, AAAA \
             {scoped}, A {server}, PTR {v6}, AAAA {alias} and AAAA {other}: {out:?}, \
             stderr {err:?}"
        ))
        .note(format!("dockerd: exit 0 and {want:?}")));
    }
    // A name known only on an IPv4 network has no AAAA record.
    let (code, out, err) = run_on(
        &mut made,
        &v4net,
        &["dns-query", &other, "127.0.0.11", "aaaa"],
    )?;
    if code == 0 || !out.is_empty() || !err.contains("no answer") {
        return Err(fail(format!(
            "AAAA {other} asked on the IPv4-only {v4net}: exit {code}, {out:?}, stderr {err:?}; \
             dockerd: no answer (an empty reply, not NXDOMAIN)"
        )));
    }
    Ok(())
}
