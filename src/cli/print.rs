//! Everything specc prints: diagnostics (graphical, or JSON with line and column), the
//! plan, reports of `generate`, `check` and `plan --changed`, and diffs.

use std::io::Write;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use crate::cli::args::MessageFormat;
use crate::plan::Plan;
use crate::sync::changed::Changed;
use crate::sync::source::line_column;
use crate::sync::{Applied, Entry, InSync};

/// Prints diagnostics on stderr, graphical or as JSON.
pub(crate) struct Printer {
    pub(crate) format: MessageFormat,
    pub(crate) color: bool,
}

impl Printer {
    pub(crate) fn print(&self, diagnostic: &dyn Diagnostic) {
        let mut out = String::new();
        match self.format {
            MessageFormat::Json => {
                json(&mut out, diagnostic, None, &mut None);
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
                let _ = if not_drawable(diagnostic, None) {
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

    pub(crate) fn human(&self) -> bool {
        self.format == MessageFormat::Human
    }
}

/// The column beyond which miette's graphical handler cannot draw a label: it pads with
/// a format width, which Rust limits to 65535 (and panics beyond).
const DRAWABLE_COLUMN: usize = 30_000;

/// The longest source line drawn whole under a diagnostic; a longer one (a 10 MB line
/// in a hostile spec, say) is shown as a window around the label instead.
const DRAWN_LINE_BYTES: usize = 1_000;

/// Characters shown on each side of a label in such a window.
const WINDOW_CHARS: usize = 60;

/// True when some label of `d` (or of a related diagnostic, which shows its parent's
/// source) starts or ends too far right to be drawn, or sits on a line too long to
/// print whole.
fn not_drawable(d: &dyn Diagnostic, parent: Option<&dyn miette::SourceCode>) -> bool {
    let source = d.source_code().or(parent);
    let labels_bad = match (source, d.labels()) {
        (Some(src), Some(mut labels)) => labels.any(|l| {
            let end = miette::SourceSpan::from((l.offset() + l.len(), 0));
            [l.inner(), &end].into_iter().any(|span| {
                src.read_span(span, 0, 0).is_ok_and(|c| {
                    c.column() > DRAWABLE_COLUMN || c.data().len() > DRAWN_LINE_BYTES
                })
            })
        }),
        _ => false,
    };
    labels_bad
        || d.related()
            .is_some_and(|mut r| r.any(|rd| not_drawable(rd, source)))
}

/// Up to [`WINDOW_CHARS`] characters of `line` on each side of byte `at`, control
/// characters shown as `?`, with `…` where the line goes on.
fn window(line: &[u8], at: usize) -> String {
    let text = String::from_utf8_lossy(line);
    let at = at.min(text.len());
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let (before, after) = text.split_at(at);
    let head: String = before
        .chars()
        .rev()
        .take(WINDOW_CHARS)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let tail: String = after.chars().take(WINDOW_CHARS).collect();
    let clean = |s: &str| {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
    };
    format!(
        "{}{}{}{}",
        if head.len() < before.len() { "…" } else { "" },
        clean(&head),
        clean(&tail),
        if tail.len() < after.len() { "…" } else { "" }
    )
}

/// A diagnostic without its source snippet: each label becomes `file:line:column: label`
/// in the text, with a window of its line when the line is long (for labels
/// [`not_drawable`]).
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
                    let at = l.offset().saturating_sub(c.span().offset());
                    text.push_str(&format!("\n  | {}", window(c.data(), at)));
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

/// `d` as one JSON object, as miette's JSON handler writes it, each label's span also
/// giving 1-based `line` and `column` (in characters) of its start and `end_line` and
/// `end_column` of the position just after it.
fn json<'s>(
    out: &mut String,
    d: &'s dyn Diagnostic,
    parent: Option<&'s dyn miette::SourceCode>,
    lines: &mut Option<Lines>,
) {
    let s = |text: &str| serde_json::to_string(text).expect("a string serializes");
    out.push_str(&format!(r#"{{"message": {},"#, s(&d.to_string())));
    if let Some(code) = d.code() {
        out.push_str(&format!(r#""code": {},"#, s(&code.to_string())));
    }
    let severity = match d.severity() {
        Some(miette::Severity::Warning) => "warning",
        Some(miette::Severity::Advice) => "advice",
        Some(miette::Severity::Error) | None => "error",
    };
    let mut causes = Vec::new();
    let mut cause = d.source();
    while let Some(c) = cause {
        causes.push(s(&c.to_string()));
        cause = c.source();
    }
    out.push_str(&format!(
        r#""severity": "{severity}","causes": [{}],"#,
        causes.join(",")
    ));
    if let Some(url) = d.url() {
        out.push_str(&format!(r#""url": {},"#, s(&url.to_string())));
    }
    if let Some(help) = d.help() {
        out.push_str(&format!(r#""help": {},"#, s(&help.to_string())));
    }
    let source = d.source_code().or(parent);
    let filename = source
        .zip(d.labels().and_then(|mut l| l.next()))
        .and_then(|(src, l)| src.read_span(l.inner(), 0, 0).ok())
        .and_then(|c| c.name().map(str::to_string))
        .unwrap_or_default();
    out.push_str(&format!(r#""filename": {},"labels": ["#, s(&filename)));
    for (i, label) in d.labels().into_iter().flatten().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if let Some(text) = label.label() {
            out.push_str(&format!(r#""label": {},"#, s(text)));
        }
        out.push_str(&format!(
            r#""span": {{"offset": {},"length": {}"#,
            label.offset(),
            label.len()
        ));
        if let Some(src) = source {
            let lines = Lines::of(lines, src);
            let (line, column) = lines.position(label.offset());
            let (end_line, end_column) = lines.position(label.offset() + label.len());
            out.push_str(&format!(
                r#","line": {line},"column": {column},"end_line": {end_line},"end_column": {end_column}"#
            ));
        }
        out.push_str("}}");
    }
    out.push_str(r#"],"related": ["#);
    for (i, related) in d.related().into_iter().flatten().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json(out, related, source, lines);
    }
    out.push_str("]}");
}

/// A source's text and where each of its lines starts, made once per source: finding a
/// position from the start of the text for every label would make many diagnostics cost
/// quadratic time.
struct Lines {
    source: *const (),
    text: Vec<u8>,
    starts: Vec<usize>,
}

impl Lines {
    fn of<'l>(cache: &'l mut Option<Lines>, src: &dyn miette::SourceCode) -> &'l Lines {
        let key = src as *const dyn miette::SourceCode as *const ();
        if cache.as_ref().is_none_or(|l| l.source != key) {
            let text = src
                .read_span(&miette::SourceSpan::from((0, 0)), 0, usize::MAX)
                .map(|c| c.data().to_vec())
                .unwrap_or_default();
            let starts = std::iter::once(0)
                .chain(memchr_all(&text).map(|i| i + 1))
                .collect();
            *cache = Some(Lines {
                source: key,
                text,
                starts,
            });
        }
        cache.as_ref().expect("just made")
    }

    /// 1-based line and column (in characters) of byte `offset`, as
    /// [`line_column`] counts them.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1];
        let (_, column) = line_column(&self.text[start..offset], offset - start);
        (line, column)
    }
}

fn memchr_all(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    text.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
}

/// What `generate` did, in human output only.
pub(crate) fn print_applied(printer: &Printer, spec: &str, done: &Applied) {
    if !printer.human() {
        return;
    }
    let mut line = format!(
        "{spec}: {} written, {} unchanged",
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

/// `check`'s answer when every output is in sync, in human output only.
pub(crate) fn print_in_sync(printer: &Printer, spec: &str, in_sync: &InSync) {
    if printer.human() {
        outln!("{spec}: ok, {} outputs in sync", in_sync.outputs);
    }
}

#[derive(Serialize)]
struct MatrixEntry<'a> {
    target: &'a str,
    image: &'a str,
    variant: &'a str,
    #[serde(rename = "input-hash")]
    input_hash: &'a str,
}

#[derive(Serialize)]
struct Matrix<'a> {
    include: Vec<MatrixEntry<'a>>,
}

/// The changed targets: a GitHub Actions matrix (`json`), or one line per target.
pub(crate) fn print_changed(changed: &Changed, json: bool) {
    if json {
        let include = changed
            .targets
            .iter()
            .map(|t| MatrixEntry {
                target: &t.target,
                image: &t.image,
                variant: &t.variant,
                input_hash: &t.input_hash,
            })
            .collect();
        let matrix = serde_json::to_string(&Matrix { include }).expect("a matrix serializes");
        outln!("{matrix}");
    } else if changed.targets.is_empty() {
        outln!("no target changed since {}", changed.since);
    } else {
        let short = |h: &str| h[..12.min(h.len())].to_string();
        for t in &changed.targets {
            let old = t.before.as_deref().map_or("none".to_string(), short);
            outln!(
                "{}  (input hash {old} -> {})",
                t.target,
                short(&t.input_hash)
            );
        }
    }
}

/// The plan as aligned text, one block per target.
pub(crate) fn plan_text(p: &Plan) -> String {
    let mut out = format!("{} {} ({})\n", p.project, p.version, p.event.name());
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
        if let Some(h) = &t.hash {
            out.push_str(&format!("  hash tag   {}\n", h.hash_tag));
        }
    }
    out
}

/// Each entry's unified diff (a missing file by name), in human output only.
pub(crate) fn print_diffs(printer: &Printer, entries: &[Entry]) {
    if !printer.human() {
        return;
    }
    let mut out = String::new();
    for e in entries {
        // A whole new file as a diff is noise; a missing file is named instead.
        if e.status != crate::sync::Status::Foreign && e.current.is_none() && e.new.is_some() {
            out.push_str(&format!("missing: {}\n", e.path));
        } else {
            out.push_str(&e.diff());
        }
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// Writes to stdout; see [`out!`].
pub(crate) fn write_stdout(text: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("specc: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}
