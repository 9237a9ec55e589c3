//! Helm values (issue 4, acceptance point 3): each generated `values.yaml` (of the
//! bundled specs and of the real-world corpus, `tests/realworld`) and
//! `values.schema.json` goes into a minimal chart (`tests/fixtures/chart`, one Deployment
//! per image in the values and per `modelsRuntime` entry), which Helm lints (`--strict`,
//! schema enforced) and renders offline (helm-python-sdk via `tools/helm_offline.py`);
//! `kubernetes-validate --strict` then checks the rendered manifests. A misspelled key or
//! a wrong type in a values file must fail the lint.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::support::corpus;
use crate::support::generate::{Generated, generate_text, spec_names, spec_text};
use crate::support::repo::Repo;
use crate::support::validators::{ToolOutput, helm_lint, helm_template, repo_root, run_tool};
use serde::Deserialize;
use serde_yaml_ng::Value;
use tempfile::TempDir;

/// Every folder under `root` holding a generated `values.yaml`.
fn chart_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "values.yaml") {
                out.push(dir.clone());
            }
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The fixture chart with the generated values (and, if `schema`, its schema) in it.
fn chart_with(values_dir: &Path, schema: bool) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let chart = dir.path().join("chart");
    copy_dir(&repo_root().join("tests/fixtures/chart"), &chart);
    fs::copy(values_dir.join("values.yaml"), chart.join("values.yaml")).unwrap();
    if schema {
        fs::copy(
            values_dir.join("values.schema.json"),
            chart.join("values.schema.json"),
        )
        .unwrap();
    }
    dir
}

fn chart(dir: &TempDir) -> PathBuf {
    dir.path().join("chart")
}

fn read_yaml(path: &Path) -> Value {
    serde_yaml_ng::from_str(&fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// Lints strictly, renders, and validates the manifests with kubernetes-validate;
/// returns the rendered Kubernetes objects.
fn lint_render_validate(chart_dir: &Path, extra: &[&Path]) -> Vec<Value> {
    helm_lint(chart_dir, extra, true).assert_success();
    let rendered = helm_template(chart_dir, extra, "rel", "apps").assert_success();
    let manifests = chart_dir.parent().unwrap().join("manifests.yaml");
    fs::write(&manifests, &rendered.stdout).unwrap();
    let validated = run_tool(
        "kubernetes-validate",
        [
            "--strict".as_ref(),
            "--quiet".as_ref(),
            manifests.as_os_str(),
        ],
        repo_root(),
    )
    .assert_success();
    assert!(
        !validated.combined().contains("ERROR"),
        "kubernetes-validate: {validated}"
    );
    let objects: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&rendered.stdout)
        .map(|doc| Value::deserialize(doc).expect("rendered YAML"))
        .filter(|v| !v.is_null())
        .collect();
    assert!(!objects.is_empty(), "nothing rendered: {rendered}");
    objects
}

/// Images in the values (maps with `repository` and `tag`), by dotted path, outside
/// `modelsRuntime` (the same walk as the fixture chart's).
fn images(values: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    let Some(map) = values.as_mapping() else {
        return;
    };
    for (k, v) in map {
        let k = k.as_str().unwrap();
        if path.is_empty() && k == "modelsRuntime" {
            continue;
        }
        let p = if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        };
        if v.get("repository").is_some() && v.get("tag").is_some() {
            out.insert(p, v.clone());
        } else {
            images(v, &p, out);
        }
    }
}

fn deployments(objects: &[Value]) -> Vec<&Value> {
    objects
        .iter()
        .filter(|o| o["kind"].as_str() == Some("Deployment"))
        .collect()
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn image_ref(image: &Value) -> String {
    format!(
        "{}:{}",
        image["repository"].as_str().unwrap(),
        image["tag"].as_str().unwrap()
    )
}

/// A values file with `yaml` in a temp dir.
fn values_file(dir: &TempDir, name: &str, yaml: &str) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, yaml).unwrap();
    path
}

fn assert_lint_rejects(chart_dir: &Path, extra: &[&Path], mention: &str) -> ToolOutput {
    let out = helm_lint(chart_dir, extra, true).assert_failure();
    assert!(
        out.combined().contains(mention),
        "the lint error does not mention `{mention}`: {out}"
    );
    out
}

