//! Golden outputs: what `specc generate` writes for every spec, committed and compared
//! byte for byte (both directions: no file missing, no file extra).
//!
//! * `specs/<stem>.kdl`: the goldens in `tests/golden/<stem>/` are exactly what
//!   `specc generate specs/<stem>.kdl --out tests/golden/<stem>`, run from the repository
//!   root, writes (the header comments name that command line, so the test runs that
//!   same command line in a scratch folder holding a copy of the spec).
//! * `examples/<name>/specc.kdl` and `tests/realworld/<name>/specc.kdl`: the golden is
//!   the folder itself: its source
//!   files (what git would commit, so ignored build inputs such as a copied `busybox`
//!   are left out) are copied to a scratch folder, the spec is generated there with the
//!   command line its committed `specc.lock` names, and the folder must then equal the
//!   committed one.
//!
//! On a mismatch the test prints a unified diff. `SPECC_BLESS=1 cargo nextest run --test
//! golden` rewrites the goldens exactly (stale golden folders and files removed).
//! Generating is deterministic: a second run into a fresh folder gives the same bytes,
//! and a second run over the first run's output writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::support::corpus;
use crate::support::validators::repo_root;

type Files = BTreeMap<String, Vec<u8>>;

fn bless() -> bool {
    std::env::var("SPECC_BLESS").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("specc-golden-")
        .tempdir()
        .expect("create a scratch folder")
}

/// Runs `specc ARGS` in `cwd`; panics with its output unless it succeeds.
fn specc(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("SPECC_TRACE")
        .output()
        .expect("run specc");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`specc {}` in {} failed ({}):\n{stdout}{}",
        args.join(" "),
        cwd.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every file under `dir` (path relative to `dir`, `/`-separated -> bytes); empty when
/// `dir` does not exist.
fn snapshot(dir: &Path) -> Files {
    if !dir.exists() {
        return Files::new();
    }
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap_or_else(|e| panic!("walk {}: {e}", dir.display())))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).expect("under dir");
            let bytes = std::fs::read(e.path())
                .unwrap_or_else(|err| panic!("read {}: {err}", e.path().display()));
            (rel.to_string_lossy().replace('\\', "/"), bytes)
        })
        .collect()
}

/// Every difference between the committed files and the generated ones, with a
/// unified diff for each changed text file.
fn differences(label: &str, committed: &Files, generated: &Files) -> Vec<String> {
    let mut out = Vec::new();
    for (path, want) in committed {
        match generated.get(path) {
            None => out.push(format!(
                "{label}/{path}: committed, but no longer generated"
            )),
            Some(got) if got != want => {
                match (std::str::from_utf8(want), std::str::from_utf8(got)) {
                    (Ok(want), Ok(got)) => {
                        let diff = similar::TextDiff::from_lines(want, got)
                            .unified_diff()
                            .context_radius(3)
                            .header(
                                &format!("committed/{label}/{path}"),
                                &format!("generated/{label}/{path}"),
                            )
                            .to_string();
                        out.push(format!("{label}/{path}: differs\n{diff}"));
                    }
                    _ => out.push(format!("{label}/{path}: differs (not UTF-8)")),
                }
            }
            Some(_) => {}
        }
    }
    for path in generated.keys().filter(|p| !committed.contains_key(*p)) {
        out.push(format!(
            "{label}/{path}: generated, but not committed (run with SPECC_BLESS=1)"
        ));
    }
    out
}

fn write_files(dir: &Path, files: &Files) {
    for (path, bytes) in files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("create folder");
        std::fs::write(&target, bytes)
            .unwrap_or_else(|e| panic!("write {}: {e}", target.display()));
    }
}

