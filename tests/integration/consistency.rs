//! Output consistency (issue 8, acceptance 1): every generated output agrees with
//! `specc plan --json` under every environment the outputs defer values to.
//!
//! For each spec (the bundled ones, `examples/*/specc.kdl`, the docs' ```kdl blocks that
//! compile, and specs from `support::specgen::grammar_document`), generated into a temp
//! folder, and for each environment of {`VERSION` unset, `9.8.7`, `v9.8.7`} x {the
//! namespace variables (every `namespace-secret` variable and `GITHUB_REPOSITORY_OWNER`)
//! unset, mixed-case, only the owner set, empty}:
//! - bake: each target's tags, platforms and args, evaluated with hcl-rs as buildx does
//!   (`support::bake::evaluate`), equal the plan's (`specc plan --json` under the same
//!   environment), whole lists in order;
//! - compose: each service's image, as the real `docker-compose config` resolves it (no
//!   profile flag, and `--profile '*'`), equals the plan's `services[].image`, and is one
//!   of its target's planned refs unless it is a `localhost/` local name;
//! - Helm: the values' `repository` and `tag` at each chart key equal the plan's `charts[]`.
//!
//! Workflows: the version step ("Compute version and tags for this ref") runs in bash for
//! a tag push, a release, a dispatch and a branch push; the bake file evaluated with what
//! it exported gives the tags `specc plan --json --set-version/--branch --sha` gives under
//! the same environment.
//!
//! Every child process starts with an empty environment plus the one under test, so the
//! environment of the test run cannot leak in. Generated specs per property:
//! `SPECC_FUZZ_CASES` (default [`DEFAULT_CASES`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use crate::support::bake;
use crate::support::dockerfile_reader;
use crate::support::repo::{Output, specc_bin};
use crate::support::specgen::{SPECS, grammar_document, mutated_spec};
use crate::support::validators::{repo_root, require_tool, search_path};

/// Generated specs per property when `SPECC_FUZZ_CASES` is not set: each costs a few
/// dozen process runs (specc, docker-compose, bash).
const DEFAULT_CASES: u32 = 6;

/// The commit every run is for.
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
/// Mixed-case values of the namespace variables.
const USER: &str = "JaneDoe";
const OWNER: &str = "Octo-Org";
/// The version step's name, as the contract names it.
const VERSION_STEP: &str = "Compute version and tags for this ref";

