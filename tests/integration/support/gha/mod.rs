//! A small local GitHub Actions runner for the workflows specc generates: it runs a
//! workflow's jobs for one [`Event`] the way GitHub would, with stand-ins for the
//! commands that reach registries, and reports what they were asked to do ([`Run`]).
//!
//! Real:
//! - every `run:` step runs in real bash (`bash --noprofile --norc -eo pipefail` for
//!   `shell: bash`, `bash -e` when no shell is given, as GitHub does; `sh`, `python` and
//!   `{0}` templates too), in the repository folder as workspace, with the `GITHUB_ENV`,
//!   `GITHUB_OUTPUT`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY` files and the `GITHUB_*` /
//!   `RUNNER_*` variables, in the job leg's workspace (empty until `actions/checkout`
//!   copies the repository in);
//! - `specc` is the binary under test; `git`, coreutils and the rest of the system stay;
//! - bake files are evaluated with [`super::bake::evaluate`] (hcl-rs with bake's
//!   functions and variable rules), so a bake call pushes the tags buildx would.
//!
//! Emulated:
//! - the workflow machinery ([`runner`]): `on:` filters, jobs in the order `needs` gives,
//!   job and step `if:`, `strategy.matrix` (axes, `include`, `exclude`, `fromJSON`),
//!   `fail-fast`, `continue-on-error`, `env` at every level, step and job outputs (the
//!   last matrix leg to write one wins), `defaults.run`, `working-directory`,
//!   `permissions` (read by the actions that need `id-token`); `timeout-minutes` and
//!   `concurrency` are ignored; every job leg gets a fresh "runner" (no logins, no local
//!   images); the `${{ }}` language is [`expr`];
//! - `uses:` actions, from a fixed table ([`actions`]); an action not in it is an error;
//!   post-steps (logouts) are not run;
//! - `docker`, `aws`, `cosign`, `helm`, `curl`, `pip`, `pipx` and `sleep` ([`standin`],
//!   [`docker`]): scripts first on PATH hand each call to this process, which records it
//!   and answers from a fake registry (repository -> tag -> digest). Digests are
//!   deterministic fakes. A push needs a login to its registry in the same job leg
//!   (unless the [`World`] opens that registry), an ECR push an existing repository, an
//!   `aws` call credentials: as in the real tools.
//!
//! Anything outside this subset (an unknown key, expression syntax, action or stand-in
//! subcommand) is an error or a failed step, never silently ignored.
//!
//! A test calls [`run`] with the workflow file, the repository folder, the event and a
//! [`World`], and compares the [`Run`] (its registry, builds, pushes, manifests, logins
//! and secret reads) with `specc plan`.

pub mod actions;
pub mod docker;
pub mod event;
pub mod expr;
pub mod runner;
pub mod standin;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value as Json;

pub use event::{Event, SHA};

/// What exists around the run: secrets, variables, and the registries' state before it.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// Repository secrets by name (`GITHUB_TOKEN` is always there).
    pub secrets: BTreeMap<String, String>,
    /// Repository variables (`vars`).
    pub vars: BTreeMap<String, String>,
    pub registry: Registry,
    /// Registry hosts that take pushes without a login (a local registry).
    pub open_registries: BTreeSet<String>,
}

impl World {
    pub fn new() -> World {
        World::default()
    }

    pub fn secret(mut self, name: &str, value: &str) -> World {
        self.secrets.insert(name.into(), value.into());
        self
    }

    pub fn var(mut self, name: &str, value: &str) -> World {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// An image already in a registry (`repo:tag`), with a digest made from its name.
    pub fn image(mut self, reference: &str) -> World {
        let (repo, tag) = docker::split_reference(reference);
        let digest = docker::fake_digest(&["existing", reference]);
        self.registry.put(&repo, tag.as_deref(), &digest);
        self
    }

    /// A registry host that takes pushes without a login.
    pub fn open_registry(mut self, host: &str) -> World {
        self.open_registries.insert(host.into());
        self
    }

    /// An (empty) ECR repository, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`.
    pub fn ecr_repository(mut self, repository: &str) -> World {
        self.registry
            .repositories
            .entry(repository.into())
            .or_default();
        self
    }
}

/// The fake registries: repository (`host/path`) -> its tags and manifests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    pub repositories: BTreeMap<String, Repository>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repository {
    /// Tag -> digest.
    pub tags: BTreeMap<String, String>,
    /// Every manifest digest pushed, tagged or not (a push by digest adds only here).
    pub manifests: BTreeSet<String>,
}

