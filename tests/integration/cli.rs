//! The command line as a demanding user meets it: every bad input (missing, unreadable or
//! odd spec files, bad options, broken locks, outputs in the way) gets a diagnostic that
//! names the file and says what to do, the right exit code (0 ok, 1 spec problems or out
//! of sync, 2 usage or I/O), never a panic and never a partly written output; the JSON
//! message format holds for every kind of error; help and completions are complete.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::support::repo::{Output, Repo, run_in, specc_bin};
use clap::CommandFactory;
use serde_json::Value;

/// A spec with no problems and one image (3 outputs and the lock).
const SPEC: &str = "project demo version=\"1.0.0\"\n\
stage runtime from=\"alpine:3.20\" {\n    copy \"app\" to=\"/app\"\n    expose 8080\n}\n\
image demo stage=runtime\n";

/// A spec with an error: `runtme` names no stage.
const BAD_SPEC: &str = "project demo version=\"1.0.0\"\n\
stage runtime from=\"alpine:3.20\"\n\
image demo stage=runtme\n";

/// A spec with only a warning: a stage no image builds.
const WARNING_SPEC: &str = "project demo version=\"1.0.0\"\n\
stage scratchpad from=\"alpine:3.20\"\n\
stage runtime from=\"alpine:3.20\"\n\
image demo stage=runtime\n";

fn with_spec(spec: &str) -> Repo {
    Repo::new().spec(spec).file("app/main.py", "print(1)\n")
}

