//! Docs cannot rot: every ```kdl code block in `README.md` and `docs/**/*.md` is compiled.
//!
//! # The convention for code blocks
//!
//! The fence's info string says what a block must do. It is the language `kdl`, then
//! optional attributes separated by commas:
//!
//! | fence                          | the block must                                            |
//! |--------------------------------|-----------------------------------------------------------|
//! | ```` ```kdl ````               | be a complete spec that compiles with no error and no warning, and renders every output (`specc::render::render`) without error |
//! | ```` ```kdl,error=CODE ````    | fail, reporting exactly the codes listed (each at least once) |
//! | ```` ```kdl,warning=CODE ````  | compile and render, warning with exactly the codes listed  |
//! | ```` ```kdl,fragment ````      | parse as KDL v2 (`kdl::KdlDocument::parse_v2`); nothing more |
//!
//! `error=` and `warning=` may be repeated (`kdl,error=A,error=B`) and combined; the set of
//! codes a block reports (errors and warnings, from compiling, and from rendering when it
//! compiled) must equal the set listed. An unknown attribute fails the test, so a typo
//! cannot silently turn a check off. Prefer complete specs over fragments: a complete
//! spec needs only a `project`, a `stage` and an `image` that builds the stage.
//!
//! Each block is compiled with [`specc::compile`] under the name `<file>:<line>` (the line
//! of its opening fence, e.g. `docs/language.md:42`), so a failure points at the doc.
//! Blocks in other languages (```` ```sh ````, ```` ```text ````, ...) are not checked; a
//! ```kdl fence inside another fence (```` ```` ```` or `~~~`) is content, not a block.
//!
//! Besides the blocks, `docs/diagnostics.md` must name every diagnostic code specc has
//! and show a block that triggers each code of `src/error.rs` that a spec can trigger.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use specc::render::RenderOptions;
use specc::{Diagnostics, PlanOptions};

/// What a block must do, from its info string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Compiles and renders with no diagnostics at all.
    Clean,
    /// Reports exactly these codes (at least one of them an error when `fails`).
    Codes {
        fails: bool,
        codes: BTreeSet<String>,
    },
    /// Only parses as KDL v2.
    Fragment,
}

/// One fenced code block.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    /// The info string after the fence, trimmed.
    info: String,
    text: String,
}

/// The fenced code blocks of a markdown text: simple line-based fence parsing.
///
/// A fence is a line of three or more backticks or tildes, optionally indented, followed
/// by an info string on the opening line. It closes at a line with at least as many of
/// the same character and nothing else. Content lines lose the opening fence's
/// indentation. An unclosed fence is an error (a broken doc, not an empty block).
fn fenced_blocks(markdown: &str) -> Result<Vec<Block>, String> {
    struct Open {
        line: usize,
        indent: usize,
        fence: char,
        len: usize,
        info: String,
        text: String,
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                let Some(fence) = trimmed.chars().next().filter(|c| *c == '`' || *c == '~') else {
                    continue;
                };
                let len = trimmed.chars().take_while(|c| *c == fence).count();
                if len < 3 {
                    continue;
                }
                let info = trimmed[len..].trim();
                // A backtick fence's info string has no backticks (else it is inline code).
                if fence == '`' && info.contains('`') {
                    continue;
                }
                open = Some(Open {
                    line: i + 1,
                    indent,
                    fence,
                    len,
                    info: info.to_string(),
                    text: String::new(),
                });
            }
            Some(o) => {
                let run = trimmed.chars().take_while(|c| *c == o.fence).count();
                if run >= o.len && trimmed[run..].trim().is_empty() {
                    blocks.push(Block {
                        line: o.line,
                        info: std::mem::take(&mut o.info),
                        text: std::mem::take(&mut o.text),
                    });
                    open = None;
                    continue;
                }
                // Drop up to the fence's indentation, never content characters.
                let strip = line
                    .char_indices()
                    .take_while(|(n, c)| *n < o.indent && *c == ' ')
                    .count();
                o.text.push_str(&line[strip..]);
                o.text.push('\n');
            }
        }
    }
    match open {
        Some(o) => Err(format!(
            "the code fence opened on line {} is never closed",
            o.line
        )),
        None => Ok(blocks),
    }
}

