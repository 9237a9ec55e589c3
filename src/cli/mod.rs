//! Command line in (clap), exit code out: reads the spec, runs the pipeline, prints.
//!
//! Exit codes: 0 ok (warnings allowed unless `--deny-warnings`), 1 problems in the spec
//! or outputs out of sync, 2 usage or I/O errors.

/// `print!` that never panics: a closed pipe (`specc plan | head -1`) ends the process
/// quietly with success, as other Unix tools do; any other write error exits 2.
macro_rules! out {
    ($($arg:tt)*) => { write_stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics; see [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => { write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, JSONReportHandler};
use serde::Serialize;

use crate::plan::contexts::FsContexts;
use crate::render::{Generated, RenderOptions, render_with, templates_hash, trace};
use crate::sync::apply::{Entry, Status, apply, compare};
use crate::sync::lock::{LOCK_VERSION, Lock, hash};
use crate::{Checked, Diagnostics, PlanOptions, compile, diagram, plan};

#[derive(Debug, Parser)]
#[command(
    name = "specc",
    version,
    about = "Compile one KDL build spec into Dockerfiles, bake, compose, workflows and Helm values",
    long_about = None,
    after_help = "SPEC defaults to specc.kdl; `-` reads the spec from standard input (check --spec-only, plan, graph).\nExit codes: 0 ok, 1 problems in the spec or outputs out of sync, 2 usage or I/O errors.\nThe language reference is docs/language.md."
)]
pub struct Cli {
    /// Run as if started in DIR.
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
        /// The spec file (`-`: standard input, with --spec-only).
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// The outputs live under DIR instead of the spec's folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Check the spec only, not the outputs.
        #[arg(long)]
        spec_only: bool,
    },
    /// Print the resolved build plan: targets, platforms, args and tags per registry.
    #[command(after_help = SPEC_EXIT)]
    Plan {
        /// The spec file (`-`: standard input, except with --changed).
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Plan for this version instead of the project's `version`.
        #[arg(long = "set-version", value_name = "VERSION")]
        version: Option<String>,
        /// Plan a push to this branch instead of a release (tag rules for branches apply).
        #[arg(long)]
        branch: Option<String>,
        /// The commit for `{{sha}}` tags (without it they show as `<sha>`).
        #[arg(long)]
        sha: Option<String>,
        /// Print only the targets whose input hash differs from the lock (JSON: a GitHub
        /// Actions matrix).
        #[arg(long)]
        changed: bool,
        /// With --changed: compare with this lock file instead of the outputs' lock (no
        /// lock: every target has changed).
        #[arg(long, value_name = "LOCKFILE", requires = "changed")]
        since: Option<PathBuf>,
        /// With --changed: the outputs (and their lock) live under DIR instead of the
        /// spec's folder.
        #[arg(long, value_name = "DIR", requires = "changed")]
        out: Option<PathBuf>,
    },
    /// Generate every output of the spec; write only files whose bytes change.
    ///
    /// Every file is first written to a temporary file and moved into place only when all
    /// of them were written, the lock last: an error leaves the previous outputs as they
    /// were. Outputs generated before that the spec no longer produces are removed.
    #[command(after_help = GENERATE_EXIT)]
    Generate {
        /// The spec file.
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// Write outputs under DIR instead of the spec's folder (created when missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Overwrite (or remove) outputs that were edited by hand.
        #[arg(long)]
        force: bool,
    },
    /// Print the dependency graph of stages, images, services, workflows and charts.
    #[command(after_help = SPEC_EXIT)]
    Graph {
        /// The spec file (`-`: standard input).
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
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

/// A failure outside the spec (unreadable file, bad option): exit code 2.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum UsageError {
    #[error("cannot read spec `{path}`: {reason}")]
    #[diagnostic(code(specc::io), help("{help}"))]
    Read {
        path: String,
        reason: String,
        help: String,
    },
    #[error("cannot change to directory `{path}`: {reason}")]
    #[diagnostic(
        code(specc::io),
        help("`-C DIR` runs specc as if started in DIR, which must be an existing folder")
    )]
    Directory { path: String, reason: String },
    #[error("`--out {path}` is not a folder")]
    #[diagnostic(
        code(specc::io),
        help(
            "--out names the folder the outputs go to (it is created when missing); move the file away or pass another folder"
        )
    )]
    OutNotFolder { path: String },
    #[error("{message}")]
    #[diagnostic(code(specc::usage::arguments), help("{help}"))]
    Arguments { message: String, help: String },
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
    #[error("cannot read lock file `{path}` given to --since: no such file")]
    #[diagnostic(
        code(specc::io::lock),
        help(
            "pass an existing lock, e.g. one saved from a release (`git show v1.0.0:specc.lock > old.lock`); without --since, the outputs' own lock is used"
        )
    )]
    SinceMissing { path: String },
    #[error("`{value}` is not a valid version for `--set-version`")]
    #[diagnostic(
        code(specc::usage::version),
        help("tags need a version made of tag characters, e.g. `--set-version 1.2.3`")
    )]
    Version { value: String },
    #[error("`{value}` has no MAJOR.MINOR.PATCH parts, which the tag rule `{rule}` needs")]
    #[diagnostic(
        code(specc::usage::version),
        help("give a semantic version, e.g. `--set-version 1.4.0` (a leading `v` is fine)")
    )]
    VersionParts { value: String, rule: String },
}