/// Runs `specc ARGS` in `repo` with `input` on standard input.
fn run_stdin(repo: &Repo, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(specc_bin())
        .args(args)
        .current_dir(repo.path())
        .env_remove("SPECC_TRACE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start specc");
    // specc may exit without reading (a refused `-`): a broken pipe is no failure here.
    let _ = child.stdin.take().expect("a stdin pipe").write_all(input);
    let out = child.wait_with_output().expect("wait for specc");
    Output {
        command: format!("specc {} < input", args.join(" ")),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts that stderr is one JSON object per non-empty line, each a diagnostic with a
/// `specc::` code and a help, and returns them.
#[track_caller]
fn json_lines(out: &Output) -> Vec<Value> {
    let lines: Vec<Value> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{out}")))
        .collect();
    assert!(!lines.is_empty(), "no diagnostic on stderr: {out}");
    for v in &lines {
        let code = v["code"].as_str().unwrap_or_default();
        assert!(code.starts_with("specc::"), "no specc code: {v}");
        let helps = std::iter::once(v)
            .chain(v["related"].as_array().into_iter().flatten())
            .all(|d| d["help"].as_str().is_some_and(|h| !h.is_empty()) || d == v);
        assert!(helps, "a diagnostic without help: {v}");
    }
    lines
}

/// Every code in the JSON diagnostics, nested ones included.
fn codes(lines: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for v in lines {
        out.push(v["code"].as_str().unwrap_or_default().to_string());
        for r in v["related"].as_array().into_iter().flatten() {
            out.push(r["code"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

// ---------------------------------------------------------------- the spec file itself

#[test]
fn missing_spec_exits_2_and_says_where_to_look() {
    let repo = Repo::new().file("sub/x.txt", "x\n");
    // A repository's root ends the search: a `specc.kdl` above it is not this repository's.
    std::fs::create_dir(repo.join(".git")).expect("a repository boundary");
    let args = ["--message-format", "json", "check"];
    let out = run_in(&repo.join("sub"), specc_bin(), &args, &[]).code(2);
    let root = repo.path().canonicalize().expect("the root");
    let expected = serde_json::json!({
        "message": format!(
            "no `specc.kdl` in `{}` or any folder above it (searched up to `{}`)",
            root.join("sub").display(),
            root.display()
        ),
        "code": "specc::io",
        "severity": "error",
        "causes": [],
        "help": "pass the spec's path (e.g. `specc check specs/app.kdl`), run in the folder that holds `specc.kdl` or below it, or use `-C DIR`",
        "filename": "",
        "labels": [],
        "related": []
    });
    assert_eq!(json_lines(&out), [expected]);
    repo.run(&["plan", "nope.kdl"])
        .code(2)
        .stderr_contains("`nope.kdl`");
}

#[test]
fn spec_path_that_is_a_folder_says_so_and_names_the_spec_inside() {
    let repo = Repo::new()
        .file("svc/specc.kdl", SPEC)
        .file("empty/.keep", "");
    let out = repo.run(&["check", "svc"]).code(2);
    assert!(
        out.stderr.contains("it is a folder") && out.stderr.contains("svc/specc.kdl"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("permissions"),
        "misleading help: {out}"
    );
    repo.run(&["generate", "empty"])
        .code(2)
        .stderr_contains("it is a folder")
        .stderr_contains("not a folder");
    assert!(!repo.exists("empty/specc.lock") && !repo.exists("specc.lock"));
}

#[test]
fn empty_or_comment_only_spec_asks_for_a_project() {
    for text in ["", "// only a comment\n/* and a block */\n"] {
        let repo = with_spec(text);
        let out = repo.run(&["check", "--spec-only"]).code(1);
        assert!(
            out.stderr.contains("specc::model::missing_project")
                && out.stderr.contains("specc.kdl")
                && out.stderr.contains("project myapp"),
            "{out}"
        );
        let json = repo.run(&["--message-format", "json", "plan"]).code(1);
        assert!(codes(&json_lines(&json)).contains(&"specc::model::missing_project".into()));
    }
}

#[test]
fn non_utf8_spec_points_at_line_and_column() {
    let repo = Repo::new().file(
        "specc.kdl",
        b"project demo version=\"1.0.0\"\nstage r\xe9 from=\"alpine\"\n",
    );
    repo.run(&["check"])
        .code(2)
        .stderr_contains("not UTF-8")
        .stderr_contains("line 2, column 8")
        .stderr_contains("save the spec as UTF-8");
}

#[test]
fn byte_order_mark_does_not_shift_columns() {
    let mut text = b"\xEF\xBB\xBF".to_vec();
    text.extend_from_slice(BAD_SPEC.as_bytes());
    let repo = Repo::new().file("specc.kdl", &text);
    // `stage=runtme` starts at column 12 of line 3, as an editor counts.
    repo.run(&["check", "--spec-only"])
        .code(1)
        .stderr_contains("specc.kdl:3:12");
    let json = repo.run(&["--message-format", "json", "check", "--spec-only"]);
    let lines = json_lines(&json);
    let label = &lines[0]["related"][0]["labels"][0]["span"];
    assert_eq!(
        label["offset"].as_u64(),
        BAD_SPEC.find("stage=runtme").map(|o| o as u64),
        "{json}"
    );
    // A BOM changes nothing else: the outputs are those of the spec without it.
    let plain = with_spec(SPEC);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(SPEC.as_bytes());
    let with_bom = with_spec("").file("specc.kdl", bom);
    plain.run(&["generate"]).success();
    with_bom.run(&["generate"]).success();
    let outputs = |r: &Repo| {
        let mut f = r.files();
        f.remove("specc.kdl");
        f.remove("specc.lock"); // holds the spec's hash
        f
    };
    assert_eq!(outputs(&plain), outputs(&with_bom));
}

#[test]
fn crlf_spec_gets_the_same_spans_and_outputs() {
    let crlf = BAD_SPEC.replace('\n', "\r\n");
    let repo = with_spec(&crlf);
    repo.run(&["check", "--spec-only"])
        .code(1)
        .stderr_contains("specc.kdl:3:12")
        .stderr_contains("image demo stage=runtme");
    let json = repo.run(&["--message-format", "json", "check", "--spec-only"]);
    let span = json_lines(&json)[0]["related"][0]["labels"][0]["span"].clone();
    let at = crlf.find("stage=runtme").expect("in the spec");
    assert_eq!(span["offset"].as_u64(), Some(at as u64), "{json}");
    assert_eq!(span["length"].as_u64(), Some("stage=runtme".len() as u64));

    let unix = with_spec(SPEC);
    let windows = with_spec(&SPEC.replace('\n', "\r\n"));
    unix.run(&["generate"]).success();
    windows.run(&["generate"]).success();
    let outputs = |r: &Repo| {
        let mut f = r.files();
        f.remove("specc.kdl");
        f.remove("specc.lock");
        f
    };
    assert_eq!(outputs(&unix), outputs(&windows));
}

/// A spec with `n` chained stages, each with a few instructions, and an image on every
/// fifth stage: big enough that anything quadratic in check, plan, render or the context
/// hashing shows, small enough for a debug build.
fn huge_spec(n: usize) -> String {
    let mut s = String::from(
        "project big version=\"1.0.0\"\nregistry hub host=\"docker.io\" namespace=\"me\"\n",
    );
    for i in 0..n {
        let from = if i % 5 == 0 {
            "from=\"alpine:3.20\"".to_string()
        } else {
            format!("from=s{}", i - 1)
        };
        s.push_str(&format!(
            "stage s{i} {from} {{\n    workdir \"/w{i}\"\n    copy \"src/f{i}.txt\" to=\"./\"\n    run \"echo {i}\"\n    env V{i} \"{i}\"\n}}\n"
        ));
    }
    for i in (4..n).step_by(5) {
        s.push_str(&format!(
            "image i{i} stage=s{i} registries=hub {{\n    tag \"{{{{version}}}}\"\n}}\n"
        ));
    }
    s
}

#[test]
fn huge_spec_compiles_plans_renders_and_checks() {
    const STAGES: usize = 500;
    let repo = with_spec(&huge_spec(STAGES));
    for i in 0..STAGES {
        repo.write(&format!("src/f{i}.txt"), format!("{i}\n"));
    }
    repo.run(&["check", "--spec-only"])
        .success()
        .stdout_contains("100 images, 100 targets");
    let plan: Value =
        serde_json::from_str(&repo.run(&["plan", "--json"]).success().stdout).expect("JSON plan");
    let targets = plan["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), STAGES / 5);
    assert_eq!(
        targets.last().expect("a target")["stages"]
            .as_array()
            .map(Vec::len),
        Some(5),
        "each image builds its chain of five stages"
    );
    repo.run(&["graph"])
        .success()
        .stdout_contains(&format!("s{}", STAGES - 1));
    repo.run(&["generate"]).success();
    repo.run(&["check"]).success().stdout_contains("in sync");
    repo.commit("generated");
    // A changed context file changes exactly the target whose COPY reaches it.
    repo.write("src/f7.txt", "changed\n");
    let changed: Value =
        serde_json::from_str(&repo.run(&["plan", "--changed", "--json"]).success().stdout)
            .expect("JSON matrix");
    let names: Vec<&str> = changed["include"]
        .as_array()
        .expect("include")
        .iter()
        .filter_map(|t| t["target"].as_str())
        .collect();
    assert_eq!(names, ["i9"]);
}

#[test]
fn copy_sources_reach_their_own_files_only() {
    // `copy "app"` reaches app/ and its subfolders, not app2/ nor a folder behind a link.
    let repo = with_spec(SPEC)
        .file("app/sub/b.py", "b\n")
        .file("app2/c.py", "c\n")
        .file("elsewhere/d.py", "d\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(repo.join("elsewhere"), repo.join("app/link"))
        .expect("a symbolic link");
    repo.run(&["generate"]).success();
    repo.commit("generated");
    let changed = |r: &Repo| r.run(&["plan", "--changed"]).success().stdout;
    repo.write("app2/c.py", "changed\n");
    repo.write("elsewhere/d.py", "changed\n");
    assert!(
        changed(&repo).contains("no target changed"),
        "{}",
        changed(&repo)
    );
    repo.write("app/sub/b.py", "changed\n");
    assert!(changed(&repo).contains("demo"), "{}", changed(&repo));
}

// ---------------------------------------------------------------- standard input

#[test]
fn spec_from_stdin_for_reading_commands() {
    let repo = Repo::new();
    run_stdin(&repo, &["check", "--spec-only", "-"], SPEC.as_bytes())
        .success()
        .stdout_contains("<stdin>: ok");
    run_stdin(&repo, &["plan", "-"], SPEC.as_bytes())
        .success()
        .stdout_contains("target demo");
    run_stdin(
        &repo,
        &["graph", "--format", "mermaid", "-"],
        SPEC.as_bytes(),
    )
    .success()
    .stdout_contains("runtime");
    // Problems name `<stdin>` and point inside it.
    let out = run_stdin(
        &repo,
        &["--message-format", "json", "check", "--spec-only", "-"],
        BAD_SPEC.as_bytes(),
    )
    .code(1);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["related"][0]["filename"], "<stdin>", "{out}");
    assert!(repo.files().is_empty(), "nothing written");
}

#[test]
fn spec_from_stdin_is_refused_where_outputs_need_its_path() {
    let repo = Repo::new();
    for args in [
        &["generate", "-"][..],
        &["check", "-"],
        &["plan", "--changed", "-"],
        &["plan", "--hashes", "-"],
    ] {
        let out = run_stdin(&repo, args, SPEC.as_bytes())
            .code(2)
            .stderr_contains("not `-` (standard input)");
        assert!(out.stdout.is_empty(), "{out}");
        let mut json_args = vec!["--message-format", "json"];
        json_args.extend_from_slice(args);
        let json = run_stdin(&repo, &json_args, SPEC.as_bytes()).code(2);
        assert_eq!(codes(&json_lines(&json)), ["specc::usage::arguments"]);
    }
    assert!(
        repo.files().is_empty(),
        "nothing written: {:?}",
        repo.files()
    );
}

// ---------------------------------------------------------------- folders and --out

#[test]
fn dash_c_to_a_missing_folder_exits_2_with_help() {
    let repo = with_spec(SPEC);
    repo.run(&["-C", "no/such/dir", "check"])
        .code(2)
        .stderr_contains("cannot change to directory `no/such/dir`")
        .stderr_contains("help:");
    repo.run(&["-C", ".", "check", "--spec-only"]).success();
}

#[test]
fn out_pointing_at_a_file_is_refused_before_anything_happens() {
    let repo = with_spec(SPEC).file("out.txt", "mine\n");
    let before = repo.files();
    for args in [
        &["generate", "--out", "out.txt"][..],
        &["generate", "--force", "--out", "out.txt"],
        &["check", "--out", "out.txt"],
        &["plan", "--changed", "--out", "out.txt"],
    ] {
        let out = repo.run(args).code(2);
        assert!(
            out.stderr.contains("`--out out.txt` is not a folder") && !out.stderr.contains("lock"),
            "{out}"
        );
    }
    assert_eq!(repo.files(), before, "nothing written");
}

#[test]
fn out_to_a_missing_folder_is_created_by_generate_only() {
    let repo = with_spec(SPEC);
    repo.run(&["check", "--out", "new/outputs"])
        .code(1)
        .stderr_contains("missing: docker-bake.hcl");
    assert!(!repo.exists("new"), "check writes nothing");
    repo.run(&["generate", "--out", "new/outputs"])
        .success()
        .stdout_contains("wrote   docker-bake.hcl");
    assert!(repo.exists("new/outputs/specc.lock"));
    repo.run(&["check", "--out", "new/outputs"]).success();
    repo.run(&["plan", "--out", "new/outputs"])
        .code(2)
        .stderr_contains("--changed");
}

// ---------------------------------------------------------------- the lock

#[test]
fn unreadable_locks_exit_2_and_leave_everything_alone() {
    let newer = "version = 99\nspecc = \"9.0.0\"\n";
    /// What breaks the lock, how, and what the message must say.
    type Case<'a> = (&'a str, &'a dyn Fn(&Repo), &'a str);
    let cases: [Case; 4] = [
        (
            "garbage",
            &|r| r.write("specc.lock", "not a lock\n"),
            "TOML",
        ),
        ("newer", &|r| r.write("specc.lock", newer), "upgrade specc"),
        (
            "older",
            &|r| r.write("specc.lock", "version = 0\n"),
            "lock format version 0",
        ),
        (
            "folder",
            &|r| {
                std::fs::remove_file(r.join("specc.lock")).expect("remove the lock");
                r.write("specc.lock/x", "");
            },
            "it is a folder",
        ),
    ];
    for (what, breaks, says) in cases {
        let repo = with_spec(SPEC);
        repo.run(&["generate"]).success();
        breaks(&repo);
        let before = repo.files();
        for args in [&["check"][..], &["generate"]] {
            let out = repo.run(args).code(2);
            assert!(
                out.stderr.contains("cannot read lock file `specc.lock`")
                    && out.stderr.contains(says),
                "{what}: {out}"
            );
            let json = repo.run(&[&["--message-format", "json"][..], args].concat());
            assert_eq!(codes(&json_lines(&json)), ["specc::io::lock"], "{what}");
        }
        assert_eq!(repo.files(), before, "{what}: nothing written");
    }
}

#[test]
fn generate_force_replaces_a_garbage_lock() {
    let repo = with_spec(SPEC);
    repo.run(&["generate"]).success();
    repo.write("specc.lock", "not a lock\n");
    repo.run(&["generate", "--force"]).success();
    repo.run(&["check"]).success();
}

// ---------------------------------------------------------------- spec problems

#[test]
fn every_command_exits_1_on_spec_errors_and_writes_nothing() {
    let repo = with_spec(BAD_SPEC);
    let before = repo.files();
    for args in [
        &["check"][..],
        &["check", "--spec-only"],
        &["plan"],
        &["plan", "--json"],
        &["plan", "--changed"],
        &["generate"],
        &["generate", "--force"],
        &["graph"],
        &["graph", "--format", "mermaid"],
    ] {
        let out = repo.run(args).code(1);
        assert!(out.stdout.is_empty(), "{out}");
        assert!(
            out.stderr.contains("specc::check::unknown_reference")
                && out.stderr.contains("specc.kdl:3:12"),
            "{out}"
        );
        let json = repo.run(&[&["--message-format", "json"][..], args].concat());
        assert!(json.stdout.is_empty(), "{json}");
        assert!(codes(&json_lines(&json)).contains(&"specc::check::unknown_reference".into()));
    }
    assert_eq!(repo.files(), before, "nothing written");
}

#[test]
fn warnings_do_not_stop_generate_unless_denied() {
    let repo = with_spec(WARNING_SPEC);
    let before = repo.files();
    let denied = repo.run(&["--deny-warnings", "generate"]).code(1);
    assert!(
        denied.stderr.contains("specc::check::unused_stage")
            && denied.stderr.contains("--deny-warnings"),
        "{denied}"
    );
    assert!(denied.stdout.is_empty(), "{denied}");
    repo.run(&["generate", "--deny-warnings"]).code(1);
    assert_eq!(
        repo.files(),
        before,
        "nothing written when warnings are denied"
    );
    let json = repo.run(&["--message-format", "json", "--deny-warnings", "generate"]);
    assert_eq!(json.status.code(), Some(1));
    assert!(codes(&json_lines(&json)).contains(&"specc::check::unused_stage".into()));
    assert_eq!(repo.files(), before);

    repo.run(&["generate"])
        .success()
        .stdout_contains("wrote   docker-bake.hcl")
        .stderr_contains("specc::check::unused_stage");
    repo.run(&["check"]).success();
    repo.run(&["--deny-warnings", "check"]).code(1);
}

#[test]
fn an_output_never_lands_on_the_spec() {
    let spec = SPEC.replace(
        "stage runtime",
        "output {\n    bake \"specc.kdl\"\n}\nstage runtime",
    );
    let repo = with_spec(&spec);
    let before = repo.files();
    for args in [&["generate"][..], &["generate", "--force"], &["check"]] {
        let out = repo.run(args).code(1);
        assert!(
            out.stderr
                .contains("`bake` would overwrite the spec itself")
                && out.stderr.contains("specc.kdl:3:10"),
            "{out}"
        );
    }
    assert_eq!(repo.files(), before, "the spec is intact, nothing written");
    // Nor through a folder setting: Dockerfiles in `.` next to a spec named like one.
    let spec = SPEC.replace(
        "stage runtime",
        "output {\n    dockerfiles \".\"\n}\nstage runtime",
    );
    let repo = Repo::new().file("demo.Dockerfile", &spec);
    let before = repo.files();
    repo.run(&["generate", "--force", "demo.Dockerfile"])
        .code(1)
        .stderr_contains("would overwrite the spec itself");
    assert_eq!(repo.files(), before);
}

#[test]
fn two_outputs_on_one_path_are_a_spec_error_not_a_bug() {
    let spec = SPEC.replace(
        "stage runtime",
        "output {\n    bake \"out.hcl\"\n    dockerignore \"out.hcl\"\n}\nstage runtime",
    );
    let repo = with_spec(&spec);
    let out = repo.run(&["generate"]).code(1);
    assert!(
        out.stderr.contains("specc::check::output_clash")
            && out.stderr.contains("would both write this file")
            && !out.stderr.contains("bug in specc"),
        "{out}"
    );
    // The lock's path counts too.
    repo.write(
        "specc.kdl",
        SPEC.replace(
            "stage runtime",
            "output {\n    bake \"specc.lock\"\n}\nstage runtime",
        ),
    );
    repo.run(&["generate", "--force"])
        .code(1)
        .stderr_contains("`bake` and `lock` would both write this file");
    assert_eq!(repo.files().len(), 2, "only the spec and app/main.py");
}

#[test]
fn a_lock_that_lists_the_spec_never_gets_it_removed() {
    let repo = with_spec(SPEC);
    repo.run(&["generate"]).success();
    // A lock (say, from an older specc) that records the spec as an output.
    let spec_hash = blake3::hash(SPEC.as_bytes()).to_hex().to_string();
    repo.edit(
        "specc.lock",
        "[outputs]\n",
        &format!("[outputs]\n\"specc.kdl\" = \"{spec_hash}\"\n"),
    );
    repo.run(&["generate", "--force"]).success();
    assert_eq!(repo.read_text("specc.kdl"), SPEC);
    repo.run(&["check"]).success();
}

#[test]
fn long_lists_of_out_of_sync_outputs_are_cut_short_in_the_message() {
    let mut spec =
        String::from("project many version=\"1.0.0\"\nstage runtime from=\"alpine:3.20\"\n");
    for i in 0..15 {
        spec.push_str(&format!("image app{i:02} stage=runtime\n"));
    }
    let repo = with_spec(&spec);
    let out = repo.run(&["--message-format", "json", "check"]).code(1);
    let message = json_lines(&out)[0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // 15 Dockerfiles, .dockerignore, the bake file and the lock.
    assert!(message.starts_with("18 output(s)"), "{message}");
    assert!(message.ends_with("and 8 more"), "{message}");
    let human = repo.run(&["check"]).code(1);
    assert!(
        human.stderr.contains("missing: docker/app14.Dockerfile"),
        "{human}"
    );
}

// ---------------------------------------------------------------- JSON for every error

#[test]
fn json_messages_for_every_kind_of_error() {
    let json = |r: &Repo, args: &[&str]| {
        let out = r.run(&[&["--message-format", "json"][..], args].concat());
        assert!(out.stdout.is_empty(), "diagnostics go to stderr: {out}");
        (out.status.code(), codes(&json_lines(&out)))
    };
    let ok = with_spec(SPEC);
    let io = |c: &str| vec![c.to_string()];
    assert_eq!(
        json(&ok, &["check", "nope.kdl"]),
        (Some(2), io("specc::io"))
    );
    assert_eq!(
        json(&ok, &["-C", "nope", "check"]),
        (Some(2), io("specc::io"))
    );
    assert_eq!(
        json(&ok, &["plan", "--set-version", "a b"]),
        (Some(2), io("specc::usage::version"))
    );
    assert_eq!(
        json(&ok, &["plan", "--bogus"]),
        (Some(2), io("specc::usage::arguments"))
    );
    assert_eq!(
        json(&ok, &["frobnicate"]),
        (Some(2), io("specc::usage::arguments"))
    );
    assert_eq!(json(&ok, &[]), (Some(2), io("specc::usage::arguments")));
    assert_eq!(
        json(&ok, &["completions", "tcsh"]),
        (Some(2), io("specc::usage::arguments"))
    );
    assert_eq!(json(&ok, &["check"]), (Some(1), io("specc::drift::stale")));
    ok.write("docker-bake.hcl/x", "");
    assert_eq!(json(&ok, &["generate"]), (Some(2), io("specc::io::write")));
    std::fs::remove_dir_all(ok.join("docker-bake.hcl")).expect("remove the folder");
    ok.run(&["generate"]).success();
    ok.write("docker/demo.Dockerfile", "edited\n");
    assert_eq!(
        json(&ok, &["generate"]),
        (Some(1), io("specc::drift::edited"))
    );
    let bad = with_spec(BAD_SPEC);
    let (code, found) = json(&bad, &["plan"]);
    assert_eq!(code, Some(1));
    assert_eq!(found, ["specc::spec", "specc::check::unknown_reference"]);
    let syntax = with_spec("project demo version=\"1.0.0\n");
    let (code, found) = json(&syntax, &["graph"]);
    assert_eq!(code, Some(1));
    assert!(found.contains(&"specc::syntax".to_string()), "{found:?}");
    // `--message-format=json` spelled with `=` works the same, for clap's errors too.
    let out = ok.run(&["--message-format=json", "plan", "--jsno"]).code(2);
    assert_eq!(codes(&json_lines(&out)), ["specc::usage::arguments"]);
    assert!(out.stderr.contains("--jsno"), "{out}");
}

#[test]
fn usage_errors_in_human_form_are_clap_s_with_exit_2() {
    let repo = with_spec(SPEC);
    repo.run(&["plan", "--bogus"])
        .code(2)
        .stderr_contains("unexpected argument '--bogus'")
        .stderr_contains("Usage: specc plan");
    repo.run(&[]).code(2).stderr_contains("Usage: specc");
    // Help and version are no errors, whatever the message format.
    repo.run(&["--message-format", "json", "--help"])
        .success()
        .stdout_contains("Usage: specc");
    repo.run(&["--version"]).success().stdout_contains("specc ");
}

// ---------------------------------------------------------------- help and completions

#[test]
fn help_of_every_command_documents_every_option_and_the_exit_codes() {
    let cli = specc::cli::Cli::command();
    let repo = Repo::new();
    let top = repo.run(&["--help"]).success().stdout;
    assert!(top.contains("Exit codes:"), "{top}");
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        let help = repo.run(&[name, "--help"]).success().stdout;
        assert!(
            sub.get_about().is_some_and(|a| !a.to_string().is_empty()),
            "`{name}` has no description"
        );
        assert!(help.contains("Exit codes: 0"), "`{name} --help`:\n{help}");
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(
                arg.get_action(),
                clap::ArgAction::Help
                    | clap::ArgAction::HelpShort
                    | clap::ArgAction::HelpLong
                    | clap::ArgAction::Version
            ) {
                continue;
            }
            assert!(
                arg.get_help()
                    .is_some_and(|h| !h.to_string().trim().is_empty()),
                "`{name}`: `{id}` has no help text"
            );
            let shown = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => format!("[{}]", id.to_uppercase()),
            };
            let shown_positional = format!("<{}>", id.to_uppercase());
            assert!(
                help.contains(&shown) || help.contains(&shown_positional),
                "`{name} --help` does not show `{shown}`:\n{help}"
            );
            for default in arg.get_default_values() {
                let default = default.to_string_lossy();
                assert!(
                    help.contains(&format!("[default: {default}]")),
                    "`{name} --help` does not show the default of `{id}`:\n{help}"
                );
            }
        }
    }
    for name in ["check", "plan", "generate", "graph"] {
        let help = repo.run(&[name, "--help"]).success().stdout;
        assert!(
            help.contains("default: `specc.kdl` here or above"),
            "{help}"
        );
    }
    let generate = repo.run(&["generate", "--help"]).success().stdout;
    assert!(generate.contains("created when missing"), "{generate}");
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let repo = Repo::new();
    let expect: BTreeMap<&str, &str> = [
        ("bash", "complete -F _specc"),
        ("zsh", "#compdef specc"),
        ("fish", "complete -c specc"),
    ]
    .into();
    for (shell, marker) in expect {
        let out = repo.run(&["completions", shell]).success();
        for word in [
            marker,
            "generate",
            "message-format",
            "deny-warnings",
            "spec-only",
        ] {
            assert!(out.stdout.contains(word), "{shell}: no `{word}`");
        }
        assert!(out.stderr.is_empty(), "{out}");
    }
}

#[test]
fn plan_changed_since_an_unknown_revision_is_an_error_not_everything_changed() {
    let repo = with_spec(SPEC);
    repo.run(&["generate"]).success();
    let message = |args: &[&str]| {
        let out = repo
            .run(&[&["--message-format", "json"], args].concat())
            .code(2);
        let lines = json_lines(&out);
        assert_eq!(codes(&lines), ["specc::io::since"], "{out}");
        lines[0]["message"].as_str().expect("a message").to_string()
    };
    let root = repo.path().canonicalize().expect("the root");
    assert!(message(&["plan", "--changed"]).starts_with(&format!(
        "cannot compare with `HEAD` (given to --since): `{}` is not in a git repository",
        root.display()
    )));
    repo.commit("generated");
    assert_eq!(
        message(&["plan", "--changed", "--since", "v9.9.9"]),
        "cannot compare with `v9.9.9` (given to --since): no such commit in the repository"
    );
    repo.run(&["plan", "--changed", "--since", "HEAD"])
        .success()
        .stdout_contains("no target changed since HEAD");
}

// ---------------------------------------------------------------- hostile shapes

/// `project` and then `line`, as a spec.
fn spec_with(line: &str) -> String {
    format!("project demo version=\"1.0.0\"\n{line}\n")
}

#[test]
fn deep_nesting_is_a_syntax_error_not_a_crash() {
    let d = 5000;
    let cases = [
        (
            "blocks",
            format!(
                "stage a from=\"alpine:3.20\" {}{}",
                "{ a ".repeat(d),
                "}".repeat(d)
            ),
        ),
        (
            "block comments",
            format!("{}{}", "/*".repeat(d), "*/".repeat(d)),
        ),
        ("`/-` chains of nodes", format!("{}a", "/- ".repeat(d))),
        (
            "`/-` chains of arguments",
            format!("a {}1", "/- ".repeat(d)),
        ),
    ];
    for (what, line) in cases {
        let repo = with_spec(&spec_with(&line));
        let out = repo.run(&["check", "--spec-only"]).code(1);
        assert!(
            out.stderr.contains("specc::syntax") && out.stderr.contains("levels deep"),
            "{what}: {out}"
        );
        let json = repo.run(&["--message-format", "json", "graph"]).code(1);
        assert_eq!(codes(&json_lines(&json)), ["specc::spec", "specc::syntax"]);
    }
    // Nesting within the limit is fine, and braces in strings and comments do not count.
    let nested = format!(
        "stage a from=\"alpine:3.20\" {{\n    run \"{}\"\n    /* {} */\n    run #\"{}\"#\n}}\nimage demo stage=a",
        "{".repeat(100),
        "{".repeat(100),
        "\"{".repeat(100)
    );
    with_spec(&spec_with(&nested))
        .run(&["check", "--spec-only"])
        .success();
}

#[test]
fn long_chains_of_line_continuations_do_not_overflow_the_stack() {
    // Each `\` is one more level of kdl's recursion: beyond what the main thread's stack
    // holds in a debug build.
    let repo = with_spec(&spec_with(&format!("a {}1", "\\ ".repeat(8000))));
    let out = repo
        .run(&["--message-format", "json", "check", "--spec-only"])
        .code(1);
    let lines = json_lines(&out);
    assert!(codes(&lines).contains(&"specc::syntax".into()));
    // Thousands of errors are cut to a readable number, and the last says so.
    let related = lines[0]["related"].as_array().cloned().unwrap_or_default();
    assert_eq!(related.len(), 101);
    assert!(
        related[100]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("more syntax errors are not shown")),
        "{}",
        related[100]
    );
}

#[test]
fn a_problem_far_right_on_a_long_line_is_reported_not_a_panic() {
    let line = format!(
        "stage a from=\"alpine:3.20\" {}frm=\"x\"\nimage demo stage=a",
        " ".repeat(70_000)
    );
    let repo = with_spec(&spec_with(&line));
    let out = repo.run(&["check", "--spec-only"]).code(1);
    assert!(
        out.stderr.contains("unknown property `frm`")
            && out.stderr.contains("specc.kdl:2:70028")
            && out.stderr.contains("did you mean `from`?")
            && !out.stderr.contains("panicked"),
        "{}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    let json = repo.run(&["--message-format", "json", "check", "--spec-only"]);
    assert!(codes(&json_lines(&json)).contains(&"specc::model::unknown_property".into()));
}

#[test]
fn plan_refuses_a_branch_or_sha_that_makes_an_invalid_tag() {
    let spec = "project demo version=\"1.0.0\"\n\
registry hub host=\"docker.io\" namespace=\"me\"\n\
stage runtime from=\"alpine:3.20\"\n\
image demo stage=runtime registries=hub {\n    tag \"{{branch}}\" when=\"branch\"\n    tag \"sha-{{sha}}\" when=\"branch\"\n}\n";
    let repo = with_spec(spec);
    let long = "a".repeat(200);
    for (args, says) in [
        (&["plan", "--branch", ""][..], "`--branch` is empty"),
        (&["plan", "--sha", " "], "`--sha` is empty"),
        (&["plan", "--branch", "..."], "invalid tag `...`"),
        (&["plan", "--branch", &long], "more than the 128 allowed"),
        (
            &["plan", "--branch", "main", "--sha", "a/b"],
            "invalid tag `sha-a/b`",
        ),
    ] {
        let out = repo.run(args).code(2).stderr_contains(says);
        assert!(out.stdout.is_empty(), "no plan with invalid tags: {out}");
        let json = repo.run(&[&["--message-format", "json"][..], args].concat());
        assert_eq!(codes(&json_lines(&json)), ["specc::usage::arguments"]);
    }
    // A branch name is cleaned up as in the workflow; a real commit is shortened.
    repo.run(&["plan", "--branch", "feature/log in", "--sha", "0a1b2c3d4e"])
        .success()
        .stdout_contains("docker.io/me/demo:feature-log-in")
        .stdout_contains("docker.io/me/demo:sha-0a1b2c3");
}

// ---------------------------------------------------------------- discovery and JSON

/// With no spec argument, `specc.kdl` is found in the nearest folder above, as git finds
/// its repository; outputs go beside it, named as from its folder.
#[test]
fn the_spec_is_found_from_a_subfolder() {
    let repo = with_spec(SPEC).file("app/deep/x.txt", "x\n");
    let deep = repo.join("app/deep");
    let run = |args: &[&str]| run_in(&deep, specc_bin(), args, &[]);
    run(&["check", "--spec-only"])
        .success()
        .stdout_contains("../../specc.kdl: ok (");
    run(&["generate"]).success();
    assert!(repo.exists("specc.lock") && !deep.join("specc.lock").exists());
    let from_root = repo.run(&["generate"]).success();
    assert!(from_root.stdout.contains(" 0 written, "), "{from_root}");
    run(&["check"]).success();
    // A nearer spec wins.
    repo.write("app/specc.kdl", "project nearer version=\"1.0.0\"\n");
    run(&["check", "--spec-only"])
        .success()
        .stdout_contains("../specc.kdl: ok (0 images");
}

/// Every label of a JSON diagnostic gives its place as byte offset and length, and as
/// 1-based line and column in characters (here after two 2-byte characters).
#[test]
fn json_diagnostics_carry_line_and_column() {
    let repo = Repo::new().spec(
        "project demo version=\"1.0.0\"\nstage runtime from=\"alpine:3.20\" {\n    expose 8080\n}\n/* é ü */ image demo stage=runtme\n",
    );
    let out = repo
        .run(&["--message-format", "json", "check", "--spec-only"])
        .code(1);
    assert_eq!(
        out.stderr,
        concat!(
            r#"{"message": "the spec has 1 error","code": "specc::spec","severity": "error","causes": [],"filename": "","labels": [],"related": ["#,
            r#"{"message": "unknown stage `runtme`","code": "specc::check::unknown_reference","severity": "error","causes": [],"help": "did you mean `runtime`?","filename": "specc.kdl","#,
            r#""labels": [{"label": "no stage is named `runtme`","span": {"offset": 105,"length": 12,"line": 5,"column": 22,"end_line": 5,"end_column": 34}}],"related": []}]}"#,
            "\n"
        ),
        "{out}"
    );
}

/// A 200 KB source line (issue 9, finding 8) is never echoed whole: each label shows its
/// place and a window of the line around it.
#[test]
fn a_long_line_is_shown_as_a_window_around_the_label() {
    let long = "x".repeat(200_000);
    let spec = format!(
        "project demo version=\"1.0.0\"\nstage s from=\"alpine:3.20\" {{\n    run \"echo {long}\" bogus=1\n}}\nimage demo stage=s\n"
    );
    let repo = Repo::new().spec(&spec);
    let out = repo.run(&["check", "--spec-only"]).code(1);
    let xs = "x".repeat(54);
    let expected = format!(
        "specc::spec

  × the spec has 2 errors

Error: specc::check::line_too_long

  × a `run` command makes a Dockerfile line of about 200301 bytes
  │   at specc.kdl:3:9: too long for one Dockerfile line
  │   | \"echo {xs}…
  help: BuildKit refuses Dockerfile lines of 64 KiB or more; split a `run` command into several
        arguments, or put long text in a file of the build context and `copy` it

Error: specc::model::unknown_property

  × unknown property `bogus` on `run`
  │   at specc.kdl:3:200017: not a property of `run`
  │   | bogus=1
  help: properties of `run`: `variants`, `lint-ignore`
"
    );
    assert_eq!(out.stderr, expected);
}
