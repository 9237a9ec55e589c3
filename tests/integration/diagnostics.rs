//! Diagnostics fixtures: every bad spec in `tests/diagnostics/` is run through the real
//! binary, and its human output (`--color never`, fixed width) and JSON output are compared
//! byte for byte with `<name>.stderr` and `<name>.json` next to it.
//!
//! `SPECC_BLESS=1 cargo nextest run --test diagnostics` (or `cargo test`) rewrites the
//! expected files instead; review the diff before committing it.
//!
//! A fixture runs `specc check <name>.kdl` unless its first line is a directive such as
//! `// args: generate --out {tmp}` (`{tmp}` becomes a fresh temporary folder).
//!
//! Every diagnostic code declared in `src/` must be triggered: by a fixture, or, for the
//! few codes about the command line or generated files on disk rather than the spec, by a
//! scenario in [`OUTSIDE_THE_SPEC`]; the only exemption is [`UNTRIGGERABLE`].

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Every fixture and the exit code it must give: 1 for problems in the spec, 0 for
/// warnings only, 2 for a spec that cannot be read. One `#[test]` each.
macro_rules! fixtures {
    ($($test:ident: $name:literal => $exit:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_fixture($name, $exit);
            }
        )*
        const FIXTURES: &[(&str, i32)] = &[$(($name, $exit)),*];
    };
}

