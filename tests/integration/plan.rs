//! The build plan of the five scenario specs (`specs/*.kdl`, see SCENARIOS.md): the facts a
//! user relies on (targets, platforms, registries, tags), read from `specc plan --json` of
//! the real binary, not from a golden file. Also: `specc check` passes on each spec, and the
//! human `specc plan` shows the same pushes as the JSON.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const SPECS: [&str; 5] = [
    "specs/comfyui-runpod.kdl",
    "specs/iopaint.kdl",
    "specs/dify.kdl",
    "specs/new-api.kdl",
    "specs/sd-on-eks.kdl",
];

fn specc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .output()
        .expect("the specc binary runs")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `specc plan SPEC --json EXTRA...`, which must succeed without any diagnostic.
fn plan(spec: &str, extra: &[&str]) -> Value {
    let mut args = vec!["plan", spec, "--json", "--color", "never"];
    args.extend_from_slice(extra);
    let out = specc(&args, root());
    assert_eq!(
        out.status.code(),
        Some(0),
        "specc {}: {}",
        args.join(" "),
        text(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "specc {} printed diagnostics: {}",
        args.join(" "),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("`plan --json` prints JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn targets(plan: &Value) -> &Vec<Value> {
    plan["targets"].as_array().expect("the plan has targets")
}

fn target<'p>(plan: &'p Value, name: &str) -> &'p Value {
    targets(plan)
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target `{name}` in {plan:#}"))
}

fn tag_set(target: &Value) -> BTreeSet<String> {
    let tags = strings(&target["tags"]);
    let unique: BTreeSet<String> = tags.iter().cloned().collect();
    assert_eq!(unique.len(), tags.len(), "a tag is listed twice: {tags:?}");
    unique
}

fn registry<'t>(target: &'t Value, name: &str) -> &'t Value {
    target["registries"]
        .as_array()
        .expect("a target has registries")
        .iter()
        .find(|r| r["registry"] == name)
        .unwrap_or_else(|| panic!("target {} is not pushed to `{name}`", target["name"]))
}

/// Every registry of the target gets every tag of the target: `<repository>:<tag>`.
fn assert_refs_cover_tags(target: &Value) {
    let tags = tag_set(target);
    for r in target["registries"].as_array().expect("registries") {
        let repo = r["repository"].as_str().expect("a repository");
        let refs: BTreeSet<String> = strings(&r["refs"]).into_iter().collect();
        let expected: BTreeSet<String> = tags.iter().map(|t| format!("{repo}:{t}")).collect();
        assert_eq!(
            refs, expected,
            "target {} in {}: refs are not repository x tags",
            target["name"], r["registry"]
        );
    }
}

#[test]
fn new_api_at_1_0_0_gets_version_feature_and_latest_tags() {
    // SCENARIOS.md 4: one build tagged latest, v1.0.0, v1.0.0-conversation, conversation.
    for version in ["1.0.0", "v1.0.0"] {
        // A git tag `v1.0.0` (the workflow runs on `v*`) means version 1.0.0.
        let p = plan("specs/new-api.kdl", &["--set-version", version]);
        assert_eq!(p["version"], "1.0.0", "--set-version {version}");
        assert_eq!(p["event"], "release");
        assert_eq!(targets(&p).len(), 1, "one image, one build: {p:#}");
        let t = target(&p, "new-api");
        assert_eq!(t["image"], "new-api");
        assert_eq!(t["args"]["VERSION"], "1.0.0", "--set-version {version}");
        assert_eq!(
            tag_set(t),
            set(&["latest", "v1.0.0", "v1.0.0-conversation", "conversation"]),
            "--set-version {version}"
        );
        let hub = registry(t, "dockerhub");
        let repo = hub["repository"].as_str().expect("a repository");
        assert!(
            repo.starts_with("docker.io/") && repo.ends_with("/new-api"),
            "new-api goes to <user>/new-api on Docker Hub, got {repo}"
        );
        assert_eq!(t["registries"].as_array().map(Vec::len), Some(1));
        assert_refs_cover_tags(t);
    }
    // The tags follow the version: nothing is pinned to 1.0.0.
    let p = plan("specs/new-api.kdl", &["--set-version", "2.3.4"]);
    assert_eq!(
        tag_set(target(&p, "new-api")),
        set(&["latest", "v2.3.4", "v2.3.4-conversation", "conversation"])
    );
}

