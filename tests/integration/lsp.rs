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

/// The bundled specs and the example.
fn bundled_specs() -> Vec<std::path::PathBuf> {
    let root = repo_root();
    let mut specs: Vec<_> = std::fs::read_dir(root.join("specs"))
        .expect("specs/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    specs.push(root.join("examples/hello/specc.kdl"));
    specs.sort();
    specs
}

/// Every node and property of `doc` with the path of node names down to it.
fn walk(
    doc: &kdl::KdlDocument,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    for node in doc.nodes() {
        path.push(node.name().value().to_string());
        out.push((path.clone(), None));
        for entry in node.entries() {
            if let Some(key) = entry.name() {
                out.push((path.clone(), Some(key.value().to_string())));
            }
        }
        if let Some(children) = node.children() {
            walk(children, path, out);
        }
        path.pop();
    }
}

/// Hover reads docs/language.md itself (one text for the reference and the editor); every
/// node and property the bundled specs use, and every node the decoder knows, has an
/// entry there to show.
#[test]
fn lsp_hover_documents_every_node_and_property_from_the_language_reference() {
    use specc::lsp::docs;
    let mut missing = Vec::new();
    for spec in bundled_specs() {
        let text = std::fs::read_to_string(&spec).expect("readable");
        let doc = kdl::KdlDocument::parse_v2(&text).expect("bundled specs parse");
        let mut found = Vec::new();
        walk(&doc, &mut Vec::new(), &mut found);
        for (path, key) in found {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let shown = match &key {
                None => docs::node(&path),
                Some(k) => docs::property(&path, k),
            };
            // `env NAME=VALUE` takes any key: its property is the node's own doc.
            if shown.is_none_or(|s| s.trim().is_empty()) {
                missing.push(format!("{} {}", path.join(" > "), key.unwrap_or_default()));
            }
        }
    }
    let nested: [(&str, &[&str]); 5] = [
        ("stage", specc::spec::INSTRUCTIONS),
        ("service", specc::spec::SERVICE_CHILDREN),
        ("workflow", specc::spec::WORKFLOW_CHILDREN),
        ("chart", specc::spec::CHART_CHILDREN),
        ("output", specc::spec::OUTPUT_SETTINGS),
    ];
    for top in specc::spec::TOP_LEVEL {
        if docs::node(&[top]).is_none() {
            missing.push(top.to_string());
        }
    }
    for (parent, children) in nested {
        for child in children {
            if docs::node(&[parent, child]).is_none() {
                missing.push(format!("{parent} > {child}"));
            }
        }
        assert_eq!(
            docs::children(&[parent]).len(),
            children.len(),
            "the children of `{parent}` in docs/language.md and in the decoder"
        );
    }
    missing.sort();
    missing.dedup();
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "no documentation to show on hover"
    );
}

/// The properties completion offers for a top-level node (read from its table in the
/// reference) are properties the decoder takes.
#[test]
fn lsp_completed_properties_are_ones_the_decoder_takes() {
    let mut offered = 0;
    for top in specc::spec::TOP_LEVEL {
        for key in specc::lsp::docs::properties(&[top]) {
            let text = if *top == "project" {
                format!("project p {key}=\"1.0.0\"\n")
            } else {
                format!("project p version=\"1.0.0\"\n{top} x {key}=\"v\"\n")
            };
            if let Err(report) = specc::compile("t.kdl", &text) {
                let unknown = report.errors.iter().any(
                    |e| matches!(e, specc::Error::UnknownProperty { name, .. } if *name == key),
                );
                assert!(!unknown, "`{top} {key}=` is offered but not taken");
            }
            offered += 1;
        }
    }
    assert!(offered > 20, "only {offered} properties offered");
}

/// Acceptance 1: a real LSP client, pytest-lsp (tools/requirements.txt), drives `specc
/// lsp` over stdio through tests/lsp/: diagnostics of a broken spec then none once fixed,
/// hover, definition, references, completion, outline, rename and the preview, on lines
/// with non-ASCII text before the cursor.
#[test]
fn lsp_pytest_lsp_client_gets_the_expected_answers() {
    let python = crate::support::validators::require_tool("python");
    let root = repo_root();
    let out = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-c"])
        .arg(root.join("tests/lsp/pytest.ini"))
        .arg(root.join("tests/lsp"))
        .current_dir(root)
        .env("SPECC_BIN", env!("CARGO_BIN_EXE_specc"))
        .env("PATH", crate::support::validators::search_path())
        .output()
        .expect("python runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pytest tests/lsp failed:\n{text}");
    // A run that collected nothing would pass too.
    assert!(text.contains(" passed"), "{text}");
    assert!(!text.contains("skipped"), "{text}");
}

/// The server in this process, spoken to one message at a time.
struct InProcess {
    server: specc::lsp::Server,
    id: i32,
    version: i32,
}

const FUZZ_URI: &str = "file:///tmp/specc-lsp-fuzz/specc.kdl";

