//! `probe`: the only program inside Shipshape's fixture image.
//!
//! The fixture image has no shell and no coreutils (nothing can be pulled, so
//! the harness builds its image from scratch), so every action a scenario needs
//! inside a container is a subcommand here. Several subcommands can be chained
//! with `--` separators: `probe write /a x -- read /a`. The chain stops at the
//! first command that fails, and the process exits with that command's code.
//!
//! This file must stay std-only: harness/build.rs compiles it directly with
//! `rustc -C target-feature=+crt-static`, without Cargo, so no crates are
//! available. The few libc functions std does not wrap are declared by hand.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

extern "C" {
    // From the C library (static glibc). `sighandler_t` is a pointer-sized
    // integer, which `usize` matches on every Linux target we build for.
    fn signal(signum: i32, handler: usize) -> usize;
    fn getuid() -> u32;
    fn getgid() -> u32;
    // glibc >= 2.33 exports mknod as a real function (static glibc too).
    fn mknod(path: *const std::ffi::c_char, mode: u32, dev: u64) -> i32;
    fn syscall(number: i64, ...) -> i64;
}

/// Syscalls `try-syscall` knows: (name, number on this arch, arguments).
/// Chosen so each succeeds for root without a seccomp filter and is refused
/// by Docker's default profile: personality with a persona outside the
/// profile's allowed values (READ_IMPLIES_EXEC), and keyctl (the kernel
/// keyring is not namespaced, so the profile denies it outright); and
/// unshare of a UTS namespace, which the profile allows only with
/// CAP_SYS_ADMIN (and which needs that capability anyway).
#[cfg(target_arch = "x86_64")]
const SYSCALLS: &[(&str, i64, [i64; 3])] = &[
    ("personality", 135, [0x0400000, 0, 0]),
    ("personality-query", 135, [0xffffffff, 0, 0]),
    ("keyctl", 250, [0, -3, 1]),
    ("unshare-uts", 272, [0x04000000, 0, 0]),
];
#[cfg(target_arch = "aarch64")]
const SYSCALLS: &[(&str, i64, [i64; 3])] = &[
    ("personality", 92, [0x0400000, 0, 0]),
    ("personality-query", 92, [0xffffffff, 0, 0]),
    ("keyctl", 219, [0, -3, 1]),
    ("unshare-uts", 97, [0x04000000, 0, 0]),
];

const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;

const SIGTERM: i32 = 15;

static TERM_RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_signum: i32) {
    // Only an atomic store: anything else is not async-signal-safe.
    TERM_RECEIVED.store(true, Ordering::SeqCst);
}

/// Outcome of one command: `Ok(())` continues the chain, `Err(code)` stops it
/// and becomes the exit status. `Skip` lets `guard` skip to the matching `end`.
enum Flow {
    Next,
    Skip,
}

type CmdResult = Result<Flow, i32>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        usage_error("no command given");
    }
    let commands: Vec<&[String]> = args.split(|a| a == "--").collect();
    let mut skipping = false;
    for cmd in commands {
        if cmd.is_empty() {
            continue;
        }
        if skipping {
            // Inside a guarded block whose marker already existed.
            if cmd[0] == "end" {
                skipping = false;
            }
            continue;
        }
        match run(cmd) {
            Ok(Flow::Next) => {}
            Ok(Flow::Skip) => skipping = true,
            Err(code) => {
                let _ = io::stdout().flush();
                process::exit(code);
            }
        }
    }
    let _ = io::stdout().flush();
}

fn usage_error(msg: &str) -> ! {
    eprintln!("probe: {msg}");
    eprintln!(
        "usage: probe CMD [ARGS...] [-- CMD [ARGS...]]...\n\
         commands: echo ARGS..., write PATH CONTENT, append PATH CONTENT, read PATH,\n\
         delete PATH, chmod PATH OCTAL, ls DIR, stat PATH, readlink PATH, dump DIR, sleep SECS,\n\
         sparse PATH BYTES, exit N, env, hostname, pid, uid, cwd, trap-term CODE, stderr TEXT, cat,\n\
         lines N, guard PATH ... end, try-open PATH r|w, try-mknod PATH b|c MAJ MIN,\n\
         devstat PATH, orphan SECS, detach SECS, zombies,\n\
         tcp-serve PORT TEXT, tcp-connect HOST PORT MILLIS,\n\
         dns-query NAME|IP [SERVER[:PORT]] [a|aaaa|ptr|mx],\n\
         try-syscall personality|personality-query|keyctl|unshare-uts"
    );
    process::exit(2);
}

