//! The command line, as clap parses it: commands, options, their help and exit codes.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::plan::Event;
use crate::value::date::UtcTime;

#[derive(Debug, Parser)]
#[command(
    name = "specc",
    version,
    about = "Compile one KDL build spec into Dockerfiles, bake, compose, workflows and Helm values",
    long_about = None,
    after_help = "SPEC defaults to specc.kdl in the current folder or the nearest folder above it (up to the repository's root, as git finds it); `-` reads the spec from standard input (check --spec-only, plan, graph).\nExit codes: 0 ok, 1 problems in the spec or outputs out of sync, 2 usage or I/O errors.\nThe language reference is docs/language.md."
)]
pub struct Cli {
    /// Run as if started in DIR (relative paths, and the search for specc.kdl, start there).
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    /// How diagnostics are printed: `human` (graphical) or `json` (one object per line).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, global = true)]
    pub message_format: MessageFormat,

    /// When to colour human output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,

    /// Treat warnings as errors (exit 1).
    #[arg(long, global = true)]
    pub deny_warnings: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// A kind of CI run (`specc plan --event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventArg {
    Release,
    Branch,
    Pr,
    Schedule,
}

impl EventArg {
    pub fn event(self) -> Event {
        match self {
            EventArg::Release => Event::Release,
            EventArg::Branch => Event::Branch,
            EventArg::Pr => Event::Pr,
            EventArg::Schedule => Event::Schedule,
        }
    }
}

/// `--date`: a day or a moment in UTC.
fn parse_date(s: &str) -> Result<UtcTime, String> {
    UtcTime::parse(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec, and that generated outputs are in sync with it.
    ///
    /// Renders in memory and compares; writes nothing. Exits 1 with a unified diff when
    /// an output is stale or edited by hand, or names it when it is missing (before the
    /// first `generate`, every output is). When the spec, the templates and every output
    /// still match specc.lock, answers without rendering.
    #[command(after_help = CHECK_EXIT)]
    Check {
        /// The spec file (default: `specc.kdl` here or above; `-`: standard input, with
        /// --spec-only).
        spec: Option<PathBuf>,
        /// The outputs live under DIR instead of the spec's folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Check the spec only, not the outputs.
        #[arg(long)]
        spec_only: bool,
    },
    /// Print the resolved build plan: targets, platforms, args and tags per registry.
    #[command(after_help = SPEC_EXIT)]
    #[command(group(clap::ArgGroup::new("reads_tree").args(["changed", "hashes"]).multiple(true)))]
    Plan {
        /// The spec file (default: `specc.kdl` here or above; `-`: standard input, except
        /// with --changed or --hashes).
        spec: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Plan for this version instead of the project's `version`.
        #[arg(long = "set-version", value_name = "VERSION")]
        version: Option<String>,
        /// The kind of CI run to plan for (default: `release`; `branch` with --branch,
        /// `pr` with --pr).
        #[arg(long, value_enum)]
        event: Option<EventArg>,
        /// The branch of a branch push or scheduled run, for `{{branch}}` and `branch=`
        /// filters (default: `GIT_BRANCH`, else `main`); alone, plans a branch push.
        #[arg(long)]
        branch: Option<String>,
        /// The pull request's number, for `{{pr}}`; alone, plans a pull request.
        #[arg(long, value_name = "N")]
        pr: Option<u64>,
        /// The commit, for `{{sha_long}}`; `{{sha}}` is its first 7 characters (default:
        /// `GIT_SHA`, else `0000000`).
        #[arg(long)]
        sha: Option<String>,
        /// The time of the run in UTC, for `{{date}}`: `YYYY-MM-DD` or
        /// `YYYY-MM-DDTHH:MM:SSZ` (default: `SPECC_DATE`, else now).
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        date: Option<UtcTime>,
        /// Print only the targets whose input hash differs from the one at a git revision
        /// (JSON: a GitHub Actions matrix).
        ///
        /// Both sides are computed now, never read from committed files: the working
        /// tree's from the spec and build contexts on disk, the revision's from the same
        /// files as committed there. The hash covers every build argument's value,
        /// `VERSION` and `REVISION` included: the working tree is hashed under this run's
        /// version and variables, the revision without them, so a new version counts as
        /// changed. A target that did not exist there has changed.
        #[arg(long)]
        changed: bool,
        /// Give each target its input hash and its hash tag (`specc-` and the hash's first
        /// 32 hex digits), under which CI finds an image built from the same inputs.
        ///
        /// The hash is the one --changed compares: computed now from the spec and the
        /// build contexts on disk, under this run's version and variables.
        #[arg(long, conflicts_with = "changed")]
        hashes: bool,
        /// With --changed: the git revision to compare with (a commit, tag or branch, e.g.
        /// the last release's tag or the commit before a push).
        #[arg(long, value_name = "REV", default_value = "HEAD", requires = "changed")]
        since: String,
        /// With --changed or --hashes: the outputs live under DIR instead of the spec's
        /// folder.
        #[arg(long, value_name = "DIR", requires = "reads_tree")]
        out: Option<PathBuf>,
    },
    /// Generate every output of the spec; write only files whose bytes change.
    ///
    /// Every file is first written to a temporary file and moved into place only when all
    /// of them were written, the lock last: an error leaves the previous outputs as they
    /// were. Outputs generated before that the spec no longer produces are removed.
    #[command(after_help = GENERATE_EXIT)]
    Generate {
        /// The spec file (default: `specc.kdl` here or above).
        spec: Option<PathBuf>,
        /// Write outputs under DIR instead of the spec's folder (created when missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Overwrite (or remove) outputs that were edited by hand, and replace files at
        /// output paths that specc did not generate; never touches any other file.
        #[arg(long)]
        force: bool,
    },
    /// Print the dependency graph of stages, images, services, workflows and charts.
    #[command(after_help = SPEC_EXIT)]
    Graph {
        /// The spec file (default: `specc.kdl` here or above; `-`: standard input).
        spec: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Run the language server (LSP) over standard input and output, for editors.
    ///
    /// Diagnostics as you type (the same as `check --spec-only`), hover documentation,
    /// go to definition, references, completion, outline, rename and a preview of the
    /// generated files. Set-up for Neovim, VS Code, Helix and Zed: docs/editors.md.
    #[command(
        after_help = "Exit codes: 0 after the client's shutdown request, 1 when the client exits without one."
    )]
    Lsp,
    /// Print a shell completion script.
    ///
    /// For example `specc completions bash > ~/.local/share/bash-completion/completions/specc`.
    #[command(after_help = "Exit codes: 0 ok, 2 usage errors.")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

const SPEC_EXIT: &str = "Exit codes: 0 ok (warnings allowed unless --deny-warnings), 1 problems in the spec, 2 usage or I/O errors.";
const CHECK_EXIT: &str = "Exit codes: 0 the spec is fine and every output is in sync, 1 problems in the spec or an output is missing, stale or edited by hand, 2 usage or I/O errors.";
const GENERATE_EXIT: &str = "Exit codes: 0 outputs written (or already in sync), 1 problems in the spec or outputs edited by hand (nothing written), 2 usage or I/O errors.";