fixtures! {
    syntax_unclosed_string: "01-syntax-unclosed-string" => 1,
    syntax_v1_boolean: "02-syntax-v1-boolean" => 1,
    syntax_unclosed_block: "03-syntax-unclosed-block" => 1,
    missing_project: "04-missing-project" => 1,
    unknown_node: "05-unknown-node" => 1,
    unknown_property: "06-unknown-property" => 1,
    duplicate_property: "07-duplicate-property" => 1,
    unexpected_argument: "08-unexpected-argument" => 1,
    unexpected_children: "09-unexpected-children" => 1,
    wrong_type: "10-wrong-type" => 1,
    missing_value: "11-missing-value" => 1,
    invalid_choice: "12-invalid-choice" => 1,
    duplicate_name: "13-duplicate-name" => 1,
    invalid_name: "14-invalid-name" => 1,
    multiple_defaults: "15-multiple-defaults" => 1,
    unknown_stage: "16-unknown-stage" => 1,
    unknown_variant: "17-unknown-variant" => 1,
    unknown_registry: "18-unknown-registry" => 1,
    unknown_image: "19-unknown-image" => 1,
    unknown_service_chart: "20-unknown-service-chart" => 1,
    copy_from_unknown_stage: "21-copy-from-unknown-stage" => 1,
    undefined_arg: "22-undefined-arg" => 1,
    stage_cycle: "23-stage-cycle" => 1,
    service_cycle: "24-service-cycle" => 1,
    invalid_platform: "25-invalid-platform" => 1,
    invalid_tag_template: "26-invalid-tag-template" => 1,
    tag_template_event: "27-tag-template-event" => 1,
    invalid_tag_charset: "28-invalid-tag-charset" => 1,
    invalid_tag_length: "29-invalid-tag-length" => 1,
    tag_collision: "30-tag-collision" => 1,
    invalid_version: "31-invalid-version" => 1,
    invalid_image_reference: "32-invalid-image-reference" => 1,
    invalid_repository: "33-invalid-repository" => 1,
    invalid_host: "34-invalid-host" => 1,
    login_github_token: "35-login-github-token" => 1,
    login_aws_region: "36-login-aws-region" => 1,
    login_mismatch: "37-login-mismatch" => 1,
    invalid_port: "38-invalid-port" => 1,
    invalid_volume: "39-invalid-volume" => 1,
    invalid_variable_name: "40-invalid-variable-name" => 1,
    credential_literal: "41-credential-literal" => 1,
    invalid_secret_name: "42-invalid-secret-name" => 1,
    invalid_duration: "43-invalid-duration" => 1,
    invalid_path: "44-invalid-path" => 1,
    value_formats: "45-value-formats" => 1,
    variant_not_built: "46-variant-not-built" => 1,
    gpu_platform_warning: "47-gpu-platform" => 0,
    unused_stage_warning: "48-unused-stage" => 0,
    not_utf8: "49-not-utf8" => 2,
    missing_file: "50-missing-file" => 2,
    unrepresentable: "51-unrepresentable" => 1,
    check_implies_generate: "52-check-implies-generate" => 1,
    output_clash: "53-output-clash" => 1,
    shared_reference: "54-shared-reference" => 1,
    tool_values: "55-tool-values" => 1,
    misplaced_values: "56-misplaced-values" => 1,
    duplicate_login: "57-duplicate-login" => 1,
    source_outside_context: "58-source-outside-context" => 1,
    copies_git: "59-copies-git" => 1,
    line_too_long: "60-line-too-long" => 1,
    runner_label: "70-runner-label" => 1,
    ref_pattern: "71-ref-pattern" => 1,
    cron_grammar: "72-cron-grammar" => 1,
    mount_value: "73-mount-value" => 1,
    node_selector: "74-node-selector" => 1,
    invalid_quantity: "75-invalid-quantity" => 1,
    readme_path: "76-readme-path" => 1,
    output_in_git: "77-output-in-git" => 1,
    project_label_spans: "78-project-label-spans" => 1,
    annotations: "100-annotations" => 1,
    undeclared_variable: "101-undeclared-variable" => 1,
    invalid_expansion: "102-invalid-expansion" => 1,
    from_interpolation: "103-from-interpolation" => 1,
    heredoc_lines: "104-heredoc-lines" => 1,
    managed_label: "105-managed-label" => 1,
    dockerfile_constructs: "106-dockerfile-constructs" => 1,
    image_ignore_pattern: "160-image-ignore-pattern" => 1,
    source_ignored: "161-source-ignored" => 1,
    non_ascii_columns: "190-non-ascii-columns" => 1,
    depends_on_profile: "120-depends-on-profile" => 1,
    chart_tag: "121-chart-tag" => 1,
    compose_interpolation: "122-compose-interpolation" => 1,
    service_values: "123-service-values" => 1,
    gpu_device_ids: "124-gpu-device-ids" => 1,
    networks_logging: "125-networks-logging" => 1,
    gpu_count_interpolation: "126-gpu-count-interpolation" => 1,
    chart_key_missing: "200-chart-key-missing" => 1,
    chart_key_type: "201-chart-key-type" => 1,
    chart_missing: "202-chart-missing" => 1,
    chart_file_invalid: "203-chart-file-invalid" => 1,
    chart_mode: "204-chart-mode" => 1,
    overlay_on_chart_file: "205-overlay-on-chart-file" => 1,
    chart_name: "206-chart-name" => 1,
    runs_on: "243-runs-on" => 1,
    workflow_layout: "244-workflow-layout" => 1,
    more_than_100_problems: "61-more-than-100-problems" => 1,
    multiple_errors: "multiple-errors" => 1,
    undeclared_secret: "140-undeclared-secret" => 1,
    unused_secret: "141-unused-secret" => 0,
    secret_source: "142-secret-source" => 1,
    secret_variable: "143-secret-variable" => 1,
    credential_stage_env: "144-credential-stage-env" => 1,
    credential_compose_env: "145-credential-compose-env" => 1,
    credential_secret_id: "146-credential-secret-id" => 1,
    ghcr_login_hint: "147-ghcr-login-hint" => 1,
    managed_ci_arg: "148-managed-ci-arg" => 1,
    unknown_ci_value: "149-unknown-ci-value" => 1,
    credential_labels_health_values: "150-credential-labels-health-values" => 1,
    tag_events: "235-tag-events" => 1,
    tag_placeholder_events: "236-tag-placeholder-events" => 1,
    tag_date_format: "237-tag-date-format" => 1,
    tag_registry_filter: "238-tag-registry-filter" => 1,
    tag_branch_filter: "239-tag-branch-filter" => 1,
    single_job_pr_rule: "240-single-job-pr-rule" => 1,
    single_job_branch_filter: "241-single-job-branch-filter" => 1,
}