fn fail(msg: String) -> i32 {
    eprintln!("probe: {msg}");
    1
}

fn arg<'a>(cmd: &'a [String], i: usize, what: &str) -> Result<&'a str, i32> {
    match cmd.get(i) {
        Some(s) => Ok(s.as_str()),
        None => {
            eprintln!("probe: {}: missing {what}", cmd[0]);
            Err(2)
        }
    }
}

fn run(cmd: &[String]) -> CmdResult {
    let name = cmd[0].as_str();
    match name {
        "echo" => {
            println!("{}", cmd[1..].join(" "));
        }
        "write" | "append" => {
            let path = arg(cmd, 1, "PATH")?;
            let content = arg(cmd, 2, "CONTENT")?;
            write_file(path, content, name == "append")
                .map_err(|e| fail(format!("{name} {path}: {e}")))?;
        }
        "read" => {
            let path = arg(cmd, 1, "PATH")?;
            let data = fs::read(path).map_err(|e| fail(format!("read {path}: {e}")))?;
            io::stdout().write_all(&data).map_err(|_| 1)?;
        }
        "delete" => {
            let path = arg(cmd, 1, "PATH")?;
            let meta =
                fs::symlink_metadata(path).map_err(|e| fail(format!("delete {path}: {e}")))?;
            let res = if meta.is_dir() {
                fs::remove_dir_all(path)
            } else {
                fs::remove_file(path)
            };
            res.map_err(|e| fail(format!("delete {path}: {e}")))?;
        }
        "chmod" => {
            let path = arg(cmd, 1, "PATH")?;
            let mode = arg(cmd, 2, "OCTAL")?;
            let mode = u32::from_str_radix(mode, 8)
                .map_err(|_| fail(format!("chmod: bad octal mode {mode:?}")))?;
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .map_err(|e| fail(format!("chmod {path}: {e}")))?;
        }
        "ls" => {
            let dir = arg(cmd, 1, "DIR")?;
            let mut names = list_dir(dir).map_err(|e| fail(format!("ls {dir}: {e}")))?;
            names.sort();
            for n in names {
                println!("{n}");
            }
        }
        "stat" => {
            let path = arg(cmd, 1, "PATH")?;
            let meta = fs::symlink_metadata(path).map_err(|e| fail(format!("stat {path}: {e}")))?;
            println!(
                "{} mode={:04o} size={}",
                kind_of(&meta),
                meta.permissions().mode() & 0o7777,
                meta.len()
            );
        }
        "sparse" => {
            // `sparse PATH BYTES`: a file of BYTES that is one hole between
            // "head" and "tail" (a sparse file, as `dd seek=` makes one).
            let path = arg(cmd, 1, "PATH")?;
            let size: u64 = arg(cmd, 2, "BYTES")?
                .parse()
                .map_err(|_| fail(format!("sparse {path}: BYTES is not a number")))?;
            write_sparse(path, size.max(8)).map_err(|e| fail(format!("sparse {path}: {e}")))?;
        }
        "readlink" => {
            // `readlink PATH`: a symlink's target (`/proc/self/ns/ipc` names
            // the namespace, so two processes can be compared).
            let path = arg(cmd, 1, "PATH")?;
            let target = fs::read_link(path).map_err(|e| fail(format!("readlink {path}: {e}")))?;
            println!("{}", target.display());
        }
        "dump" => {
            let dir = arg(cmd, 1, "DIR")?;
            println!("== dump {dir}");
            dump(Path::new(dir), "").map_err(|e| fail(format!("dump {dir}: {e}")))?;
            println!("== end");
        }
        "sleep" => {
            let secs = arg(cmd, 1, "SECS")?;
            let secs: f64 = secs
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| fail(format!("sleep: bad duration {secs:?}")))?;
            thread::sleep(Duration::from_secs_f64(secs));
        }
        "exit" => {
            let code = arg(cmd, 1, "N")?;
            let code: i32 = code
                .parse()
                .map_err(|_| fail(format!("exit: bad code {code:?}")))?;
            let _ = io::stdout().flush();
            process::exit(code);
        }
        "env" => {
            let mut vars: Vec<(String, String)> = std::env::vars().collect();
            vars.sort();
            for (k, v) in vars {
                println!("{k}={v}");
            }
        }
        "hostname" => {
            let h = fs::read_to_string("/proc/sys/kernel/hostname")
                .map_err(|e| fail(format!("hostname: {e}")))?;
            println!("{}", h.trim_end());
        }
        "pid" => println!("{}", process::id()),
        // SAFETY: getuid/getgid cannot fail and have no preconditions.
        "uid" => println!("{}:{}", unsafe { getuid() }, unsafe { getgid() }),
        "cwd" => {
            let d = std::env::current_dir().map_err(|e| fail(format!("cwd: {e}")))?;
            println!("{}", d.display());
        }
        "trap-term" => {
            let code = arg(cmd, 1, "CODE")?;
            let code: i32 = code
                .parse()
                .map_err(|_| fail(format!("trap-term: bad code {code:?}")))?;
            let handler: extern "C" fn(i32) = on_sigterm;
            // SAFETY: the handler only performs an atomic store. As PID 1 in
            // a container, SIGTERM is ignored unless a handler is installed,
            // which is exactly what this command exists to exercise.
            unsafe {
                signal(SIGTERM, handler as usize);
            }
            println!("trap-term: waiting for SIGTERM");
            let _ = io::stdout().flush();
            while !TERM_RECEIVED.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            println!("trap-term: got SIGTERM, exiting {code}");
            let _ = io::stdout().flush();
            process::exit(code);
        }
        "stderr" => {
            eprintln!("{}", cmd[1..].join(" "));
        }
        "cat" => {
            let mut buf = Vec::new();
            io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| fail(format!("cat: {e}")))?;
            io::stdout().write_all(&buf).map_err(|_| 1)?;
        }
        "lines" => {
            let n = arg(cmd, 1, "N")?;
            let n: u64 = n
                .parse()
                .map_err(|_| fail(format!("lines: bad count {n:?}")))?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            for i in 1..=n {
                writeln!(out, "line {i}").map_err(|_| 1)?;
            }
        }
        "guard" => {
            // `guard PATH -- cmds... -- end`: run the block only if PATH does
            // not exist yet. Lets a container's command do its writes on the
            // first start only, so a restart shows what persisted.
            let path = arg(cmd, 1, "PATH")?;
            if Path::new(path).exists() {
                return Ok(Flow::Skip);
            }
        }
        "try-open" => {
            // Reports how open(2) went instead of failing the chain: the
            // security scenarios compare the errno itself (EPERM from the
            // device cgroup, EROFS from a read-only mount...).
            let path = arg(cmd, 1, "PATH")?;
            let mode = arg(cmd, 2, "r|w")?;
            let mut opts = fs::OpenOptions::new();
            match mode {
                "r" => opts.read(true),
                "w" => opts.write(true),
                other => return Err(fail(format!("try-open: bad mode {other:?}"))),
            };
            // O_NONBLOCK: a tty or fifo must not block the probe.
            let res = opts.custom_flags(0o4000).open(path).map(drop);
            println!("open {path} {mode}: {}", outcome(res));
        }
        "try-mknod" => {
            let path = arg(cmd, 1, "PATH")?;
            let kind = match arg(cmd, 2, "b|c")? {
                "b" => S_IFBLK,
                "c" => S_IFCHR,
                other => return Err(fail(format!("try-mknod: bad kind {other:?}"))),
            };
            let num = |i: usize, what: &str| -> Result<u64, i32> {
                let v = arg(cmd, i, what)?;
                v.parse()
                    .map_err(|_| fail(format!("try-mknod: bad {what} {v:?}")))
            };
            let (major, minor) = (num(3, "MAJ")?, num(4, "MIN")?);
            let c_path =
                std::ffi::CString::new(path).map_err(|_| fail("try-mknod: NUL in path".into()))?;
            // SAFETY: a valid NUL-terminated path and plain integers.
            let rc = unsafe { mknod(c_path.as_ptr(), kind | 0o600, makedev(major, minor)) };
            let res = if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            };
            println!("mknod {path}: {}", outcome(res));
        }
        "try-syscall" => {
            // `try-syscall NAME`: whether a seccomp filter lets it through
            // (EPERM is what Docker's default profile answers).
            let name = arg(cmd, 1, "NAME")?;
            let Some((_, nr, a)) = SYSCALLS.iter().find(|(n, _, _)| *n == name) else {
                return Err(fail(format!("try-syscall: unknown syscall {name:?}")));
            };
            // SAFETY: the listed syscalls take integer arguments only.
            let rc = unsafe { syscall(*nr, a[0], a[1], a[2]) };
            let res = if rc >= 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            };
            println!("syscall {name}: {}", outcome(res));
        }
        "devstat" => {
            // `devstat PATH`: the file type and, for device nodes, major:minor
            // (masked /proc files are binds of /dev/null, char 1:3).
            use std::os::unix::fs::{FileTypeExt, MetadataExt};
            let path = arg(cmd, 1, "PATH")?;
            match fs::symlink_metadata(path) {
                Ok(m) => {
                    let ft = m.file_type();
                    let (maj, min) = (major_of(m.rdev()), minor_of(m.rdev()));
                    if ft.is_char_device() {
                        println!("{path}: char {maj}:{min}");
                    } else if ft.is_block_device() {
                        println!("{path}: block {maj}:{min}");
                    } else {
                        println!("{path}: {}", kind_of(&m));
                    }
                }
                Err(e) => println!("{path}: {}", errno_name(&e)),
            }
        }
        "orphan" => {
            // `orphan SECS`: leaves a process that sleeps SECS and then
            // exits with no parent but the container's init (its parent,
            // `detach`, exits at once): whether it stays a zombie shows
            // whether pid 1 reaps.
            let secs = arg(cmd, 1, "SECS")?;
            process::Command::new("/proc/self/exe")
                .args(["detach", secs])
                .status()
                .map_err(|e| fail(format!("orphan: {e}")))?;
        }
        "detach" => {
            let secs = arg(cmd, 1, "SECS")?;
            process::Command::new("/proc/self/exe")
                .args(["sleep", secs])
                .spawn()
                .map_err(|e| fail(format!("detach: {e}")))?;
        }
        "zombies" => {
            // How many processes in the container are zombies (State: Z).
            let mut n = 0;
            for entry in fs::read_dir("/proc").map_err(|e| fail(format!("zombies: {e}")))? {
                let Ok(entry) = entry else { continue };
                let status = entry.path().join("status");
                if let Ok(text) = fs::read_to_string(status) {
                    if text
                        .lines()
                        .any(|l| l.starts_with("State:") && l.contains("Z"))
                    {
                        n += 1;
                    }
                }
            }
            println!("zombies: {n}");
        }
        "tcp-serve" => {
            // Answers TEXT to every connection, forever.
            let port = arg(cmd, 1, "port")?;
            let text = arg(cmd, 2, "text")?.to_string();
            // Both families where the kernel has IPv6 (a `::` socket takes
            // IPv4 too, as bindv6only is off by default), else IPv4 only.
            let port = port.parse::<u16>().unwrap_or(0);
            let l = std::net::TcpListener::bind(("::", port))
                .or_else(|_| std::net::TcpListener::bind(("0.0.0.0", port)))
                .map_err(|e| fail(format!("tcp-serve: {e}")))?;
            println!("listening");
            let _ = io::stdout().flush();
            for mut s in l.incoming().flatten() {
                let _ = s.write_all(text.as_bytes());
            }
        }
        "tcp-connect" => {
            // Prints what the server sent, or "unreachable" (exit 1).
            let host = arg(cmd, 1, "host")?;
            let port: u16 = arg(cmd, 2, "port")?.parse().unwrap_or(0);
            let ms: u64 = arg(cmd, 3, "millis")?.parse().unwrap_or(1000);
            let addr = std::net::SocketAddr::new(
                host.parse()
                    .map_err(|_| fail(format!("tcp-connect: bad address {host}")))?,
                port,
            );
            let t = std::time::Duration::from_millis(ms);
            match std::net::TcpStream::connect_timeout(&addr, t) {
                Ok(mut s) => {
                    let _ = s.set_read_timeout(Some(t));
                    let mut got = String::new();
                    let _ = s.read_to_string(&mut got);
                    println!("got {got}");
                }
                Err(_) => {
                    println!("unreachable");
                    return Err(1);
                }
            }
        }
        "dns-query" => {
            // A raw DNS query over UDP: the image has no resolver library.
            let name = arg(cmd, 1, "NAME")?;
            let server = match cmd.get(2) {
                Some(s) => s.clone(),
                None => {
                    first_nameserver().ok_or_else(|| fail("dns-query: no nameserver".into()))?
                }
            };
            let qtype = cmd.get(3).map(String::as_str).unwrap_or("");
            for line in dns_query(name, &server, qtype)
                .map_err(|e| fail(format!("dns-query {name}: {e}")))?
            {
                println!("{line}");
            }
        }
        "end" => {}
        other => usage_error(&format!("unknown command {other:?}")),
    }
    Ok(Flow::Next)
}

