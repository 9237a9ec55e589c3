//! The fast path (issue 13): `check` and `generate` answer from the lock without parsing
//! the spec when nothing changed, and say exactly what the full pipeline says.
//!
//! The full pipeline is reached the way a user's repository reaches it: an (empty)
//! journal of an interrupted run beside the lock, which the fast path leaves to the full
//! run, since a journal may name files the lock does not. `SPECC_TRACE` tells which ran.

use crate::support::corpus;
use crate::support::generate::{copy_tree, seed_charts};
use crate::support::repo::{Output, Repo};
use crate::support::validators::repo_root;

const TRACE: &[(&str, &str)] = &[("SPECC_TRACE", "1")];
const PARSED: &str = "specc-trace: parse";
const JOURNAL: &str = ".specc-tmp-journal";

/// What a run said, without the trace lines: exit code, stdout, stderr.
fn said(out: &Output) -> (Option<i32>, String, String) {
    let stderr = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("specc-trace: "))
        .map(|l| format!("{l}\n"))
        .collect();
    (out.status.code(), out.stdout.clone(), stderr)
}

/// True when the run answered from the lock: it never parsed the spec.
fn fast(out: &Output) -> bool {
    let fast = out.stderr.contains("fast path, no parse");
    assert_eq!(fast, !out.stderr.contains(PARSED), "{out}");
    fast
}

/// Runs `args` in `dir` from the lock and then through the full pipeline; asserts both
/// say the same and that the first was answered from the lock exactly when `expect_fast`.
fn agree(repo: &Repo, args: &[&str], expect_fast: bool) {
    assert!(!repo.exists(JOURNAL));
    let quick = repo.run_env(args, TRACE);
    assert_eq!(fast(&quick), expect_fast, "{quick}");
    repo.write(JOURNAL, "");
    let full = repo.run_env(args, TRACE);
    assert!(!fast(&full), "{full}");
    assert_eq!(said(&quick), said(&full), "fast:\n{quick}\nfull:\n{full}");
    if repo.exists(JOURNAL) {
        std::fs::remove_file(repo.join(JOURNAL)).unwrap();
    }
}

/// Every command whose answer the fast path may give, in every message format, with and
/// without `--deny-warnings`.
fn commands(spec: &[&str]) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for command in ["check", "generate"] {
        for extra in [&[][..], &["--message-format", "json"], &["--deny-warnings"]] {
            let mut args = vec![command.to_string()];
            args.extend(spec.iter().map(|s| s.to_string()));
            args.extend(extra.iter().map(|s| s.to_string()));
            all.push(args);
        }
    }
    all
}

/// For `repo`, generated: every command says the same from the lock and in full. With
/// a compose file of the user's beside the generated one, so that the warnings about it
/// (which a full run prints from the parsed spec) must come from the lock too.
fn fast_and_full_agree(repo: &Repo, spec: &[&str]) {
    let lock = repo.read_text("specc.lock");
    let expect_fast = !lock.contains("\nalways-parse = ");
    for args in commands(spec) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        agree(repo, &args, expect_fast);
    }
    if lock.contains("\ncompose = \"compose.yaml\"") {
        repo.write(
            "docker-compose.yml",
            "services:\n  legacy:\n    image: busybox\n",
        );
        for args in commands(spec) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            agree(repo, &args, expect_fast);
        }
    }
}

#[test]
fn the_fast_path_and_the_full_pipeline_agree_on_every_bundled_spec() {
    let mut fast_specs = 0;
    for entry in std::fs::read_dir(repo_root().join("specs")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = format!("specs/{}", path.file_name().unwrap().to_string_lossy());
        let repo = Repo::new().file(&name, &text);
        seed_charts(&text, repo.path());
        let spec = [name.as_str(), "--out", "."];
        repo.run(&["generate", &name, "--out", "."]).success();
        fast_specs += usize::from(!repo.read_text("specc.lock").contains("always-parse"));
        fast_and_full_agree(&repo, &spec);
    }
    assert!(
        fast_specs >= 4,
        "only {fast_specs} specs take the fast path"
    );
}

