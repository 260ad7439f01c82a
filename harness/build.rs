//! Compiles probe/src/main.rs straight with rustc into a static binary.
//!
//! Why not a Cargo dependency: the fixture image has no libc and no loader, so
//! the probe must be fully static (`+crt-static`), while the harness itself is
//! an ordinary dynamic binary. Building the probe here keeps one `cargo build`
//! sufficient; the harness then embeds the result with `include_bytes!`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let src = manifest_dir.join("../probe/src/main.rs");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let out = out_dir.join("probe");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-env-changed=RUSTC");

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let status = Command::new(&rustc)
        .args([
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
            "--edition",
            "2021",
            "--crate-name",
            "probe",
            "-o",
        ])
        .arg(&out)
        .arg(&src)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "compiling the probe with {rustc} failed ({s}); static glibc (libc.a) is required"
        ),
        Err(e) => panic!("could not run {rustc} to compile the probe: {e}"),
    }
}
