//! `$` in Dockerfile instructions, read back by buildah (BuildKit's Dockerfile parser):
//! `(expand)` values get Docker's expansion with the stage's own `arg`/`env` values, every
//! other `$` stays literal, a top-level `arg` is a global `ARG`, and a variant argument
//! that names a stage builds on that stage. Each target is built with exactly the
//! arguments its bake target passes.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::support::buildah::{Build, Buildah};
use crate::support::repo::Repo;

const SPEC: &str = r#"project app version="1.0.0"

variant cpu default=#true {
    arg BASE "base-cpu"
}
variant gpu {
    arg BASE "base-gpu"
}

stage base-cpu from="scratch" {
    label "flavor" "cpu"
}

stage base-gpu from="scratch" {
    label "flavor" "gpu"
}

stage app from="$BASE" {
    arg DEST "/opt/x"
    arg APP_USER "app"
    arg PORT "8080"
    env HOMEDIR "/home/app"
    copy "a$b" to=(expand)"${DEST}/"
    workdir (expand)"${HOMEDIR}/w"
    user (expand)"${APP_USER}:${APP_USER}"
    label "dest" (expand)"${DEST}"
    label "literal" "$DEST ${HOMEDIR}"
    volume (expand)"${HOMEDIR}/data" "/$lit"
    expose (expand)"${PORT}"
    env DATA (expand)"${HOMEDIR}/data"
}

stage check from="scratch" {
    copy "/opt/x/a$b" from=app to="/ok"
}

image app stage=app
image check stage=check
"#;

/// A JSON object of strings as a map (`null` is empty).
fn strings(value: &Json) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds every bake target of the generated `repo` and gives each target's image
/// config (`OCIv1.config`) by target name.
fn build_all(repo: &Repo, buildah: &Buildah) -> BTreeMap<String, Json> {
    let text = repo.read_text("docker-bake.hcl");
    let bake = crate::support::bake::evaluate(&text, &BTreeMap::new())
        .expect("docker-bake.hcl evaluates with its defaults");
    let mut configs = BTreeMap::new();
    for (name, target) in bake["target"].as_object().expect("bake targets") {
        let context = repo.join(target["context"].as_str().expect("context"));
        let tag = format!("localhost/expand-{name}:test");
        buildah.build(&Build {
            dockerfile: context.join(target["dockerfile"].as_str().expect("dockerfile")),
            context,
            target: target["target"].as_str().expect("target").to_owned(),
            args: strings(&target["args"]),
            labels: strings(&target["labels"]),
            tags: vec![tag.clone()],
            ..Build::default()
        });
        let config = buildah.inspect_image(&tag)["OCIv1"]["config"].clone();
        configs.insert(name.clone(), config);
    }
    configs
}

#[test]
fn docker_expands_exactly_the_expand_values() {
    let repo = Repo::new().spec(SPEC).file("a$b", "payload\n");
    repo.run(&["generate"]).success();
    let buildah = Buildah::new();
    let configs = build_all(&repo, &buildah);
    let names: Vec<&str> = configs.keys().map(String::as_str).collect();
    // `check` copies `/opt/x/a$b` from `app`: it builds only if the expanded destination
    // and the literal `$` of both paths are what the spec says.
    assert_eq!(names, ["app-cpu", "app-gpu", "check-cpu", "check-gpu"]);
    for variant in ["cpu", "gpu"] {
        let config = &configs[&format!("app-{variant}")];
        let labels = &config["Labels"];
        // The variant's `BASE` names a stage: the stage is in the file and is the base.
        assert_eq!(labels["flavor"], variant, "{config}");
        assert_eq!(labels["dest"], "/opt/x", "{config}");
        assert_eq!(labels["literal"], "$DEST ${HOMEDIR}", "{config}");
        assert_eq!(config["User"], "app:app", "{config}");
        assert_eq!(config["WorkingDir"], "/home/app/w", "{config}");
        let volumes: Vec<&String> = config["Volumes"].as_object().unwrap().keys().collect();
        assert_eq!(volumes, ["/$lit", "/home/app/data"], "{config}");
        assert!(config["ExposedPorts"]["8080/tcp"].is_object(), "{config}");
        let env: Vec<&str> = config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Json::as_str)
            .collect();
        assert!(env.contains(&"DATA=/home/app/data"), "{env:?}");
    }
}

/// A top-level `arg` is a global `ARG` even when no `from=` reads it: a stage that
/// declares `arg NAME` again gets its value from a plain build with no arguments.
#[test]
fn a_top_level_arg_is_always_a_global_arg() {
    let repo = Repo::new().spec(
        r#"project app version="1.0.0"
arg REGION "eu"
stage app from="scratch" {
    arg REGION
    label "region" (expand)"$REGION"
}
image app stage=app
"#,
    );
    repo.run(&["generate"]).success();
    let buildah = Buildah::new();
    buildah.build(&Build {
        context: repo.path().to_path_buf(),
        dockerfile: repo.join("docker/app.Dockerfile"),
        tags: vec!["localhost/global-arg:test".into()],
        ..Build::default()
    });
    let config = &buildah.inspect_image("localhost/global-arg:test")["OCIv1"]["config"];
    assert_eq!(config["Labels"]["region"], "eu", "{config}");
}