/// glibc's gnu_dev_makedev, which is a macro-like inline we cannot call.
fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

fn major_of(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

fn minor_of(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

fn outcome(res: io::Result<()>) -> String {
    match res {
        Ok(()) => "ok".into(),
        Err(e) => errno_name(&e),
    }
}

/// The symbolic errno, so scenario output is stable across libc messages.
fn errno_name(e: &io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(1) => "EPERM",
        Some(2) => "ENOENT",
        Some(6) => "ENXIO",
        Some(13) => "EACCES",
        Some(16) => "EBUSY",
        Some(17) => "EEXIST",
        Some(19) => "ENODEV",
        Some(21) => "EISDIR",
        Some(22) => "EINVAL",
        Some(30) => "EROFS",
        Some(n) => return format!("errno {n}"),
        None => return format!("error {e}"),
    };
    name.into()
}

fn write_file(path: &str, content: &str, append: bool) -> io::Result<()> {
    let existed = Path::new(path).exists();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .mode(0o644)
        .open(path)?;
    f.write_all(content.as_bytes())?;
    if !existed {
        // Pin the mode of new files so it does not depend on the umask.
        fs::set_permissions(path, fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

fn list_dir(dir: &str) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

fn write_sparse(path: &str, size: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = fs::File::create(path)?;
    f.write_all(b"head")?;
    f.seek(SeekFrom::Start(size - 4))?;
    f.write_all(b"tail")?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
}

fn kind_of(meta: &fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "file"
    } else {
        "other"
    }
}

/// Prints one line per entry below `dir`, sorted, recursively:
/// `f REL MODE SIZE HEX` for files, `d REL MODE` for directories,
/// `l REL MODE` otherwise. Hex keeps arbitrary contents on one line.
fn dump(dir: &Path, prefix: &str) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            println!("d {rel} {mode:04o}");
            dump(&path, &rel)?;
        } else if meta.is_file() {
            let data = fs::read(&path)?;
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            println!("f {rel} {mode:04o} {} {hex}", data.len());
        } else {
            println!("l {rel} {mode:04o}");
        }
    }
    Ok(())
}