/// Fixtures that are about a spec file that does not exist: expected output, no `.kdl`.
const ABSENT: &[&str] = &["50-missing-file"];

/// Codes nothing can trigger, and why.
const UNTRIGGERABLE: &[(&str, &str)] = &[(
    "specc::render::invalid_output",
    "a generated file that does not parse back is a bug in specc, not in a spec",
)];

/// A run of specc (JSON messages) in a fresh folder it sets up first.
type Scenario = fn(&Path) -> Run;

/// Codes about the command line or about generated files on disk, which no spec alone
/// triggers through `specc check`: each with the scenario that triggers it and its exit code.
const OUTSIDE_THE_SPEC: &[(&str, Scenario, i32)] = &[
    ("specc::usage::version", bad_set_version, 2),
    ("specc::io::write", folder_in_the_way, 2),
    ("specc::io::lock", broken_lock, 2),
    ("specc::io::since", changed_outside_git, 2),
    ("specc::io::path", output_folder_is_a_link, 2),
    ("specc::io::lock_entry", lock_lists_a_tracked_file, 2),
    ("specc::io::busy", another_run_holds_the_folder, 2),
    ("specc::drift::edited", output_edited_by_hand, 1),
    (
        "specc::drift::not_generated",
        output_path_holds_a_users_file,
        1,
    ),
    (
        "specc::drift::compose_shadowed",
        compose_beside_a_users_compose,
        0,
    ),
    ("specc::drift::stale", spec_changed_since_generate, 1),
    ("specc::usage::arguments", unknown_option, 2),
    ("specc::usage::date", bad_date_variable, 2),
];

const SMALL_SPEC: &str = "project demo version=\"1.0.0\"\n\
stage runtime from=\"alpine:3.20\" {\n    expose 8080\n}\n\
image demo stage=runtime\n";

fn json_args(args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string())
        .chain(["--message-format".into(), "json".into()])
        .collect()
}

/// `SMALL_SPEC` as `specc.kdl` in `dir`, generated once.
fn generated(dir: &Path) {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    let r = run_in(&["generate".into()], dir);
    assert_eq!(r.code, 0, "specc generate: {}", r.stderr);
}

fn bad_set_version(dir: &Path) -> Run {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    run_in(&json_args(&["plan", "--set-version", "1.0/beta"]), dir)
}

/// `SPECC_DATE` that is not `YYYY-MM-DDTHH:MM:SSZ`, the one form bake reads.
fn bad_date_variable(dir: &Path) -> Run {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    run_in_env(&json_args(&["plan"]), dir, &[("SPECC_DATE", "2024-01-02")])
}

fn unknown_option(dir: &Path) -> Run {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    run_in(&json_args(&["plan", "--jsno"]), dir)
}

fn folder_in_the_way(dir: &Path) -> Run {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    std::fs::create_dir(dir.join("docker-bake.hcl")).expect("create a folder");
    run_in(&json_args(&["generate"]), dir)
}

fn broken_lock(dir: &Path) -> Run {
    generated(dir);
    std::fs::write(dir.join("specc.lock"), "not a lock\n").expect("break the lock");
    run_in(&json_args(&["check"]), dir)
}

#[cfg(unix)]
fn output_folder_is_a_link(dir: &Path) -> Run {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    std::fs::create_dir(dir.join("elsewhere")).expect("create a folder");
    std::os::unix::fs::symlink("elsewhere", dir.join("docker")).expect("a link");
    run_in(&json_args(&["generate"]), dir)
}

fn lock_lists_a_tracked_file(dir: &Path) -> Run {
    generated(dir);
    std::fs::write(dir.join("README.md"), "# demo\n").expect("write a readme");
    let lock = std::fs::read_to_string(dir.join("specc.lock")).expect("the lock");
    let hash = blake3::hash(b"# demo\n").to_hex().to_string();
    let lock = lock.replace(
        "[outputs]\n",
        &format!("[outputs]\n\"README.md\" = \"{hash}\"\n"),
    );
    std::fs::write(dir.join("specc.lock"), lock).expect("tamper with the lock");
    run_in(&json_args(&["generate"]), dir)
}

