//! The errors of the sync stage: a spec that cannot be read or found, a lock that cannot
//! be read, a write that failed, a baseline revision that cannot be used, and outputs
//! that are not as the spec says. The CLI prints them; their codes are documented in
//! docs/diagnostics.md.

use miette::Diagnostic;

/// A failure of the sync stage; [`SyncError::is_io`] tells I/O (exit 2) from drift (exit 1).
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SyncError {
    #[error("cannot read spec `{path}`: {reason}")]
    #[diagnostic(code(specc::io), help("{help}"))]
    Read {
        path: String,
        reason: String,
        help: String,
    },
    #[error("no `specc.kdl` in `{from}` or any folder above it (searched up to `{stop}`)")]
    #[diagnostic(
        code(specc::io),
        help(
            "pass the spec's path (e.g. `specc check specs/app.kdl`), run in the folder that holds `specc.kdl` or below it, or use `-C DIR`"
        )
    )]
    NotFound { from: String, stop: String },
    #[error("`--out {path}` is not a folder")]
    #[diagnostic(
        code(specc::io),
        help(
            "--out names the folder the outputs go to (it is created when missing); move the file away or pass another folder"
        )
    )]
    OutNotFolder { path: String },
    #[error("cannot write `{path}`: {reason}")]
    #[diagnostic(
        code(specc::io::write),
        help(
            "fix the cause (permissions, disk space, a folder or file in the way) and run `specc generate` again; every output is written to a temporary file first and moved into place only after all of them were written, and the lock is written last, so no file is ever half-written and the next run finishes the job"
        )
    )]
    Write { path: String, reason: String },
    #[error("cannot read lock file `{path}`: {reason}")]
    #[diagnostic(
        code(specc::io::lock),
        help("restore it from version control, or delete it and run `specc generate --force`")
    )]
    Lock { path: String, reason: String },
    #[error("refusing `{path}`: {reason}")]
    #[diagnostic(
        code(specc::io::path),
        help(
            "specc reads, writes and removes only regular files inside the repository, never through a symbolic link and never inside `.git`; replace the link by a real folder or file (or remove it) and run again. Nothing was written or removed"
        )
    )]
    Unsafe { path: String, reason: String },
    #[error("the lock `{lock}` lists `{entry}`, which specc refuses to touch: {reason}")]
    #[diagnostic(
        code(specc::io::lock_entry),
        help(
            "nothing was written or removed, with or without --force: the lock only records files specc generated inside the repository. Restore it from version control (e.g. `git checkout -- {lock}`), or delete it and run `specc generate --force`"
        )
    )]
    LockEntry {
        lock: String,
        entry: String,
        reason: String,
    },
    #[error("another specc run is writing the outputs in `{path}`")]
    #[diagnostic(
        code(specc::io::busy),
        help(
            "runs in one output folder take turns; this one waited {waited} s for the other to finish. Run again when it is done (or stop it)"
        )
    )]
    Busy { path: String, waited: u64 },
    #[error("cannot compare with `{revision}` (given to --since): {reason}")]
    #[diagnostic(
        code(specc::io::since),
        help(
            "`plan --changed` compares the targets' inputs in the working tree with those at a git revision (default `HEAD`) of the repository that holds the outputs; pass a commit, tag or branch that exists there, e.g. `--since v1.0.0`"
        )
    )]
    Since { revision: String, reason: String },
    #[error("{count} generated file(s) were edited by hand: {paths}")]
    #[diagnostic(
        code(specc::drift::edited),
        help(
            "move the change into the spec and run `specc generate`, or run `specc generate --force` to overwrite the edits"
        )
    )]
    Edited { count: usize, paths: String },
    #[error("{count} output path(s) hold a file specc did not generate: {paths}")]
    #[diagnostic(code(specc::drift::not_generated), help("{help}"))]
    NotGenerated {
        count: usize,
        paths: String,
        help: String,
    },
    #[error("{count} output(s) are out of sync with the spec: {paths}")]
    #[diagnostic(
        code(specc::drift::stale),
        help("run `{command}` and commit the result")
    )]
    Stale {
        count: usize,
        paths: String,
        command: String,
    },
}

impl SyncError {
    /// True for failures outside the spec (exit 2); false for outputs out of sync (exit 1).
    pub fn is_io(&self) -> bool {
        !matches!(
            self,
            SyncError::Edited { .. } | SyncError::NotGenerated { .. } | SyncError::Stale { .. }
        )
    }
}

/// Something on disk the user should know about that does not stop the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Diagnostic)]
pub enum SyncWarning {
    #[error("{message}")]
    #[diagnostic(
        code(specc::drift::compose_shadowed),
        severity(Warning),
        help("{help}")
    )]
    ComposeShadowed { message: String, help: String },
}