/// What a block's info string asks for: `None` for a block that is not KDL.
fn expectation(info: &str) -> Option<Result<Expect, String>> {
    let mut parts = info.split([',', ' ', '\t']).filter(|p| !p.is_empty());
    if parts.next() != Some("kdl") {
        return None;
    }
    let mut fragment = false;
    let mut fails = false;
    let mut codes = BTreeSet::new();
    for attr in parts {
        match attr.split_once('=') {
            None if attr == "fragment" => fragment = true,
            Some(("error", code)) if code.starts_with("specc::") => {
                fails = true;
                codes.insert(code.to_string());
            }
            Some(("warning", code)) if code.starts_with("specc::") => {
                codes.insert(code.to_string());
            }
            _ => {
                return Some(Err(format!(
                    "unknown attribute `{attr}` in ```{info}; write `fragment`, `error=specc::...` or `warning=specc::...`"
                )));
            }
        }
    }
    Some(match (fragment, codes.is_empty()) {
        (true, false) => Err(format!(
            "```{info}: a fragment is only parsed, so it cannot expect diagnostics"
        )),
        (true, true) => Ok(Expect::Fragment),
        (false, true) => Ok(Expect::Clean),
        (false, false) => Ok(Expect::Codes { fails, codes }),
    })
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `README.md` and every markdown file under `docs/`, as paths relative to the repository.
fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("README.md")];
    let mut todo = vec![PathBuf::from("docs")];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(repo().join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = dir.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(rel);
            } else if rel.extension().is_some_and(|e| e == "md") {
                files.push(rel);
            }
        }
    }
    files.sort();
    files
}

fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// The codes of a list of problems.
fn codes_of<'a>(errors: impl IntoIterator<Item = &'a specc::Error>) -> Vec<String> {
    errors
        .into_iter()
        .filter_map(|e| e.code().map(|c| c.to_string()))
        .collect()
}

/// The diagnostics as the CLI prints them (no colour), for failure messages.
fn rendered(d: &Diagnostics) -> String {
    let mut out = String::new();
    let _ = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .render_report(&mut out, d);
    out
}

/// Compiles and renders `text`: every code reported, whether any was an error, and the
/// diagnostics as text.
fn run(name: &str, text: &str) -> (Vec<String>, bool, String) {
    let checked = match specc::compile(name, text) {
        Err(d) => return (codes_of(&d.errors), d.has_errors(), rendered(&d)),
        Ok(c) => c,
    };
    let mut problems = checked.warnings.clone();
    let plan = specc::plan::plan(&checked, &PlanOptions::default());
    let options = RenderOptions {
        spec_name: name.to_string(),
        regenerate: "specc generate".into(),
        check: "specc check".into(),
    };
    if let Err(errors) = specc::render::render(&checked, &plan, &options) {
        problems.extend(errors);
    }
    let d = Diagnostics::new(name, std::sync::Arc::new(text.to_string()), problems);
    (codes_of(&d.errors), d.has_errors(), rendered(&d))
}

/// Checks one block; `Err` says what is wrong.
fn check_block(name: &str, expect: &Expect, text: &str) -> Result<(), String> {
    if *expect == Expect::Fragment {
        return kdl::KdlDocument::parse_v2(text)
            .map(|_| ())
            .map_err(|e| format!("a ```kdl,fragment block must parse as KDL v2: {e:?}"));
    }
    let (codes, has_errors, report) = run(name, text);
    let reported: BTreeSet<String> = codes.into_iter().collect();
    match expect {
        Expect::Clean if reported.is_empty() => Ok(()),
        Expect::Clean => Err(format!(
            "a ```kdl block must compile and render cleanly, but it reports {}; mark it ```kdl,error=CODE / ```kdl,warning=CODE if that is the point\n{report}",
            list(&reported)
        )),
        Expect::Codes { fails, codes } => {
            if *fails && !has_errors {
                return Err(format!(
                    "the block is marked with `error=` but compiles{}",
                    if reported.is_empty() {
                        String::new()
                    } else {
                        format!(" (with warnings {})", list(&reported))
                    }
                ));
            }
            if !*fails && has_errors {
                return Err(format!(
                    "the block is marked with `warning=` only but fails\n{report}"
                ));
            }
            if reported != *codes {
                return Err(format!(
                    "the block lists {} but reports {}\n{report}",
                    list(codes),
                    list(&reported)
                ));
            }
            Ok(())
        }
        Expect::Fragment => unreachable!(),
    }
}

fn list(codes: &BTreeSet<String>) -> String {
    if codes.is_empty() {
        return "nothing".into();
    }
    let quoted: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    quoted.join(", ")
}

