//! Regression tests for the defects of the resolved-model issue (#8) whose fix lives in
//! `plan` and the renderers. Each test reads an output the way its real consumer does:
//! buildah builds Dockerfiles with their `.dockerignore`, PyYAML (a YAML 1.1 reader like
//! Helm's) loads values, serde_yaml_ng reads workflows.

use crate::support::buildah::{Build, Buildah};
use crate::support::repo::Repo;
use crate::support::validators::run_tool_ok;

/// Any file to copy into an image (the build needs no program: nothing runs).
fn payload() -> &'static str {
    "payload\n"
}

/// Defect 5: `**/*.py[cod]` is a default ignore pattern, and the file a COPY names is
/// `main.pyc`: the default must go, so that BuildKit (here buildah, which reads the same
/// `.dockerignore`) finds the file.
#[test]
fn a_default_ignore_pattern_never_hides_a_copied_file() {
    let repo = Repo::new()
        .spec(
            r#"project app version="1.0.0"
stage app from="scratch" {
    copy "main.pyc" to="/app/main.pyc"
}
image app stage=app
"#,
        )
        .file("main.pyc", "compiled\n")
        .file("other.pyc", "not copied\n");
    repo.run(&["generate"]).success();
    let ignore = repo.read_text(".dockerignore");
    assert!(
        !ignore.lines().any(|l| l == "**/*.py[cod]"),
        "the default that hides main.pyc is left out:\n{ignore}"
    );
    let buildah = Buildah::new();
    buildah.build(&Build {
        context: repo.path().to_path_buf(),
        dockerfile: repo.join("docker/app.Dockerfile"),
        tags: vec!["localhost/app:test".into()],
        ..Build::default()
    });
}

/// Defect 8: a plain `docker build -f` of a per-variant Dockerfile (no build arguments)
/// must build on that variant's base, not the default variant's.
#[test]
fn a_per_variant_dockerfile_defaults_to_its_own_base() {
    let buildah = Buildah::new();
    let base_dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        base_dir.path().join("Dockerfile"),
        "FROM scratch\nLABEL base=gpu\n",
    )
    .expect("write the base Dockerfile");
    buildah.build(&Build {
        context: base_dir.path().to_path_buf(),
        dockerfile: base_dir.path().join("Dockerfile"),
        tags: vec!["localhost/gpu-base:1".into()],
        ..Build::default()
    });
    let repo = Repo::new()
        .spec(
            r#"project app version="1.0.0"
arg BASE "scratch"
variant cpu default=#true
variant gpu {
    arg BASE "localhost/gpu-base:1"
}
stage app from="$BASE" {
    copy "payload" to="/payload"
}
image app stage=app
"#,
        )
        .file("payload", payload());
    repo.run(&["generate"]).success();
    for (file, expected) in [
        ("app.gpu.Dockerfile", Some("gpu")),
        ("app.cpu.Dockerfile", None),
    ] {
        let tag = format!("localhost/{file}:test").to_lowercase();
        buildah.build(&Build {
            context: repo.path().to_path_buf(),
            dockerfile: repo.join(format!("docker/{file}")),
            tags: vec![tag.clone()],
            ..Build::default()
        });
        let labels = &buildah.inspect_image(&tag)["OCIv1"]["config"]["Labels"];
        assert_eq!(
            labels["base"].as_str(),
            expected,
            "{file} built without build arguments: labels {labels}"
        );
    }
}

/// Defect 6: chart values keys that a YAML 1.1 reader takes as booleans or null (`on`,
/// `yes`, `y`, `null`) stay strings, and none collides with another.
#[test]
fn helm_values_keys_stay_strings_for_yaml_1_1_readers() {
    let repo = Repo::new().spec(
        r#"project app version="1.0.0"
registry ghcr host="ghcr.io" namespace="acme"
stage app from="scratch"
image app stage=app registries="ghcr" {
    tag "{{version}}"
}
chart app {
    image app key="image"
    node-selector "on" "a"
    node-selector "yes" "b"
    node-selector "y" "c"
    node-selector "null" "d"
    node-selector "true" "e"
    node-selector "off" "f"
}
"#,
    );
    repo.run(&["generate"]).success();
    let values = repo.join("charts/app/values.yaml");
    let script = "import json, sys, yaml\n\
                  d = yaml.safe_load(open(sys.argv[1]))\n\
                  print(json.dumps(sorted(map(repr, d['nodeSelector'].keys()))))";
    let values = values.to_string_lossy().into_owned();
    let out = run_tool_ok("python3", ["-c", script, values.as_str()], repo.path());
    let keys: Vec<String> = serde_json::from_str(out.stdout.trim()).expect("JSON list");
    assert_eq!(
        keys,
        ["'null'", "'off'", "'on'", "'true'", "'y'", "'yes'"],
        "PyYAML's reading of the node selector keys"
    );
}

/// Defect 9: an image that names no registry is built by the workflow, never pushed (a
/// push would go to Docker Hub's `library/`).
#[test]
fn an_image_without_a_registry_is_never_pushed() {
    let repo = Repo::new().spec(
        r#"project app version="1.0.0"
registry ghcr host="ghcr.io" namespace="acme" {
    login "github-token"
}
stage app from="scratch"
image local-only stage=app {
    tag "{{version}}"
}
image published stage=app registries="ghcr" {
    tag "{{version}}"
}
workflow release {
    on "tag" pattern="v*"
}
"#,
    );
    repo.run(&["generate"]).success();
    let text = repo.read_text(".github/workflows/release.yml");
    let workflow: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("workflow YAML");
    let steps = workflow["jobs"]["release"]["steps"]
        .as_sequence()
        .expect("steps");
    let mut bake_steps: Vec<(String, bool)> = Vec::new();
    for step in steps {
        let uses = step["uses"].as_str().unwrap_or_default();
        if uses.starts_with("docker/bake-action") && step["with"]["load"].as_bool() != Some(true) {
            let targets = step["with"]["targets"]
                .as_str()
                .expect("targets")
                .to_string();
            bake_steps.push((targets, step["with"]["push"].as_bool().expect("push")));
        }
    }
    assert_eq!(
        bake_steps,
        [
            ("${{ steps.version.outputs.targets }}".to_string(), true),
            ("local-only".to_string(), false)
        ],
        "bake steps of the workflow (targets, push)"
    );
    // On a release the image with a registry is pushed; on a branch push nothing (no
    // branch tag rules), and the image without a registry never.
    let version_step = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("version"))
        .expect("the version step");
    let script = version_step["run"].as_str().expect("a run script");
    let lists: Vec<&str> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("echo \"targets="))
        .collect();
    assert_eq!(
        lists,
        [
            "\" >> \"$GITHUB_OUTPUT\"",
            "published\" >> \"$GITHUB_OUTPUT\""
        ],
        "targets pushed on a branch push and on a release"
    );
}