fn cases(default: u32) -> u32 {
    std::env::var("SPECC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        // Each case runs external tools: shrink a little, not for minutes.
        max_shrink_iters: 16,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// Running things in a controlled environment
// ---------------------------------------------------------------------------------------

/// `program ARGS` in `dir` with nothing of the test's environment but PATH (with the
/// validators' venv first), a throw-away HOME and `env`.
fn run_clean(
    dir: &Path,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    env: &BTreeMap<String, String>,
) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", search_path())
        .env("HOME", std::env::temp_dir())
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Output::of(&mut cmd)
}

/// One environment the outputs are evaluated under.
#[derive(Debug, Clone)]
struct Env {
    name: String,
    vars: BTreeMap<String, String>,
}

/// The registries' `namespace-secret` variables of a spec, then `GITHUB_REPOSITORY_OWNER`.
fn namespace_variables(spec: &str) -> Vec<String> {
    let mut vars = Vec::new();
    if let Ok(doc) = spec.parse::<kdl::KdlDocument>() {
        for node in doc
            .nodes()
            .iter()
            .filter(|n| n.name().value() == "registry")
        {
            if let Some(v) = node.get("namespace-secret").and_then(|v| v.as_string())
                && !vars.iter().any(|x| x == v)
            {
                vars.push(v.to_string());
            }
        }
    }
    vars.push("GITHUB_REPOSITORY_OWNER".into());
    vars
}

/// {VERSION unset, 9.8.7, v9.8.7} x {namespace variables unset, mixed-case (and REVISION
/// set), only the owner set (mixed-case), empty}.
fn environments(namespace_vars: &[String]) -> Vec<Env> {
    let mut out = Vec::new();
    for version in [None, Some("9.8.7"), Some("v9.8.7")] {
        for ns in ["unset", "mixed", "owner-only", "empty"] {
            let mut vars = BTreeMap::new();
            if let Some(v) = version {
                vars.insert("VERSION".to_string(), v.to_string());
            }
            for var in namespace_vars {
                let owner = var == "GITHUB_REPOSITORY_OWNER";
                let value = match (ns, owner) {
                    ("unset", _) => continue,
                    ("mixed", false) => USER,
                    ("mixed" | "owner-only", true) => OWNER,
                    _ => "",
                };
                vars.insert(var.clone(), value.to_string());
            }
            if ns == "mixed" {
                vars.insert("REVISION".into(), SHA.into());
            }
            let name = format!(
                "VERSION={} namespaces={ns}",
                version.map_or("(unset)".to_string(), |v| format!("{v:?}"))
            );
            out.push(Env { name, vars });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The plan, as `specc plan --json` prints it
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct PlanTarget {
    platforms: Vec<String>,
    args: BTreeMap<String, String>,
    /// Every registry's refs, in the plan's order.
    refs: Vec<String>,
}

#[derive(Debug, Clone)]
struct PlanService {
    name: String,
    target: Option<String>,
    image: String,
}

#[derive(Debug, Clone)]
struct PlanChart {
    chart: String,
    key: String,
    repository: String,
    tag: String,
}

#[derive(Debug, Clone, Default)]
struct Plan {
    targets: BTreeMap<String, PlanTarget>,
    /// `None` when the plan has no `services` list.
    services: Option<Vec<PlanService>>,
    charts: Option<Vec<PlanChart>>,
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn text(v: &Json, key: &str) -> Result<String, String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no string `{key}` in {v}"))
}

impl Plan {
    fn parse(json: &Json) -> Result<Plan, String> {
        let mut plan = Plan::default();
        for t in json["targets"].as_array().ok_or("no `targets` list")? {
            let target = PlanTarget {
                platforms: strings(&t["platforms"]),
                args: t["args"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
                    .collect(),
                refs: t["registries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| strings(&r["refs"]))
                    .collect(),
            };
            plan.targets.insert(text(t, "name")?, target);
        }
        if let Some(list) = json.get("services").and_then(Json::as_array) {
            let mut services = Vec::new();
            for s in list {
                services.push(PlanService {
                    name: text(s, "name")?,
                    target: s["target"].as_str().map(str::to_owned),
                    image: text(s, "image")?,
                });
            }
            plan.services = Some(services);
        }
        if let Some(list) = json.get("charts").and_then(Json::as_array) {
            let mut charts = Vec::new();
            for c in list {
                charts.push(PlanChart {
                    chart: text(c, "chart")?,
                    key: text(c, "key")?,
                    repository: text(c, "repository")?,
                    tag: text(c, "tag")?,
                });
            }
            plan.charts = Some(charts);
        }
        Ok(plan)
    }
}

/// `specc plan specc.kdl --json EXTRA` in `dir` under `env`.
fn plan_in(dir: &Path, extra: &[&str], env: &BTreeMap<String, String>) -> Result<Plan, String> {
    let mut args = vec!["plan", "specc.kdl", "--json"];
    args.extend(extra);
    let out = run_clean(dir, specc_bin(), &args, env);
    if !out.status.success() {
        return Err(format!("specc plan failed: {out}"));
    }
    let json: Json = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("plan --json is not JSON: {e}\n{}", out.stdout))?;
    Plan::parse(&json).map_err(|e| format!("plan --json: {e}"))
}

// ---------------------------------------------------------------------------------------
// The comparisons; each returns the mismatches it found
// ---------------------------------------------------------------------------------------

/// True for `<repository>:specc-<12+ hex>`, the input-hash tag: the plan lists a target's
/// input hash only with `--changed`, so the bake file's hash tag is not compared.
fn is_hash_tag(tag: &str) -> bool {
    tag.rsplit_once(":specc-")
        .is_some_and(|(_, h)| h.len() >= 12 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The bake file's targets under `env` against the plan made under the same `env`.
fn compare_bake(bake_text: &str, env: &BTreeMap<String, String>, plan: &Plan) -> Vec<String> {
    let evaluated = match bake::evaluated_targets(bake_text, env) {
        Ok(t) => t,
        Err(e) => return vec![format!("bake: cannot evaluate: {e}")],
    };
    let mut problems = Vec::new();
    let planned: BTreeSet<&String> = plan.targets.keys().collect();
    let baked: BTreeSet<&String> = evaluated.keys().collect();
    if planned != baked {
        problems.push(format!("bake: targets {baked:?}, the plan's {planned:?}"));
    }
    for (name, t) in &evaluated {
        let Some(p) = plan.targets.get(name) else {
            continue;
        };
        let tags: Vec<String> = t.tags.iter().filter(|t| !is_hash_tag(t)).cloned().collect();
        if tags != p.refs {
            problems.push(format!(
                "bake target `{name}`: tags\n    bake: {tags:?}\n    plan: {:?}",
                p.refs
            ));
        }
        if t.platforms != p.platforms {
            problems.push(format!(
                "bake target `{name}`: platforms\n    bake: {:?}\n    plan: {:?}",
                t.platforms, p.platforms
            ));
        }
        if t.args != p.args {
            problems.push(format!(
                "bake target `{name}`: args\n    bake: {:?}\n    plan: {:?}",
                t.args, p.args
            ));
        }
    }
    problems
}

/// Service name -> image (`None`: no `image`) as `docker-compose config` resolves
/// `compose.yaml` in `dir` under `env`, with `profile` flags.
fn compose_images(
    dir: &Path,
    env: &BTreeMap<String, String>,
    profile: &[&str],
) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut args = vec!["-f", "compose.yaml"];
    args.extend(profile);
    args.extend(["config", "--format", "json"]);
    let out = run_clean(dir, require_tool("docker-compose"), &args, env);
    if !out.status.success() {
        return Err(format!("docker-compose config failed: {out}"));
    }
    let json: Json = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("docker-compose printed no JSON: {e}\n{}", out.stdout))?;
    Ok(json["services"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v["image"].as_str().map(str::to_owned)))
        .collect())
}

/// Compose's images under `env` against the plan's services under the same `env`.
fn compare_compose(dir: &Path, env: &BTreeMap<String, String>, plan: &Plan) -> Vec<String> {
    if !dir.join("compose.yaml").exists() {
        return match &plan.services {
            Some(s) if !s.is_empty() => vec![format!(
                "compose: no compose.yaml, but the plan has services {:?}",
                s.iter().map(|s| &s.name).collect::<Vec<_>>()
            )],
            _ => Vec::new(),
        };
    }
    let Some(services) = &plan.services else {
        return vec!["compose: the plan has no `services` list".into()];
    };
    let by_name: BTreeMap<&str, &PlanService> =
        services.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut problems = Vec::new();
    for (what, flags) in [
        ("no profile", &[][..]),
        ("--profile '*'", &["--profile", "*"][..]),
    ] {
        let images = match compose_images(dir, env, flags) {
            Ok(i) => i,
            Err(e) => {
                problems.push(format!("compose ({what}): {e}"));
                continue;
            }
        };
        if !flags.is_empty() {
            let got: BTreeSet<&str> = images.keys().map(String::as_str).collect();
            let want: BTreeSet<&str> = by_name.keys().copied().collect();
            if got != want {
                problems.push(format!(
                    "compose ({what}): services {got:?}, the plan's {want:?}"
                ));
            }
        }
        for (name, image) in &images {
            let Some(p) = by_name.get(name.as_str()) else {
                continue;
            };
            let Some(image) = image else {
                problems.push(format!("compose ({what}) service `{name}`: no image"));
                continue;
            };
            if *image != p.image {
                problems.push(format!(
                    "compose ({what}) service `{name}`: image\n    compose: {image}\n    plan:    {}",
                    p.image
                ));
            }
            if let Some(target) = &p.target
                && !image.starts_with("localhost/")
            {
                let refs = plan.targets.get(target).map(|t| &t.refs);
                if !refs.is_some_and(|r| r.contains(image)) {
                    problems.push(format!(
                        "compose ({what}) service `{name}`: image {image} is not a planned ref of target `{target}`: {refs:?}"
                    ));
                }
            }
        }
    }
    problems
}

/// Every generated file under `dir` (relative paths), except the spec.
fn generated_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if rel != "specc.kdl" {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

/// Chart name -> its generated values, found by the file's header comment.
fn helm_values(dir: &Path) -> Result<BTreeMap<String, Yaml>, String> {
    let mut out = BTreeMap::new();
    for rel in generated_files(dir) {
        if !rel.ends_with("values.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&rel)).map_err(|e| format!("{rel}: {e}"))?;
        let chart = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.split("Values for chart `").nth(1)?.split('`').next())
            .ok_or_else(|| format!("{rel} does not say which chart it is for"))?
            .to_string();
        let yaml: Yaml =
            serde_yaml_ng::from_str(&text).map_err(|e| format!("{rel} is not YAML: {e}"))?;
        out.insert(chart, yaml);
    }
    Ok(out)
}

/// The values' `repository` and `tag` at each chart key against the plan's `charts[]`.
fn compare_helm(values: &BTreeMap<String, Yaml>, plan: &Plan) -> Vec<String> {
    let Some(charts) = &plan.charts else {
        return if values.is_empty() {
            Vec::new()
        } else {
            vec!["helm: values were generated, but the plan has no `charts` list".into()]
        };
    };
    let mut problems = Vec::new();
    for c in charts {
        let Some(doc) = values.get(&c.chart) else {
            problems.push(format!("helm: no values file for chart `{}`", c.chart));
            continue;
        };
        let at = c.key.split('.').fold(Some(doc), |v, k| v?.get(k));
        let field = |f: &str| at.and_then(|m| m.get(f)).and_then(Yaml::as_str);
        let got = (field("repository"), field("tag"));
        if got != (Some(c.repository.as_str()), Some(c.tag.as_str())) {
            problems.push(format!(
                "helm chart `{}` key {}: values {got:?}, plan ({:?}, {:?})",
                c.chart, c.key, c.repository, c.tag
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// Workflows: the version step, run with bash
// ---------------------------------------------------------------------------------------

/// What the runner provides for one kind of event.
struct Event {
    what: &'static str,
    name: &'static str,
    ref_type: &'static str,
    ref_name: String,
    /// `${{ }}` values beyond the defaults of [`expressions`].
    expressions: Vec<(&'static str, String)>,
    /// The plan flags this event means.
    plan_args: Vec<String>,
}

fn release_args() -> Vec<String> {
    ["--set-version", "9.8.7", "--sha", SHA]
        .map(String::from)
        .to_vec()
}

/// The events `on` triggers, with a ref each one's filters accept.
fn events(on: &Yaml) -> Vec<Event> {
    let mut out = Vec::new();
    let push = on.get("push");
    if push.and_then(|p| p.get("tags")).is_some() {
        out.push(Event {
            what: "tag push v9.8.7",
            name: "push",
            ref_type: "tag",
            ref_name: "v9.8.7".into(),
            expressions: Vec::new(),
            plan_args: release_args(),
        });
    }
    if on.get("release").is_some() {
        out.push(Event {
            what: "release v9.8.7",
            name: "release",
            ref_type: "tag",
            ref_name: "v9.8.7".into(),
            expressions: vec![("github.event.release.tag_name", "v9.8.7".into())],
            plan_args: release_args(),
        });
    }
    if on.get("workflow_dispatch").is_some() {
        out.push(Event {
            what: "dispatch with version v9.8.7",
            name: "workflow_dispatch",
            ref_type: "branch",
            ref_name: "main".into(),
            expressions: vec![("inputs.version", "v9.8.7".into())],
            plan_args: release_args(),
        });
    }
    if let Some(branches) = push.and_then(|p| p.get("branches")) {
        let pattern = branches
            .as_sequence()
            .and_then(|s| s.first())
            .and_then(Yaml::as_str)
            .unwrap_or("feature/x");
        let branch = pattern.replace("**", "x").replace('*', "x");
        let branch = if branch == "x" {
            "feature/x".into()
        } else {
            branch
        };
        out.push(Event {
            what: "branch push",
            name: "push",
            ref_type: "branch",
            ref_name: branch.clone(),
            expressions: Vec::new(),
            plan_args: ["--branch", &branch, "--sha", SHA]
                .map(String::from)
                .to_vec(),
        });
    }
    out
}

/// The runner's own variables for `event`.
fn runner_env(event: &Event) -> BTreeMap<String, String> {
    let kind = if event.ref_type == "tag" {
        "tags"
    } else {
        "heads"
    };
    [
        ("GITHUB_ACTIONS", "true".to_string()),
        ("CI", "true".to_string()),
        ("GITHUB_EVENT_NAME", event.name.to_string()),
        ("GITHUB_REF", format!("refs/{kind}/{}", event.ref_name)),
        ("GITHUB_REF_NAME", event.ref_name.clone()),
        ("GITHUB_REF_TYPE", event.ref_type.to_string()),
        ("GITHUB_SHA", SHA.to_string()),
        ("GITHUB_REPOSITORY_OWNER", OWNER.to_string()),
        ("GITHUB_REPOSITORY", format!("{OWNER}/app")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `${{ expr }}` replaced as GitHub would for `event`: secrets are [`USER`], the owner
/// [`OWNER`]; anything else unknown (an absent input) is empty.
fn resolve(value: &str, event: &Event) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}").map(|e| start + e) else {
            break;
        };
        let expr = rest[start + 3..end].trim();
        let known = event.expressions.iter().find(|(k, _)| *k == expr);
        let value = match known {
            Some((_, v)) => v.clone(),
            None if expr.starts_with("secrets.") => USER.into(),
            None if expr == "github.repository_owner" => OWNER.into(),
            None if expr == "github.sha" => SHA.into(),
            None if expr == "github.ref_name" => event.ref_name.clone(),
            None => String::new(),
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn env_of(v: &Yaml, event: &Event) -> BTreeMap<String, String> {
    v.get("env")
        .and_then(Yaml::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let v = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Bool(b) => b.to_string(),
                Yaml::Number(n) => n.to_string(),
                _ => String::new(),
            };
            Some((k.as_str()?.to_string(), resolve(&v, event)))
        })
        .collect()
}

/// `KEY=VALUE` lines and `KEY<<DELIM ... DELIM` blocks, as GitHub reads `$GITHUB_ENV`.
fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delim)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            out.insert(key.to_string(), value.join("\n"));
        } else if let Some((key, value)) = line.split_once('=') {
            out.insert(key.to_string(), value.to_string());
        }
    }
    out
}

/// Runs the version step's script as GitHub does (`bash --noprofile --norc -eo pipefail`)
/// with `env`; returns what it wrote to `$GITHUB_ENV`.
fn run_version_step(
    script: &str,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let github_env = tmp.path().join("github_env");
    let script_path = tmp.path().join("step.sh");
    std::fs::write(&github_env, "").map_err(|e| e.to_string())?;
    std::fs::write(&script_path, script).map_err(|e| e.to_string())?;
    let mut env = env.clone();
    env.insert(
        "GITHUB_ENV".into(),
        github_env.to_string_lossy().into_owned(),
    );
    env.insert(
        "GITHUB_OUTPUT".into(),
        tmp.path()
            .join("github_output")
            .to_string_lossy()
            .into_owned(),
    );
    let path = script_path.to_string_lossy().into_owned();
    let out = run_clean(
        tmp.path(),
        "bash",
        &["--noprofile", "--norc", "-eo", "pipefail", &path],
        &env,
    );
    if !out.status.success() {
        return Err(format!("the version step failed: {out}"));
    }
    Ok(parse_env_file(
        &std::fs::read_to_string(&github_env).map_err(|e| e.to_string())?,
    ))
}

/// Each workflow's version step, for each event it triggers on, against the plan.
fn compare_workflows(dir: &Path, bake_text: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    for rel in generated_files(dir) {
        if !rel.starts_with(".github/workflows/") {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&rel)).unwrap_or_default();
        let doc: Yaml = match serde_yaml_ng::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{rel} is not YAML: {e}"));
                continue;
            }
        };
        let jobs: Vec<&Yaml> = doc
            .get("jobs")
            .and_then(Yaml::as_mapping)
            .into_iter()
            .flatten()
            .map(|(_, j)| j)
            .collect();
        for job in jobs {
            let steps: Vec<&Yaml> = job
                .get("steps")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
                .collect();
            let pushes: Vec<&&Yaml> = steps
                .iter()
                .filter(|s| {
                    s.get("uses")
                        .and_then(Yaml::as_str)
                        .is_some_and(|u| u.starts_with("docker/bake-action"))
                        && s.get("with")
                            .and_then(|w| w.get("push"))
                            .and_then(Yaml::as_bool)
                            == Some(true)
                })
                .collect();
            if pushes.is_empty() {
                continue;
            }
            let Some(step) = steps
                .iter()
                .find(|s| s.get("name").and_then(Yaml::as_str) == Some(VERSION_STEP))
            else {
                problems.push(format!(
                    "{rel}: a job pushes images but has no step named `{VERSION_STEP}`"
                ));
                continue;
            };
            let Some(bake_text) = bake_text else {
                problems.push(format!(
                    "{rel}: pushes with bake, but there is no bake file"
                ));
                continue;
            };
            let script = step.get("run").and_then(Yaml::as_str).unwrap_or_default();
            for event in events(doc.get("on").unwrap_or(&Yaml::Null)) {
                let mut env = runner_env(&event);
                env.extend(env_of(job, &event));
                let mut step_env = env.clone();
                step_env.extend(env_of(step, &event));
                let exported = match run_version_step(script, &step_env) {
                    Ok(e) => e,
                    Err(e) => {
                        problems.push(format!("{rel} ({}): {e}", event.what));
                        continue;
                    }
                };
                // What the bake step sees: the runner's and the job's variables, what
                // the version step exported, and the bake step's own.
                env.extend(exported);
                env.extend(env_of(pushes[0], &event));
                let args: Vec<&str> = event.plan_args.iter().map(String::as_str).collect();
                let plan = match plan_in(dir, &args, &env) {
                    Ok(p) => p,
                    Err(e) => {
                        problems.push(format!("{rel} ({}): {e}", event.what));
                        continue;
                    }
                };
                let evaluated = match bake::evaluated_targets(bake_text, &env) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(format!("{rel} ({}): bake: {e}", event.what));
                        continue;
                    }
                };
                for (name, p) in &plan.targets {
                    let tags: Vec<String> = evaluated
                        .get(name)
                        .map(|t| t.tags.iter().filter(|t| !is_hash_tag(t)).cloned().collect())
                        .unwrap_or_default();
                    if tags != p.refs {
                        problems.push(format!(
                            "{rel} ({}, plan {}): target `{name}` tags\n    bake: {tags:?}\n    plan: {:?}",
                            event.what,
                            args.join(" "),
                            p.refs
                        ));
                    }
                }
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// One spec through all of it
// ---------------------------------------------------------------------------------------

/// Generates `spec` into a temp folder; `Err` with what specc printed when it refuses.
fn generate(spec: &str) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("specc.kdl"), spec).map_err(|e| e.to_string())?;
    let out = run_clean(
        dir.path(),
        specc_bin(),
        &["generate", "specc.kdl"],
        &BTreeMap::new(),
    );
    if !out.status.success() {
        return Err(format!("specc generate failed: {out}"));
    }
    Ok(dir)
}

/// Every way the outputs of the generated spec in `dir` disagree with the plan.
fn problems_in(dir: &Path, spec: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let bake_text = std::fs::read_to_string(dir.join("docker-bake.hcl")).ok();
    let values = helm_values(dir).unwrap_or_else(|e| {
        problems.push(format!("helm: {e}"));
        BTreeMap::new()
    });
    for env in environments(&namespace_variables(spec)) {
        let plan = match plan_in(dir, &[], &env.vars) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("[{}] {e}", env.name));
                continue;
            }
        };
        let mut found = Vec::new();
        match &bake_text {
            Some(b) => found.extend(compare_bake(b, &env.vars, &plan)),
            None if !plan.targets.is_empty() => {
                found.push("bake: no docker-bake.hcl, but the plan has targets".into())
            }
            None => {}
        }
        found.extend(compare_compose(dir, &env.vars, &plan));
        found.extend(compare_helm(&values, &plan));
        problems.extend(found.into_iter().map(|p| format!("[{}] {p}", env.name)));
    }
    problems.extend(compare_workflows(dir, bake_text.as_deref()));
    problems
}

/// Generates and checks `spec`; a refusal to generate is a problem too.
fn problems_of(spec: &str) -> Vec<String> {
    match generate(spec) {
        Ok(dir) => problems_in(dir.path(), spec),
        Err(e) => vec![e],
    }
}

/// Panics listing `problems` per spec, when there are any.
fn assert_consistent(results: &[(String, Vec<String>)]) {
    let failing: Vec<&(String, Vec<String>)> =
        results.iter().filter(|(_, p)| !p.is_empty()).collect();
    if failing.is_empty() {
        return;
    }
    let mut report = String::new();
    for (name, problems) in &failing {
        let _ = writeln!(report, "=== {name}: {} mismatches", problems.len());
        for p in problems.iter().take(25) {
            let _ = writeln!(report, "  {p}");
        }
        if problems.len() > 25 {
            let _ = writeln!(report, "  ... and {} more", problems.len() - 25);
        }
    }
    panic!(
        "{} of {} specs have outputs that disagree with `specc plan --json`:\n{report}",
        failing.len(),
        results.len()
    );
}

fn bundled(name: &str) -> String {
    let path = repo_root().join("specs").join(format!("{name}.kdl"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

macro_rules! bundled_spec_tests {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            assert_consistent(&[(format!("specs/{}.kdl", $name), problems_of(&bundled($name)))]);
        }
    )*};
}

bundled_spec_tests! {
    comfyui_runpod_outputs_agree_with_plan => "comfyui-runpod",
    dify_outputs_agree_with_plan => "dify",
    iopaint_outputs_agree_with_plan => "iopaint",
    new_api_outputs_agree_with_plan => "new-api",
    sd_on_eks_outputs_agree_with_plan => "sd-on-eks",
}

/// The bundled specs above are all of `specs/`: a new one must get a test here.
#[test]
fn every_bundled_spec_has_a_consistency_test() {
    let names: Vec<&str> = SPECS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        crate::support::generate::spec_names(),
        names,
        "add the new spec to `bundled_spec_tests!` and to support::specgen::SPECS"
    );
}