/// The first `nameserver` of /etc/resolv.conf.
fn first_nameserver() -> Option<String> {
    let conf = fs::read_to_string("/etc/resolv.conf").ok()?;
    conf.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("nameserver")).then(|| w.next().map(str::to_string))?
    })
}

/// One DNS query over UDP (5 s, two tries) and its answers, one line each:
/// addresses for A/AAAA, names (without the final dot) for PTR, `MX PREF
/// NAME` for MX. An IP as NAME asks for its PTR. Fails on a non-zero rcode
/// (`NXDOMAIN`, `SERVFAIL`, ...) and on an empty answer (`no answer`).
fn dns_query(name: &str, server: &str, qtype: &str) -> Result<Vec<String>, String> {
    use std::net::{IpAddr, SocketAddr, UdpSocket};
    let (qname, qtype) = match (name.parse::<IpAddr>(), qtype) {
        (Ok(IpAddr::V4(ip)), "" | "ptr") => {
            let o = ip.octets();
            (
                format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]),
                12u16,
            )
        }
        (Ok(IpAddr::V6(ip)), "" | "ptr") => {
            let mut labels: Vec<String> = Vec::new();
            for b in ip.octets().iter().rev() {
                labels.push(format!("{:x}", b & 0xf));
                labels.push(format!("{:x}", b >> 4));
            }
            (format!("{}.ip6.arpa", labels.join(".")), 12)
        }
        (_, "" | "a") => (name.to_string(), 1),
        (_, "aaaa") => (name.to_string(), 28),
        (_, "ptr") => (name.to_string(), 12),
        (_, "mx") => (name.to_string(), 15),
        (_, other) => return Err(format!("unknown type {other:?}")),
    };
    let server: SocketAddr = match server.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => SocketAddr::new(
            server
                .parse()
                .map_err(|_| format!("bad server {server:?}"))?,
            53,
        ),
    };
    let id = (process::id() as u16) ^ 0x5a5a;
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in qname.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return Err("label too long".into());
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    sock.connect(server).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    let mut reply = None;
    'tries: for _ in 0..2 {
        sock.send(&q).map_err(|e| e.to_string())?;
        loop {
            match sock.recv(&mut buf) {
                Ok(n) if n >= 12 && buf[..2] == id.to_be_bytes() => {
                    reply = Some(buf[..n].to_vec());
                    break 'tries;
                }
                Ok(_) => continue,
                Err(_) => continue 'tries,
            }
        }
    }
    let r = reply.ok_or("timed out")?;
    let rcode = r[3] & 0x0f;
    if rcode != 0 {
        let names = [
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
        ];
        return Err(names
            .get(rcode as usize)
            .map_or(format!("rcode {rcode}"), |s| s.to_string()));
    }
    let count = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]) as usize;
    let (qd, an) = (count(4), count(6));
    let mut pos = 12;
    for _ in 0..qd {
        pos = dns_name(&r, pos)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        pos = dns_name(&r, pos)?.1;
        let field = |at: usize| {
            r.get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        };
        let rtype = field(pos).ok_or("short answer")?;
        let rdlen = field(pos + 8).ok_or("short answer")?;
        let start = pos + 10;
        let data = r.get(start..start + rdlen).ok_or("short answer")?;
        match (rtype, data.len()) {
            (1, 4) => {
                out.push(std::net::Ipv4Addr::new(data[0], data[1], data[2], data[3]).to_string())
            }
            (28, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(data);
                out.push(std::net::Ipv6Addr::from(o).to_string());
            }
            (12, _) => out.push(dns_name(&r, start)?.0),
            (15, _) if rdlen > 2 => out.push(format!(
                "MX {} {}",
                field(start).unwrap_or(0),
                dns_name(&r, start + 2)?.0
            )),
            _ => {}
        }
        pos = start + rdlen;
    }
    if out.is_empty() {
        return Err("no answer".into());
    }
    Ok(out)
}

/// The name at `pos` (following compression pointers) without the final
/// dot, and where the record goes on after it.
fn dns_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut labels = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *msg.get(pos).ok_or("short name")? as usize;
        if len == 0 {
            return Ok((labels.join("."), end.unwrap_or(pos + 1)));
        }
        if len & 0xc0 == 0xc0 {
            let low = *msg.get(pos + 1).ok_or("short name")? as usize;
            end.get_or_insert(pos + 2);
            pos = ((len & 0x3f) << 8) | low;
            continue;
        }
        let label = msg.get(pos + 1..pos + 1 + len).ok_or("short name")?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        pos += 1 + len;
    }
    Err("name loop".into())
}
