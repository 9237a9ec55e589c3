//! Real image builds without a daemon, an OCI runtime or a registry: `buildah` (Debian
//! package) with `vfs` storage in a temp dir and `chroot` isolation.
//!
//! ```ignore
//! let b = Buildah::new();
//! b.build(&Build { context, dockerfile, target: "hello", args, labels, tags });
//! let run = b.run_image("localhost/hello:en");
//! assert_eq!(run.stdout, "en\n");
//! ```
//!
//! Nothing lands in /var/lib/containers: images, layers and containers live under the
//! [`Buildah`]'s own temp dir, which is cleaned up (containers and images removed through
//! buildah, then the folder) when it is dropped. `buildah` is found with
//! [`require_tool`], so a missing buildah fails the test instead of skipping it.
//!
//! There is no runc/crun here, so `buildah run` needs `--isolation chroot` too (the
//! default `oci` isolation fails with "exec: no command"). `buildah run` does not use the
//! image's ENTRYPOINT/CMD by itself: [`Buildah::run_image`] reads them from the image
//! config and runs exactly that command, in the image's env, working dir and user.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::validators::{
    DEFAULT_TIMEOUT, ToolOutput, buildah_global_args, require_tool, run_tool_env,
};

/// What one `buildah build` gets: the same inputs a bake target passes to BuildKit.
#[derive(Debug, Clone, Default)]
pub struct Build {
    /// The build context folder.
    pub context: PathBuf,
    /// The Dockerfile (`-f`).
    pub dockerfile: PathBuf,
    /// The stage to build (`--target`); empty for the last stage.
    pub target: String,
    /// `--build-arg NAME=VALUE`.
    pub args: BTreeMap<String, String>,
    /// `--label KEY=VALUE`.
    pub labels: BTreeMap<String, String>,
    /// `-t`, at least one.
    pub tags: Vec<String>,
    /// `--secret SPEC` (`id=hf,env=HF_TOKEN`, `id=npmrc,src=FILE`).
    pub secrets: Vec<String>,
    /// Variables added to buildah's environment (what an `env=` secret reads).
    pub env: Vec<(String, String)>,
}

/// A private buildah store in a temp dir.
pub struct Buildah {
    dir: tempfile::TempDir,
}

impl Default for Buildah {
    fn default() -> Self {
        Self::new()
    }
}

impl Buildah {
    /// A new empty store. Panics when buildah is not installed.
    pub fn new() -> Self {
        require_tool("buildah");
        Buildah {
            dir: tempfile::Builder::new()
                .prefix("specc-buildah-")
                .tempdir()
                .expect("create a temporary buildah store"),
        }
    }

