//! Reads each generated GitHub Actions workflow back (YAML) and checks the facts a user
//! relies on, per scenario (issue 4, acceptance point 4): dify logs in to GHCR and Docker
//! Hub and pushes three images for two platforms; new-api gets four tags from one build and
//! smoke-tests before pushing; sd-on-eks logs in to ECR and pushes its chart; no secret
//! value is inlined; least-privilege permissions; triggers from the spec; QEMU only for
//! foreign platforms; actions pinned by commit from the one table.
//!
//! Where a fact depends on a shell step (version computation, "which targets to build",
//! the smoke test, the chart push), the step's `run:` script is executed with bash the way
//! GitHub runs it (`bash --noprofile --norc -eo pipefail`), with fake `docker`, `curl`,
//! `aws`, `helm` and `sleep` on PATH that log their arguments. Tags are then computed by
//! evaluating the generated `docker-bake.hcl` with hcl-rs under the environment the
//! workflow exports, as `docker buildx bake` does (env overrides variable defaults).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::generate::{Generated, generate, generate_text, spec_names, spec_with};
use serde_yaml_ng::Value;
use specc::render::actions::{ACTIONS, RELEASE_ACTIONS};
use tempfile::TempDir;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// What the workflow tests read from a generated spec.
trait GeneratedExt {
    fn workflow(&self, rel: &str) -> Workflow;
    fn bake(&self) -> String;
}

impl GeneratedExt for Generated {
    fn workflow(&self, rel: &str) -> Workflow {
        let text = self.read(rel);
        let doc: Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{rel} is not YAML: {e}\n{text}"));
        Workflow { text, doc }
    }

    fn bake(&self) -> String {
        self.read("docker-bake.hcl")
    }
}

/// Every scenario with a workflow: spec name and the workflow it generates.
const WORKFLOWS: &[(&str, &str)] = &[
    ("comfyui-runpod", ".github/workflows/release.yml"),
    ("dify", ".github/workflows/sync-dify.yml"),
    ("new-api", ".github/workflows/docker-build.yml"),
    ("sd-on-eks", ".github/workflows/release.yml"),
];

/// A bundled spec generated with its workflow in the single-job layout (dify's images
/// have two platforms, which gives it the native layout by default).
fn generate_single(spec: &str) -> Generated {
    let text = spec_with(spec, "\nworkflow ", "\nworkflow layout=\"single\" ");
    assert!(text.contains("layout=\"single\""), "{spec}: no workflow");
    generate_text(&text)
}

struct Workflow {
    text: String,
    doc: Value,
}

impl Workflow {
    fn jobs(&self) -> Vec<&Value> {
        self.doc["jobs"]
            .as_mapping()
            .expect("jobs is a mapping")
            .values()
            .collect()
    }

    /// All steps of all jobs, in order.
    fn steps(&self) -> Vec<&Value> {
        self.jobs()
            .into_iter()
            .flat_map(|job| job["steps"].as_sequence().expect("steps").iter())
            .collect()
    }

