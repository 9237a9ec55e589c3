//! The real validators over every file specc generates, for every spec in `specs/`, every
//! example in `examples/*/specc.kdl` and every real-world spec in
//! `tests/realworld/*/specc.kdl`, each generated into a temp dir:
//!
//! * Dockerfiles: `hadolint --no-color`, nothing at warning level or above;
//! * compose files: `docker-compose -f FILE --profile '*' config -q`, and `config` with
//!   no profile flag and with `--profile '*'`, each with the variables the file
//!   interpolates set and unset;
//! * bake files: `hcl2tojson` (python-hcl2), then structural checks on its JSON
//!   against `specc plan --json` and `specc.lock` (see `support/bake.rs`);
//! * workflows: `actionlint -no-color` (with shellcheck),
//!   `check-jsonschema --builtin-schema vendor.github-workflows` and `zizmor --offline`
//!   (the GitHub Actions security linter, default persona, any severity);
//! * YAML outputs: `yamllint` (relaxed rules, long lines allowed, warnings fail);
//! * Helm values: `check-jsonschema` against the generated `values.schema.json`.
//!
//! Each tool runs once over all the files it accepts at a time. Each has a negative
//! control: the same invocation over a generated file with one realistic mistake
//! added must fail, so a validator that silently checks nothing cannot pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::bake::{self, Bake, Expected};
use crate::support::corpus;
use crate::support::validators::{ToolOutput, repo_root, run_tool};
use serde_json::Value as Json;

/// What the plans are made for and the bake files evaluated with.
const VERSION: &str = "2.3.4";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const BRANCH: &str = "main";

/// One spec and the folder its outputs were generated into.
struct Set {
    /// The spec, relative to the repository root (`specs/iopaint.kdl`), or absolute.
    spec: String,
    root: PathBuf,
    /// Generated files, relative to `root`.
    files: Vec<String>,
}

/// Every spec's outputs, generated into one temp dir (removed on drop).
struct Outputs {
    dir: tempfile::TempDir,
    sets: Vec<Set>,
}

impl Outputs {
    /// The generated file `rel` of `spec`.
    fn file_of(&self, spec: &str, rel: &str) -> PathBuf {
        let set = self.sets.iter().find(|s| s.spec == spec);
        set.unwrap_or_else(|| panic!("{spec} was not generated"))
            .root
            .join(rel)
    }

