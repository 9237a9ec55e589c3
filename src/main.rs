//! The `specc` binary: parses the command line and hands it to `specc::cli`.

use clap::Parser;

fn main() {
    let cli = specc::cli::Cli::parse();
    std::process::exit(specc::cli::run(cli));
}
