//! The workflow machinery: which jobs run in which order, their matrix legs, the
//! contexts each expression sees, and each step: `run:` scripts in a real shell with the
//! runner's files and variables, `uses:` through [`super::actions`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value as Json, json};
use serde_yaml_ng::Value as Yaml;

use super::event::{Event, TOKEN, triggers};
use super::expr::{self, Scope, Status};
use super::standin::{SERVER_VAR, Server, State};
use super::{ActionUse, JobRun, Location, Outcome, Run, StepRun, World};

const WORKFLOW_KEYS: [&str; 8] = [
    "name",
    "run-name",
    "on",
    "env",
    "defaults",
    "permissions",
    "concurrency",
    "jobs",
];
const JOB_KEYS: [&str; 14] = [
    "name",
    "needs",
    "runs-on",
    "if",
    "env",
    "outputs",
    "steps",
    "strategy",
    "permissions",
    "timeout-minutes",
    "continue-on-error",
    "concurrency",
    "environment",
    "defaults",
];
const STEP_KEYS: [&str; 11] = [
    "name",
    "id",
    "if",
    "uses",
    "run",
    "with",
    "env",
    "shell",
    "working-directory",
    "continue-on-error",
    "timeout-minutes",
];
/// The system part of every step's PATH, after the stand-ins.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An error unless every key of `map` is one of `allowed`.
fn check_keys(map: &Yaml, allowed: &[&str], what: &str) -> Result<(), String> {
    let mapping = map.as_mapping().ok_or(format!("{what} is not a mapping"))?;
    for key in mapping.keys() {
        let key = key.as_str().unwrap_or_default();
        if !allowed.contains(&key) {
            return Err(format!("{what}: `{key}` is outside the simulated subset"));
        }
    }
    Ok(())
}

/// A YAML scalar as the string GitHub reads (`true`, `3`, the text).
fn scalar(v: &Yaml) -> Result<String, String> {
    match v {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Null => Ok(String::new()),
        other => Err(format!("expected a scalar, got {other:?}")),
    }
}

/// A boolean setting (`fail-fast`, `continue-on-error`): a YAML boolean, or an
/// expression.
fn flag(v: Option<&Yaml>, scope: &Scope, default: bool) -> Result<bool, String> {
    match v {
        None => Ok(default),
        Some(Yaml::Bool(b)) => Ok(*b),
        Some(Yaml::String(s)) => match expr::interpolate(s, scope)? {
            Json::Bool(b) => Ok(b),
            Json::String(t) if t == "true" || t == "false" => Ok(t == "true"),
            other => Err(format!("`{s}` is not a boolean: {other}")),
        },
        Some(other) => Err(format!("not a boolean: {other:?}")),
    }
}

fn to_json(v: &Yaml) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

/// A job about to run its legs.
struct JobPlan {
    id: String,
    job: Yaml,
    needs: Vec<String>,
    fail_fast: bool,
    /// `continue-on-error`: a failed leg does not fail the job.
    tolerated: bool,
    total: usize,
    /// The secrets its `if` and `strategy` read.
    reads: BTreeSet<String>,
}

/// A job (leg) that ran no step: skipped, or cancelled by `fail-fast`.
fn idle_job(
    id: &str,
    job: &Yaml,
    matrix: Json,
    result: Outcome,
    reads: BTreeSet<String>,
) -> JobRun {
    JobRun {
        id: id.into(),
        name: job.get("name").and_then(Yaml::as_str).unwrap_or(id).into(),
        matrix,
        runs_on: Json::Null,
        permissions: BTreeMap::new(),
        result,
        outputs: BTreeMap::new(),
        steps: Vec::new(),
        secrets_read: reads,
    }
}

/// The result of a finished job, for `needs`.
struct JobResult {
    result: Outcome,
    outputs: BTreeMap<String, String>,
    needs: Vec<String>,
}

/// One simulated run in progress.
struct Sim<'a> {
    doc: &'a Yaml,
    /// The repository a checkout brings into a job's workspace.
    repo: PathBuf,
    event: &'a Event,
    world: &'a World,
    root: PathBuf,
    server: Server,
    secrets: BTreeMap<String, String>,
    inputs: Json,
    done: BTreeMap<String, JobResult>,
    run: Run,
    legs: usize,
    /// Steps started so far: numbers each step's files.
    counter: usize,
}