impl InProcess {
    fn new() -> InProcess {
        let mut p = InProcess {
            server: specc::lsp::Server::new(),
            id: 0,
            version: 1,
        };
        p.request("initialize", json!({"capabilities": {}}));
        p.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": FUZZ_URI, "languageId": "kdl", "version": 1, "text": ""}}),
        );
        p
    }

    fn notify(&mut self, method: &str, params: Value) -> Vec<lsp_server::Message> {
        let n = lsp_server::Notification::new(method.to_string(), params);
        self.server.handle(lsp_server::Message::Notification(n))
    }

    /// A request's answer; an error answer only for a rename to a name that is not one.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let r = lsp_server::Request::new(self.id.into(), method.to_string(), params);
        let out = self.server.handle(lsp_server::Message::Request(r));
        let [lsp_server::Message::Response(response)] = out.as_slice() else {
            panic!("{method}: one response expected, got {out:?}");
        };
        match &response.response_result {
            Ok(value) => value.clone(),
            Err(e) => {
                assert!(method == "textDocument/rename", "{method}: {e:?}");
                Value::Null
            }
        }
    }

    /// Replaces the text; checks the diagnostics published for it lie inside it.
    fn change(&mut self, text: &str) {
        self.version += 1;
        let out = self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": FUZZ_URI, "version": self.version},
                   "contentChanges": [{"text": text}]}),
        );
        let lines = text.split('\n').count() as u64;
        let [lsp_server::Message::Notification(n)] = out.as_slice() else {
            panic!("one notification expected, got {out:?}");
        };
        for d in n.params["diagnostics"].as_array().expect("diagnostics") {
            let end = d["range"]["end"]["line"].as_u64().expect("a line");
            assert!(end < lines, "a range past the text: {d}");
        }
    }

    /// Every feature at one position (the preview too when `preview`).
    fn everything_at(&mut self, line: u32, character: u32, preview: bool) {
        let at = json!({"textDocument": {"uri": FUZZ_URI},
                        "position": {"line": line, "character": character}});
        for method in [
            "textDocument/hover",
            "textDocument/definition",
            "textDocument/completion",
        ] {
            self.request(method, at.clone());
        }
        let mut with = at.clone();
        with["context"] = json!({"includeDeclaration": true});
        self.request("textDocument/references", with);
        let mut rename = at.clone();
        rename["newName"] = json!("renamed");
        self.request("textDocument/rename", rename);
        self.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": FUZZ_URI}}),
        );
        if preview {
            self.request(
                "workspace/executeCommand",
                json!({"command": "specc.preview", "arguments": [at]}),
            );
        }
    }
}

/// The LSP position just after the last character of `text`.
fn end_of(text: &str) -> (u32, u32) {
    let line = text.split('\n').count() - 1;
    let last = text.rsplit('\n').next().unwrap_or_default();
    (line as u32, last.encode_utf16().count() as u32)
}

/// Acceptance 2: typing a whole bundled spec one character at a time (diagnostics after
/// each keystroke, every feature at the cursor after every 4th) never crashes the server.
#[test]
fn lsp_survives_typing_a_bundled_spec_character_by_character() {
    let text = std::fs::read_to_string(repo_root().join("specs/sd-on-eks.kdl")).expect("readable");
    let mut server = InProcess::new();
    let mut typed = String::new();
    for (i, c) in text.chars().enumerate() {
        typed.push(c);
        server.change(&typed);
        // Every feature at every 4th keystroke keeps the test to seconds in a debug
        // build; the random-edit property asks at every edit.
        if i % 4 == 0 {
            let (line, character) = end_of(&typed);
            server.everything_at(line, character, i % 200 == 0);
        }
    }
    // The whole spec typed: it is fine, and navigation works on it.
    server.change(&text);
    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": FUZZ_URI}}),
    );
    assert!(symbols.as_array().is_some_and(|s| s.len() > 5), "{symbols}");
}

/// A random edit: where (a fraction of the text), how much to delete, what to insert.
fn edit() -> impl proptest::strategy::Strategy<Value = (f64, usize, String)> {
    use proptest::prelude::*;
    let fragment = prop_oneof![
        Just(String::new()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"".to_string()),
        Just("=".to_string()),
        Just("\n".to_string()),
        Just("stage=".to_string()),
        Just(" variants=\"".to_string()),
        Just("/-".to_string()),
        Just("é😀".to_string()),
        Just("#\"".to_string()),
        "\\PC{0,6}",
    ];
    (0.0..=1.0f64, 0usize..24, fragment)
}

/// Acceptance 2: random edits of a bundled spec (deleting and inserting braces, quotes,
/// properties, multi-byte characters) and requests at random positions, some past the
/// end of a line or inside a surrogate pair, never crash the server.
#[test]
fn lsp_survives_random_edits() {
    use proptest::test_runner::{Config, TestRunner};
    let text = std::fs::read_to_string(repo_root().join("specs/new-api.kdl")).expect("readable");
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec((edit(), 0u32..200, 0u32..120), 1..6);
    runner
        .run(&strategy, |edits| {
            let mut server = InProcess::new();
            let mut current = text.clone();
            for ((at, delete, insert), line, character) in edits {
                let mut start = (current.len() as f64 * at) as usize;
                while !current.is_char_boundary(start) {
                    start -= 1;
                }
                let mut end = (start + delete).min(current.len());
                while !current.is_char_boundary(end) {
                    end += 1;
                }
                current.replace_range(start..end, &insert);
                server.change(&current);
                server.everything_at(line, character, false);
                let (line, character) = end_of(&current[..start + insert.len()]);
                server.everything_at(line, character, false);
            }
            Ok(())
        })
        .expect("no crash");
}