fn another_run_holds_the_folder(dir: &Path) -> Run {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    let held = std::fs::File::open(dir).expect("open the folder");
    held.lock().expect("hold the folder's lock");
    let run = run_in_env(&json_args(&["generate"]), dir, &[("SPECC_LOCK_WAIT", "0")]);
    drop(held);
    run
}

fn changed_outside_git(dir: &Path) -> Run {
    generated(dir);
    run_in(&json_args(&["plan", "--changed"]), dir)
}

fn output_edited_by_hand(dir: &Path) -> Run {
    generated(dir);
    let dockerfile = dir.join("docker/demo.Dockerfile");
    let mut text = std::fs::read_to_string(&dockerfile).expect("a generated Dockerfile");
    text.push_str("RUN echo edited\n");
    std::fs::write(&dockerfile, text).expect("edit the Dockerfile");
    run_in(&json_args(&["check"]), dir)
}

fn output_path_holds_a_users_file(dir: &Path) -> Run {
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC).expect("write the spec");
    std::fs::write(dir.join("docker-bake.hcl"), "# mine\n").expect("write a bake file");
    run_in(&json_args(&["generate"]), dir)
}

fn compose_beside_a_users_compose(dir: &Path) -> Run {
    let spec = format!("{SMALL_SPEC}service demo image=demo\n");
    std::fs::write(dir.join("specc.kdl"), spec).expect("write the spec");
    std::fs::write(dir.join("docker-compose.yml"), "services: {}\n").expect("write compose");
    run_in(&json_args(&["generate"]), dir)
}

fn spec_changed_since_generate(dir: &Path) -> Run {
    generated(dir);
    std::fs::write(dir.join("specc.kdl"), SMALL_SPEC.replace("8080", "9090"))
        .expect("change the spec");
    run_in(&json_args(&["check"]), dir)
}

/// Codes without a place in the spec: a bug report, and the count of problems not shown.
const NO_SPAN: &[&str] = &["specc::render::invalid_output", "specc::spec::more"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics")
}

