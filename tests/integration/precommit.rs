//! The pre-commit hook run for real (issue 5, acceptance 3): `pre-commit try-repo` clones a
//! temp git repo holding this repository's `.pre-commit-hooks.yaml` and runs the
//! `specc-check-system` hook (the built binary on PATH) in a temp project repo.
//! Fails, never skips, when `pre-commit` is missing (see `crate::support::validators`).

use std::path::{Path, PathBuf};

use crate::support::repo::{Output, Repo, command_in, specc_bin};
use crate::support::validators::{repo_root, require_tool, search_path};

pub(crate) const SPEC: &str = r#"project demo version="1.0.0"

stage app from="python:3.12-slim" {
    workdir "/app"
    copy "main.py" to="./"
    cmd "python3" "main.py"
}

image app stage=app context="app"

service app image=app {
    port "8000:8000"
}

workflow release {
    on "tag"
}
"#;

const HOOK: &str = "specc-check-system";

/// Runs `program ARGS` in `dir` in a sealed environment: HOME and the pre-commit cache in
/// `home`, a fixed git identity, no system or global git config, and PATH = `bin` (holding
/// only `specc`), the validators' venv, then the inherited PATH (for git).
fn run(dir: &Path, home: &Path, bin: &Path, program: &Path, args: &[&str]) -> Output {
    let mut path = vec![bin.to_path_buf()];
    path.extend(std::env::split_paths(&search_path()));
    let path = std::env::join_paths(path).unwrap();
    Output::of(&mut sealed_command(dir, home, &path, program, args))
}

