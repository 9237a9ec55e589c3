//! Simulation (issue 11, acceptance 2): the generated workflows run, job by job and step
//! by step, in the local runner of `support::gha`: real bash for `run:` steps, the real
//! specc, and stand-in `docker`/`aws`/`cosign`/`helm` commands that record their calls
//! and keep a fake registry. What the registry holds afterwards is compared, as a whole,
//! with `specc plan --hashes` for the same event:
//! - a tag push `v1.2.3` (comfyui-runpod and new-api in the single layout, sd-on-eks with
//!   ECR and its chart) and dify's `1.2.3` (native layout: a build job per target and
//!   platform pushing by digest, a merge job per target): exactly the release refs,
//!   beside each target's input-hash tag;
//! - a pull request (single and native layout): builds every target, logs in nowhere,
//!   pushes nothing, reads no secret in a step;
//! - a push to `main`: exactly the branch refs;
//! - a dispatch on a feature branch: the branch refs, no release tag.
//!
//! Negative controls change the workflow text and show each assertion fails. The
//! harness's own rules (expressions, matrix, needs, outputs, artifacts, a push by digest
//! merged with `imagetools create`) are tested on a small multi-job workflow.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};

use crate::support::generate::{Generated, generate, generate_text, spec_with};
use crate::support::gha::expr::{self, Scope, Status};
use crate::support::gha::{self, Event, Outcome, Run, SHA, World};
use crate::support::repo::{run_clean, specc_bin};

/// The Docker Hub user the secrets name; the repository owner is the event's.
const USER: &str = "JaneDoe";
const OWNER: &str = "Octo-Org";

const COMFYUI: &str = ".github/workflows/release.yml";
const DIFY: &str = ".github/workflows/sync-dify.yml";

/// The secrets a maintainer sets for the bundled specs.
fn world() -> World {
    World::new()
        .secret("DOCKERHUB_USERNAME", USER)
        .secret("DOCKERHUB_TOKEN", "dckr_pat_simulated")
}

/// Runs `workflow` of `g` for `event`.
fn simulate(g: &Generated, workflow: &str, event: &Event, world: &World) -> Run {
    gha::run(&g.path(workflow), g.dir.path(), event, world).unwrap_or_else(|e| {
        panic!(
            "the simulation cannot run {workflow} for {}: {e}",
            event.label()
        )
    })
}

/// What `specc plan --json --hashes ARGS` says a run must push, under the environment
/// the workflow's bake sees: the secrets as variables, the repository owner, and
/// `REVISION` (the commit; the input hash covers it, docs/architecture.md).
struct Planned {
    /// Every registry's refs.
    refs: BTreeSet<String>,
    /// The input-hash tags (`specc-<hash>`) a native run pushes beside them.
    hash_tags: BTreeSet<String>,
    /// Target -> its input-hash tag.
    hash_tag_of: BTreeMap<String, String>,
    /// Target -> platforms.
    platforms: BTreeMap<String, BTreeSet<String>>,
}

fn planned(g: &Generated, args: &[&str], world: &World) -> Planned {
    let mut env = world.secrets.clone();
    env.insert("GITHUB_REPOSITORY_OWNER".into(), OWNER.into());
    env.insert("REVISION".into(), SHA.into());
    let mut argv = vec!["plan", "specc.kdl", "--json", "--hashes"];
    argv.extend(args);
    let out = run_clean(g.dir.path(), specc_bin(), &argv, &env);
    assert!(out.status.success(), "{out}");
    let plan: Json = serde_json::from_str(&out.stdout).expect("plan --json prints JSON");
    let targets = plan["targets"].as_array().expect("targets");
    let strings = |v: &Json| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let refs: BTreeSet<String> = targets
        .iter()
        .flat_map(|t| t["registries"].as_array().cloned().unwrap_or_default())
        .flat_map(|r| strings(&r["refs"]))
        .collect();
    assert!(
        !refs.is_empty(),
        "the plan for {args:?} has no refs: the comparison would be empty"
    );
    Planned {
        refs,
        hash_tags: targets
            .iter()
            .filter_map(|t| t["hash_tag"].as_str().map(String::from))
            .collect(),
        hash_tag_of: targets
            .iter()
            .filter_map(|t| Some((t["name"].as_str()?.into(), t["hash_tag"].as_str()?.into())))
            .collect(),
        platforms: targets
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    strings(&t["platforms"]).into_iter().collect(),
                )
            })
            .collect(),
    }
}

/// Problems with a run that should have pushed exactly the planned refs (beside the
/// input-hash tags), each target for its planned platforms.
fn release_problems(run: &Run, planned: &Planned) -> Vec<String> {
    let mut problems = Vec::new();
    if !run.succeeded() {
        problems.push("the run failed".into());
    }
    let hash_tag = |r: &String| {
        r.rsplit_once(':')
            .is_some_and(|(_, t)| planned.hash_tags.contains(t))
    };
    let pushed: BTreeSet<String> = run
        .image_refs()
        .into_iter()
        .filter(|r| !hash_tag(r))
        .collect();
    if pushed != planned.refs {
        problems.push(format!(
            "the registry holds\n  {pushed:?}\nthe plan lists\n  {:?}",
            planned.refs
        ));
    }
    let mut built: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for b in run.builds.iter().filter(|b| b.push) {
        built
            .entry(b.target.clone())
            .or_default()
            .extend(b.platforms.iter().cloned());
    }
    if built != planned.platforms {
        problems.push(format!(
            "pushed builds {built:?}, planned {:?}",
            planned.platforms
        ));
    }
    if !run.warnings.is_empty() {
        problems.push(format!("warnings: {:?}", run.warnings));
    }
    problems
}

