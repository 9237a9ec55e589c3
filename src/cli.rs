//! Command line in (clap), exit code out: reads the spec, runs the pipeline, prints.
//!
//! Exit codes: 0 ok (warnings allowed unless `--deny-warnings`), 1 problems in the spec,
//! 2 usage or I/O errors.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, JSONReportHandler};

use crate::{Diagnostics, PlanOptions, compile, diagram, plan};

#[derive(Debug, Parser)]
#[command(
    name = "specc",
    version,
    about = "Compile one KDL build spec into Dockerfiles, bake, compose, workflows and Helm values",
    long_about = None,
    after_help = "Exit codes: 0 ok, 1 problems in the spec, 2 usage or I/O errors.\nThe language reference is docs/language.md."
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
    /// Check the spec and report every problem at once.
    Check {
        /// The spec file.
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
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
    /// Generate the Dockerfiles, .dockerignore, bake and compose files of the spec.
    Generate {
        /// The spec file.
        #[arg(default_value = "specc.kdl")]
        spec: PathBuf,
        /// Write outputs under DIR instead of the spec's folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
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
            "check that the folder is writable; files written before this one are complete, none is half-written"
        )
    )]
    Write { path: String, reason: String },
    #[error("`{value}` is not a valid version for `--set-version`")]
    #[diagnostic(
        code(specc::usage::version),
        help("tags need a version made of tag characters, e.g. `--set-version 1.2.3`")
    )]
    Version { value: String },
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
            }
        }
        let _ = std::io::stderr().write_all(out.as_bytes());
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
    if let Some(dir) = &cli.directory {
        if let Err(e) = std::env::set_current_dir(dir) {
            printer.print(&UsageError::Directory {
                path: dir.display().to_string(),
                reason: e.to_string(),
            });
            return 2;
        }
    }
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "specc", &mut std::io::stdout());
            0
        }
        Command::Check { spec } => {
            with_spec(&spec, &printer, cli.deny_warnings, |name, checked| {
                let targets = plan::plan(checked, &PlanOptions::default()).targets.len();
                if printer.format == MessageFormat::Human {
                    println!(
                        "{name}: ok ({} images, {targets} targets, {} services, {} workflows, {} charts)",
                        checked.spec.images.len(),
                        checked.spec.services.len(),
                        checked.spec.workflows.len(),
                        checked.spec.charts.len()
                    );
                }
                0
            })
        }
        Command::Plan {
            spec,
            json,
            version,
            branch,
            sha,
        } => {
            if let Some(v) = &version {
                if crate::values::check_tag(v).is_err() {
                    printer.print(&UsageError::Version { value: v.clone() });
                    return 2;
                }
            }
            let options = PlanOptions {
                version,
                branch,
                sha,
            };
            with_spec(&spec, &printer, cli.deny_warnings, |_, checked| {
                let p = plan::plan(checked, &options);
                if json {
                    let text = serde_json::to_string_pretty(&p).expect("a plan serializes");
                    println!("{text}");
                } else {
                    print!("{}", plan_text(&p));
                }
                0
            })
        }
        Command::Generate { spec, out } => {
            let root = match &out {
                Some(dir) => dir.clone(),
                None => spec.parent().map(Path::to_path_buf).unwrap_or_default(),
            };
            let mut regenerate = format!("specc generate {}", spec.display());
            if let Some(dir) = &out {
                regenerate.push_str(&format!(" --out {}", dir.display()));
            }
            let options = crate::render::RenderOptions {
                spec_name: spec.display().to_string(),
                regenerate,
            };
            let name = spec.display().to_string();
            with_spec(&spec, &printer, cli.deny_warnings, |_, checked| {
                let p = plan::plan(checked, &PlanOptions::default());
                let files = match crate::render::render(checked, &p, &options) {
                    Ok(files) => files,
                    Err(errors) => {
                        let text = std::fs::read_to_string(&spec).unwrap_or_default();
                        printer.print(&Diagnostics::new(&name, Arc::new(text), errors));
                        return 1;
                    }
                };
                let mut written = 0;
                for f in &files {
                    match crate::write::write_file(&root, f) {
                        Ok(crate::write::Outcome::Written) => written += 1,
                        Ok(crate::write::Outcome::Unchanged) => {}
                        Err(e) => {
                            printer.print(&UsageError::Write {
                                path: e.path.display().to_string(),
                                reason: e.error.to_string(),
                            });
                            return 2;
                        }
                    }
                }
                if printer.format == MessageFormat::Human {
                    println!("{name}: {written} of {} outputs written", files.len());
                }
                0
            })
        }
        Command::Graph { spec, format } => {
            with_spec(&spec, &printer, cli.deny_warnings, |_, checked| {
                match format {
                    GraphFormat::Dot => print!("{}", diagram::dot(checked)),
                    GraphFormat::Mermaid => print!("{}", diagram::mermaid(checked)),
                }
                0
            })
        }
    }
}

/// Reads and compiles `path`, prints its diagnostics, and runs `then` on success.
fn with_spec(
    path: &Path,
    printer: &Printer,
    deny_warnings: bool,
    then: impl FnOnce(&str, &crate::Checked) -> i32,
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
            if !checked.warnings.is_empty() {
                let d = Diagnostics::new(&name, Arc::new(text.clone()), checked.warnings.clone());
                printer.print(&d);
                if deny_warnings {
                    return 1;
                }
            }
            then(&name, &checked)
        }
    }
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