#[test]
fn dify_pushes_three_images_to_both_registries() {
    // SCENARIOS.md 3: dify-api, dify-web, dify-worker to GHCR and Docker Hub, tags
    // <version> and latest, linux/amd64 + linux/arm64.
    let p = plan("specs/dify.kdl", &["--set-version", "1.9.2"]);
    let images: BTreeSet<String> = targets(&p)
        .iter()
        .map(|t| t["image"].as_str().expect("an image").to_string())
        .collect();
    assert_eq!(images, set(&["dify-api", "dify-web", "dify-worker"]));
    assert_eq!(targets(&p).len(), 3, "one multi-arch build per image");
    for t in targets(&p) {
        let image = t["image"].as_str().expect("an image");
        assert_eq!(tag_set(t), set(&["1.9.2", "latest"]), "{image}");
        assert_eq!(
            strings(&t["platforms"]),
            ["linux/amd64", "linux/arm64"],
            "{image}"
        );
        let registries: BTreeSet<String> = t["registries"]
            .as_array()
            .expect("registries")
            .iter()
            .map(|r| r["registry"].as_str().expect("a name").to_string())
            .collect();
        assert_eq!(registries, set(&["ghcr", "dockerhub"]), "{image}");
        let ghcr = registry(t, "ghcr")["repository"].as_str().expect("a repo");
        assert!(
            ghcr.starts_with("ghcr.io/") && ghcr.ends_with(&format!("/{image}")),
            "{image} on GHCR: {ghcr}"
        );
        let hub = registry(t, "dockerhub")["repository"]
            .as_str()
            .expect("a repo");
        assert!(
            hub.starts_with("docker.io/") && hub.ends_with(&format!("/{image}")),
            "{image} on Docker Hub: {hub}"
        );
        assert_refs_cover_tags(t);
    }
    // The worker is the API image started as a worker: same build context.
    assert_eq!(
        target(&p, "dify-worker")["context"],
        target(&p, "dify-api")["context"]
    );
    assert_ne!(
        target(&p, "dify-web")["context"],
        target(&p, "dify-api")["context"]
    );
    // The upstream version flows into every tag list.
    let p = plan("specs/dify.kdl", &["--set-version", "1.10.0"]);
    for t in targets(&p) {
        assert_eq!(tag_set(t), set(&["1.10.0", "latest"]));
    }
}

#[test]
fn iopaint_builds_cpu_and_gpu_variants() {
    // SCENARIOS.md 2: CPU on python:3.10-slim-bookworm, GPU on CUDA 11.8 (amd64 only),
    // three stages, tags like iopaint:cpu-latest and iopaint:gpu-latest plus versioned ones.
    let p = plan("specs/iopaint.kdl", &["--set-version", "1.6.0"]);
    assert_eq!(targets(&p).len(), 2, "{p:#}");
    let cpu = targets(&p)
        .iter()
        .find(|t| t["variant"] == "cpu")
        .expect("a cpu target");
    let gpu = targets(&p)
        .iter()
        .find(|t| t["variant"] == "gpu")
        .expect("a gpu target");
    for t in [cpu, gpu] {
        assert_eq!(t["image"], "iopaint");
        assert_eq!(t["stage"], "runtime");
        assert_eq!(
            strings(&t["stages"]),
            ["frontend-builder", "python-builder", "runtime"],
            "frontend and Python deps are built before the runtime that copies from both"
        );
        let hub = registry(t, "dockerhub")["repository"]
            .as_str()
            .expect("a repo");
        assert!(hub.starts_with("docker.io/") && hub.ends_with("/iopaint"));
        assert_refs_cover_tags(t);
    }
    assert_eq!(cpu["args"]["BASE_IMAGE"], "python:3.10-slim-bookworm");
    assert_eq!(
        gpu["args"]["BASE_IMAGE"],
        "nvidia/cuda:11.8.0-runtime-ubuntu22.04"
    );
    // CUDA images exist for amd64 only; the CPU image is built for amd64 at least.
    assert_eq!(strings(&gpu["platforms"]), ["linux/amd64"]);
    assert!(strings(&cpu["platforms"]).contains(&"linux/amd64".to_string()));
    assert!(gpu["gpu"].is_object(), "the gpu variant reserves GPUs");
    assert_eq!(gpu["gpu"]["driver"], "nvidia");
    assert!(cpu["gpu"].is_null(), "the cpu variant needs no GPU");

    let cpu_tags = tag_set(cpu);
    let gpu_tags = tag_set(gpu);
    // Like the seed's build script, every tag names its variant: no plain `latest`.
    assert_eq!(cpu_tags, set(&["cpu-latest", "cpu-1.6.0"]));
    assert_eq!(gpu_tags, set(&["gpu-latest", "gpu-1.6.0"]));
    assert!(
        cpu_tags.is_disjoint(&gpu_tags),
        "one tag cannot name both variants"
    );
}