    /// The store's folder (`storage/`, `run/`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `buildah <store args> ARGS` (not checked for success).
    pub fn run<I, S>(&self, args: I) -> ToolOutput
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.run_env(args, &[])
    }

    /// [`Buildah::run`] with `env` added to buildah's environment.
    pub fn run_env<I, S>(&self, args: I, env: &[(String, String)]) -> ToolOutput
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut all = buildah_global_args(self.path());
        all.extend(args.into_iter().map(Into::into));
        // buildah writes temporary files (an `env=` secret's value among them) under
        // TMPDIR: one per store, so that parallel tests never share or clean up each
        // other's.
        let tmp = self.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("create the store's temp dir");
        let mut env = env.to_vec();
        env.push(("TMPDIR".into(), tmp.to_string_lossy().into_owned()));
        run_tool_env("buildah", all, self.path(), None, DEFAULT_TIMEOUT, &env)
    }

    /// [`Buildah::run`], panicking with everything buildah printed unless it exited 0.
    #[track_caller]
    pub fn run_ok<I, S>(&self, args: I) -> ToolOutput
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.run(args).assert_success()
    }

    /// `buildah build --isolation chroot` of `build`; panics unless the build succeeds.
    #[track_caller]
    pub fn build(&self, build: &Build) -> ToolOutput {
        self.run_env(build_args(build, &[]), &build.env)
            .assert_success()
    }

    /// Builds `build` (a Dockerfile whose last stage is `FROM scratch` plus `COPY . DIR/`)
    /// and exports the image's file system: the files under `DIR` (`/`-separated,
    /// relative), which are what the build context sent. `ignorefile` is passed as
    /// `--ignorefile` (buildah 1.28 reads a context's `.dockerignore` by itself, but not
    /// a `<Dockerfile>.dockerignore`, which BuildKit reads).
    #[track_caller]
    pub fn copied_files(&self, build: &Build, dir: &str, ignorefile: Option<&Path>) -> Vec<String> {
        let out = tempfile::Builder::new()
            .prefix("specc-buildah-out-")
            .tempdir()
            .expect("create a temporary folder");
        let mut extra: Vec<OsString> = vec![
            "--output".into(),
            format!("type=local,dest={}", out.path().display()).into(),
        ];
        if let Some(file) = ignorefile {
            extra.extend(["--ignorefile".into(), file.into()]);
        }
        self.run_env(build_args(build, &extra), &build.env)
            .assert_success();
        let root = out.path().join(dir.trim_start_matches('/'));
        let mut files: Vec<String> = walkdir::WalkDir::new(&root)
            .into_iter()
            .map(|e| e.expect("walk the exported files"))
            .filter(|e| !e.file_type().is_dir())
            .map(|e| {
                let rel = e.path().strip_prefix(&root).expect("under the root");
                rel.to_string_lossy().replace('\\', "/")
            })
            .collect();
        files.sort();
        files
    }

    /// The `buildah inspect --type image` JSON of a built image.
    #[track_caller]
    pub fn inspect_image(&self, image: &str) -> serde_json::Value {
        let out = self.run_ok(["inspect", "--type", "image", image]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("`buildah inspect` printed no JSON ({e}): {out}"))
    }

    /// The command the image runs when started: its ENTRYPOINT followed by its CMD.
    #[track_caller]
    pub fn image_command(&self, image: &str) -> Vec<String> {
        let info = self.inspect_image(image);
        let config = &info["OCIv1"]["config"];
        let words = |key: &str| -> Vec<String> {
            match &config[key] {
                serde_json::Value::Null => Vec::new(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|w| {
                        w.as_str()
                            .unwrap_or_else(|| panic!("{key} word {w} is not a string"))
                            .to_owned()
                    })
                    .collect(),
                other => panic!("{key} of {image} is not a list: {other}"),
            }
        };
        let mut command = words("Entrypoint");
        command.extend(words("Cmd"));
        command
    }

    /// What [`Buildah::run_image`] prints when it succeeds, for an image that prints
    /// something. Under load `buildah run --isolation chroot` has exited 0 having printed
    /// nothing (seen in two full-suite runs, for a plain `echo` too): an empty reading is
    /// taken again, never accepted.
    #[track_caller]
    pub fn printed(&self, image: &str) -> String {
        for _ in 0..3 {
            let out = self.run_image(image).assert_success();
            if !out.stdout.is_empty() {
                return out.stdout;
            }
        }
        panic!("{image} printed nothing in three runs")
    }

    /// Starts `image` the way a container runtime would (its ENTRYPOINT + CMD, env, working
    /// dir and user) in a working container with chroot isolation, and returns what it
    /// printed (success not checked). The working container is removed afterwards.
    #[track_caller]
    pub fn run_image(&self, image: &str) -> ToolOutput {
        let command = self.image_command(image);
        assert!(
            !command.is_empty(),
            "image {image} has neither ENTRYPOINT nor CMD"
        );
        let container = self
            .run_ok(["from", "--pull=never", "--quiet", image])
            .stdout
            .trim()
            .to_owned();
        assert!(
            !container.is_empty(),
            "`buildah from {image}` printed no container name"
        );
        let mut args: Vec<String> = vec![
            "run".into(),
            "--isolation".into(),
            "chroot".into(),
            container.clone(),
            "--".into(),
        ];
        args.extend(command);
        let out = self.run(args);
        self.run_ok(["rm", container.as_str()]);
        out
    }
}

impl Drop for Buildah {
    /// Removes containers and images through buildah (it may hold mounts and read-only
    /// layer folders), then makes what is left writable so the temp dir can be deleted.
    fn drop(&mut self) {
        let Some(buildah) = super::validators::tool("buildah") else {
            return;
        };
        for args in [
            &["umount", "--all"][..],
            &["rm", "--all"][..],
            &["rmi", "--all", "--force"][..],
        ] {
            // Best effort: a failure here must not hide the test's own panic.
            let _ = std::process::Command::new(&buildah)
                .args(buildah_global_args(self.path()))
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        make_writable(self.path());
    }
}

/// Adds owner write permission to every folder under `dir`, so that removing the tree
/// works for a non-root user too.
fn make_writable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            if entry.file_type().is_dir()
                && let Ok(meta) = entry.metadata()
            {
                let mode = meta.permissions().mode();
                if mode & 0o700 != 0o700 {
                    let _ = std::fs::set_permissions(
                        entry.path(),
                        std::fs::Permissions::from_mode(mode | 0o700),
                    );
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The `buildah build` arguments of `build`, with `extra` before the context.
fn build_args(build: &Build, extra: &[OsString]) -> Vec<OsString> {
    assert!(!build.tags.is_empty(), "a build needs a tag");
    let mut args: Vec<OsString> = vec![
        "build".into(),
        "--isolation".into(),
        "chroot".into(),
        "--pull=never".into(),
        "-f".into(),
        build.dockerfile.clone().into(),
    ];
    if !build.target.is_empty() {
        args.extend(["--target".into(), build.target.clone().into()]);
    }
    for (name, value) in &build.args {
        args.extend(["--build-arg".into(), format!("{name}={value}").into()]);
    }
    for (key, value) in &build.labels {
        args.extend(["--label".into(), format!("{key}={value}").into()]);
    }
    for tag in &build.tags {
        args.extend(["-t".into(), tag.into()]);
    }
    for secret in &build.secrets {
        args.extend(["--secret".into(), secret.into()]);
    }
    args.extend(extra.iter().cloned());
    args.push(build.context.clone().into());
    args
}
