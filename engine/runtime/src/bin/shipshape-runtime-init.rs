//! Stand-alone init program for the runtime's own tests (libtest binaries are
//! multi-threaded and cannot be re-exec'd as the init), and for embedders that
//! prefer a separate init binary over `/proc/self/exe`.

fn main() {
    shipshape_runtime::init_if_requested();
    eprintln!(
        "usage: {} {} (started by the shipshape runtime only)",
        env!("CARGO_BIN_NAME"),
        shipshape_runtime::INIT_ARG
    );
    std::process::exit(2);
}
