//! Stand-in commands and the server behind them.
//!
//! Every stand-in (`docker`, `aws`, `cosign`, `helm`, `curl`, `pip`, `pipx`, `sleep`, and
//! `specc`, which runs the real binary) is the same bash script under the command's
//! name in a bin folder first on PATH. It writes its argv, working directory, environment
//! (and stdin, for `--password-stdin`) into request files, sends their path prefix down
//! a FIFO and waits on a FIFO of its own; a thread of the test process
//! answers each request in order from the shared [`State`] (fake registry, logins,
//! records) and writes stdout, stderr and the exit status back. So a bash step gets
//! synchronous, stateful answers (`imagetools inspect` sees an earlier push) with no
//! network and no daemon.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{Build, Call, Location, Login, Manifest, Push, Registry};

/// The commands that have a stand-in.
pub const COMMANDS: [&str; 9] = [
    "docker", "aws", "cosign", "helm", "curl", "pip", "pipx", "sleep", "specc",
];

/// The variable that tells a stand-in where its server is.
pub const SERVER_VAR: &str = "SPECC_GHA_SERVER";

const SCRIPT: &str = r#"#!/bin/bash
# A stand-in of the workflow simulation: the test process answers this call.
# Builtins where they do: a call costs bash, env and mkfifo.
set -u
server="${SPECC_GHA_SERVER:?stand-in commands run only inside the simulation}"
req="$server/call-$BASHPID-$RANDOM"
printf '%s\0' "${0##*/}" "$@" > "$req.argv"
printf '%s' "$PWD" > "$req.cwd"
env -0 > "$req.env"
case " $* " in
  *" --password-stdin "*) IFS= read -r -d '' input; printf '%s' "$input" > "$req.stdin" ;;
esac
mkfifo "$req.done"
printf '%s\n' "$req" > "$server/requests"
read -r _ < "$req.done"
IFS= read -r -d '' out < "$req.stdout"
printf '%s' "$out"
IFS= read -r -d '' out < "$req.stderr"
printf '%s' "$out" >&2
read -r status < "$req.status"
exit "$status"
"#;

/// The state of one job leg's runner: a fresh machine per leg.
#[derive(Debug, Default)]
pub struct Leg {
    /// `amd64` or `arm64`.
    pub arch: String,
    pub docker_logins: BTreeSet<String>,
    pub helm_logins: BTreeSet<String>,
    /// Local image store: reference -> digest.
    pub images: BTreeMap<String, String>,
    /// Container name -> running.
    pub containers: BTreeMap<String, bool>,
    /// The AWS account the configured credentials belong to.
    pub aws_account: Option<String>,
    /// Packaged charts: file -> (name, version).
    pub charts: BTreeMap<PathBuf, (String, String)>,
}

/// What the stand-ins share with the runner.
#[derive(Debug, Default)]
pub struct State {
    pub workspace: PathBuf,
    pub at: Location,
    /// The secrets the current step read (for logins).
    pub step_secrets: BTreeSet<String>,
    /// The variables the runner itself sets, left out of recorded calls.
    pub runner_vars: BTreeSet<String>,
    pub leg: Leg,
    pub registry: Registry,
    /// Hosts that take pushes without a login.
    pub open_registries: BTreeSet<String>,
    pub calls: Vec<Call>,
    pub builds: Vec<Build>,
    pub pushes: Vec<Push>,
    pub manifests: Vec<Manifest>,
    pub logins: Vec<Login>,
    pub signatures: Vec<String>,
}

/// One call as the stand-in script handed it over.
pub struct Request {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
    pub stdin: String,
}

impl Request {
    /// The argument after the command name and `skip` subcommand words.
    pub fn args(&self, skip: usize) -> &[String] {
        self.argv.get(1 + skip..).unwrap_or_default()
    }

    /// `rel` resolved against the call's working directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.cwd.join(rel)
    }
}

/// What a stand-in prints and exits with.
#[derive(Debug, Default)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

impl Reply {
    pub fn ok(stdout: impl Into<String>) -> Reply {
        Reply {
            stdout: stdout.into(),
            ..Reply::default()
        }
    }

    pub fn fail(status: i32, stderr: impl Into<String>) -> Reply {
        Reply {
            stderr: stderr.into(),
            status,
            ..Reply::default()
        }
    }

    /// A call outside what the stand-in emulates: it fails, so the step fails.
    pub fn unknown(req: &Request) -> Reply {
        Reply::fail(
            64,
            format!("the stand-in does not know `{}`\n", req.argv.join(" ")),
        )
    }
}