fn bless() -> bool {
    std::env::var_os("SPECC_BLESS").is_some_and(|v| v != "0" && !v.is_empty())
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The arguments a fixture runs with: `check <file>`, or its `// args:` directive.
fn fixture_args(name: &str, tmp: &Path) -> Vec<String> {
    let file = format!("{name}.kdl");
    let first_line = std::fs::read(dir().join(&file))
        .ok()
        .and_then(|bytes| {
            let line = bytes.split(|b| *b == b'\n').next()?.to_vec();
            String::from_utf8(line).ok()
        })
        .unwrap_or_default();
    match first_line.strip_prefix("// args:") {
        Some(args) => args
            .split_whitespace()
            .map(|a| a.replace("{tmp}", &tmp.display().to_string()))
            .chain([file])
            .collect(),
        // `--spec-only`: the fixtures are about the spec; outputs are never generated here.
        None => vec!["check".into(), "--spec-only".into(), file],
    }
}

fn run(args: &[String]) -> Run {
    run_in(args, &dir())
}

fn run_in(args: &[String], cwd: &Path) -> Run {
    run_in_env(args, cwd, &[])
}

/// [`run_in`] with the variables `env` set.
fn run_in_env(args: &[String], cwd: &Path, env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied())
        .output()
        .expect("the specc binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs one fixture in both formats, compares with (or blesses) the expected files and
/// checks what every diagnostic must have. Panics with every failure at once.
fn check_fixture(name: &str, exit: i32) {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let args = fixture_args(name, tmp.path());
    let mut human_args = args.clone();
    human_args.extend(["--color".into(), "never".into()]);
    let mut json_args = args.clone();
    json_args.extend(["--message-format".into(), "json".into()]);
    let human = run(&human_args);
    let json = run(&json_args);

    let mut failures = Vec::new();
    compare(name, "stderr", &human.stderr, &mut failures);
    compare(name, "json", &json.stderr, &mut failures);
    for (format, r) in [("human", &human), ("json", &json)] {
        if r.code != exit {
            failures.push(format!(
                "{format} run exited with {} instead of {exit}",
                r.code
            ));
        }
        if exit != 0 && !r.stdout.is_empty() {
            failures.push(format!(
                "{format} run printed to stdout on failure:\n{}",
                r.stdout
            ));
        }
    }
    let file = format!("{name}.kdl");
    if !human.stderr.contains(&file) {
        failures.push(format!("the human output does not name `{file}`"));
    }
    if human.stderr.contains('\u{1b}') {
        failures.push("the human output has colour codes despite `--color never`".into());
    }
    let spec_len = std::fs::read(dir().join(&file)).map_or(0, |b| b.len());
    check_json(&file, spec_len, &json.stderr, &mut failures);

    if !failures.is_empty() {
        panic!(
            "fixture `{name}` ({}):\n\n{}\n\nIf the new output is right, rerun with SPECC_BLESS=1.",
            args.join(" "),
            failures.join("\n\n")
        );
    }
}

/// Compares `actual` with `<name>.<ext>`, or writes it there when blessing.
fn compare(name: &str, ext: &str, actual: &str, failures: &mut Vec<String>) {
    let path = dir().join(format!("{name}.{ext}"));
    if bless() {
        std::fs::write(&path, actual).expect("the expected file is writable");
        return;
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(e) => e,
        Err(e) => {
            failures.push(format!("cannot read {}: {e}", path.display()));
            return;
        }
    };
    if expected == actual {
        return;
    }
    // One JSON object per line: diff them pretty-printed so the change is readable.
    let (e, a) = if ext == "json" {
        (pretty_lines(&expected), pretty_lines(actual))
    } else {
        (expected.clone(), actual.to_string())
    };
    failures.push(format!(
        "{name}.{ext} differs (- expected, + actual):\n{}",
        line_diff(&e, &a)
    ));
}

fn pretty_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => out.push_str(&serde_json::to_string_pretty(&v).unwrap_or_default()),
            Err(_) => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A minimal line diff (longest common subsequence), enough for small fixture outputs.
fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // Each line with its mark: ' ' kept, '-' expected only, '+' actual only.
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    // Changed lines with three lines of context; `...` marks what is left out.
    const CONTEXT: usize = 3;
    let near_change = |k: usize| {
        let lo = k.saturating_sub(CONTEXT);
        let hi = (k + CONTEXT + 1).min(ops.len());
        ops[lo..hi].iter().any(|(mark, _)| *mark != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (mark, line)) in ops.iter().enumerate() {
        if near_change(k) {
            let _ = writeln!(out, "{mark} {line}");
            skipped = false;
        } else if !skipped {
            out.push_str("  ...\n");
            skipped = true;
        }
    }
    if expected.ends_with('\n') != actual.ends_with('\n') {
        out.push_str("(the files differ in their final line break)\n");
    }
    out
}

/// The JSON output: one object per line, each diagnostic with a code and a help; every
/// problem in the spec names the file and points inside it.
fn check_json(file: &str, spec_len: usize, text: &str, failures: &mut Vec<String>) {
    let mut seen = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let top: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("not one JSON object per line ({e}): {line}"));
                continue;
            }
        };
        let related = top["related"].as_array().cloned().unwrap_or_default();
        if related.is_empty() {
            // A problem outside the spec (I/O): it names the file in its message.
            seen += 1;
            let code = top["code"].as_str().unwrap_or_default();
            if !code.starts_with("specc::") {
                failures.push(format!("diagnostic without a specc code: {line}"));
            }
            if top["help"].as_str().is_none_or(str::is_empty) {
                failures.push(format!("`{code}` has no help"));
            }
            if !top["message"].as_str().unwrap_or_default().contains(file) {
                failures.push(format!("`{code}` does not name `{file}`"));
            }
            continue;
        }
        for d in &related {
            seen += 1;
            let code = d["code"].as_str().unwrap_or_default();
            let message = d["message"].as_str().unwrap_or_default();
            let what = format!("`{code}` ({message})");
            if !code.starts_with("specc::") {
                failures.push(format!("diagnostic without a specc code: {d}"));
            }
            if d["help"].as_str().is_none_or(|h| h.trim().is_empty()) {
                failures.push(format!("{what} has no help"));
            }
            if NO_SPAN.contains(&code) {
                continue;
            }
            if d["filename"].as_str() != Some(file) {
                failures.push(format!("{what} does not name `{file}`"));
            }
            let labels = d["labels"].as_array().cloned().unwrap_or_default();
            if labels.is_empty() {
                failures.push(format!("{what} has no label"));
            }
            for l in &labels {
                let offset = l["span"]["offset"].as_u64().unwrap_or(u64::MAX) as usize;
                let length = l["span"]["length"].as_u64().unwrap_or(u64::MAX) as usize;
                if offset.checked_add(length).is_none_or(|end| end > spec_len) {
                    failures.push(format!(
                        "{what} has a label outside the file: {offset}+{length} > {spec_len}"
                    ));
                }
                if l["label"].as_str().is_none_or(str::is_empty) {
                    failures.push(format!("{what} has a label without text"));
                }
            }
        }
    }
    if seen == 0 {
        failures.push("the JSON output holds no diagnostic".into());
    }
}