#[test]
fn every_generated_values_file_lints_renders_and_validates_in_a_chart() {
    let mut charts = 0;
    let bundled = spec_names().into_iter().map(|n| {
        let text = spec_text(&n);
        (format!("specs/{n}.kdl"), text)
    });
    for (name, text) in bundled.chain(corpus::specs()) {
        let out = generate_text(&text);
        let dirs = chart_dirs(out.dir.path());
        let chart_nodes = text.lines().filter(|l| l.starts_with("chart ")).count();
        assert_eq!(dirs.len(), chart_nodes, "{name}: charts generated {dirs:?}");
        for values_dir in dirs {
            charts += 1;
            let ctx = format!("{name}: {}", values_dir.display());
            // The schema is a valid JSON schema and the values meet it (an independent
            // check of what Helm enforces).
            run_tool(
                "check-jsonschema",
                [
                    "--schemafile".as_ref(),
                    values_dir.join("values.schema.json").as_os_str(),
                    values_dir.join("values.yaml").as_os_str(),
                ],
                repo_root(),
            )
            .assert_success();

            let tmp = chart_with(&values_dir, true);
            let objects = lint_render_validate(&chart(&tmp), &[]);
            let values = read_yaml(&values_dir.join("values.yaml"));
            // helm create conventions.
            for key in [
                "imagePullSecrets",
                "resources",
                "nodeSelector",
                "tolerations",
                "affinity",
            ] {
                assert!(values.get(key).is_some(), "{ctx}: no `{key}`");
            }
            // One Deployment per image in the values, running that image.
            let mut found = BTreeMap::new();
            images(&values, "", &mut found);
            assert!(!found.is_empty(), "{ctx}: no image in the values");
            let deps = deployments(&objects);
            for (path, image) in &found {
                assert_eq!(
                    image["pullPolicy"].as_str(),
                    Some("IfNotPresent"),
                    "{ctx}: {path}"
                );
                let dep = deps
                    .iter()
                    .find(|d| {
                        d["metadata"]["annotations"]["specc.dev/values-path"].as_str()
                            == Some(path.as_str())
                    })
                    .unwrap_or_else(|| panic!("{ctx}: no Deployment for {path}"));
                assert_eq!(
                    container(dep)["image"].as_str(),
                    Some(image_ref(image).as_str())
                );
            }
            // One Deployment per runtime, in its namespace, running its image.
            let runtimes = values["modelsRuntime"].as_sequence().cloned();
            for runtime in runtimes.unwrap_or_default() {
                let dep = deps
                    .iter()
                    .find(|d| {
                        d["metadata"]["name"].as_str()
                            == Some(&format!("rel-{}", runtime["name"].as_str().unwrap()))
                    })
                    .unwrap_or_else(|| panic!("{ctx}: no Deployment for {runtime:?}"));
                assert_eq!(dep["metadata"]["namespace"], runtime["namespace"]);
                assert_eq!(
                    container(dep)["image"].as_str(),
                    Some(image_ref(&runtime["image"]).as_str())
                );
            }
        }
    }
    assert!(charts >= 3, "too few specs with a chart: {charts}");
}

#[test]
fn sd_on_eks_values_point_the_queue_agent_and_each_runtime_at_their_images() {
    let out = generate_text(&spec_text("sd-on-eks"));
    let values_dir = out.path("src/charts/sd_on_eks");
    let values = read_yaml(&values_dir.join("values.yaml"));

    // The queue agent: the ECR repository and first tag the plan gives its target.
    let plan = out.plan();
    let target = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["image"] == "queue-agent")
        .expect("queue-agent target");
    let ecr = target["registries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["registry"] == "ecr")
        .expect("pushed to ecr");
    let image = &values["runtime"]["queueAgent"]["image"];
    assert_eq!(
        image["repository"].as_str(),
        Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/sd-on-eks/queue-agent")
    );
    assert_eq!(image["repository"].as_str(), ecr["repository"].as_str());
    assert_eq!(image["tag"].as_str(), Some("1.1.0"));
    assert_eq!(image["tag"].as_str(), target["tags"][0].as_str());

    // modelsRuntime: one entry per runtime, as the seed's chart expects them.
    let runtimes = values["modelsRuntime"]
        .as_sequence()
        .expect("modelsRuntime");
    let summary: Vec<(String, String, String, String)> = runtimes
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["type"].as_str().unwrap().to_string(),
                r["namespace"].as_str().unwrap().to_string(),
                image_ref(&r["image"]),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "sdruntime".to_string(),
                "sdwebui".to_string(),
                "default".to_string(),
                "public.ecr.aws/bingjiao/sd-on-eks/sdwebui:latest".to_string()
            ),
            (
                "comfyruntime".to_string(),
                "comfyui".to_string(),
                "default".to_string(),
                "public.ecr.aws/bingjiao/sd-on-eks/comfyui:latest".to_string()
            ),
        ]
    );
    for r in runtimes {
        assert_eq!(
            r["chartRepository"].as_str(),
            Some("oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/sd-on-eks/charts/")
        );
        assert_eq!(r["chartVersion"].as_str(), Some("1.1.0"));
    }

    // A user's override of documented keys is accepted and reaches the manifests.
    let tmp = chart_with(&values_dir, true);
    let overrides = values_file(
        &tmp,
        "prod.yaml",
        "runtime:\n  queueAgent:\n    image:\n      tag: \"1.2.0\"\n\
         imagePullSecrets:\n  - name: ecr-pull\n\
         nodeSelector:\n  kubernetes.io/arch: amd64\n",
    );
    let objects = lint_render_validate(&chart(&tmp), &[&overrides]);
    let deps = deployments(&objects);
    let agent = deps
        .iter()
        .find(|d| d["metadata"]["name"] == "rel-runtime-queueagent")
        .expect("queue agent Deployment");
    assert_eq!(
        container(agent)["image"].as_str(),
        Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/sd-on-eks/queue-agent:1.2.0")
    );
    let pod = &agent["spec"]["template"]["spec"];
    assert_eq!(
        pod["imagePullSecrets"][0]["name"].as_str(),
        Some("ecr-pull")
    );
    assert_eq!(
        pod["nodeSelector"]["kubernetes.io/arch"].as_str(),
        Some("amd64")
    );
}

