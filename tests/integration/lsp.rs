//! `specc lsp`: its diagnostics are `specc check --spec-only`'s (every fixture of
//! tests/diagnostics/), it survives any edit, and a real LSP client (pytest-lsp, in
//! tests/lsp/) gets the expected answers to every feature.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::lsp::Client;
use crate::support::validators::repo_root;

/// The `file:` URI of an absolute path (test paths need no escaping but spaces).
fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display().to_string().replace(' ', "%20"))
}

/// 0-based UTF-16 column of 1-based character column `column` on 1-based `line`.
fn utf16_column(text: &str, line: u64, column: u64) -> u64 {
    let line = text.split('\n').nth(line as usize - 1).unwrap_or_default();
    line.chars()
        .take(column as usize - 1)
        .map(|c| c.len_utf16() as u64)
        .sum()
}

/// A label's range as LSP gives it, from the JSON's 1-based character positions.
fn range(text: &str, span: &Value) -> Value {
    let at = |l: &str, c: &str| {
        let line = span[l].as_u64().expect("a line");
        let column = span[c].as_u64().expect("a column");
        json!({"line": line - 1, "character": utf16_column(text, line, column)})
    };
    json!({"start": at("line", "column"), "end": at("end_line", "end_column")})
}

/// What the server must publish for one problem of `check --message-format json`.
fn expected(text: &str, uri: &str, problem: &Value) -> Value {
    let labels = problem["labels"].as_array().expect("labels");
    let at = |span: &Value| range(text, span);
    let start = json!({"line": 0, "character": 0});
    let first = labels
        .first()
        .map_or(json!({"start": start, "end": start}), |l| at(&l["span"]));
    let mut related: Vec<Value> = labels
        .iter()
        .map(|l| {
            json!({"location": {"uri": uri, "range": at(&l["span"])},
                   "message": l["label"].as_str().unwrap_or("here")})
        })
        .collect();
    if let Some(help) = problem["help"].as_str() {
        related.push(
            json!({"location": {"uri": uri, "range": first}, "message": format!("help: {help}")}),
        );
    }
    let severity = match problem["severity"].as_str() {
        Some("warning") => 2,
        Some("advice") => 3,
        _ => 1,
    };
    json!({
        "range": first,
        "severity": severity,
        "code": problem["code"],
        "source": "specc",
        "message": problem["message"],
        "relatedInformation": related,
    })
}

/// Acceptance 3: for every diagnostics fixture, the server publishes exactly the
/// problems `specc check --spec-only --message-format json` prints, at the same places
/// (in UTF-16 columns), with the same codes, severities, labels and help.
#[test]
fn lsp_diagnostics_equal_check_json_for_every_fixture() {
    let dir = repo_root().join("tests/diagnostics");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    fixtures.sort();
    let mut client = Client::start();
    let mut compared = 0;
    let mut skipped = Vec::new();
    for path in &fixtures {
        let Ok(text) = String::from_utf8(std::fs::read(path).expect("readable")) else {
            // LSP carries text; a file that is not UTF-8 cannot be opened in an editor's
            // buffer as it is.
            skipped.push(path.file_name().unwrap().to_string_lossy().into_owned());
            continue;
        };
        let out = Command::new(env!("CARGO_BIN_EXE_specc"))
            .args(["check", "--spec-only", "--message-format", "json"])
            .arg(path)
            .output()
            .expect("specc runs");
        let stderr = String::from_utf8(out.stderr).expect("UTF-8 output");
        let uri = uri_of(path);
        let want: Vec<Value> = stderr
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("one JSON object per line"))
            .flat_map(|report| report["related"].as_array().cloned().unwrap_or_default())
            .map(|problem| expected(&text, &uri, &problem))
            .collect();
        let got = client.open(&uri, &text);
        assert_eq!(got, Value::Array(want), "{}", path.display());
        compared += 1;
    }
    assert_eq!(skipped, ["49-not-utf8.kdl"]);
    assert!(compared > 60, "only {compared} fixtures compared");
    assert_eq!(client.shutdown(), Some(0));
}
