//! Build secrets end to end (issue 10, acceptance 3): a generated Dockerfile with secret
//! mounts is built by buildah, given each secret the way the generated bake file (hcl-rs,
//! locally and in CI), compose file (`docker-compose config`) and workflow name it, and
//! the RUN step sees each secret's content (read back from the built image).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::support::buildah::{Build, Buildah};
use crate::support::repo::Repo;
use crate::support::validators::{DEFAULT_TIMEOUT, run_tool_env, run_tool_ok};

const SPEC: &str = r#"project app version="1.0.0"

secret "hf" env="HF_TOKEN"
secret "npmrc" file="secrets/npmrc" github="NPM_RC"

stage app from="scratch" {
    copy "busybox" to="/bin/sh" chmod="0755"
    run "cat /run/secrets/hf > /hf" "cat /root/.npmrc > /npmrc" {
        secret "hf" required=#true
        secret "npmrc" target="/root/.npmrc" required=#true
    }
    cmd "/bin/sh" "-c" "cat /hf /npmrc"
}

image app stage=app

service app image=app

workflow ci {
    on "tag" pattern="v*"
}
"#;

fn repo() -> Repo {
    let repo = Repo::new()
        .spec(SPEC)
        .file("secrets/npmrc", "from-the-file\n");
    std::fs::copy(
        crate::support::examples::static_busybox(),
        repo.join("busybox"),
    )
    .expect("copy busybox");
    repo.run(&["generate"]).success();
    repo
}

/// The `secret` entries of bake target `app` evaluated with `env`.
fn bake_secrets(repo: &Repo, env: &[(&str, &str)]) -> Vec<String> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let bake = crate::support::bake::evaluate(&repo.read_text("docker-bake.hcl"), &env)
        .expect("docker-bake.hcl evaluates");
    serde_json::from_value(bake["target"]["app"]["secret"].clone())
        .unwrap_or_else(|e| panic!("target app has a list of secrets ({e}): {bake}"))
}

/// Bake's `src=` is relative to where bake runs: the spec's folder.
fn absolute_src(repo: &Repo, entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .map(|e| match e.split_once(",src=") {
            Some((id, src)) => format!("{id},src={}", repo.join(src).display()),
            None => e.clone(),
        })
        .collect()
}

/// Builds the generated Dockerfile with `secrets` and `env`, and returns what the image
/// prints: the secrets the RUN step copied.
fn build_and_read(repo: &Repo, secrets: Vec<String>, env: &[(&str, &str)]) -> String {
    let buildah = Buildah::new();
    buildah.build(&Build {
        context: repo.path().to_path_buf(),
        dockerfile: repo.join("docker/app.Dockerfile"),
        tags: vec!["localhost/app:secrets".into()],
        secrets,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Build::default()
    });
    buildah.printed("localhost/app:secrets")
}

#[test]
fn secrets_reach_the_run_step_as_the_bake_file_names_them() {
    let repo = repo();
    let local = bake_secrets(&repo, &[]);
    assert_eq!(local, ["id=hf,env=HF_TOKEN", "id=npmrc,src=secrets/npmrc"]);
    let printed = build_and_read(
        &repo,
        absolute_src(&repo, &local),
        &[("HF_TOKEN", "hf-from-env")],
    );
    assert_eq!(printed, "hf-from-envfrom-the-file\n");
}

