//! Resolving `User` ("", "uid", "uid:gid", "name", "name:group") against the
//! container's /etc/passwd and /etc/group, with runc's semantics:
//! * a numeric uid without a passwd entry is fine (gid 0, HOME /);
//! * an unknown user *name* is an error;
//! * supplementary groups are the /etc/group entries listing the user, unless a
//!   group was given explicitly.

use std::io;

use crate::error::RuntimeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub sgids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry<'_>> {
    lines(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?,
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry<'_>> {
    lines(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?,
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// uids/gids must be in 0..=i32::MAX (as runc requires).
fn parse_id(s: &str) -> Option<Result<u32, ()>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        s.parse::<u32>()
            .ok()
            .filter(|n| *n <= i32::MAX as u32)
            .ok_or(()),
    )
}

/// Resolve `spec` from the text of /etc/passwd and /etc/group (None = file absent).
pub(crate) fn resolve(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ExecUser, RuntimeError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let invalid = |reason: &str| RuntimeError::InvalidUser {
        user: spec.to_string(),
        reason: reason.to_string(),
    };
    let users = passwd.map(parse_passwd).unwrap_or_default();
    let groups = group.map(parse_group).unwrap_or_default();

    let mut out = ExecUser {
        uid: 0,
        gid: 0,
        sgids: vec![],
        home: "/".into(),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let numeric = parse_id(user_part);
    if let Some(Err(())) = numeric {
        return Err(invalid("uids and gids must be in range 0-2147483647"));
    }
    let entry = users
        .iter()
        .find(|u| u.name == user_part || numeric == Some(Ok(u.uid)));
    let matched_name = match (entry, numeric) {
        (Some(e), _) => {
            out.uid = e.uid;
            out.gid = e.gid;
            if !e.home.is_empty() {
                out.home = e.home.to_string();
            }
            Some(e.name)
        }
        (None, Some(Ok(uid))) => {
            out.uid = uid;
            None
        }
        (None, _) => return Err(invalid("no matching entries in passwd file")),
    };

    match group_part {
        Some(g) if !g.is_empty() => match parse_id(g) {
            Some(Err(())) => return Err(invalid("uids and gids must be in range 0-2147483647")),
            Some(Ok(gid)) => out.gid = gid,
            None => {
                let Some(found) = groups.iter().find(|e| e.name == g) else {
                    return Err(RuntimeError::InvalidUser {
                        user: spec.to_string(),
                        reason: format!(
                            "unable to find group {g}: no matching entries in group file"
                        ),
                    });
                };
                out.gid = found.gid;
            }
        },
        _ => {
            if let Some(name) = matched_name {
                for g in groups.iter().filter(|g| g.members.contains(&name)) {
                    if !out.sgids.contains(&g.gid) {
                        out.sgids.push(g.gid);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn read_optional(path: &str) -> Result<Option<String>, RuntimeError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Ok(None)
        }
        Err(e) => Err(RuntimeError::Io(io::Error::new(
            e.kind(),
            format!("read {path}: {e}"),
        ))),
    }
}

/// The groups to `setgroups`, as dockerd's containers get them: the primary
/// group, the user's groups from /etc/group, then `GroupAdd` (numbers as
/// they are, names from the container's /etc/group; an unknown name fails
/// the start with runc's words). Call after pivot_root/setns.
pub(crate) fn supplementary_groups(
    user: &ExecUser,
    group_add: &[String],
) -> Result<Vec<u32>, RuntimeError> {
    let mut out = vec![user.gid];
    let text = if group_add.is_empty() {
        None
    } else {
        read_optional("/etc/group")?
    };
    let extra = additional_groups(group_add, text.as_deref())?;
    for g in user.sgids.iter().copied().chain(extra) {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

fn additional_groups(names: &[String], group: Option<&str>) -> Result<Vec<u32>, RuntimeError> {
    let groups = group.map(parse_group).unwrap_or_default();
    names
        .iter()
        .map(|name| {
            if let Some(e) = groups.iter().find(|e| e.name == name) {
                return Ok(e.gid);
            }
            match parse_id(name) {
                Some(Ok(gid)) => Ok(gid),
                Some(Err(())) => Err(RuntimeError::Other(format!(
                    "Unable to find group {name}: uids and gids must be in range 0-2147483647"
                ))),
                None => Err(RuntimeError::Other(format!(
                    "Unable to find group {name}: no matching entries in group file"
                ))),
            }
        })
        .collect()
}

/// Resolve against the files of the current root (call after pivot_root/setns).
pub(crate) fn resolve_from_files(spec: &str) -> Result<ExecUser, RuntimeError> {
    let passwd = read_optional("/etc/passwd")?;
    let group = read_optional("/etc/group")?;
    resolve(spec, passwd.as_deref(), group.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          alice:x:1001:1002:Alice:/home/alice:/bin/sh\n\
                          # comment\n\
                          42:x:4242:4242::/numeric-name:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1002:\nextra:x:1500:bob,alice\nother:x:1600:bob\n";

    fn r(spec: &str) -> Result<ExecUser, RuntimeError> {
        resolve(spec, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn resolves_like_runc() {
        assert_eq!(
            r("").unwrap(),
            ExecUser {
                uid: 0,
                gid: 0,
                sgids: vec![],
                home: "/root".into()
            }
        );
        assert_eq!(
            r("alice").unwrap(),
            ExecUser {
                uid: 1001,
                gid: 1002,
                sgids: vec![1500],
                home: "/home/alice".into()
            }
        );
        assert_eq!(
            r("alice:extra").unwrap(),
            ExecUser {
                uid: 1001,
                gid: 1500,
                sgids: vec![],
                home: "/home/alice".into()
            }
        );
        assert_eq!(
            r("1000:1000").unwrap(),
            ExecUser {
                uid: 1000,
                gid: 1000,
                sgids: vec![],
                home: "/".into()
            }
        );
        assert_eq!(r("1001").unwrap().gid, 1002);
        assert_eq!(r("42").unwrap().uid, 4242, "names win over numeric ids");
        assert_eq!(resolve("7", None, None).unwrap().uid, 7);
    }

    #[test]
    fn group_add_by_number_and_name() {
        let alice = r("alice").unwrap();
        assert_eq!(
            additional_groups(&["7".into(), "other".into()], Some(GROUP)).unwrap(),
            vec![7, 1600]
        );
        assert_eq!(
            additional_groups(&["nosuch".into()], Some(GROUP))
                .unwrap_err()
                .to_string(),
            "Unable to find group nosuch: no matching entries in group file"
        );
        assert_eq!(alice.gid, 1002);
        assert_eq!(alice.sgids, vec![1500]);
    }

    #[test]
    fn unknown_names_are_user_errors() {
        let e = r("bob").unwrap_err();
        assert!(e.is_user_error());
        assert_eq!(
            e.to_string(),
            "unable to find user bob: no matching entries in passwd file"
        );
        assert!(matches!(
            r("alice:nogroup"),
            Err(RuntimeError::InvalidUser { .. })
        ));
        assert!(matches!(
            resolve("alice", None, None),
            Err(RuntimeError::InvalidUser { .. })
        ));
        assert!(matches!(
            r("4294967296"),
            Err(RuntimeError::InvalidUser { .. })
        ));
        assert!(matches!(
            r("2147483648"),
            Err(RuntimeError::InvalidUser { .. })
        ));
    }
}