/// The bin folder of stand-ins and the thread that answers them.
pub struct Server {
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Writes the stand-ins under `root` and starts answering.
    pub fn start(root: &Path, state: State) -> Result<Server, String> {
        let dir = root.join("server");
        let bin = root.join("bin");
        for d in [&dir, &bin] {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        }
        write_stand_ins(&bin)?;
        let fifo = dir.join("requests");
        mkfifo(&fifo)?;
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        // Read and write: the FIFO never reports end-of-file between stand-ins.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .map_err(|e| e.to_string())?;
        let thread = std::thread::spawn(move || serve(file, &shared));
        Ok(Server {
            dir,
            bin,
            state,
            thread: Some(thread),
        })
    }

    /// Stops the thread; the state stays readable.
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .open(self.dir.join("requests"))
            {
                let _ = f.write_all(b"stop\n");
            }
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_stand_ins(bin: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for name in COMMANDS {
        let path = bin.join(name);
        std::fs::write(&path, SCRIPT).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub fn mkfifo(path: &Path) -> Result<(), String> {
    let out = std::process::Command::new("mkfifo")
        .arg(path)
        .output()
        .map_err(|e| format!("mkfifo: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mkfifo {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn serve(file: std::fs::File, state: &Mutex<State>) {
    let mut lines = BufReader::new(file).lines();
    while let Some(Ok(line)) = lines.next() {
        if line == "stop" {
            return;
        }
        let prefix = PathBuf::from(line);
        let reply = match read_request(&prefix) {
            Ok(req) => answer(&req, state),
            Err(e) => Reply::fail(70, format!("stand-in: {e}\n")),
        };
        let _ = write_reply(&prefix, &reply);
    }
}

/// Answers one call; a panic in a handler becomes a failed call, not a hung step.
fn answer(req: &Request, state: &Mutex<State>) -> Reply {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let reply = dispatch(req, &mut s);
        record(req, &reply, &mut s);
        reply
    }));
    result.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Reply::fail(70, format!("stand-in panicked: {msg}\n"))
    })
}

/// `prefix.name`: the files of one request.
fn file(prefix: &Path, name: &str) -> PathBuf {
    let mut p = prefix.as_os_str().to_owned();
    p.push(".");
    p.push(name);
    PathBuf::from(p)
}

fn read_request(prefix: &Path) -> Result<Request, String> {
    let read = |name: &str| std::fs::read(file(prefix, name)).map_err(|e| format!("{name}: {e}"));
    let nul = |bytes: Vec<u8>| -> Vec<String> {
        bytes
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    };
    let argv = nul(read("argv")?);
    let env = nul(read("env")?)
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    Ok(Request {
        argv,
        cwd: PathBuf::from(String::from_utf8_lossy(&read("cwd")?).into_owned()),
        env,
        stdin: std::fs::read_to_string(file(prefix, "stdin")).unwrap_or_default(),
    })
}

fn write_reply(prefix: &Path, reply: &Reply) -> std::io::Result<()> {
    std::fs::write(file(prefix, "stdout"), &reply.stdout)?;
    std::fs::write(file(prefix, "stderr"), &reply.stderr)?;
    std::fs::write(file(prefix, "status"), reply.status.to_string())?;
    // Opening blocks until the stand-in waits on it.
    let mut done = std::fs::OpenOptions::new()
        .write(true)
        .open(file(prefix, "done"))?;
    done.write_all(b"\n")
}

fn dispatch(req: &Request, s: &mut State) -> Reply {
    match req.argv.first().map(String::as_str) {
        Some("docker") => super::docker::docker(req, s),
        Some("aws") => aws(req, s),
        Some("cosign") => cosign(req, s),
        Some("helm") => helm(req, s),
        Some("curl" | "sleep") => Reply::ok(""),
        Some("pip" | "pipx") => pip(req),
        Some("specc") => specc(req),
        other => Reply::fail(127, format!("no stand-in for {other:?}\n")),
    }
}