/// In CI, the workflow sets each secret's variable from the GitHub secret of that name
/// (in a step's `env`, never in a `run:` script), and bake reads every secret from its
/// variable: a file secret's file is not in the checkout.
#[test]
fn secrets_reach_the_run_step_in_ci_from_github_secrets() {
    let repo = repo();
    let ci = bake_secrets(&repo, &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(ci, ["id=hf,env=HF_TOKEN", "id=npmrc,env=NPM_RC"]);

    let text = repo.read_text(".github/workflows/ci.yml");
    let workflow: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("workflow YAML");
    let steps = workflow["jobs"]["release"]["steps"]
        .as_sequence()
        .expect("steps");
    let bake_steps: Vec<&serde_yaml_ng::Value> = steps
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/bake-action@"))
        })
        .collect();
    assert!(
        !bake_steps.is_empty(),
        "the workflow builds with bake:\n{text}"
    );
    for step in &bake_steps {
        let env: BTreeMap<String, String> =
            serde_yaml_ng::from_value(step["env"].clone()).expect("a bake step has an env");
        assert_eq!(
            env,
            BTreeMap::from([
                (
                    "HF_TOKEN".to_string(),
                    "${{ secrets.HF_TOKEN }}".to_string()
                ),
                ("NPM_RC".to_string(), "${{ secrets.NPM_RC }}".to_string()),
            ]),
            "step {:?}",
            step["name"]
        );
    }
    for step in steps {
        let run = step["run"].as_str().unwrap_or_default();
        assert!(!run.contains("secrets."), "a secret inside a script: {run}");
    }
    run_tool_ok("actionlint", [".github/workflows/ci.yml"], repo.path());

    // What GitHub does with that env: each variable holds its secret's value.
    let printed = build_and_read(
        &repo,
        ci,
        &[("HF_TOKEN", "hf-in-ci"), ("NPM_RC", "npmrc-in-ci")],
    );
    assert_eq!(printed, "hf-in-cinpmrc-in-ci");
}

/// `docker-compose config` reads the build's secrets and the top-level `secrets:` back;
/// the build gets them from where compose says.
#[test]
fn secrets_reach_the_run_step_as_the_compose_file_names_them() {
    let repo = repo();
    let env = [("HF_TOKEN".to_string(), "hf-for-compose".to_string())];
    let out = run_tool_env(
        "docker-compose",
        ["config", "--format", "json"],
        repo.path(),
        None,
        DEFAULT_TIMEOUT,
        &env,
    )
    .assert_success();
    let config: Json = serde_json::from_str(&out.stdout).expect("compose JSON");
    let used: Vec<&str> = config["services"]["app"]["build"]["secrets"]
        .as_array()
        .expect("the build has secrets")
        .iter()
        .map(|s| s["source"].as_str().expect("a secret source"))
        .collect();
    assert_eq!(used, ["hf", "npmrc"]);
    let npmrc = repo.join("secrets/npmrc");
    assert_eq!(
        config["secrets"],
        serde_json::json!({
            "hf": {"name": "app_hf", "environment": "HF_TOKEN"},
            "npmrc": {"name": "app_npmrc", "file": npmrc.to_str().expect("UTF-8 path")},
        })
    );
    let secrets = used
        .iter()
        .map(|id| {
            let s = &config["secrets"][*id];
            match (s["environment"].as_str(), s["file"].as_str()) {
                (Some(var), None) => format!("id={id},env={var}"),
                (None, Some(file)) => format!("id={id},src={file}"),
                other => panic!("secret {id} has one source: {other:?}"),
            }
        })
        .collect();
    let printed = build_and_read(&repo, secrets, &[("HF_TOKEN", "hf-for-compose")]);
    assert_eq!(printed, "hf-for-composefrom-the-file\n");
}

/// A secret's file inside the build context never reaches an image, even through a
/// `copy "."`: the generated `.dockerignore` excludes it (after the spec's own patterns).
#[test]
fn a_secret_file_in_the_context_is_never_copied() {
    let repo = Repo::new()
        .spec(
            r#"project app version="1.0.0"
ignore "!secrets"
secret "npmrc" file="secrets/npmrc"
stage app from="scratch" {
    copy "busybox" to="/bin/sh" chmod="0755"
    copy "." to="/ctx/"
    run "cat /run/secrets/npmrc > /dev/null" {
        secret "npmrc" required=#true
    }
    cmd "/bin/sh" "-c" "test -e /ctx/busybox && test -e /ctx/secrets/other && ! test -e /ctx/secrets/npmrc && echo clean"
}
image app stage=app
"#,
        )
        .file("secrets/npmrc", "secret\n")
        .file("secrets/other", "not a secret\n");
    std::fs::copy(
        crate::support::examples::static_busybox(),
        repo.join("busybox"),
    )
    .expect("copy busybox");
    repo.run(&["generate"]).success();
    let ignore = repo.read_text(".dockerignore");
    assert!(
        ignore.ends_with("# Build secrets (mounted by `run`, never copied)\nsecrets/npmrc\n"),
        "{ignore}"
    );
    let secrets = absolute_src(&repo, &bake_secrets(&repo, &[]));
    let printed = build_and_read(&repo, secrets, &[]);
    assert_eq!(printed, "clean\n");
}