/// The `specc::...` codes in the expected JSON of every fixture.
fn codes_in(value: &Value, codes: &mut BTreeSet<String>) {
    if let Some(code) = value["code"].as_str() {
        codes.insert(code.to_string());
    }
    for d in value["related"].as_array().into_iter().flatten() {
        codes_in(d, codes);
    }
}

fn expected_codes(name: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(dir().join(format!("{name}.json"))).unwrap_or_default();
    let mut codes = BTreeSet::new();
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            codes_in(&v, &mut codes);
        }
    }
    codes
}

#[test]
fn every_fixture_is_listed_and_has_expected_output() {
    let mut on_disk = BTreeSet::new();
    let mut expected = BTreeSet::new();
    for entry in std::fs::read_dir(dir()).expect("tests/diagnostics exists") {
        let path = entry.expect("a directory entry").path();
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match path.extension().and_then(|e| e.to_str()) {
            Some("kdl") => {
                on_disk.insert(stem);
            }
            Some("stderr" | "json") => {
                expected.insert(stem);
            }
            _ => panic!("unexpected file in tests/diagnostics: {}", path.display()),
        }
    }
    let listed: BTreeSet<String> = FIXTURES
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| !ABSENT.contains(&n.as_str()))
        .collect();
    assert_eq!(
        on_disk, listed,
        "every .kdl in tests/diagnostics needs a line in `fixtures!`, and the other way round"
    );
    let all: BTreeSet<String> = FIXTURES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        expected, all,
        "every fixture needs a .stderr and a .json (bless with SPECC_BLESS=1), and no other"
    );
    assert!(FIXTURES.len() >= 30, "at least 30 fixtures");
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Every `code(specc::...)` of a diagnostic declared anywhere in `src/`.
fn declared_codes() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut declared = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        declared.extend(source.split("code(").skip(1).filter_map(|rest| {
            let code = rest[..rest.find(')')?].trim();
            code.starts_with("specc::").then(|| code.to_string())
        }));
    }
    declared
}

/// The codes in a run's JSON messages.
fn codes_of_run(r: &Run) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for line in r.stderr.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            codes_in(&v, &mut codes);
        }
    }
    codes
}