#[test]
fn comfyui_runpod_is_one_amd64_gpu_image_on_docker_hub() {
    // SCENARIOS.md 1: built for linux/amd64 explicitly, pushed to Docker Hub as
    // <user>/runpod-comfyui-custom:<version> and :latest.
    let p = plan("specs/comfyui-runpod.kdl", &["--set-version", "1.1.0"]);
    assert_eq!(targets(&p).len(), 1, "{p:#}");
    let t = &targets(&p)[0];
    assert_eq!(t["image"], "runpod-comfyui-custom");
    assert_eq!(strings(&t["platforms"]), ["linux/amd64"]);
    assert!(t["gpu"].is_object(), "a GPU image: {t:#}");
    let tags = tag_set(t);
    assert!(tags.contains("latest"), "{tags:?}");
    assert!(
        tags.iter().any(|tag| tag.contains("1.1.0")),
        "a versioned tag: {tags:?}"
    );
    assert_eq!(t["registries"].as_array().map(Vec::len), Some(1));
    let hub = registry(t, "dockerhub")["repository"]
        .as_str()
        .expect("a repo");
    assert!(
        hub.starts_with("docker.io/") && hub.ends_with("/runpod-comfyui-custom"),
        "{hub}"
    );
    assert_refs_cover_tags(t);

    // Dev iterations (a push to a branch) go to Docker Hub without moving `latest` or a
    // version tag.
    let p = plan(
        "specs/comfyui-runpod.kdl",
        &["--branch", "dev", "--sha", "0123456789abcdef"],
    );
    assert_eq!(p["event"], "branch");
    let t = &targets(&p)[0];
    let tags = tag_set(t);
    assert!(!tags.is_empty(), "a branch push is tagged");
    assert!(!tags.contains("latest"), "{tags:?}");
    assert!(!tags.iter().any(|tag| tag.contains("1.1.0")), "{tags:?}");
    assert!(
        tags.iter().all(|tag| tag.contains("0123456")),
        "branch builds are tagged by commit: {tags:?}"
    );
    assert_refs_cover_tags(t);
}

#[test]
fn sd_on_eks_pushes_the_queue_agent_to_ecr() {
    // SCENARIOS.md 5: queue-agent from src/backend/queue_agent/ to
    // <account>.dkr.ecr.<region>.amazonaws.com/sd-on-eks/queue-agent:latest.
    let p = plan("specs/sd-on-eks.kdl", &["--set-version", "1.1.0"]);
    assert_eq!(targets(&p).len(), 1, "{p:#}");
    let t = target(&p, "queue-agent");
    assert_eq!(t["image"], "queue-agent");
    assert_eq!(
        t["context"].as_str().map(|c| c.trim_end_matches('/')),
        Some("src/backend/queue_agent")
    );
    assert_eq!(strings(&t["platforms"]), ["linux/amd64"]);
    assert_eq!(t["registries"].as_array().map(Vec::len), Some(1));
    let ecr = registry(t, "ecr");
    let repo = ecr["repository"].as_str().expect("a repo");
    let (host, path) = repo.split_once('/').expect("host/path");
    let labels: Vec<&str> = host.split('.').collect();
    assert!(
        labels.len() == 6
            && labels[0].len() == 12
            && labels[0].bytes().all(|b| b.is_ascii_digit())
            && labels[1..3] == ["dkr", "ecr"]
            && labels[4..] == ["amazonaws", "com"],
        "an ECR host <account>.dkr.ecr.<region>.amazonaws.com: {host}"
    );
    assert_eq!(path, "sd-on-eks/queue-agent");
    let tags = tag_set(t);
    assert!(tags.contains("latest"), "{tags:?}");
    assert!(tags.contains("1.1.0"), "{tags:?}");
    assert_refs_cover_tags(t);
}