/// Runs `doc` for `event`; see [`super::run`].
pub fn run_workflow(
    doc: &Yaml,
    workspace: &Path,
    event: &Event,
    world: &World,
) -> Result<Run, String> {
    check_keys(doc, &WORKFLOW_KEYS, "the workflow")?;
    let on = doc.get("on").ok_or("the workflow has no `on:`")?;
    if !triggers(on, event)? {
        return Ok(Run::default());
    }
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let repo = workspace
        .canonicalize()
        .map_err(|e| format!("{}: {e}", workspace.display()))?;
    let state = State {
        registry: world.registry.clone(),
        open_registries: world.open_registries.clone(),
        ..State::default()
    };
    let mut sim = Sim {
        doc,
        repo,
        event,
        world,
        root: tmp.path().to_path_buf(),
        server: Server::start(tmp.path(), state)?,
        secrets: secrets(event, world),
        inputs: inputs(on, event),
        done: BTreeMap::new(),
        run: Run {
            triggered: true,
            ..Run::default()
        },
        legs: 0,
        counter: 0,
    };
    std::fs::write(sim.root.join("event.json"), event.payload().to_string())
        .map_err(|e| e.to_string())?;
    for id in job_order(doc)? {
        sim.job(&id)?;
    }
    Ok(sim.finish())
}

/// The secrets the run sees: the world's and `GITHUB_TOKEN`; a fork's pull request
/// gets only the token.
fn secrets(event: &Event, world: &World) -> BTreeMap<String, String> {
    let fork = event.pull_request.as_ref().is_some_and(|p| p.fork);
    let mut out: BTreeMap<String, String> = if fork {
        BTreeMap::new()
    } else {
        world.secrets.clone()
    };
    out.entry("GITHUB_TOKEN".into())
        .or_insert_with(|| TOKEN.into());
    out
}

/// The `inputs` context: a dispatch's inputs over the declared defaults, typed.
fn inputs(on: &Yaml, event: &Event) -> Json {
    let mut out = serde_json::Map::new();
    if event.name != "workflow_dispatch" {
        return Json::Object(out);
    }
    let declared = on
        .get("workflow_dispatch")
        .and_then(|d| d.get("inputs"))
        .and_then(Yaml::as_mapping);
    for (name, spec) in declared.into_iter().flatten() {
        let name = name.as_str().unwrap_or_default().to_string();
        let given = event
            .inputs
            .get(&name)
            .cloned()
            .or_else(|| spec.get("default").map(to_json));
        let typed = match (spec.get("type").and_then(Yaml::as_str), given) {
            (Some("boolean"), Some(v)) => json!(expr::truthy(&v) && expr::to_string(&v) != "false"),
            (_, Some(v)) => json!(expr::to_string(&v)),
            (Some("boolean"), None) => json!(false),
            (_, None) => json!(""),
        };
        out.insert(name, typed);
    }
    Json::Object(out)
}