    fn job_env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for job in self.jobs() {
            env.extend(string_map(&job["env"]));
        }
        env
    }

    /// Index and step of the first step `pred` accepts.
    fn find(&self, what: &str, pred: impl Fn(&Value) -> bool) -> (usize, &Value) {
        self.steps()
            .into_iter()
            .enumerate()
            .find(|(_, s)| pred(s))
            .unwrap_or_else(|| panic!("no step that {what}:\n{}", self.text))
    }

    fn position(&self, pred: impl Fn(&Value) -> bool) -> Option<usize> {
        self.steps().into_iter().position(pred)
    }

    /// Steps that push images: a build action with `push: true`, or a `docker push`.
    fn push_steps(&self) -> Vec<usize> {
        self.steps()
            .into_iter()
            .enumerate()
            .filter(|(_, s)| {
                (is_build_action(s) && s["with"]["push"].as_bool() == Some(true))
                    || run(s).is_some_and(|r| r.contains("docker push"))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The step whose script writes the version to `$GITHUB_ENV`.
    fn version_step(&self) -> Option<&Value> {
        self.steps()
            .into_iter()
            .find(|s| run(s).is_some_and(|r| r.contains("GITHUB_ENV") && r.contains("VERSION=")))
    }
}

fn uses(step: &Value) -> Option<&str> {
    step["uses"].as_str()
}

fn uses_action(step: &Value, action: &str) -> bool {
    uses(step).is_some_and(|u| u.split('@').next() == Some(action))
}

fn is_build_action(step: &Value) -> bool {
    uses_action(step, "docker/bake-action") || uses_action(step, "docker/build-push-action")
}

fn run(step: &Value) -> Option<&str> {
    step["run"].as_str()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(m) = v.as_mapping() {
        for (k, v) in m {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Null => String::new(),
                other => panic!("env value is not a scalar: {other:?}"),
            };
            out.insert(k.as_str().expect("string key").to_string(), value);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running steps

/// The `${{ ... }}` expression of `value`, trimmed, when the whole value is one.
fn expression(value: &str) -> Option<&str> {
    value
        .trim()
        .strip_prefix("${{")
        .and_then(|v| v.strip_suffix("}}"))
        .map(str::trim)
}

/// Evaluates `${{ expr }}` occurrences the way GitHub would for the contexts in `known`;
/// anything else (an absent input, a secret that is not set) is the empty string.
fn resolve(value: &str, known: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map(|e| start + e)
            .expect("unterminated ${{");
        let expr = rest[start + 3..end].trim();
        out.push_str(known.get(expr).copied().unwrap_or(""));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What the runner provides for one kind of event.
#[derive(Clone)]
struct Event {
    name: &'static str,
    ref_: String,
    ref_name: String,
    ref_type: &'static str,
    /// Values of `${{ ... }}` expressions (inputs, the release, secrets).
    expressions: BTreeMap<&'static str, String>,
}

impl Event {
    fn tag(tag: &str) -> Event {
        Event {
            name: "push",
            ref_: format!("refs/tags/{tag}"),
            ref_name: tag.into(),
            ref_type: "tag",
            expressions: BTreeMap::new(),
        }
    }

    fn branch(branch: &str) -> Event {
        Event {
            name: "push",
            ref_: format!("refs/heads/{branch}"),
            ref_name: branch.into(),
            ref_type: "branch",
            expressions: BTreeMap::new(),
        }
    }

    fn release(tag: &str) -> Event {
        let mut e = Event::tag(tag);
        e.name = "release";
        e.expressions
            .insert("github.event.release.tag_name", tag.into());
        e
    }

    fn dispatch(version: &str) -> Event {
        let mut e = Event::branch("main");
        e.name = "workflow_dispatch";
        e.expressions.insert("inputs.version", version.into());
        e
    }
}

/// A sandbox for running step scripts: fake tools on PATH that log their calls.
struct Sandbox {
    dir: TempDir,
}

const FAKE_DOCKER: &str = r#"#!/bin/sh
echo "docker $*" >> "$FAKE_LOG"
case "$1 $2" in
  "buildx bake")
    for last in "$@"; do :; done
    cat "$FAKE_DIR/bake-print/$last.json"
    ;;
  "buildx imagetools")
    case "$3" in
      inspect) exit "${FAKE_INSPECT_RC:-1}" ;;
    esac
    ;;
esac
exit 0
"#;

const FAKE_CURL: &str = r#"#!/bin/sh
echo "curl $*" >> "$FAKE_LOG"
exit "${FAKE_CURL_RC:-0}"
"#;

const FAKE_SLEEP: &str = r#"#!/bin/sh
echo "sleep $*" >> "$FAKE_LOG"
"#;

const FAKE_AWS: &str = r#"#!/bin/sh
echo "aws $*" >> "$FAKE_LOG"
case "$1 $2" in
  "ecr get-login-password") echo "fake-ecr-password" ;;
esac
exit 0
"#;

const FAKE_HELM: &str = r#"#!/bin/sh
echo "helm $*" >> "$FAKE_LOG"
case "$1" in
  registry)
    if [ "$2" = login ]; then
      password="$(cat)"
      echo "helm-password $password" >> "$FAKE_LOG"
    fi
    ;;
  package)
    dest=.
    chart="$2"
    version=""
    while [ $# -gt 0 ]; do
      if [ "$1" = --destination ]; then dest="$2"; fi
      if [ "$1" = --version ]; then version="$2"; fi
      shift
    done
    [ -n "$version" ] || version="$(sed -n 's/^version: *//p' "$chart/Chart.yaml")"
    mkdir -p "$dest"
    [ -f "$chart/Chart.yaml" ] || { echo "no chart at $chart" >&2; exit 1; }
    : > "$dest/$(sed -n 's/^name: *//p' "$chart/Chart.yaml")-$version.tgz"
    ;;
esac
exit 0
"#;

struct StepRun {
    ok: bool,
    stdout: String,
    stderr: String,
    /// `KEY=VALUE` lines the step appended to `$GITHUB_ENV`.
    env: BTreeMap<String, String>,
    /// `$GITHUB_OUTPUT`.
    outputs: BTreeMap<String, String>,
    /// One line per call of a fake tool.
    calls: Vec<String>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(dir.path().join("bake-print")).unwrap();
        for (name, body) in [
            ("docker", FAKE_DOCKER),
            ("curl", FAKE_CURL),
            ("sleep", FAKE_SLEEP),
            ("aws", FAKE_AWS),
            ("helm", FAKE_HELM),
        ] {
            let path = bin.join(name);
            fs::write(&path, body).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        Sandbox { dir }
    }

    /// What the fake `docker buildx bake --print TARGET` prints.
    fn set_bake_print(&self, target: &str, tags: &[String]) {
        let json = serde_json::json!({ "target": { target: { "tags": tags } } });
        fs::write(
            self.dir
                .path()
                .join("bake-print")
                .join(format!("{target}.json")),
            json.to_string(),
        )
        .unwrap();
    }

    /// Runs `step` as GitHub would for `event`, in `workdir`, with the job's env, the env
    /// earlier steps exported, and `extra` (fake-tool switches).
    fn run_step(
        &self,
        step: &Value,
        event: &Event,
        workdir: &Path,
        job_env: &BTreeMap<String, String>,
        exported: &BTreeMap<String, String>,
        extra: &[(&str, &str)],
    ) -> StepRun {
        let script = run(step).expect("a run step");
        assert!(
            !script.contains("${{"),
            "a `run:` script interpolates an expression (script injection risk):\n{script}"
        );
        let shell = step["shell"].as_str().unwrap_or("bash");
        assert_eq!(shell, "bash", "steps are expected to run in bash");
        let github_env = self.dir.path().join("github_env");
        let github_output = self.dir.path().join("github_output");
        fs::write(&github_env, "").unwrap();
        fs::write(&github_output, "").unwrap();
        let log = self.dir.path().join("calls.log");
        fs::write(&log, "").unwrap();
        let script_path = self.dir.path().join("step.sh");
        fs::write(&script_path, script).unwrap();

        let mut known: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &event.expressions {
            known.insert(k, v);
        }
        known.insert("github.actor", "octocat");
        known.insert("github.repository_owner", "Octo-Org");
        known.insert("github.event.repository.default_branch", "main");
        let mut cmd = Command::new("bash");
        cmd.arg("--noprofile")
            .arg("--norc")
            .arg("-eo")
            .arg("pipefail")
            .arg(&script_path)
            .current_dir(workdir)
            .env_clear();
        for (k, v) in job_env.iter().chain(exported) {
            cmd.env(k, resolve(v, &known));
        }
        for (k, v) in string_map(&step["env"]) {
            cmd.env(k, resolve(&v, &known));
        }
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("HOME", self.dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event.name)
            .env("GITHUB_REF", &event.ref_)
            .env("GITHUB_REF_NAME", &event.ref_name)
            .env("GITHUB_REF_TYPE", event.ref_type)
            .env("GITHUB_SHA", SHA)
            .env("GITHUB_REPOSITORY_OWNER", "Octo-Org")
            .env("GITHUB_ENV", &github_env)
            .env("GITHUB_OUTPUT", &github_output)
            .env("FAKE_LOG", &log)
            .env("FAKE_DIR", self.dir.path());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run bash");
        StepRun {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            env: parse_env_file(&fs::read_to_string(&github_env).unwrap()),
            outputs: parse_env_file(&fs::read_to_string(&github_output).unwrap()),
            calls: fs::read_to_string(&log)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect(),
        }
    }
}

impl std::fmt::Display for StepRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok={}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- calls ---\n{}",
            self.ok,
            self.stdout,
            self.stderr,
            self.calls.join("\n")
        )
    }
}