#[test]
fn the_fast_path_and_the_full_pipeline_agree_on_the_realworld_corpus() {
    for project in corpus::projects() {
        // The committed folder: its outputs and lock are what this specc generates.
        let repo = Repo::new();
        copy_tree(&repo_root().join(corpus::ROOT).join(&project), repo.path());
        fast_and_full_agree(&repo, &[]);
    }
}

/// IOPaint with its outputs and build context at the root (the measure).
fn iopaint() -> (Repo, String) {
    let spec = std::fs::read_to_string(repo_root().join("specs/iopaint.kdl")).unwrap();
    let repo = Repo::new()
        .file("specs/iopaint.kdl", &spec)
        .file("main.py", "print('iopaint')\n")
        .file("requirements.txt", "flask\n")
        .file("web_app/package.json", "{}\n");
    repo.run(&["generate", "specs/iopaint.kdl", "--out", "."])
        .success();
    (repo, spec)
}

const CHECK: &[&str] = &["check", "specs/iopaint.kdl", "--out", "."];
const GENERATE: &[&str] = &["generate", "specs/iopaint.kdl", "--out", "."];

#[test]
fn a_no_op_check_or_generate_does_not_parse_the_spec() {
    let (repo, _) = iopaint();
    let before = repo.files();
    let out = repo.run_env(CHECK, TRACE).success();
    assert!(fast(&out), "{out}");
    assert_eq!(out.stdout, "specs/iopaint.kdl: ok, 5 outputs in sync\n");
    let out = repo.run_env(GENERATE, TRACE).success();
    assert!(fast(&out), "{out}");
    assert_eq!(out.stdout, "specs/iopaint.kdl: 0 written, 5 unchanged\n");
    // Nothing written, and a build-context change is no change of the outputs.
    assert_eq!(repo.files(), before);
    repo.write("main.py", "print('changed')\n");
    assert!(fast(&repo.run_env(CHECK, TRACE).success()));
}

#[test]
fn a_no_op_generate_from_the_lock_removes_what_a_killed_run_left() {
    let (repo, _) = iopaint();
    repo.write("docker/.specc-tmp-abc123", "half a Dockerfile");
    let out = repo.run_env(GENERATE, TRACE).success();
    assert!(fast(&out), "{out}");
    assert!(!repo.exists("docker/.specc-tmp-abc123"), "{out}");
}

/// Runs `args` and asserts the spec was parsed; returns what it said.
#[track_caller]
fn parsed(repo: &Repo, args: &[&str], what: &str) -> Output {
    let out = repo.run_env(args, TRACE);
    assert!(!fast(&out), "after {what}: {out}");
    out
}

#[test]
fn each_input_of_the_outputs_defeats_the_fast_path() {
    let (repo, spec) = iopaint();
    let lock = repo.read_text("specc.lock");
    let restore = |repo: &Repo| {
        repo.write("specs/iopaint.kdl", &spec);
        repo.write("specc.lock", &lock);
        assert!(fast(&repo.run_env(CHECK, TRACE).success()));
    };

    // One byte of the spec, even a comment's: the full run sees the lock is stale.
    repo.write("specs/iopaint.kdl", format!("{spec}// more\n"));
    parsed(&repo, CHECK, "a spec byte").code(1);
    parsed(&repo, GENERATE, "a spec byte").success();
    assert!(fast(&repo.run_env(CHECK, TRACE).success()));
    restore(&repo);

    // Another specc (its version), other templates or action pins, another lock format.
    for (from, to) in [
        ("specc = \"", "specc = \"0.0.0-"),
        ("templates-hash = \"", "templates-hash = \"0"),
        ("version = 3", "version = 2"),
    ] {
        repo.write("specc.lock", lock.replacen(from, to, 1));
        parsed(&repo, CHECK, to).code(1);
        parsed(&repo, GENERATE, to).success();
        assert_eq!(repo.read_text("specc.lock"), lock, "{to}");
    }
    // A lock that is not byte for byte what specc writes (a full run rewrites it).
    repo.write("specc.lock", lock.replace("\n\n[outputs]", "\n[outputs]"));
    parsed(&repo, CHECK, "a reformatted lock").code(1);
    restore(&repo);

    // An output edited by hand, removed, or replaced by a link to the same bytes.
    let compose = repo.read("compose.yaml");
    repo.write("compose.yaml", [&compose[..], b"# edited\n"].concat());
    parsed(&repo, CHECK, "a hand edit").code(1);
    parsed(&repo, GENERATE, "a hand edit").code(1);
    std::fs::remove_file(repo.join("compose.yaml")).unwrap();
    parsed(&repo, CHECK, "a removed output").code(1);
    repo.write("real-compose.yaml", &compose);
    std::os::unix::fs::symlink("real-compose.yaml", repo.join("compose.yaml")).unwrap();
    parsed(&repo, CHECK, "a link").code(2);
    std::fs::remove_file(repo.join("compose.yaml")).unwrap();
    repo.write("compose.yaml", &compose);
    restore(&repo);

    // The same spec elsewhere: its outputs name it, so they change.
    repo.write("specs/renamed.kdl", &spec);
    parsed(
        &repo,
        &["check", "specs/renamed.kdl", "--out", "."],
        "a renamed spec",
    )
    .code(1);
}