/// The first tag rule that needs version parts when `version` has none (the generated
/// workflow refuses such a version the same way).
fn version_part_rule(spec: &crate::spec::Spec, version: &str) -> Option<String> {
    if crate::value::parse_version(version).is_some() {
        return None;
    }
    plan::tags::rule_needing_version_parts(spec.images.iter().flat_map(|i| &i.tags))
}

/// A tag that `--branch` or `--sha` turned invalid (empty, too long, a bad first
/// character): the plan would show references no registry accepts.
fn bad_given_tag(p: &plan::Plan, options: &PlanOptions) -> Option<UsageError> {
    let given: Vec<(&str, &String)> = [("--branch", &options.branch), ("--sha", &options.sha)]
        .into_iter()
        .filter_map(|(o, v)| v.as_ref().map(|v| (o, v)))
        .collect();
    if let Some((option, _)) = given.iter().find(|(_, v)| v.trim().is_empty()) {
        return Some(UsageError::Arguments {
            message: format!("`{option}` is empty"),
            help: format!(
                "give {option} a value, e.g. `{}`, or leave the option out",
                if *option == "--sha" {
                    "--sha 0a1b2c3d"
                } else {
                    "--branch main"
                }
            ),
        });
    }
    for tag in p.targets.iter().flat_map(|t| &t.tags) {
        // `<sha>` and `<branch>` stand for values not given.
        if tag.contains('<') {
            continue;
        }
        if let Err(reason) = crate::value::check_tag(tag) {
            let options = given
                .iter()
                .map(|(o, v)| format!("`{o} {v}`"))
                .collect::<Vec<_>>()
                .join(" and ");
            return Some(UsageError::Arguments {
                message: format!(
                    "{options} {} the invalid tag `{tag}`: {reason}",
                    if given.len() > 1 { "give" } else { "gives" }
                ),
                help: "a branch or commit must leave a tag of 1 to 128 characters from `A-Za-z0-9_.-`, starting with a letter, digit or `_`; pass the real branch name and commit, e.g. `--branch main --sha 0a1b2c3d`".into(),
            });
        }
    }
    None
}

/// Outputs that are not as the spec says.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SyncError {
    #[error("{count} generated file(s) were edited by hand: {paths}")]
    #[diagnostic(
        code(specc::drift::edited),
        help(
            "move the change into the spec and run `specc generate`, or run `specc generate --force` to overwrite the edits"
        )
    )]
    Edited { count: usize, paths: String },
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

struct Printer {
    format: MessageFormat,
    color: bool,
}

impl Printer {
    fn print(&self, diagnostic: &dyn Diagnostic) {
        let mut out = String::new();
        match self.format {
            MessageFormat::Json => {
                let _ = JSONReportHandler::new().render_report(&mut out, diagnostic);
                out.push('\n');
            }
            MessageFormat::Human => {
                let theme = if self.color {
                    GraphicalTheme::unicode()
                } else {
                    GraphicalTheme::unicode_nocolor()
                };
                let handler = GraphicalReportHandler::new_themed(theme)
                    .with_width(100)
                    .with_links(false);
                let _ = if far_right(diagnostic, None) {
                    handler.render_report(&mut out, &Flat::new(diagnostic, None))
                } else {
                    handler.render_report(&mut out, diagnostic)
                };
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        let _ = std::io::stderr().write_all(out.as_bytes());
    }

    fn human(&self) -> bool {
        self.format == MessageFormat::Human
    }
}

/// The column beyond which miette's graphical handler cannot draw a label: it pads with
/// a format width, which Rust limits to 65535 (and panics beyond).
const DRAWABLE_COLUMN: usize = 30_000;

/// True when some label of `d` (or of a related diagnostic, which shows its parent's
/// source) starts or ends too far right on its line to be drawn.
fn far_right(d: &dyn Diagnostic, parent: Option<&dyn miette::SourceCode>) -> bool {
    let source = d.source_code().or(parent);
    let labels_far = match (source, d.labels()) {
        (Some(src), Some(mut labels)) => labels.any(|l| {
            let end = miette::SourceSpan::from((l.offset() + l.len(), 0));
            [l.inner(), &end].into_iter().any(|span| {
                src.read_span(span, 0, 0)
                    .is_ok_and(|c| c.column() > DRAWABLE_COLUMN)
            })
        }),
        _ => false,
    };
    labels_far
        || d.related()
            .is_some_and(|mut r| r.any(|rd| far_right(rd, source)))
}

/// A diagnostic without its source snippet: each label becomes `file:line:column: label`
/// in the text (for labels [`far_right`] of what can be drawn).
struct Flat<'a> {
    inner: &'a dyn Diagnostic,
    text: String,
    related: Vec<Flat<'a>>,
}

impl<'a> Flat<'a> {
    fn new(d: &'a dyn Diagnostic, parent: Option<&'a dyn miette::SourceCode>) -> Flat<'a> {
        let source = d.source_code().or(parent);
        let mut text = d.to_string();
        if let (Some(src), Some(labels)) = (source, d.labels()) {
            for l in labels {
                if let Ok(c) = src.read_span(l.inner(), 0, 0) {
                    text.push_str(&format!(
                        "\n  at {}:{}:{}: {}",
                        c.name().unwrap_or("spec"),
                        c.line() + 1,
                        c.column() + 1,
                        l.label().unwrap_or("here")
                    ));
                }
            }
        }
        let related = d
            .related()
            .map(|r| r.map(|rd| Flat::new(rd, source)).collect())
            .unwrap_or_default();
        Flat {
            inner: d,
            text,
            related,
        }
    }
}