/// `needs` of a job as a list.
fn needs_of(job: &Yaml) -> Vec<String> {
    match job.get("needs") {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Job ids in an order `needs` allows (the file's order where it leaves a choice).
fn job_order(doc: &Yaml) -> Result<Vec<String>, String> {
    let jobs = doc
        .get("jobs")
        .and_then(Yaml::as_mapping)
        .ok_or("the workflow has no `jobs:` mapping")?;
    let ids: Vec<String> = jobs
        .keys()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    let mut order: Vec<String> = Vec::new();
    while order.len() < ids.len() {
        let next = ids.iter().find(|id| {
            !order.contains(id)
                && needs_of(&jobs[id.as_str()])
                    .iter()
                    .all(|n| order.contains(n))
        });
        match next {
            Some(id) => order.push(id.clone()),
            None => {
                let left: Vec<&String> = ids.iter().filter(|i| !order.contains(i)).collect();
                return Err(format!("jobs {left:?} need unknown jobs or each other"));
            }
        }
    }
    Ok(order)
}

impl Sim<'_> {
    fn jobs(&self) -> &Yaml {
        &self.doc["jobs"]
    }

    /// The current job leg's workspace: empty until a checkout fills it, as on a fresh
    /// runner.
    fn workspace(&self) -> PathBuf {
        self.root
            .join(format!("leg{}", self.legs))
            .join("workspace")
    }

    fn workflow_name(&self) -> String {
        self.doc
            .get("name")
            .and_then(Yaml::as_str)
            .unwrap_or("workflow")
            .to_string()
    }

    fn finish(mut self) -> Run {
        self.server.stop();
        let mut s = self.server.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut run = std::mem::take(&mut self.run);
        run.calls = std::mem::take(&mut s.calls);
        run.builds = std::mem::take(&mut s.builds);
        run.pushes = std::mem::take(&mut s.pushes);
        run.manifests = std::mem::take(&mut s.manifests);
        run.logins = std::mem::take(&mut s.logins);
        run.signatures = std::mem::take(&mut s.signatures);
        run.registry = std::mem::take(&mut s.registry);
        run.secrets_read = run
            .jobs
            .iter()
            .flat_map(|j| {
                j.secrets_read
                    .iter()
                    .chain(j.steps.iter().flat_map(|s| &s.secrets_read))
            })
            .cloned()
            .collect();
        run.artifacts = super::actions::artifact_listing(&self.root.join("artifacts"));
        run
    }

    /// The result each job `id` needs, transitively, decides `success()`/`failure()`.
    fn needs_status(&self, needs: &[String]) -> Status {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = needs.iter().collect();
        let mut status = Status::Success;
        while let Some(n) = stack.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            let Some(r) = self.done.get(n) else { continue };
            match r.result {
                Outcome::Failure => return Status::Failure,
                Outcome::Skipped | Outcome::Cancelled => status = Status::Skipped,
                Outcome::Success => {}
            }
            stack.extend(r.needs.iter());
        }
        status
    }

    fn needs_context(&self, needs: &[String]) -> Json {
        let mut out = serde_json::Map::new();
        for n in needs {
            if let Some(r) = self.done.get(n) {
                out.insert(
                    n.clone(),
                    json!({"result": r.result.as_str(), "outputs": r.outputs}),
                );
            }
        }
        Json::Object(out)
    }

    /// A scope with the contexts every job-level expression sees.
    fn scope(&self, job: &str, needs: &[String]) -> Scope<'_> {
        let mut scope = Scope::new(&self.secrets);
        let github = self.event.github_context(
            &self.workflow_name(),
            job,
            &self.workspace().display().to_string(),
            &self.root.join("event.json").display().to_string(),
        );
        scope.contexts.insert("github", github);
        scope.contexts.insert("inputs", self.inputs.clone());
        scope.contexts.insert("vars", json!(self.world.vars));
        scope.contexts.insert("needs", self.needs_context(needs));
        scope.contexts.insert("matrix", json!({}));
        scope.contexts.insert("env", json!({}));
        scope.contexts.insert("steps", json!({}));
        scope.status = self.needs_status(needs);
        scope
    }

    fn job(&mut self, id: &str) -> Result<(), String> {
        let job = self.jobs()[id].clone();
        check_keys(&job, &JOB_KEYS, &format!("job `{id}`"))?;
        let needs = needs_of(&job);
        let scope = self.scope(id, &needs);
        let condition = match job.get("if") {
            Some(c) => scalar(c)?,
            None => "success()".into(),
        };
        let runs =
            expr::condition(&condition, &scope).map_err(|e| format!("job `{id}` if: {e}"))?;
        if !runs {
            let skipped = idle_job(
                id,
                &job,
                Json::Null,
                Outcome::Skipped,
                scope.secrets_read.take(),
            );
            self.run.jobs.push(skipped);
            let result = JobResult {
                result: Outcome::Skipped,
                outputs: BTreeMap::new(),
                needs,
            };
            self.done.insert(id.into(), result);
            return Ok(());
        }
        let legs = self
            .matrix_legs(&job, &scope)
            .map_err(|e| format!("job `{id}` strategy: {e}"))?;
        let fail_fast = flag(
            job.get("strategy").and_then(|s| s.get("fail-fast")),
            &scope,
            true,
        )?;
        let tolerated = flag(job.get("continue-on-error"), &scope, false)?;
        let plan = JobPlan {
            id: id.into(),
            tolerated,
            total: legs.len(),
            job,
            needs,
            fail_fast,
            reads: scope.secrets_read.take(),
        };
        drop(scope);
        self.run_legs(plan, legs)
    }

    fn run_legs(&mut self, plan: JobPlan, legs: Vec<Json>) -> Result<(), String> {
        let mut result = Outcome::Success;
        let mut outputs = BTreeMap::new();
        for (index, matrix) in legs.into_iter().enumerate() {
            if result == Outcome::Failure && plan.fail_fast {
                let cancelled = idle_job(
                    &plan.id,
                    &plan.job,
                    matrix,
                    Outcome::Cancelled,
                    BTreeSet::new(),
                );
                self.run.jobs.push(cancelled);
                continue;
            }
            let leg = self.leg(&plan, matrix, index)?;
            if leg.result == Outcome::Failure {
                result = Outcome::Failure;
            }
            // The last leg to set an output wins.
            outputs.extend(
                leg.outputs
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            self.run.jobs.push(leg);
        }
        if plan.tolerated {
            result = Outcome::Success;
        }
        let done = JobResult {
            result,
            outputs,
            needs: plan.needs,
        };
        self.done.insert(plan.id, done);
        Ok(())
    }

    /// The matrix legs of `job` (one `null` leg without a matrix).
    fn matrix_legs(&self, job: &Yaml, scope: &Scope) -> Result<Vec<Json>, String> {
        let Some(strategy) = job.get("strategy") else {
            return Ok(vec![Json::Null]);
        };
        check_keys(
            strategy,
            &["matrix", "fail-fast", "max-parallel"],
            "strategy",
        )?;
        let Some(matrix) = strategy.get("matrix") else {
            return Ok(vec![Json::Null]);
        };
        let value = evaluate_yaml(matrix, scope)?;
        let legs = expand_matrix(&value)?;
        if legs.is_empty() {
            return Err(format!("the matrix {value} has no combination"));
        }
        Ok(legs)
    }
}

/// A YAML value with every string's expressions evaluated (a string that is one
/// expression keeps its type).
fn evaluate_yaml(v: &Yaml, scope: &Scope) -> Result<Json, String> {
    Ok(match v {
        Yaml::String(s) => expr::interpolate(s, scope)?,
        Yaml::Sequence(items) => Json::Array(
            items
                .iter()
                .map(|i| evaluate_yaml(i, scope))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(scalar(k)?, evaluate_yaml(v, scope)?);
            }
            Json::Object(out)
        }
        other => to_json(other),
    })
}