/// `examples/*/specc.kdl`.
fn example_specs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(repo_root().join("examples"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("specc.kdl"))
        .filter(|p| p.exists())
        .map(|p: PathBuf| {
            let name = p
                .strip_prefix(repo_root())
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            (
                name,
                std::fs::read_to_string(&p).expect("read example spec"),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn examples_outputs_agree_with_plan() {
    let examples = example_specs();
    assert!(!examples.is_empty(), "no examples/*/specc.kdl found");
    let results: Vec<(String, Vec<String>)> = examples
        .into_iter()
        .map(|(name, text)| {
            let problems = problems_of(&text);
            (name, problems)
        })
        .collect();
    assert_consistent(&results);
}

/// The docs' ```kdl blocks that compile (those marked to compile cleanly or with
/// warnings only).
fn docs_specs() -> Vec<(String, String)> {
    use crate::docs::{Expect, kdl_blocks};
    let (blocks, _) = kdl_blocks();
    blocks
        .into_iter()
        .filter(|(_, expect, _)| {
            matches!(expect, Expect::Clean | Expect::Codes { fails: false, .. })
        })
        .filter(|(name, _, text)| specc::compile(name, text).is_ok())
        .map(|(name, _, text)| (name, text))
        .collect()
}

#[test]
fn docs_examples_outputs_agree_with_plan() {
    let specs = docs_specs();
    assert!(
        specs.len() >= 3,
        "only {} compiling doc blocks",
        specs.len()
    );
    let results: Vec<(String, Vec<String>)> = specs
        .into_iter()
        .map(|(name, text)| {
            let problems = problems_of(&text);
            (name, problems)
        })
        .collect();
    assert_consistent(&results);
}

/// Generated specs that `specc::compile` accepts and `specc generate` writes (a spec it
/// refuses is `check_implies_generate`'s business) agree with their plan.
#[test]
fn generated_specs_outputs_agree_with_plan() {
    let strategy =
        grammar_document().prop_filter("compiles", |text| specc::compile("fuzz.kdl", text).is_ok());
    let mut runner = TestRunner::new(config(cases(DEFAULT_CASES)));
    let result = runner.run(&strategy, |text| {
        let Ok(dir) = generate(&text) else {
            return Ok(());
        };
        let problems = problems_in(dir.path(), &text);
        prop_assert!(
            problems.is_empty(),
            "{} mismatches:\n  {}",
            problems.len(),
            problems
                .iter()
                .take(25)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, text)) => {
            panic!("a generated spec's outputs disagree with its plan: {reason}\nspec:\n{text}")
        }
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------------------
// Negative controls: the comparisons catch what they are for
// ---------------------------------------------------------------------------------------

/// A one-target plan with refs `refs`.
fn plan_with(refs: &[&str]) -> Plan {
    let mut plan = Plan::default();
    plan.targets.insert(
        "app".into(),
        PlanTarget {
            platforms: vec!["linux/amd64".into()],
            args: BTreeMap::new(),
            refs: refs.iter().map(|r| r.to_string()).collect(),
        },
    );
    plan
}

fn bake_with_tags(tags: &str) -> String {
    format!(
        r#"variable "VERSION" {{
  default = "1.0.0"
}}
variable "DOCKERHUB_USERNAME" {{
  default = ""
}}
variable "GITHUB_REPOSITORY_OWNER" {{
  default = "app"
}}
target "app" {{
  platforms = ["linux/amd64"]
  tags = [{tags}]
}}
"#
    )
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A tag written `${VERSION}` without `trimprefix` gives `vv9.8.7`-style tags for
/// `VERSION=v9.8.7`, where the plan strips the `v`: the bake comparison reports it, and
/// the rule the contract names passes.
#[test]
fn consistency_catches_a_version_tag_without_trimprefix() {
    let env = vars(&[("VERSION", "v9.8.7")]);
    let plan = plan_with(&["docker.io/app/app:v9.8.7", "docker.io/app/app:9.8.7"]);
    let naive =
        bake_with_tags(r#""docker.io/app/app:v${VERSION}", "docker.io/app/app:${VERSION}""#);
    let problems = compare_bake(&naive, &env, &plan);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("vv9.8.7"), "{problems:?}");

    let right = bake_with_tags(
        r#""docker.io/app/app:v${trimprefix(VERSION, "v")}", "docker.io/app/app:${trimprefix(VERSION, "v")}""#,
    );
    assert_eq!(compare_bake(&right, &env, &plan), Vec::<String>::new());
}

/// buildx takes a SET environment variable over the default even when it is empty: a
/// namespace written `${GITHUB_REPOSITORY_OWNER}` gives `docker.io//app` for
/// `GITHUB_REPOSITORY_OWNER=""`, which the comparison reports; the contract's conditional
/// falls back to the project name.
#[test]
fn consistency_catches_an_empty_namespace_variable() {
    let plan = plan_with(&["docker.io/app/app:1.0.0"]);
    let env = vars(&[("GITHUB_REPOSITORY_OWNER", "")]);
    let naive = bake_with_tags(r#""docker.io/${lower(GITHUB_REPOSITORY_OWNER)}/app:${VERSION}""#);
    let problems = compare_bake(&naive, &env, &plan);
    assert!(
        problems.len() == 1 && problems[0].contains("docker.io//app"),
        "{problems:?}"
    );
    let right = bake_with_tags(
        r#""docker.io/${lower(DOCKERHUB_USERNAME != "" ? DOCKERHUB_USERNAME : GITHUB_REPOSITORY_OWNER != "" ? GITHUB_REPOSITORY_OWNER : "app")}/app:${VERSION}""#,
    );
    assert_eq!(compare_bake(&right, &env, &plan), Vec::<String>::new());
    // Unset, the default applies; mixed case is lower-cased.
    let plan_user = plan_with(&["docker.io/janedoe/app:1.0.0"]);
    assert_eq!(
        compare_bake(&right, &BTreeMap::new(), &plan),
        Vec::<String>::new()
    );
    assert_eq!(
        compare_bake(&right, &vars(&[("DOCKERHUB_USERNAME", USER)]), &plan_user),
        Vec::<String>::new()
    );
}

/// The evaluator's functions follow go-cty: `regex_replace` takes Go's `$1`/`${1}`
/// replacement syntax (`$1a` names the group `1a`, which does not exist: empty),
/// `trimprefix` removes one prefix, `lower` lower-cases; an unknown function fails.
#[test]
fn consistency_evaluator_has_bakes_functions() {
    let eval = |expr: &str, env: &[(&str, &str)]| -> Result<String, String> {
        let text = format!(
            "variable \"V\" {{\n  default = \"v1.2.3-rc.1\"\n}}\ntarget \"t\" {{\n  tags = [{expr}]\n}}\n"
        );
        let targets = bake::evaluated_targets(&text, &vars(env))?;
        Ok(targets["t"].tags[0].clone())
    };
    let ok = |expr: &str, env: &[(&str, &str)]| eval(expr, env).unwrap();
    assert_eq!(
        ok(r#"regex_replace(V, "^v?([0-9]+)\\..*$", "$1")"#, &[]),
        "1"
    );
    assert_eq!(
        ok(r#"regex_replace(V, "^v?([0-9]+)\\..*$", "${1}a")"#, &[]),
        "1a"
    );
    assert_eq!(
        ok(r#"regex_replace(V, "^v?([0-9]+)\\..*$", "$1a")"#, &[]),
        ""
    );
    assert_eq!(ok(r#"regex_replace(V, "[.]", "$$")"#, &[]), "v1$2$3-rc$1");
    assert_eq!(ok(r#"trimprefix(V, "v")"#, &[("V", "vv9")]), "v9");
    assert_eq!(ok(r#"lower(V)"#, &[("V", "JaneDoe")]), "janedoe");
    assert_eq!(ok(r#"V != "" ? V : "x""#, &[("V", "")]), "x");
    assert!(eval(r#"nosuchfunction(V)"#, &[]).is_err());
    // A variable without a default is its environment variable, or empty.
    let text = "variable \"X\" {}\ntarget \"t\" {\n  tags = [\"a:${X}\"]\n}\n";
    assert_eq!(
        bake::evaluated_targets(text, &BTreeMap::new()).unwrap()["t"].tags,
        ["a:"]
    );
    assert_eq!(
        bake::evaluated_targets(text, &vars(&[("X", "1")])).unwrap()["t"].tags,
        ["a:1"]
    );
}

/// Compose's comparison reports an image that is not the plan's, and one that is not a
/// planned ref of its target (the real `docker-compose` resolves the file).
#[test]
fn consistency_catches_a_compose_image_the_plan_does_not_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  app:\n    image: \"docker.io/${DOCKERHUB_USERNAME:-app}/app:1.0.0\"\n",
    )
    .unwrap();
    let mut plan = plan_with(&["docker.io/janedoe/app:1.0.0"]);
    plan.services = Some(vec![PlanService {
        name: "app".into(),
        target: Some("app".into()),
        image: "docker.io/janedoe/app:1.0.0".into(),
    }]);
    let env = vars(&[("DOCKERHUB_USERNAME", USER)]);
    let problems = compare_compose(dir.path(), &env, &plan);
    // Not lower-cased: wrong image and not a planned ref, with and without profiles.
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(
        problems[0].contains("docker.io/JaneDoe/app:1.0.0"),
        "{problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// check implies generate (acceptance 4)
// ---------------------------------------------------------------------------------------

/// Files every output parse-back must accept, beside the spec: a small build context.
const CONTEXT: &[(&str, &str)] = &[
    ("README.md", "readme"),
    ("requirements.txt", "flask\n"),
    ("main.py", "print('hi')\n"),
    ("web_app/package.json", "{}"),
    ("src/backend/queue_agent/main.py", "pass\n"),
];

/// When `specc check --spec-only` accepts `spec`, the problem with generating it or
/// reading its outputs back; `None` when check refuses it or all is well.
fn check_implies_generate(spec: &str) -> Option<String> {
    // The library's compile is what `check` runs; only accepted specs pay for processes.
    specc::compile("specc.kdl", spec).ok()?;
    let dir = tempfile::tempdir().expect("temp dir");
    for (rel, text) in CONTEXT {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(dir.path().join("specc.kdl"), spec).unwrap();
    let none = BTreeMap::new();
    let check = run_clean(
        dir.path(),
        specc_bin(),
        &["check", "--spec-only", "specc.kdl"],
        &none,
    );
    if !check.status.success() {
        return None;
    }
    let generate = run_clean(dir.path(), specc_bin(), &["generate", "specc.kdl"], &none);
    if !generate.status.success() {
        return Some(format!("check --spec-only accepts it, but {generate}"));
    }
    let mut problems = Vec::new();
    for rel in generated_files(dir.path()) {
        if CONTEXT.iter().any(|(c, _)| *c == rel) {
            continue;
        }
        let text = match std::fs::read_to_string(dir.path().join(&rel)) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{rel}: {e}"));
                continue;
            }
        };
        let parsed = if rel.ends_with(".yaml") || rel.ends_with(".yml") {
            serde_yaml_ng::from_str::<Yaml>(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        } else if rel.ends_with(".hcl") {
            hcl::from_str::<hcl::Body>(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        } else if rel.ends_with(".json") {
            serde_json::from_str::<Json>(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        } else if rel.ends_with("Dockerfile") {
            dockerfile_reader::parse(&text)
                .map(drop)
                .map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        if let Err(e) = parsed {
            problems.push(format!("{rel} does not parse back: {e}\n{text}"));
        }
    }
    (!problems.is_empty()).then(|| problems.join("\n"))
}

fn check_implies_generate_property(what: &str, strategy: impl Strategy<Value = String>) {
    let mut runner = TestRunner::new(Config {
        max_shrink_iters: 64,
        ..config(cases(24))
    });
    let result = runner.run(&strategy, |text| {
        if let Some(problem) = check_implies_generate(&text) {
            return Err(proptest::test_runner::TestCaseError::fail(problem));
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, text)) => panic!(
            "{what}: `specc check --spec-only` accepts a spec that does not generate: {reason}\nspec:\n{text}\n---\n{text:?}"
        ),
        Err(e) => panic!("{what}: {e}"),
    }
}

#[test]
fn check_implies_generate_for_generated_specs() {
    check_implies_generate_property("generated specs", grammar_document());
}

#[test]
fn check_implies_generate_for_mutated_bundled_specs() {
    check_implies_generate_property("mutated specs", mutated_spec());
}

/// The bundled specs themselves, and the specs issue 8 found `check` accepting and
/// `generate` refusing.
#[test]
fn check_implies_generate_for_known_cases() {
    const BASE: &str = "project demo version=\"1.0.0\"\n";
    let cases: Vec<(String, String)> = SPECS
        .iter()
        .map(|(n, t)| (format!("specs/{n}.kdl"), t.to_string()))
        .chain(
            [
                (
                    "a stage named `1build`",
                    "stage \"1build\" from=\"alpine:3.20\" {\n    run \"true\"\n}\nimage demo stage=\"1build\"\n",
                ),
                (
                    "the bake file at compose.yaml",
                    "output {\n    bake \"compose.yaml\"\n}\nstage app from=\"alpine:3.20\" {\n    run \"true\"\n}\nimage demo stage=app\nservice demo image=demo\n",
                ),
                (
                    "`$` in a COPY path",
                    "stage app from=\"alpine:3.20\" {\n    copy \"a$b.txt\" to=\"/app/\"\n}\nimage demo stage=app\n",
                ),
                (
                    "a line break in `run`",
                    "stage app from=\"alpine:3.20\" {\n    run \"echo a\\necho b\"\n}\nimage demo stage=app\n",
                ),
            ]
            .into_iter()
            .map(|(what, body)| (what.to_string(), format!("{BASE}{body}"))),
        )
        .collect();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(what, spec)| {
            check_implies_generate(spec).map(|p| format!("{what}:\n{spec}\n{p}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} specs pass `check --spec-only` but do not generate:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