impl Registry {
    /// Every `repository:tag`, sorted.
    pub fn refs(&self) -> BTreeSet<String> {
        self.repositories
            .iter()
            .flat_map(|(repo, r)| r.tags.keys().map(move |t| format!("{repo}:{t}")))
            .collect()
    }

    /// The digest `reference` (`repo:tag`, `repo@sha256:...`) names, when it exists.
    pub fn resolve(&self, reference: &str) -> Option<String> {
        if let Some((repo, digest)) = reference.split_once('@') {
            let r = self.repositories.get(repo)?;
            return r.manifests.contains(digest).then(|| digest.to_string());
        }
        let (repo, tag) = docker::split_reference(reference);
        let r = self.repositories.get(&repo)?;
        r.tags.get(tag.as_deref().unwrap_or("latest")).cloned()
    }

    /// Stores `digest` in `repo`, under `tag` when given.
    pub fn put(&mut self, repo: &str, tag: Option<&str>, digest: &str) {
        let r = self.repositories.entry(repo.to_string()).or_default();
        r.manifests.insert(digest.to_string());
        if let Some(tag) = tag {
            r.tags.insert(tag.to_string(), digest.to_string());
        }
    }
}

/// Where something happened: the job (and its matrix leg) and the step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub job: String,
    /// The leg's matrix values as compact JSON (empty outside a matrix).
    pub matrix: String,
    pub step: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.matrix.is_empty() {
            write!(f, "{} / {}", self.job, self.step)
        } else {
            write!(f, "{} {} / {}", self.job, self.matrix, self.step)
        }
    }
}

/// One call of a stand-in command.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Location,
    /// The command line, `argv[0]` being the command's name (`docker`).
    pub argv: Vec<String>,
    /// The working directory, relative to the workspace when inside it.
    pub cwd: String,
    /// The variables the workflow set (not the runner's own `GITHUB_*`, `RUNNER_*`, ...).
    pub env: BTreeMap<String, String>,
    pub status: i32,
}

/// One image build (a bake target, or `docker buildx build`).
#[derive(Debug, Clone)]
pub struct Build {
    pub at: Location,
    pub target: String,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub args: BTreeMap<String, String>,
    pub outputs: Vec<String>,
    pub cache_to: Vec<String>,
    /// Pushed to a registry (by tag, or by digest).
    pub push: bool,
    pub push_by_digest: bool,
    /// Loaded into the runner's local image store.
    pub load: bool,
    pub digest: String,
    /// The runner's architecture (`amd64`, `arm64`): a build of another platform ran
    /// under emulation.
    pub runner_arch: String,
}

/// What a registry write holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// An image or a manifest list.
    Image,
    /// A build cache (`cache-to type=registry`).
    Cache,
    /// A Helm chart.
    Chart,
}

/// One write into the fake registry.
#[derive(Debug, Clone)]
pub struct Push {
    pub at: Location,
    pub kind: Pushed,
    /// `repo:tag`, or `repo@sha256:...` for a push by digest.
    pub reference: String,
    pub digest: String,
}

/// One `docker buildx imagetools create`.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub at: Location,
    pub tags: Vec<String>,
    /// The source manifests, as `repo@digest`.
    pub sources: Vec<String>,
    pub digest: String,
}

/// One registry login (`docker login`, `helm registry login`).
#[derive(Debug, Clone)]
pub struct Login {
    pub at: Location,
    pub tool: String,
    pub registry: String,
    pub username: String,
    /// The secrets the login's step read.
    pub secrets: BTreeSet<String>,
}

/// One `uses:` step that ran, with its evaluated inputs.
#[derive(Debug, Clone)]
pub struct ActionUse {
    pub at: Location,
    /// `owner/name` (and path), without the version.
    pub action: String,
    /// What follows `@`: a commit SHA or a tag.
    pub version: String,
    pub with: BTreeMap<String, String>,
}

/// How a job or step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Skipped,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Skipped => "skipped",
            Outcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepRun {
    pub name: String,
    pub id: Option<String>,
    pub uses: Option<String>,
    pub outcome: Outcome,
    pub conclusion: Outcome,
    pub outputs: BTreeMap<String, String>,
    pub stdout: String,
    pub stderr: String,
    pub summary: String,
    pub secrets_read: BTreeSet<String>,
}

/// One job, or one leg of a matrix job.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub id: String,
    pub name: String,
    pub matrix: Json,
    pub runs_on: Json,
    /// The job's permissions (its own, or the workflow's).
    pub permissions: BTreeMap<String, String>,
    pub result: Outcome,
    pub outputs: BTreeMap<String, String>,
    pub steps: Vec<StepRun>,
    /// The secrets the job's own expressions read (`if`, `env`, `outputs`, the
    /// workflow's `env`); each step's are in its [`StepRun`].
    pub secrets_read: BTreeSet<String>,
}

