//! Checked spec and plan in, one GitHub Actions workflow per `workflow` node out.
//!
//! The workflow computes the version and tags of the git ref into bake variables, logs
//! in to every registry its images go to (secrets only as `${{ secrets.NAME }}`), builds
//! local copies for smoke tests and scans, then builds and pushes through the generated
//! bake file, and packages and pushes charts. Least-privilege permissions throughout.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{RenderOptions, Rendered, header, join, render_template};
use crate::check::Checked;
use crate::check::targets::{
    default_variant, image_variants, target_name, workflow_images, workflow_layout,
};
use crate::diagnostics::Error;
use crate::plan::{Event, Namespace, Plan};
use crate::spec::{LoginMethod, Registry, Spec, Trigger, Workflow, WorkflowLayout};
use crate::value::tag::TagValues;

#[derive(Serialize)]
struct Context {
    header: Vec<String>,
    name: String,
    on_push: bool,
    tag_patterns: Vec<String>,
    branches: Vec<String>,
    release: bool,
    dispatch: bool,
    /// `pull_request`: every target built, nothing pushed; the steps that log in, push or
    /// read secrets are skipped, so that a fork's pull request can run it safely.
    pull_request: bool,
    pr_branches: Vec<String>,
    /// `paths` of `pull_request`: the spec's, else the inputs of the builds; none when a
    /// build context is the whole repository.
    pr_paths: Option<Vec<String>>,
    /// Every target that is pushed on a release or a branch, comma-separated: what a pull
    /// request builds.
    pr_list: String,
    schedules: Vec<String>,
    permissions: Vec<Pair>,
    runner: String,
    env: Vec<Pair>,
    default_version: String,
    /// A tag rule of these images that needs MAJOR.MINOR.PATCH: the version step then
    /// refuses a version without them instead of pushing odd tags.
    version_parts_rule: Option<String>,
    qemu: String,
    aws: Vec<Aws>,
    logins: Vec<Login>,
    ecr_repositories: Vec<EcrRepository>,
    checks: Vec<LocalCheck>,
    bake_file: String,
    /// Targets pushed to their registries.
    targets: Vec<String>,
    targets_label: String,
    /// The pushed targets that have tags on a release, and on a branch push, as
    /// bake-action's comma-separated lists (the version step picks one).
    release_list: String,
    branch_list: String,
    /// Some target's scheduled runs have tags of their own: the version step then sets
    /// `SPECC_EVENT=schedule` for them (else `branch`) and picks this list.
    schedule_event: bool,
    schedule_list: String,
    /// Some pushed tag reads `{{date}}`: the version step fixes the time in `SPECC_DATE`.
    dates: bool,
    /// The release list for a pre-release and for a 0.y.z version, when it is shorter.
    prerelease_list: Option<String>,
    major_zero_list: Option<String>,
    /// Targets of images that name no registry: built, never pushed.
    build_only: Vec<String>,
    build_only_label: String,
    build_only_list: String,
    /// The build secrets of the pushed targets, and of the others, for bake's environment.
    push_env: Vec<Pair>,
    build_only_env: Vec<Pair>,
    description: Option<Description>,
    charts: Vec<ChartStep>,
    /// The native layout's jobs (none: the single job).
    native: Option<Native>,
}

