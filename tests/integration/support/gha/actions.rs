//! The `uses:` actions the simulation knows, each emulated the way the action behaves:
//! the ones that run docker (`docker/login-action`, `docker/bake-action`,
//! `docker/build-push-action`, `aws-actions/amazon-ecr-login`) call the `docker` stand-in
//! with the command line the action builds; the others check what the real one needs
//! (credentials, permissions, an image that exists) and set its outputs. An action not
//! in [`TABLE`] is an error; an input it does not take is a warning, as on GitHub.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::event::RUN_ID;
use super::runner::{Done, StepFiles};
use super::standin::State;

/// What an action handler gets.
pub struct Context<'a> {
    /// `owner/name`.
    pub action: &'a str,
    pub with: &'a BTreeMap<String, String>,
    /// The step's process environment.
    pub env: &'a BTreeMap<String, String>,
    /// The job leg's workspace.
    pub workspace: &'a Path,
    /// The repository `actions/checkout` copies into the workspace.
    pub repo: &'a Path,
    /// The run's shared artifact storage.
    pub artifacts: PathBuf,
    pub permissions: &'a BTreeMap<String, String>,
    pub state: &'a Mutex<State>,
    pub files: &'a StepFiles,
    /// The repository is private (the actions' default provenance is smaller then).
    pub private: bool,
}

pub struct ActionResult {
    pub done: Done,
    pub warnings: Vec<String>,
}

type Handler = fn(&Context) -> Result<Done, String>;

/// An action: its name, the inputs it takes (space-separated; `None`: not checked) and
/// its emulation.
pub struct Action {
    pub name: &'static str,
    pub inputs: Option<&'static str>,
    pub run: Handler,
}

const fn action(name: &'static str, inputs: Option<&'static str>, run: Handler) -> Action {
    Action { name, inputs, run }
}

pub const TABLE: &[Action] = &[
    action(
        "actions/checkout",
        Some(
            "repository ref token ssh-key ssh-known-hosts ssh-strict ssh-user persist-credentials path clean filter sparse-checkout sparse-checkout-cone-mode fetch-depth fetch-tags show-progress lfs submodules set-safe-directory github-server-url",
        ),
        checkout,
    ),
    action("actions/setup-python", None, nothing),
    action("actions/setup-node", None, nothing),
    action("actions/setup-go", None, nothing),
    action("astral-sh/setup-uv", None, nothing),
    action(
        "azure/setup-helm",
        Some("version token downloadBaseURL"),
        nothing,
    ),
    action(
        "sigstore/cosign-installer",
        Some("cosign-release install-dir use-sudo"),
        nothing,
    ),
    action(
        "docker/setup-buildx-action",
        Some(
            "version driver driver-opts buildkitd-flags buildkitd-config buildkitd-config-inline install use name endpoint platforms append keep-state cache-binary cleanup github-token",
        ),
        setup_buildx,
    ),
    action(
        "docker/setup-qemu-action",
        Some("image platforms cache-image reset"),
        nothing,
    ),
    action(
        "docker/login-action",
        Some("registry username password ecr logout scope registry-auth"),
        login,
    ),
    action(
        "aws-actions/configure-aws-credentials",
        Some(
            "aws-region role-to-assume aws-access-key-id aws-secret-access-key aws-session-token role-session-name role-duration-seconds mask-aws-account-id output-credentials audience role-skip-session-tagging web-identity-token-file unset-current-credentials special-characters-workaround role-chaining inline-session-policy managed-session-policies output-env-credentials retry-max-attempts disable-retry proxy-server allowed-account-ids force-skip-oidc action-timeout-s",
        ),
        aws_credentials,
    ),
    action(
        "aws-actions/amazon-ecr-login",
        Some("registries registry-type skip-logout mask-password http-proxy"),
        ecr_login,
    ),
    action(
        "docker/bake-action",
        Some(
            "builder source allow call files no-cache pull load provenance push sbom set targets vars github-token",
        ),
        bake,
    ),
    action(
        "docker/build-push-action",
        Some(
            "add-hosts allow annotations attests build-args build-contexts builder cache-from cache-to call cgroup-parent context file labels load network no-cache no-cache-filters outputs platforms provenance pull push sbom secrets secret-envs secret-files shm-size ssh tags target ulimit github-token",
        ),
        build_push,
    ),
    action(
        "actions/upload-artifact",
        Some(
            "name path if-no-files-found retention-days compression-level overwrite include-hidden-files",
        ),
        upload,
    ),
    action(
        "actions/download-artifact",
        Some("name artifact-ids path pattern merge-multiple github-token repository run-id"),
        download,
    ),
    action(
        "actions/attest-build-provenance",
        Some(
            "subject-path subject-digest subject-name subject-checksums push-to-registry show-summary github-token",
        ),
        attest,
    ),
    action("aquasecurity/trivy-action", None, trivy),
    action("docker/scout-action", None, scout),
    action(
        "peter-evans/dockerhub-description",
        Some(
            "username password repository short-description readme-filepath enable-url-completion image-extensions",
        ),
        dockerhub_description,
    ),
];