#[test]
fn a_spec_with_warnings_is_parsed_on_every_run_and_warns_each_time() {
    let text = "project demo version=\"1.0.0\"\nsecret \"hf\" env=\"HF_TOKEN\"\nstage run from=\"alpine:3.20\"\nimage demo stage=run\n";
    let repo = Repo::new().spec(text);
    repo.run(&["generate"]).success();
    assert!(
        repo.read_text("specc.lock")
            .contains("\nalways-parse = \"the spec has warnings, which every run prints\"\n")
    );
    for args in [&["check"][..], &["generate"]] {
        parsed(&repo, args, "nothing")
            .success()
            .stderr_contains("specc::check::unused_secret");
    }
    parsed(&repo, &["check", "--deny-warnings"], "nothing").code(1);
}

#[test]
fn a_lock_at_another_path_is_read_only_after_parsing() {
    let text = "project demo version=\"1.0.0\"\noutput {\n    lock \"ci/specc.lock\"\n}\nstage run from=\"alpine:3.20\"\nimage demo stage=run\n";
    let repo = Repo::new().spec(text);
    repo.run(&["generate"]).success();
    let lock = repo.read_text("ci/specc.lock");
    assert!(
        lock.contains("\nalways-parse = \"the lock is not at `specc.lock`"),
        "{lock}"
    );
    // A copy at the default place (the spec's bytes and the outputs match it) is not
    // trusted: the copy says it belongs elsewhere.
    repo.write("specc.lock", &lock);
    parsed(&repo, &["check"], "nothing").success();
}

/// A chart that gets an overlay is read by every `check` (its keys must still exist):
/// an input of the outputs' correctness that the lock does not hash, so the fast path
/// never answers for it; editing the chart is caught.
#[test]
fn a_spec_that_reads_the_users_chart_is_checked_against_it_on_every_run() {
    let text = std::fs::read_to_string(repo_root().join("specs/sd-on-eks.kdl")).unwrap();
    let repo = Repo::new().spec(&text);
    repo.run(&["generate"]).success();
    assert!(
        repo.read_text("specc.lock").contains(
            "\nalways-parse = \"every run checks the spec against the chart at `src/charts/sd_on_eks`\"\n"
        )
    );
    parsed(&repo, &["check"], "nothing").success();
    repo.edit(
        "src/charts/sd_on_eks/values.yaml",
        "  queueAgent:\n",
        "  queueAgentRenamed:\n",
    );
    parsed(&repo, &["check"], "a chart edit")
        .code(1)
        .stderr_contains("runtime.queueAgent.image");
}

#[test]
fn only_the_templates_a_spec_uses_are_compiled_each_once() {
    let (repo, _) = iopaint();
    std::fs::remove_file(repo.join("specc.lock")).unwrap();
    let out = repo.run_env(
        &["generate", "specs/iopaint.kdl", "--out", ".", "--force"],
        TRACE,
    );
    let out = out.success();
    let compiled: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("specc-trace: compile template "))
        .collect();
    // Two Dockerfiles, one template compile; no workflow, no Helm values.
    assert_eq!(compiled, ["Dockerfile", "dockerignore", "compose", "bake"]);
}