/// Removes `dir/path` and then each parent folder under `dir` that became empty.
fn remove_file(dir: &Path, path: &str) {
    let target = dir.join(path);
    std::fs::remove_file(&target).unwrap_or_else(|e| panic!("remove {}: {e}", target.display()));
    let mut parent = target.parent();
    while let Some(p) = parent {
        if p == dir || std::fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
}

// ------------------------------------------------------------------ specs/

/// The stems of `specs/*.kdl`, sorted.
fn spec_stems() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(repo_root().join("specs"))
        .expect("read specs/")
        .map(|e| {
            e.expect("list specs/")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|n| n.strip_suffix(".kdl").map(str::to_owned))
        .collect();
    stems.sort();
    assert!(
        stems.len() >= 5,
        "expected the scenario specs, found {stems:?}"
    );
    stems
}

/// What `specc generate specs/<stem>.kdl --out tests/golden/<stem>` writes when run
/// from the repository root, produced in `scratch` (which gets a copy of the spec).
/// Runs it twice: the second run must write nothing and change no byte.
fn generate_spec(stem: &str, scratch: &Path) -> Files {
    let spec = format!("specs/{stem}.kdl");
    let out = format!("tests/golden/{stem}");
    let copy = scratch.join(&spec);
    std::fs::create_dir_all(copy.parent().expect("specs/")).expect("create specs/");
    std::fs::copy(repo_root().join(&spec), &copy).expect("copy the spec");
    // The user's charts are inputs under the output root, committed with the goldens.
    let text = std::fs::read_to_string(&copy).expect("read the spec");
    crate::support::generate::seed_charts(&text, &scratch.join(&out));
    specc(scratch, &["generate", &spec, "--out", &out]);
    let first = snapshot(&scratch.join(&out));
    let again = specc(scratch, &["generate", &spec, "--out", &out]);
    assert!(
        again.contains(" 0 written"),
        "a second `specc generate {spec}` over its own output wrote files:\n{again}"
    );
    let second = snapshot(&scratch.join(&out));
    let changed = differences(&out, &first, &second);
    assert!(
        changed.is_empty(),
        "a second `specc generate {spec}` changed its own output:\n{}",
        changed.join("\n")
    );
    first
}

#[test]
fn specs_match_their_goldens() {
    let golden_root = repo_root().join("tests/golden");
    let stems = spec_stems();
    let mut problems = Vec::new();
    for stem in &stems {
        let dir = scratch();
        let generated = generate_spec(stem, dir.path());
        assert!(
            generated.contains_key("specc.lock"),
            "specs/{stem}.kdl: no specc.lock generated: {:?}",
            generated.keys()
        );
        let golden = golden_root.join(stem);
        if bless() {
            if golden.exists() {
                std::fs::remove_dir_all(&golden).expect("remove the old golden folder");
            }
            write_files(&golden, &generated);
            eprintln!("blessed tests/golden/{stem} ({} files)", generated.len());
        }
        problems.extend(differences(
            &format!("tests/golden/{stem}"),
            &snapshot(&golden),
            &generated,
        ));
    }
    // A golden folder whose spec is gone.
    let specs: BTreeSet<&String> = stems.iter().collect();
    if let Ok(entries) = std::fs::read_dir(&golden_root) {
        for entry in entries {
            let entry = entry.expect("list tests/golden");
            let name = entry.file_name().to_string_lossy().into_owned();
            if !specs.contains(&name) {
                if bless() {
                    let path = entry.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(&path).expect("remove a stale golden folder");
                    } else {
                        std::fs::remove_file(&path).expect("remove a stale golden file");
                    }
                    eprintln!("blessed: removed tests/golden/{name}");
                } else {
                    problems.push(format!(
                        "tests/golden/{name}: there is no specs/{name}.kdl (run with SPECC_BLESS=1)"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "generated outputs differ from the goldens (re-bless with SPECC_BLESS=1 if the change \
         is intended):\n\n{}",
        problems.join("\n")
    );
}

/// specc's own drift check agrees: the committed goldens are in sync with their specs.
#[test]
fn specc_check_accepts_the_committed_goldens() {
    for stem in spec_stems() {
        let out = format!("tests/golden/{stem}");
        if !repo_root().join(&out).join("specc.lock").is_file() {
            panic!("{out}/specc.lock is missing (run the golden test with SPECC_BLESS=1)");
        }
        specc(
            repo_root(),
            &["check", &format!("specs/{stem}.kdl"), "--out", &out],
        );
    }
}

#[test]
fn generating_twice_gives_identical_bytes() {
    for stem in spec_stems() {
        let (a, b) = (scratch(), scratch());
        let first = generate_spec(&stem, a.path());
        let second = generate_spec(&stem, b.path());
        let changed = differences(&format!("specs/{stem}.kdl"), &first, &second);
        assert!(
            changed.is_empty(),
            "two runs of `specc generate specs/{stem}.kdl` differ:\n{}",
            changed.join("\n")
        );
    }
}

// ------------------------------------------------------------------ examples/

/// `examples/<name>` for every `examples/<name>/specc.kdl`, sorted.
fn example_names() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(repo_root().join("examples")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| {
            e.expect("list examples/")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| {
            repo_root()
                .join("examples")
                .join(n)
                .join("specc.kdl")
                .is_file()
        })
        .collect();
    names.sort();
    names
}

/// The files of `dir` (relative to the repository root) that git would commit:
/// tracked or untracked, but not ignored. Without git, every file.
fn committable(dir: &str) -> BTreeSet<String> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
        ])
        .arg(dir)
        .current_dir(repo_root())
        .output();
    let prefix = format!("{dir}/");
    match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter(|p| repo_root().join(dir).join(p).is_file())
            .map(str::to_owned)
            .collect(),
        _ => snapshot(&repo_root().join(dir)).into_keys().collect(),
    }
}

/// The committed lock's `spec` (the spec path as it was named to `specc generate`)
/// and its output paths, the lock included.
fn committed_lock(dir: &Path) -> Option<(String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(dir.join("specc.lock")).ok()?;
    let lock: toml::Value = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("{}/specc.lock is not TOML: {e}", dir.display()));
    let spec = lock.get("spec")?.as_str()?.to_owned();
    let mut outputs: BTreeSet<String> = lock
        .get("outputs")
        .and_then(|o| o.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    outputs.insert("specc.lock".into());
    Some((spec, outputs))
}

#[test]
fn examples_match_their_committed_outputs() {
    let problems = folders_match_their_committed_outputs("examples", &example_names());
    assert!(
        problems.is_empty(),
        "examples differ from what `specc generate` writes for them (re-bless with \
         SPECC_BLESS=1 if the change is intended):\n\n{}",
        problems.join("\n")
    );
}

/// The real-world corpus (`tests/realworld/<project>/specc.kdl`) is golden the way the
/// examples are: each folder holds its spec and the outputs generated next to it.
#[test]
fn realworld_specs_match_their_committed_outputs() {
    let problems = folders_match_their_committed_outputs(corpus::ROOT, &corpus::projects());
    assert!(
        problems.is_empty(),
        "tests/realworld differs from what `specc generate` writes (re-bless with \
         SPECC_BLESS=1 if the change is intended):\n\n{}",
        problems.join("\n")
    );
}

/// For each `<root>/<name>/specc.kdl`: its sources (committable files the lock does not
/// list) are generated in a scratch copy as the lock says, and the folder must then
/// equal the committed one. Returns the differences (or blesses them).
fn folders_match_their_committed_outputs(root: &str, names: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for name in names {
        let rel = format!("{root}/{name}");
        let dir = repo_root().join(&rel);
        let committed_files = committable(&rel);
        let (spec, generated_before) =
            committed_lock(&dir).unwrap_or_else(|| (format!("{rel}/specc.kdl"), BTreeSet::new()));
        let sources: BTreeSet<&String> = committed_files
            .iter()
            .filter(|f| !generated_before.contains(*f))
            .collect();

        // The example's sources in a scratch repository, generated as its lock says.
        let tmp = scratch();
        let copy = tmp.path().join(&rel);
        for f in &sources {
            let target = copy.join(f);
            std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
            std::fs::copy(dir.join(f), &target).expect("copy an example file");
        }
        if spec == format!("{rel}/specc.kdl") {
            specc(tmp.path(), &["generate", &spec]);
        } else if spec == "specc.kdl" {
            specc(&copy, &["generate"]);
        } else {
            problems.push(format!(
                "{rel}/specc.lock names the spec `{spec}`; generate it from the repository root \
                 (`specc generate {rel}/specc.kdl`) or from its folder (`specc generate`)"
            ));
            continue;
        }
        let generated = snapshot(&copy);
        let committed: Files = committed_files
            .iter()
            .map(|f| {
                let bytes = std::fs::read(dir.join(f)).expect("read an example file");
                (f.clone(), bytes)
            })
            .collect();
        if bless() {
            for old in generated_before
                .iter()
                .filter(|f| !generated.contains_key(*f))
            {
                if dir.join(old).is_file() {
                    remove_file(&dir, old);
                }
            }
            let outputs: Files = generated
                .iter()
                .filter(|(f, _)| !sources.contains(f))
                .map(|(f, b)| (f.clone(), b.clone()))
                .collect();
            write_files(&dir, &outputs);
            eprintln!("blessed {rel} ({} generated files)", outputs.len());
            continue;
        }
        problems.extend(differences(&rel, &committed, &generated));
    }
    problems
}