/// Runs the action of `ctx`; `Err` for an action this simulation does not know.
pub fn run(ctx: &Context) -> Result<ActionResult, String> {
    let action = TABLE.iter().find(|a| a.name == ctx.action).ok_or(format!(
        "the action `{}` is not in the simulation's table",
        ctx.action
    ))?;
    let warnings = match action.inputs {
        Some(known) => ctx
            .with
            .keys()
            .filter(|k| !known.split_whitespace().any(|i| i == k.as_str()))
            .map(|k| format!("Unexpected input '{k}' for {}", ctx.action))
            .collect(),
        None => Vec::new(),
    };
    let done = (action.run)(ctx)?;
    Ok(ActionResult { done, warnings })
}

fn ok() -> Result<Done, String> {
    Ok(Done {
        ok: true,
        ..Done::default()
    })
}

fn failed(message: impl Into<String>) -> Result<Done, String> {
    Ok(Done {
        ok: false,
        stdout: String::new(),
        stderr: format!("Error: {}\n", message.into()),
    })
}

fn input<'a>(ctx: &'a Context, key: &str) -> &'a str {
    ctx.with.get(key).map_or("", String::as_str)
}

/// `core.getBooleanInput`: the YAML 1.2 booleans, else an error (empty: `default`).
fn boolean(ctx: &Context, key: &str, default: bool) -> Result<bool, String> {
    match input(ctx, key) {
        "" => Ok(default),
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => Err(format!(
            "Input does not meet YAML 1.2 \"Core Schema\" specification: {key} = {other}"
        )),
    }
}

