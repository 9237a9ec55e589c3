//! Content hashes, the lock, drift and atomic writes, through the real binary in temp repos
//! (issue 5, acceptance 1, 2, 4 and 5).

use std::collections::{BTreeMap, BTreeSet};

use crate::support::repo::{Repo, git};
use crate::support::validators::repo_root;

/// Two images with their own build contexts (`api/`, `web/`), a service each, a release
/// workflow and a chart: every kind of output, and outputs that belong to one image only.
const SPEC: &str = r#"project demo version="1.0.0"

ignore "*.log"

stage api-run from="python:3.12-slim" {
    workdir "/app"
    copy "." to="."
    cmd "python3" "main.py"
}

stage web-run from="nginx:1.27-alpine" {
    copy "index.html" to="/usr/share/nginx/html/"
}

image api stage=api-run context="api"
image web stage=web-run context="web"

service api image=api {
    port "8000:8000"
}

service web image=web {
    port "8080:80"
}

workflow release {
    on "tag"
    images "api" "web"
}

chart demo path="charts/demo" create=#true {
    image api key="api.image"
}
"#;

/// What `generate` writes for [`SPEC`] (the lock aside).
const OUTPUTS: &[&str] = &[
    ".github/workflows/release.yml",
    "api/.dockerignore",
    "charts/demo/values.schema.json",
    "charts/demo/values.yaml",
    "compose.yaml",
    "docker-bake.hcl",
    "docker/api.Dockerfile",
    "docker/web.Dockerfile",
    "web/.dockerignore",
];

fn demo() -> Repo {
    Repo::new()
        .spec(SPEC)
        .file("api/main.py", "print('api')\n")
        .file("api/debug.log", "ignored by .dockerignore\n")
        .file("web/index.html", "<h1>web</h1>\n")
}

