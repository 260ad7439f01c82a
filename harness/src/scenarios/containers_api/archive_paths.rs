//! `/containers/{id}/archive` on the paths moby's own tests copy
//! (`TestCopyFromContainer`, `TestCopyToContainerPathIsNotDir`), as
//! dockerd 20.10.24 answers them (read with curl on this host, 2026-12-03,
//! on a created container):
//! - GET of `/`: a tar whose entries are named from `/`: `/` itself, then
//!   `/.dockerenv`, `/bin/`, `/bin/[`, ... (a file put at /tmp/f is `/tmp/f`);
//! - GET of a symbolic link to `/`: one entry, the link, target `/`;
//! - PUT into a file's path with a trailing slash (`/etc/passwd/`): 500
//!   `extraction point is not a directory`, as into the file itself.

use super::{expect_error, Made};
use crate::client::{enc, Req, Response};
use crate::ground::{expect_status, fail, fail_at, Ctx, Outcome, Problem};
use crate::scenarios::{scenario, Scenario};
use std::io::Read;

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario(
        "containers-api",
        "archive-root-and-trailing-slash",
        true,
        root_and_trailing_slash,
    )]
}

/// A tar holding the file `f` ("hi\n") and the link `root` -> `/`. The link
/// target is written into the header as is: tar-rs's setter writes `/` as
/// `//`.
fn file_and_root_link() -> Result<Vec<u8>, Problem> {
    let bad = |e: std::io::Error| fail(format!("writing a tar: {e}"));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "f", &b"hi\n"[..]).map_err(bad)?;
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o777);
    h.set_entry_type(tar::EntryType::Symlink);
    h.as_old_mut().name[..4].copy_from_slice(b"root");
    h.as_old_mut().linkname[0] = b'/';
    h.set_cksum();
    b.append(&h, std::io::empty()).map_err(bad)?;
    b.into_inner().map_err(bad)
}

/// (name, link target, content) of every entry of a tar answer.
fn listing(resp: &Response) -> Result<Vec<(String, String, String)>, Problem> {
    let bad = |e: std::io::Error| fail_at(resp, format!("the answer is not a tar: {e}"));
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(&resp.body[..]);
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        let mut data = Vec::new();
        if e.header().entry_type() == tar::EntryType::Regular {
            e.read_to_end(&mut data).map_err(bad)?;
        }
        // Binaries (the probe) are not text: compared lossily.
        out.push((name, link, String::from_utf8_lossy(&data).into_owned()));
    }
    Ok(out)
}

fn root_and_trailing_slash(ctx: &Ctx) -> Outcome {
    let mut made = Made::new(ctx);
    let id = made.create(ctx.probe_config(&["exit", "0"])?, None)?;
    let archive = |path: &str| format!("/containers/{}/archive?path={}", enc(&id), enc(path));
    let resp = ctx.send(
        Req::new(hyper::Method::PUT, archive("/tmp"))
            .raw(file_and_root_link()?, "application/x-tar"),
    )?;
    expect_status(&resp, 200, "PUT of a file and a link to / into /tmp")?;

    let resp = ctx.send(Req::get(archive("/")))?;
    expect_status(&resp, 200, "GET of /")?;
    let got = listing(&resp)?;
    let has = |name: &str, data: &str| got.iter().any(|(n, _, d)| n == name && d == data);
    if got.first().map(|(n, _, _)| n.as_str()) != Some("/")
        || !has("/tmp/", "")
        || !has("/tmp/f", "hi\n")
    {
        let names: Vec<&str> = got.iter().take(8).map(|(n, _, _)| n.as_str()).collect();
        return Err(fail_at(
            &resp,
            format!("GET of / gave {} entries, the first {names:?}; dockerd: \"/\" first, then \"/tmp/\" and \"/tmp/f\" (\"hi\\n\") among them", got.len()),
        ));
    }

    let resp = ctx.send(Req::get(archive("/tmp/root")))?;
    expect_status(&resp, 200, "GET of a link to /")?;
    let got = listing(&resp)?;
    let want = vec![("root".to_string(), "/".to_string(), String::new())];
    if got != want {
        return Err(fail_at(
            &resp,
            format!("GET of /tmp/root (a link to /) gave {got:?}; dockerd: {want:?}"),
        ));
    }

    for path in ["/tmp/f/", "/tmp/f"] {
        let resp = ctx.send(
            Req::new(hyper::Method::PUT, archive(path))
                .raw(file_and_root_link()?, "application/x-tar"),
        )?;
        expect_error(
            &resp,
            500,
            "extraction point is not a directory",
            &format!("PUT into {path}"),
        )?;
    }
    Ok(())
}