#[test]
fn check_passes_on_every_scenario_spec() {
    for spec in SPECS {
        let out = specc(
            &[
                "--deny-warnings",
                "check",
                spec,
                "--spec-only",
                "--color",
                "never",
            ],
            root(),
        );
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "specc check {spec}:\n{}",
            text(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{spec} raises diagnostics: {}",
            text(&out.stderr)
        );
        assert!(stdout.starts_with(&format!("{spec}: ok")), "{stdout}");

        // Plain `specc check` beside a spec that was never generated: every output is
        // missing, so it fails and names them; after `generate` it passes.
        let tmp = tempfile::tempdir().expect("a temporary folder");
        std::fs::copy(root().join(spec), tmp.path().join("specc.kdl")).expect("copy the spec");
        let source = std::fs::read_to_string(root().join(spec)).expect("read the spec");
        crate::support::generate::seed_charts(&source, tmp.path());
        let out = specc(&["check", "--color", "never"], tmp.path());
        assert_eq!(
            out.status.code(),
            Some(1),
            "specc check ({spec} as specc.kdl, never generated):\n{}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("missing: specc.lock"),
            "{}",
            text(&out.stderr)
        );
        let out = specc(&["generate"], tmp.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let out = specc(&["check", "--color", "never"], tmp.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("specc.kdl: ok"));
    }
}

#[test]
fn human_plan_shows_every_target_and_push_of_the_json_plan() {
    for spec in SPECS {
        let json = plan(spec, &["--set-version", "1.0.0"]);
        let out = specc(&["plan", spec, "--set-version", "1.0.0"], root());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let human = text(&out.stdout);
        let project = json["project"].as_str().expect("a project name");
        assert!(
            human.starts_with(&format!("{project} 1.0.0 (release)")),
            "{spec}:\n{human}"
        );
        let lines: Vec<&str> = human.lines().map(str::trim).collect();
        for t in targets(&json) {
            let name = t["name"].as_str().expect("a target name");
            assert!(
                lines.contains(&format!("target {name}").as_str()),
                "{spec}: no `target {name}` in\n{human}"
            );
            for platform in strings(&t["platforms"]) {
                assert!(human.contains(&platform), "{spec}: {platform} missing");
            }
            for r in t["registries"].as_array().expect("registries") {
                for reference in strings(&r["refs"]) {
                    let line = format!("push       {reference}");
                    assert!(
                        lines.contains(&line.as_str()),
                        "{spec}: no `{line}` in\n{human}"
                    );
                }
            }
        }
        let pushes = lines.iter().filter(|l| l.starts_with("push ")).count();
        let refs: usize = targets(&json)
            .iter()
            .flat_map(|t| t["registries"].as_array().expect("registries"))
            .map(|r| r["refs"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(
            pushes, refs,
            "{spec}: the human plan pushes what the JSON lists"
        );
    }
}

#[test]
fn plan_is_deterministic() {
    for spec in SPECS {
        let a = specc(&["plan", spec, "--json"], root());
        let b = specc(&["plan", spec, "--json"], root());
        assert_eq!(a.status.code(), Some(0));
        assert_eq!(a.stdout, b.stdout, "{spec}: two runs differ");
    }
}

/// `specc plan --json | head -c0`: a reader that goes away must not make specc panic
/// (`println!` would); it ends quietly with success, as other Unix tools do.
#[test]
fn a_closed_pipe_on_stdout_is_not_a_panic() {
    for args in [
        &["plan", "--json", "specs/dify.kdl"][..],
        &["graph", "specs/dify.kdl"][..],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // close the read end before specc writes
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// Release tags follow docker/metadata-action: a pre-release moves only the tags that
/// name it (`{{version}}`), never `X.Y`, `X` or `latest`; major version zero gets no `X`
/// tag. `plan` and the bake file agree, for each version.
#[test]
fn release_tags_skip_stable_channels_for_pre_releases_and_major_zero() {
    let spec = r#"project app version="1.0.0"
stage app from="alpine:3.20" {
    cmd "true"
}
image app stage=app {
    tag "{{version}}"
    tag "{{major}}.{{minor}}"
    tag "{{major}}"
    tag "latest"
    tag "sha-{{sha}}"
}
"#;
    let repo = crate::support::repo::Repo::new().spec(spec);
    repo.run(&["generate"]).success();
    let bake = repo.read_text("docker-bake.hcl");
    let cases: [(&str, &[&str]); 4] = [
        ("1.2.3", &["1.2.3", "1.2", "1", "latest", "sha-0000000"]),
        ("v2.0.0-rc.1", &["2.0.0-rc.1", "sha-0000000"]),
        ("3.0.0-beta.2", &["3.0.0-beta.2", "sha-0000000"]),
        ("0.3.1", &["0.3.1", "0.3", "latest", "sha-0000000"]),
    ];
    for (version, expected) in cases {
        let out = repo
            .run(&["plan", "--json", "--set-version", version])
            .success();
        let planned: Value = serde_json::from_str(&out.stdout).unwrap();
        let refs: Vec<String> = planned["targets"][0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(refs, expected, "plan for version {version}");
        let env = [("VERSION".to_string(), version.to_string())].into();
        let targets = crate::support::bake::evaluated_targets(&bake, &env).unwrap();
        let baked: Vec<String> = targets["app"]
            .tags
            .iter()
            .map(|r| r.trim_start_matches("app:").to_string())
            .collect();
        assert_eq!(baked, expected, "bake for VERSION={version}");
    }
}

/// Compose and Helm hold references that are the same in every build: when the first
/// tag rule reads the commit, compose runs the first fixed tag and Helm the first tag the
/// version alone gives, each one that a release pushes (not `commit-<sha>`).
#[test]
fn compose_and_helm_skip_tags_that_read_the_commit() {
    let g = crate::support::generate::generate_text(
        r#"project demo version="1.0.0"
registry ghcr host="ghcr.io" namespace="acme"
stage app from="alpine:3.20" {
    run "true"
}
image demo stage=app registries="ghcr" {
    tag "commit-{{sha}}" when="always"
    tag "{{version}}"
    tag "latest"
}
service demo image=demo
chart demo {
    image demo key="image"
}
"#,
    );
    let plan = g.plan();
    let pushed = strings(&registry(target(&plan, "demo"), "ghcr")["refs"]);
    assert_eq!(plan["services"][0]["image"], "ghcr.io/acme/demo:latest");
    assert_eq!(plan["charts"][0]["repository"], "ghcr.io/acme/demo");
    assert_eq!(plan["charts"][0]["tag"], "1.0.0");
    for reference in ["ghcr.io/acme/demo:latest", "ghcr.io/acme/demo:1.0.0"] {
        assert!(pushed.iter().any(|r| r == reference), "{pushed:?}");
    }
    assert!(
        g.read("compose.yaml")
            .contains("image: \"ghcr.io/acme/demo:latest\"")
    );
    let values = g.read("charts/demo/values.yaml");
    assert!(values.contains("tag: \"1.0.0\""), "{values}");
}

/// A spec with every kind of tag condition: events, a branch filter, a registry filter,
/// the long commit, the pull request number and a date.
const CONDITIONS: &str = r#"project shop version="2.1.0"
registry ghcr host="ghcr.io" namespace="acme"
registry hub host="docker.io" namespace="acme"
stage app from="alpine:3.20" {
    cmd "true"
}
image shop stage=app registries="ghcr hub" {
    tag "{{version}}"
    tag "latest" registry="hub"
    tag "{{branch}}" when="branch"
    tag "edge" when="branch" branch="main"
    tag "rc-{{branch}}" when="branch" branch="release/**"
    tag "nightly-{{date 'YYYYMMDD-HHmm'}}" when="schedule"
    tag "pr-{{pr}}" when="pr"
    tag "sha-{{sha}}" when="always pr"
    tag "{{sha_long}}" when="branch"
}
"#;

const LONG_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Each registry's name and references, as `plan --json` lists them.
type RegistryRefs = Vec<(String, Vec<String>)>;

/// Each registry's references of target `shop` in `specc plan --json ARGS`.
fn conditional_refs(repo: &crate::support::repo::Repo, args: &[&str]) -> RegistryRefs {
    let mut all = vec!["plan", "--json"];
    all.extend(args);
    let out = repo.run(&all).success();
    let planned: Value = serde_json::from_str(&out.stdout).unwrap();
    target(&planned, "shop")["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["registry"].as_str().unwrap().to_string(),
                strings(&r["refs"]),
            )
        })
        .collect()
}

/// The tags of each event, as docker/metadata-action users expect them: `edge` only on
/// `main`, `latest` only on Docker Hub, pull request and schedule tags only on their
/// runs (a scheduled run takes the branch rules too).
#[test]
fn tag_conditions_give_each_event_its_tags() {
    let repo = crate::support::repo::Repo::new().spec(CONDITIONS);
    let both = |tags: &[&str], hub_only: &[&str]| {
        let refs = |host: &str, extra: &[&str]| {
            tags.iter()
                .chain(extra)
                .map(|t| format!("{host}/acme/shop:{t}"))
                .collect::<Vec<_>>()
        };
        vec![
            ("ghcr".to_string(), refs("ghcr.io", &[])),
            ("hub".to_string(), refs("docker.io", hub_only)),
        ]
    };
    let long = format!("sha-{}", &LONG_SHA[..7]);
    let cases: Vec<(Vec<&str>, RegistryRefs)> = vec![
        (
            vec!["--sha", LONG_SHA],
            vec![
                (
                    "ghcr".into(),
                    vec![
                        "ghcr.io/acme/shop:2.1.0".into(),
                        format!("ghcr.io/acme/shop:{long}"),
                    ],
                ),
                (
                    "hub".into(),
                    vec![
                        "docker.io/acme/shop:2.1.0".into(),
                        "docker.io/acme/shop:latest".into(),
                        format!("docker.io/acme/shop:{long}"),
                    ],
                ),
            ],
        ),
        (
            vec!["--branch", "main", "--sha", LONG_SHA],
            both(&["main", "edge", &long, LONG_SHA], &[]),
        ),
        (
            vec![
                "--event",
                "branch",
                "--branch",
                "release/2.x",
                "--sha",
                LONG_SHA,
            ],
            both(&["release-2.x", "rc-release-2.x", &long, LONG_SHA], &[]),
        ),
        (
            vec!["--branch", "feature/login", "--sha", LONG_SHA],
            both(&["feature-login", &long, LONG_SHA], &[]),
        ),
        (
            vec![
                "--event",
                "schedule",
                "--branch",
                "main",
                "--sha",
                LONG_SHA,
                "--date",
                "2024-02-29T23:59:58Z",
            ],
            both(
                &["main", "edge", "nightly-20240229-2359", &long, LONG_SHA],
                &[],
            ),
        ),
        (
            vec!["--pr", "42", "--sha", LONG_SHA],
            both(&["pr-42", &long], &[]),
        ),
    ];
    repo.run(&["generate"]).success();
    let bake = repo.read_text("docker-bake.hcl");
    for (args, expected) in cases {
        assert_eq!(
            conditional_refs(&repo, &args),
            expected,
            "specc plan {args:?}"
        );
        // The bake file gives the same under the variables the workflow sets (a pull
        // request's tags are not in it: no workflow pushes them).
        let option = |name: &str| {
            args.iter()
                .position(|a| *a == name)
                .map(|i| args[i + 1].to_string())
        };
        let event = option("--event").unwrap_or_else(|| {
            if option("--pr").is_some() {
                "pr".into()
            } else if option("--branch").is_some() {
                "branch".into()
            } else {
                "release".into()
            }
        });
        if event == "pr" {
            continue;
        }
        let env = [
            ("SPECC_EVENT", event),
            ("GIT_SHA", LONG_SHA.to_string()),
            ("GIT_BRANCH", option("--branch").unwrap_or_default()),
            ("SPECC_DATE", option("--date").unwrap_or_default()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let targets = crate::support::bake::evaluated_targets(&bake, &env).unwrap();
        let planned: Vec<String> = expected.into_iter().flat_map(|(_, refs)| refs).collect();
        assert_eq!(targets["shop"].tags, planned, "bake under {env:?}");
    }
}

/// `--event`, `--branch` and `--pr` that contradict each other are a usage error (exit
/// 2), never a plan of some other event.
#[test]
fn plan_refuses_event_options_that_contradict_each_other() {
    let repo = crate::support::repo::Repo::new().spec(CONDITIONS);
    for args in [
        &["--event", "pr"][..],
        &["--event", "release", "--branch", "main"],
        &["--pr", "4", "--event", "branch"],
        &["--event", "pr", "--pr", "4", "--branch", "main"],
    ] {
        let mut all = vec!["plan"];
        all.extend(args);
        repo.run(&all)
            .code(2)
            .stderr_contains("specc::usage::arguments");
    }
}