/// The plan flags of a release 1.2.3.
const RELEASE: [&str; 4] = ["--set-version", "1.2.3", "--sha", SHA];

/// Runs `workflow` of `g` for `event` and asserts that the registry then holds exactly
/// the refs of `specc plan PLAN_ARGS`, each planned target pushed for its platforms.
#[track_caller]
fn assert_pushes_the_plan(
    g: &Generated,
    workflow: &str,
    event: &Event,
    world: &World,
    plan_args: &[&str],
) -> Run {
    let run = simulate(g, workflow, event, world);
    assert_none(release_problems(&run, &planned(g, plan_args, world)), &run);
    run
}

/// The references of the pushes of `kind`, in order.
fn pushed(run: &Run, kind: gha::Pushed) -> Vec<&str> {
    run.pushes
        .iter()
        .filter(|p| p.kind == kind)
        .map(|p| p.reference.as_str())
        .collect()
}

#[track_caller]
fn assert_none(problems: Vec<String>, run: &Run) {
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        run.report()
    );
}

// ---------------------------------------------------------------------------------------
// Releases
// ---------------------------------------------------------------------------------------

/// A tag push `v1.2.3` of comfyui-runpod pushes exactly the refs of `specc plan
/// --set-version 1.2.3`, after logging in to Docker Hub with the token.
#[test]
fn a_tag_push_pushes_exactly_the_planned_release_refs() {
    let g = generate("comfyui-runpod");
    let run = assert_pushes_the_plan(&g, COMFYUI, &Event::tag_push("v1.2.3"), &world(), &RELEASE);
    let logins: Vec<(&str, &str)> = run
        .logins
        .iter()
        .map(|l| (l.registry.as_str(), l.username.as_str()))
        .collect();
    assert_eq!(logins, [("docker.io", USER)], "{}", run.report());
    let secrets: Vec<&String> = run.logins[0].secrets.iter().collect();
    assert_eq!(secrets, ["DOCKERHUB_TOKEN", "DOCKERHUB_USERNAME"]);
}

/// dify's tag `1.2.3` (native layout): a prepare job, a build job per target and
/// platform on that platform's runner pushing by digest, a merge job per target that
/// tags the multi-platform image in GHCR (with the workflow's token) and Docker Hub, and
/// its input-hash tag.
#[test]
fn a_tag_push_of_dify_builds_natively_and_merges_three_images() {
    let g = generate("dify");
    let world = world();
    let run = assert_pushes_the_plan(&g, DIFY, &Event::tag_push("1.2.3"), &world, &RELEASE);
    let jobs: Vec<(&str, usize)> = ["prepare", "build", "merge"]
        .iter()
        .map(|j| (*j, run.job(j).len()))
        .collect();
    assert_eq!(
        jobs,
        [("prepare", 1), ("build", 6), ("merge", 3)],
        "{}",
        run.report()
    );
    for b in &run.builds {
        assert_eq!(
            b.platforms,
            [format!("linux/{}", b.runner_arch)],
            "a native build: {b:?}"
        );
        assert!(b.push_by_digest, "{b:?}");
    }
    for m in &run.manifests {
        assert_eq!(m.sources.len(), 2, "one image per platform: {m:?}");
    }
    let planned = planned(&g, &RELEASE, &world);
    let hash_tags: BTreeSet<String> = run
        .image_refs()
        .iter()
        .filter_map(|r| r.rsplit_once(':'))
        .filter(|(_, t)| planned.hash_tags.contains(*t))
        .map(|(_, t)| t.to_string())
        .collect();
    assert_eq!(
        hash_tags, planned.hash_tags,
        "every target gets its input-hash tag"
    );
    let registries: BTreeSet<&str> = run.logins.iter().map(|l| l.registry.as_str()).collect();
    assert_eq!(registries, BTreeSet::from(["docker.io", "ghcr.io"]));
    // A tag the workflow's filter does not take starts nothing.
    let other = simulate(&g, DIFY, &Event::tag_push("v1.2.3"), &world);
    assert!(!other.triggered, "{}", other.report());
}

/// A pre-release of dify (a dispatch on the default branch with version `1.3.0-rc.1`, the
/// native layout) pushes `1.3.0-rc.1` and no `latest`: exactly what the plan lists.
#[test]
fn a_pre_release_of_dify_moves_no_latest() {
    let g = generate("dify");
    let world = world();
    let event = Event::dispatch("main", &[("version", "1.3.0-rc.1")]);
    let args = ["--set-version", "1.3.0-rc.1", "--sha", SHA];
    let run = assert_pushes_the_plan(&g, DIFY, &event, &world, &args);
    let latest: Vec<String> = run
        .registry
        .refs()
        .into_iter()
        .filter(|r| r.ends_with(":latest"))
        .collect();
    assert!(latest.is_empty(), "a pre-release moved {latest:?}");
}

