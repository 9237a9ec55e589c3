//! Build arguments from CI values (`arg GIT_SHA "local" from-ci="sha"`): the bake file
//! (evaluated with hcl-rs) and `specc plan` give the GitHub Actions variable in CI and the
//! spec's value elsewhere, and a buildah build with the bake file's arguments bakes that
//! value into the image. GitHub sets the variables in every step, so the workflow passes
//! nothing (and no `${{ }}` lands in a script).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::support::buildah::{Build, Buildah};
use crate::support::repo::Repo;

const SPEC: &str = r##"project app version="1.0.0"

arg GIT_SHA "local" from-ci="sha"
arg RUN_ID from-ci="run-id"

stage app from="scratch" {
    copy "busybox" to="/bin/sh" chmod="0755"
    arg GIT_SHA
    arg RUN_ID
    run #"echo "$GIT_SHA/$RUN_ID" > /ci"#
    cmd "/bin/sh" "-c" "cat /ci"
}

image app stage=app
"##;

/// The environments compared: outside CI (the variables empty, whatever the test
/// process has) and in CI.
const LOCAL: &[(&str, &str)] = &[("GITHUB_SHA", ""), ("GITHUB_RUN_ID", "")];
const CI: &[(&str, &str)] = &[("GITHUB_SHA", "0123abc"), ("GITHUB_RUN_ID", "42")];

fn bake_args(repo: &Repo, env: &[(&str, &str)]) -> BTreeMap<String, String> {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let bake = crate::support::bake::evaluate(&repo.read_text("docker-bake.hcl"), &env)
        .expect("docker-bake.hcl evaluates");
    serde_json::from_value(bake["target"]["app"]["args"].clone()).expect("string args")
}

fn plan_args(repo: &Repo, env: &[(&str, &str)]) -> BTreeMap<String, String> {
    let out = repo.run_env(&["plan", "--json"], env).success();
    let plan: Json = serde_json::from_str(&out.stdout).expect("plan JSON");
    serde_json::from_value(plan["targets"][0]["args"].clone()).expect("string args")
}

#[test]
fn ci_values_reach_the_build_as_arguments_with_a_local_default() {
    let repo = Repo::new().spec(SPEC);
    std::fs::copy(
        crate::support::examples::static_busybox(),
        repo.join("busybox"),
    )
    .expect("copy busybox");
    repo.run(&["generate"]).success();
    for (env, sha, run_id) in [(LOCAL, "local", ""), (CI, "0123abc", "42")] {
        let args = bake_args(&repo, env);
        assert_eq!(
            (args["GIT_SHA"].as_str(), args["RUN_ID"].as_str()),
            (sha, run_id),
            "bake under {env:?}"
        );
        assert_eq!(args, plan_args(&repo, env), "bake and plan under {env:?}");
    }
    let buildah = Buildah::new();
    buildah.build(&Build {
        context: repo.path().to_path_buf(),
        dockerfile: repo.join("docker/app.Dockerfile"),
        args: bake_args(&repo, CI),
        tags: vec!["localhost/app:ci".into()],
        ..Build::default()
    });
    assert_eq!(buildah.printed("localhost/app:ci"), "0123abc/42\n");
}
