//! A real image registry on loopback: Debian's `docker-registry` (the CNCF distribution
//! registry), one process per [`Registry`], storing into its own temp dir, killed when
//! dropped. `skopeo` reads it back.
//!
//! ```ignore
//! let registry = Registry::start();
//! buildah.run_ok(["push", "--tls-verify=false", &image, &format!("docker://{}/app:1", registry.host())]);
//! assert_eq!(registry.tags("app"), ["1"]);
//! ```
//!
//! It listens on `127.0.0.1:<a free port>` over plain HTTP, so clients need
//! `--tls-verify=false`. Nothing reaches /var/lib/docker-registry or a network.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::validators::{ToolOutput, require_tool, run_tool};

/// How long a registry may take to answer `/v2/` after it was started.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running `docker-registry serve` (killed on drop).
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry on a free loopback port and waits until it answers. A port
    /// another process took between our probe and the registry's bind makes the registry
    /// exit at once: a few fresh ports are tried.
    pub fn start() -> Self {
        let program = require_tool("docker-registry");
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("specc-registry-")
                .tempdir()
                .expect("create the registry's temp dir");
            let port = free_port();
            std::fs::write(dir.path().join("config.yml"), config(dir.path(), port))
                .expect("write the registry config");
            let log = std::fs::File::create(dir.path().join("log")).expect("registry log");
            let child = Command::new(&program)
                .arg("serve")
                .arg(dir.path().join("config.yml"))
                // Its `REGISTRY_*` variables would override the config.
                .env_clear()
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("registry log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
            let mut registry = Registry { child, port, dir };
            match registry.wait_ready() {
                Ok(()) => return registry,
                Err(e) => last = e,
            }
        }
        panic!("docker-registry did not start: {last}")
    }

    /// `127.0.0.1:<port>`, the host part of its image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `skopeo ARGS` against it (plain HTTP), success not checked.
    pub fn skopeo(&self, args: &[&str]) -> ToolOutput {
        let mut all = vec![args[0], "--tls-verify=false"];
        all.extend_from_slice(&args[1..]);
        run_tool("skopeo", all, self.dir.path())
    }

    /// The tags `skopeo list-tags` lists for `repository` (`host/path`), sorted.
    #[track_caller]
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let out = self
            .skopeo(&["list-tags", &format!("docker://{repository}")])
            .assert_success();
        let listed: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("`skopeo list-tags` printed no JSON ({e}): {out}"));
        let mut tags: Vec<String> = listed["Tags"]
            .as_array()
            .unwrap_or_else(|| panic!("no Tags in {listed}"))
            .iter()
            .map(|t| t.as_str().expect("a tag").to_owned())
            .collect();
        tags.sort();
        tags
    }

    /// `skopeo inspect` of `reference` (`host/path:tag`): its manifest digest, or what
    /// skopeo said when the registry does not have it.
    pub fn digest(&self, reference: &str) -> Result<String, ToolOutput> {
        let out = self.skopeo(&["inspect", &format!("docker://{reference}")]);
        if !out.success() {
            return Err(out);
        }
        let info: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("`skopeo inspect` printed no JSON ({e}): {out}"));
        Ok(info["Digest"]
            .as_str()
            .unwrap_or_else(|| panic!("no Digest in {info}"))
            .to_owned())
    }

    /// Polls `GET /v2/` until it answers 200, the registry exits, or [`READY_WITHIN`]
    /// passes; on failure, why, with the registry's log.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}: {}", self.log()));
            }
            if self.answers() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no answer on {} within {READY_WITHIN:?}: {}",
                    self.host(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True when `GET /v2/` answers `200` (the API version check every client starts with)
    /// with this registry's own [`ID_HEADER`]: another process that took the port first
    /// must not pass for it.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "GET /v2/ HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.host()
        );
        let mut response = String::new();
        let id = format!("{ID_HEADER}: {}", self.id());
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut response).is_ok()
            && (response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"))
            && response.lines().any(|l| l.trim_end() == id)
    }

    /// What this registry answers in [`ID_HEADER`]: its temp dir's name, unique.
    fn id(&self) -> String {
        id_of(self.dir.path())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The response header a registry started here identifies itself by.
const ID_HEADER: &str = "X-Specc-Registry";

fn id_of(dir: &Path) -> String {
    let name = dir.file_name().expect("a temp dir name");
    name.to_string_lossy().into_owned()
}

/// A port on 127.0.0.1 that nothing listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// The registry's configuration: filesystem storage under `dir`, HTTP on loopback only,
/// every response carrying [`ID_HEADER`].
fn config(dir: &Path, port: u16) -> String {
    // A JSON string is a YAML string, whatever it holds.
    let json = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let root = json(&dir.join("storage").to_string_lossy());
    let id = json(&id_of(dir));
    format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n\
         http:\n  addr: 127.0.0.1:{port}\n  headers:\n    {ID_HEADER}: [{id}]\n"
    )
}