/// A release whose dify-web inputs are unchanged (its `specc-<hash>` tag already in
/// GHCR): dify-web gets no build job, and its merge tags the existing image; the other
/// two targets are built for both platforms as usual.
#[test]
fn a_target_whose_hash_tag_exists_is_reused_not_rebuilt() {
    let g = generate("dify");
    let mut plan = planned(&g, &RELEASE, &world());
    let web = &plan.hash_tag_of["dify-web"];
    let existing = format!("ghcr.io/{}/dify-web:{web}", OWNER.to_lowercase());
    let world = world().image(&existing);
    let run = simulate(&g, DIFY, &Event::tag_push("1.2.3"), &world);
    // Every planned ref, dify-web's from the image already there: only the others built.
    plan.platforms.remove("dify-web");
    assert_none(release_problems(&run, &plan), &run);
    let built: BTreeSet<&str> = run.builds.iter().map(|b| b.target.as_str()).collect();
    assert_eq!(
        built,
        BTreeSet::from(["dify-api", "dify-worker"]),
        "{}",
        run.report()
    );
    assert_eq!(run.job("build").len(), 4, "{}", run.report());
    let merged: Vec<&Vec<String>> = run
        .manifests
        .iter()
        .filter(|m| m.tags.iter().any(|t| t.contains("/dify-web:")))
        .map(|m| &m.sources)
        .collect();
    // The merge's one source is the image found under the hash tag (by its digest).
    let digest = world
        .registry
        .resolve(&existing)
        .expect("the world has the image");
    let source = format!("ghcr.io/{}/dify-web@{digest}", OWNER.to_lowercase());
    assert_eq!(merged, [&vec![source]], "{}", run.report());
}

/// new-api: the smoke test runs the image built for it, Trivy scans it, then the push;
/// the registry holds the planned refs and the registry cache.
#[test]
fn new_api_smoke_tests_scans_and_pushes_the_planned_refs() {
    let g = generate("new-api");
    std::fs::write(g.path("README.md"), "# new-api\n").unwrap();
    let world = World::new()
        .secret("DOCKER_USERNAME", USER)
        .secret("DOCKER_PASSWORD", "pw");
    let workflow = ".github/workflows/docker-build.yml";
    let run = assert_pushes_the_plan(&g, workflow, &Event::tag_push("v1.2.3"), &world, &RELEASE);
    let run_at = run
        .calls
        .iter()
        .position(|c| c.argv[..2] == ["docker", "run"]);
    let push_at = run
        .calls
        .iter()
        .position(|c| c.argv.contains(&"--push".to_string()));
    assert!(run_at.is_some() && run_at < push_at, "{}", run.report());
    assert_eq!(
        pushed(&run, gha::Pushed::Cache),
        ["docker.io/janedoe/new-api:buildcache-new-api"]
    );
}

/// sd-on-eks: OIDC credentials, the ECR repositories created before the push (ECR does
/// not create them), the image and the chart pushed.
#[test]
fn sd_on_eks_creates_its_ecr_repositories_and_pushes_image_and_chart() {
    let g = generate("sd-on-eks");
    let run = assert_pushes_the_plan(
        &g,
        COMFYUI,
        &Event::tag_push("v1.2.3"),
        &World::new(),
        &RELEASE,
    );
    let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    assert_eq!(
        pushed(&run, gha::Pushed::Chart),
        [format!("{ecr}/sd-on-eks/charts/sd-on-eks:1.2.3")]
    );
    assert!(
        run.secrets_read.is_empty(),
        "OIDC needs no secret: {:?}",
        run.secrets_read
    );
}

// ---------------------------------------------------------------------------------------
// Pull requests, branches, dispatches
// ---------------------------------------------------------------------------------------

/// comfyui-runpod with pull requests and pushes to `main` too.
fn comfyui_with_branch_and_pr() -> Generated {
    generate_text(&spec_with(
        "comfyui-runpod",
        r#"on "push" branch="dev""#,
        "on \"push\" branch=\"main\"\n    on \"pull-request\"",
    ))
}

/// What a pull request must not do: log in, push, or read a secret in a step. It must
/// build every planned target.
fn pull_request_problems(run: &Run, planned: &Planned) -> Vec<String> {
    let mut problems = Vec::new();
    if !run.succeeded() {
        problems.push("the run failed".into());
    }
    if !run.logins.is_empty() {
        problems.push(format!(
            "logged in: {:?}",
            run.logins.iter().map(|l| &l.registry).collect::<Vec<_>>()
        ));
    }
    let pushing: Vec<String> = run
        .calls
        .iter()
        .filter(|c| {
            c.argv.iter().any(|a| a == "--push") || c.argv[1..].starts_with(&["push".into()])
        })
        .map(|c| c.argv.join(" "))
        .collect();
    if !pushing.is_empty() || !run.pushes.is_empty() || run.builds.iter().any(|b| b.push) {
        problems.push(format!(
            "pushed: {pushing:?} {:?}",
            run.pushes.iter().map(|p| &p.reference).collect::<Vec<_>>()
        ));
    }
    let secrets: BTreeSet<&String> = run
        .jobs
        .iter()
        .flat_map(|j| j.steps.iter().flat_map(|s| &s.secrets_read))
        .filter(|s| *s != "GITHUB_TOKEN")
        .collect();
    if !secrets.is_empty() {
        problems.push(format!("read secrets {secrets:?}"));
    }
    let built: BTreeSet<&String> = run.builds.iter().map(|b| &b.target).collect();
    if built != planned.platforms.keys().collect() {
        problems.push(format!(
            "built {built:?}, planned {:?}",
            planned.platforms.keys()
        ));
    }
    problems
}

