//! A sequence for people: one line per step, and a POSIX shell script of
//! curl commands that replays it against the same endpoint.

use super::sut::{container_cmd, exec_cmd, Names};
use super::{precondition, step, FileWrite, Op, State, Support};
use crate::client::Target;
use crate::filetree::{show, Tree};
use crate::ground::{COMMIT_REPO, RUN_LABEL};
use std::fmt::Write as _;

/// One line per step, e.g. `create k0 from image 0 (server, exit 3)`.
pub fn describe_op(op: &Op) -> String {
    let w = |w: &FileWrite| format!("{}/{}={:?}", w.place.dir(), w.name, w.content);
    match op {
        Op::Create {
            image,
            server,
            code,
            volume,
            write,
        } => format!(
            "create from image {image} ({} {code}{}{})",
            if *server { "trap-term" } else { "exit" },
            volume.map(|v| format!(", volume v{v}")).unwrap_or_default(),
            write
                .as_ref()
                .map(|x| format!(", first start writes {}", w(x)))
                .unwrap_or_default()
        ),
        Op::Start(c) => format!("start k{c}"),
        Op::Stop(c) => format!("stop k{c}"),
        Op::Kill(c) => format!("kill k{c}"),
        Op::Pause(c) => format!("pause k{c}"),
        Op::Unpause(c) => format!("unpause k{c}"),
        Op::Restart(c) => format!("restart k{c}"),
        Op::Wait(c) => format!("wait k{c}"),
        Op::Remove { c, force } => format!("rm{} k{c}", if *force { " -f" } else { "" }),
        Op::ExecWrite { c, write } => format!("exec k{c}: write {}", w(write)),
        Op::ExecDelete { c, name } => format!("exec k{c}: delete /data/{name}"),
        Op::ExecDump(c) => format!("exec k{c}: dump"),
        Op::Commit(c) => format!("commit k{c}"),
        Op::Tag(i) => format!("tag image {i}"),
        Op::Rmi { image, tag } => format!("rmi {tag} (image {image})"),
        Op::VolumeCreate => "volume create".into(),
        Op::VolumeRemove(v) => format!("volume rm v{v}"),
        Op::ViewImage(i) => format!("fresh container from image {i}: dump /data"),
        Op::ViewVolume(v) => format!("fresh container with v{v}: dump /vol"),
    }
}