/// IOPaint with a chart per variant: the GPU one asks Kubernetes for a GPU.
fn iopaint_with_charts() -> Generated {
    // Helm values need a literal repository: the bundled spec's Docker Hub namespace comes
    // from a secret (specc refuses that for a chart), so give it one here.
    let spec = spec_text("iopaint").replace(
        "namespace-secret=DOCKERHUB_USERNAME",
        "namespace=\"sanster\"",
    );
    assert!(
        spec.contains("namespace=\"sanster\""),
        "the iopaint registry changed"
    );
    let spec = spec
        + r#"
chart iopaint {
    image iopaint variant=gpu
    resources cpu="2" memory="8Gi"
    node-selector "nvidia.com/gpu.present" "true"
    toleration key="nvidia.com/gpu" operator="Exists" effect="NoSchedule"
}
chart iopaint-cpu {
    image iopaint variant=cpu
}
"#;
    generate_text(&spec)
}

#[test]
fn a_gpu_variant_yields_gpu_limits_and_a_cpu_variant_none() {
    let out = iopaint_with_charts();

    let gpu_dir = out.path("charts/iopaint");
    let values = read_yaml(&gpu_dir.join("values.yaml"));
    assert_eq!(values["image"]["tag"].as_str(), Some("gpu-1.6.0"));
    let limits = &values["resources"]["limits"];
    assert_eq!(limits["nvidia.com/gpu"].as_u64(), Some(1), "{values:?}");
    assert_eq!(limits["cpu"].as_str(), Some("2"));
    assert_eq!(limits["memory"].as_str(), Some("8Gi"));
    let tmp = chart_with(&gpu_dir, true);
    let objects = lint_render_validate(&chart(&tmp), &[]);
    let deps = deployments(&objects);
    assert_eq!(deps.len(), 1);
    let pod = &deps[0]["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"].as_u64(),
        Some(1)
    );
    assert_eq!(
        pod["containers"][0]["resources"]["requests"]["memory"].as_str(),
        Some("8Gi")
    );
    assert_eq!(
        pod["nodeSelector"]["nvidia.com/gpu.present"].as_str(),
        Some("true")
    );
    assert_eq!(
        pod["tolerations"][0]["key"].as_str(),
        Some("nvidia.com/gpu")
    );
    assert_eq!(pod["tolerations"][0]["effect"].as_str(), Some("NoSchedule"));

    let cpu_dir = out.path("charts/iopaint-cpu");
    let text = fs::read_to_string(cpu_dir.join("values.yaml")).unwrap();
    assert!(!text.contains("gpu"), "a CPU chart mentions a GPU:\n{text}");
    let tmp = chart_with(&cpu_dir, true);
    let objects = lint_render_validate(&chart(&tmp), &[]);
    let deps = deployments(&objects);
    assert_eq!(
        container(deps[0])["image"]
            .as_str()
            .map(|i| i.ends_with(":cpu-1.6.0")),
        Some(true)
    );
    assert!(container(deps[0]).get("resources").is_none());

    // A variant with two GPUs asks for two.
    let spec = r#"
