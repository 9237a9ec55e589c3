//! Dispatch: the parsed command line in, the pipeline run, its reports printed, the exit
//! code out.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use miette::Diagnostic;

use crate::cli::args::{Cli, Color, Command, GraphFormat, MessageFormat};
use crate::cli::print::{
    Printer, plan_text, print_applied, print_changed, print_diffs, print_in_sync,
};
use crate::sync::source::{Loaded, Source, is_stdin, locate, read};
use crate::sync::{Failure, Layout, changed, options};
use crate::{PlanOptions, diagram, plan};

/// A failure of the command line itself: exit code 2.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum UsageError {
    #[error("cannot change to directory `{path}`: {reason}")]
    #[diagnostic(
        code(specc::io),
        help("`-C DIR` runs specc as if started in DIR, which must be an existing folder")
    )]
    Directory { path: String, reason: String },
    #[error("{message}")]
    #[diagnostic(code(specc::usage::arguments), help("{help}"))]
    Arguments { message: String, help: String },
}

/// Parses the process's command line and runs it; returns the process exit code.
///
/// A bad command line exits 2 like any usage error, and with `--message-format json` it
/// is reported as one JSON object too, so that a tool reading specc's JSON never gets
/// clap's text instead.
pub(crate) fn main() -> i32 {
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
            "run one of `specc check`, `specc plan`, `specc generate`, `specc graph`, `specc lsp`, `specc completions`; see `specc --help`".to_string(),
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
    let run = Run {
        printer,
        deny_warnings: cli.deny_warnings,
    };
    match cli.command {
        Command::Completions { shell } => completions(shell),
        Command::Lsp => crate::lsp::serve(),
        Command::Check {
            spec,
            out,
            spec_only,
        } => run.check(spec, out, spec_only),
        Command::Plan {
            spec,
            json,
            version,
            event,
            branch,
            pr,
            sha,
            date,
            changed,
            hashes,
            since,
            out,
        } => {
            let options = PlanOptions {
                version,
                event: event.map(|e| e.event()).or(pr.map(|_| plan::Event::Pr)),
                branch,
                pr,
                sha,
                date,
                ..PlanOptions::default()
            };
            let reads = match (changed, hashes) {
                (true, _) => TreeRead::Changed(since),
                (_, true) => TreeRead::Hashes,
                _ => TreeRead::None,
            };
            run.plan(spec, options, json, reads, out)
        }
        Command::Generate { spec, out, force } => run.generate(spec, out, force),
        Command::Graph { spec, format } => run.with_spec(spec, |s| {
            match format {
                GraphFormat::Dot => out!("{}", diagram::dot(&s.checked)),
                GraphFormat::Mermaid => out!("{}", diagram::mermaid(&s.checked)),
            }
            0
        }),
    }
}

fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics when a write fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "specc", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    0
}

/// What `plan` reads from the working tree besides the spec.
#[derive(Debug, PartialEq, Eq)]
enum TreeRead {
    None,
    /// `--changed --since REV`.
    Changed(String),
    /// `--hashes`.
    Hashes,
}

impl TreeRead {
    /// The option that asks for it.
    fn option(&self) -> Option<&'static str> {
        match self {
            TreeRead::None => None,
            TreeRead::Changed(_) => Some("--changed"),
            TreeRead::Hashes => Some("--hashes"),
        }
    }
}

/// One run of a command that reads a spec.
struct Run {
    printer: Printer,
    deny_warnings: bool,
}

impl Run {
    fn check(&self, spec: Option<PathBuf>, out: Option<PathBuf>, spec_only: bool) -> i32 {
        if spec.as_deref().is_some_and(is_stdin) && !spec_only {
            return self.stdin_refused(
                "checking the outputs",
                "pass the spec's path, or add `--spec-only` to check only the spec read from standard input",
            );
        }
        let fast = |source: &Source, layout: &Layout| {
            let in_sync = crate::sync::fast::check(&source.text, layout)?;
            print_in_sync(&self.printer, &source.name, &in_sync);
            Some(self.warned(&in_sync.warnings))
        };
        self.with_layout(spec, out, spec_only, fast, |s, layout| {
            let Some(layout) = layout else {
                return self.report_spec_ok(s);
            };
            match crate::sync::check(s, layout) {
                Ok(in_sync) => {
                    print_in_sync(&self.printer, &s.name, &in_sync);
                    self.warned(&in_sync.warnings)
                }
                Err(f) => self.failed(f),
            }
        })
    }

    fn generate(&self, spec: Option<PathBuf>, out: Option<PathBuf>, force: bool) -> i32 {
        if spec.as_deref().is_some_and(is_stdin) {
            return self.stdin_refused(
                "`generate`",
                "pass the spec's path: every output names its spec and the command that regenerates it",
            );
        }
        let fast = |source: &Source, layout: &Layout| {
            let done = crate::sync::fast::generate(&source.text, layout)?;
            print_applied(&self.printer, &source.name, &done);
            Some(self.warned(&done.warnings))
        };
        self.with_layout(spec, out, false, fast, |s, layout| {
            let Some(layout) = layout else {
                return self.stdin_refused("`generate`", "pass the spec's path");
            };
            match crate::sync::generate(s, layout, force) {
                Ok(done) => {
                    print_applied(&self.printer, &s.name, &done);
                    self.warned(&done.warnings)
                }
                Err(f) => self.failed(f),
            }
        })
    }

