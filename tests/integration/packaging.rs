//! specc's packaging (issue 11, acceptance 4): the wheel, the pre-commit mirror, and the
//! release workflow that publishes them.
//!
//! maturin packs specc from the test build's own target folder (`--profile dev`, once per
//! test build, shared by the tests), the wheel installs
//! into a fresh venv and its `specc` runs, and the pre-commit mirror
//! (`pre-commit-mirror/`) installs it through pip with no cargo or rustc on PATH, so the
//! hook cannot have compiled specc. `.github/workflows/release.yml` passes actionlint, the
//! workflow schema and zizmor.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::precommit::{SPEC, sealed_command};
use crate::support::repo::{Output, Repo, command_in, git, specc_bin};
use crate::support::validators::{repo_root, require_tool, run_tool_ok, search_path};

/// The version every package must carry: the crate's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The folder holding the wheel of the binary under test, built once per test build.
///
/// Tests run in separate processes, so the wheel is shared through `target/specc-wheel`,
/// under a file lock, and rebuilt only when the test binary is newer than it. maturin
/// moves the binary it packs out of its target folder (into `target/maturin`), which would
/// pull it from under the other tests: it works in a hard-linked copy of `target/debug`
/// (same files, same timestamps, so cargo reuses what it can), made inside `target/` so
/// that the links stay on one file system. (Cargo still rebuilds specc and the few
/// dependencies whose features the dev-dependencies widen in the test build.)
fn wheel_dir() -> PathBuf {
    // target/debug/specc -> target
    let target = specc_bin().parent().and_then(Path::parent).unwrap();
    let dir = target.join("specc-wheel");
    let lock = std::fs::File::create(target.join("specc-wheel.lock")).unwrap();
    lock.lock().unwrap();
    let built = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let fresh = std::fs::read_dir(&dir)
        .ok()
        .and_then(|mut entries| entries.next())
        .and_then(|e| built(&e.ok()?.path()))
        .is_some_and(|wheel| built(specc_bin()).is_some_and(|bin| wheel >= bin));
    if !fresh {
        let copy = target.join("specc-wheel-build");
        let _ = std::fs::remove_dir_all(&copy);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&copy).unwrap();
        let (from, to) = (target.join("debug"), copy.join("debug"));
        let cp = ["-al", from.to_str().unwrap(), to.to_str().unwrap()];
        Output::of(&mut command_in(target, "cp", &cp, &[])).success();
        let maturin = require_tool("maturin");
        let args = ["build", "--profile", "dev", "--out", dir.to_str().unwrap()];
        let mut build = command_in(repo_root(), &maturin, &args, &[]);
        build.env("CARGO_TARGET_DIR", &copy);
        Output::of(&mut build).success();
        let _ = std::fs::remove_dir_all(&copy);
    }
    dir
}

fn the_wheel(dir: &Path) -> PathBuf {
    let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(wheels.len(), 1, "one wheel expected: {wheels:?}");
    wheels.into_iter().next().unwrap()
}

#[test]
fn wheel_installs_into_a_fresh_venv_and_runs() {
    let wheel = the_wheel(&wheel_dir());
    let name = wheel.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(&format!("specc_cli-{VERSION}-py3-none-")),
        "wheel name {name}"
    );
    let venv = tempfile::tempdir().unwrap();
    let python = require_tool("python3");
    let venv_path = venv.path().to_str().unwrap();
    Output::of(&mut command_in(
        venv.path(),
        &python,
        &["-m", "venv", venv_path],
        &[],
    ))
    .success();
    let pip = venv.path().join("bin/pip");
    let wheel_arg = wheel.to_str().unwrap();
    let install = ["install", "--no-index", "--no-deps", "--quiet", wheel_arg];
    Output::of(&mut command_in(venv.path(), &pip, &install, &[])).success();

    let installed = venv.path().join("bin/specc");
    let from_wheel = Output::of(&mut command_in(
        venv.path(),
        &installed,
        &["--version"],
        &[],
    ));
    let from_build = Output::of(&mut command_in(
        venv.path(),
        specc_bin(),
        &["--version"],
        &[],
    ));
    assert_eq!(from_wheel.success().stdout, from_build.success().stdout);
}