fn record(req: &Request, reply: &Reply, s: &mut State) {
    const SHELL: [&str; 4] = ["PWD", "OLDPWD", "SHLVL", "_"];
    let env = req
        .env
        .iter()
        .filter(|(k, _)| {
            !s.runner_vars.contains(*k) && !SHELL.contains(&k.as_str()) && *k != SERVER_VAR
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let cwd = req.cwd.strip_prefix(&s.workspace).map_or_else(
        |_| req.cwd.display().to_string(),
        |p| p.display().to_string(),
    );
    let call = Call {
        at: s.at.clone(),
        argv: req.argv.clone(),
        cwd,
        env,
        status: reply.status,
    };
    s.calls.push(call);
}

/// `pip install ...`, `pipx install ...`: nothing to do, `specc` is already on PATH.
fn pip(req: &Request) -> Reply {
    match req.args(0).first().map(String::as_str) {
        Some("install" | "--version") => Reply::ok(""),
        _ => Reply::unknown(req),
    }
}

/// The real specc binary, run with the call's arguments, directory and environment.
fn specc(req: &Request) -> Reply {
    let out = std::process::Command::new(super::super::repo::specc_bin())
        .args(req.args(0))
        .current_dir(&req.cwd)
        .env_clear()
        .envs(&req.env)
        .output();
    match out {
        Ok(o) => Reply {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            status: o.status.code().unwrap_or(70),
        },
        Err(e) => Reply::fail(127, format!("specc: {e}\n")),
    }
}

/// The arguments that are neither options nor the values of the options in `takes_value`.
pub fn positionals(args: &[String], takes_value: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if a.starts_with('-') && a.len() > 1 {
            skip = takes_value.contains(&a.as_str());
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// The value after `flag` (`--flag V` or `--flag=V`) in `args`.
pub fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let eq = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&eq).map(str::to_string)
        }
    })
}

// ---------------------------------------------------------------------------------------
// aws
// ---------------------------------------------------------------------------------------

/// `aws ecr ...` and `aws sts get-caller-identity`, with credentials from the
/// environment as the real CLI reads them.
fn aws(req: &Request, s: &mut State) -> Reply {
    let args = req.args(0);
    let words: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
    if !req.env.contains_key("AWS_ACCESS_KEY_ID") {
        return Reply::fail(
            253,
            "\nUnable to locate credentials. You can configure credentials by running \"aws configure\".\n",
        );
    }
    let region = flag_value(args, "--region")
        .or_else(|| req.env.get("AWS_REGION").cloned())
        .or_else(|| req.env.get("AWS_DEFAULT_REGION").cloned());
    let account = s
        .leg
        .aws_account
        .clone()
        .unwrap_or_else(|| "123456789012".into());
    let registry = region.map(|r| format!("{account}.dkr.ecr.{r}.amazonaws.com"));
    match (words.as_slice(), registry) {
        (["ecr", "get-login-password"], Some(_)) => Reply::ok("simulated-ecr-password\n"),
        (["ecr", "describe-repositories"], Some(reg)) => {
            let names = values_after(args, "--repository-names");
            match names
                .iter()
                .find(|n| !s.registry.repositories.contains_key(&format!("{reg}/{n}")))
            {
                Some(missing) => Reply::fail(
                    254,
                    format!(
                        "\nAn error occurred (RepositoryNotFoundException) when calling the DescribeRepositories operation: The repository with name '{missing}' does not exist in the registry with id '{account}'\n"
                    ),
                ),
                None => Reply::ok(format!(
                    "{{\"repositories\": {}}}\n",
                    serde_json::json!(names)
                )),
            }
        }
        (["ecr", "create-repository"], Some(reg)) => {
            let Some(name) = flag_value(args, "--repository-name") else {
                return Reply::fail(
                    252,
                    "aws: the following arguments are required: --repository-name\n",
                );
            };
            let key = format!("{reg}/{name}");
            if s.registry.repositories.contains_key(&key) {
                return Reply::fail(
                    254,
                    format!(
                        "\nAn error occurred (RepositoryAlreadyExistsException) when calling the CreateRepository operation: The repository with name '{name}' already exists\n"
                    ),
                );
            }
            s.registry.repositories.entry(key).or_default();
            Reply::ok(format!(
                "{{\"repository\": {{\"repositoryName\": \"{name}\"}}}}\n"
            ))
        }
        (["sts", "get-caller-identity"], _) => {
            Reply::ok(format!("{{\"Account\": \"{account}\"}}\n"))
        }
        (_, None) => Reply::fail(253, "You must specify a region.\n"),
        _ => Reply::unknown(req),
    }
}

