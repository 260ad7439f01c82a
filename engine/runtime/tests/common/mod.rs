//! Shared fixture: a tiny rootfs made of host binaries and their libraries (as
//! `ldd` lists them), so no image download is needed.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{mpsc, Arc, OnceLock};

use shipshape_runtime::supervisor::{ExitStatus, Supervisor};
use shipshape_runtime::{Network, ProcessSpec, Spawned};

pub const BINARIES: &[&str] = &[
    "/bin/sh",
    "/bin/cat",
    "/bin/echo",
    "/usr/bin/id",
    "/bin/hostname",
    "/bin/sleep",
    "/bin/ls",
    "/usr/bin/touch",
    "/bin/true",
];

pub const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1002:Alice:/home/alice:/bin/sh\n";
pub const GROUP: &str = "root:x:0:\nalice:x:1002:\nextra:x:1500:alice\n";

pub struct Fixture {
    /// Read-only base layer with the binaries.
    pub layer: PathBuf,
    /// Scratch space for per-test container dirs.
    pub scratch: PathBuf,
    pub supervisor: Arc<Supervisor>,
}

pub fn is_root() -> bool {
    // SAFETY: trivial getter.
    unsafe { libc::geteuid() == 0 }
}

/// Skip (return None) when not root: namespaces and mounts need it.
pub fn fixture() -> Option<&'static Fixture> {
    if !is_root() {
        eprintln!("skipping: container tests need root");
        return None;
    }
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    Some(FIXTURE.get_or_init(|| {
        // A fixed place under the target dir (no static destructors would
        // clean a tempdir): rebuilt from scratch on every run.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtime-fixture");
        let _ = fs::remove_dir_all(&base);
        let layer = base.join("layer");
        build_layer(&layer);
        // ldd above used Command::output(): start the reaper only afterwards.
        shipshape_runtime::set_init_program(env!("CARGO_BIN_EXE_shipshape-runtime-init"));
        let supervisor = Supervisor::start().expect("supervisor");
        let scratch = base.join("scratch");
        fs::create_dir_all(&scratch).unwrap();
        Fixture {
            layer,
            scratch,
            supervisor,
        }
    }))
}

fn copy_file(src: &Path, root: &Path) {
    let dst = root.join(src.strip_prefix("/").unwrap());
    fs::create_dir_all(dst.parent().unwrap()).unwrap();
    let data = fs::read(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    fs::write(&dst, data).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
}

fn build_layer(root: &Path) {
    for bin in BINARIES {
        copy_file(Path::new(bin), root);
        let out = Command::new("ldd").arg(bin).output().expect("ldd");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            for token in line.split_whitespace() {
                if token.starts_with('/') {
                    copy_file(Path::new(token), root);
                }
            }
        }
    }
    for d in ["etc", "tmp", "root", "home/alice"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    fs::write(root.join("etc/group"), GROUP).unwrap();
    fs::write(root.join("etc/hostname"), "image\n").unwrap();
}

/// A container dir with the fixture layer mounted (overlay) as its root.
pub struct Container {
    pub dir: tempfile::TempDir,
    pub rootfs: PathBuf,
}

impl Container {
    pub fn new(f: &Fixture) -> Container {
        let dir = tempfile::tempdir_in(&f.scratch).unwrap();
        let rootfs =
            shipshape_runtime::mount_rootfs(std::slice::from_ref(&f.layer), dir.path()).unwrap();
        Container { dir, rootfs }
    }

    pub fn spec(&self, args: &[&str]) -> ProcessSpec {
        ProcessSpec {
            rootfs: self.rootfs.clone(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
            cwd: "/".into(),
            user: String::new(),
            group_add: vec![],
            hostname: "testbox".into(),
            domainname: String::new(),
            sysctls: Default::default(),
            tty: false,
            open_stdin: false,
            init: false,
            readonly_rootfs: false,
            mounts: vec![],
            tmpfs: vec![],
            network: Network::None,
            veths: Vec::new(),
            dns_bind: None,
            cgroups: vec![],
            security: Default::default(),
            devices: vec![],
            namespaces: Default::default(),
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = shipshape_runtime::unmount_rootfs(self.dir.path());
    }
}

/// Read a stream to its end; a pty master reports the end as EIO.
pub fn read_all(mut f: fs::File) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

/// Watch the process, then drain its output and wait for its exit.
pub fn finish(f: &Fixture, s: Spawned) -> Finished {
    let (tx, rx) = mpsc::channel();
    f.supervisor.watch(
        s.pid,
        Box::new(move |st| {
            let _ = tx.send(st);
        }),
    );
    drop(s.stdin);
    let err_reader = s.stderr.map(|e| std::thread::spawn(move || read_all(e)));
    let stdout = read_all(s.stdout);
    let stderr = err_reader.map(|t| t.join().unwrap()).unwrap_or_default();
    let status = rx.recv().expect("exit status");
    Finished {
        stdout,
        stderr,
        status,
    }
}

pub fn run(f: &Fixture, spec: &ProcessSpec) -> Finished {
    let s = shipshape_runtime::spawn(spec).unwrap_or_else(|e| panic!("spawn {:?}: {e}", spec.args));
    finish(f, s)
}