/// A key and a value already written as YAML (a literal or a `${{ }}` expression).
#[derive(Serialize, Clone)]
struct Pair {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct Aws {
    registry: String,
    region: String,
    role: Option<String>,
    access_key_secret: Option<String>,
    secret_key_secret: Option<String>,
}

#[derive(Serialize)]
struct Login {
    registry: String,
    host: String,
    username: Option<String>,
    password: Option<String>,
}

#[derive(Serialize)]
struct EcrRepository {
    region: String,
    repository: String,
}

#[derive(Serialize)]
struct LocalCheck {
    target: String,
    /// The build secrets of the target, each in the variable bake reads it from.
    secret_env: Vec<Pair>,
    local_tag: String,
    smoke: Option<Smoke>,
    trivy: Option<String>,
    scout: Option<String>,
}

#[derive(Serialize)]
struct Smoke {
    port: Option<String>,
    url: String,
    command: String,
    env: Vec<Pair>,
}

/// The native layout's facts: how `prepare` runs specc, which targets it may build and
/// push, each platform's runner, and each job's permissions.
#[derive(Serialize)]
struct Native {
    /// The specc release `prepare` installs: the one that generated the workflow, so that
    /// its `check` accepts these outputs and its plan is this one.
    specc_version: String,
    /// `specc check ...`, run from the repository root.
    check: String,
    /// The spec, relative to the repository root.
    spec: String,
    /// The workflow's targets that go to a registry, and all it builds, space-separated.
    pushed: String,
    built: String,
    /// Platform -> `{"runs-on": label or labels, "qemu": bool}`, as JSON.
    runners: String,
    /// `prepare` probes the registries for input-hash tags (some target is pushed).
    probe: bool,
    prepare_permissions: Vec<Pair>,
    push_permissions: Vec<Pair>,
    publish_permissions: Vec<Pair>,
    /// Build secrets for bake, empty on a pull request (a fork's code never sees them).
    build_env: Vec<Pair>,
    /// A publish job: Docker Hub description or charts, after the merges.
    publish: bool,
}

/// The runner of a platform's build jobs in the native layout.
#[derive(Serialize)]
struct PlatformRunner {
    #[serde(rename = "runs-on")]
    runs_on: serde_json::Value,
    /// No native runner: the job emulates the platform with QEMU.
    qemu: bool,
}

/// The runner labels of `platform`'s build jobs: its `runs-on`, else GitHub's native
/// runner for it, else the workflow's runner with QEMU.
fn platform_runner(w: &Workflow, platform: &str) -> PlatformRunner {
    if let Some(r) = w.runs_on.iter().find(|r| r.platform.value == platform) {
        let labels: Vec<&str> = r.labels.iter().map(|l| l.as_str()).collect();
        let runs_on = match labels.as_slice() {
            [one] => serde_json::Value::from(*one),
            _ => serde_json::Value::from(labels),
        };
        return PlatformRunner {
            runs_on,
            qemu: false,
        };
    }
    let (label, qemu) = match platform {
        "linux/amd64" | "linux/386" => (w.runner.as_str(), false),
        "linux/arm64" | "linux/arm64/v8" => ("ubuntu-24.04-arm", false),
        _ => (w.runner.as_str(), true),
    };
    PlatformRunner {
        runs_on: label.into(),
        qemu,
    }
}

#[derive(Serialize)]
struct Description {
    repository_label: String,
    username: String,
    password: String,
    /// Bash lines that set `ns` to the repository's namespace (the plan's rule).
    namespace_script: Vec<String>,
    path: String,
    readme: String,
}

#[derive(Serialize)]
struct ChartStep {
    name: String,
    path: String,
    env: Vec<Pair>,
    login: String,
    destination: String,
}

/// The build secrets of `targets` as a step's environment: each GitHub secret, by name,
/// in the variable the bake file's `env=` reads (never in a `run:` script).
fn secret_env(plan: &Plan, targets: &[String]) -> Vec<Pair> {
    secret_env_as(plan, targets, secret)
}

/// [`secret_env`] with each secret written by `value` (from the secret's name).
fn secret_env_as(plan: &Plan, targets: &[String], value: fn(&str) -> String) -> Vec<Pair> {
    let mut env: Vec<Pair> = Vec::new();
    for s in targets
        .iter()
        .filter_map(|n| plan.target(n))
        .flat_map(|t| &t.secrets)
    {
        if !env.iter().any(|p| p.name == s.env) {
            env.push(Pair {
                name: s.env.clone(),
                value: value(&s.github),
            });
        }
    }
    env
}

fn secret(name: &str) -> String {
    format!("${{{{ secrets.{name} }}}}")
}

/// A secret that a pull request's build does not get: a fork's code must not read it.
fn secret_unless_pr(name: &str) -> String {
    format!("${{{{ github.event_name != 'pull_request' && secrets.{name} || '' }}}}")
}

/// The plan's namespace rule as bash lines that set `ns`: the variables it reads are in
/// the job's environment (a secret is passed under its own name).
fn namespace_script(ns: &Namespace) -> Vec<String> {
    match ns {
        Namespace::Literal { value } => vec![format!("ns={}", shell_quote(value))],
        Namespace::FromCi { fallback, .. } => {
            let mut lines = vec!["ns=''".to_string()];
            for v in ns.variables() {
                lines.push(format!("[ -n \"$ns\" ] || ns=\"${{{v}:-}}\""));
            }
            lines.push(format!("[ -n \"$ns\" ] || ns={}", shell_quote(fallback)));
            lines.push("ns=\"${ns,,}\"".into());
            lines
        }
    }
}

/// A bash word that means exactly `s`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn registry<'s>(spec: &'s Spec, name: &str) -> Option<&'s Registry> {
    spec.registry_index(name).map(|r| &spec.registries[r])
}