    /// Absolute paths of the generated files whose relative path satisfies `keep`.
    fn files(&self, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
        self.sets
            .iter()
            .flat_map(|s| {
                s.files
                    .iter()
                    .filter(|f| keep(f))
                    .map(|f| s.root.join(f))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// `specs/*.kdl`, `examples/*/specc.kdl` and the real-world corpus
/// (`tests/realworld/*/specc.kdl`), relative to the repository root, sorted.
fn specs() -> Vec<String> {
    let mut specs = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("specs")).expect("read specs/") {
        let name = entry.expect("list specs/").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".kdl") {
            specs.push(format!("specs/{name}"));
        }
    }
    if let Ok(examples) = std::fs::read_dir(repo_root().join("examples")) {
        for entry in examples {
            let name = entry.expect("list examples/").file_name();
            let name = name.to_string_lossy();
            if repo_root()
                .join("examples")
                .join(&*name)
                .join("specc.kdl")
                .is_file()
            {
                specs.push(format!("examples/{name}/specc.kdl"));
            }
        }
    }
    specs.extend(corpus::specs().into_iter().map(|(rel, _)| rel));
    specs.sort();
    assert!(
        specs.iter().filter(|s| s.starts_with("specs/")).count() >= 5,
        "expected the five scenario specs in specs/, found {specs:?}"
    );
    specs
}

fn specc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .current_dir(repo_root())
        .env("NO_COLOR", "1")
        // The plans are compared with bake files evaluated under this owner.
        .env("GITHUB_REPOSITORY_OWNER", bake::OWNER)
        .output()
        .expect("run specc")
}

fn walk(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.expect("walk generated files"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    files.sort();
    files
}

/// Runs `specc generate SPEC --out <tmp>/<label>` for every spec.
fn generate_all() -> Outputs {
    let dir = tempfile::Builder::new()
        .prefix("specc-validators-")
        .tempdir()
        .expect("temp dir");
    let mut sets = Vec::new();
    for spec in specs() {
        let label = spec.trim_end_matches(".kdl").replace('/', "-");
        let root = dir.path().join(&label);
        // The user's charts the spec wires are inputs, not outputs to validate.
        let text = std::fs::read_to_string(repo_root().join(&spec)).expect("read the spec");
        crate::support::generate::seed_charts(&text, &root);
        let inputs = if root.exists() {
            walk(&root)
        } else {
            Vec::new()
        };
        let out = specc(&["generate", &spec, "--out", &root.to_string_lossy()]);
        assert!(
            out.status.success(),
            "specc generate {spec} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut files = walk(&root);
        files.retain(|f| !inputs.contains(f));
        assert!(!files.is_empty(), "{spec} generated nothing");
        sets.push(Set { spec, root, files });
    }
    sets.push(created_chart(dir.path()));
    Outputs { dir, sets }
}

/// The bundled specs wire images into the user's charts (an overlay); a chart specc
/// creates (values and schema) comes from sd-on-eks with `create=#true`.
fn created_chart(dir: &Path) -> Set {
    let chart = r#"chart sd-on-eks path="src/charts/sd_on_eks" {"#;
    let text = std::fs::read_to_string(repo_root().join("specs/sd-on-eks.kdl"))
        .expect("read the spec")
        .replace(chart, &chart.replace(" {", " create=#true {"));
    assert!(text.contains("create=#true"), "the sd-on-eks chart changed");
    let spec = dir.join("sd-on-eks-created.kdl");
    std::fs::write(&spec, text).expect("write the spec");
    let root = dir.join("sd-on-eks-created");
    let out = specc(&[
        "generate",
        &spec.to_string_lossy(),
        "--out",
        &root.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Set {
        spec: spec.to_string_lossy().into_owned(),
        files: walk(&root),
        root,
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_dockerfile(path: &str) -> bool {
    let name = file_name(path);
    name.ends_with("Dockerfile") || name.starts_with("Dockerfile")
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

fn is_compose(path: &str) -> bool {
    matches!(
        file_name(path),
        "compose.yaml" | "compose.yml" | "docker-compose.yaml" | "docker-compose.yml"
    )
}

fn is_bake(path: &str) -> bool {
    path.ends_with(".hcl")
}

fn is_workflow(path: &str) -> bool {
    is_yaml(path) && path.contains(".github/workflows/")
}

fn is_helm_values(path: &str) -> bool {
    file_name(path) == "values.yaml"
}

fn is_helm_schema(path: &str) -> bool {
    file_name(path) == "values.schema.json"
}

fn strings(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

// ------------------------------------------------------------------ coverage

/// Every generated file is covered by at least one validator below (only the
/// `.dockerignore` files and the lock have none), so a new kind of output cannot slip
/// past unvalidated.
#[test]
fn every_generated_file_has_a_validator() {
    let outputs = generate_all();
    let mut unchecked = Vec::new();
    for set in &outputs.sets {
        for f in &set.files {
            let validated = is_dockerfile(f)
                || is_yaml(f)
                || is_bake(f)
                || is_helm_schema(f)
                || file_name(f) == ".dockerignore"
                || f == "specc.lock";
            if !validated {
                unchecked.push(format!("{}: {f}", set.spec));
            }
        }
    }
    assert!(
        unchecked.is_empty(),
        "generated files no validator looks at: {unchecked:#?}"
    );
    // And the kinds the scenarios need are there at all.
    for (kind, found) in [
        ("Dockerfile", outputs.files(is_dockerfile).len()),
        ("compose file", outputs.files(is_compose).len()),
        ("bake file", outputs.files(is_bake).len()),
        ("workflow", outputs.files(is_workflow).len()),
        ("Helm values", outputs.files(is_helm_values).len()),
    ] {
        assert!(found > 0, "no {kind} was generated from any spec");
    }
}

// ------------------------------------------------------------------ hadolint

/// `hadolint --no-color` with a config of our own (so no user config can silence a
/// rule) that fails at warning level.
fn hadolint(cwd: &Path, files: &[PathBuf]) -> ToolOutput {
    let config = cwd.join("hadolint-test.yaml");
    std::fs::write(&config, "failure-threshold: warning\nignored: []\n").expect("write config");
    let mut args = vec![
        "--no-color".to_string(),
        "--config".to_string(),
        config.to_string_lossy().into_owned(),
        "--failure-threshold".to_string(),
        "warning".to_string(),
    ];
    args.extend(strings(files));
    run_tool("hadolint", args, cwd)
}

#[test]
fn hadolint_finds_nothing_at_warning_level_in_any_dockerfile() {
    let outputs = generate_all();
    let files = outputs.files(is_dockerfile);
    assert!(
        files.len() >= outputs.sets.len(),
        "too few Dockerfiles: {files:?}"
    );
    hadolint(outputs.dir.path(), &files).assert_success();
}

#[test]
fn hadolint_negative_control_copy_from_unknown_stage() {
    let outputs = generate_all();
    let file = outputs.files(is_dockerfile).remove(0);
    let mut text = std::fs::read_to_string(&file).expect("read Dockerfile");
    text.push_str("COPY --from=nope /a /b\n");
    std::fs::write(&file, text).expect("write Dockerfile");
    let out = hadolint(outputs.dir.path(), &[file]).assert_failure();
    assert!(out.combined().contains("DL3022"), "expected DL3022: {out}");
}

// ------------------------------------------------------------------ compose

/// `docker-compose -f FILE FLAGS... config ARGS...`, run in the file's folder.
fn compose_args<'a>(
    file: &'a Path,
    flags: &[&'a str],
    args: &[&'a str],
) -> (&'a Path, Vec<String>) {
    let dir = file.parent().expect("compose file has a folder");
    let name = file.file_name().expect("a file name").to_string_lossy();
    let mut all = vec!["-f".to_string(), name.into_owned()];
    all.extend(flags.iter().map(|f| f.to_string()));
    all.push("config".into());
    all.extend(args.iter().map(|a| a.to_string()));
    (dir, all)
}

fn compose_run(file: &Path, flags: &[&str], args: &[&str]) -> ToolOutput {
    let (dir, all) = compose_args(file, flags, args);
    run_tool("docker-compose", all, dir)
}

fn compose_config(file: &Path) -> ToolOutput {
    compose_run(file, &["--profile", "*"], &["-q"])
}

#[test]
fn compose_config_accepts_every_compose_file() {
    let outputs = generate_all();
    let files = outputs.files(is_compose);
    assert!(!files.is_empty(), "no compose file generated");
    for file in files {
        compose_config(&file).assert_success();
    }
}

/// Acceptance: a plain `docker compose up` of IOPaint's compose file starts the default
/// variant's service; the other variant's is under its profile.
#[test]
fn compose_iopaint_without_profile_runs_the_default_variant() {
    let outputs = generate_all();
    let file = outputs.file_of("specs/iopaint.kdl", "compose.yaml");
    let plain = compose_run(&file, &[], &["--services"]).assert_success();
    assert_eq!(plain.stdout, "iopaint-cpu\n", "{plain}");
    let mut all: Vec<String> = compose_run(&file, &["--profile", "*"], &["--services"])
        .assert_success()
        .stdout
        .lines()
        .map(String::from)
        .collect();
    all.sort();
    assert_eq!(all, ["iopaint-cpu", "iopaint-gpu"]);
    let gpu = compose_run(&file, &["--profile", "gpu"], &["--services"]).assert_success();
    let mut gpu: Vec<&str> = gpu.stdout.lines().collect();
    gpu.sort();
    assert_eq!(gpu, ["iopaint-cpu", "iopaint-gpu"]);
}

/// The variables a compose file interpolates: `$NAME` and `${NAME...}`, not `$$`.
fn interpolated_variables(text: &str) -> std::collections::BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut names = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let start = i + 1 + usize::from(bytes.get(i + 1) == Some(&b'{'));
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
        if end > start {
            names.insert(text[start..end].to_string());
        }
        i = end.max(i + 1);
    }
    names
}

/// `docker-compose -f FILE [--profile '*'] config` in an environment holding only `env`.
fn compose_config_in(
    file: &Path,
    all_profiles: bool,
    env: &BTreeMap<String, String>,
) -> ToolOutput {
    let flags: &[&str] = if all_profiles {
        &["--profile", "*"]
    } else {
        &[]
    };
    let (dir, args) = compose_args(file, flags, &[]);
    crate::support::validators::run_tool_in_env("docker-compose", args, dir, env)
}

/// What `docker compose up` sees (no profile flag) and what `--profile '*'` sees, each
/// with every interpolated variable set and with none: compose accepts the file with no
/// warning, except that an unset variable of the file is reported as unset.
#[test]
fn compose_config_accepts_every_compose_file_with_and_without_profiles_and_variables() {
    let outputs = generate_all();
    let files = outputs.files(is_compose);
    assert!(!files.is_empty(), "no compose file generated");
    let mut checked_a_variable = false;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read compose file");
        let vars = interpolated_variables(&text);
        checked_a_variable |= !vars.is_empty();
        let set: BTreeMap<String, String> =
            vars.iter().map(|v| (v.clone(), "1".to_string())).collect();
        for all_profiles in [false, true] {
            for env in [&set, &BTreeMap::new()] {
                let out = compose_config_in(&file, all_profiles, env).assert_success();
                let unexpected: Vec<&str> = out
                    .stderr
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .filter(|l| {
                        !(env.is_empty()
                            && vars.iter().any(|v| {
                                l.contains(&format!("The \\\"{v}\\\" variable is not set"))
                            }))
                    })
                    .collect();
                assert!(
                    unexpected.is_empty(),
                    "{} (all profiles: {all_profiles}, variables set: {}): compose warned:\n{}",
                    file.display(),
                    !env.is_empty(),
                    unexpected.join("\n")
                );
            }
        }
    }
    assert!(
        checked_a_variable,
        "no compose file interpolates a variable"
    );
}

/// Negative control: a `depends_on` on a service inside a profile passes with
/// `--profile '*'` but fails what plain `docker compose up` reads (no profile flag).
#[test]
fn compose_negative_control_dependency_in_a_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("compose.yaml");
    std::fs::write(
        &file,
        "services:\n  app:\n    image: \"busybox\"\n    depends_on: [\"worker\"]\n  worker:\n    \
         image: \"busybox:${TAG:-1}\"\n    profiles: [\"extra\"]\n",
    )
    .expect("write compose file");
    let env = BTreeMap::new();
    compose_config_in(&file, true, &env).assert_success();
    let out = compose_config_in(&file, false, &env).assert_failure();
    assert!(
        out.combined().contains("undefined service \"worker\""),
        "{out}"
    );
}

#[test]
fn compose_interpolated_variables_are_found() {
    let text = "a: \"${A:-x}\"\nb: \"$B\"\nc: \"$$C $${D}\"\ne: \"${E}${F_1}\"\n";
    let found: Vec<String> = interpolated_variables(text).into_iter().collect();
    assert_eq!(found, ["A", "B", "E", "F_1"]);
}

#[test]
fn compose_negative_control_bad_port() {
    let outputs = generate_all();
    let file = outputs.files(is_compose).remove(0);
    let text = std::fs::read_to_string(&file).expect("read compose file");
    let (head, tail) = text
        .split_once("    ports:\n      - \"")
        .expect("the first compose file publishes a port");
    std::fs::write(
        &file,
        format!(
            "{head}    ports:\n      - \"99999:{}",
            tail.split_once(':').unwrap().1
        ),
    )
    .expect("write compose file");
    let out = compose_config(&file).assert_failure();
    assert!(
        out.combined().contains("99999"),
        "expected a port error: {out}"
    );
}

// ------------------------------------------------------------------ bake

/// `hcl2tojson --ndjson` over `files` (one run): the parsed documents by path.
fn hcl2tojson(cwd: &Path, files: &[PathBuf]) -> Result<BTreeMap<PathBuf, Json>, ToolOutput> {
    let mut args = vec!["--ndjson".to_string(), "-q".to_string()];
    args.extend(strings(files));
    let out = run_tool("hcl2tojson", args, cwd);
    if !out.success() {
        return Err(out);
    }
    let mut docs = BTreeMap::new();
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let doc: Json = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("hcl2tojson printed bad JSON ({e}): {line}"));
        // With one input, hcl2tojson leaves out `__file__`.
        let file = match doc["__file__"].as_str() {
            Some(f) => PathBuf::from(f),
            None if files.len() == 1 => files[0].clone(),
            None => panic!("no __file__ in {line}"),
        };
        docs.insert(file, doc);
    }
    assert_eq!(
        docs.len(),
        files.len(),
        "hcl2tojson did not print every file: {out}"
    );
    Ok(docs)
}

fn plan_json(spec: &str, branch: bool) -> Json {
    let mut args = vec![
        "plan",
        spec,
        "--json",
        "--set-version",
        VERSION,
        "--sha",
        SHA,
    ];
    if branch {
        args.extend(["--branch", BRANCH]);
    }
    let out = specc(&args);
    assert!(
        out.status.success(),
        "specc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("plan --json prints JSON")
}

fn texts(set: &Set) -> BTreeMap<String, String> {
    set.files
        .iter()
        .filter_map(|f| Some((f.clone(), std::fs::read_to_string(set.root.join(f)).ok()?)))
        .collect()
}

/// The structural problems of `set`'s bake file, parsed from `doc`.
fn bake_problems(set: &Set, doc: &Json) -> Vec<String> {
    let bake = Bake::from_hcl2json(doc).unwrap_or_else(|e| panic!("{}: {e}", set.spec));
    let release = plan_json(&set.spec, false);
    let branch = plan_json(&set.spec, true);
    let files = texts(set);
    bake::check(
        &bake,
        &Expected {
            release: &release,
            branch: &branch,
            version: VERSION,
            sha: SHA,
            branch_name: BRANCH,
            files: &files,
        },
    )
}

#[test]
fn bake_files_parse_and_match_the_plan() {
    let outputs = generate_all();
    let files = outputs.files(is_bake);
    assert!(!files.is_empty(), "no bake file generated");
    let docs = hcl2tojson(outputs.dir.path(), &files).unwrap_or_else(|out| {
        panic!("hcl2tojson rejected a generated bake file: {out}");
    });
    let mut problems = Vec::new();
    let mut checked = 0;
    for set in &outputs.sets {
        for f in set.files.iter().filter(|f| is_bake(f)) {
            let doc = &docs[&set.root.join(f)];
            checked += 1;
            problems.extend(
                bake_problems(set, doc)
                    .into_iter()
                    .map(|p| format!("{} {f}: {p}", set.spec)),
            );
        }
    }
    assert_eq!(checked, files.len());
    assert!(problems.is_empty(), "bake files: {problems:#?}");
}

#[test]
fn hcl2tojson_negative_control_unbalanced_brace() {
    let outputs = generate_all();
    let file = outputs.files(is_bake).remove(0);
    let text = std::fs::read_to_string(&file).expect("read bake file");
    std::fs::write(
        &file,
        text.replacen("group \"default\" {", "group \"default\" {{", 1),
    )
    .expect("write bake file");
    let out = hcl2tojson(outputs.dir.path(), &[file]).expect_err("broken HCL must fail");
    assert!(!out.success());
}

/// The structural checks catch each mistake they exist for, in a real bake file.
#[test]
fn bake_checks_negative_controls() {
    let outputs = generate_all();
    let set = outputs
        .sets
        .iter()
        .find(|s| s.spec == "specs/iopaint.kdl")
        .expect("iopaint generated");
    let path = set.root.join("docker-bake.hcl");
    let original = std::fs::read_to_string(&path).expect("read bake file");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a group member that does not exist",
            original.replacen(
                "targets = [\"iopaint-cpu\"]",
                "targets = [\"iopaint-cpux\"]",
                1,
            ),
            "neither a target nor a group",
        ),
        (
            "a platform the variant does not build",
            original.replacen(
                "platforms  = [\"linux/amd64\"]",
                "platforms  = [\"linux/arm64\"]",
                1,
            ),
            "platforms [\"linux/arm64\"]",
        ),
        (
            "a missing release tag",
            original.replacen("/iopaint:cpu-latest\"", "/iopaint:cpu-latest-x\"", 1),
            "cpu-latest` of the release plan is missing",
        ),
        (
            "a registry without tags",
            {
                // Empty the cpu target's tags: its registry gets none of the plan's.
                // The list closes on its own line (`  ]` or `  ])`, when it is compacted).
                let start = original.find("  tags = ").expect("tags");
                let close = start + original[start..].find("\n  ]").expect("end of tags");
                let end = close + 1 + original[close + 1..].find('\n').expect("line end");
                format!("{}  tags = []{}", &original[..start], &original[end..])
            },
            "no tag for registry repository `docker.io/some-owner/iopaint`",
        ),
        (
            "two targets sharing a cache scope",
            original.replacen(
                "  tags = ",
                "  cache-from = [\"type=gha,scope=shared\"]\n  cache-to = [\"type=gha,mode=max,scope=shared\"]\n  tags = ",
                2,
            ),
            "shares cache `gha scope=shared`",
        ),
        (
            "an input-hash label",
            original.replacen(
                "    \"org.opencontainers.image.title\"",
                "    \"dev.specc.input-hash\" = \"0123\"\n    \"org.opencontainers.image.title\"",
                1,
            ),
            "label `dev.specc.input-hash`",
        ),
        (
            "a stage the Dockerfile does not define",
            original.replacen("target     = \"runtime\"", "target     = \"runtim\"", 1),
            "has no stage `runtim`",
        ),
    ];
    for (what, text, expected) in cases {
        assert_ne!(text, original, "the mutation for {what} changed nothing");
        std::fs::write(&path, &text).expect("write bake file");
        let docs = hcl2tojson(outputs.dir.path(), std::slice::from_ref(&path))
            .unwrap_or_else(|out| panic!("{what}: the mutated file must still parse: {out}"));
        let problems = bake_problems(set, &docs[&path]);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{what}: expected a problem containing `{expected}`, got {problems:#?}"
        );
    }
    // And the untouched file has none (the mutations above are what is caught).
    std::fs::write(&path, &original).expect("restore bake file");
    let docs = hcl2tojson(outputs.dir.path(), std::slice::from_ref(&path)).expect("parses");
    assert_eq!(bake_problems(set, &docs[&path]), Vec::<String>::new());
}

/// An image pushed to two registries (dify: GHCR and Docker Hub) must be tagged in both:
/// dropping one registry's tags from one target is caught.
#[test]
fn bake_checks_negative_control_missing_registry() {
    let outputs = generate_all();
    let set = outputs
        .sets
        .iter()
        .find(|s| s.spec == "specs/dify.kdl")
        .expect("dify generated");
    let path = set.root.join("docker-bake.hcl");
    let original = std::fs::read_to_string(&path).expect("read bake file");
    let ghcr_api = "\"ghcr.io/${lower(GITHUB_REPOSITORY_OWNER != \"\" ? GITHUB_REPOSITORY_OWNER : \"dify\")}/dify-api:";
    let text: String = original
        .lines()
        // A tag line is the string, or `CONDITION ? "" : "..."` for a tag a pre-release
        // leaves out.
        .filter(|l| !l.contains(ghcr_api))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text, original, "dify-api has GHCR tags to drop");
    std::fs::write(&path, &text).expect("write bake file");
    let docs = hcl2tojson(outputs.dir.path(), std::slice::from_ref(&path)).expect("parses");
    let problems = bake_problems(set, &docs[&path]);
    assert!(
        problems.iter().any(|p| p.contains(
            "target `dify-api`: no tag for registry repository `ghcr.io/some-owner/dify-api`"
        )),
        "GHCR tags of dify-api were dropped unnoticed: {problems:#?}"
    );
}

/// A conditional on the event (`SPECC_EVENT == "release" ? [...] : [...]`, a branch push's
/// list last) is checked on both sides: breaking the branch side is caught.
#[test]
fn bake_checks_negative_control_branch_tags() {
    let outputs = generate_all();
    let mut found = false;
    for set in &outputs.sets {
        let path = set.root.join("docker-bake.hcl");
        let Ok(original) = std::fs::read_to_string(&path) else {
            continue;
        };
        // The branch push's list: after the release's, which ends at the first list end
        // followed by ` : ` (`compact` or not).
        let Some(release_end) = original
            .find("SPECC_EVENT == \"release\" ? ")
            .and_then(|at| {
                ["\n  ] : ", "\n  ]) : "]
                    .iter()
                    .filter_map(|end| original[at..].find(end))
                    .min()
                    .map(|end| at + end)
            })
        else {
            continue;
        };
        let (head, branch_side) = original.split_at(release_end);
        // No branch tags yet (a dispatch-only workflow's empty branch list).
        let list_start = branch_side.find(" : ").map_or(0, |at| at + 3);
        if branch_side[list_start..].starts_with("[\n  ]") {
            continue;
        }
        found = true;
        // An `x` in front of the first branch-side value: the commit, else the branch name.
        let text = ["substr(GIT_SHA", "regex_replace(GIT_BRANCH"]
            .iter()
            .find(|v| branch_side.contains(*v))
            .map(|v| {
                let broken = branch_side.replacen(v, &format!("substr(\"x\", 0, 1)}}${{{v}"), 1);
                format!("{head}{broken}")
            })
            .unwrap_or_else(|| original.clone());
        assert_ne!(
            text, original,
            "{}: neither GIT_SHA nor GIT_BRANCH in the branch tags",
            set.spec
        );
        std::fs::write(&path, &text).expect("write bake file");
        let docs = hcl2tojson(outputs.dir.path(), std::slice::from_ref(&path)).expect("parses");
        let problems = bake_problems(set, &docs[&path]);
        assert!(
            problems.iter().any(|p| p.contains("on a branch push")),
            "{}: a broken branch tag went unnoticed: {problems:#?}",
            set.spec
        );
    }
    assert!(
        found,
        "no spec has branch-push tags (comfyui-runpod should)"
    );
}

// ------------------------------------------------------------------ workflows

fn actionlint(cwd: &Path, files: &[PathBuf]) -> ToolOutput {
    let mut args = vec!["-no-color".to_string()];
    args.extend(strings(files));
    run_tool("actionlint", args, cwd)
}

fn workflow_schema(cwd: &Path, files: &[PathBuf]) -> ToolOutput {
    let mut args = vec![
        "--builtin-schema".to_string(),
        "vendor.github-workflows".to_string(),
    ];
    args.extend(strings(files));
    run_tool("check-jsonschema", args, cwd)
}

#[test]
fn actionlint_finds_nothing_in_any_workflow() {
    let outputs = generate_all();
    let files = outputs.files(is_workflow);
    assert!(!files.is_empty(), "no workflow generated");
    let out = actionlint(outputs.dir.path(), &files).assert_success();
    assert!(out.stdout.trim().is_empty(), "actionlint findings: {out}");
}

#[test]
fn every_workflow_matches_the_github_workflow_schema() {
    let outputs = generate_all();
    let files = outputs.files(is_workflow);
    assert!(!files.is_empty(), "no workflow generated");
    workflow_schema(outputs.dir.path(), &files).assert_success();
}

/// A typo in a job key (`runs-onn`) fails both workflow validators.
#[test]
fn workflow_validators_negative_control_typo() {
    let outputs = generate_all();
    let file = outputs.files(is_workflow).remove(0);
    let text = std::fs::read_to_string(&file).expect("read workflow");
    assert!(text.contains("    runs-on: "), "a job with runs-on");
    std::fs::write(&file, text.replacen("    runs-on: ", "    runs-onn: ", 1))
        .expect("write workflow");
    let files = [file];
    let out = actionlint(outputs.dir.path(), &files).assert_failure();
    assert!(out.combined().contains("runs-onn"), "{out}");
    workflow_schema(outputs.dir.path(), &files).assert_failure();
}

fn zizmor(cwd: &Path, files: &[PathBuf]) -> ToolOutput {
    let mut args = vec!["--offline".to_string(), "--no-progress".to_string()];
    args.extend(strings(files));
    run_tool("zizmor", args, cwd)
}

#[test]
fn zizmor_finds_nothing_in_any_workflow() {
    let outputs = generate_all();
    let files = outputs.files(is_workflow);
    assert!(!files.is_empty(), "no workflow generated");
    let out = zizmor(outputs.dir.path(), &files).assert_success();
    assert!(
        out.stdout.contains("No findings to report"),
        "zizmor: {out}"
    );
}

/// An action pinned by tag instead of commit is a zizmor finding.
#[test]
fn zizmor_negative_control_unpinned_action() {
    let outputs = generate_all();
    let file = outputs.files(is_workflow).remove(0);
    let text = std::fs::read_to_string(&file).expect("read workflow");
    let pinned = specc::render::actions::find("actions/checkout")
        .unwrap()
        .uses();
    assert!(
        text.contains(&pinned),
        "the workflow checks out with {pinned}"
    );
    std::fs::write(&file, text.replace(&pinned, "actions/checkout@v5")).expect("write");
    let out = zizmor(outputs.dir.path(), &[file]).assert_failure();
    assert!(out.stdout.contains("unpinned-uses"), "{out}");
}

/// Tag conditions change the version step: a scheduled run with tags of its own, a date
/// fixed in `SPECC_DATE`, branch and registry filters. Every workflow validator accepts
/// the workflow they give.
#[test]
fn workflow_with_tag_conditions_passes_every_workflow_validator() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("specc.kdl");
    std::fs::write(
        &spec,
        r#"project shop version="1.0.0"
registry ghcr host="ghcr.io" {
    login "github-token"
}
registry hub host="docker.io" namespace="acme" {
    login "basic" username-secret=DOCKERHUB_USERNAME password-secret=DOCKERHUB_TOKEN
}
stage app from="alpine:3.20" {
    cmd "true"
}
image shop stage=app registries="ghcr hub" {
    tag "{{version}}"
    tag "latest" registry="hub"
    tag "{{branch}}" when="branch"
    tag "edge" when="branch" branch="main"
    tag "rc" when="branch" branch="release/**"
    tag "nightly-{{date 'YYYYMMDD'}}" when="schedule"
    tag "{{sha_long}}" when="always"
}
workflow release {
    on "tag" pattern="v*"
    on "push" branch="main"
    on "push" branch="release/**"
    on "schedule" cron="0 3 * * *"
    on "dispatch"
    on "pull-request"
}
"#,
    )
    .expect("write the spec");
    let spec = spec.to_string_lossy();
    let out = specc(&["generate", &spec]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let workflow = dir.path().join(".github/workflows/release.yml");
    let text = std::fs::read_to_string(&workflow).expect("the workflow");
    for line in ["event=schedule", "SPECC_DATE=$(date -u"] {
        assert!(
            text.contains(line),
            "the version step lacks `{line}`:\n{text}"
        );
    }
    let files = [workflow];
    let lint = actionlint(dir.path(), &files).assert_success();
    assert!(lint.stdout.trim().is_empty(), "actionlint findings: {lint}");
    workflow_schema(dir.path(), &files).assert_success();
    let security = zizmor(dir.path(), &files).assert_success();
    assert!(
        security.stdout.contains("No findings to report"),
        "zizmor: {security}"
    );
    let yaml = yamllint(dir.path(), &files).assert_success();
    assert!(yaml.stdout.trim().is_empty(), "yamllint findings: {yaml}");
}

// ------------------------------------------------------------------ YAML

/// yamllint's relaxed rules without the line-length rule (URLs and `${{ }}`
/// expressions make long lines unavoidable), in strict mode so warnings fail too.
fn yamllint(cwd: &Path, files: &[PathBuf]) -> ToolOutput {
    let mut args = vec![
        "--strict".to_string(),
        "-f".to_string(),
        "parsable".to_string(),
        "-d".to_string(),
        "{extends: relaxed, rules: {line-length: disable}}".to_string(),
    ];
    args.extend(strings(files));
    run_tool("yamllint", args, cwd)
}

#[test]
fn yamllint_accepts_every_yaml_output() {
    let outputs = generate_all();
    let files = outputs.files(is_yaml);
    assert!(!files.is_empty(), "no YAML generated");
    let out = yamllint(outputs.dir.path(), &files).assert_success();
    assert!(out.stdout.trim().is_empty(), "yamllint findings: {out}");
}

#[test]
fn yamllint_negative_control_duplicate_key() {
    let outputs = generate_all();
    let file = outputs.files(is_compose).remove(0);
    let mut text = std::fs::read_to_string(&file).expect("read YAML");
    text.push_str("name: \"again\"\n");
    std::fs::write(&file, text).expect("write YAML");
    let out = yamllint(outputs.dir.path(), &[file]).assert_failure();
    assert!(out.combined().contains("key-duplicates"), "{out}");
}

// ------------------------------------------------------------------ Helm values

fn values_against_schema(values: &Path) -> ToolOutput {
    let schema = values.with_file_name("values.schema.json");
    run_tool(
        "check-jsonschema",
        [
            "--schemafile".to_string(),
            schema.to_string_lossy().into_owned(),
            values.to_string_lossy().into_owned(),
        ],
        values.parent().expect("a chart folder"),
    )
}

#[test]
fn helm_values_match_their_generated_schema() {
    let outputs = generate_all();
    let values = outputs.files(is_helm_values);
    assert!(!values.is_empty(), "no Helm values generated");
    let schemas = outputs.files(is_helm_schema);
    assert_eq!(values.len(), schemas.len(), "one schema per values file");
    let mut args = vec!["--check-metaschema".to_string()];
    args.extend(strings(&schemas));
    run_tool("check-jsonschema", args, outputs.dir.path()).assert_success();
    for file in &values {
        values_against_schema(file).assert_success();
    }
}

#[test]
fn helm_values_negative_control_misspelled_key() {
    let outputs = generate_all();
    let file = outputs.files(is_helm_values).remove(0);
    let mut text = std::fs::read_to_string(&file).expect("read values");
    text.push_str("imagee:\n  tag: \"x\"\n");
    std::fs::write(&file, text).expect("write values");
    let out = values_against_schema(&file).assert_failure();
    assert!(out.combined().contains("imagee"), "{out}");
}