project gpuapp version="2.0.0"
registry ghcr host="ghcr.io" namespace="example" {
    login "github-token"
}
variant cuda default=#true {
    platforms "linux/amd64"
    gpu count=2 driver="nvidia"
}
stage app from="nvidia/cuda:12.4.1-runtime-ubuntu22.04" {
    cmd "nvidia-smi"
}
image app stage=app registries="ghcr" {
    tag "{{version}}"
}
chart app {
    image app
}
"#;
    let out = generate_text(spec);
    let dir = out.path("charts/app");
    let tmp = chart_with(&dir, true);
    let objects = lint_render_validate(&chart(&tmp), &[]);
    let deps = deployments(&objects);
    assert_eq!(
        container(deps[0])["resources"]["limits"]["nvidia.com/gpu"].as_u64(),
        Some(2)
    );
}

#[test]
fn a_misspelled_values_key_fails_helm_lint() {
    let out = generate_text(&spec_text("sd-on-eks"));
    let sd = out.path("src/charts/sd_on_eks");
    let iopaint = iopaint_with_charts();
    let gpu = iopaint.path("charts/iopaint");

    for values_dir in [&sd, &gpu] {
        let tmp = chart_with(values_dir, true);
        let typo = values_file(&tmp, "typo.yaml", "imagee:\n  tag: \"2.0.0\"\n");
        assert_lint_rejects(&chart(&tmp), &[&typo], "imagee");
        // The generated schema is what catches it: without it Helm accepts the typo.
        let no_schema = chart_with(values_dir, false);
        helm_lint(&chart(&no_schema), &[&typo], true).assert_success();
        // Rendering refuses it too.
        helm_template(&chart(&tmp), &[&typo], "rel", "apps").assert_failure();

        // The same typo written into the chart's own values.yaml.
        let path = chart(&tmp).join("values.yaml");
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("nodeSelectr: {}\n");
        fs::write(&path, text).unwrap();
        assert_lint_rejects(&chart(&tmp), &[], "nodeSelectr");
    }

    // Nested keys are closed as well.
    let tmp = chart_with(&sd, true);
    let nested = values_file(
        &tmp,
        "nested.yaml",
        "runtime:\n  queueAgent:\n    image:\n      repositry: example.com/agent\n",
    );
    assert_lint_rejects(&chart(&tmp), &[&nested], "repositry");
    let runtime = values_file(
        &tmp,
        "runtime.yaml",
        "modelsRuntime:\n  - name: extra\n    type: comfyui\n    namespce: default\n",
    );
    assert_lint_rejects(&chart(&tmp), &[&runtime], "namespce");
}

#[test]
fn a_values_key_of_the_wrong_type_fails_helm_lint() {
    let out = generate_text(&spec_text("sd-on-eks"));
    let sd = out.path("src/charts/sd_on_eks");
    let tmp = chart_with(&sd, true);
    for (name, yaml, mention) in [
        (
            "number-tag.yaml",
            "runtime:\n  queueAgent:\n    image:\n      tag: 1.2\n",
            "/runtime/queueAgent/image/tag",
        ),
        (
            "string-secrets.yaml",
            "imagePullSecrets: regcred\n",
            "/imagePullSecrets",
        ),
        (
            "list-selector.yaml",
            "nodeSelector:\n  - gpu\n",
            "/nodeSelector",
        ),
        (
            "map-runtimes.yaml",
            "modelsRuntime:\n  name: sdruntime\n",
            "/modelsRuntime",
        ),
    ] {
        let file = values_file(&tmp, name, yaml);
        assert_lint_rejects(&chart(&tmp), &[&file], mention);
    }
    // The right types pass.
    let good = values_file(
        &tmp,
        "good.yaml",
        "runtime:\n  queueAgent:\n    image:\n      tag: \"1.2\"\n\
         imagePullSecrets:\n  - name: regcred\n",
    );
    helm_lint(&chart(&tmp), &[&good], true).assert_success();
}

/// A chart fed from a registry whose namespace only CI knows would get a placeholder
/// repository (`docker.io/<SECRET>/app`) that Kubernetes cannot pull: specc refuses it.
#[test]
fn a_chart_image_needs_a_registry_with_a_literal_namespace() {
    let spec = spec_text("iopaint")
        + r#"
chart iopaint {
    image iopaint variant=gpu
}
"#;
    let mut out = Repo::new()
        .spec(&spec)
        .run(&["check", "--spec-only", "--color", "never"])
        .code(1);
    for part in [
        "specc::check::helm_namespace",
        "docker.io/<DOCKERHUB_USERNAME>/iopaint",
        "Helm values cannot read",
        "namespace=\"my-org\"",
    ] {
        out = out.stderr_contains(part);
    }
}