/// The chart folder: its `path`, or `<output charts>/<name>`.
pub fn chart_dir(spec: &Spec, chart: &crate::spec::Chart) -> String {
    match &chart.path {
        Some(p) => p.value.clone(),
        None => join(&spec.output.charts.value, &chart.name.value),
    }
}

fn render_one(
    checked: &Checked,
    plan: &Plan,
    w: &Workflow,
    options: &RenderOptions,
) -> Result<Rendered, Error> {
    let spec = &checked.spec;
    // `check` refuses `${{` in the name and the triggers (static fields) and an empty
    // scan severity, so neither needs a refusal here.
    let images = workflow_images(spec, w);
    let mut ctx = Context {
        header: header(options),
        name: w.display_name.as_ref().unwrap_or(&w.name).value.clone(),
        on_push: false,
        tag_patterns: Vec::new(),
        branches: Vec::new(),
        release: false,
        dispatch: false,
        pull_request: false,
        pr_branches: Vec::new(),
        pr_paths: None,
        pr_list: String::new(),
        schedules: Vec::new(),
        permissions: vec![Pair {
            name: "contents".into(),
            value: "read".into(),
        }],
        runner: w.runner.value.clone(),
        env: Vec::new(),
        default_version: spec.project.version.value.to_string(),
        version_parts_rule: crate::plan::tags::rule_needing_version_parts(
            images.iter().flat_map(|&ii| &spec.images[ii].tags),
        ),
        qemu: String::new(),
        aws: Vec::new(),
        logins: Vec::new(),
        ecr_repositories: Vec::new(),
        checks: Vec::new(),
        bake_file: spec.output.bake.value.clone(),
        targets: Vec::new(),
        targets_label: String::new(),
        release_list: String::new(),
        branch_list: String::new(),
        schedule_event: false,
        schedule_list: String::new(),
        dates: false,
        prerelease_list: None,
        major_zero_list: None,
        build_only: Vec::new(),
        build_only_label: String::new(),
        build_only_list: String::new(),
        push_env: Vec::new(),
        build_only_env: Vec::new(),
        description: None,
        charts: Vec::new(),
        native: None,
    };
    for t in &w.triggers {
        match &t.value {
            Trigger::Tag { pattern } => ctx.tag_patterns.push(pattern.value.clone()),
            Trigger::Push { branch } => ctx.branches.push(branch.value.clone()),
            Trigger::Release => ctx.release = true,
            Trigger::Dispatch => ctx.dispatch = true,
            Trigger::Schedule { cron } => ctx.schedules.push(cron.value.clone()),
            Trigger::PullRequest { branch, paths } => {
                ctx.pull_request = true;
                ctx.pr_branches
                    .extend(branch.iter().map(|b| b.value.clone()));
                if let Some(paths) = paths {
                    ctx.pr_paths = Some(paths.iter().map(|p| p.value.clone()).collect());
                }
            }
        }
    }
    ctx.on_push = !ctx.tag_patterns.is_empty() || !ctx.branches.is_empty();

    // Targets, platforms and the registries they go to.
    let mut platforms = BTreeSet::new();
    let mut registries: Vec<&Registry> = Vec::new();
    fn add_registry<'s>(r: &'s Registry, registries: &mut Vec<&'s Registry>) {
        if !registries.iter().any(|x| x.name.value == r.name.value) {
            registries.push(r);
        }
    }
    let mut ecr_seen = BTreeSet::new();
    for &ii in &images {
        let image = &spec.images[ii];
        for v in image_variants(spec, image) {
            let name = target_name(spec, image, v);
            if let Some(t) = plan.target(&name) {
                platforms.extend(t.platforms.iter().cloned());
                if t.repositories.is_empty() {
                    ctx.build_only.push(name);
                } else {
                    ctx.targets.push(name);
                }
            }
        }
        for r in image
            .registries
            .iter()
            .filter_map(|n| registry(spec, &n.value))
        {
            add_registry(r, &mut registries);
        }
        let planned = image_variants(spec, image)
            .into_iter()
            .filter_map(|v| plan.target_of(ii, v));
        for repo in planned.flat_map(|t| &t.repositories) {
            let Some(r) = registry(spec, &repo.registry) else {
                continue;
            };
            if crate::value::ecr_region(&r.host.value).is_some()
                && let (Some(name), Some(LoginMethod::Aws { region, .. })) =
                    (repo.name_in_registry(), r.login.as_ref().map(|l| &l.method))
                && ecr_seen.insert(name.clone())
            {
                ctx.ecr_repositories.push(EcrRepository {
                    region: region.value.clone(),
                    repository: name,
                });
            }
        }
    }
    ctx.targets_label = ctx.targets.join(", ");
    ctx.build_only_label = ctx.build_only.join(", ");
    // The targets that get at least one tag, by the plan's own rule for each kind of run
    // (on any branch: `check` refuses a branch filter that can leave a target tagless).
    let with_tags = |event: Event, version: &str| {
        let values = TagValues::new(version, None, None);
        ctx.targets
            .iter()
            .filter(|n| {
                plan.target(n)
                    .is_some_and(|t| t.templates(event).iter().any(|x| x.applies(&values)))
            })
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    };
    ctx.release_list = with_tags(Event::Release, "1.0.0");
    ctx.branch_list = with_tags(Event::Branch, "1.0.0");
    ctx.schedule_event = plan.schedule_has_own_tags();
    ctx.schedule_list = with_tags(Event::Schedule, "1.0.0");
    // A pre-release or a 0.y.z release may leave a target without tags: pushing it would
    // fail ("tag is needed"), so the version step leaves it out then.
    let differs = |list: String| (list != ctx.release_list).then_some(list);
    ctx.prerelease_list = differs(with_tags(Event::Release, "1.0.0-rc.1"));
    ctx.major_zero_list = differs(with_tags(Event::Release, "0.1.0"));
    ctx.dates = ctx.targets.iter().filter_map(|n| plan.target(n)).any(|t| {
        [Event::Release, Event::Branch, Event::Schedule]
            .into_iter()
            .any(|e| t.templates(e).iter().any(|x| x.reads_date()))
    });
    ctx.build_only_list = ctx.build_only.join(",");
    ctx.pr_list = ctx.targets.join(",");
    ctx.push_env = secret_env(plan, &ctx.targets);
    ctx.build_only_env = secret_env(plan, &ctx.build_only);
    let foreign: Vec<String> = platforms
        .iter()
        .filter(|p| !p.starts_with("linux/amd64") && !p.starts_with("linux/386"))
        .cloned()
        .collect();
    ctx.qemu = foreign.join(", ");

    if ctx.pull_request && ctx.pr_paths.is_none() {
        ctx.pr_paths = build_inputs(spec, plan, &ctx, options, w);
    }
    let image_registries = registries.len();
    // Charts: their push registries need logins too.
    let charts: Vec<&crate::spec::Chart> = w
        .charts
        .iter()
        .filter_map(|n| spec.chart_index(&n.value).map(|c| &spec.charts[c]))
        .collect();
    for c in &charts {
        if let Some(r) = c
            .push
            .as_ref()
            .and_then(|p| registry(spec, &p.registry.value))
        {
            add_registry(r, &mut registries);
        }
    }

    for r in &registries {
        if r.host.value == "ghcr.io" {
            push_permission(&mut ctx.permissions, "packages", "write");
        }
        if let Some(s) = &r.namespace_secret
            && !ctx.env.iter().any(|p| p.name == s.value.as_str())
        {
            // A pull request's build falls back to the owner: no registry secret is read.
            let value = if ctx.pull_request {
                secret_unless_pr
            } else {
                secret
            };
            ctx.env.push(Pair {
                name: s.value.to_string(),
                value: value(s.value.as_str()),
            });
        }
        let Some(login) = &r.login else { continue };
        let (username, password) = match &login.method {
            LoginMethod::Basic {
                username_secret,
                password_secret,
            } => (
                Some(secret(username_secret.value.as_str())),
                Some(secret(password_secret.value.as_str())),
            ),
            LoginMethod::GithubToken => (
                Some("${{ github.actor }}".into()),
                Some(secret("GITHUB_TOKEN")),
            ),
            LoginMethod::Aws {
                region,
                role,
                access_key_id_secret,
                secret_access_key_secret,
            } => {
                if role.is_some() {
                    push_permission(&mut ctx.permissions, "id-token", "write");
                }
                ctx.aws.push(Aws {
                    registry: r.name.value.clone(),
                    region: region.value.clone(),
                    role: role.as_ref().map(|r| r.value.clone()),
                    access_key_secret: access_key_id_secret.as_ref().map(|s| s.value.to_string()),
                    secret_key_secret: secret_access_key_secret
                        .as_ref()
                        .map(|s| s.value.to_string()),
                });
                (None, None)
            }
        };
        ctx.logins.push(Login {
            registry: r.name.value.clone(),
            host: r.host.value.clone(),
            username,
            password,
        });
    }

    // Local builds for smoke tests and scans, before anything is pushed.
    let mut check_targets: Vec<String> = Vec::new();
    if w.scan.is_some() {
        check_targets.extend(ctx.targets.iter().chain(&ctx.build_only).cloned());
    }
    for t in &w.smoke_tests {
        if let Some(ii) = spec.image_index(&t.image.value) {
            let built = image_variants(spec, &spec.images[ii]);
            let v = match &t.variant {
                Some(n) => spec.variant_index(&n.value),
                None => default_variant(spec, &built),
            };
            if let Some(v) = v {
                let name = target_name(spec, &spec.images[ii], v);
                if !check_targets.contains(&name) {
                    check_targets.push(name);
                }
            }
        }
    }
    for target in check_targets {
        let smoke = w.smoke_tests.iter().find(|t| {
            spec.image_index(&t.image.value).is_some_and(|ii| {
                let built = image_variants(spec, &spec.images[ii]);
                let v = match &t.variant {
                    Some(n) => spec.variant_index(&n.value),
                    None => default_variant(spec, &built),
                };
                v.is_some_and(|v| target_name(spec, &spec.images[ii], v) == target)
            })
        });
        let smoke = smoke.map(|t| {
            let host_port = t.port.as_ref().map(|p| p.value.host_port().to_string());
            Smoke {
                port: t.port.as_ref().map(|p| p.value.to_string()),
                url: match (&host_port, &t.path) {
                    (Some(port), Some(path)) => format!("http://localhost:{port}{}", path.value),
                    (Some(port), None) => format!("http://localhost:{port}/"),
                    _ => String::new(),
                },
                command: t
                    .command
                    .as_ref()
                    .map(|c| c.value.clone())
                    .unwrap_or_default(),
                env: t
                    .env
                    .iter()
                    .map(|e| Pair {
                        name: e.name.value.clone(),
                        value: e.value.value.clone(),
                    })
                    .collect(),
            }
        });
        let scan = w.scan.as_ref();
        let severity = scan
            .and_then(|s| s.severity.as_ref())
            .map_or_else(|| "CRITICAL,HIGH".to_string(), |s| s.value.clone());
        let local_tag = plan
            .target(&target)
            .map(|t| t.ci_check_ref())
            .unwrap_or_default();
        ctx.checks.push(LocalCheck {
            secret_env: secret_env(plan, std::slice::from_ref(&target)),
            local_tag,
            target,
            smoke,
            trivy: scan
                .filter(|s| s.tool.value == "trivy")
                .map(|_| severity.clone()),
            scout: scan
                .filter(|s| s.tool.value == "scout")
                .map(|_| severity.to_lowercase()),
        });
    }

    if let Some(d) = &w.dockerhub_description
        && let Some(r) = registry(spec, &d.registry.value)
    {
        let image = d
            .image
            .as_ref()
            .and_then(|n| spec.image_index(&n.value).map(|i| &spec.images[i]))
            .or_else(|| {
                images
                    .iter()
                    .map(|ii| &spec.images[*ii])
                    .find(|i| i.registries.iter().any(|x| x.value == r.name.value))
            });
        if let (
            Some(image),
            Some(LoginMethod::Basic {
                username_secret,
                password_secret,
            }),
        ) = (image, r.login.as_ref().map(|l| &l.method))
        {
            let ii = spec.image_index(&image.name.value);
            let repository = plan
                .targets
                .iter()
                .filter(|t| Some(t.image_index) == ii)
                .flat_map(|t| &t.repositories)
                .find(|x| x.registry == r.name.value);
            if let Some(repository) = repository {
                ctx.description = Some(Description {
                    repository_label: repository.path.clone(),
                    username: secret(username_secret.value.as_str()),
                    password: secret(password_secret.value.as_str()),
                    namespace_script: namespace_script(&repository.namespace),
                    path: repository.path.clone(),
                    readme: d.readme.value.clone(),
                });
            }
        }
    }

    for c in charts {
        let Some(push) = &c.push else { continue };
        let Some(r) = registry(spec, &push.registry.value) else {
            continue;
        };
        let host = &r.host.value;
        let mut env = Vec::new();
        let login = match r.login.as_ref().map(|l| &l.method) {
            Some(LoginMethod::Aws { region, .. }) => format!(
                "aws ecr get-login-password --region {} | helm registry login --username AWS --password-stdin {host}",
                region.value
            ),
            Some(LoginMethod::Basic {
                username_secret,
                password_secret,
            }) => {
                env.push(Pair {
                    name: "HELM_USERNAME".into(),
                    value: secret(username_secret.value.as_str()),
                });
                env.push(Pair {
                    name: "HELM_PASSWORD".into(),
                    value: secret(password_secret.value.as_str()),
                });
                format!(
                    "printf '%s' \"$HELM_PASSWORD\" | helm registry login {host} --username \"$HELM_USERNAME\" --password-stdin"
                )
            }
            Some(LoginMethod::GithubToken) => {
                env.push(Pair {
                    name: "HELM_USERNAME".into(),
                    value: "${{ github.actor }}".into(),
                });
                env.push(Pair {
                    name: "HELM_PASSWORD".into(),
                    value: secret("GITHUB_TOKEN"),
                });
                format!(
                    "printf '%s' \"$HELM_PASSWORD\" | helm registry login {host} --username \"$HELM_USERNAME\" --password-stdin"
                )
            }
            None => "true # no login configured for this registry".into(),
        };
        if let Some(LoginMethod::Aws { region, .. }) = r.login.as_ref().map(|l| &l.method) {
            ctx.ecr_repositories.push(EcrRepository {
                region: region.value.clone(),
                repository: format!("{}/{}", push.repository.value, c.name.value),
            });
        }
        ctx.charts.push(ChartStep {
            name: c.name.value.clone(),
            path: chart_dir(spec, c),
            env,
            login,
            destination: format!("oci://{host}/{}", push.repository.value),
        });
    }
    if workflow_layout(spec, w) == WorkflowLayout::Native {
        let access = Access::of(&registries[..image_registries], &registries);
        ctx.native = Some(native(&ctx, w, plan, options, &access));
        ctx.qemu = native_qemu(w, plan, &ctx);
        ctx.permissions.clear();
    }
    let path = join(
        &spec.output.workflows.value,
        &format!("{}.yml", w.name.value),
    );
    let contents = render_template("workflow", &path, &ctx)?;
    Ok(Rendered { path, contents })
}