/// `$GITHUB_ENV` or `$GITHUB_OUTPUT` as the runner reads it.
fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    crate::support::gha::parse_env_file(text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

/// Runs the version step of `wf` for `event` and returns what it exported.
fn version_env(wf: &Workflow, event: &Event) -> BTreeMap<String, String> {
    let step = wf
        .version_step()
        .expect("the workflow has a version step that writes $GITHUB_ENV");
    let sandbox = Sandbox::new();
    let result = sandbox.run_step(
        step,
        event,
        sandbox.dir.path(),
        &wf.job_env(),
        &BTreeMap::new(),
        &[],
    );
    assert!(result.ok, "version step failed: {result}");
    result.env
}

// ---------------------------------------------------------------------------------------
// Evaluating the bake file

/// The bake file evaluated as `docker buildx bake --print` would: each `variable` takes
/// its value from `env` when set there (or from what every GitHub runner sets), else its
/// default. Returns the JSON of the file.
fn eval_bake(text: &str, env: &BTreeMap<String, String>) -> serde_json::Value {
    let mut vars = BTreeMap::from([(
        "GITHUB_REPOSITORY_OWNER".to_string(),
        "Octo-Org".to_string(),
    )]);
    vars.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    crate::support::bake::evaluate(text, &vars).unwrap_or_else(|e| panic!("the bake file: {e}"))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// The targets the workflow's build step builds and pushes, found by running its
/// "which targets changed" step (a fake registry where no image exists yet) and reading
/// the build step's `targets` input.
fn pushed_targets(g: &Generated, wf: &Workflow, event: &Event) -> Vec<String> {
    let push = wf.push_steps();
    assert_eq!(
        push.len(),
        1,
        "expected exactly one pushing build step:\n{}",
        wf.text
    );
    let steps = wf.steps();
    let build = steps[push[0]];
    assert!(
        is_build_action(build),
        "the push goes through a build action"
    );
    let files = build["with"]["files"].as_str().unwrap_or("docker-bake.hcl");
    assert_eq!(
        files, "docker-bake.hcl",
        "the build uses the generated bake file"
    );
    let targets = build["with"]["targets"]
        .as_str()
        .expect("the build step names its targets");
    let exported = version_env(wf, event);
    let list = match expression(targets) {
        Some(expr) => {
            // `steps.<id>.outputs.<name>`: run that step.
            let parts: Vec<&str> = expr.split('.').collect();
            assert!(
                parts.len() == 4 && parts[0] == "steps" && parts[2] == "outputs",
                "unexpected targets expression {expr}"
            );
            let (id, output) = (parts[1], parts[3]);
            let (index, step) = wf.find(&format!("has id {id}"), |s| s["id"].as_str() == Some(id));
            assert!(index < push[0]);
            let sandbox = Sandbox::new();
            let mut env = wf.job_env();
            env.extend(exported.clone());
            let bake = eval_bake(&g.bake(), &env);
            for (name, target) in bake["target"].as_object().expect("targets") {
                sandbox.set_bake_print(name, &strings(&target["tags"]));
            }
            let result = sandbox.run_step(
                step,
                event,
                g.dir.path(),
                &wf.job_env(),
                &exported,
                &[("FAKE_INSPECT_RC", "1")],
            );
            assert!(result.ok, "step {id} failed: {result}");
            result
                .outputs
                .get(output)
                .unwrap_or_else(|| panic!("step {id} set no output {output}: {result}"))
                .clone()
        }
        None => targets.to_string(),
    };
    list.split([',', '\n', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The tags (after the last `:`) of `refs`, without the input-hash tag.
fn tag_suffixes(refs: &[String]) -> BTreeSet<String> {
    refs.iter()
        .map(|r| r.rsplit_once(':').expect("a tag").1.to_string())
        .filter(|t| !t.starts_with("specc-"))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// Secrets and credentials

/// Problems with how `text` (a workflow) refers to secrets: every `secrets.` reference
/// must sit inside a `${{ }}` expression and name a secret as an identifier.
/// Returns the secret names referenced.
fn secret_references(text: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let mut outside = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        outside.push_str(&rest[..start]);
        let end = start
            + rest[start..]
                .find("}}")
                .ok_or("unterminated ${{ expression")?;
        let expr = &rest[start + 3..end];
        let mut e = expr;
        while let Some(i) = e.find("secrets") {
            let after = &e[i + "secrets".len()..];
            let Some(after) = after.strip_prefix('.') else {
                return Err(format!("dynamic secret access in `{expr}`"));
            };
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("bad secret name in `{expr}`"));
            }
            names.insert(name);
            e = after;
        }
        rest = &rest[end + 2..];
    }
    outside.push_str(rest);
    for line in outside.lines() {
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        if code.contains("secrets.") || code.contains("secrets[") {
            return Err(format!("secret referenced outside an expression: {line}"));
        }
    }
    Ok(names)
}

/// Secret names the spec text names (`*-secret=NAME`).
fn spec_secrets(spec: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = spec;
    while let Some(i) = rest.find("-secret=") {
        let after = rest[i + "-secret=".len()..].trim_start_matches('"');
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.insert(name);
        rest = after;
    }
    out
}

/// Strings that look like a credential: known token prefixes, private keys, AWS key ids,
/// or long mixed-case alphanumeric runs (random tokens).
fn looks_like_credential(s: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "dckr_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "-----BEGIN",
    ];
    if PREFIXES.iter().any(|p| s.contains(p)) {
        return true;
    }
    let words = s.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c)));
    for w in words {
        let aws_key = (w.starts_with("AKIA") || w.starts_with("ASIA"))
            && w.len() == 20
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let random = w.len() >= 24
            && w.chars().any(|c| c.is_ascii_uppercase())
            && w.chars().any(|c| c.is_ascii_lowercase())
            && w.chars().any(|c| c.is_ascii_digit());
        if aws_key || random {
            return true;
        }
    }
    false
}

/// Every scalar of the document with the key it sits under (if any).
fn scalars<'a>(v: &'a Value, key: Option<&'a str>, out: &mut Vec<(Option<&'a str>, String)>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if let Some(k) = k.as_str() {
                    out.push((None, k.to_string()));
                }
                scalars(v, k.as_str(), out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| scalars(v, key, out)),
        Value::String(s) => out.push((key, s.clone())),
        Value::Number(n) => out.push((key, n.to_string())),
        Value::Bool(b) => out.push((key, b.to_string())),
        Value::Tagged(t) => scalars(&t.value, key, out),
        Value::Null => {}
    }
}

/// Problems found: literal values under credential-like keys, and credential-like strings.
fn inlined_credentials(doc: &Value) -> Vec<String> {
    let mut all = Vec::new();
    scalars(doc, None, &mut all);
    let mut problems = Vec::new();
    for (key, value) in all {
        // (`id-token: write` is a permission, not a credential.)
        let sensitive = key.is_some_and(|k| {
            let k = k.to_ascii_lowercase();
            k != "id-token"
                && [
                    "password",
                    "token",
                    "secret",
                    "access-key",
                    "api-key",
                    "apikey",
                ]
                .iter()
                .any(|w| k.contains(w))
        });
        if sensitive && !value.is_empty() && expression(&value).is_none() {
            problems.push(format!("`{}: {value}` is a literal", key.unwrap()));
        }
        if looks_like_credential(&value) {
            problems.push(format!("`{value}` looks like a credential"));
        }
    }
    problems
}

#[test]
fn secrets_appear_only_as_secret_expressions() {
    for (spec, path) in WORKFLOWS {
        let g = generate(spec);
        let wf = g.workflow(path);
        let names = secret_references(&wf.text).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let declared = spec_secrets(&g.spec_text);
        let allowed: BTreeSet<String> = declared
            .iter()
            .cloned()
            .chain(["GITHUB_TOKEN".to_string()])
            .collect();
        assert!(
            names.is_subset(&allowed),
            "{spec}: the workflow uses secrets {names:?}, the spec only names {allowed:?}"
        );
        // Every secret the spec names for a login is used (no login silently dropped).
        assert!(
            declared.is_subset(&names),
            "{spec}: secrets {declared:?} named in the spec, the workflow uses {names:?}"
        );
        // `secrets.X` in a login/password input is exactly `${{ secrets.X }}`.
        for step in wf.steps() {
            for (k, v) in string_map(&step["with"]) {
                if k == "password" || k.ends_with("-key") || k.ends_with("-key-id") {
                    let expr = expression(&v)
                        .unwrap_or_else(|| panic!("{spec}: `{k}: {v}` is not an expression"));
                    let name = expr.strip_prefix("secrets.").unwrap_or_else(|| {
                        panic!("{spec}: `{k}` is `{v}`, not `${{{{ secrets.NAME }}}}`")
                    });
                    assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                }
            }
        }
    }
}

#[test]
fn no_string_in_a_workflow_looks_like_a_credential() {
    for (spec, path) in WORKFLOWS {
        let wf = generate(spec).workflow(path);
        let problems = inlined_credentials(&wf.doc);
        assert!(problems.is_empty(), "{spec}: {problems:#?}");
    }
    // The checks above can fail: a planted token and a literal password are caught.
    let planted: Value = serde_yaml_ng::from_str(
        "steps:\n  - with:\n      password: hunter2hunter2\n  - env:\n      X: dckr_pat_Ab3dEf6hIj9kLm2nOp5qRs8t\n",
    )
    .unwrap();
    assert_eq!(inlined_credentials(&planted).len(), 2);
    assert!(secret_references("run: echo secrets.TOKEN").is_err());
    assert!(secret_references("x: ${{ secrets[format('A{0}', 1)] }}").is_err());
}

// ---------------------------------------------------------------------------------------
// Actions, permissions, triggers, QEMU