#[test]
fn every_error_code_is_triggered_by_a_fixture() {
    let declared = declared_codes();
    assert!(
        declared.len() > 30
            && declared.contains("specc::syntax")
            && declared.contains("specc::drift::stale"),
        "parsed the codes of src/: {declared:?}"
    );
    let mut seen = BTreeSet::new();
    for (name, _) in FIXTURES {
        seen.extend(expected_codes(name));
    }
    for (code, scenario, _) in OUTSIDE_THE_SPEC {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let codes = codes_of_run(&scenario(tmp.path()));
        assert!(
            codes.contains(*code),
            "the scenario for {code} reports {codes:?} instead"
        );
        seen.extend(codes);
    }
    let missing: Vec<&String> = declared
        .iter()
        .filter(|c| !seen.contains(*c) && !UNTRIGGERABLE.iter().any(|(u, _)| u == c))
        .collect();
    assert!(
        missing.is_empty(),
        "nothing triggers {missing:?}: add a fixture to tests/diagnostics (and bless it), or, \
         for a code about the command line or generated files, a scenario to OUTSIDE_THE_SPEC"
    );
    for (code, why) in UNTRIGGERABLE {
        assert!(
            declared.contains(*code),
            "{code} is exempt ({why}) but no longer declared"
        );
        assert!(
            !seen.contains(*code),
            "{code} is exempt ({why}) but a fixture triggers it"
        );
    }
}

#[test]
fn one_spec_with_many_problems_reports_them_all() {
    let codes = expected_codes("multiple-errors");
    let problems = codes.iter().filter(|c| *c != "specc::spec").count();
    assert!(
        problems >= 8,
        "multiple-errors.kdl should report at least 8 kinds of problem, got {codes:?}"
    );
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let spec = "47-gpu-platform.kdl".to_string();
    let allowed = run(&[
        "check".into(),
        "--spec-only".into(),
        spec.clone(),
        "--color".into(),
        "never".into(),
    ]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(allowed.stderr.contains("specc::check::gpu_platform"));
    let denied = run(&[
        "--deny-warnings".into(),
        "check".into(),
        "--spec-only".into(),
        spec,
        "--color".into(),
        "never".into(),
    ]);
    assert_eq!(denied.code, 1, "{}", denied.stderr);
    assert!(denied.stderr.contains("specc::check::gpu_platform"));
    assert!(denied.stdout.is_empty(), "no `ok` line: {}", denied.stdout);
}

/// What a user sees for problems outside the spec: the right exit code, one JSON object per
/// line with a code and a help, and the same diagnostic in the human output.
#[test]
fn problems_outside_the_spec_are_reported() {
    for (code, scenario, exit) in OUTSIDE_THE_SPEC {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let json = scenario(tmp.path());
        assert_eq!(json.code, *exit, "{code}: {}", json.stderr);
        assert!(json.stdout.is_empty(), "{code}: stdout {}", json.stdout);
        for line in json.stderr.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{code}: not JSON ({e}): {line}"));
            if v["code"] == *code {
                assert!(
                    v["help"].as_str().is_some_and(|h| !h.is_empty()),
                    "{code} has no help: {line}"
                );
            }
        }
    }
    // The human form of one of them names the files and shows the diff.
    let tmp = tempfile::tempdir().expect("a temporary folder");
    generated(tmp.path());
    std::fs::write(
        tmp.path().join("specc.kdl"),
        SMALL_SPEC.replace("8080", "9090"),
    )
    .expect("change the spec");
    let human = run_in(
        &["check".into(), "--color".into(), "never".into()],
        tmp.path(),
    );
    assert_eq!(human.code, 1, "{}", human.stderr);
    for part in [
        "specc::drift::stale",
        "docker/demo.Dockerfile",
        "run `specc generate` and commit the result",
        "-EXPOSE 8080",
        "+EXPOSE 9090",
    ] {
        assert!(
            human.stderr.contains(part),
            "no `{part}` in:\n{}",
            human.stderr
        );
    }
}

#[test]
fn gpu_platform_warning_can_be_allowed() {
    let warned = std::fs::read_to_string(dir().join("47-gpu-platform.kdl")).expect("fixture 47");
    let allowed = warned.replace("gpu count=1", "gpu count=1 allow-any-platform=#true");
    assert_ne!(allowed, warned, "fixture 47 has a `gpu count=1` line");
    let tmp = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(tmp.path().join("specc.kdl"), allowed).expect("write the spec");
    let r = run_in(
        &[
            "--deny-warnings".into(),
            "check".into(),
            "--spec-only".into(),
            "--color".into(),
            "never".into(),
        ],
        tmp.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "no warning once allowed: {}", r.stderr);
}