/// `program ARGS` in `dir` with HOME, caches and git identity in `home` and PATH = `path`.
pub(crate) fn sealed_command(
    dir: &Path,
    home: &Path,
    path: &std::ffi::OsStr,
    program: &Path,
    args: &[&str],
) -> std::process::Command {
    let mut command = command_in(dir, program, args, &[]);
    command
        .env("PATH", path)
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("PRE_COMMIT_HOME", home.join("pre-commit"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("PRE_COMMIT");
    command
}

/// A project git repo, a hooks git repo and the sandbox both run in.
struct Setup {
    project: Repo,
    hooks: Repo,
    sandbox: tempfile::TempDir,
    pre_commit: PathBuf,
    git: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let pre_commit = require_tool("pre-commit");
        let git = require_tool("git");
        let sandbox = tempfile::tempdir().unwrap();
        let bin = sandbox.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(specc_bin(), bin.join("specc")).unwrap();
        std::fs::create_dir_all(sandbox.path().join("home")).unwrap();

        // try-repo clones the hooks repo at its HEAD: it needs a commit.
        let hooks_file = std::fs::read(repo_root().join(".pre-commit-hooks.yaml")).unwrap();
        let hooks = Repo::new().file(".pre-commit-hooks.yaml", hooks_file);
        let project = Repo::new().spec(SPEC).file("app/main.py", "print('app')\n");
        let setup = Setup {
            project,
            hooks,
            sandbox,
            pre_commit,
            git,
        };
        setup.git_in(setup.hooks.path(), &["init", "-q", "."]);
        setup.git_in(setup.hooks.path(), &["add", "-A"]);
        setup.git_in(setup.hooks.path(), &["commit", "-q", "-m", "hooks"]);
        setup.git(&["init", "-q", "."]);
        setup.specc(&["generate"]).success();
        setup
    }

    fn home(&self) -> PathBuf {
        self.sandbox.path().join("home")
    }

    fn bin(&self) -> PathBuf {
        self.sandbox.path().join("bin")
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> Output {
        run(dir, &self.home(), &self.bin(), &self.git, args).success()
    }

    fn git(&self, args: &[&str]) -> Output {
        self.git_in(self.project.path(), args)
    }

    fn specc(&self, args: &[&str]) -> Output {
        run(
            self.project.path(),
            &self.home(),
            &self.bin(),
            &self.bin().join("specc"),
            args,
        )
    }

    /// `pre-commit try-repo HOOKS specc-check-system ARGS` in the project; by default on
    /// the staged files, as in a real commit.
    fn try_repo(&self, extra: &[&str]) -> Output {
        let hooks = self.hooks.path().to_str().unwrap();
        let mut args = vec!["try-repo", "--color", "never", hooks, HOOK];
        args.extend_from_slice(extra);
        run(
            self.project.path(),
            &self.home(),
            &self.bin(),
            &self.pre_commit,
            &args,
        )
    }
}

/// The hook's line in pre-commit's report ends with this.
fn hook_result(out: &Output) -> &str {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("specc check"))
        .unwrap_or_else(|| panic!("no hook line: {out}"));
    line.rsplit(['.', ')']).next().unwrap().trim()
}

#[test]
fn hook_passes_on_a_clean_repo_and_fails_on_a_stale_one() {
    let s = Setup::new();
    s.git(&["add", "-A"]);
    let out = s.try_repo(&[]);
    assert!(out.status.success(), "clean repo: {out}");
    assert_eq!(hook_result(&out), "Passed", "{out}");
    s.git(&["commit", "-q", "-m", "generated"]);
    let out = s.try_repo(&["--all-files"]);
    assert_eq!(hook_result(&out), "Passed", "{out}");

    // The spec changes, the outputs are not regenerated: the commit is refused, with the
    // diff and the command that fixes it.
    s.project
        .edit_spec(r#"port "8000:8000""#, r#"port "8001:8000""#);
    s.git(&["add", "specc.kdl"]);
    let out = s.try_repo(&[]);
    assert_eq!(out.status.code(), Some(1), "stale repo: {out}");
    assert_eq!(hook_result(&out), "Failed", "{out}");
    assert!(
        out.stdout.contains("specc::drift::stale")
            && out.stdout.contains("`compose.yaml`")
            && out.stdout.contains("+      - \"8001:8000\"")
            && out
                .stdout
                .contains("run `specc generate` and commit the result"),
        "{out}"
    );

    // Regenerating and staging the result makes it pass again.
    s.specc(&["generate"]).success();
    s.git(&["add", "-A"]);
    let out = s.try_repo(&[]);
    assert!(out.status.success(), "regenerated: {out}");
    assert_eq!(hook_result(&out), "Passed", "{out}");
}

#[test]
fn hook_passes_a_commit_that_only_touches_a_build_context_source() {
    let s = Setup::new();
    s.git(&["add", "-A"]);
    s.git(&["commit", "-q", "-m", "generated"]);

    // An unrelated file in a clean repo: the hook runs and passes.
    s.project.write("README.md", "docs\n");
    s.git(&["add", "README.md"]);
    let out = s.try_repo(&[]);
    assert!(out.status.success(), "{out}");
    assert_eq!(hook_result(&out), "Passed", "{out}");
    s.git(&["commit", "-q", "-m", "docs"]);

    // A source file that `copy "main.py"` reaches: the image's input hash changed, but no
    // committed output depends on it, so the commit of application code goes through.
    s.project.write("app/main.py", "print('app v2')\n");
    s.git(&["add", "app/main.py"]);
    let out = s.try_repo(&[]);
    assert!(out.status.success(), "{out}");
    assert_eq!(hook_result(&out), "Passed", "{out}");
    s.git(&["commit", "-q", "-m", "app v2"]);

    // A generated file edited by hand fails it.
    for path in [
        "docker/app.Dockerfile",
        ".github/workflows/release.yml",
        "compose.yaml",
    ] {
        let text = s.project.read_text(path);
        s.project.write(path, format!("{text}# edited\n"));
        s.git(&["add", path]);
        let out = s.try_repo(&[]);
        assert_eq!(out.status.code(), Some(1), "{path} staged: {out}");
        assert_eq!(hook_result(&out), "Failed", "{path} staged: {out}");
        s.project.write(path, text);
        s.git(&["add", path]);
    }
}

/// Both hooks run `specc check` on every commit, without file names (the spec is found by
/// its default name or given in `args:`).
#[test]
fn hooks_run_specc_check_always() {
    let hooks: serde_yaml_ng::Value = serde_yaml_ng::from_slice(
        &std::fs::read(repo_root().join(".pre-commit-hooks.yaml")).unwrap(),
    )
    .unwrap();
    let hooks = hooks.as_sequence().expect("a list of hooks");
    let ids: Vec<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["specc-check", HOOK]);
    for h in hooks {
        assert_eq!(h["entry"].as_str(), Some("specc check"), "{h:?}");
        assert_eq!(h["pass_filenames"].as_bool(), Some(false), "{h:?}");
        assert_eq!(h["always_run"].as_bool(), Some(true), "{h:?}");
        assert!(h.get("files").is_none(), "{h:?}");
    }
    assert_eq!(hooks[0]["language"].as_str(), Some("rust"));
    assert_eq!(hooks[1]["language"].as_str(), Some("system"));
}