/// dify with pull requests (native layout, `paths` filters from the build inputs).
fn dify_with_pr() -> Generated {
    generate_text(&spec_with(
        "dify",
        r#"    on "dispatch""#,
        "    on \"dispatch\"\n    on \"pull-request\"",
    ))
}

/// A pull request builds every target without logging in, pushing, or reading a secret
/// in any step, in the single layout (comfyui-runpod) and the native one (dify, whose
/// `paths` filter a pull request that changes only the README does not pass).
/// The jobs' namespace secret (`DOCKERHUB_USERNAME`) is empty on a pull request too: no
/// registry secret is read anywhere, at job level either.
#[test]
fn a_pull_request_builds_without_login_push_or_secrets() {
    let pr = Event::pull_request(7, "feature/x", "main");
    for (g, workflow, event) in [
        (comfyui_with_branch_and_pr(), COMFYUI, pr.clone()),
        (
            dify_with_pr(),
            DIFY,
            pr.clone().with_changed_files(&["api/app.py"]),
        ),
    ] {
        let run = simulate(&g, workflow, &event, &world());
        let planned = planned(&g, &RELEASE, &world());
        assert_none(pull_request_problems(&run, &planned), &run);
        let job_level: BTreeSet<&String> = run.jobs.iter().flat_map(|j| &j.secrets_read).collect();
        assert_eq!(job_level, BTreeSet::new(), "{}", run.report());
    }
    let readme_only = pr.with_changed_files(&["README.md"]);
    assert!(!simulate(&dify_with_pr(), DIFY, &readme_only, &world()).triggered);
}

/// A push to `main` pushes exactly the branch refs of `specc plan --branch main`.
#[test]
fn a_push_to_main_pushes_exactly_the_planned_branch_refs() {
    let g = comfyui_with_branch_and_pr();
    let world = world();
    let branch = ["--branch", "main", "--sha", SHA];
    assert_pushes_the_plan(&g, COMFYUI, &Event::branch_push("main"), &world, &branch);
    // Another branch does not match the filter.
    assert!(!simulate(&g, COMFYUI, &Event::branch_push("feature/x"), &world).triggered);
}

