//! Device rules on cgroup v2: an eBPF program of type `CGROUP_DEVICE`
//! attached to the container's group, as runc does (its `devicefilter`
//! package). The kernel runs it on every open and mknod of a device node by
//! a process of the group (and of its descendants) with the node's type,
//! numbers and the access asked for; 1 allows, 0 denies (EPERM).
//!
//! The program is an allow list, written here instruction by instruction:
//! it is a few instructions per rule, and the two syscalls that load and
//! attach it need no library (youki's `libcgroups` does the same through
//! `libbpf-sys`, which builds libbpf from C and needs libelf at build time).
//!
//! ```text
//! r2 = ctx->access_type & 0xffff   // BPF_DEVCG_DEV_BLOCK 1, _CHAR 2
//! r3 = ctx->access_type >> 16      // BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4
//! r4 = ctx->major; r5 = ctx->minor
//! per rule:  if r2 != type goto next          (unless the rule is 'a')
//!            r1 = r3 & access; if r1 != r3 goto next
//!            if r4 != major goto next         (unless any)
//!            if r5 != minor goto next         (unless any)
//!            r0 = 1; exit
//! r0 = 0; exit
//! ```

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::DeviceRule;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

// bpf(2) commands, program and attach types.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of the parent (e.g. the engine's own container's) still apply.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The allow-list program for `allow` (anything else is denied).
fn program(allow: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in allow {
        let access = rule.access.chars().fold(0, |a, c| {
            a | match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => 0,
            }
        });
        // Conditions, each "if not this, skip the rule" (offset patched).
        let mut block = Vec::new();
        match rule.kind {
            'b' => block.push(insn(JMP_JNE_K, 2, 0, 0, DEV_BLOCK)),
            'c' => block.push(insn(JMP_JNE_K, 2, 0, 0, DEV_CHAR)),
            _ => {}
        }
        if access != ACC_READ | ACC_WRITE | ACC_MKNOD {
            block.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(insn(ALU32_AND_K, 1, 0, 0, access));
            block.push(insn(JMP_JNE_X, 1, 3, 0, 0));
        }
        if let Some(major) = rule.major {
            block.push(insn(JMP_JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push(insn(JMP_JNE_K, 5, 0, 0, minor as i32));
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, 1));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JMP_JNE_K || ins.code == JMP_JNE_X {
                // To the first instruction after the block.
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to the fields used (the rest of
/// the kernel's union must be zero, which the padding is).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    pad: [u64; 8],
}

/// `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    pad: [u32; 11],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: attr is a live, properly sized bpf_attr for cmd; the pointers
    // inside it point at buffers that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the program for `allow` into the kernel (the verifier checks it).
fn load(allow: &[DeviceRule]) -> io::Result<OwnedFd> {
    let insns = program(allow);
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    let mut name = [0u8; 16];
    name[..9].copy_from_slice(b"shipshape");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: the kernel returned a new file descriptor we now own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let verifier = String::from_utf8_lossy(&log[..end]);
            let tail: Vec<&str> = verifier.lines().rev().take(3).collect();
            Err(io::Error::new(
                e.kind(),
                format!("loading the eBPF device program: {e} {}", tail.join(" | ")),
            ))
        }
    }
}

/// Attaches a program allowing `allow` (and denying every other device) to
/// the group at `dir`.
pub(super) fn attach(dir: &Path, allow: &[DeviceRule]) -> io::Result<()> {
    let prog = load(allow)?;
    let group = File::open(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", dir.display())))?;
    let mut attr = ProgAttachAttr {
        target_fd: group.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "attaching the eBPF device program to {}: {e}",
                dir.display()
            ),
        )
    })?;
    // The attachment holds the program; both descriptors can go.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::DOCKER_DEFAULT_DEVICES;

    /// Runs the program as the kernel would, on one access (an interpreter
    /// of the few instructions `program` emits).
    fn run(p: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((access << 16) | kind) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = ctx[(i.off / 4) as usize] as u64,
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                ALU64_MOV_K => r[dst] = i.imm as u64,
                JMP_JNE_K if r[dst] != i.imm as u64 => pc += i.off as usize,
                JMP_JNE_X if r[dst] != r[src] => pc += i.off as usize,
                JMP_JNE_K | JMP_JNE_X => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn the_default_list_allows_what_runc_allows() {
        let p = program(DOCKER_DEFAULT_DEVICES);
        let rw = ACC_READ | ACC_WRITE;
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 7), 1, "a pty");
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1, "mknod of a disk");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0, "reading a disk");
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 1), 0, "/dev/mem");
        assert_eq!(run(&p, DEV_CHAR, rw, 10, 229), 0, "/dev/fuse");
    }

    #[test]
    fn a_device_rule_grants_only_its_access() {
        let fuse_r = DeviceRule {
            kind: 'c',
            major: Some(10),
            minor: Some(229),
            access: "r",
        };
        let p = program(&[fuse_r]);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 229), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 10, 229), 0);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 10, 229), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 228), 0);
        let all = DeviceRule {
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm",
        };
        assert_eq!(run(&program(&[all]), DEV_BLOCK, 7, 8, 0), 1);
    }

    /// The kernel's verifier accepts the program (needs root and bpf(2);
    /// skipped where the syscall is refused).
    #[test]
    fn the_kernel_accepts_the_program() {
        match load(DOCKER_DEFAULT_DEVICES) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                eprintln!("skipped: {e}");
            }
            Err(e) => panic!("{e}"),
        }
    }
}