impl std::fmt::Debug for Flat<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Display for Flat<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Flat<'_> {}

impl Diagnostic for Flat<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.help()
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
}

/// Parses the process's command line and runs it; returns the process exit code.
///
/// A bad command line exits 2 like any usage error, and with `--message-format json` it
/// is reported as one JSON object too, so that a tool reading specc's JSON never gets
/// clap's text instead.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut command = <Cli as clap::CommandFactory>::command();
    match option_value(&args, "--color").as_deref() {
        Some("never") => command = command.color(clap::ColorChoice::Never),
        Some("always") => command = command.color(clap::ColorChoice::Always),
        _ => {}
    }
    let parsed = command
        .try_get_matches_from_mut(&args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    match parsed {
        // kdl's parser recurses (see `parse::MAX_NESTING`): a roomy stack keeps odd input
        // an error instead of an abort. Only the pages used are ever allocated.
        Ok(cli) => match std::thread::Builder::new()
            .name("specc".into())
            .stack_size(256 << 20)
            .spawn(move || run(cli))
        {
            // A panic has printed its message already; exit as Rust does after one.
            Ok(thread) => thread.join().unwrap_or(101),
            Err(e) => {
                eprintln!("specc: cannot start a thread: {e}");
                2
            }
        },
        Err(e) => {
            let json = option_value(&args, "--message-format").as_deref() == Some("json");
            usage_error(e.with_cmd(&command), json)
        }
    }
}

/// The value of a long option (`--name VALUE` or `--name=VALUE`) before any `--`, read
/// without clap (for when clap itself rejected the command line).
fn option_value(args: &[std::ffi::OsString], name: &str) -> Option<String> {
    let args: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str().unwrap_or(""))
        .take_while(|a| *a != "--")
        .collect();
    let mut value = None;
    for (i, arg) in args.iter().enumerate() {
        if *arg == name {
            value = args.get(i + 1).map(|v| v.to_string());
        } else if let Some(v) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            value = Some(v.to_string());
        }
    }
    value
}