/// The values after `flag` up to the next option.
fn values_after(args: &[String], flag: &str) -> Vec<String> {
    args.iter()
        .skip_while(|a| *a != flag)
        .skip(1)
        .take_while(|a| !a.starts_with("--"))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------
// cosign, helm
// ---------------------------------------------------------------------------------------

/// `cosign sign` of references that exist; `verify`, `version` and `attest` succeed.
fn cosign(req: &Request, s: &mut State) -> Reply {
    let args = req.args(0);
    match args.first().map(String::as_str) {
        Some("sign") => {
            let refs: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
            if refs.is_empty() {
                return Reply::fail(1, "Error: no image given to sign\n");
            }
            for r in refs {
                if s.registry.resolve(r).is_none() {
                    return Reply::fail(
                        1,
                        format!("Error: signing [{r}]: accessing entity: MANIFEST_UNKNOWN\n"),
                    );
                }
                s.signatures.push(r.clone());
            }
            Reply::ok("")
        }
        Some("verify" | "verify-attestation" | "attest" | "version") => Reply::ok(""),
        _ => Reply::unknown(req),
    }
}

/// `helm registry login`, `helm package` (reads Chart.yaml, writes the .tgz) and `helm
/// push` (into the fake registry, after a login).
fn helm(req: &Request, s: &mut State) -> Reply {
    let args = req.args(0);
    match args.first().map(String::as_str) {
        Some("registry") if args.get(1).map(String::as_str) == Some("login") => helm_login(req, s),
        Some("package") => helm_package(req, s),
        Some("push") => helm_push(req, s),
        Some("version" | "lint" | "template") => Reply::ok(""),
        _ => Reply::unknown(req),
    }
}

fn helm_login(req: &Request, s: &mut State) -> Reply {
    let args = req.args(2);
    let Some(host) = positionals(args, &["--username", "-u", "--password", "-p"])
        .into_iter()
        .next()
    else {
        return Reply::fail(1, "Error: helm registry login needs a host\n");
    };
    let username = flag_value(args, "--username")
        .or_else(|| flag_value(args, "-u"))
        .unwrap_or_default();
    s.leg.helm_logins.insert(host.clone());
    let login = Login {
        at: s.at.clone(),
        tool: "helm".into(),
        registry: host,
        username,
        secrets: s.step_secrets.clone(),
    };
    s.logins.push(login);
    Reply::ok("Login Succeeded\n")
}

fn helm_package(req: &Request, s: &mut State) -> Reply {
    let args = req.args(1);
    let Some(path) = args.first() else {
        return Reply::fail(1, "Error: helm package needs a chart path\n");
    };
    let chart = std::fs::read_to_string(req.path(path).join("Chart.yaml")).unwrap_or_default();
    let field = |k: &str| {
        chart
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let Some(name) = field("name") else {
        return Reply::fail(1, format!("Error: no Chart.yaml with a name in {path}\n"));
    };
    let version = flag_value(args, "--version")
        .or_else(|| field("version"))
        .unwrap_or_default();
    let dest = req.path(&flag_value(args, "--destination").unwrap_or_else(|| ".".into()));
    let file = dest.join(format!("{name}-{version}.tgz"));
    if let Err(e) =
        std::fs::create_dir_all(&dest).and_then(|()| std::fs::write(&file, "simulated chart\n"))
    {
        return Reply::fail(1, format!("Error: {e}\n"));
    }
    s.leg.charts.insert(file.clone(), (name, version));
    Reply::ok(format!(
        "Successfully packaged chart and saved it to: {}\n",
        file.display()
    ))
}

fn helm_push(req: &Request, s: &mut State) -> Reply {
    let args = req.args(1);
    let (Some(file), Some(remote)) = (args.first(), args.get(1)) else {
        return Reply::fail(1, "Error: helm push needs a chart and a remote\n");
    };
    let Some((name, version)) = s.leg.charts.get(&req.path(file)).cloned() else {
        return Reply::fail(1, format!("Error: {file}: no such packaged chart\n"));
    };
    let Some(base) = remote.strip_prefix("oci://") else {
        return Reply::fail(1, format!("Error: {remote}: only oci:// remotes\n"));
    };
    let repo = format!("{}/{name}", base.trim_end_matches('/'));
    let host = super::docker::registry_host(&repo);
    let logged_in = s.leg.helm_logins.contains(&host) || s.leg.docker_logins.contains(&host);
    if !logged_in && !s.open_registries.contains(&host) {
        return Reply::fail(
            1,
            format!("Error: push access denied to {repo}: unauthorized\n"),
        );
    }
    if let Err(e) = super::docker::check_ecr_repository(&repo, &s.registry) {
        return Reply::fail(1, format!("Error: {e}\n"));
    }
    let digest = super::docker::fake_digest(&["chart", &repo, &version]);
    super::docker::push(s, super::Pushed::Chart, &repo, Some(&version), &digest);
    Reply::ok(format!("Pushed: {repo}:{version}\nDigest: {digest}\n"))
}
