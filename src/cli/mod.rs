//! Command line in (clap), exit code out: [`args`] parses, [`run`] dispatches to the
//! pipeline ([`crate::sync`] for everything that touches outputs), [`print`] prints.
//!
//! Exit codes: 0 ok (warnings allowed unless `--deny-warnings`), 1 problems in the spec
//! or outputs out of sync, 2 usage or I/O errors.

/// `print!` that never panics: a closed pipe (`specc plan | head -1`) ends the process
/// quietly with success, as other Unix tools do; any other write error exits 2.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::print::write_stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics; see [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::print::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

pub mod args;
mod print;
mod run;

pub use args::Cli;
pub use run::{UsageError, run};

/// Parses the process's command line and runs it; returns the process exit code.
pub fn main() -> i32 {
    run::main()
}