/// The mirror's package version and its pin of the wheel follow the crate's version, so a
/// release cannot tag a mirror that installs another specc.
#[test]
fn pre_commit_mirror_pins_this_version() {
    let text = std::fs::read_to_string(repo_root().join("pre-commit-mirror/pyproject.toml"))
        .expect("pre-commit-mirror/pyproject.toml");
    let doc: toml::Table = text.parse().expect("the mirror's pyproject.toml is TOML");
    let project = doc["project"].as_table().unwrap();
    assert_eq!(project["version"].as_str(), Some(VERSION));
    let deps: Vec<&str> = project["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert_eq!(deps, [format!("specc-cli=={VERSION}").as_str()]);
}

/// PATH for the hook: the validators' venv (pre-commit, virtualenv) and the inherited
/// folders, less every folder that holds `cargo` or `rustc`.
fn path_without_rust() -> OsString {
    let dirs: Vec<PathBuf> = std::env::split_paths(&search_path())
        .filter(|d| !d.join("cargo").exists() && !d.join("rustc").exists())
        .collect();
    std::env::join_paths(dirs).unwrap()
}

#[test]
fn pre_commit_mirror_installs_the_wheel_without_compiling() {
    let pre_commit = require_tool("pre-commit");
    let wheels = wheel_dir();
    let mirror = Repo::new();
    for file in [".pre-commit-hooks.yaml", "pyproject.toml", "README.md"] {
        let bytes = std::fs::read(repo_root().join("pre-commit-mirror").join(file)).unwrap();
        mirror.write(file, bytes);
    }
    mirror.commit("mirror");
    let project = Repo::new().spec(SPEC).file("app/main.py", "print('app')\n");
    project.run(&["generate"]).success();
    git(project.path(), &["init", "--quiet"]);
    git(project.path(), &["add", "-A"]);

    let home = tempfile::tempdir().unwrap();
    let path = path_without_rust();
    let try_repo = |expect_pass: bool| {
        let args = [
            "try-repo",
            "--color",
            "never",
            mirror.path().to_str().unwrap(),
            "specc-check",
            "--all-files",
        ];
        let mut command = sealed_command(project.path(), home.path(), &path, &pre_commit, &args);
        // The wheel comes from here; pip still reaches the package index for setuptools.
        command.env("PIP_FIND_LINKS", &wheels);
        let out = Output::of(&mut command);
        let hook_line = out.stdout.lines().find(|l| l.starts_with("specc check"));
        let verdict = if expect_pass { "Passed" } else { "Failed" };
        assert!(
            hook_line.is_some_and(|l| l.ends_with(verdict)),
            "expected the hook to report {verdict}: {out}"
        );
        out
    };
    try_repo(true);
    project.write("docker/app.Dockerfile", "FROM scratch\n");
    let stale = try_repo(false);
    assert!(
        stale.stdout.contains("docker/app.Dockerfile"),
        "the failure names the file: {stale}"
    );
}

/// specc's own release workflow passes the linters generated workflows must pass.
#[test]
fn release_workflow_passes_actionlint_the_schema_and_zizmor() {
    let workflow = repo_root().join(".github/workflows/release.yml");
    let wf = workflow.to_str().unwrap();
    run_tool_ok("actionlint", [wf], repo_root());
    let schema = ["--builtin-schema", "vendor.github-workflows", wf];
    run_tool_ok("check-jsonschema", schema, repo_root());
    let zizmor = run_tool_ok("zizmor", ["--offline", "--no-progress", wf], repo_root());
    assert!(
        zizmor.stdout.contains("No findings to report"),
        "zizmor: {}",
        zizmor.combined()
    );
}
