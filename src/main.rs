//! The `specc` binary: hands the command line to `specc::cli` and exits with its code.

fn main() {
    std::process::exit(specc::cli::main());
}