/// GitHub's matrix expansion: the product of the axes, minus `exclude` (partial
/// matches), then each `include` entry merged into every combination whose original
/// values it does not change, or added as a combination of its own.
pub fn expand_matrix(matrix: &Json) -> Result<Vec<Json>, String> {
    let map = matrix
        .as_object()
        .ok_or(format!("the matrix is not a mapping: {matrix}"))?;
    let mut combos: Vec<serde_json::Map<String, Json>> = vec![serde_json::Map::new()];
    let mut has_axes = false;
    for (axis, values) in map
        .iter()
        .filter(|(k, _)| *k != "include" && *k != "exclude")
    {
        let values = values
            .as_array()
            .ok_or(format!("matrix axis `{axis}` is not a list"))?;
        if values.is_empty() {
            return Err(format!("matrix axis `{axis}` is empty"));
        }
        has_axes = true;
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(axis.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    if !has_axes {
        combos.clear();
    }
    let list = |key: &str| {
        map.get(key)
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let excluded = |c: &serde_json::Map<String, Json>| {
        list("exclude")
            .iter()
            .filter_map(Json::as_object)
            .any(|e| e.iter().all(|(k, v)| c.get(k) == Some(v)))
    };
    combos.retain(|c| !excluded(c));
    let originals: Vec<serde_json::Map<String, Json>> = combos.clone();
    for entry in list("include") {
        let entry = entry
            .as_object()
            .ok_or("a matrix `include` entry is not a mapping")?;
        let mut merged = false;
        for (combo, original) in combos.iter_mut().zip(&originals) {
            if entry
                .iter()
                .all(|(k, v)| original.get(k).is_none_or(|o| o == v))
            {
                combo.extend(entry.clone());
                merged = true;
            }
        }
        if !merged {
            combos.push(entry.clone());
        }
    }
    Ok(combos.into_iter().map(Json::Object).collect())
}

/// The architecture a `runs-on` value gets: ARM64 for a label naming arm.
fn arch_of(runs_on: &Json) -> &'static str {
    let labels = match runs_on {
        Json::Array(items) => items.iter().map(expr::to_string).collect::<Vec<_>>(),
        other => vec![expr::to_string(other)],
    };
    if labels.iter().any(|l| l.to_lowercase().contains("arm")) {
        "arm64"
    } else {
        "amd64"
    }
}

/// `permissions:` as scope -> level (`read-all`/`write-all` as `*`).
fn permissions(v: Option<&Yaml>) -> BTreeMap<String, String> {
    match v {
        Some(Yaml::String(all)) => {
            BTreeMap::from([("*".to_string(), all.trim_end_matches("-all").to_string())])
        }
        Some(Yaml::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// One job leg on a fresh runner.
pub struct Leg {
    pub job: String,
    pub matrix_label: String,
    pub dir: PathBuf,
    pub global_env: BTreeMap<String, String>,
    pub path_additions: Vec<String>,
    pub status: Status,
    pub steps: serde_json::Map<String, Json>,
    pub permissions: BTreeMap<String, String>,
    pub arch: &'static str,
    pub secrets_read: BTreeSet<String>,
    pub contexts: BTreeMap<&'static str, Json>,
}

impl Sim<'_> {
    fn leg(&mut self, plan: &JobPlan, matrix: Json, index: usize) -> Result<JobRun, String> {
        self.legs += 1;
        let dir = self.root.join(format!("leg{}", self.legs));
        for sub in ["temp", "tool_cache", "home", "files", "workspace"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        let (mut scope, runs_on) = self.leg_scope(plan, &matrix, index, &dir)?;
        let mut global_env = BTreeMap::new();
        for source in [self.doc.get("env"), plan.job.get("env")]
            .into_iter()
            .flatten()
        {
            scope.contexts.insert("env", json!(global_env));
            global_env.extend(evaluate_env(source, &scope)?);
        }
        let name = match plan.job.get("name") {
            Some(n) => expr::to_string(&expr::interpolate(&scalar(n)?, &scope)?),
            None => plan.id.clone(),
        };
        let mut leg = Leg {
            job: plan.id.clone(),
            matrix_label: if matrix.is_null() {
                String::new()
            } else {
                matrix.to_string()
            },
            dir,
            global_env,
            path_additions: Vec::new(),
            status: Status::Success,
            steps: serde_json::Map::new(),
            permissions: permissions(plan.job.get("permissions").or(self.doc.get("permissions"))),
            arch: arch_of(&runs_on),
            secrets_read: plan
                .reads
                .iter()
                .cloned()
                .chain(scope.secrets_read.take())
                .collect(),
            contexts: scope.contexts.clone(),
        };
        drop(scope);
        self.fresh_runner(&leg);
        let steps = self.steps(&plan.job, &mut leg)?;
        let outputs = self.job_outputs(&plan.job, &mut leg)?;
        Ok(JobRun {
            id: plan.id.clone(),
            name,
            matrix,
            runs_on,
            permissions: leg.permissions,
            result: if leg.status == Status::Success {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            outputs,
            steps,
            secrets_read: leg.secrets_read,
        })
    }

    /// The contexts of a leg's job-level expressions, and its `runs-on`.
    fn leg_scope(
        &self,
        plan: &JobPlan,
        matrix: &Json,
        index: usize,
        dir: &Path,
    ) -> Result<(Scope<'_>, Json), String> {
        let mut scope = self.scope(&plan.id, &plan.needs);
        scope.status = Status::Success;
        let matrix_ctx = if matrix.is_null() {
            json!({})
        } else {
            matrix.clone()
        };
        scope.contexts.insert("matrix", matrix_ctx);
        let strategy = json!({"fail-fast": plan.fail_fast, "job-index": index, "job-total": plan.total, "max-parallel": plan.total});
        scope.contexts.insert("strategy", strategy);
        let runs_on = match plan.job.get("runs-on") {
            Some(v) => evaluate_yaml(v, &scope)?,
            None => return Err(format!("job `{}` has no runs-on", plan.id)),
        };
        scope
            .contexts
            .insert("runner", runner_context(dir, arch_of(&runs_on)));
        scope.contexts.insert(
            "job",
            json!({"status": "success", "container": {}, "services": {}}),
        );
        Ok((scope, runs_on))
    }

    /// A new machine: no logins, no local images, the leg's architecture.
    fn fresh_runner(&self, leg: &Leg) {
        let mut s = self.server.state.lock().unwrap_or_else(|e| e.into_inner());
        s.workspace = self.workspace();
        s.leg = super::standin::Leg {
            arch: leg.arch.to_string(),
            ..Default::default()
        };
    }

    fn job_outputs(&self, job: &Yaml, leg: &mut Leg) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        let Some(outputs) = job.get("outputs").and_then(Yaml::as_mapping) else {
            return Ok(out);
        };
        let scope = leg.scope(&self.secrets, &leg.global_env);
        for (k, v) in outputs {
            let value = expr::to_string(&expr::interpolate(&scalar(v)?, &scope)?);
            out.insert(scalar(k)?, value);
        }
        leg.secrets_read.extend(scope.secrets_read.take());
        Ok(out)
    }

    fn steps(&mut self, job: &Yaml, leg: &mut Leg) -> Result<Vec<StepRun>, String> {
        let steps = job
            .get("steps")
            .and_then(Yaml::as_sequence)
            .ok_or(format!("job `{}` has no steps", leg.job))?;
        let mut out = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let run = self
                .step(step, i, job, leg)
                .map_err(|e| format!("job `{}` step {}: {e}", leg.job, i + 1))?;
            if let Some(id) = &run.id {
                leg.steps.insert(
                    id.clone(),
                    json!({"outcome": run.outcome.as_str(), "conclusion": run.conclusion.as_str(), "outputs": run.outputs}),
                );
            }
            if run.conclusion == Outcome::Failure {
                leg.status = Status::Failure;
            }
            out.push(run);
        }
        Ok(out)
    }
}

fn runner_context(dir: &Path, arch: &str) -> Json {
    json!({
        "os": "Linux",
        "arch": if arch == "arm64" { "ARM64" } else { "X64" },
        "name": "simulated-runner",
        "environment": "github-hosted",
        "temp": dir.join("temp"),
        "tool_cache": dir.join("tool_cache"),
        "debug": "",
    })
}

/// An `env:` mapping evaluated to strings.
fn evaluate_env(env: &Yaml, scope: &Scope) -> Result<BTreeMap<String, String>, String> {
    let map = env.as_mapping().ok_or("`env:` is not a mapping")?;
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let value = expr::interpolate(&scalar(v)?, scope)?;
        out.insert(scalar(k)?, expr::to_string(&value));
    }
    Ok(out)
}

impl Leg {
    /// The scope of a step: the leg's contexts, `env` as given, the steps so far.
    fn scope<'s>(
        &self,
        secrets: &'s BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
    ) -> Scope<'s> {
        let mut scope = Scope::new(secrets);
        scope.contexts = self.contexts.clone();
        scope.contexts.insert("env", json!(env));
        scope
            .contexts
            .insert("steps", Json::Object(self.steps.clone()));
        let status = if self.status == Status::Success {
            "success"
        } else {
            "failure"
        };
        scope.contexts.insert(
            "job",
            json!({"status": status, "container": {}, "services": {}}),
        );
        scope.status = self.status;
        scope
    }

    fn location(&self, step: &str) -> Location {
        Location {
            job: self.job.clone(),
            matrix: self.matrix_label.clone(),
            step: step.to_string(),
        }
    }
}

/// What a step is about to do, with its expressions evaluated.
pub struct Prepared {
    pub name: String,
    pub id: Option<String>,
    pub env: BTreeMap<String, String>,
    /// The process environment: the runner's variables, the leg's, the step's.
    pub process_env: BTreeMap<String, String>,
    /// The runner's PATH (before the step's `env`), where it finds the shell.
    pub runner_path: String,
    pub files: StepFiles,
    pub continue_on_error: bool,
}

/// The runner's per-step files.
pub struct StepFiles {
    pub env: PathBuf,
    pub output: PathBuf,
    pub path: PathBuf,
    pub summary: PathBuf,
}

impl StepFiles {
    fn new(dir: &Path, n: usize) -> Result<StepFiles, String> {
        let f = |name: &str| dir.join("files").join(format!("{name}_{n}"));
        let files = StepFiles {
            env: f("set_env"),
            output: f("set_output"),
            path: f("add_path"),
            summary: f("step_summary"),
        };
        for p in [&files.env, &files.output, &files.path, &files.summary] {
            std::fs::write(p, "").map_err(|e| e.to_string())?;
        }
        Ok(files)
    }
}

/// What a step is to do, its expressions evaluated.
enum Work {
    Script {
        script: String,
        dir: PathBuf,
    },
    Uses {
        uses: String,
        with: BTreeMap<String, String>,
    },
}

impl Work {
    fn of(
        step: &Yaml,
        scope: &Scope,
        dir: impl FnOnce() -> Result<PathBuf, String>,
    ) -> Result<Work, String> {
        if let Some(script) = step.get("run") {
            let script = expr::to_string(&expr::interpolate(&scalar(script)?, scope)?);
            return Ok(Work::Script {
                script,
                dir: dir()?,
            });
        }
        let uses = step
            .get("uses")
            .ok_or("a step with neither `run` nor `uses`")?;
        let with = match step.get("with") {
            Some(w) => evaluate_env(w, scope)?,
            None => BTreeMap::new(),
        };
        Ok(Work::Uses {
            uses: scalar(uses)?,
            with,
        })
    }
}

/// An `if:` as text (`success()` when there is none).
fn condition_of(v: &Yaml) -> Result<String, String> {
    match v.get("if") {
        Some(c) => scalar(c),
        None => Ok("success()".into()),
    }
}

/// What a step did.
#[derive(Default)]
pub struct Done {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Sim<'_> {
    fn step(
        &mut self,
        step: &Yaml,
        index: usize,
        job: &Yaml,
        leg: &mut Leg,
    ) -> Result<StepRun, String> {
        check_keys(step, &STEP_KEYS, "a step")?;
        let scope = leg.scope(&self.secrets, &leg.global_env);
        let runs = expr::condition(&condition_of(step)?, &scope)?;
        let id = step.get("id").and_then(Yaml::as_str).map(String::from);
        let name = step_name(step, &scope)?;
        if !runs {
            let mut skipped = skipped_step(name, id, step);
            skipped.secrets_read = scope.secrets_read.take();
            return Ok(skipped);
        }
        let mut env = leg.global_env.clone();
        if let Some(e) = step.get("env") {
            env.extend(evaluate_env(e, &scope)?);
        }
        let mut read = scope.secrets_read.take();
        drop(scope);
        let scope = leg.scope(&self.secrets, &env);
        let work = Work::of(step, &scope, || self.working_directory(step, job, &scope))?;
        let continue_on_error = flag(step.get("continue-on-error"), &scope, false)?;
        read.extend(scope.secrets_read.take());
        drop(scope);
        self.counter += 1;
        let mut prepared = Prepared {
            name,
            id,
            env,
            process_env: BTreeMap::new(),
            runner_path: String::new(),
            files: StepFiles::new(&leg.dir, self.counter)?,
            continue_on_error,
        };
        prepared.process_env = self.process_env(leg, &prepared, index);
        prepared.runner_path = self.base_env(leg, &prepared, index)["PATH"].clone();
        self.announce(leg, &prepared, &read);
        let done = match work {
            Work::Script { script, dir } => self.run_script(step, &script, job, &dir, &prepared)?,
            Work::Uses { uses, with } => self.uses(&uses, with, leg, &prepared)?,
        };
        self.finish_step(leg, prepared, done, read, step)
    }

    /// Tells the stand-ins where they are and what the step read.
    fn announce(&self, leg: &Leg, prepared: &Prepared, read: &BTreeSet<String>) {
        let mut s = self.server.state.lock().unwrap_or_else(|e| e.into_inner());
        s.at = leg.location(&prepared.name);
        s.step_secrets = read.clone();
        s.runner_vars = self.runner_vars(leg, prepared);
    }

    fn runner_vars(&self, leg: &Leg, prepared: &Prepared) -> BTreeSet<String> {
        let mut vars: BTreeSet<String> = self.base_env(leg, prepared, 0).into_keys().collect();
        for v in prepared.env.keys() {
            vars.remove(v);
        }
        vars.insert(SERVER_VAR.into());
        vars
    }

    /// The variables the runner itself gives every step.
    fn base_env(&self, leg: &Leg, prepared: &Prepared, index: usize) -> BTreeMap<String, String> {
        let mut env = super::event::Event::github_env(&leg.contexts["github"]);
        let mut path: Vec<String> = leg.path_additions.iter().rev().cloned().collect();
        path.push(self.server.bin.display().to_string());
        path.push(SYSTEM_PATH.into());
        let runner = &leg.contexts["runner"];
        let action = prepared
            .id
            .clone()
            .unwrap_or_else(|| format!("__run_{}", index + 1));
        for (k, v) in [
            ("PATH", path.join(":")),
            ("HOME", leg.dir.join("home").display().to_string()),
            ("LANG", "C.UTF-8".into()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", expr::to_string(&runner["arch"])),
            ("RUNNER_NAME", "simulated-runner".into()),
            ("RUNNER_ENVIRONMENT", "github-hosted".into()),
            ("RUNNER_TEMP", expr::to_string(&runner["temp"])),
            ("RUNNER_TOOL_CACHE", expr::to_string(&runner["tool_cache"])),
            ("GITHUB_ACTION", action),
            ("GITHUB_ENV", prepared.files.env.display().to_string()),
            ("GITHUB_OUTPUT", prepared.files.output.display().to_string()),
            ("GITHUB_PATH", prepared.files.path.display().to_string()),
            (
                "GITHUB_STEP_SUMMARY",
                prepared.files.summary.display().to_string(),
            ),
            (SERVER_VAR, self.server.dir.display().to_string()),
        ] {
            env.insert(k.to_string(), v);
        }
        env
    }

    fn process_env(
        &self,
        leg: &Leg,
        prepared: &Prepared,
        index: usize,
    ) -> BTreeMap<String, String> {
        let mut env = self.base_env(leg, prepared, index);
        let protected: BTreeSet<String> = env
            .keys()
            .filter(|k| k.starts_with("GITHUB_") || k.starts_with("RUNNER_"))
            .cloned()
            .collect();
        for (k, v) in &prepared.env {
            if !protected.contains(k) {
                env.insert(k.clone(), v.clone());
            }
        }
        env
    }

    /// A `run:` setting (`shell`, `working-directory`) of the step, else of the job's or
    /// the workflow's `defaults.run`.
    fn run_setting(&self, step: &Yaml, job: &Yaml, key: &str) -> Option<Yaml> {
        let defaults = |doc: &Yaml| {
            doc.get("defaults")
                .and_then(|d| d.get("run"))
                .and_then(|r| r.get(key))
                .cloned()
        };
        step.get(key)
            .cloned()
            .or_else(|| defaults(job))
            .or_else(|| defaults(self.doc))
    }

    /// `working-directory` of the step or the defaults, evaluated, under the workspace.
    fn working_directory(&self, step: &Yaml, job: &Yaml, scope: &Scope) -> Result<PathBuf, String> {
        Ok(match self.run_setting(step, job, "working-directory") {
            Some(d) => self
                .workspace()
                .join(expr::to_string(&expr::interpolate(&scalar(&d)?, scope)?)),
            None => self.workspace(),
        })
    }

    fn run_script(
        &self,
        step: &Yaml,
        script: &str,
        job: &Yaml,
        cwd: &Path,
        prepared: &Prepared,
    ) -> Result<Done, String> {
        let shell = self.run_setting(step, job, "shell");
        let shell = shell.as_ref().map(scalar).transpose()?;
        if !cwd.is_dir() {
            return Ok(Done {
                ok: false,
                stdout: String::new(),
                stderr: format!(
                    "An error occurred trying to start process: the working directory '{}' does not exist\n",
                    cwd.display()
                ),
            });
        }
        let temp = PathBuf::from(&prepared.process_env["RUNNER_TEMP"]);
        let file = temp.join(format!("step_{}.sh", self.counter));
        std::fs::write(&file, script).map_err(|e| e.to_string())?;
        let argv = shell_command(shell.as_deref(), &file)?;
        // The runner finds the shell on its own PATH, whatever the step's `env` says.
        let program = which(&argv[0], &prepared.runner_path);
        let out = Command::new(&program)
            .args(&argv[1..])
            .current_dir(cwd)
            .env_clear()
            .envs(&prepared.process_env)
            .output()
            .map_err(|e| format!("start {}: {e}", argv[0]))?;
        Ok(Done {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn uses(
        &mut self,
        uses: &str,
        with: BTreeMap<String, String>,
        leg: &mut Leg,
        prepared: &Prepared,
    ) -> Result<Done, String> {
        let (action, version) = uses
            .split_once('@')
            .ok_or(format!("`uses: {uses}` has no version"))?;
        self.run.actions.push(ActionUse {
            at: leg.location(&prepared.name),
            action: action.to_string(),
            version: version.to_string(),
            with: with.clone(),
        });
        let ctx = super::actions::Context {
            action,
            with: &with,
            env: &prepared.process_env,
            workspace: &self.workspace(),
            repo: &self.repo,
            artifacts: self.root.join("artifacts"),
            permissions: &leg.permissions,
            state: &self.server.state,
            files: &prepared.files,
            private: self.event.private,
        };
        let result = super::actions::run(&ctx)?;
        self.run.warnings.extend(
            result
                .warnings
                .iter()
                .map(|w| format!("[{}] {w}", leg.location(&prepared.name))),
        );
        Ok(result.done)
    }

    fn finish_step(
        &mut self,
        leg: &mut Leg,
        prepared: Prepared,
        done: Done,
        read: BTreeSet<String>,
        step: &Yaml,
    ) -> Result<StepRun, String> {
        let read_file = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let exported = super::parse_env_file(&read_file(&prepared.files.env))
            .map_err(|e| format!("GITHUB_ENV: {e}"))?;
        let outputs = super::parse_env_file(&read_file(&prepared.files.output))
            .map_err(|e| format!("GITHUB_OUTPUT: {e}"))?;
        leg.global_env.extend(exported);
        leg.path_additions.extend(
            read_file(&prepared.files.path)
                .lines()
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
        let outcome = if done.ok {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let conclusion = if done.ok || prepared.continue_on_error {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        Ok(StepRun {
            name: prepared.name,
            id: prepared.id,
            uses: step.get("uses").and_then(Yaml::as_str).map(String::from),
            outcome,
            conclusion,
            outputs,
            stdout: done.stdout,
            stderr: done.stderr,
            summary: read_file(&prepared.files.summary),
            secrets_read: read,
        })
    }
}

/// `program` found in the folders of `path`, or as given.
fn which(program: &str, path: &str) -> PathBuf {
    path.split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

/// The command GitHub runs a script file with, for `shell:` (none: `bash -e`).
fn shell_command(shell: Option<&str>, file: &Path) -> Result<Vec<String>, String> {
    let f = file.display().to_string();
    let words: Vec<String> = match shell {
        None => vec!["bash".into(), "-e".into(), f],
        Some("bash") => ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
            .iter()
            .map(|s| s.to_string())
            .chain([f])
            .collect(),
        Some("sh") => vec!["sh".into(), "-e".into(), f],
        Some("python") => vec!["python3".into(), f],
        Some(custom) if custom.contains("{0}") => custom
            .split_whitespace()
            .map(|w| w.replace("{0}", &f))
            .collect(),
        Some(other) => return Err(format!("shell `{other}` is outside the simulated subset")),
    };
    Ok(words)
}

fn step_name(step: &Yaml, scope: &Scope) -> Result<String, String> {
    if let Some(n) = step.get("name") {
        return Ok(expr::to_string(&expr::interpolate(&scalar(n)?, scope)?));
    }
    if let Some(u) = step.get("uses").and_then(Yaml::as_str) {
        return Ok(format!("Run {u}"));
    }
    let first = step
        .get("run")
        .and_then(Yaml::as_str)
        .and_then(|r| r.lines().next())
        .unwrap_or_default();
    Ok(format!("Run {first}"))
}

fn skipped_step(name: String, id: Option<String>, step: &Yaml) -> StepRun {
    StepRun {
        name,
        id,
        uses: step.get("uses").and_then(Yaml::as_str).map(String::from),
        outcome: Outcome::Skipped,
        conclusion: Outcome::Skipped,
        outputs: BTreeMap::new(),
        stdout: String::new(),
        stderr: String::new(),
        summary: String::new(),
        secrets_read: BTreeSet::new(),
    }
}