/// A manual run on a feature branch, even with a version, pushes the branch refs and no
/// release tag.
#[test]
fn a_dispatch_on_a_feature_branch_pushes_no_release_tag() {
    let g = generate("comfyui-runpod");
    let world = world();
    let event = Event::dispatch("feature/x", &[("version", "v9.9.9")]);
    let branch = ["--branch", "feature/x", "--sha", SHA];
    let run = assert_pushes_the_plan(&g, COMFYUI, &event, &world, &branch);
    let release = planned(&g, &["--set-version", "9.9.9", "--sha", SHA], &world).refs;
    let pushed = run.registry.refs();
    let moved: Vec<&String> = pushed.intersection(&release).collect();
    assert!(
        moved.is_empty(),
        "a feature-branch dispatch moved release tags {moved:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Negative controls: a wrong workflow fails the assertions above
// ---------------------------------------------------------------------------------------

/// `text` with `from` replaced by `to` (which must occur).
fn mutate(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the workflow has no `{from}`:\n{text}");
    text.replace(from, to)
}

/// A workflow that runs its privileged steps on pull requests too is caught: it logs in,
/// reads the secrets and pushes; one that only flips the PR build to `push: true` fails
/// its push without a login, and is caught as well.
#[test]
fn simulation_catches_a_workflow_that_pushes_on_pull_requests() {
    let g = comfyui_with_branch_and_pr();
    let text = g.read(COMFYUI);
    let planned = planned(&g, &RELEASE, &world());
    let event = Event::pull_request(7, "feature/x", "main");
    let everything = mutate(&text, "github.event_name != 'pull_request'", "true");
    let run = gha::run_text(&everything, g.dir.path(), &event, &world()).unwrap();
    let problems = pull_request_problems(&run, &planned).join("\n");
    for want in ["logged in", "pushed", "read secrets"] {
        assert!(
            problems.contains(want),
            "not caught ({want}): {problems}\n{}",
            run.report()
        );
    }
    let pushing_build = mutate(&text, "push: false", "push: true");
    let run = gha::run_text(&pushing_build, g.dir.path(), &event, &world()).unwrap();
    let problems = pull_request_problems(&run, &planned).join("\n");
    assert!(
        problems.contains("the run failed") && problems.contains("pushed"),
        "{problems}\n{}",
        run.report()
    );
    assert!(
        run.calls.iter().any(|c| c.status != 0),
        "the push without login must fail: {}",
        run.report()
    );
}

/// A tag push that the version step treats as a branch build pushes the branch tag
/// instead of the release refs, and the comparison with the plan says so.
#[test]
fn simulation_catches_a_release_that_pushes_the_wrong_tags() {
    let g = generate("comfyui-runpod");
    let world = world();
    let text = mutate(&g.read(COMFYUI), "event=release\n", "event=branch\n");
    let run = gha::run_text(&text, g.dir.path(), &Event::tag_push("v1.2.3"), &world).unwrap();
    let problems = release_problems(&run, &planned(&g, &RELEASE, &world)).join("\n");
    assert!(
        problems.contains("the registry holds"),
        "not caught: {}",
        run.report()
    );
    assert!(
        run.registry
            .refs()
            .iter()
            .all(|r| r.ends_with(&format!(":dev-{}", &SHA[..7]))),
        "{:?}",
        run.registry.refs()
    );
}

/// Without the step that creates the ECR repository, the push fails as on ECR.
#[test]
fn simulation_fails_an_ecr_push_to_a_missing_repository() {
    let g = generate("sd-on-eks");
    let text = mutate(&g.read(COMFYUI), "|| aws ecr create-repository", "|| true");
    let run = gha::run_text(
        &text,
        g.dir.path(),
        &Event::tag_push("v1.2.3"),
        &World::new(),
    )
    .unwrap();
    assert!(!run.succeeded(), "{}", run.report());
    let failed = run
        .calls
        .iter()
        .find(|c| c.status != 0 && c.argv.contains(&"--push".to_string()));
    assert!(failed.is_some(), "{}", run.report());
    // With the repository there before the run, it succeeds.
    let world = World::new()
        .ecr_repository("123456789012.dkr.ecr.us-east-1.amazonaws.com/sd-on-eks/queue-agent")
        .ecr_repository("123456789012.dkr.ecr.us-east-1.amazonaws.com/sd-on-eks/charts/sd-on-eks");
    let run = gha::run_text(&text, g.dir.path(), &Event::tag_push("v1.2.3"), &world).unwrap();
    assert!(run.succeeded(), "{}", run.report());
}

// ---------------------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------------------

fn scope(secrets: &BTreeMap<String, String>) -> Scope<'_> {
    let mut s = Scope::new(secrets);
    s.contexts.insert(
        "github",
        json!({"event_name": "push", "ref": "refs/tags/v1", "event": {"commits": [{"id": "a"}, {"id": "b"}]}}),
    );
    let matrix = r#"{"include":[{"t":"x"}]}"#;
    s.contexts
        .insert("needs", json!({"prepare": {"outputs": {"matrix": matrix}}}));
    s
}

fn evaluate(text: &str) -> Result<Json, String> {
    let secrets = BTreeMap::from([("TOKEN".to_string(), "s3cret".to_string())]);
    expr::eval(&expr::parse(text)?, &scope(&secrets))
}

/// Expressions follow GitHub's rules, and syntax outside the subset is an error.
#[test]
fn gha_expressions_follow_githubs_rules() {
    let cases = [
        ("github.event_name == 'PUSH'", json!(true)),
        ("github['ref']", json!("refs/tags/v1")),
        ("github.event.commits.*.id", json!(["a", "b"])),
        ("github.nothing.deeper", Json::Null),
        ("'' || 'x'", json!("x")),
        ("'a' && ''", json!("")),
        ("1 == '1' && null == 0 && true == 1 && '' == 0", json!(true)),
        ("'abc' == 'ABC' && 'a' < 'B'", json!(true)),
        ("'it''s'", json!("it's")),
        (
            "startsWith(github.ref, 'refs/TAGS/') && endsWith(github.ref, '/V1')",
            json!(true),
        ),
        (
            "contains(fromJSON('[\"a\",\"b\"]'), 'B') && contains('Hello', 'ell')",
            json!(true),
        ),
        ("format('{0}-{{x}}-{1}', 'a', 2)", json!("a-{x}-2")),
        ("join(github.event.commits.*.id, '+')", json!("a+b")),
        (
            "fromJSON(needs.prepare.outputs.matrix).include[0].t",
            json!("x"),
        ),
        ("toJSON(fromJSON('[1]'))", json!("[\n  1\n]")),
        ("!(1 < 2) || 3 >= 3", json!(true)),
        ("0x10 == 16 && 1.5e1 == 15", json!(true)),
    ];
    for (text, want) in cases {
        assert_eq!(evaluate(text), Ok(want), "{text}");
    }
    for bad in [
        "hashFiles('x')",
        "nothing.here",
        "github ? 1 : 2",
        "github.",
        "1 +",
        "'open",
        "format('{1}', 'a')",
    ] {
        assert!(
            evaluate(bad).is_err(),
            "`{bad}` evaluated: {:?}",
            evaluate(bad)
        );
    }
}

/// Secret reads are recorded; a condition without a status function means
/// `success() && (...)`; a value that is one expression keeps its type.
#[test]
fn gha_conditions_and_secret_reads() {
    let secrets = BTreeMap::from([("TOKEN".to_string(), "s3cret".to_string())]);
    let mut s = scope(&secrets);
    assert_eq!(
        expr::interpolate("${{ secrets.token }}", &s),
        Ok(json!("s3cret"))
    );
    assert_eq!(
        expr::interpolate("a-${{ secrets.OTHER }}-b", &s),
        Ok(json!("a--b"))
    );
    let read: Vec<String> = s.secrets_read.borrow().iter().cloned().collect();
    assert_eq!(read, ["OTHER", "TOKEN"]);
    assert_eq!(
        expr::condition("github.event_name != 'pull_request'", &s),
        Ok(true)
    );
    s.status = Status::Failure;
    assert_eq!(
        expr::condition("${{ github.event_name == 'push' }}", &s),
        Ok(false)
    );
    assert_eq!(
        expr::condition("always() && github.event_name == 'push'", &s),
        Ok(true)
    );
    assert_eq!(expr::condition("failure()", &s), Ok(true));
    assert_eq!(
        expr::interpolate(" ${{ fromJSON('{\"a\":1}') }} ", &s),
        Ok(json!({"a": 1}))
    );
    assert!(expr::condition("x ${{ true }}", &s).is_err());
}

/// GitHub's matrix rules: the product of the axes, `exclude` by partial match, an
/// `include` entry merged where it changes no original value, else added. (The axes are
/// taken in name order, not the written order: legs may run in another order than on
/// GitHub, with the same set of legs.)
#[test]
fn gha_matrix_expansion() {
    let matrix = json!({
        "os": ["a", "b"],
        "n": [1, 2],
        "exclude": [{"os": "b", "n": 2}],
        "include": [{"os": "a", "extra": "x"}, {"n": 2, "os": "a", "more": true}, {"os": "c"}],
    });
    let legs = gha::runner::expand_matrix(&matrix).unwrap();
    assert_eq!(
        legs,
        [
            json!({"os": "a", "n": 1, "extra": "x"}),
            json!({"os": "b", "n": 1}),
            json!({"os": "a", "n": 2, "extra": "x", "more": true}),
            json!({"os": "c"}),
        ]
    );
    let only_include =
        gha::runner::expand_matrix(&json!({"include": [{"t": "x"}, {"t": "y"}]})).unwrap();
    assert_eq!(only_include, [json!({"t": "x"}), json!({"t": "y"})]);
    assert!(gha::runner::expand_matrix(&json!({"n": []})).is_err());
}

/// Jobs in `needs` order, legs, `fail-fast`, `continue-on-error`, status functions,
/// GITHUB_ENV/OUTPUT/PATH, and job outputs where the last leg wins.
const MACHINERY: &str = r#"
on: push
jobs:
  d:
    needs: b
    if: always() && needs.b.result == 'failure'
    runs-on: ubuntu-latest
    steps:
      - run: echo cleanup
  a:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        n: [1, 2, 3]
        exclude: [{n: 2}]
        include: [{n: 3, extra: x}, {n: 4}]
    outputs:
      last: ${{ steps.s.outputs.n }}
    steps:
      - uses: actions/checkout@v5
      - id: s
        shell: bash
        run: |
          echo "n=${{ matrix.n }}" >> "$GITHUB_OUTPUT"
          echo "FROM_ENV=hello" >> "$GITHUB_ENV"
          printf 'multi<<EOF\none\ntwo\nEOF\n' >> "$GITHUB_OUTPUT"
          mkdir -p "$RUNNER_TEMP/tools"
          printf '#!/bin/sh\necho tool\n' > "$RUNNER_TEMP/tools/mytool"
          chmod +x "$RUNNER_TEMP/tools/mytool"
          echo "$RUNNER_TEMP/tools" >> "$GITHUB_PATH"
      - shell: bash
        run: test "$FROM_ENV" = hello && test "$(mytool)" = tool && test "$MULTI" = "$(printf 'one\ntwo')"
        env:
          MULTI: ${{ steps.s.outputs.multi }}
      - name: fails on 3
        if: matrix.n == 3
        continue-on-error: true
        run: exit 1
      - name: after
        if: steps.s.outcome == 'success'
        working-directory: sub
        run: test "$(basename "$PWD")" = sub
  b:
    needs: a
    runs-on: ubuntu-latest
    strategy:
      matrix:
        k: [x, y]
    steps:
      - run: test "${{ needs.a.outputs.last }}" = 4
      - run: exit 3
      - name: skipped after a failure
        run: echo no
      - name: on failure
        if: failure()
        run: echo handled
  c:
    needs: b
    runs-on: ubuntu-latest
    steps:
      - run: echo never
"#;

#[test]
fn gha_jobs_legs_and_status_functions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let run = gha::run_text(
        MACHINERY,
        dir.path(),
        &Event::branch_push("main"),
        &World::new(),
    )
    .unwrap();
    let jobs: Vec<(&str, String, Outcome)> = run
        .jobs
        .iter()
        .map(|j| (j.id.as_str(), j.matrix.to_string(), j.result))
        .collect();
    let want = [
        ("a", r#"{"n":1}"#, Outcome::Success),
        ("a", r#"{"extra":"x","n":3}"#, Outcome::Success),
        ("a", r#"{"n":4}"#, Outcome::Success),
        ("b", r#"{"k":"x"}"#, Outcome::Failure),
        ("b", r#"{"k":"y"}"#, Outcome::Cancelled),
        ("d", "null", Outcome::Success),
        ("c", "null", Outcome::Skipped),
    ];
    let want: Vec<(&str, String, Outcome)> = want
        .iter()
        .map(|(a, b, c)| (*a, b.to_string(), *c))
        .collect();
    assert_eq!(jobs, want, "{}", run.report());
    assert_eq!(run.job("a")[2].outputs["last"], "4");
    let a3: Vec<(&str, Outcome, Outcome)> = run.job("a")[1]
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.outcome, s.conclusion))
        .collect();
    assert_eq!(
        a3[3],
        ("fails on 3", Outcome::Failure, Outcome::Success),
        "{}",
        run.report()
    );
    assert_eq!(a3[4].1, Outcome::Success, "{}", run.report());
    let b: Vec<Outcome> = run.job("b")[0].steps.iter().map(|s| s.outcome).collect();
    assert_eq!(
        b,
        [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Skipped,
            Outcome::Success
        ],
        "{}",
        run.report()
    );
    assert!(!run.succeeded());
}

/// Outside the subset is an error, not a silent pass.
#[test]
fn gha_unknown_syntax_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let push = Event::branch_push("main");
    let wrap = |steps: &str| {
        format!("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n{steps}")
    };
    for (steps, want) in [
        (
            "      - uses: someone/unknown-action@v1\n",
            "not in the simulation's table",
        ),
        (
            "      - run: echo ${{ hashFiles('x') }}\n",
            "unknown function",
        ),
        (
            "      - run: echo hi\n        services: x\n",
            "outside the simulated subset",
        ),
        (
            "      - run: echo ${{ secret.X }}\n",
            "unrecognized named-value",
        ),
    ] {
        let err = gha::run_text(&wrap(steps), dir.path(), &push, &World::new()).unwrap_err();
        assert!(err.contains(want), "{steps}: {err}");
    }
}

/// The layout issue 11 asks for, on the harness: a prepare job computes a matrix, build
/// legs on native runners push by digest and upload the digests, a merge job per target
/// downloads them and creates the multi-platform image with its tags. A pull request
/// builds every leg without login or push, and skips the merge.
const DIGEST_LAYOUT: &str = r#"
name: multi
on:
  push:
    tags: ["v*"]
  pull_request:
permissions:
  contents: read
jobs:
  prepare:
    runs-on: ubuntu-latest
    outputs:
      matrix: ${{ steps.plan.outputs.matrix }}
      version: ${{ steps.plan.outputs.version }}
    steps:
      - uses: actions/checkout@v5
        with:
          persist-credentials: false
      - id: plan
        shell: bash
        run: |
          echo 'matrix={"target":["app","worker"],"platform":["linux/amd64","linux/arm64"],"include":[{"platform":"linux/amd64","runner":"ubuntu-24.04"},{"platform":"linux/arm64","runner":"ubuntu-24.04-arm"}]}' >> "$GITHUB_OUTPUT"
          echo "version=${GITHUB_REF_NAME#v}" >> "$GITHUB_OUTPUT"
  build:
    needs: prepare
    runs-on: ${{ matrix.runner }}
    permissions:
      contents: read
      packages: write
    strategy:
      fail-fast: false
      matrix: ${{ fromJSON(needs.prepare.outputs.matrix) }}
    steps:
      - uses: actions/checkout@v5
        with:
          persist-credentials: false
      - if: github.event_name != 'pull_request'
        uses: docker/login-action@v4
        with:
          registry: ghcr.io
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
      - id: build
        uses: docker/bake-action@v7
        with:
          source: .
          files: docker-bake.hcl
          targets: ${{ matrix.target }}
          set: |
            *.platform=${{ matrix.platform }}
            *.output=type=image,name=ghcr.io/octo-org/${{ matrix.target }},push-by-digest=true,name-canonical=true,push=${{ github.event_name != 'pull_request' }}
      - name: Export the digest
        shell: bash
        env:
          METADATA: ${{ steps.build.outputs.metadata }}
          TARGET: ${{ matrix.target }}
        run: |
          mkdir -p "$RUNNER_TEMP/digests"
          digest="$(jq -r --arg t "$TARGET" '.[$t]["containerimage.digest"]' <<<"$METADATA")"
          touch "$RUNNER_TEMP/digests/${digest#sha256:}"
      - uses: actions/upload-artifact@v4
        with:
          name: digests-${{ matrix.target }}-${{ strategy.job-index }}
          path: ${{ runner.temp }}/digests/*
          if-no-files-found: error
  merge:
    needs: [prepare, build]
    if: github.event_name != 'pull_request'
    runs-on: ubuntu-latest
    permissions:
      contents: read
      packages: write
    strategy:
      matrix:
        target: [app, worker]
    steps:
      - uses: actions/download-artifact@v4
        with:
          pattern: digests-${{ matrix.target }}-*
          merge-multiple: true
          path: ${{ runner.temp }}/digests
      - uses: docker/login-action@v4
        with:
          registry: ghcr.io
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
      - name: Merge
        shell: bash
        working-directory: ${{ runner.temp }}/digests
        env:
          TARGET: ${{ matrix.target }}
          VERSION: ${{ needs.prepare.outputs.version }}
        run: |
          repo="ghcr.io/octo-org/$TARGET"
          # shellcheck disable=SC2046
          docker buildx imagetools create -t "$repo:$VERSION" -t "$repo:latest" $(printf "$repo@sha256:%s " *)
          docker buildx imagetools inspect "$repo:$VERSION"
"#;

const TWO_TARGETS_BAKE: &str = r#"
group "default" {
  targets = ["app", "worker"]
}
target "app" {
  context = "."
  dockerfile = "Dockerfile"
  tags = ["ghcr.io/octo-org/app:dev"]
}
target "worker" {
  context = "."
  dockerfile = "Dockerfile"
  tags = ["ghcr.io/octo-org/worker:dev"]
}
"#;

#[test]
fn gha_push_by_digest_and_merge_layout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-bake.hcl"), TWO_TARGETS_BAKE).unwrap();
    let run = gha::run_text(
        DIGEST_LAYOUT,
        dir.path(),
        &Event::tag_push("v1.2.3"),
        &World::new(),
    )
    .unwrap();
    assert!(
        run.succeeded() && run.warnings.is_empty(),
        "{}",
        run.report()
    );
    let legs: Vec<(String, String)> = run
        .builds
        .iter()
        .map(|b| {
            (
                format!("{} {}", b.target, b.platforms.join(",")),
                b.runner_arch.clone(),
            )
        })
        .collect();
    let want = [
        ("app linux/amd64", "amd64"),
        ("worker linux/amd64", "amd64"),
        ("app linux/arm64", "arm64"),
        ("worker linux/arm64", "arm64"),
    ];
    assert_eq!(
        legs,
        want.map(|(a, b)| (a.to_string(), b.to_string())),
        "native runners"
    );
    assert!(
        run.builds.iter().all(|b| b.push_by_digest),
        "{:#?}",
        run.builds
    );
    let by_digest = run
        .pushes
        .iter()
        .filter(|p| p.reference.contains('@'))
        .count();
    assert_eq!(by_digest, 4);
    assert_eq!(run.artifacts.len(), 4, "{:?}", run.artifacts);
    for m in &run.manifests {
        let digests: BTreeSet<&str> = run
            .builds
            .iter()
            .filter(|b| m.tags[0].contains(&format!("/{}:", b.target)))
            .map(|b| b.digest.as_str())
            .collect();
        let sources: BTreeSet<&str> = m
            .sources
            .iter()
            .map(|s| s.split_once('@').unwrap().1)
            .collect();
        assert_eq!(sources, digests, "{m:?}");
    }
    let refs: Vec<String> = run.registry.refs().into_iter().collect();
    assert_eq!(
        refs,
        [
            "ghcr.io/octo-org/app:1.2.3",
            "ghcr.io/octo-org/app:latest",
            "ghcr.io/octo-org/worker:1.2.3",
            "ghcr.io/octo-org/worker:latest"
        ]
    );
    let inspected = run.calls_of(&["docker", "buildx", "imagetools", "inspect"]);
    assert!(
        inspected.len() == 2 && inspected.iter().all(|c| c.status == 0),
        "{}",
        run.report()
    );

    let pr = gha::run_text(
        DIGEST_LAYOUT,
        dir.path(),
        &Event::pull_request(3, "f", "main"),
        &World::new(),
    )
    .unwrap();
    assert!(pr.succeeded(), "{}", pr.report());
    assert!(
        pr.logins.is_empty() && pr.pushes.is_empty() && pr.builds.len() == 4,
        "{}",
        pr.report()
    );
    assert_eq!(pr.job("merge")[0].result, Outcome::Skipped);
}

/// A leg that pushes without a login fails, as a registry would refuse it.
#[test]
fn gha_a_push_needs_a_login_in_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-bake.hcl"), TWO_TARGETS_BAKE).unwrap();
    let no_login = DIGEST_LAYOUT.replace(
        "      - if: github.event_name != 'pull_request'\n        uses: docker/login-action@v4",
        "      - if: false\n        uses: docker/login-action@v4",
    );
    assert_ne!(no_login, DIGEST_LAYOUT);
    let run = gha::run_text(
        &no_login,
        dir.path(),
        &Event::tag_push("v1.2.3"),
        &World::new(),
    )
    .unwrap();
    assert!(!run.succeeded(), "{}", run.report());
    assert!(
        run.pushes.is_empty() && run.registry.refs().is_empty(),
        "{}",
        run.report()
    );
    assert!(
        run.job("build")
            .iter()
            .all(|j| j.result == Outcome::Failure),
        "fail-fast: false runs every leg: {}",
        run.report()
    );
}
