//! `shipshape`: see [`shipshape_harness::cli`].

fn main() -> std::process::ExitCode {
    shipshape_harness::cli::main()
}