/// Prints a command line clap rejected (or its `--help`/`--version`); the exit code.
fn usage_error(e: clap::Error, json: bool) -> i32 {
    use clap::error::ErrorKind;
    let shows = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if shows || !json {
        let _ = e.print();
        return e.exit_code();
    }
    let text = e.render().to_string();
    let (message, help) = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        (
            "no command given".to_string(),
            "run one of `specc check`, `specc plan`, `specc generate`, `specc graph`, `specc completions`; see `specc --help`".to_string(),
        )
    } else {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let message = lines
            .next()
            .map(|l| l.strip_prefix("error: ").unwrap_or(l).to_string())
            .unwrap_or_else(|| "invalid command line".into());
        let mut help: Vec<String> = Vec::new();
        for line in lines {
            if let Some(tip) = line.strip_prefix("tip: ") {
                help.push(tip.to_string());
            } else if let Some(usage) = line.strip_prefix("Usage: ") {
                help.push(format!("usage: `{usage}`"));
            } else if let Some(list) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                help.push(list.to_string());
            } else if line.starts_with("For more information") {
                help.push("see `specc --help`".into());
            } else {
                help.push(line.to_string());
            }
        }
        (message, help.join("; "))
    };
    Printer {
        format: MessageFormat::Json,
        color: false,
    }
    .print(&UsageError::Arguments { message, help });
    e.exit_code()
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let printer = Printer {
        format: cli.message_format,
        color,
    };
    if let Some(dir) = &cli.directory
        && let Err(e) = std::env::set_current_dir(dir)
    {
        printer.print(&UsageError::Directory {
            path: dir.display().to_string(),
            reason: e.to_string(),
        });
        return 2;
    }
    let deny = cli.deny_warnings;
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics when a write fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "specc", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            0
        }
        Command::Check {
            spec,
            out,
            spec_only,
        } => {
            if is_stdin(&spec) && !spec_only {
                return stdin_refused(
                    &printer,
                    "checking the outputs",
                    "pass the spec's path, or add `--spec-only` to check only the spec read from standard input",
                );
            }
            if let Err(code) = check_out(&printer, &out) {
                return code;
            }
            with_spec(&spec, &printer, deny, |s| {
                if spec_only {
                    return report_spec_ok(&printer, s);
                }
                check_outputs(
                    &printer,
                    s,
                    &output_root(&spec, &out),
                    &regenerate_command(&spec, &out),
                )
            })
        }
        Command::Plan {
            spec,
            json,
            version,
            branch,
            sha,
            changed,
            since,
            out,
        } => {
            if let Some(v) = &version
                && crate::value::check_tag(v).is_err()
            {
                printer.print(&UsageError::Version { value: v.clone() });
                return 2;
            }
            if changed && is_stdin(&spec) {
                return stdin_refused(
                    &printer,
                    "`plan --changed`",
                    "pass the spec's path: the targets' inputs are read next to it",
                );
            }
            if let Err(code) = check_out(&printer, &out) {
                return code;
            }
            let options = PlanOptions {
                version,
                branch,
                sha,
                env: plan::RunEnv::empty(),
            };
            with_spec(&spec, &printer, deny, |s| {
                // `specc plan` reads the run-time variables as bake and CI do.
                let names = plan::runtime::names(&s.checked.spec);
                let options = PlanOptions {
                    env: plan::RunEnv::from_process(names.iter().map(String::as_str)),
                    ..options.clone()
                };
                if let Some(v) = &options.version
                    && let Some(rule) = version_part_rule(&s.checked.spec, v)
                {
                    printer.print(&UsageError::VersionParts {
                        value: v.clone(),
                        rule,
                    });
                    return 2;
                }
                let p = plan::plan(&s.checked, &options);
                if let Some(e) = bad_given_tag(&p, &options) {
                    printer.print(&e);
                    return 2;
                }
                if changed {
                    let root = output_root(&spec, &out);
                    return print_changed(
                        &printer,
                        s,
                        &p,
                        &root,
                        since.as_deref(),
                        json,
                        &regenerate_command(&spec, &out),
                    );
                }
                if json {
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&p).expect("a plan serializes")
                    );
                } else {
                    out!("{}", plan_text(&p));
                }
                0
            })
        }
        Command::Generate { spec, out, force } => {
            if is_stdin(&spec) {
                return stdin_refused(
                    &printer,
                    "`generate`",
                    "pass the spec's path: every output names its spec and the command that regenerates it",
                );
            }
            if let Err(code) = check_out(&printer, &out) {
                return code;
            }
            with_spec(&spec, &printer, deny, |s| {
                generate(
                    &printer,
                    s,
                    &output_root(&spec, &out),
                    &regenerate_command(&spec, &out),
                    force,
                )
            })
        }
        Command::Graph { spec, format } => with_spec(&spec, &printer, deny, |s| {
            match format {
                GraphFormat::Dot => out!("{}", diagram::dot(&s.checked)),
                GraphFormat::Mermaid => out!("{}", diagram::mermaid(&s.checked)),
            }
            0
        }),
    }
}

/// A spec that compiled: its name, text and checked form.
struct Loaded {
    /// The spec file (`None`: read from standard input).
    path: Option<PathBuf>,
    name: String,
    text: String,
    checked: Checked,
}

impl Loaded {
    fn diagnostics(&self, errors: Vec<crate::Error>) -> Diagnostics {
        Diagnostics::new(&self.name, Arc::new(self.text.clone()), errors)
    }
}

/// Where outputs live: `--out`, else the spec's folder.
fn output_root(spec: &Path, out: &Option<PathBuf>) -> PathBuf {
    match out {
        Some(dir) => dir.clone(),
        None => spec.parent().map(Path::to_path_buf).unwrap_or_default(),
    }
}

fn regenerate_command(spec: &Path, out: &Option<PathBuf>) -> String {
    let mut command = format!("specc generate {}", spec.display());
    if let Some(dir) = out {
        command.push_str(&format!(" --out {}", dir.display()));
    }
    command
}

/// The name diagnostics give a spec read from standard input.
const STDIN_NAME: &str = "<stdin>";

/// True when the spec is read from standard input.
fn is_stdin(spec: &Path) -> bool {
    spec.as_os_str() == "-"
}

/// Refuses a spec from standard input for a command that needs its path (`what` it does).
fn stdin_refused(printer: &Printer, what: &str, help: &str) -> i32 {
    printer.print(&UsageError::Arguments {
        message: format!("{what} needs the spec's path, not `-` (standard input)"),
        help: help.to_string(),
    });
    2
}

/// Refuses an `--out` that is an existing file (or anything but a folder).
fn check_out(printer: &Printer, out: &Option<PathBuf>) -> Result<(), i32> {
    if let Some(dir) = out
        && std::fs::metadata(dir).is_ok_and(|m| !m.is_dir())
    {
        printer.print(&UsageError::OutNotFolder {
            path: dir.display().to_string(),
        });
        return Err(2);
    }
    Ok(())
}