/// The files a change to which can change what the workflow builds: its targets' build
/// contexts, the generated Dockerfiles, bake file and lock, the spec and the workflow
/// itself. None when a context is the repository's root: then every file is an input.
fn build_inputs(
    spec: &Spec,
    plan: &Plan,
    ctx: &Context,
    options: &RenderOptions,
    w: &Workflow,
) -> Option<Vec<String>> {
    let mut paths = BTreeSet::new();
    for t in ctx
        .targets
        .iter()
        .chain(&ctx.build_only)
        .filter_map(|n| plan.target(n))
    {
        let context = t.context.trim_end_matches('/');
        if context.is_empty() || context == "." {
            return None;
        }
        paths.insert(format!("{context}/**"));
    }
    let out = &spec.output;
    paths.insert(format!(
        "{}/**",
        out.dockerfiles.value.trim_end_matches('/')
    ));
    paths.insert(out.bake.value.clone());
    paths.insert(out.lock.value.clone());
    paths.insert(options.spec_name.clone());
    paths.insert(join(&out.workflows.value, &format!("{}.yml", w.name.value)));
    // A path outside the repository (a spec above the output root) matches nothing.
    Some(
        paths
            .into_iter()
            .filter(|p| !p.starts_with("../"))
            .collect(),
    )
}