/// The one pin table: full commit SHAs, release tags on current majors, sorted, unique.
#[test]
fn the_action_table_pins_commits_of_current_majors() {
    const MINIMUM: &[(&str, u32)] = &[
        ("actions/checkout", 5),
        ("docker/login-action", 4),
        ("docker/setup-qemu-action", 4),
        ("docker/setup-buildx-action", 4),
        ("docker/bake-action", 7),
    ];
    let all = || ACTIONS.iter().chain(RELEASE_ACTIONS);
    for a in all() {
        let hex = a.commit.len() == 40
            && a.commit
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        assert!(hex, "{}: `{}` is not a full commit SHA", a.name, a.commit);
        let numbers: Vec<&str> = a
            .version
            .strip_prefix('v')
            .unwrap_or("")
            .split('.')
            .collect();
        let semver = numbers.len() == 3
            && numbers
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        assert!(semver, "{}: `{}` is not a vX.Y.Z tag", a.name, a.version);
        if let Some((_, min)) = MINIMUM.iter().find(|(n, _)| *n == a.name) {
            let major: u32 = numbers[0].parse().unwrap();
            assert!(
                major >= *min,
                "{} {} is older than v{min}",
                a.name,
                a.version
            );
        }
    }
    let names: Vec<&str> = all().map(|a| a.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "an action is pinned twice");
    for table in [ACTIONS, RELEASE_ACTIONS] {
        let mut sorted: Vec<&str> = table.iter().map(|a| a.name).collect();
        sorted.sort();
        let order: Vec<&str> = table.iter().map(|a| a.name).collect();
        assert_eq!(order, sorted, "keep the table sorted by name");
    }
}

/// `owner/repo@ref # comment` of every `uses:` line in `text`.
fn uses_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses:")
        })
        .map(str::trim)
        .collect()
}

/// Templates write every action through the table, and use every row of it; each
/// generated `uses:` is exactly a row (commit and version comment); specc's own
/// workflows pin from the same table.
#[test]
fn every_action_comes_from_the_table() {
    let template = include_str!("../../templates/workflow.yml.hbs");
    let mut used = BTreeSet::new();
    for u in uses_lines(template) {
        let name = u
            .strip_prefix("{{action \"")
            .and_then(|r| r.strip_suffix("\"}}"))
            .unwrap_or_else(|| panic!("template `uses: {u}` does not go through {{{{action}}}}"));
        used.insert(name);
    }
    let table: BTreeSet<&str> = ACTIONS.iter().map(|a| a.name).collect();
    assert_eq!(used, table, "template actions and the table differ");

    let pinned: BTreeSet<String> = ACTIONS
        .iter()
        .chain(RELEASE_ACTIONS)
        .map(|a| a.uses())
        .collect();
    for (spec, path) in WORKFLOWS {
        let g = generate(spec);
        for u in uses_lines(&g.read(path)) {
            assert!(
                pinned.contains(u),
                "{spec} {path}: `uses: {u}` is not a row of the table"
            );
        }
    }
    let own = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/release.yml"),
    )
    .unwrap();
    for u in uses_lines(&own) {
        assert!(
            pinned.contains(u),
            "release.yml: `uses: {u}` is not a row of the table"
        );
    }
}

fn permissions(wf: &Workflow) -> BTreeMap<String, String> {
    let top = permissions_of(&wf.doc);
    if !top.is_empty() {
        for job in wf.jobs() {
            assert!(
                job.get("permissions").is_none(),
                "jobs must not widen the workflow's permissions"
            );
        }
    }
    top
}

/// The `permissions` of a workflow or a job.
fn permissions_of(node: &Value) -> BTreeMap<String, String> {
    string_map(&node["permissions"])
}