    fn plan(
        &self,
        spec: Option<PathBuf>,
        options: PlanOptions,
        json: bool,
        reads: TreeRead,
        out: Option<PathBuf>,
    ) -> i32 {
        let given = options::check_version(options.version.as_deref())
            .and_then(|()| options::check_event(&options));
        if let Err(e) = given {
            self.printer.print(&e);
            return 2;
        }
        if let Some(option) = reads.option()
            && spec.as_deref().is_some_and(is_stdin)
        {
            return self.stdin_refused(
                &format!("`plan {option}`"),
                "pass the spec's path: the targets' inputs are read next to it",
            );
        }
        let spec_only = reads == TreeRead::None;
        self.with_layout(
            spec,
            out,
            spec_only,
            |_, _| None,
            |s, layout| {
                let (mut p, resolved) = match options::plan(s, &options)
                    .and_then(|p| Ok((p, options::resolve(s, &options)?)))
                {
                    Ok(p) => p,
                    Err(e) => {
                        self.printer.print(&e);
                        return 2;
                    }
                };
                match (&reads, layout) {
                    (TreeRead::Changed(since), Some(layout)) => {
                        return match changed::changed(s, layout, &p, &resolved, since) {
                            Ok(c) => {
                                print_changed(&c, json);
                                0
                            }
                            Err(f) => self.failed(f),
                        };
                    }
                    (TreeRead::Hashes, Some(layout)) => {
                        match changed::current_hashes(s, layout, &resolved) {
                            Ok(hashes) => p.set_input_hashes(&hashes),
                            Err(f) => return self.failed(f),
                        }
                    }
                    _ => {}
                }
                if json {
                    let text = serde_json::to_string_pretty(&p).expect("a plan serializes");
                    outln!("{text}");
                } else {
                    out!("{}", plan_text(&p));
                }
                0
            },
        )
    }

    /// Prints the warnings of a sync command that succeeded; its exit code (1 when there
    /// are some under `--deny-warnings`).
    fn warned(&self, warnings: &[crate::sync::SyncWarning]) -> i32 {
        for w in warnings {
            self.printer.print(w);
        }
        if warnings.is_empty() || !self.deny_warnings {
            return 0;
        }
        if self.printer.human() {
            let _ = writeln!(
                std::io::stderr(),
                "specc: the warnings above fail the run under --deny-warnings"
            );
        }
        1
    }

    /// Prints a failure of the sync stage; its exit code.
    fn failed(&self, failure: Failure) -> i32 {
        match failure {
            Failure::Spec(d) => {
                self.printer.print(&d);
                1
            }
            Failure::Drift { errors, entries } => {
                for e in &errors {
                    self.printer.print(e);
                }
                print_diffs(&self.printer, &entries);
                1
            }
            Failure::Io(e) => {
                self.printer.print(&e);
                2
            }
            Failure::Refused(errors) => {
                for e in &errors {
                    self.printer.print(e);
                }
                2
            }
        }
    }

    /// Refuses a spec from standard input for a command that needs its path.
    fn stdin_refused(&self, what: &str, help: &str) -> i32 {
        self.printer.print(&UsageError::Arguments {
            message: format!("{what} needs the spec's path, not `-` (standard input)"),
            help: help.to_string(),
        });
        2
    }

    /// [`Run::with_spec`], with the outputs' layout unless `spec_only`. `fast` may answer
    /// from the spec's text and layout before the spec is parsed (`None`: it cannot).
    fn with_layout(
        &self,
        spec: Option<PathBuf>,
        out: Option<PathBuf>,
        spec_only: bool,
        fast: impl FnOnce(&Source, &Layout) -> Option<i32>,
        then: impl FnOnce(&Loaded, Option<&Layout>) -> i32,
    ) -> i32 {
        if let Some(dir) = &out
            && std::fs::metadata(dir).is_ok_and(|m| !m.is_dir())
        {
            self.printer.print(&crate::sync::SyncError::OutNotFolder {
                path: dir.display().to_string(),
            });
            return 2;
        }
        let source = match self.read(spec) {
            Ok(source) => source,
            Err(code) => return code,
        };
        let layout = (source.path.as_deref())
            .filter(|_| !spec_only)
            .map(|path| Layout::new(path, out.as_deref()));
        if let Some(Ok(layout)) = &layout
            && let Some(code) = fast(&source, layout)
        {
            return code;
        }
        // The spec's problems come first, then a layout that cannot be made.
        self.compiled(source, |s| match layout {
            None => then(s, None),
            Some(Ok(layout)) => then(s, Some(&layout)),
            Some(Err(e)) => {
                self.printer.print(&e);
                2
            }
        })
    }

    /// Finds, reads and compiles the spec, prints its diagnostics, and runs `then` on success.
    fn with_spec(&self, spec: Option<PathBuf>, then: impl FnOnce(&Loaded) -> i32) -> i32 {
        match self.read(spec) {
            Ok(source) => self.compiled(source, then),
            Err(code) => code,
        }
    }

    /// Finds and reads the spec; the exit code when it cannot, its error printed.
    fn read(&self, spec: Option<PathBuf>) -> Result<Source, i32> {
        locate(spec.as_deref()).and_then(|p| read(&p)).map_err(|e| {
            self.printer.print(&e);
            2
        })
    }

    /// Compiles the spec, prints its diagnostics, and runs `then` on success.
    fn compiled(&self, source: Source, then: impl FnOnce(&Loaded) -> i32) -> i32 {
        let loaded = match source.compile() {
            Ok(loaded) => loaded,
            Err(diagnostics) => {
                self.printer.print(&diagnostics);
                return 1;
            }
        };
        if !loaded.checked.warnings.is_empty() {
            self.printer
                .print(&loaded.diagnostics(loaded.checked.warnings.clone()));
            if self.deny_warnings {
                if self.printer.human() {
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

    fn report_spec_ok(&self, s: &Loaded) -> i32 {
        if self.printer.human() {
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
}