/// What the jobs' tokens need: write access to GitHub's registry for the images, or for
/// images and charts, and an OIDC token for an AWS role.
struct Access {
    ghcr_images: bool,
    ghcr_any: bool,
    oidc: bool,
}

impl Access {
    fn of(image_registries: &[&Registry], all: &[&Registry]) -> Access {
        let ghcr = |r: &&Registry| r.host.value == "ghcr.io";
        Access {
            ghcr_images: image_registries.iter().any(ghcr),
            ghcr_any: all.iter().any(ghcr),
            oidc: all.iter().any(|r| {
                matches!(
                    r.login.as_ref().map(|l| &l.method),
                    Some(LoginMethod::Aws { role: Some(_), .. })
                )
            }),
        }
    }

    /// `contents: read`, then `packages` at `packages` when given, then `id-token`.
    fn permissions(&self, packages: Option<&str>) -> Vec<Pair> {
        let mut p = Vec::new();
        push_permission(&mut p, "contents", "read");
        if let Some(level) = packages {
            push_permission(&mut p, "packages", level);
        }
        if self.oidc {
            push_permission(&mut p, "id-token", "write");
        }
        p
    }
}

/// The native layout of a workflow whose single-job context `ctx` is computed.
fn native(
    ctx: &Context,
    w: &Workflow,
    plan: &Plan,
    options: &RenderOptions,
    access: &Access,
) -> Native {
    let built: Vec<&String> = ctx.targets.iter().chain(&ctx.build_only).collect();
    let runners: BTreeMap<&str, PlatformRunner> = built
        .iter()
        .filter_map(|n| plan.target(n))
        .flat_map(|t| &t.platforms)
        .map(|p| (p.as_str(), platform_runner(w, p)))
        .collect();
    let all: Vec<String> = built.iter().map(|s| s.to_string()).collect();
    let build_env = secret_env_as(plan, &all, secret_unless_pr);
    let images_write = access.ghcr_images.then_some("write");
    Native {
        specc_version: env!("CARGO_PKG_VERSION").into(),
        check: options.check.clone(),
        spec: options.spec_name.clone(),
        pushed: ctx.targets.join(" "),
        built: all.join(" "),
        runners: serde_json::to_string(&runners).unwrap_or_default(),
        probe: !ctx.targets.is_empty(),
        prepare_permissions: access.permissions(access.ghcr_images.then_some("read")),
        push_permissions: access.permissions(images_write),
        publish_permissions: access.permissions(access.ghcr_any.then_some("write")),
        build_env,
        publish: ctx.description.is_some() || !ctx.charts.is_empty(),
    }
}

/// The platforms the native layout's build jobs emulate with QEMU, for the step's name.
fn native_qemu(w: &Workflow, plan: &Plan, ctx: &Context) -> String {
    let platforms: BTreeSet<&str> = ctx
        .targets
        .iter()
        .chain(&ctx.build_only)
        .filter_map(|n| plan.target(n))
        .flat_map(|t| &t.platforms)
        .map(String::as_str)
        .filter(|p| platform_runner(w, p).qemu)
        .collect();
    platforms.into_iter().collect::<Vec<_>>().join(", ")
}

fn push_permission(permissions: &mut Vec<Pair>, name: &str, value: &str) {
    if !permissions.iter().any(|p| p.name == name) {
        permissions.push(Pair {
            name: name.into(),
            value: value.into(),
        });
    }
}

pub fn render(
    checked: &Checked,
    plan: &Plan,
    options: &RenderOptions,
    errors: &mut Vec<Error>,
) -> Vec<Rendered> {
    let mut out = Vec::new();
    for w in &checked.spec.workflows {
        match render_one(checked, plan, w, options) {
            Ok(r) => out.push(r),
            Err(e) => errors.push(e),
        }
    }
    out
}