/// `Util.getInputList`: lines, and comma-separated values unless `lines_only`.
fn list(ctx: &Context, key: &str, lines_only: bool) -> Vec<String> {
    input(ctx, key)
        .lines()
        .flat_map(|l| {
            if lines_only {
                vec![l]
            } else {
                l.split(',').collect()
            }
        })
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Appends `key=value` lines to the step's `$GITHUB_OUTPUT` (or `$GITHUB_ENV`).
fn write_lines(file: &Path, pairs: &[(&str, String)]) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .map_err(|e| e.to_string())?;
    for (k, v) in pairs {
        if v.contains('\n') {
            writeln!(f, "{k}<<SIMULATED_EOF\n{v}\nSIMULATED_EOF").map_err(|e| e.to_string())?;
        } else {
            writeln!(f, "{k}={v}").map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Runs a stand-in (`docker ...`) as the action would, with the step's environment.
fn command(
    ctx: &Context,
    argv: &[String],
    extra_env: &[(&str, String)],
    stdin: Option<&str>,
) -> Result<Done, String> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(ctx.workspace)
        .env_clear()
        .envs(ctx.env)
        .envs(extra_env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("start {}: {e}", argv[0]))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(Done {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// Checkout and set-up
// ---------------------------------------------------------------------------------------

fn nothing(_: &Context) -> Result<Done, String> {
    ok()
}

/// Copies the repository into the workspace (or `path` under it); another repository
/// is outside the simulation.
fn checkout(ctx: &Context) -> Result<Done, String> {
    if !input(ctx, "repository").is_empty() {
        return Err(
            "actions/checkout of another repository is outside the simulated subset".into(),
        );
    }
    super::super::generate::copy_tree(ctx.repo, &ctx.workspace.join(input(ctx, "path")));
    ok()
}

fn setup_buildx(ctx: &Context) -> Result<Done, String> {
    write_lines(
        &ctx.files.output,
        &[
            ("name", "builder-simulated".into()),
            ("driver", "docker-container".into()),
            ("platforms", "linux/amd64,linux/arm64".into()),
        ],
    )?;
    ok()
}

// ---------------------------------------------------------------------------------------
// Registries and clouds
// ---------------------------------------------------------------------------------------

/// An ECR registry host (private, or `public.ecr.aws`).
fn is_ecr(host: &str) -> bool {
    let private = regex::Regex::new(r"^\d{12}\.dkr[.-]ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
        .expect("valid regex");
    private.is_match(host) || host == "public.ecr.aws"
}

/// `docker/login-action`: `docker login --password-stdin --username U REGISTRY`; for ECR
/// (unless `ecr: false`) with a password from the AWS credentials in the environment.
fn login(ctx: &Context) -> Result<Done, String> {
    let registry = input(ctx, "registry");
    let (mut username, mut password) = (
        input(ctx, "username").to_string(),
        input(ctx, "password").to_string(),
    );
    if is_ecr(registry) && input(ctx, "ecr") != "false" {
        if username.is_empty() && !ctx.env.contains_key("AWS_ACCESS_KEY_ID") {
            return failed("Could not load credentials from any providers");
        }
        username = "AWS".into();
        password = "simulated-ecr-password".into();
    }
    if username.is_empty() || password.is_empty() {
        return failed("Username and password required");
    }
    let mut argv = strings(&["docker", "login", "--password-stdin", "--username"]);
    argv.push(username);
    if !registry.is_empty() {
        argv.push(registry.to_string());
    }
    command(ctx, &argv, &[], Some(&password))
}

/// `aws-actions/configure-aws-credentials`: access keys as given, or a role through
/// GitHub's OIDC token (which needs `id-token: write`); exports the variables the AWS
/// tools read.
fn aws_credentials(ctx: &Context) -> Result<Done, String> {
    let region = input(ctx, "aws-region");
    if region.is_empty() {
        return failed("Input required and not supplied: aws-region");
    }
    let role = input(ctx, "role-to-assume");
    let key = input(ctx, "aws-access-key-id");
    let mut exports = vec![
        ("AWS_REGION", region.to_string()),
        ("AWS_DEFAULT_REGION", region.to_string()),
    ];
    if !key.is_empty() {
        if input(ctx, "aws-secret-access-key").is_empty() {
            return failed(
                "'aws-secret-access-key' must be provided if 'aws-access-key-id' is provided",
            );
        }
        exports.push(("AWS_ACCESS_KEY_ID", key.to_string()));
        exports.push((
            "AWS_SECRET_ACCESS_KEY",
            input(ctx, "aws-secret-access-key").to_string(),
        ));
    } else if !role.is_empty() {
        if !permitted(ctx.permissions, "id-token", "write") {
            return failed("Could not get ID token: the job's permissions lack `id-token: write`");
        }
        exports.push(("AWS_ACCESS_KEY_ID", "ASIASIMULATED".into()));
        exports.push(("AWS_SECRET_ACCESS_KEY", "simulated-secret".into()));
        exports.push(("AWS_SESSION_TOKEN", "simulated-session".into()));
    } else {
        return failed("Credentials could not be loaded, please check your action inputs");
    }
    let account = role
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .unwrap_or("123456789012")
        .to_string();
    ctx.state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .leg
        .aws_account = Some(account.clone());
    write_lines(&ctx.files.env, &exports)?;
    write_lines(&ctx.files.output, &[("aws-account-id", account)])?;
    ok()
}

/// True when `permissions` grant `scope` at `level` (`write` includes `read`).
pub fn permitted(permissions: &BTreeMap<String, String>, scope: &str, level: &str) -> bool {
    let granted = permissions
        .get(scope)
        .or_else(|| permissions.get("*"))
        .map_or("none", String::as_str);
    granted == level || (granted == "write" && level == "read")
}

/// `aws-actions/amazon-ecr-login`: logs docker in to the account's registry.
fn ecr_login(ctx: &Context) -> Result<Done, String> {
    let (Some(region), true) = (
        ctx.env.get("AWS_REGION"),
        ctx.env.contains_key("AWS_ACCESS_KEY_ID"),
    ) else {
        return failed("Could not load credentials from any providers");
    };
    let leg_account = ctx
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .leg
        .aws_account
        .clone();
    let accounts = match list(ctx, "registries", false) {
        l if l.is_empty() => vec![leg_account.unwrap_or_else(|| "123456789012".into())],
        l => l,
    };
    let mut hosts = Vec::new();
    let mut outputs = Vec::new();
    for account in accounts {
        let host = format!("{account}.dkr.ecr.{region}.amazonaws.com");
        let argv = strings(&[
            "docker",
            "login",
            "--username",
            "AWS",
            "--password-stdin",
            &host,
        ]);
        let done = command(ctx, &argv, &[], Some("simulated-ecr-password"))?;
        if !done.ok {
            return Ok(done);
        }
        let key = host.replace(['.', '-'], "_");
        outputs.push((format!("docker_username_{key}"), "AWS".to_string()));
        outputs.push((
            format!("docker_password_{key}"),
            "simulated-ecr-password".to_string(),
        ));
        hosts.push(host);
    }
    let mut pairs: Vec<(&str, String)> = outputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    pairs.push(("registry", hosts.join(",")));
    write_lines(&ctx.files.output, &pairs)?;
    ok()
}

// ---------------------------------------------------------------------------------------
// Builds
// ---------------------------------------------------------------------------------------

/// The action's default build context: the repository at the event's ref.
fn git_context(ctx: &Context) -> String {
    let get = |k: &str| ctx.env.get(k).cloned().unwrap_or_default();
    format!(
        "{}/{}.git#{}",
        get("GITHUB_SERVER_URL"),
        get("GITHUB_REPOSITORY"),
        get("GITHUB_REF")
    )
}

/// `builder-id=<run URL>` added to provenance attributes, as the actions do.
fn provenance_attrs(ctx: &Context, attrs: &str) -> String {
    let get = |k: &str| ctx.env.get(k).cloned().unwrap_or_default();
    let run = format!(
        "{}/{}/actions/runs/{RUN_ID}/attempts/1",
        get("GITHUB_SERVER_URL"),
        get("GITHUB_REPOSITORY")
    );
    if attrs
        .split(',')
        .any(|a| a.trim().starts_with("builder-id="))
    {
        attrs.to_string()
    } else if attrs.is_empty() {
        format!("builder-id={run}")
    } else {
        format!("{attrs},builder-id={run}")
    }
}

/// The `provenance` input as `Build.getProvenanceInput` reads it.
fn provenance_input(ctx: &Context) -> String {
    match input(ctx, "provenance") {
        "" => String::new(),
        "true" | "True" | "TRUE" => provenance_attrs(ctx, ""),
        "false" | "False" | "FALSE" => "false".into(),
        attrs => provenance_attrs(ctx, attrs),
    }
}

/// `docker/bake-action`: reads the definition with `bake --print`, then runs `docker
/// buildx bake` with the arguments the action builds (`context.ts`, `getArgs`): source,
/// `--allow`, files, `--set`, `--metadata-file`, provenance (a default
/// `type=provenance,mode=max` per target unless loading), `--sbom`, `--no-cache`,
/// `--builder`, `--pull`, `--load`, `--push`, targets. Output `metadata`.
fn bake(ctx: &Context) -> Result<Done, String> {
    let default_context = git_context(ctx);
    let source = input(ctx, "source").replace("{{defaultContext}}", &default_context);
    let remote = source.is_empty() || source.contains("://") || source.ends_with(".git");
    if !remote && !ctx.workspace.join(&source).is_dir() {
        return failed(format!(
            "Invalid source: {source} does not exist or is not a directory."
        ));
    }
    let (push, load) = (boolean(ctx, "push", false)?, boolean(ctx, "load", false)?);
    let files = list(ctx, "files", false);
    let sets = list(ctx, "set", true);
    let targets = list(ctx, "targets", false);
    let mut argv = strings(&["docker", "buildx", "bake"]);
    if remote {
        argv.push(if source.is_empty() {
            default_context
        } else {
            source.clone()
        });
    }
    let definition = match print_definition(ctx, &argv, &files, &sets, &targets, push, load)? {
        Ok(d) => d,
        Err(done) => return Ok(done),
    };
    for allow in list(ctx, "allow", false)
        .into_iter()
        .chain(["fs=*".to_string()])
    {
        argv.extend(["--allow".into(), allow]);
    }
    if !input(ctx, "call").is_empty() {
        argv.extend(["--call".into(), input(ctx, "call").into()]);
    }
    for f in &files {
        argv.extend(["--file".into(), f.clone()]);
    }
    for s in &sets {
        argv.extend(["--set".into(), s.clone()]);
    }
    for v in list(ctx, "vars", true) {
        argv.extend(["--var".into(), v]);
    }
    let metadata = PathBuf::from(&ctx.env["RUNNER_TEMP"])
        .join("docker-actions-toolkit-bake")
        .join("metadata-file");
    std::fs::create_dir_all(metadata.parent().expect("a folder")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&metadata);
    argv.extend(["--metadata-file".into(), metadata.display().to_string()]);
    argv.extend(provenance_args(ctx, &definition, load));
    if !input(ctx, "sbom").is_empty() {
        argv.extend(["--sbom".into(), input(ctx, "sbom").into()]);
    }
    argv.extend(common_flags(ctx, load, push)?);
    argv.extend(targets);
    run_build(ctx, &argv, &metadata)
}

/// `--no-cache`, `--builder B`, `--pull`, `--load`, `--push`, in the action's order.
fn common_flags(ctx: &Context, load: bool, push: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if boolean(ctx, "no-cache", false)? {
        out.push("--no-cache".into());
    }
    if !input(ctx, "builder").is_empty() {
        out.extend(["--builder".into(), input(ctx, "builder").into()]);
    }
    if boolean(ctx, "pull", false)? {
        out.push("--pull".into());
    }
    if load {
        out.push("--load".into());
    }
    if push {
        out.push("--push".into());
    }
    Ok(out)
}

/// The definition the action reads first (`bake --print` with the same files, overrides
/// and targets); `Ok(Err(done))` when that fails.
fn print_definition(
    ctx: &Context,
    base: &[String],
    files: &[String],
    sets: &[String],
    targets: &[String],
    push: bool,
    load: bool,
) -> Result<Result<serde_json::Value, Done>, String> {
    let mut argv = base.to_vec();
    for f in files {
        argv.extend(["--file".into(), f.clone()]);
    }
    for s in sets {
        argv.extend(["--set".into(), s.clone()]);
    }
    if load {
        argv.push("--load".into());
    }
    if push {
        argv.push("--push".into());
    }
    argv.extend(targets.iter().cloned());
    argv.push("--print".into());
    let done = command(ctx, &argv, &[], None)?;
    if !done.ok {
        return Ok(Err(done));
    }
    serde_json::from_str(&done.stdout)
        .map(Ok)
        .map_err(|e| format!("bake --print: {e}"))
}

/// `--provenance P`, or the action's default `--set T.attest=type=provenance,...` for
/// each target when nothing is loaded into docker.
fn provenance_args(ctx: &Context, definition: &serde_json::Value, load: bool) -> Vec<String> {
    let provenance = provenance_input(ctx);
    if !provenance.is_empty() {
        return vec!["--provenance".into(), provenance];
    }
    let no_default = ctx
        .env
        .get("BUILDX_NO_DEFAULT_ATTESTATIONS")
        .is_some_and(|v| v == "1" || v == "true");
    let targets = definition["target"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let docker_exporter = targets
        .values()
        .flat_map(|t| t["output"].as_array().cloned().unwrap_or_default())
        .any(|o| o.as_str().is_some_and(|o| o.contains("type=docker")));
    if no_default || load || docker_exporter {
        return Vec::new();
    }
    let attrs = provenance_attrs(
        ctx,
        if ctx.private {
            "mode=min,inline-only=true"
        } else {
            "mode=max"
        },
    );
    targets
        .keys()
        .flat_map(|name| {
            [
                "--set".to_string(),
                format!("{name}.attest=type=provenance,{attrs}"),
            ]
        })
        .collect()
}

/// Runs the build command with the action's extra variables; output `metadata`.
fn run_build(ctx: &Context, argv: &[String], metadata: &Path) -> Result<Done, String> {
    let token = ctx
        .with
        .get("github-token")
        .cloned()
        .unwrap_or_else(|| super::event::TOKEN.into());
    let extra = [
        ("BUILDX_BAKE_GIT_AUTH_TOKEN", token),
        ("BUILDX_METADATA_WARNINGS", "true".to_string()),
    ];
    let done = command(ctx, argv, &extra, None)?;
    if let Ok(meta) = std::fs::read_to_string(metadata) {
        let pretty = serde_json::from_str::<serde_json::Value>(&meta)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(meta);
        let mut outputs = vec![("metadata", pretty.clone())];
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&pretty)
            && let Some(d) = v["containerimage.digest"].as_str()
        {
            outputs.push(("digest", d.to_string()));
            outputs.push(("imageid", d.to_string()));
        }
        write_lines(&ctx.files.output, &outputs)?;
    }
    Ok(done)
}

/// `docker/build-push-action`: `docker buildx build` with the action's flags.
fn build_push(ctx: &Context) -> Result<Done, String> {
    let mut argv = strings(&["docker", "buildx", "build"]);
    let repeated = [
        ("build-args", "--build-arg", true),
        ("cache-from", "--cache-from", true),
        ("cache-to", "--cache-to", true),
        ("labels", "--label", true),
        ("outputs", "--output", true),
        ("secrets", "--secret", true),
        ("tags", "--tag", false),
    ];
    for (key, flag, lines_only) in repeated {
        for v in list(ctx, key, lines_only) {
            argv.extend([flag.to_string(), v]);
        }
    }
    if !input(ctx, "file").is_empty() {
        argv.extend(["--file".into(), input(ctx, "file").into()]);
    }
    let temp = PathBuf::from(&ctx.env["RUNNER_TEMP"]).join("docker-actions-toolkit-build");
    std::fs::create_dir_all(&temp).map_err(|e| e.to_string())?;
    let metadata = temp.join("metadata-file");
    argv.extend([
        "--iidfile".into(),
        temp.join("iidfile").display().to_string(),
    ]);
    argv.extend(["--metadata-file".into(), metadata.display().to_string()]);
    let platforms = list(ctx, "platforms", false);
    if !platforms.is_empty() {
        argv.extend(["--platform".into(), platforms.join(",")]);
    }
    let provenance = provenance_input(ctx);
    if !provenance.is_empty() {
        argv.extend(["--provenance".into(), provenance]);
    }
    if !input(ctx, "target").is_empty() {
        argv.extend(["--target".into(), input(ctx, "target").into()]);
    }
    let (push, load) = (boolean(ctx, "push", false)?, boolean(ctx, "load", false)?);
    argv.extend(common_flags(ctx, load, push)?);
    argv.push(match input(ctx, "context") {
        "" => git_context(ctx),
        c => c.to_string(),
    });
    run_build(ctx, &argv, &metadata)
}

// ---------------------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------------------

const GLOB_CHARS: [char; 4] = ['*', '?', '[', '{'];

/// The folder a pattern searches from: its part before the first glob segment.
fn search_root(pattern: &Path) -> PathBuf {
    let mut root = PathBuf::new();
    for c in pattern.components() {
        if c.as_os_str().to_string_lossy().contains(GLOB_CHARS) {
            break;
        }
        root.push(c);
    }
    root
}

/// The files `patterns` (lines, `!` to exclude) match, with the artifact's root folder.
fn matched_files(
    ctx: &Context,
    patterns: &[String],
    hidden: bool,
) -> Result<(PathBuf, Vec<PathBuf>), String> {
    let (mut includes, mut excludes) = (Vec::new(), globset::GlobSetBuilder::new());
    for p in patterns {
        let (negated, p) = p
            .strip_prefix('!')
            .map_or((false, p.as_str()), |rest| (true, rest));
        let path = ctx.workspace.join(p);
        let glob = globset::GlobBuilder::new(&path.display().to_string())
            .literal_separator(true)
            .build()
            .map_err(|e| format!("pattern `{p}`: {e}"))?;
        if negated {
            excludes.add(glob);
        } else {
            includes.push((path, glob.compile_matcher()));
        }
    }
    let excludes = excludes.build().map_err(|e| e.to_string())?;
    let roots: Vec<PathBuf> = includes.iter().map(|(p, _)| search_root(p)).collect();
    let mut files = Vec::new();
    for ((pattern, matcher), root) in includes.iter().zip(&roots) {
        for entry in walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            let path = entry.path();
            let under_literal =
                !pattern.display().to_string().contains(GLOB_CHARS) && path.starts_with(pattern);
            if entry.file_type().is_file()
                && (matcher.is_match(path) || under_literal)
                && !excludes.is_match(path)
            {
                files.push(path.to_path_buf());
            }
        }
    }
    let root = common_root(&roots);
    let root = if root.is_file() {
        root.parent().unwrap_or(&root).to_path_buf()
    } else {
        root
    };
    if !hidden {
        files.retain(|f| {
            !f.strip_prefix(&root)
                .unwrap_or(f)
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        });
    }
    files.dedup();
    Ok((root, files))
}

fn common_root(roots: &[PathBuf]) -> PathBuf {
    let mut common = roots.first().cloned().unwrap_or_default();
    for r in roots.iter().skip(1) {
        while !r.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

/// `actions/upload-artifact` (v4): the matched files, relative to their common root,
/// into the run's artifact storage; a name used twice fails unless `overwrite`.
fn upload(ctx: &Context) -> Result<Done, String> {
    let name = match input(ctx, "name") {
        "" => "artifact",
        n => n,
    };
    let patterns = list(ctx, "path", true);
    if patterns.is_empty() {
        return failed("Input required and not supplied: path");
    }
    let (root, files) =
        matched_files(ctx, &patterns, boolean(ctx, "include-hidden-files", false)?)?;
    let dest = ctx.artifacts.join(name);
    if dest.exists() && !boolean(ctx, "overwrite", false)? {
        return failed(format!(
            "Failed to CreateArtifact: an artifact with this name already exists on the workflow run: {name}"
        ));
    }
    if files.is_empty() {
        return match input(ctx, "if-no-files-found") {
            "error" => failed(format!(
                "No files were found with the provided path: {}",
                patterns.join("\n")
            )),
            _ => ok(),
        };
    }
    let _ = std::fs::remove_dir_all(&dest);
    for f in &files {
        let to = dest.join(f.strip_prefix(&root).unwrap_or(f));
        std::fs::create_dir_all(to.parent().expect("a folder")).map_err(|e| e.to_string())?;
        std::fs::copy(f, &to).map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let id = artifact_listing(&ctx.artifacts).len().to_string();
    write_lines(
        &ctx.files.output,
        &[
            ("artifact-id", id),
            ("artifact-digest", super::docker::fake_digest(&[name])),
        ],
    )?;
    ok()
}

/// `actions/download-artifact` (v4): one artifact by `name` into `path`, or every one
/// matching `pattern`, each into `path/<name>/` unless `merge-multiple`.
fn download(ctx: &Context) -> Result<Done, String> {
    let path = match input(ctx, "path") {
        "" => ctx.workspace.to_path_buf(),
        p => ctx.workspace.join(p),
    };
    let all = artifact_listing(&ctx.artifacts);
    let name = input(ctx, "name");
    let chosen: Vec<(&String, PathBuf)> = if !name.is_empty() {
        match all.get_key_value(name) {
            Some((n, _)) => vec![(n, path.clone())],
            None => {
                return failed(format!(
                    "Unable to download artifact(s): Artifact not found for name: {name}"
                ));
            }
        }
    } else {
        let pattern = globset::Glob::new(match input(ctx, "pattern") {
            "" => "*",
            p => p,
        })
        .map_err(|e| e.to_string())?
        .compile_matcher();
        let merge = boolean(ctx, "merge-multiple", false)?;
        all.keys()
            .filter(|n| pattern.is_match(n.as_str()))
            .map(|n| (n, if merge { path.clone() } else { path.join(n) }))
            .collect()
    };
    for (n, dest) in chosen {
        super::super::generate::copy_tree(&ctx.artifacts.join(n), &dest);
    }
    write_lines(
        &ctx.files.output,
        &[("download-path", path.display().to_string())],
    )?;
    ok()
}

/// Artifact name -> its files (relative paths, sorted).
pub fn artifact_listing(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let root = entry.path();
        let files: Vec<String> = walkdir::WalkDir::new(&root)
            .sort_by_file_name()
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(&root)
                    .unwrap_or(e.path())
                    .display()
                    .to_string()
            })
            .collect();
        out.insert(entry.file_name().to_string_lossy().into_owned(), files);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Supply chain, scans, descriptions
// ---------------------------------------------------------------------------------------

/// `actions/attest-build-provenance`: needs `id-token: write` and `attestations: write`;
/// with `push-to-registry`, the subject must be in the registry.
fn attest(ctx: &Context) -> Result<Done, String> {
    for scope in ["id-token", "attestations"] {
        if !permitted(ctx.permissions, scope, "write") {
            return failed(format!("the job's permissions lack `{scope}: write`"));
        }
    }
    let (name, digest) = (input(ctx, "subject-name"), input(ctx, "subject-digest"));
    if boolean(ctx, "push-to-registry", false)? {
        let reference = format!("{}@{digest}", super::docker::normalize_repository(name));
        let s = ctx.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.registry.resolve(&reference).is_none() {
            return failed(format!("{reference}: not found in the registry"));
        }
        if !s
            .leg
            .docker_logins
            .contains(&super::docker::registry_host(name))
        {
            return failed(format!("{reference}: no login to push the attestation"));
        }
    }
    write_lines(
        &ctx.files.output,
        &[
            ("attestation-id", "1".into()),
            ("bundle-path", "attestation.json".into()),
        ],
    )?;
    ok()
}

/// True when `image` is in the leg's local store or in a registry.
fn image_exists(ctx: &Context, image: &str) -> bool {
    let (repo, tag) = super::docker::split_reference(image);
    let reference = if repo.contains('@') {
        repo.clone()
    } else {
        format!("{repo}:{}", tag.unwrap_or_else(|| "latest".into()))
    };
    let s = ctx.state.lock().unwrap_or_else(|e| e.into_inner());
    s.leg.images.contains_key(&reference) || s.registry.resolve(&reference).is_some()
}

/// `aquasecurity/trivy-action` on an image: the image must exist (scan found nothing).
fn trivy(ctx: &Context) -> Result<Done, String> {
    let image = input(ctx, "image-ref");
    if !image.is_empty() && !image_exists(ctx, image) {
        return failed(format!("unable to find the specified image \"{image}\""));
    }
    ok()
}

/// `docker/scout-action`: `local://IMAGE` or a registry image must exist.
fn scout(ctx: &Context) -> Result<Done, String> {
    let image = input(ctx, "image");
    let image = image
        .strip_prefix("local://")
        .or_else(|| image.strip_prefix("registry://"))
        .unwrap_or(image);
    if !image.is_empty() && !image_exists(ctx, image) {
        return failed(format!("image {image} not found"));
    }
    ok()
}

/// `peter-evans/dockerhub-description`: needs credentials and the README.
fn dockerhub_description(ctx: &Context) -> Result<Done, String> {
    if input(ctx, "username").is_empty() || input(ctx, "password").is_empty() {
        return failed("Input required and not supplied: username/password");
    }
    let readme = match input(ctx, "readme-filepath") {
        "" => "./README.md",
        r => r,
    };
    if !ctx.workspace.join(readme).is_file() {
        return failed(format!(
            "ENOENT: no such file or directory, open '{readme}'"
        ));
    }
    ok()
}