/// 1-based line and column (in characters) of byte `offset` of `bytes`.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// The spec's name (for diagnostics) and text: a file, or standard input for `-`. A
/// leading byte order mark is dropped, so that columns count as in an editor.
fn read_spec(path: &Path) -> Result<(String, String), UsageError> {
    let name = if is_stdin(path) {
        STDIN_NAME.to_string()
    } else {
        path.display().to_string()
    };
    let read = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) => {
            let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
            let help = if is_dir {
                let inside = path.join("specc.kdl");
                if inside.is_file() {
                    format!("pass the spec file, e.g. `{}`", inside.display())
                } else {
                    "pass the spec file, not a folder (`-C DIR` runs in a folder)".into()
                }
            } else if e.kind() == std::io::ErrorKind::NotFound {
                "pass the spec's path, e.g. `specc check specs/app.kdl`, or run in the folder that holds `specc.kdl` (or use `-C DIR`)".into()
            } else {
                "check the file's permissions".into()
            };
            let reason = if is_dir {
                "it is a folder".to_string()
            } else {
                e.to_string()
            };
            return Err(UsageError::Read {
                path: name,
                reason,
                help,
            });
        }
    };
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok((name, text)),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let (line, column) = line_column(e.as_bytes(), offset);
            Err(UsageError::Read {
                path: name,
                reason: format!(
                    "not UTF-8 text (invalid byte at offset {offset}, line {line}, column {column})"
                ),
                help: "save the spec as UTF-8".into(),
            })
        }
    }
}

/// Reads and compiles `path`, prints its diagnostics, and runs `then` on success.
fn with_spec(
    path: &Path,
    printer: &Printer,
    deny_warnings: bool,
    then: impl FnOnce(&Loaded) -> i32,
) -> i32 {
    let (name, text) = match read_spec(path) {
        Ok(spec) => spec,
        Err(e) => {
            printer.print(&e);
            return 2;
        }
    };
    match compile(&name, &text) {
        Err(diagnostics) => {
            printer.print(&diagnostics);
            1
        }
        Ok(checked) => {
            let loaded = Loaded {
                path: (!is_stdin(path)).then(|| path.to_path_buf()),
                name,
                text,
                checked,
            };
            if !loaded.checked.warnings.is_empty() {
                printer.print(&loaded.diagnostics(loaded.checked.warnings.clone()));
                if deny_warnings {
                    if printer.human() {
                        let _ = writeln!(
                            std::io::stderr(),
                            "specc: the warnings above fail the run under --deny-warnings"
                        );
                    }
                    return 1;
                }
            }
            then(&loaded)
        }
    }
}

fn report_spec_ok(printer: &Printer, s: &Loaded) -> i32 {
    if printer.human() {
        let spec = &s.checked.spec;
        let targets = plan::plan(&s.checked, &PlanOptions::default())
            .targets
            .len();
        outln!(
            "{}: ok ({} images, {targets} targets, {} services, {} workflows, {} charts)",
            s.name,
            spec.images.len(),
            spec.services.len(),
            spec.workflows.len(),
            spec.charts.len()
        );
    }
    0
}

/// The `output` setting that places `path` (a file setting naming it, else the folder
/// setting holding it), for a label; a setting left at its default has an empty span.
fn output_setting(s: &Loaded, path: &str) -> Option<(&'static str, miette::SourceSpan)> {
    let o = &s.checked.spec.output;
    if let Some((key, t)) = o
        .files()
        .into_iter()
        .find(|(_, t)| normalized(&t.value) == path)
    {
        return Some((key, t.span));
    }
    o.folders()
        .into_iter()
        .find(|(_, t)| {
            let folder = normalized(&t.value);
            folder.is_empty() || folder == "." || path.starts_with(&format!("{folder}/"))
        })
        .map(|(key, t)| (key, t.span))
}