/// Shell-quotes for a single-quoted string.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A POSIX shell script of curl commands that replays `ops` against the
/// same endpoint and prints each answer beside the model's prediction.
pub fn replay_script(
    target: &Target,
    api: &str,
    fixture_id: &str,
    ops: &[Op],
    support: Support,
) -> String {
    let mut out = String::new();
    let (curl, base) = match target {
        Target::Unix(p) => (
            format!("curl -sS --unix-socket {}", sq(&p.display().to_string())),
            format!("http://localhost/v{api}"),
        ),
        Target::Tcp(h) => ("curl -sS".to_string(), format!("http://{h}/v{api}")),
        // curl has no ssh transport; TLS would need the certificate flags.
        other => (
            format!("curl -sS  # reach {other} ({}) yourself", other.transport()),
            format!("http://localhost/v{api}"),
        ),
    };
    let _ = writeln!(
        out,
        "#!/bin/sh\n# Replays a shipshape model/lifecycle failure. Needs curl and the fixture\n\
         # image loaded (shipshape fixture -o f.tar; then POST it to /images/load).\n\
         # Each step prints the endpoint's status and the model's prediction.\n\
         set -u\nRUN=${{RUN:-replay$$}}\nFIXTURE=${{FIXTURE:-{fixture_id}}}\nB={base}\n\
         c() {{ {curl} \"$@\"; }}\n\
         step() {{ want=$1; shift; got=$(c -o /tmp/shipshape-replay.$$ -w '%{{http_code}}' \"$@\"); \
         body=$(head -c 400 /tmp/shipshape-replay.$$ | tr -d '\\000-\\010'); \
         if [ \"$got\" = \"$want\" ]; then m=ok; else m=MISMATCH; fi; \
         echo \"$m: $* -> $got (model: $want) $body\"; }}\n\
         json() {{ step \"$1\" -X POST -H 'Content-Type: application/json' -d \"$2\" \"$3\"; }}\n\
         LABEL='\"Labels\":{{\"{RUN_LABEL}\":\"'$RUN'\"}}'"
    );
    let names = Names {
        prefix: "shipshape-$RUN".into(),
        tag_prefix: "$RUN".into(),
        fixture_ref: "$FIXTURE".into(),
    };
    let mut s = State::new(support);
    let mut nc = 0;
    let mut nv = 0;
    for (k, op) in ops.iter().enumerate() {
        if !precondition(&s, op) {
            continue;
        }
        let (next, p) = step(s.clone(), op);
        let _ = writeln!(out, "\n# step {}: {}", k + 1, describe_op(op));
        let cpath =
            |i: usize, rest: &str| format!("\"$B/containers/{}{rest}\"", names.container(i));
        let st = p.status;
        match op {
            Op::Create {
                image,
                server,
                code,
                volume,
                write,
            } => {
                let cmd = serde_json::to_string(&container_cmd(*server, *code, write))
                    .unwrap_or_default();
                let binds = volume
                    .map(|v| {
                        format!(
                            ",\"HostConfig\":{{\"Binds\":[\"{}:/vol\"]}}",
                            names.volume(v)
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "json {st} '{{\"Image\":\"'\"{}\"'\",\"Cmd\":{cmd}{binds},'\"$LABEL\"'}}' \"$B/containers/create?name={}\"",
                    names.image_ref(&s, *image),
                    names.container(nc)
                );
                nc += 1;
            }
            Op::Start(i) | Op::Restart(i) => {
                let rest = if matches!(op, Op::Start(_)) {
                    "/start"
                } else {
                    "/restart?t=10"
                };
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, rest));
                if st == 204 {
                    let _ = writeln!(
                        out,
                        "sleep 1  # let the probe install its SIGTERM handler / exit"
                    );
                }
            }
            Op::Stop(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/stop?t=10"));
            }
            Op::Kill(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/kill"));
            }
            Op::Pause(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/pause"));
            }
            Op::Unpause(i) => {
                let _ = writeln!(out, "step {st} -X POST {}", cpath(*i, "/unpause"));
            }
            Op::Wait(i) => {
                let _ = writeln!(
                    out,
                    "step {st} -X POST {}  # model: StatusCode {:?}",
                    cpath(*i, "/wait"),
                    p.exit
                );
            }
            Op::Remove { c, force } => {
                let q = if *force { "?force=1" } else { "" };
                let _ = writeln!(out, "step {st} -X DELETE {}", cpath(*c, q));
            }
            Op::ExecWrite { c, .. } | Op::ExecDelete { c, .. } | Op::ExecDump(c) => {
                let cmd = serde_json::to_string(&exec_cmd(op, &s)).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "json {st} '{{\"Cmd\":{cmd},\"AttachStdout\":true,\"AttachStderr\":true}}' {}",
                    cpath(*c, "/exec")
                );
                if st == 201 {
                    let _ = writeln!(
                        out,
                        "E=$(sed -n 's/.*\"Id\":\"\\([0-9a-f]*\\)\".*/\\1/p' /tmp/shipshape-replay.$$)\n\
                         c -X POST -H 'Content-Type: application/json' -d '{{\"Detach\":false}}' \"$B/exec/$E/start\" | od -c | head -20\n\
                         step 200 \"$B/exec/$E/json\"  # model: ExitCode {:?}",
                        p.exit
                    );
                }
            }
            Op::Commit(c) => {
                let sym = next
                    .images
                    .last()
                    .and_then(|im| im.tags.first())
                    .cloned()
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "step {st} -X POST \"$B/commit?container={}&repo={COMMIT_REPO}&tag={}\"  # model: {:?} layers",
                    names.container(*c),
                    names.tag(&sym),
                    p.layers
                );
            }
            Op::Tag(i) => {
                let sym = next
                    .images
                    .get(*i)
                    .and_then(|im| im.tags.last())
                    .cloned()
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "step {st} -X POST \"$B/images/{}/tag?repo={COMMIT_REPO}&tag={}\"",
                    names.image_ref(&s, *i),
                    names.tag(&sym)
                );
            }
            Op::Rmi { tag, .. } => {
                let _ = writeln!(
                    out,
                    "step {st} -X DELETE \"$B/images/{}\"  # model: image deleted {:?}",
                    names.tag_ref(tag),
                    p.deletes_image
                );
            }
            Op::VolumeCreate => {
                let _ = writeln!(
                    out,
                    "json {st} '{{\"Name\":\"'\"{}\"'\",'\"$LABEL\"'}}' \"$B/volumes/create\"",
                    names.volume(nv)
                );
                nv += 1;
            }
            Op::VolumeRemove(v) => {
                let _ = writeln!(
                    out,
                    "step {st} -X DELETE \"$B/volumes/{}\"",
                    names.volume(*v)
                );
            }
            Op::ViewImage(_) | Op::ViewVolume(_) => {
                let _ = writeln!(
                    out,
                    "# (a throwaway container dumps the files; the model expects {})",
                    show(p.data.as_ref().or(p.vol.as_ref()).unwrap_or(&Tree::new()))
                );
            }
        }
        s = next;
    }
    let _ = writeln!(out, "\n# cleanup");
    for i in 0..nc {
        let _ = writeln!(
            out,
            "c -X DELETE {} >/dev/null",
            format_args!("\"$B/containers/{}?force=1\"", names.container(i))
        );
    }
    for im in s.images.iter().skip(1) {
        for t in &im.tags {
            let _ = writeln!(
                out,
                "c -X DELETE \"$B/images/{}\" >/dev/null",
                names.tag_ref(t)
            );
        }
    }
    for v in 0..nv {
        let _ = writeln!(
            out,
            "c -X DELETE \"$B/volumes/{}\" >/dev/null",
            names.volume(v)
        );
    }
    let _ = writeln!(out, "rm -f /tmp/shipshape-replay.$$");
    out
}