/// Everything a simulated run did.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// False when `on:` does not start a run for the event (then nothing ran).
    pub triggered: bool,
    pub jobs: Vec<JobRun>,
    pub calls: Vec<Call>,
    pub builds: Vec<Build>,
    pub pushes: Vec<Push>,
    pub manifests: Vec<Manifest>,
    pub logins: Vec<Login>,
    pub actions: Vec<ActionUse>,
    /// `cosign sign` calls: the references signed.
    pub signatures: Vec<String>,
    /// The registries after the run.
    pub registry: Registry,
    /// Every secret any expression read, wherever (upper-cased).
    pub secrets_read: BTreeSet<String>,
    /// What GitHub would only warn about (an input an action does not take).
    pub warnings: Vec<String>,
    /// Artifact name -> the files it holds (relative paths).
    pub artifacts: BTreeMap<String, Vec<String>>,
}

impl Run {
    /// The `repo:tag` references last written with an image (not a cache or a chart)
    /// that the registry still holds.
    pub fn image_refs(&self) -> BTreeSet<String> {
        let mut last: BTreeMap<&str, Pushed> = BTreeMap::new();
        for p in &self.pushes {
            last.insert(&p.reference, p.kind);
        }
        self.registry
            .refs()
            .into_iter()
            .filter(|r| last.get(r.as_str()).is_none_or(|k| *k == Pushed::Image))
            .collect()
    }

    /// True when it ran and no job failed.
    pub fn succeeded(&self) -> bool {
        self.triggered && self.jobs.iter().all(|j| j.result != Outcome::Failure)
    }

    /// The legs of job `id`.
    pub fn job(&self, id: &str) -> Vec<&JobRun> {
        self.jobs.iter().filter(|j| j.id == id).collect()
    }

    /// The calls whose command line starts with `prefix` (`["docker", "login"]`).
    pub fn calls_of(&self, prefix: &[&str]) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| {
                c.argv.len() >= prefix.len() && c.argv.iter().zip(prefix).all(|(a, p)| a == p)
            })
            .collect()
    }

    /// Jobs, steps with their outcomes, the output of failed steps and every call: for
    /// assertion messages.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "triggered: {}", self.triggered);
        for job in &self.jobs {
            let _ = writeln!(
                out,
                "job {} {} -> {}",
                job.id,
                job.matrix,
                job.result.as_str()
            );
            for s in &job.steps {
                let _ = writeln!(out, "  {} -> {}", s.name, s.outcome.as_str());
                if s.outcome == Outcome::Failure {
                    let _ = writeln!(
                        out,
                        "    stdout: {}\n    stderr: {}",
                        s.stdout.trim(),
                        s.stderr.trim()
                    );
                }
            }
        }
        for c in &self.calls {
            let _ = writeln!(out, "call [{}] {} -> {}", c.at, c.argv.join(" "), c.status);
        }
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

/// Runs the workflow at `workflow` for `event`, with `workspace` as the repository that
/// `actions/checkout` copies into each job's fresh workspace, and `world` around it. `Err` for what the
/// simulation cannot run (bad YAML, syntax outside the subset, an unknown action);
/// a failing step is not an error but a failed job in the [`Run`].
pub fn run(workflow: &Path, workspace: &Path, event: &Event, world: &World) -> Result<Run, String> {
    let text =
        std::fs::read_to_string(workflow).map_err(|e| format!("{}: {e}", workflow.display()))?;
    run_text(&text, workspace, event, world)
}

/// [`run`] for a workflow's text (a test may change it first).
pub fn run_text(text: &str, workspace: &Path, event: &Event, world: &World) -> Result<Run, String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("the workflow is not YAML: {e}"))?;
    runner::run_workflow(&doc, workspace, event, world)
}

/// `KEY=VALUE` lines and `KEY<<DELIMITER ... DELIMITER` blocks, as the runner reads
/// `$GITHUB_ENV` and `$GITHUB_OUTPUT`.
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((key, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                match lines.next() {
                    Some(l) if l == delimiter => break,
                    Some(l) => value.push(l),
                    None => return Err(format!("`{key}<<{delimiter}` is not closed")),
                }
            }
            out.insert(key.to_string(), value.join("\n"));
        } else if let Some((key, value)) = line.split_once('=') {
            out.insert(key.to_string(), value.to_string());
        } else {
            return Err(format!(
                "invalid line `{line}` (neither KEY=VALUE nor KEY<<DELIMITER)"
            ));
        }
    }
    Ok(out)
}
