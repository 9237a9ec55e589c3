//! A throw-away repository with a spec and files, and the real `specc` binary run in it.
//!
//! Modelled on casey/just's `Test` builder:
//!
//! ```ignore
//! let repo = Repo::new().spec(SPEC).file("app/main.py", "print(1)\n");
//! repo.run(&["generate"]).success().stdout_contains("written");
//! ```
//!
//! The spec goes to `specc.kdl` at the repository root, so the bare commands
//! (`specc generate`, `specc check`, `specc plan --changed`) find it; [`Repo::run`]
//! starts the binary in that folder with `SPECC_TRACE` unset (see [`Repo::run_env`]).
//! [`Repo::commit`] makes it a git repository, for `plan --changed` to compare with.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, SystemTime};

/// The built `specc` binary under test.
pub fn specc_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_specc"))
}

/// A temporary folder holding a spec, source files and whatever `specc` generates there.
pub struct Repo {
    dir: tempfile::TempDir,
}

impl Default for Repo {
    fn default() -> Self {
        Self::new()
    }
}

impl Repo {
    /// An empty repository in a new temporary folder (removed on drop).
    pub fn new() -> Self {
        Repo {
            dir: tempfile::Builder::new()
                .prefix("specc-repo-")
                .tempdir()
                .expect("create a temporary repository"),
        }
    }

    /// The repository's root folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` under the root.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` to `specc.kdl`, with the user's charts it names (see
    /// [`super::generate::seed_charts`]).
    pub fn spec(self, text: &str) -> Self {
        self.write("specc.kdl", text);
        super::generate::seed_charts(text, self.path());
        self
    }

    /// Writes a file (creating its folders).
    pub fn file(self, rel: &str, contents: impl AsRef<[u8]>) -> Self {
        self.write(rel, contents);
        self
    }

    /// Writes (or replaces) a file, creating its folders.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create folders");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    /// Replaces `from` by `to` in the spec; panics unless `from` occurs exactly once, so
    /// an edit that silently does nothing cannot make a test pass.
    pub fn edit_spec(&self, from: &str, to: &str) {
        self.edit("specc.kdl", from, to);
    }

    /// Replaces `from` by `to` in a text file (exactly one occurrence).
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read_text(rel);
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur exactly once in {rel}:\n{text}"
        );
        self.write(rel, text.replacen(from, to, 1));
    }

    /// The bytes of a file.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// The text of a file.
    pub fn read_text(&self, rel: &str) -> String {
        String::from_utf8(self.read(rel)).unwrap_or_else(|e| panic!("{rel} is not UTF-8: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.join(rel).exists()
    }

    /// Every regular file under the root (relative paths with `/`) and its bytes.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read folder") {
                let entry = entry.expect("folder entry");
                let kind = entry.file_type().expect("file type");
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file() {
                    let rel = entry
                        .path()
                        .strip_prefix(self.path())
                        .expect("under the root")
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.insert(rel, std::fs::read(entry.path()).expect("read file"));
                }
            }
        }
        out
    }

    /// The modification time of a file.
    pub fn mtime(&self, rel: &str) -> SystemTime {
        std::fs::metadata(self.join(rel))
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| panic!("mtime of {rel}: {e}"))
    }

    /// Sets the mtime of every file under the root to a fixed moment long ago, so that
    /// any rewrite (which stamps "now") shows; returns that moment.
    pub fn age_all_files(&self) -> SystemTime {
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        for rel in self.files().keys() {
            std::fs::File::options()
                .write(true)
                .open(self.join(rel))
                .and_then(|f| f.set_modified(old))
                .unwrap_or_else(|e| panic!("set mtime of {rel}: {e}"));
        }
        old
    }

    /// Makes the root a git repository (once) and commits every file in it: the baseline
    /// `specc plan --changed` compares with (`HEAD`).
    pub fn commit(&self, message: &str) {
        if !self.exists(".git") {
            git(self.path(), &["init", "--quiet"]);
        }
        git(self.path(), &["add", "--all"]);
        git(
            self.path(),
            &["commit", "--quiet", "--allow-empty", "--message", message],
        );
    }

    /// Runs `specc ARGS` in the root.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Runs `specc ARGS` in the root with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        run_in(self.path(), specc_bin(), args, env)
    }
}

/// Runs `git ARGS` in `dir` as a fixed author, without the user's configuration.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Output::of(
        Command::new("git")
            .args([
                "-c",
                "user.name=specc",
                "-c",
                "user.email=specc@example.com",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1"),
    );
    assert!(out.status.success(), "{out}");
}

/// Runs `program ARGS` in `dir` with `SPECC_TRACE` unset unless given in `env`.
pub fn run_in(
    dir: &Path,
    program: impl AsRef<OsStr>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    Output::of(&mut command_in(dir, program, args, env))
}

/// The command [`run_in`] runs, for callers that change more of its environment.
pub fn command_in(
    dir: &Path,
    program: impl AsRef<OsStr>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("SPECC_TRACE")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// `program ARGS` in `dir` with nothing of the test's environment but PATH (with the
/// validators' venv first), a throw-away HOME and `env`.
pub fn run_clean(
    dir: &Path,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    env: &BTreeMap<String, String>,
) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", super::validators::search_path())
        .env("HOME", std::env::temp_dir())
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Output::of(&mut cmd)
}

/// What a finished run printed; the assertions panic with everything it printed.
pub struct Output {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Runs `command` to its end and keeps what it printed.
    pub fn of(command: &mut Command) -> Output {
        let program = command.get_program().to_string_lossy().into_owned();
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        Output {
            command: std::iter::once(program)
                .chain(command.get_args().map(|a| a.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(" "),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert!(self.status.success(), "expected success: {self}");
        self
    }

    /// Asserts a non-zero exit code.
    #[track_caller]
    pub fn failure(self) -> Self {
        assert!(!self.status.success(), "expected failure: {self}");
        self
    }

    /// Asserts this exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.status.code(), Some(code), "exit code: {self}");
        self
    }

    #[track_caller]
    pub fn stdout_contains(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks `{needle}`: {self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_contains(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks `{needle}`: {self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_lacks(self, needle: &str) -> Self {
        assert!(
            !self.stderr.contains(needle),
            "stderr has `{needle}`: {self}"
        );
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "`{}` exited with {}", self.command, self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}