/// Every KDL block of every doc file, with its name and expectation (or a problem).
pub(crate) fn kdl_blocks() -> (Vec<(String, Expect, String)>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut failures = Vec::new();
    for file in doc_files() {
        let path = repo().join(&file);
        let shown = display(&file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        let found = match fenced_blocks(&text) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{shown}: {e}"));
                continue;
            }
        };
        for b in found {
            let name = format!("{shown}:{}", b.line);
            match expectation(&b.info) {
                None => {}
                Some(Ok(expect)) => blocks.push((name, expect, b.text)),
                Some(Err(e)) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    (blocks, failures)
}

#[test]
fn every_kdl_block_in_the_docs_does_what_its_fence_says() {
    let (blocks, mut failures) = kdl_blocks();
    // A broken extractor would find nothing and pass vacuously.
    assert!(
        !blocks.is_empty(),
        "no ```kdl blocks found in README.md and docs/: is the extractor broken?"
    );
    for (name, expect, text) in &blocks {
        if let Err(e) = check_block(name, expect, text) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} doc blocks fail:\n\n{}",
        failures.len(),
        blocks.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_language_reference_checks_complete_specs() {
    let (blocks, _) = kdl_blocks();
    let complete = blocks
        .iter()
        .filter(|(name, expect, _)| {
            name.starts_with("docs/language.md:") && *expect != Expect::Fragment
        })
        .count();
    assert!(
        complete >= 10,
        "docs/language.md has only {complete} complete ```kdl specs; its examples should be checkable"
    );
}

/// `code(specc::...)` strings in a source file.
fn codes_in_source(path: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join(path)).expect("source file readable");
    let mut codes = BTreeSet::new();
    for (i, _) in text.match_indices("code(specc::") {
        let rest = &text[i + "code(".len()..];
        if let Some(end) = rest.find(')') {
            codes.insert(rest[..end].trim().to_string());
        }
    }
    codes
}

#[test]
fn every_diagnostic_code_is_documented_with_a_trigger() {
    let doc = std::fs::read_to_string(repo().join("docs/diagnostics.md"))
        .expect("docs/diagnostics.md exists");
    let spec_codes = codes_in_source("src/diagnostics/mod.rs");
    assert!(
        spec_codes.len() > 20,
        "found only {} codes in src/diagnostics/mod.rs",
        spec_codes.len()
    );
    // Usage, sync and write errors are defined next to the code that raises them.
    let mut all = spec_codes.clone();
    for dir in ["src/cli", "src/sync"] {
        for entry in walkdir::WalkDir::new(repo().join(dir)) {
            let entry = entry.expect("source folder readable");
            if entry.path().extension().is_some_and(|e| e == "rs") {
                let rel = entry.path().strip_prefix(repo()).expect("under the repo");
                all.extend(codes_in_source(&rel.to_string_lossy()));
            }
        }
    }
    let mut failures = Vec::new();
    for code in &all {
        if !doc.contains(&format!("`{code}`")) {
            failures.push(format!("`{code}` is not mentioned in docs/diagnostics.md"));
        }
    }
    let triggered: BTreeSet<String> = fenced_blocks(&doc)
        .expect("docs/diagnostics.md has well-formed fences")
        .iter()
        .filter_map(|b| match expectation(&b.info) {
            Some(Ok(Expect::Codes { codes, .. })) => Some(codes),
            _ => None,
        })
        .flatten()
        .collect();
    // A generated file that does not parse back is a bug in specc: no spec triggers it.
    // `specc::spec::more` takes over 100 problems: its fixture is
    // tests/diagnostics/61-more-than-100-problems.kdl, its JSON shown in the page's text.
    // The chart rules read the user's chart from disk, which a compiled block has not:
    // their fixtures are tests/diagnostics/200-203 and 206 (run against tests/fixtures/charts).
    let on_disk = [
        "specc::check::chart_missing",
        "specc::check::chart_file_invalid",
        "specc::check::chart_key_missing",
        "specc::check::chart_key_type",
        "specc::check::chart_name",
    ];
    for code in spec_codes.iter().filter(|c| {
        !["specc::render::invalid_output", "specc::spec::more"].contains(&c.as_str())
            && !on_disk.contains(&c.as_str())
    }) {
        if !triggered.contains(code) {
            failures.push(format!(
                "docs/diagnostics.md has no ```kdl,error={code} (or warning=) block"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fences_are_found_where_markdown_puts_them() {
    let md = "\
# Title

```kdl
project a
```

Text with ``` inline ``` backticks.

````markdown
```kdl,error=specc::check::cycle
not a block of its own
```
````

  ~~~kdl,fragment
  stage x from=\"y\"
  ~~~

```sh
echo hi
```
";
    let blocks = fenced_blocks(md).unwrap();
    let summary: Vec<(usize, &str, &str)> = blocks
        .iter()
        .map(|b| (b.line, b.info.as_str(), b.text.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "kdl", "project a\n"),
            (
                9,
                "markdown",
                "```kdl,error=specc::check::cycle\nnot a block of its own\n```\n"
            ),
            (15, "kdl,fragment", "stage x from=\"y\"\n"),
            (19, "sh", "echo hi\n"),
        ]
    );
    assert!(fenced_blocks("```kdl\nproject a\n").is_err());
}

#[test]
fn info_strings_say_what_to_check() {
    assert_eq!(expectation("sh"), None);
    assert_eq!(expectation("kdl"), Some(Ok(Expect::Clean)));
    assert_eq!(expectation("kdl,fragment"), Some(Ok(Expect::Fragment)));
    assert_eq!(
        expectation("kdl,error=specc::check::cycle,warning=specc::check::unused_stage"),
        Some(Ok(Expect::Codes {
            fails: true,
            codes: ["specc::check::cycle", "specc::check::unused_stage"]
                .into_iter()
                .map(String::from)
                .collect()
        }))
    );
    assert!(matches!(expectation("kdl,eror=specc::x"), Some(Err(_))));
    assert!(matches!(
        expectation("kdl,fragment,error=specc::syntax"),
        Some(Err(_))
    ));
}