fn perms(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn permissions_are_least_privilege() {
    let expected = [
        ("comfyui-runpod", perms(&[("contents", "read")])),
        (
            "dify",
            perms(&[("contents", "read"), ("packages", "write")]),
        ),
        ("new-api", perms(&[("contents", "read")])),
        (
            "sd-on-eks",
            perms(&[("contents", "read"), ("id-token", "write")]),
        ),
    ];
    for ((spec, path), (name, want)) in WORKFLOWS.iter().zip(expected) {
        assert_eq!(*spec, name);
        let wf = generate_single(spec).workflow(path);
        assert_eq!(permissions(&wf), want, "{spec}");
    }

    // Without GHCR, dify needs no `packages: write`.
    let g = generate_text(
        &spec_with(
            "dify",
            "registries=\"ghcr dockerhub\"",
            "registries=\"dockerhub\"",
        )
        .replace("\nworkflow ", "\nworkflow layout=\"single\" "),
    );
    let wf = g.workflow(".github/workflows/sync-dify.yml");
    assert_eq!(permissions(&wf), perms(&[("contents", "read")]));
    assert!(
        !wf.steps()
            .iter()
            .any(|s| s["with"]["registry"].as_str() == Some("ghcr.io")),
        "no GHCR login when no image goes there"
    );

    // With access keys instead of an OIDC role, no `id-token: write`; the keys come
    // from secrets.
    let g = generate_text(&spec_with(
        "sd-on-eks",
        "role=\"arn:aws:iam::123456789012:role/sd-on-eks-github-actions\"",
        "access-key-id-secret=AWS_ACCESS_KEY_ID secret-access-key-secret=AWS_SECRET_ACCESS_KEY",
    ));
    let wf = g.workflow(".github/workflows/release.yml");
    assert_eq!(permissions(&wf), perms(&[("contents", "read")]));
    let (_, aws) = wf.find("configures AWS credentials", |s| {
        uses_action(s, "aws-actions/configure-aws-credentials")
    });
    assert_eq!(
        aws["with"]["aws-access-key-id"].as_str(),
        Some("${{ secrets.AWS_ACCESS_KEY_ID }}")
    );
    assert_eq!(
        aws["with"]["aws-secret-access-key"].as_str(),
        Some("${{ secrets.AWS_SECRET_ACCESS_KEY }}")
    );
    assert!(aws["with"].get("role-to-assume").is_none());
}

fn on(wf: &Workflow) -> &Value {
    wf.doc.get("on").expect("the workflow has `on`")
}

fn seq(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn triggers_come_from_the_spec() {
    // comfyui-runpod: on "release", on "tag" pattern="v*", on "push" branch="dev", "dispatch".
    let wf = generate("comfyui-runpod").workflow(".github/workflows/release.yml");
    let o = on(&wf);
    assert_eq!(seq(&o["push"]["tags"]), ["v*"]);
    assert_eq!(seq(&o["push"]["branches"]), ["dev"]);
    assert_eq!(seq(&o["release"]["types"]), ["published"]);
    assert!(o.get("workflow_dispatch").is_some());
    assert_eq!(o.as_mapping().unwrap().len(), 3);

    // dify: tags like 1.9.2 (no "v") and dispatch.
    let wf = generate("dify").workflow(".github/workflows/sync-dify.yml");
    let o = on(&wf);
    assert_eq!(seq(&o["push"]["tags"]), ["[0-9]+.[0-9]+.[0-9]+"]);
    assert!(o["push"].get("branches").is_none());
    assert!(o.get("workflow_dispatch").is_some());
    assert_eq!(o.as_mapping().unwrap().len(), 2);

    // new-api and sd-on-eks: `push: tags: v*` and dispatch.
    for (spec, path) in [
        ("new-api", ".github/workflows/docker-build.yml"),
        ("sd-on-eks", ".github/workflows/release.yml"),
    ] {
        let wf = generate(spec).workflow(path);
        let o = on(&wf);
        assert_eq!(seq(&o["push"]["tags"]), ["v*"], "{spec}");
        assert!(o["push"].get("branches").is_none(), "{spec}");
        assert!(o.get("workflow_dispatch").is_some(), "{spec}");
        assert_eq!(o.as_mapping().unwrap().len(), 2, "{spec}");
    }

    // A schedule in the spec becomes a cron trigger.
    let g = generate_text(&spec_with(
        "new-api",
        "on \"dispatch\"",
        "on \"dispatch\"\n    on \"schedule\" cron=\"0 3 * * 1\"",
    ));
    let wf = g.workflow(".github/workflows/docker-build.yml");
    let crons: Vec<&str> = on(&wf)["schedule"]
        .as_sequence()
        .expect("schedule")
        .iter()
        .map(|c| c["cron"].as_str().unwrap())
        .collect();
    assert_eq!(crons, ["0 3 * * 1"]);
}

/// A pull request runs the workflow only when it changes an input of the builds: the
/// contexts, the generated files, the spec; `paths` in the spec replaces that list, and a
/// context at the repository's root (every file an input) gives no filter.
#[test]
fn pull_request_paths_are_the_build_inputs_or_the_specs() {
    let dify = spec_with(
        "dify",
        "    on \"dispatch\"\n",
        "    on \"dispatch\"\n    on \"pull-request\"\n",
    );
    let wf = generate_text(&dify).workflow(".github/workflows/sync-dify.yml");
    assert_eq!(
        seq(&on(&wf)["pull_request"]["paths"]),
        [
            ".github/workflows/sync-dify.yml",
            "api/**",
            "docker-bake.hcl",
            "docker/**",
            "specc.kdl",
            "specc.lock",
            "web/**"
        ]
    );
    let given = dify.replace(
        "on \"pull-request\"\n",
        "on \"pull-request\" {\n        paths \"api/**\" \"web/**\"\n    }\n",
    );
    let wf = generate_text(&given).workflow(".github/workflows/sync-dify.yml");
    assert_eq!(seq(&on(&wf)["pull_request"]["paths"]), ["api/**", "web/**"]);
    let root = dify.replace("context=\"web\"", "context=\".\"");
    let wf = generate_text(&root).workflow(".github/workflows/sync-dify.yml");
    assert!(
        on(&wf)["pull_request"].get("paths").is_none(),
        "{}",
        wf.text
    );
}

/// The native layout: no workflow-wide permission, each job asks for its own; only the
/// jobs that push may write packages, and `prepare` reads them to find input-hash tags.
#[test]
fn native_jobs_ask_for_their_own_permissions() {
    let wf = generate("dify").workflow(".github/workflows/sync-dify.yml");
    assert_eq!(permissions(&wf), BTreeMap::new(), "workflow-wide");
    let jobs = wf.doc["jobs"].as_mapping().unwrap();
    let names: Vec<&str> = jobs.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(names, ["prepare", "build", "merge"]);
    let job = |name: &str| permissions_of(&wf.doc["jobs"][name]);
    assert_eq!(
        job("prepare"),
        perms(&[("contents", "read"), ("packages", "read")])
    );
    for name in ["build", "merge"] {
        assert_eq!(
            job(name),
            perms(&[("contents", "read"), ("packages", "write")]),
            "{name}"
        );
    }
}

#[test]
fn qemu_only_when_a_target_needs_a_foreign_platform() {
    for (spec, path) in WORKFLOWS {
        let g = generate_single(spec);
        let wf = g.workflow(path);
        let event = if *spec == "dify" {
            Event::tag("1.9.3")
        } else {
            Event::tag("v1.2.3")
        };
        let targets = pushed_targets(&g, &wf, &event);
        let plan = g.plan();
        let platforms: BTreeSet<String> = plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| targets.contains(&t["name"].as_str().unwrap().to_string()))
            .flat_map(|t| strings(&t["platforms"]))
            .collect();
        assert!(
            !platforms.is_empty(),
            "{spec}: no platforms for {targets:?}"
        );
        let foreign = platforms.iter().any(|p| p != "linux/amd64");
        let qemu = wf.position(|s| uses_action(s, "docker/setup-qemu-action"));
        assert_eq!(
            qemu.is_some(),
            foreign,
            "{spec}: platforms {platforms:?}, QEMU step {qemu:?}"
        );
        if let Some(q) = qemu {
            assert!(
                q < wf.push_steps()[0],
                "{spec}: QEMU set up after the build"
            );
        }
        let buildx = wf
            .position(|s| uses_action(s, "docker/setup-buildx-action"))
            .unwrap_or_else(|| panic!("{spec}: no buildx"));
        assert!(
            buildx < wf.push_steps()[0],
            "{spec}: buildx after the build"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Version computation

#[test]
fn version_step_computes_the_version_parts_of_the_ref() {
    for (spec, path) in WORKFLOWS {
        let wf = generate(spec).workflow(path);
        if wf.version_step().is_none() {
            continue;
        }
        // The step sets exactly the run-time variables; bake derives the version's
        // parts from VERSION itself (docs/architecture.md).
        let env = version_env(&wf, &Event::tag("v1.2.3"));
        let expected: BTreeMap<String, String> = [
            ("GIT_BRANCH", "v1.2.3"),
            ("GIT_SHA", SHA),
            ("REVISION", SHA),
            ("SPECC_EVENT", "release"),
            ("VERSION", "1.2.3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(env, expected, "{spec}");

        // A release event takes the release's tag; a manual run its input.
        assert_eq!(
            version_env(&wf, &Event::release("v2.0.1"))["VERSION"],
            "2.0.1"
        );
        assert_eq!(
            version_env(&wf, &Event::dispatch("3.1.4"))["VERSION"],
            "3.1.4"
        );
        // A dispatch on another branch is a branch build: release tags do not move.
        let mut feature = Event::dispatch("3.1.4");
        feature.ref_ = "refs/heads/feature/x".into();
        feature.ref_name = "feature/x".into();
        assert_eq!(
            version_env(&wf, &feature)["SPECC_EVENT"],
            "branch",
            "{spec}"
        );
        // A pre-release keeps its suffix in VERSION, not in the numeric parts.
        let pre = version_env(&wf, &Event::tag("v1.2.3-rc.1"));
        assert_eq!(pre["VERSION"], "1.2.3-rc.1");
    }
}

/// An image with every version placeholder, in two variants, released on `v*` tags.
const SEMVER_SPEC: &str = r#"
project semver version="0.9.0"
registry ghcr host="ghcr.io" {
    login "github-token"
}
variant cpu default=#true {
    platforms "linux/amd64"
}
variant gpu {
    platforms "linux/amd64"
}
stage app from="alpine:3.22" {
    cmd "true"
}
image app stage=app registries="ghcr" {
    tag "{{version}}"
    tag "{{major}}.{{minor}}"
    tag "{{major}}"
    tag "{{patch}}-p"
    tag "latest"
}
workflow release {
    on "tag" pattern="v*"
    images "app"
}
"#;

/// A tag push `v1.2.3` gives 1.2.3, 1.2, 1 and latest when the image's rules say so,
/// with the variant's prefix (the default variant also gets the plain tags).
#[test]
fn a_tag_push_gives_semver_tags_in_the_bake_file() {
    let spec = SEMVER_SPEC;
    let g = generate_text(spec);
    let wf = g.workflow(".github/workflows/release.yml");
    let event = Event::tag("v1.2.3");
    let mut env = wf.job_env();
    env.extend(version_env(&wf, &event));
    let bake = eval_bake(&g.bake(), &env);
    let pushed = pushed_targets(&g, &wf, &event);
    assert_eq!(pushed.len(), 2, "{pushed:?}");
    let plan = g.plan();
    for target in plan["targets"].as_array().unwrap() {
        let name = target["name"].as_str().unwrap();
        assert!(pushed.contains(&name.to_string()), "{name} is not pushed");
        let tags = strings(&bake["target"][name]["tags"]);
        // Each variant gets its prefixed tags; the default variant also the plain ones.
        let variant = target["variant"].as_str().unwrap();
        let mut want: BTreeSet<String> = ["1.2.3", "1.2", "1", "3-p", "latest"]
            .iter()
            .map(|t| format!("{variant}-{t}"))
            .collect();
        if variant == "cpu" {
            want.extend(set(&["1.2.3", "1.2", "1", "3-p", "latest"]));
        }
        assert_eq!(tag_suffixes(&tags), want, "{name}: {tags:?}");
        for t in &tags {
            assert!(t.starts_with("ghcr.io/octo-org/app:"), "{t}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// The login step for `host`.
fn login<'a>(wf: &'a Workflow, host: &str) -> (usize, &'a Value) {
    wf.find(&format!("logs in to {host}"), |s| {
        uses_action(s, "docker/login-action") && s["with"]["registry"].as_str() == Some(host)
    })
}

#[test]
fn dify_logs_in_to_both_registries_and_pushes_three_images_for_two_platforms() {
    let g = generate_single("dify");
    let wf = g.workflow(".github/workflows/sync-dify.yml");
    let push = wf.push_steps();

    let (ghcr, step) = login(&wf, "ghcr.io");
    assert_eq!(
        step["with"]["username"].as_str(),
        Some("${{ github.actor }}")
    );
    assert_eq!(
        step["with"]["password"].as_str(),
        Some("${{ secrets.GITHUB_TOKEN }}")
    );
    let (hub, step) = login(&wf, "docker.io");
    assert_eq!(
        step["with"]["username"].as_str(),
        Some("${{ secrets.DOCKERHUB_USERNAME }}")
    );
    assert_eq!(
        step["with"]["password"].as_str(),
        Some("${{ secrets.DOCKERHUB_TOKEN }}")
    );
    assert!(
        ghcr < push[0] && hub < push[0],
        "logins come before the push"
    );

    // A tag push 1.9.3: all three targets are built and pushed in one bake.
    let event = Event::tag("1.9.3");
    let mut targets = pushed_targets(&g, &wf, &event);
    targets.sort();
    assert_eq!(targets, ["dify-api", "dify-web", "dify-worker"]);

    // The bake file, under the workflow's environment, gives each target both platforms
    // and both registries, with the version and latest.
    let mut env = wf.job_env();
    env.extend(version_env(&wf, &event));
    for (owner_secret, hub_namespace) in [("ExampleUser", "exampleuser"), ("", "octo-org")] {
        env.insert("DOCKERHUB_USERNAME".into(), owner_secret.into());
        env.insert("GITHUB_REPOSITORY_OWNER".into(), "Octo-Org".into());
        let bake = eval_bake(&g.bake(), &env);
        let plan = g.plan();
        for name in &targets {
            let target = &bake["target"][name];
            assert_eq!(
                strings(&target["platforms"]),
                ["linux/amd64", "linux/arm64"],
                "{name}"
            );
            let planned = plan["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == name.as_str())
                .expect("planned target");
            assert_eq!(
                strings(&planned["platforms"]),
                strings(&target["platforms"])
            );
            let tags: BTreeSet<String> = strings(&target["tags"]).into_iter().collect();
            for want in [
                format!("ghcr.io/octo-org/{name}:1.9.3"),
                format!("ghcr.io/octo-org/{name}:latest"),
                format!("docker.io/{hub_namespace}/{name}:1.9.3"),
                format!("docker.io/{hub_namespace}/{name}:latest"),
            ] {
                assert!(tags.contains(&want), "{name}: no {want} in {tags:?}");
            }
        }
    }
    // The bake step really reads the Docker Hub namespace from the job env.
    assert_eq!(
        wf.job_env().get("DOCKERHUB_USERNAME").map(String::as_str),
        Some("${{ secrets.DOCKERHUB_USERNAME }}")
    );
}

#[test]
fn new_api_gets_four_tags_from_one_build_and_smoke_tests_before_pushing() {
    let g = generate("new-api");
    let wf = g.workflow(".github/workflows/docker-build.yml");
    let steps = wf.steps();
    let push = wf.push_steps();

    // One build pushes the one target, with all four tags.
    let event = Event::tag("v1.0.0");
    let targets = pushed_targets(&g, &wf, &event);
    assert_eq!(targets, ["new-api"]);
    let mut env = wf.job_env();
    env.extend(version_env(&wf, &event));
    env.insert("DOCKER_USERNAME".into(), "someone".into());
    let bake = eval_bake(&g.bake(), &env);
    let tags = strings(&bake["target"]["new-api"]["tags"]);
    assert_eq!(
        tag_suffixes(&tags),
        set(&["latest", "v1.0.0", "v1.0.0-conversation", "conversation"]),
        "{tags:?}"
    );
    for t in &tags {
        assert!(t.starts_with("docker.io/someone/new-api:"), "{t}");
    }
    // Registry cache from the image's own repository.
    let cache_from = strings(&bake["target"]["new-api"]["cache-from"]);
    assert!(
        cache_from
            .iter()
            .any(|c| c.starts_with("type=registry,ref=docker.io/someone/new-api:")),
        "{cache_from:?}"
    );

    // A local build (not pushed) feeds the smoke test, which runs before the push.
    let (smoke, smoke_step) = wf.find("runs the smoke test", |s| {
        run(s).is_some_and(|r| r.contains("docker run"))
    });
    let image = string_map(&smoke_step["env"])
        .get("SMOKE_IMAGE")
        .cloned()
        .expect("the smoke test names its image");
    let (local, local_step) = wf.find("builds the image locally", |s| {
        is_build_action(s) && s["with"]["load"].as_bool() == Some(true)
    });
    assert_ne!(local_step["with"]["push"].as_bool(), Some(true));
    let set_lines = local_step["with"]["set"].as_str().unwrap_or("");
    assert!(
        set_lines.contains(&format!("new-api.tags={image}")),
        "the smoke test runs the image built locally ({image}):\n{set_lines}"
    );
    assert!(local < smoke, "local build before the smoke test");
    assert!(
        smoke < push[0],
        "the smoke test (step {smoke}) must run before the push (step {})",
        push[0]
    );
    assert!(steps[smoke]["if"].is_null(), "the smoke test always runs");
    // The Trivy scan also runs before the push, on the local image.
    let (scan, scan_step) = wf.find("scans with Trivy", |s| {
        uses_action(s, "aquasecurity/trivy-action")
    });
    assert!(scan < push[0]);
    assert_eq!(
        scan_step["with"]["image-ref"].as_str(),
        Some(image.as_str())
    );
    // The Docker Hub description is updated from the README after the push.
    let (desc, desc_step) = wf.find("updates the Docker Hub description", |s| {
        uses_action(s, "peter-evans/dockerhub-description")
    });
    assert!(desc > push[0]);
    assert_eq!(
        desc_step["with"]["readme-filepath"].as_str(),
        Some("README.md")
    );
}

#[test]
fn new_api_smoke_test_runs_the_container_and_fails_when_it_does_not_answer() {
    let g = generate("new-api");
    let wf = g.workflow(".github/workflows/docker-build.yml");
    let (_, step) = wf.find("runs the smoke test", |s| {
        run(s).is_some_and(|r| r.contains("docker run"))
    });
    let sandbox = Sandbox::new();
    let none = BTreeMap::new();
    let event = Event::tag("v1.0.0");

    let ok = sandbox.run_step(step, &event, g.dir.path(), &none, &none, &[]);
    assert!(ok.ok, "{ok}");
    let docker_run = ok
        .calls
        .iter()
        .find(|c| c.starts_with("docker run"))
        .unwrap_or_else(|| panic!("no docker run: {ok}"));
    assert!(docker_run.contains("-p 3001:3000"), "{docker_run}");
    assert!(
        docker_run.contains("-e CONVERSATION_LOG_ENABLED"),
        "{docker_run}"
    );
    assert!(
        docker_run.contains("specc-local/new-api:ci"),
        "{docker_run}"
    );
    assert!(
        ok.calls
            .iter()
            .any(|c| c == "curl -fsS http://localhost:3001/api/status"),
        "{ok}"
    );
    // `-e NAME` passes the step's value through: it must be set to "true" there.
    assert_eq!(
        string_map(&step["env"])
            .get("CONVERSATION_LOG_ENABLED")
            .map(String::as_str),
        Some("true")
    );

    let failing = sandbox.run_step(
        step,
        &event,
        g.dir.path(),
        &none,
        &none,
        &[("FAKE_CURL_RC", "7")],
    );
    assert!(
        !failing.ok,
        "the smoke test passed with no answer: {failing}"
    );
    assert!(
        failing.calls.iter().any(|c| c.starts_with("docker logs")),
        "{failing}"
    );
    assert!(
        failing.calls.iter().any(|c| c.starts_with("docker rm -f")),
        "the container is removed: {failing}"
    );
}

#[test]
fn sd_on_eks_logs_in_to_ecr_and_pushes_the_chart() {
    let g = generate("sd-on-eks");
    let wf = g.workflow(".github/workflows/release.yml");
    let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let push = wf.push_steps();

    let (aws, aws_step) = wf.find("configures AWS credentials", |s| {
        uses_action(s, "aws-actions/configure-aws-credentials")
    });
    assert_eq!(aws_step["with"]["aws-region"].as_str(), Some("us-east-1"));
    assert_eq!(
        aws_step["with"]["role-to-assume"].as_str(),
        Some("arn:aws:iam::123456789012:role/sd-on-eks-github-actions")
    );
    let (login_at, _) = wf.find("logs in to ECR", |s| {
        (uses_action(s, "docker/login-action") && s["with"]["registry"].as_str() == Some(ecr))
            || uses_action(s, "aws-actions/amazon-ecr-login")
    });
    assert!(aws < login_at && login_at < push[0]);

    // The ECR repositories exist before anything is pushed to them.
    for repo in ["sd-on-eks/queue-agent", "sd-on-eks/charts/sd-on-eks"] {
        let (at, _) = wf.find(&format!("creates ECR repository {repo}"), |s| {
            run(s).is_some_and(|r| {
                r.contains("aws ecr create-repository")
                    && r.contains(&format!("--repository-name {repo} "))
            })
        });
        assert!(aws < at && at < push[0], "{repo}");
    }

    // The image goes to ECR with the version and latest.
    let event = Event::tag("v1.1.0");
    assert_eq!(pushed_targets(&g, &wf, &event), ["queue-agent"]);
    let mut env = wf.job_env();
    env.extend(version_env(&wf, &event));
    let bake = eval_bake(&g.bake(), &env);
    assert_eq!(
        tag_suffixes(&strings(&bake["target"]["queue-agent"]["tags"])),
        set(&["1.1.0", "latest"])
    );
    for t in strings(&bake["target"]["queue-agent"]["tags"]) {
        assert!(
            t.starts_with(&format!("{ecr}/sd-on-eks/queue-agent:")),
            "{t}"
        );
    }

    // The chart: the project's own chart, packaged with the release's version (a tag
    // v1.2.0 on a chart whose Chart.yaml says 1.1.0) from the folder that holds the
    // overlay, pushed to oci://<ecr>/sd-on-eks/charts after a helm registry login, after
    // AWS credentials.
    let event = Event::tag("v1.2.0");
    let (chart_at, chart_step) = wf.find("packages the chart", |s| {
        run(s).is_some_and(|r| r.contains("helm package"))
    });
    assert!(aws < chart_at);
    let chart_path = string_map(&chart_step["env"])
        .get("CHART_PATH")
        .cloned()
        .expect("CHART_PATH");
    assert!(
        g.path(&chart_path).join("values.specc.yaml").is_file(),
        "the chart step packages {chart_path}, where specc writes the overlay"
    );
    let sandbox = Sandbox::new();
    let result = sandbox.run_step(
        chart_step,
        &event,
        g.dir.path(),
        &wf.job_env(),
        &version_env(&wf, &event),
        &[],
    );
    assert!(result.ok, "{result}");
    let calls = &result.calls;
    let pos = |pred: &dyn Fn(&str) -> bool| {
        calls
            .iter()
            .position(|c| pred(c))
            .unwrap_or_else(|| panic!("missing call: {result}"))
    };
    let login = pos(&|c| c.starts_with("helm registry login") && c.contains(ecr));
    assert!(calls.contains(&"aws ecr get-login-password --region us-east-1".to_string()));
    assert!(
        calls.contains(&"helm-password fake-ecr-password".to_string()),
        "{result}"
    );
    let package = pos(&|c| c.starts_with(&format!("helm package {chart_path} ")));
    assert!(
        calls[package].contains("--version 1.2.0 --app-version 1.2.0"),
        "{}",
        calls[package]
    );
    let push_chart = pos(&|c| c.starts_with("helm push"));
    assert!(
        calls[push_chart].ends_with(&format!(" oci://{ecr}/sd-on-eks/charts")),
        "{}",
        calls[push_chart]
    );
    assert!(
        calls[push_chart].contains(".specc-charts/sd-on-eks-1.2.0.tgz"),
        "{}",
        calls[push_chart]
    );
    assert!(login < push_chart && package < push_chart);
}

#[test]
fn comfyui_branch_push_gives_dev_tags_and_a_release_gives_versions() {
    let g = generate("comfyui-runpod");
    let wf = g.workflow(".github/workflows/release.yml");
    let (_, step) = login(&wf, "docker.io");
    assert_eq!(
        step["with"]["password"].as_str(),
        Some("${{ secrets.DOCKERHUB_TOKEN }}")
    );
    let mut base = wf.job_env();
    base.insert("DOCKERHUB_USERNAME".into(), "me".into());
    let repo = "docker.io/me/runpod-comfyui-custom";

    let mut env = base.clone();
    env.extend(version_env(&wf, &Event::branch("dev")));
    let bake = eval_bake(&g.bake(), &env);
    let tags = strings(&bake["target"]["runpod-comfyui-custom"]["tags"]);
    assert_eq!(
        tag_suffixes(&tags),
        set(&[&format!("dev-{}", &SHA[..7])]),
        "{tags:?}"
    );
    assert_eq!(
        strings(&bake["target"]["runpod-comfyui-custom"]["platforms"]),
        ["linux/amd64"]
    );

    let mut env = base.clone();
    env.extend(version_env(&wf, &Event::release("v1.2.0")));
    let bake = eval_bake(&g.bake(), &env);
    let tags = strings(&bake["target"]["runpod-comfyui-custom"]["tags"]);
    assert_eq!(tag_suffixes(&tags), set(&["v1.2.0", "latest"]), "{tags:?}");
    assert!(tags.iter().all(|t| t.starts_with(repo)), "{tags:?}");
}

/// For any tag pushed, the workflow pushes the tags `specc plan --set-version` predicts;
/// a version without MAJOR.MINOR.PATCH parts, which these rules need, is refused by both
/// (the plan as a usage error, the workflow's version step before anything is built).
#[test]
fn the_workflow_pushes_the_tags_the_plan_predicts() {
    let g = generate_text(SEMVER_SPEC);
    let wf = g.workflow(".github/workflows/release.yml");
    let plan_for =
        |version: &str| g.specc(&["plan", "specc.kdl", "--json", "--set-version", version]);
    for (git_tag, version) in [("v1.2.3", "1.2.3"), ("v10.0.7-rc.1", "10.0.7-rc.1")] {
        let mut env = wf.job_env();
        env.extend(version_env(&wf, &Event::tag(git_tag)));
        let bake = eval_bake(&g.bake(), &env);
        let out = plan_for(version).success();
        let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        for target in plan["targets"].as_array().unwrap() {
            let name = target["name"].as_str().unwrap();
            let predicted: BTreeSet<String> = strings(&target["tags"]).into_iter().collect();
            let pushed = tag_suffixes(&strings(&bake["target"][name]["tags"]));
            assert_eq!(pushed, predicted, "{git_tag}: {name}");
        }
    }
    for (git_tag, version) in [("v2", "2"), ("v1.4", "1.4"), ("vnext", "next")] {
        plan_for(version)
            .code(2)
            .stderr_contains("specc::usage::version")
            .stderr_contains("MAJOR.MINOR.PATCH");

        let step = wf.version_step().expect("a version step");
        let sandbox = Sandbox::new();
        let run = sandbox.run_step(
            step,
            &Event::tag(git_tag),
            sandbox.dir.path(),
            &wf.job_env(),
            &BTreeMap::new(),
            &[],
        );
        assert!(!run.ok, "{git_tag}: the version step accepted it: {run}");
        assert!(
            run.stdout.contains("::error::") && run.stdout.contains("MAJOR.MINOR.PATCH"),
            "{git_tag}: {run}"
        );
        assert!(run.env.is_empty(), "{git_tag}: exported {:?}", run.env);
    }
}

/// Every spec in `specs/` gets one workflow per `workflow` node, and the scenarios above
/// cover all of them.
#[test]
fn every_workflow_node_of_every_spec_generates_a_workflow() {
    let mut covered = 0;
    for name in spec_names() {
        let g = generate(&name);
        let nodes: Vec<&str> = g
            .spec_text
            .lines()
            .filter_map(|l| l.strip_prefix("workflow "))
            .map(|rest| rest.split_whitespace().next().unwrap())
            .collect();
        let dir = g.path(".github/workflows");
        let mut files: Vec<String> = match fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        let mut want: Vec<String> = nodes.iter().map(|n| format!("{n}.yml")).collect();
        want.sort();
        assert_eq!(files, want, "{name}");
        for file in &files {
            let rel = format!(".github/workflows/{file}");
            assert!(
                WORKFLOWS.contains(&(name.as_str(), rel.as_str())),
                "{name}: {rel} is not checked by this test file"
            );
            covered += 1;
        }
    }
    assert_eq!(covered, WORKFLOWS.len());
}

// ---------------------------------------------------------------------------------------
// Pull requests

const PR_SPEC: &str = r#"
project shop version="1.0.0"
registry ghcr host="ghcr.io" {
    login "github-token"
}
registry dockerhub host="docker.io" namespace="shop" {
    login "basic" username-secret=DOCKERHUB_USERNAME password-secret=DOCKERHUB_TOKEN
}
secret "npmrc" env="NPMRC"
stage app from="node:22-alpine" {
    run "npm ci" {
        secret "npmrc" target="/root/.npmrc"
    }
    cmd "node" "server.js"
}
image shop stage=app registries="ghcr dockerhub" {
    tag "{{version}}"
    tag "latest"
}
workflow ci {
    on "tag"
    on "pull-request" branch="main"
    dockerhub-description registry=dockerhub image=shop
}
"#;

/// A pull request builds every pushed target without pushing, and every step that logs
/// in, pushes or reads a registry secret is skipped for it, so a fork's pull request runs
/// safely; a new push to the pull request cancels its running build.
#[test]
fn a_pull_request_builds_without_login_push_or_secrets() {
    let g = generate_text(PR_SPEC);
    let wf = g.workflow(".github/workflows/ci.yml");
    assert_eq!(
        wf.doc["on"]["pull_request"]["branches"],
        serde_yaml_ng::from_str::<Value>("[main]").unwrap()
    );
    assert_eq!(
        wf.doc["concurrency"]["cancel-in-progress"].as_str(),
        Some("${{ github.event_name == 'pull_request' }}")
    );
    let not_on_pr = |s: &Value| {
        s["if"]
            .as_str()
            .is_some_and(|c| c.contains("github.event_name != 'pull_request'"))
    };
    let mut pr_builds = Vec::new();
    for step in wf.steps() {
        let text = serde_yaml_ng::to_string(step).unwrap();
        let privileged = text.contains("secrets.")
            || text.contains("push: true")
            || uses_action(step, "docker/login-action")
            || uses_action(step, "peter-evans/dockerhub-description");
        let runs_on_pr = step["if"]
            .as_str()
            .is_some_and(|c| c == "github.event_name == 'pull_request'");
        if runs_on_pr {
            pr_builds.push(step);
            assert!(
                !text.contains("secrets."),
                "a PR step reads a secret: {text}"
            );
        } else if privileged {
            assert!(not_on_pr(step), "runs on a pull request: {text}");
        }
    }
    assert_eq!(pr_builds.len(), 1, "one build step for pull requests");
    let with = &pr_builds[0]["with"];
    assert_eq!(with["push"].as_bool(), Some(false));
    assert_eq!(with["targets"].as_str(), Some("shop"));
    // The version step sees a pull request as a branch build: no release tags.
    let mut pr = Event::branch("42/merge");
    pr.name = "pull_request";
    pr.ref_ = "refs/pull/42/merge".into();
    assert_eq!(version_env(&wf, &pr)["SPECC_EVENT"], "branch");
    // The linters accept it, zizmor included.
    let dir = g.path(".github/workflows");
    for (tool, args) in [
        ("actionlint", vec!["-no-color", "ci.yml"]),
        ("zizmor", vec!["--offline", "--no-progress", "ci.yml"]),
    ] {
        crate::support::validators::run_tool(tool, args, &dir).assert_success();
    }
}

/// A target whose release tags all follow the stable channel (`latest`, `{{major}}`) has
/// no tag on a pre-release (nor, with `{{major}}` alone, on a 0.y.z release): the version
/// step leaves it out then, since pushing an image without tags fails.
#[test]
fn a_release_without_tags_for_this_version_pushes_only_the_targets_that_have_some() {
    let spec = r#"
project shop version="1.0.0"
registry ghcr host="ghcr.io" {
    login "github-token"
}
stage app from="alpine:3.20" {
    cmd "true"
}
image versioned stage=app registries=ghcr {
    tag "{{version}}"
    tag "latest"
}
image channel stage=app registries=ghcr {
    tag "latest"
}
image major stage=app registries=ghcr {
    tag "{{major}}"
}
workflow release {
    on "tag"
}
"#;
    let g = generate_text(spec);
    let wf = g.workflow(".github/workflows/release.yml");
    for (tag, expected) in [
        ("v1.2.0", &["versioned", "channel", "major"][..]),
        ("v2.0.0-rc.1", &["versioned"][..]),
        ("v0.3.1", &["versioned", "channel"][..]),
    ] {
        let pushed = pushed_targets(&g, &wf, &Event::tag(tag));
        assert_eq!(pushed, expected, "targets pushed for {tag}");
    }
}