/// True when `path` under `root` is the spec file itself.
fn is_the_spec(s: &Loaded, root: &Path, path: &str) -> bool {
    let Some(spec) = &s.path else {
        return false;
    };
    match (
        std::fs::canonicalize(spec),
        std::fs::canonicalize(root.join(path)),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// An output that would land on the spec itself or on another output; labelled at `span`,
/// else at the setting that places `path`.
fn clash(
    s: &Loaded,
    path: &str,
    span: Option<miette::SourceSpan>,
    reason: String,
    help: String,
) -> crate::Error {
    let span = span
        .or_else(|| output_setting(s, path).map(|(_, span)| span))
        .unwrap_or_else(|| miette::SourceSpan::from((0, 0)));
    crate::Error::InvalidPath {
        what: "output path".into(),
        value: path.to_string(),
        span,
        reason,
        help,
    }
}

/// Outputs whose paths, set in `output`, collide with each other or with the spec file:
/// found before rendering, since one would overwrite the other (or the spec).
fn setting_clashes(s: &Loaded, root: &Path) -> Vec<crate::Error> {
    let files = s.checked.spec.output.files();
    let mut errors = Vec::new();
    for (i, (key, t)) in files.iter().enumerate() {
        let path = normalized(&t.value);
        if is_the_spec(s, root, path) {
            errors.push(clash(
                s,
                path,
                Some(t.span),
                format!("`{key}` would overwrite the spec itself"),
                format!(
                    "write `{key}` to another path in the `output` block (its default is `{}`)",
                    default_output(key)
                ),
            ));
        }
        if let Some((other, _)) = files[..i]
            .iter()
            .find(|(_, o)| normalized(&o.value) == path)
        {
            // Label the setting written in the spec (a default has no place in it).
            let (key, other, span) = if t.span.is_empty() {
                (
                    *other,
                    *key,
                    files.iter().find(|(k, _)| k == other).map(|(_, o)| o.span),
                )
            } else {
                (*key, *other, Some(t.span))
            };
            errors.push(clash(
                s,
                path,
                span,
                format!("`{key}` and `{other}` would both write this file"),
                format!(
                    "give `{key}` its own path in the `output` block (its default is `{}`)",
                    default_output(key)
                ),
            ));
        }
    }
    errors
}

/// An output path as written in the spec, without a leading `./` or a trailing `/`.
fn normalized(path: &str) -> &str {
    path.trim_start_matches("./").trim_end_matches('/')
}

/// The default path of the `output` setting `key`.
fn default_output(key: &str) -> String {
    let defaults = crate::spec::Output::defaults();
    defaults
        .files()
        .into_iter()
        .chain(defaults.folders())
        .find(|(k, _)| *k == key)
        .map_or_else(String::new, |(_, t)| t.value.clone())
}

/// Rendered outputs that land on the spec file, on the lock or on each other.
fn rendered_clashes(s: &Loaded, root: &Path, g: &Generated) -> Vec<crate::Error> {
    let lock = normalized(&s.checked.spec.output.lock.value);
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in &g.files {
        let help = || match output_setting(s, &f.path) {
            Some((key, _)) => format!(
                "choose another path for `{key}` in the `output` block (its default is `{}`)",
                default_output(key)
            ),
            None => "choose other paths in the `output` block".into(),
        };
        if is_the_spec(s, root, &f.path) {
            errors.push(clash(
                s,
                &f.path,
                None,
                "this output would overwrite the spec itself".into(),
                help(),
            ));
        } else if f.path == lock {
            errors.push(clash(
                s,
                &f.path,
                None,
                "this output would overwrite the lock".into(),
                help(),
            ));
        } else if !seen.insert(f.path.as_str()) {
            errors.push(clash(
                s,
                &f.path,
                None,
                "two outputs would be written to this path".into(),
                help(),
            ));
        }
    }
    errors
}

/// [`compare`], except that the spec itself is never removed, even when a lock (written
/// by a specc that let an output land on the spec) lists it.
fn compare_outputs(s: &Loaded, root: &Path, g: &Generated, lock: Option<&Lock>) -> Vec<Entry> {
    let mut entries = compare(root, &g.files, lock);
    entries.retain(|e| {
        !(matches!(e.status, Status::Removed | Status::RemovedEdited)
            && is_the_spec(s, root, &e.path))
    });
    entries
}

/// Renders everything, reading build contexts under `root`; prints render problems.
fn render_all(printer: &Printer, s: &Loaded, root: &Path, regenerate: &str) -> Option<Generated> {
    let clashes = setting_clashes(s, root);
    if !clashes.is_empty() {
        printer.print(&s.diagnostics(clashes));
        return None;
    }
    let p = plan::plan(&s.checked, &PlanOptions::default());
    let options = RenderOptions {
        spec_name: s.name.clone(),
        regenerate: regenerate.to_string(),
    };
    let contexts = FsContexts {
        root: root.to_path_buf(),
    };
    match render_with(&s.checked, &p, &options, &contexts) {
        Ok(g) => {
            let clashes = rendered_clashes(s, root, &g);
            if clashes.is_empty() {
                Some(g)
            } else {
                printer.print(&s.diagnostics(clashes));
                None
            }
        }
        Err(errors) => {
            printer.print(&s.diagnostics(errors));
            None
        }
    }
}

/// The lock under `root`: `Ok(None)` when there is none yet.
/// The lock at `path` and its text (`None`: there is no lock yet).
fn read_lock(path: &Path) -> Result<Option<(Lock, String)>, UsageError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Lock::parse(&text)
            .map(|lock| Some((lock, text)))
            .map_err(|reason| UsageError::Lock {
                path: path.display().to_string(),
                reason,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UsageError::Lock {
            path: path.display().to_string(),
            reason: if path.is_dir() {
                "it is a folder, not a file".into()
            } else {
                e.to_string()
            },
        }),
    }
}

fn new_lock(s: &Loaded, g: &Generated) -> Lock {
    Lock {
        version: LOCK_VERSION,
        specc: env!("CARGO_PKG_VERSION").into(),
        spec: s.name.replace('\\', "/"),
        spec_hash: hash(s.text.as_bytes()),
        templates_hash: templates_hash(),
        outputs: g
            .files
            .iter()
            .map(|f| (f.path.clone(), hash(f.contents.as_bytes())))
            .collect(),
        targets: g.targets.clone(),
    }
}

/// The paths of `entries` for a message: the first ten, then how many more (the diffs
/// and `missing:` lines that follow name them all).
fn paths(entries: &[&Entry]) -> String {
    const SHOWN: usize = 10;
    let mut list = entries
        .iter()
        .take(SHOWN)
        .map(|e| format!("`{}`", e.path))
        .collect::<Vec<_>>()
        .join(", ");
    if entries.len() > SHOWN {
        list.push_str(&format!(" and {} more", entries.len() - SHOWN));
    }
    list
}

fn print_diffs(printer: &Printer, entries: &[&Entry]) {
    if !printer.human() {
        return;
    }
    let mut out = String::new();
    for e in entries {
        // A whole new file as a diff is noise; a missing file is named instead.
        if e.current.is_none() && e.new.is_some() {
            out.push_str(&format!("missing: {}\n", e.path));
        } else {
            out.push_str(&e.diff());
        }
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

fn generate(printer: &Printer, s: &Loaded, root: &Path, regenerate: &str, force: bool) -> i32 {
    let Some(generated) = render_all(printer, s, root, regenerate) else {
        return 1;
    };
    let lock_path = s.checked.spec.output.lock.value.clone();
    let old = match read_lock(&root.join(&lock_path)) {
        Ok(l) => l.map(|(lock, _)| lock),
        Err(e) if force => {
            // A broken lock is replaced by --force; without it, say so.
            let _ = e;
            None
        }
        Err(e) => {
            printer.print(&e);
            return 2;
        }
    };
    let entries = compare_outputs(s, root, &generated, old.as_ref());
    let blocked: Vec<&Entry> = entries.iter().filter(|e| e.blocks()).collect();
    if !blocked.is_empty() && !force {
        printer.print(&SyncError::Edited {
            count: blocked.len(),
            paths: paths(&blocked),
        });
        print_diffs(printer, &blocked);
        return 1;
    }
    let lock = new_lock(s, &generated);
    match apply(root, &entries, &lock_path, &lock.to_text()) {
        Ok(done) => {
            if printer.human() {
                let mut line = format!(
                    "{}: {} written, {} unchanged",
                    s.name,
                    done.written.len(),
                    done.unchanged
                );
                if !done.removed.is_empty() {
                    line.push_str(&format!(", {} removed", done.removed.len()));
                }
                outln!("{line}");
                for p in &done.written {
                    outln!("  wrote   {p}");
                }
                for p in &done.removed {
                    outln!("  removed {p}");
                }
            }
            0
        }
        Err(e) => {
            printer.print(&UsageError::Write {
                path: e.path.display().to_string(),
                reason: e.error.to_string(),
            });
            2
        }
    }
}

/// True when the spec, the templates, every output and every target's inputs still match
/// the lock: then nothing needs rendering.
fn lock_is_fresh(s: &Loaded, root: &Path, lock: &Lock) -> bool {
    if lock.specc != env!("CARGO_PKG_VERSION")
        || lock.spec_hash != hash(s.text.as_bytes())
        || lock.templates_hash != templates_hash()
    {
        return false;
    }
    let on_disk = |path: &str| std::fs::read(root.join(path)).ok();
    if !lock
        .outputs
        .iter()
        .all(|(path, h)| on_disk(path).is_some_and(|b| hash(&b) == *h))
    {
        return false;
    }
    // Build contexts may have changed: recompute the input hashes from the outputs on disk.
    let spec = &s.checked.spec;
    let p = plan::plan(&s.checked, &PlanOptions::default());
    let dockerfile_of = |ii: usize, v: usize| {
        let name = crate::check::targets::target_name(spec, &spec.images[ii], v);
        let entry = lock.targets.get(&name)?;
        std::fs::read_to_string(root.join(&entry.dockerfile)).ok()
    };
    let dockerignore_of = |context: &str| {
        let path = if context == "." {
            spec.output.dockerignore.value.clone()
        } else {
            crate::render::join(context, ".dockerignore")
        };
        std::fs::read_to_string(root.join(path)).unwrap_or_default()
    };
    let contexts = FsContexts {
        root: root.to_path_buf(),
    };
    // The files specc writes are left out of build contexts, as when rendering.
    let generated: std::collections::BTreeSet<String> = lock
        .outputs
        .keys()
        .cloned()
        .chain([spec.output.lock.value.clone()])
        .collect();
    let hashes = crate::plan::inputs::input_hashes(
        &s.checked,
        &p,
        &dockerfile_of,
        &dockerignore_of,
        &contexts,
        &generated,
    );
    hashes.len() == lock.targets.len()
        && hashes
            .iter()
            .all(|(name, h)| lock.targets.get(name).is_some_and(|t| &t.input_hash == h))
}

fn check_outputs(printer: &Printer, s: &Loaded, root: &Path, regenerate: &str) -> i32 {
    let lock_path = root.join(&s.checked.spec.output.lock.value);
    // Without a lock nothing was generated yet: every output is missing, which is what a
    // pre-commit hook or CI job must hear (`--spec-only` checks just the spec).
    let (lock, lock_text) = match read_lock(&lock_path) {
        Ok(Some((lock, text))) => (Some(lock), Some(text)),
        Ok(None) => (None, None),
        Err(e) => {
            printer.print(&e);
            return 2;
        }
    };
    if let Some(lock) = &lock
        && lock_is_fresh(s, root, lock)
    {
        trace("check: fast path, outputs match the lock");
        if printer.human() {
            outln!("{}: ok, {} outputs in sync", s.name, lock.outputs.len());
        }
        return 0;
    }
    let Some(generated) = render_all(printer, s, root, regenerate) else {
        return 1;
    };
    let mut entries = compare_outputs(s, root, &generated, lock.as_ref());
    let expected = new_lock(s, &generated).to_text();
    if lock_text.as_deref() != Some(expected.as_str()) {
        let lock_name = s.checked.spec.output.lock.value.clone();
        entries.push(Entry {
            status: Status::Stale,
            current: lock_text.map(String::into_bytes),
            new: Some(expected),
            path: lock_name,
        });
    }
    let bad: Vec<&Entry> = entries.iter().filter(|e| e.out_of_sync()).collect();
    if bad.is_empty() {
        if printer.human() {
            outln!("{}: ok, {} outputs in sync", s.name, generated.files.len());
        }
        return 0;
    }
    let edited: Vec<&Entry> = bad.iter().copied().filter(|e| e.blocks()).collect();
    if !edited.is_empty() {
        printer.print(&SyncError::Edited {
            count: edited.len(),
            paths: paths(&edited),
        });
    }
    let stale: Vec<&Entry> = bad.iter().copied().filter(|e| !e.blocks()).collect();
    if !stale.is_empty() {
        printer.print(&SyncError::Stale {
            count: stale.len(),
            paths: paths(&stale),
            command: regenerate.to_string(),
        });
    }
    print_diffs(printer, &bad);
    1
}

#[derive(Serialize)]
struct MatrixEntry {
    target: String,
    image: String,
    variant: String,
    #[serde(rename = "input-hash")]
    input_hash: String,
}

#[derive(Serialize)]
struct Matrix {
    include: Vec<MatrixEntry>,
}

fn print_changed(
    printer: &Printer,
    s: &Loaded,
    p: &plan::Plan,
    root: &Path,
    since: Option<&Path>,
    json: bool,
    regenerate: &str,
) -> i32 {
    let lock_path = since
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(&s.checked.spec.output.lock.value));
    // The outputs' lock may not exist yet (every target is new); a lock named by --since
    // must: a typo would otherwise report every target as changed.
    if since.is_some() && std::fs::symlink_metadata(&lock_path).is_err() {
        printer.print(&UsageError::SinceMissing {
            path: lock_path.display().to_string(),
        });
        return 2;
    }
    let lock = match read_lock(&lock_path) {
        Ok(l) => l.map(|(lock, _)| lock),
        Err(e) => {
            printer.print(&e);
            return 2;
        }
    };
    let Some(generated) = render_all(printer, s, root, regenerate) else {
        return 1;
    };
    let before: BTreeMap<&String, &String> = lock
        .as_ref()
        .map(|l| l.targets.iter().map(|(k, v)| (k, &v.input_hash)).collect())
        .unwrap_or_default();
    let mut include = Vec::new();
    for t in &p.targets {
        let Some(now) = generated.targets.get(&t.name) else {
            continue;
        };
        if before.get(&t.name) != Some(&&now.input_hash) {
            include.push(MatrixEntry {
                target: t.name.clone(),
                image: t.image.clone(),
                variant: t.variant.clone(),
                input_hash: now.input_hash.clone(),
            });
        }
    }
    if json {
        outln!(
            "{}",
            serde_json::to_string(&Matrix { include }).expect("a matrix serializes")
        );
    } else if include.is_empty() {
        outln!("no target changed since {}", lock_path.display());
    } else {
        for m in &include {
            let old = before
                .get(&m.target)
                .map_or("none".to_string(), |h| h[..12.min(h.len())].to_string());
            outln!(
                "{}  (input hash {old} -> {})",
                m.target,
                &m.input_hash[..12]
            );
        }
    }
    0
}

/// The plan as aligned text, one block per target.
fn plan_text(p: &plan::Plan) -> String {
    let mut out = format!("{} {} ({})\n", p.project, p.version, p.event);
    for t in &p.targets {
        out.push_str(&format!("\ntarget {}\n", t.name));
        out.push_str(&format!(
            "  image      {} (variant {})\n",
            t.image, t.variant
        ));
        out.push_str(&format!("  stages     {}\n", t.stages.join(" -> ")));
        out.push_str(&format!("  context    {}\n", t.context));
        out.push_str(&format!("  platforms  {}\n", t.platforms.join(", ")));
        for (k, v) in &t.args {
            out.push_str(&format!("  arg        {k}={v}\n"));
        }
        if let Some(g) = &t.gpu {
            out.push_str(&format!(
                "  gpu        {} x {} ({})\n",
                g.count,
                g.driver,
                g.capabilities.join(", ")
            ));
        }
        if t.registries.is_empty() {
            out.push_str(&format!(
                "  tags       {} (not pushed)\n",
                t.tags.join(", ")
            ));
        }
        for r in &t.registries {
            for reference in &r.refs {
                out.push_str(&format!("  push       {reference}\n"));
            }
        }
    }
    out
}

fn write_stdout(text: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("specc: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}
