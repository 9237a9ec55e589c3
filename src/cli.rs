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

use crate::hash::FsContexts;
use crate::lock::{LOCK_VERSION, Lock, hash};
use crate::render::{Generated, RenderOptions, render_with, templates_hash, trace};
use crate::write::{Entry, Status, apply, compare};
use crate::{Checked, Diagnostics, PlanOptions, compile, diagram, plan};

#[derive(Debug, Parser)]
#[command(
    name = "specc",
    version,
    about = "Compile one KDL build spec into Dockerfiles, bake, compose, workflows and Helm values",
    long_about = None,
    after_help = "Exit codes: 0 ok, 1 problems in the spec or outputs out of sync, 2 usage or I/O errors.\nThe language reference is docs/language.md."
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
    Check {
        /// The spec file.
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
    Plan {
        /// The spec file.
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Plan for this version instead of the project's.
        #[arg(long = "set-version", value_name = "VERSION")]
        version: Option<String>,
        /// Plan a push to this branch instead of a release.
        #[arg(long)]
        branch: Option<String>,
        /// The commit for `{{sha}}` tags.
        #[arg(long)]
        sha: Option<String>,
        /// Print only the targets whose input hash differs from the lock (JSON: a GitHub
        /// Actions matrix).
        #[arg(long)]
        changed: bool,
        /// With --changed: compare with this lock file instead of the outputs' lock.
        #[arg(long, value_name = "LOCKFILE", requires = "changed")]
        since: Option<PathBuf>,
        /// The outputs (and their lock) live under DIR instead of the spec's folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Generate every output of the spec; write only files whose bytes change.
    Generate {
        /// The spec file.
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// Write outputs under DIR instead of the spec's folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Overwrite (or remove) outputs that were edited by hand.
        #[arg(long)]
        force: bool,
    },
    /// Print the dependency graph of stages, images, services, workflows and charts.
    Graph {
        /// The spec file.
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

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
    #[diagnostic(code(specc::io))]
    Directory { path: String, reason: String },
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

/// The first tag rule that uses `{{major}}`, `{{minor}}` or `{{patch}}` when `version` has
/// no such parts (the generated workflow refuses such a version the same way).
fn version_part_rule(spec: &crate::model::Spec, version: &str) -> Option<String> {
    use crate::values::{Piece, Placeholder};
    if crate::values::parse_version(version).is_some() {
        return None;
    }
    spec.images
        .iter()
        .flat_map(|i| &i.tags)
        .find(|rule| {
            crate::values::parse_tag_template(&rule.template.value).is_ok_and(|pieces| {
                pieces.iter().any(|p| {
                    matches!(
                        p,
                        Piece::Placeholder(
                            Placeholder::Major | Placeholder::Minor | Placeholder::Patch
                        )
                    )
                })
            })
        })
        .map(|rule| rule.template.value.clone())
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
                let _ = GraphicalReportHandler::new_themed(theme)
                    .with_width(100)
                    .with_links(false)
                    .render_report(&mut out, diagnostic);
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
            clap_complete::generate(shell, &mut cmd, "specc", &mut std::io::stdout());
            0
        }
        Command::Check {
            spec,
            out,
            spec_only,
        } => with_spec(&spec, &printer, deny, |s| {
            if spec_only {
                return report_spec_ok(&printer, s);
            }
            check_outputs(
                &printer,
                s,
                &output_root(&spec, &out),
                &regenerate_command(&spec, &out),
            )
        }),
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
                && crate::values::check_tag(v).is_err()
            {
                printer.print(&UsageError::Version { value: v.clone() });
                return 2;
            }
            let options = PlanOptions {
                version,
                branch,
                sha,
            };
            with_spec(&spec, &printer, deny, |s| {
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
        Command::Generate { spec, out, force } => with_spec(&spec, &printer, deny, |s| {
            generate(
                &printer,
                s,
                &output_root(&spec, &out),
                &regenerate_command(&spec, &out),
                force,
            )
        }),
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

/// Reads and compiles `path`, prints its diagnostics, and runs `then` on success.
fn with_spec(
    path: &Path,
    printer: &Printer,
    deny_warnings: bool,
    then: impl FnOnce(&Loaded) -> i32,
) -> i32 {
    let name = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                printer.print(&UsageError::Read {
                    path: name,
                    reason: format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                    help: "save the spec as UTF-8".into(),
                });
                return 2;
            }
        },
        Err(e) => {
            let help = if e.kind() == std::io::ErrorKind::NotFound {
                "pass the spec's path, e.g. `specc check specs/app.kdl`, or run in the folder that holds `specc.kdl` (or use `-C DIR`)".into()
            } else {
                "check the file's permissions".into()
            };
            printer.print(&UsageError::Read {
                path: name,
                reason: e.to_string(),
                help,
            });
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
                name,
                text,
                checked,
            };
            if !loaded.checked.warnings.is_empty() {
                printer.print(&loaded.diagnostics(loaded.checked.warnings.clone()));
                if deny_warnings {
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

/// Renders everything, reading build contexts under `root`; prints render problems.
fn render_all(printer: &Printer, s: &Loaded, root: &Path, regenerate: &str) -> Option<Generated> {
    let p = plan::plan(&s.checked, &PlanOptions::default());
    let options = RenderOptions {
        spec_name: s.name.clone(),
        regenerate: regenerate.to_string(),
    };
    let contexts = FsContexts {
        root: root.to_path_buf(),
    };
    match render_with(&s.checked, &p, &options, &contexts) {
        Ok(g) => Some(g),
        Err(errors) => {
            printer.print(&s.diagnostics(errors));
            None
        }
    }
}

/// The lock under `root`: `Ok(None)` when there is none yet.
fn read_lock(path: &Path) -> Result<Option<Lock>, UsageError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Lock::parse(&text)
            .map(Some)
            .map_err(|reason| UsageError::Lock {
                path: path.display().to_string(),
                reason,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UsageError::Lock {
            path: path.display().to_string(),
            reason: e.to_string(),
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

fn paths(entries: &[&Entry]) -> String {
    entries
        .iter()
        .map(|e| format!("`{}`", e.path))
        .collect::<Vec<_>>()
        .join(", ")
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
        Ok(l) => l,
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
    let entries = compare(root, &generated.files, old.as_ref());
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
        let name = plan::target_name(spec, &spec.images[ii], v);
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
    let hashes = crate::render::inputs::input_hashes(
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
    let lock = match read_lock(&lock_path) {
        Ok(lock) => lock,
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
    let mut entries = compare(root, &generated.files, lock.as_ref());
    let expected = new_lock(s, &generated).to_text();
    if std::fs::read_to_string(&lock_path).ok().as_deref() != Some(expected.as_str()) {
        let lock_name = s.checked.spec.output.lock.value.clone();
        entries.push(Entry {
            status: Status::Stale,
            current: std::fs::read(&lock_path).ok(),
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
    let lock = match read_lock(&lock_path) {
        Ok(l) => l,
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