/// A generated demo repo.
fn generated() -> Repo {
    let repo = demo();
    repo.run(&["generate"]).success();
    repo
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn lock(repo: &Repo) -> toml::Table {
    toml::from_str(&repo.read_text("specc.lock")).expect("specc.lock is TOML")
}

/// Output path -> blake3, as the lock records them.
fn lock_outputs(repo: &Repo) -> BTreeMap<String, String> {
    lock(repo)["outputs"]
        .as_table()
        .expect("[outputs] table")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a hash").to_string()))
        .collect()
}

/// The paths of `wrote` (or `removed`) lines in `generate`'s report.
fn reported(stdout: &str, verb: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix(verb))
        .map(|p| p.trim().to_string())
        .collect()
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// Paths whose bytes differ between two snapshots (or exist in one only).
fn changed(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> BTreeSet<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .cloned()
        .collect()
}

/// Leftover temporary files of an interrupted write.
fn temp_files(repo: &Repo) -> Vec<String> {
    repo.files()
        .into_keys()
        .filter(|p| p.rsplit('/').next().unwrap().starts_with(".specc-"))
        .collect()
}

// ----------------------------------------------------------------------------- files

#[test]
fn first_generate_writes_every_output_and_a_lock_of_their_hashes() {
    let repo = demo();
    let out = repo.run(&["generate"]).success();
    assert_eq!(reported(&out.stdout, "wrote"), set(OUTPUTS), "{out}");
    assert!(
        out.stdout
            .contains(&format!("{} written, 0 unchanged", OUTPUTS.len())),
        "{out}"
    );

    // The lock lists exactly the outputs, each with the blake3 of its bytes on disk.
    let outputs = lock_outputs(&repo);
    assert_eq!(
        outputs.keys().cloned().collect::<BTreeSet<_>>(),
        set(OUTPUTS)
    );
    for (path, h) in &outputs {
        assert_eq!(*h, blake3_hex(&repo.read(path)), "lock hash of {path}");
    }
    let lock = lock(&repo);
    assert_eq!(lock["spec"].as_str(), Some("specc.kdl"));
    assert_eq!(
        lock["spec-hash"].as_str(),
        Some(blake3_hex(SPEC.as_bytes()).as_str())
    );
    assert_eq!(lock["specc"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    // What a run that does not parse the spec needs: the compose file it warns beside.
    assert_eq!(lock["compose"].as_str(), Some("compose.yaml"));
    // Nothing about build contexts: a source change never makes the lock stale.
    assert_eq!(
        lock.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "compose",
            "outputs",
            "spec",
            "spec-hash",
            "specc",
            "templates-hash",
            "version"
        ]
    );

    // Every output with a comment syntax says where it comes from and how to regenerate.
    for path in OUTPUTS.iter().filter(|p| !p.ends_with(".json")) {
        let text = repo.read_text(path);
        let head: String = text.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(
            head.starts_with("# Generated by specc from specc.kdl. Do not edit by hand:\n# change the spec, then run `specc generate`."),
            "{path} lacks the header naming the spec and the command:\n{head}"
        );
    }

    // Deterministic: a second repo with the same inputs gets byte-identical files.
    let twin = demo();
    twin.run(&["generate"]).success();
    assert_eq!(repo.files(), twin.files());

    repo.run(&["check"])
        .success()
        .stdout_contains(&format!("{} outputs in sync", OUTPUTS.len()));
}

#[test]
fn second_generate_writes_nothing_and_keeps_mtimes() {
    let repo = generated();
    let old = repo.age_all_files();
    let before = repo.files();

    let out = repo.run(&["generate"]).success();
    assert!(
        out.stdout
            .contains(&format!("0 written, {} unchanged", OUTPUTS.len())),
        "{out}"
    );
    assert!(reported(&out.stdout, "wrote").is_empty(), "{out}");
    assert_eq!(repo.files(), before);
    for path in before.keys() {
        assert_eq!(repo.mtime(path), old, "{path} was touched");
    }
}

#[test]
fn changing_one_stage_rewrites_only_the_outputs_that_depend_on_it() {
    let repo = generated();
    let old = repo.age_all_files();
    let before = repo.files();

    repo.edit_spec(
        r#"    copy "index.html" to="/usr/share/nginx/html/"
"#,
        r#"    copy "index.html" to="/usr/share/nginx/html/"
    expose 80
"#,
    );
    let out = repo.run(&["generate"]).success();

    // The web Dockerfile and the lock change; the bake file (it holds no input hash), the
    // api Dockerfile, compose, workflow, chart and .dockerignore files do not.
    let rewritten = set(&["docker/web.Dockerfile"]);
    assert_eq!(reported(&out.stdout, "wrote"), rewritten, "{out}");
    let mut expected = rewritten.clone();
    expected.extend(set(&["specc.kdl", "specc.lock"]));
    assert_eq!(changed(&before, &repo.files()), expected);
    assert!(
        repo.read_text("docker/web.Dockerfile")
            .contains("EXPOSE 80")
    );
    for path in before.keys() {
        let touched = repo.mtime(path) != old;
        assert_eq!(touched, expected.contains(path), "mtime of {path}");
    }
    repo.run(&["check"]).success();
}

#[test]
fn a_hand_edited_output_blocks_generate_and_fails_check_until_force() {
    let repo = generated();
    let pristine = repo.read_text("docker/api.Dockerfile");
    let edited = format!("{pristine}RUN echo my-hand-edit\n");
    repo.write("docker/api.Dockerfile", &edited);
    // Give generate something else to do as well: it must still write nothing.
    repo.edit_spec(r#"port "8080:80""#, r#"port "8081:80""#);
    let before = repo.files();

    let out = repo.run(&["generate"]).code(1);
    let refused = out
        .stderr_contains("specc::drift::edited")
        .stderr_contains("`docker/api.Dockerfile`")
        .stderr_contains("--force")
        .stderr_contains("--- a/docker/api.Dockerfile\n+++ b/docker/api.Dockerfile\n")
        .stderr_contains("\n-RUN echo my-hand-edit\n");
    assert!(refused.stdout.is_empty(), "{refused}");
    assert_eq!(repo.files(), before, "a refused generate wrote something");

    repo.run(&["check"])
        .code(1)
        .stderr_contains("`docker/api.Dockerfile`")
        .stderr_contains("--- a/docker/api.Dockerfile")
        .stderr_contains("\n-RUN echo my-hand-edit\n")
        // The spec change shows too, as a stale (not hand-edited) output.
        .stderr_contains("specc::drift::stale")
        .stderr_contains("+      - \"8081:80\"");

    let out = repo.run(&["generate", "--force"]).success();
    assert!(
        reported(&out.stdout, "wrote")
            .is_superset(&set(&["docker/api.Dockerfile", "compose.yaml"])),
        "{out}"
    );
    assert_eq!(repo.read_text("docker/api.Dockerfile"), pristine);
    repo.run(&["check"]).success();
}

#[test]
fn a_file_specc_did_not_write_is_never_overwritten_without_force() {
    // A compose file of the user's own, before specc ever ran here.
    let repo = demo().file("compose.yaml", "services: {}\n");
    let before = repo.files();
    for command in ["generate", "check"] {
        let out = repo
            .run(&[command, "--message-format", "json"])
            .code(1)
            // Its own diagnostic: specc never wrote it, so it was not "edited by hand".
            .stderr_contains("specc::drift::not_generated")
            .stderr_contains("1 output path(s) hold a file specc did not generate: `compose.yaml`")
            .stderr_contains("run `specc generate --force`")
            .stderr_contains("`output { compose \\\"generated/compose.yaml\\\" }`");
        assert!(!out.stderr.contains("edited by hand"), "{command}: {out}");
        // Not specc's: never shown (it could be any file; issue 9, finding 2).
        repo.run(&[command])
            .code(1)
            .stderr_contains("not generated by specc: compose.yaml (its contents are not shown)");
        // Nothing written, not even in part.
        assert_eq!(repo.files(), before, "{command} wrote something");
    }

    repo.run(&["generate", "--force"]).success();
    assert!(
        repo.read_text("compose.yaml")
            .starts_with("# Generated by specc")
    );
}

/// Issue 10: a `.dockerignore` of the user's own is not moved away by an `output`
/// setting (BuildKit reads it from the context): the advice is the spec's `ignore`.
#[test]
fn a_dockerignore_specc_did_not_write_is_pointed_to_the_ignore_node() {
    let repo = demo().file("api/.dockerignore", "secrets/\n");
    repo.run(&["generate", "--message-format", "json"])
        .code(1)
        .stderr_contains("specc::drift::not_generated")
        .stderr_contains("move the patterns of `api/.dockerignore`");
    assert_eq!(repo.read_text("api/.dockerignore"), "secrets/\n");
    // With --force, only the output paths are written: the user's other files stay.
    let repo = repo.file("api/notes.md", "mine\n");
    repo.run(&["generate", "--force"]).success();
    assert!(
        repo.read_text("api/.dockerignore")
            .starts_with("# Generated by specc")
    );
    assert_eq!(repo.read_text("api/notes.md"), "mine\n");
}

/// `docker compose -f`-less `config --services` in `repo`: the services plain `docker
/// compose` would start there, sorted (compose prints them in no fixed order).
fn compose_services(repo: &Repo) -> String {
    let out = crate::support::validators::run_tool_ok(
        "docker-compose",
        ["config", "--services"],
        repo.path(),
    );
    let mut services: Vec<&str> = out.stdout.lines().collect();
    services.sort_unstable();
    services.iter().map(|s| format!("{s}\n")).collect()
}

/// Issue 10: `docker compose` picks `compose.yaml` over `compose.yml`,
/// `docker-compose.yaml` and `docker-compose.yml`; a generated compose file beside one of
/// the user's silently shadows it (or is shadowed). Warned about, and what the warning
/// says is what `docker compose` does.
#[test]
fn a_compose_file_beside_the_users_own_is_warned_about() {
    let theirs = "services:\n  legacy:\n    image: busybox\n";
    let repo = demo().file("docker-compose.yml", theirs);
    let out = repo
        .run(&["generate", "--message-format", "json"])
        .success()
        .stderr_contains("specc::drift::compose_shadowed")
        .stderr_contains(
            "plain `docker compose` in `.` reads the generated `compose.yaml` and ignores your `docker-compose.yml`",
        )
        .stderr_contains("`output { compose \\\"deploy/compose.yaml\\\" }`");
    assert!(
        repo.read_text("compose.yaml")
            .starts_with("# Generated by specc"),
        "{out}"
    );
    assert_eq!(compose_services(&repo), "api\nweb\n");
    // Every run says it until it is resolved; --deny-warnings makes it fail.
    repo.run(&["check", "--color", "never"])
        .success()
        .stderr_contains("specc::drift::compose_shadowed");
    repo.run(&["check", "--deny-warnings"]).code(1);

    // The other way round: the user's `compose.yaml` wins over specc's file.
    let repo = Repo::new()
        .spec(&SPEC.replace(
            "ignore \"*.log\"",
            "ignore \"*.log\"\noutput {\n    compose \"docker-compose.yml\"\n}",
        ))
        .file("api/main.py", "print('api')\n")
        .file("web/index.html", "<h1>web</h1>\n")
        .file("compose.yaml", theirs);
    repo.run(&["generate", "--message-format", "json"])
        .success()
        .stderr_contains(
            "plain `docker compose` in `.` reads your `compose.yaml` and ignores the generated `docker-compose.yml`",
        )
        .stderr_contains("`docker compose -f docker-compose.yml up`");
    assert_eq!(compose_services(&repo), "legacy\n");

    // No warning without a file of the user's own.
    let out = generated().run(&["check"]).success();
    assert!(!out.stderr.contains("compose_shadowed"), "{out}");
}

#[test]
fn removing_an_image_and_a_workflow_removes_only_their_files() {
    let repo = generated()
        // Files specc never wrote, beside and among its outputs.
        .file("docker/notes.txt", "mine\n")
        .file(".github/workflows/ci.yml", "name: mine\n")
        .file("web/.dockerignore.bak", "mine\n");
    let before = repo.files();

    let without_web = SPEC
        .replace(
            "stage web-run from=\"nginx:1.27-alpine\" {\n    copy \"index.html\" to=\"/usr/share/nginx/html/\"\n}\n",
            "",
        )
        .replace("image web stage=web-run context=\"web\"\n", "")
        .replace("service web image=web {\n    port \"8080:80\"\n}\n", "")
        .replace("workflow release {\n    on \"tag\"\n    images \"api\" \"web\"\n}\n", "");
    assert!(!without_web.contains("web") && !without_web.contains("workflow"));
    repo.write("specc.kdl", &without_web);

    let gone = set(&[
        ".github/workflows/release.yml",
        "docker/web.Dockerfile",
        "web/.dockerignore",
    ]);
    let out = repo.run(&["generate"]).success();
    assert_eq!(reported(&out.stdout, "removed"), gone, "{out}");
    assert!(out.stdout.contains("3 removed"), "{out}");
    for path in &gone {
        assert!(!repo.exists(path), "{path} was not removed");
    }
    let after = repo.files();
    for path in [
        "docker/notes.txt",
        ".github/workflows/ci.yml",
        "web/.dockerignore.bak",
        "web/index.html",
        "api/main.py",
        "docker/api.Dockerfile",
    ] {
        assert_eq!(
            after.get(path),
            before.get(path),
            "{path} must stay as it was"
        );
    }
    let outputs = lock_outputs(&repo);
    assert!(gone.iter().all(|p| !outputs.contains_key(p)), "{outputs:?}");
    repo.run(&["check"]).success();
}

#[test]
fn an_output_edited_by_hand_is_not_removed_without_force() {
    let repo = generated();
    repo.write("docker/web.Dockerfile", "# my own now\nFROM nginx\n");
    repo.edit_spec("image web stage=web-run context=\"web\"\n", "");
    repo.edit_spec("service web image=web {\n    port \"8080:80\"\n}\n", "");
    repo.edit_spec(r#"images "api" "web""#, r#"images "api""#);
    repo.edit_spec(
        "stage web-run from=\"nginx:1.27-alpine\" {\n    copy \"index.html\" to=\"/usr/share/nginx/html/\"\n}\n",
        "",
    );
    let before = repo.files();

    repo.run(&["generate"])
        .code(1)
        .stderr_contains("`docker/web.Dockerfile`")
        .stderr_contains("--force")
        .stderr_contains("+++ /dev/null");
    assert_eq!(repo.files(), before);

    repo.run(&["generate", "--force"])
        .success()
        .stdout_contains("removed docker/web.Dockerfile");
    assert!(!repo.exists("docker/web.Dockerfile"));
}

// ----------------------------------------------------------------------------- faults

/// A spec change that alters several outputs at once, plus `extra` nodes.
fn change_several(repo: &Repo, extra: &str) {
    repo.edit_spec(r#"port "8000:8000""#, r#"port "8001:8000""#);
    repo.edit_spec(
        r#"cmd "python3" "main.py""#,
        r#"cmd "python3" "-u" "main.py""#,
    );
    repo.edit_spec(r#"on "tag""#, "on \"tag\"\n    on \"dispatch\"");
    let mut spec = repo.read_text("specc.kdl");
    spec.push_str(extra);
    repo.write("specc.kdl", spec);
}

/// Asserts that a failed generate left every file as in `before`, the lock
/// unchanged and no temporary file behind, and that the error names `path`.
fn assert_untouched(
    repo: &Repo,
    before: &BTreeMap<String, Vec<u8>>,
    out: &crate::support::repo::Output,
    path: &str,
) {
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("specc::io::write"), "{out}");
    assert!(
        out.stderr.contains(path),
        "the error must name {path}: {out}"
    );
    assert!(
        temp_files(repo).is_empty(),
        "left behind: {:?}",
        temp_files(repo)
    );
    assert_eq!(changed(before, &repo.files()), BTreeSet::new());
}

#[test]
fn a_write_failing_before_any_rename_leaves_outputs_and_lock_intact() {
    let repo = generated();
    // A file where the new chart's folder must go: creating `zz/chart/` fails, after the
    // temporary files of every earlier output (in path order) were already written.
    repo.write("zz", "a file in the way\n");
    change_several(
        &repo,
        "chart extra path=\"zz/chart\" create=#true {\n    image api key=\"api.image\"\n}\n",
    );
    let before = repo.files();

    let out = repo.run(&["generate"]);
    assert_untouched(&repo, &before, &out, "zz/chart/values");
    repo.run(&["check"])
        .code(1)
        .stderr_contains("specc::drift::stale");

    // With the obstacle gone, the same command goes through.
    std::fs::remove_file(repo.join("zz")).unwrap();
    let out = repo.run(&["generate"]).success();
    assert!(
        reported(&out.stdout, "wrote").is_superset(&set(&[
            "compose.yaml",
            "docker/api.Dockerfile",
            ".github/workflows/release.yml",
            "zz/chart/values.yaml",
        ])),
        "{out}"
    );
    repo.run(&["check"]).success();
}

#[test]
fn a_folder_at_an_output_path_fails_before_any_output_is_replaced() {
    let repo = generated();
    // A folder where a new workflow must go. Renaming onto it would fail only after
    // `.github/workflows/release.yml` (earlier in path order) was replaced.
    std::fs::create_dir_all(repo.join(".github/workflows/zz.yml/keep")).unwrap();
    change_several(&repo, "workflow zz {\n    on \"dispatch\"\n}\n");
    let before = repo.files();

    let out = repo.run(&["generate"]);
    assert_untouched(&repo, &before, &out, ".github/workflows/zz.yml");
    assert!(repo.join(".github/workflows/zz.yml/keep").is_dir());

    std::fs::remove_dir_all(repo.join(".github/workflows/zz.yml")).unwrap();
    repo.run(&["generate"])
        .success()
        .stdout_contains("wrote   .github/workflows/zz.yml");
    repo.run(&["check"]).success();
}

// ----------------------------------------------------------------------------- input hashes

fn matrix(repo: &Repo, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "--changed", "--json"];
    args.extend_from_slice(extra);
    let out = repo.run(&args).success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A generated demo repository whose history is an empty commit, then the generated one.
fn committed() -> Repo {
    let repo = generated();
    git(repo.path(), &["init", "--quiet"]);
    repo.commit("empty");
    git(repo.path(), &["rm", "-r", "--cached", "--quiet", "."]);
    git(repo.path(), &["commit", "--quiet", "--message", "nothing"]);
    repo.commit("generated");
    repo
}

/// Target -> input hash, for the targets `plan --changed --json ARGS` lists.
fn changed_hashes(repo: &Repo, extra: &[&str]) -> BTreeMap<String, String> {
    let m = matrix(repo, extra);
    m["include"]
        .as_array()
        .unwrap_or_else(|| panic!("a GitHub Actions matrix: {m}"))
        .iter()
        .map(|e| {
            assert_eq!(e["image"], e["target"], "{m}");
            assert_eq!(e["variant"], "default", "{m}");
            let hash = e["input-hash"].as_str().expect("a hash");
            (
                e["target"].as_str().expect("a name").to_string(),
                hash.into(),
            )
        })
        .collect()
}

#[test]
fn touching_a_context_file_changes_only_that_targets_input_hash() {
    let repo = committed();
    // Before the generated commit there was no spec: every target is new.
    let hashes = changed_hashes(&repo, &["--since", "HEAD~1"]);
    assert_eq!(hashes.keys().collect::<Vec<_>>(), ["api", "web"]);
    assert_ne!(hashes["api"], hashes["web"]);

    // Nothing changed yet; files outside what COPY reaches, or excluded by the
    // .dockerignore, change nothing either.
    repo.write("web/notes.txt", "not copied by web-run\n");
    repo.write("api/debug.log", "more log\n");
    repo.write("README.md", "outside every context\n");
    let out = repo.run(&["plan", "--changed"]).success();
    assert_eq!(out.stdout, "no target changed since HEAD\n", "{out}");
    assert_eq!(matrix(&repo, &[]), serde_json::json!({ "include": [] }));

    repo.write("api/main.py", "print('api, changed')\n");
    let now = changed_hashes(&repo, &[]);
    assert_eq!(now.keys().collect::<Vec<_>>(), ["api"]);
    assert_ne!(now["api"], hashes["api"]);
    let out = repo.run(&["plan", "--changed"]).success();
    assert_eq!(
        out.stdout,
        format!(
            "api  (input hash {} -> {})\n",
            &hashes["api"][..12],
            &now["api"][..12]
        ),
        "{out}"
    );

    // The committed outputs do not depend on it: check passes, generate writes nothing.
    let before = repo.files();
    repo.run(&["check"]).success();
    repo.run(&["generate"])
        .success()
        .stdout_contains(" 0 written");
    assert_eq!(repo.files(), before);

    // Once committed, the revision's hash is the new one; --since picks an older one.
    repo.commit("api changed");
    assert_eq!(matrix(&repo, &[]), serde_json::json!({ "include": [] }));
    assert_eq!(changed_hashes(&repo, &["--since", "HEAD~1"]), now);

    // Touching the other context flips the other target only.
    repo.write("web/index.html", "<h1>web, changed</h1>\n");
    let web = changed_hashes(&repo, &[]);
    assert_eq!(web.keys().collect::<Vec<_>>(), ["web"]);
    // The repository's own index and work tree are left as they were.
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(repo.path())
        .output()
        .expect("git status");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        " M web/index.html\n"
    );
}

/// Target -> input hash of every target (`--since` the commit before the spec existed),
/// under `env`.
fn all_hashes(repo: &Repo, extra: &[&str], env: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut args = vec!["plan", "--changed", "--json", "--since", "HEAD~1"];
    args.extend_from_slice(extra);
    let out = repo.run_env(&args, env).success();
    let m: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    m["include"]
        .as_array()
        .unwrap_or_else(|| panic!("a GitHub Actions matrix: {m}"))
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().into(),
                e["input-hash"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// Issue 10: an image reused under its input hash never carries a version or commit that
/// contradicts its new tags, because both are baked in (as build arguments and labels) and
/// both are part of the hash; files the `.dockerignore` excludes are not.
#[test]
fn a_new_version_or_commit_never_maps_to_the_previous_input_hash() {
    let repo = committed();
    let base = all_hashes(&repo, &[], &[]);
    assert_eq!(base.keys().collect::<Vec<_>>(), ["api", "web"]);
    // The version is hashed by value: the spec's own version spelt out changes nothing.
    assert_eq!(all_hashes(&repo, &[], &[("VERSION", "v1.0.0")]), base);
    for (what, extra, env) in [
        ("VERSION=1.1.0", &[][..], &[("VERSION", "1.1.0")][..]),
        (
            "--set-version 1.1.0",
            &["--set-version", "1.1.0"][..],
            &[][..],
        ),
        ("REVISION=0a1b2c3", &[][..], &[("REVISION", "0a1b2c3")][..]),
    ] {
        let now = all_hashes(&repo, extra, env);
        for target in ["api", "web"] {
            assert_ne!(now[target], base[target], "{what}: {target} kept its hash");
        }
        // And `--changed` (against HEAD, built without run-time variables) lists both.
        let mut args = vec!["plan", "--changed", "--json"];
        args.extend_from_slice(extra);
        let out = repo.run_env(&args, env).success();
        let m: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            m["include"].as_array().map(Vec::len),
            Some(2),
            "{what}: {m}"
        );
    }
    // A version bump in the spec.
    let spec = repo.read_text("specc.kdl");
    repo.write(
        "specc.kdl",
        spec.replace("version=\"1.0.0\"", "version=\"1.0.1\""),
    );
    let bumped = all_hashes(&repo, &[], &[]);
    assert!(bumped.iter().all(|(t, h)| base[t] != *h), "{bumped:?}");
    repo.write("specc.kdl", &spec);
    // Files the context's `.dockerignore` excludes (a default and the spec's `*.log`).
    repo.write("api/debug.log", "more log\n");
    repo.write("api/node_modules/x/index.js", "dependency\n");
    repo.write("api/.env", "TOKEN=local\n");
    assert_eq!(all_hashes(&repo, &[], &[]), base);
    repo.write("api/main.py", "print('changed')\n");
    assert_ne!(all_hashes(&repo, &[], &[])["api"], base["api"]);
}

/// `specc plan --json ARGS` of `repo`, parsed.
fn plan_json(repo: &Repo, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "--json"];
    args.extend_from_slice(extra);
    let out = repo.run(&args).success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// `plan` (JSON and text) with each target's input hash and hash tag added where
/// `--hashes` puts them.
fn with_hashes(
    json: &serde_json::Value,
    text: &str,
    hashes: &BTreeMap<String, String>,
) -> (serde_json::Value, String) {
    let tag = |h: &str| format!("specc-{}", &h[..32]);
    let mut json = json.clone();
    for t in json["targets"].as_array_mut().expect("targets") {
        let hash = &hashes[t["name"].as_str().expect("a name")];
        let t = t.as_object_mut().expect("a target object");
        t.insert("input_hash".into(), hash.as_str().into());
        t.insert("hash_tag".into(), tag(hash).into());
    }
    // In text, each target's block ends with its hash tag.
    let mut lines: Vec<String> = Vec::new();
    let mut current: Option<&str> = None;
    let close = |lines: &mut Vec<String>, current: Option<&str>| {
        if let Some(name) = current {
            lines.push(format!("  hash tag   {}", tag(&hashes[name])));
        }
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("target ") {
            lines
                .pop()
                .filter(String::is_empty)
                .expect("a blank line before a target");
            close(&mut lines, current);
            lines.push(String::new());
            current = Some(name);
        }
        lines.push(line.to_string());
    }
    close(&mut lines, current);
    (json, lines.join("\n") + "\n")
}

/// `plan --hashes` gives every target the input hash `plan --changed` compares (one
/// computation) and its hash tag, and changes nothing else in the plan.
#[test]
fn plan_hashes_adds_the_changed_input_hash_and_its_tag_to_each_target() {
    let repo = committed();
    let expect = |extra: &[&str]| {
        let text = repo.run(&[&["plan"], extra].concat()).success().stdout;
        with_hashes(
            &plan_json(&repo, extra),
            &text,
            &all_hashes(&repo, extra, &[]),
        )
    };
    let hashed = |extra: &[&str]| {
        let args = [&["--hashes"], extra].concat();
        let text = repo.run(&[&["plan"], &args[..]].concat()).success().stdout;
        (plan_json(&repo, &args), text)
    };
    let base = hashed(&[]);
    assert_eq!(base, expect(&[]));
    assert_eq!(
        hashed(&["--set-version", "2.0.0"]),
        expect(&["--set-version", "2.0.0"])
    );
    assert_ne!(hashed(&["--set-version", "2.0.0"]).0, base.0);

    // A file only `web`'s COPY reads changes `web`'s hash and tag, nothing else.
    repo.write("web/index.html", "<h1>web, changed</h1>\n");
    let web = hashed(&[]);
    assert_eq!(web, expect(&[]));
    let hash_of = |plan: &serde_json::Value, target: &str| {
        let t = plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == target);
        t.expect("the target")["input_hash"]
            .as_str()
            .expect("a hash")
            .to_string()
    };
    assert_eq!(hash_of(&web.0, "api"), hash_of(&base.0, "api"));
    assert_ne!(hash_of(&web.0, "web"), hash_of(&base.0, "web"));

    // Without --hashes the plan has neither key.
    let plain = plan_json(&repo, &[]).to_string();
    assert!(
        !plain.contains("input_hash") && !plain.contains("hash_tag"),
        "{plain}"
    );
}

// ----------------------------------------------------------------------------- check fast path

const TRACE: &[(&str, &str)] = &[("SPECC_TRACE", "1")];

#[test]
fn a_no_op_check_of_iopaint_does_not_render() {
    let spec = std::fs::read_to_string(repo_root().join("specs/iopaint.kdl")).unwrap();
    // The spec at specs/iopaint.kdl, the outputs and build context at the root.
    let repo = Repo::new()
        .file("specs/iopaint.kdl", &spec)
        .file("main.py", "print('iopaint')\n")
        .file("requirements.txt", "flask\n")
        .file("iopaint/__init__.py", "")
        .file("web_app/package.json", "{}\n")
        .file("web_app/package-lock.json", "{}\n");
    let check = ["check", "specs/iopaint.kdl", "--out", "."];
    repo.run_env(&["generate", "specs/iopaint.kdl", "--out", "."], TRACE)
        .success()
        .stderr_contains("specc-trace: render");

    repo.run_env(&check, TRACE)
        .success()
        .stdout_contains("outputs in sync")
        .stderr_contains("specc-trace: check: fast path")
        .stderr_lacks("specc-trace: render");

    // Each kind of change defeats the fast path, and check then renders (and fails).
    let renders = |what: &str| {
        let out = repo.run_env(&check, TRACE);
        assert_eq!(out.status.code(), Some(1), "after {what}: {out}");
        assert!(
            out.stderr.contains("specc-trace: render")
                && !out.stderr.contains("specc-trace: check: fast path"),
            "after {what}: {out}"
        );
    };
    // A build-context change is not a change of the outputs: still the fast path.
    repo.write("main.py", "print('changed')\n");
    repo.run_env(&check, TRACE)
        .success()
        .stderr_contains("specc-trace: check: fast path");

    let compose = repo.read("compose.yaml");
    repo.write("compose.yaml", [&compose[..], b"# edited\n"].concat());
    renders("a hand edit");
    repo.write("compose.yaml", &compose);

    repo.edit(
        "specs/iopaint.kdl",
        r#"port "8081:8080""#,
        r#"port "8082:8080""#,
    );
    renders("a spec change");
    repo.write("specs/iopaint.kdl", &spec);

    // Back in sync: the fast path again.
    repo.run_env(&check, TRACE)
        .success()
        .stderr_contains("specc-trace: check: fast path")
        .stderr_lacks("specc-trace: render");
}

// ----------------------------------------------------------------------------- acceptance (issue 8)

/// A file a COPY/ADD of the spec reaches: its path under the root and its build context.
struct Probe {
    path: String,
    context: String,
}

/// A local source of a `copy` or `add`, with the variants the instruction is limited to
/// (`None`: every variant).
type Source = (String, Option<Vec<String>>);

/// The local sources (no `from=`) each stage's `copy` and `add` name, read from the KDL
/// itself.
fn stage_sources(spec: &str) -> BTreeMap<String, Vec<Source>> {
    let doc = kdl::KdlDocument::parse_v2(spec).expect("a bundled spec is KDL v2");
    let mut stages = BTreeMap::new();
    for stage in doc.nodes().iter().filter(|n| n.name().value() == "stage") {
        let name = stage.entries()[0]
            .value()
            .as_string()
            .expect("a stage name");
        let mut sources = Vec::new();
        for ins in stage.children().map(|c| c.nodes()).unwrap_or_default() {
            let kind = ins.name().value();
            if !(kind == "copy" || kind == "add") || ins.get("from").is_some() {
                continue;
            }
            let variants = ins
                .get("variants")
                .and_then(|v| v.as_string())
                .map(|v| v.split_whitespace().map(str::to_string).collect());
            for e in ins.entries().iter().filter(|e| e.name().is_none()) {
                let source = e.value().as_string().expect("a source path");
                sources.push((source.to_string(), variants.clone()));
            }
        }
        stages.insert(name.to_string(), sources);
    }
    stages
}

/// True when the source `source` (relative to its context) reaches the file `file`.
fn reaches(source: &str, file: &str) -> bool {
    let source = source.trim_end_matches('/');
    source == "." || file == source || file.starts_with(&format!("{source}/"))
}

/// One probe file per local COPY/ADD source of the spec: a folder source gets a file
/// inside it, a file source is that file.
fn probes(spec: &str, plan: &serde_json::Value) -> Vec<Probe> {
    let stages = stage_sources(spec);
    let mut probes: Vec<Probe> = Vec::new();
    for t in plan["targets"].as_array().expect("targets") {
        let context = t["context"].as_str().expect("a context").to_string();
        for stage in t["stages"].as_array().expect("stages") {
            for (source, _) in &stages[stage.as_str().expect("a stage")] {
                let file = source.trim_end_matches('/');
                let last = file.rsplit('/').next().unwrap_or(file);
                let rel = if file == "." {
                    "specc-probe.txt".to_string()
                } else if source.ends_with('/') || !last.contains('.') {
                    format!("{file}/specc-probe.txt")
                } else {
                    file.to_string()
                };
                let path = if context == "." {
                    rel
                } else {
                    format!("{context}/{rel}")
                };
                if !probes.iter().any(|p| p.path == path) {
                    probes.push(Probe {
                        path,
                        context: context.clone(),
                    });
                }
            }
        }
    }
    probes
}

/// The targets of `plan` whose COPY/ADD reach the probe, read from the spec alone.
fn reaching(spec: &str, plan: &serde_json::Value, probe: &Probe) -> BTreeSet<String> {
    let stages = stage_sources(spec);
    let in_context = match probe.context.as_str() {
        "." => probe.path.clone(),
        c => probe.path[c.len() + 1..].to_string(),
    };
    let mut targets = BTreeSet::new();
    for t in plan["targets"].as_array().expect("targets") {
        let variant = t["variant"].as_str().expect("a variant");
        let hit = t["context"] == probe.context.as_str()
            && t["stages"].as_array().expect("stages").iter().any(|s| {
                stages[s.as_str().expect("a stage")]
                    .iter()
                    .any(|(src, only)| {
                        only.as_ref().is_none_or(|v| v.iter().any(|v| v == variant))
                            && reaches(src, &in_context)
                    })
            });
        if hit {
            targets.insert(t["name"].as_str().expect("a name").to_string());
        }
    }
    targets
}

/// Acceptance "No regenerate for source changes": in a repository generated from each
/// bundled spec, changing a build-context file leaves `specc check` passing and the
/// outputs untouched, while `specc plan --changed` lists exactly the targets it reaches.
#[test]
fn no_regenerate_for_source_changes() {
    for name in crate::support::generate::spec_names() {
        let spec = crate::support::generate::spec_text(&name);
        let repo = Repo::new().spec(&spec);
        let plan: serde_json::Value =
            serde_json::from_str(&repo.run(&["plan", "--json"]).success().stdout).unwrap();
        let probes = probes(&spec, &plan);
        assert!(!probes.is_empty(), "{name}: no COPY source to change");
        for p in &probes {
            repo.write(&p.path, "v1\n");
        }
        repo.run(&["generate"]).success();
        repo.commit("generated");
        let outputs = repo.files();
        for p in &probes {
            let expected = reaching(&spec, &plan, p);
            assert!(!expected.is_empty(), "{name}: nothing copies {}", p.path);
            repo.write(&p.path, "v2\n");
            repo.run(&["check"]).success();
            let m = matrix(&repo, &[]);
            let listed: BTreeSet<String> = m["include"]
                .as_array()
                .unwrap_or_else(|| panic!("a GitHub Actions matrix: {m}"))
                .iter()
                .map(|e| e["target"].as_str().expect("a target").to_string())
                .collect();
            assert_eq!(listed, expected, "{name}: changing {}", p.path);
            repo.write(&p.path, "v1\n");
        }
        let mut now = repo.files();
        now.retain(|k, _| !k.starts_with(".git/"));
        let mut before = outputs;
        before.retain(|k, _| !k.starts_with(".git/"));
        assert_eq!(now, before, "{name}: files changed");
    }
}

/// One way of running `generate` and `plan --changed`: the folder it starts in and its
/// arguments before the command's own.
type Invocation<'a> = (&'a str, &'a [&'a str], &'a [&'a str]);

/// Acceptance "Invocation-independent output": generating one repository from its root,
/// from a subfolder (`-C`, relative paths, discovery), or with `--out` spelt differently
/// writes nothing the second time, and `plan --changed` reports nothing.
#[test]
fn output_does_not_depend_on_the_invocation() {
    // The spec beside its outputs, found or named in many ways.
    let repo = demo().file("docs/x.md", "x\n");
    repo.run(&["generate"]).success();
    repo.commit("generated");
    let before = repo.files();
    let root = repo.path().to_str().expect("a UTF-8 path").to_string();
    let runs: &[Invocation] = &[
        (".", &[], &[]),
        ("docs", &[], &[]),
        ("docs", &[], &["../specc.kdl"]),
        ("docs", &["-C", ".."], &[]),
        ("/", &["-C", &root], &["specc.kdl"]),
        (".", &[], &["./specc.kdl", "--out", "."]),
        (".", &[], &["specc.kdl", "--out", "./"]),
        (".", &[], &["specc.kdl", "--out", &root]),
        (".", &[], &["specc.kdl", "--out", "docs/.."]),
        ("docs", &[], &["../specc.kdl", "--out", ".."]),
    ];
    for (dir, global, args) in runs {
        let cwd = if *dir == "/" {
            std::path::PathBuf::from("/")
        } else {
            repo.join(dir)
        };
        let run = |command: &[&str]| {
            let all = [*global, command, *args].concat();
            crate::support::repo::run_in(&cwd, crate::support::repo::specc_bin(), &all, &[])
        };
        let out = run(&["generate"]).success();
        assert!(out.stdout.contains(" 0 written, "), "{out}");
        assert_eq!(repo.files(), before, "{dir} {global:?} {args:?}");
        run(&["check"]).success();
    }
    for (dir, global, args) in runs {
        let cwd = if *dir == "/" {
            std::path::PathBuf::from("/")
        } else {
            repo.join(dir)
        };
        let all = [*global, &["plan", "--changed"], *args].concat();
        let out = crate::support::repo::run_in(&cwd, crate::support::repo::specc_bin(), &all, &[]);
        assert_eq!(out.stdout, "no target changed since HEAD\n", "{out}");
    }
}

/// The same with the spec elsewhere than its outputs (`--out`): from the root, a
/// subfolder, `-C` and an absolute `--out`, every file and the lock name the spec the
/// same way, relative to the outputs.
#[test]
fn output_elsewhere_does_not_depend_on_the_invocation() {
    let repo = Repo::new()
        .file("specs/demo.kdl", SPEC)
        .file("out/api/main.py", "print('api')\n")
        .file("out/web/index.html", "<h1>web</h1>\n");
    repo.run(&["generate", "specs/demo.kdl", "--out", "out"])
        .success();
    assert!(
        repo.read_text("out/docker-bake.hcl").starts_with(
            "# Generated by specc from ../specs/demo.kdl. Do not edit by hand:\n# change the spec, then run `specc generate ../specs/demo.kdl --out .`.\n"
        )
    );
    repo.commit("generated");
    let before = repo.files();
    let out_abs = repo.join("out").to_str().expect("a UTF-8 path").to_string();
    let runs: &[Invocation] = &[
        ("specs", &[], &["demo.kdl", "--out", "../out"]),
        ("out", &[], &["../specs/demo.kdl", "--out", "."]),
        ("out", &[], &["../specs/demo.kdl", "--out", "./"]),
        ("/", &["-C", &out_abs], &["../specs/demo.kdl", "--out", "."]),
        (".", &[], &["specs/../specs/demo.kdl", "--out", &out_abs]),
    ];
    for (dir, global, args) in runs {
        let cwd = if *dir == "/" {
            std::path::PathBuf::from("/")
        } else {
            repo.join(dir)
        };
        let run = |command: &[&str]| {
            let all = [*global, command, *args].concat();
            crate::support::repo::run_in(&cwd, crate::support::repo::specc_bin(), &all, &[])
        };
        let out = run(&["generate"]).success();
        assert!(out.stdout.contains(" 0 written, "), "{out}");
        assert_eq!(repo.files(), before, "{dir} {global:?} {args:?}");
        run(&["check"]).success();
    }
    for (dir, global, args) in runs {
        let cwd = if *dir == "/" {
            std::path::PathBuf::from("/")
        } else {
            repo.join(dir)
        };
        let all = [*global, &["plan", "--changed"], *args].concat();
        let out = crate::support::repo::run_in(&cwd, crate::support::repo::specc_bin(), &all, &[]);
        assert_eq!(out.stdout, "no target changed since HEAD\n", "{out}");
    }
}
