//! Link options of the engine binary.

fn main() {
    // Relative relocations packed as DT_RELR (glibc 2.36, binutils 2.38): a
    // position-independent engine has ~17,000 of them, 413 KB of .rela.dyn
    // that the dynamic loader reads at every start (the daemon's and each
    // container init's, the same binary), and that then stays in the
    // daemon's RSS. Packed, they take a few KB; the binary stays PIE.
    println!("cargo:rustc-link-arg-bin=shipshape-engine=-Wl,-z,pack-relative-relocs");
}
