//! Checked spec and plan in, `compose.yaml` out: one service per spec service, with a
//! build section that matches the bake target, and GPU reservations from the variant.

use std::collections::BTreeSet;

use serde::Serialize;

use super::dockerfile::Dockerfiles;
use super::{RenderOptions, Rendered, header, relative_path, render_template};
use crate::check::Checked;
use crate::diagnostics::Error;
use crate::plan::{Plan, default_variant, image_variants};
use crate::spec::{GpuCount, Healthcheck, Registry};
use crate::value;

#[derive(Serialize)]
struct Context {
    header: Vec<String>,
    name: String,
    services: Vec<Service>,
    volumes: Vec<String>,
}

#[derive(Serialize)]
struct Service {
    name: String,
    /// A YAML scalar, possibly with compose interpolation for a CI-only namespace.
    image_expr: String,
    build: Option<Build>,
    command: Option<Vec<String>>,
    restart: Option<String>,
    ports: Vec<String>,
    volumes: Vec<String>,
    environment: Vec<EnvEntry>,
    depends_on: Vec<Dependency>,
    healthcheck: Option<Check>,
    profiles: Vec<String>,
    gpu: Option<Gpu>,
}

#[derive(Serialize)]
struct Build {
    context: String,
    dockerfile: String,
    target: String,
    args: Vec<Pair>,
}

#[derive(Serialize)]
struct Pair {
    name: String,
    value: String,
}

/// A variable name and its value as a YAML scalar.
#[derive(Serialize)]
struct EnvEntry {
    name: String,
    expr: String,
}

#[derive(Serialize)]
struct Dependency {
    name: String,
    condition: &'static str,
}

#[derive(Serialize)]
struct Check {
    command: String,
    interval: Option<String>,
    timeout: Option<String>,
    start_period: Option<String>,
    retries: Option<u32>,
}

#[derive(Serialize)]
struct Gpu {
    driver: String,
    count: String,
    capabilities: Vec<String>,
}

fn check(h: &Healthcheck) -> Check {
    Check {
        command: h.command.value.clone(),
        interval: h.interval.as_ref().map(|t| t.value.clone()),
        timeout: h.timeout.as_ref().map(|t| t.value.clone()),
        start_period: h.start_period.as_ref().map(|t| t.value.clone()),
        retries: h.retries.as_ref().map(|r| r.value),
    }
}

/// `host/namespace/repo:tag` as a YAML scalar; a namespace known only in CI becomes a
/// compose variable with the project name as fallback.
fn image_expr(project: &str, registry: Option<&Registry>, repo: &str, tag: &str) -> String {
    let Some(r) = registry else {
        return super::escape::compose(&format!("{repo}:{tag}"));
    };
    let literal = |s: &str| s.replace('$', "$$");
    let namespace = match (&r.namespace, &r.namespace_secret) {
        (Some(ns), _) => literal(&ns.value),
        (None, Some(secret)) => format!("${{{}:-{project}}}", secret.value),
        (None, None) => format!("${{GITHUB_REPOSITORY_OWNER:-{project}}}"),
    };
    let text = format!(
        "{}/{namespace}/{}:{}",
        literal(&r.host.value),
        literal(repo),
        literal(tag)
    );
    super::escape::yaml(&text)
}

pub fn render(
    checked: &Checked,
    plan: &Plan,
    dockerfiles: &Dockerfiles,
    options: &RenderOptions,
    errors: &mut Vec<Error>,
) -> Option<Rendered> {
    let spec = &checked.spec;
    let path = spec.output.compose.value.clone();
    let compose_dir = path.rsplit_once('/').map_or(".", |(d, _)| d);
    let project = spec.project.name.value.replace('.', "-");
    let mut volumes = BTreeSet::new();
    let mut services = Vec::new();
    for s in &spec.services {
        let mut service = Service {
            name: s.name.value.clone(),
            image_expr: super::escape::compose(&s.image.value),
            build: None,
            command: s
                .command
                .as_ref()
                .map(|c| c.iter().map(|w| w.value.clone()).collect()),
            restart: s.restart.as_ref().map(|r| r.value.clone()),
            ports: s.ports.iter().map(|p| p.value.clone()).collect(),
            volumes: s.volumes.iter().map(|v| v.value.clone()).collect(),
            environment: s
                .env
                .iter()
                .map(|e| EnvEntry {
                    name: e.name.value.clone(),
                    // `(expand)` values keep `$` for compose's own interpolation.
                    expr: if e.expand {
                        super::escape::yaml(&e.value.value)
                    } else {
                        super::escape::compose(&e.value.value)
                    },
                })
                .collect(),
            depends_on: s
                .depends_on
                .iter()
                .map(|d| Dependency {
                    name: d.service.value.clone(),
                    condition: match d.condition.as_ref().map(|c| c.as_str()) {
                        Some("healthy") => "service_healthy",
                        Some("completed") => "service_completed_successfully",
                        _ => "service_started",
                    },
                })
                .collect(),
            healthcheck: s.healthcheck.as_ref().map(check),
            profiles: s
                .profiles
                .as_ref()
                .map(|p| p.iter().map(|x| x.value.clone()).collect())
                .unwrap_or_default(),
            gpu: None,
        };
        for v in &s.volumes {
            if let Some(name) = value::named_volume(&v.value) {
                volumes.insert(name.to_string());
            }
        }
        if let Some(ii) = spec
            .images
            .iter()
            .position(|i| i.name.value == s.image.value)
        {
            let image = &spec.images[ii];
            let built = image_variants(spec, image);
            let v = match &s.variant {
                Some(name) => spec
                    .variants
                    .iter()
                    .position(|x| x.name.value == name.value),
                None => default_variant(spec, &built),
            };
            let Some(v) = v else { continue };
            let variant = &spec.variants[v];
            let planned = plan
                .targets
                .iter()
                .find(|t| t.image == image.name.value && t.variant == variant.name.value);
            if let (Some(planned), Some(dockerfile)) =
                (planned, dockerfiles.by_target.get(&(ii, v)))
            {
                let registry = image
                    .registries
                    .first()
                    .and_then(|n| spec.registries.iter().find(|r| r.name.value == n.value));
                let repo = &image.repository.as_ref().unwrap_or(&image.name).value;
                let tag = planned
                    .tags
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "latest".into());
                service.image_expr = image_expr(&project, registry, repo, &tag);
                let context = relative_path(compose_dir, &image.context.value);
                service.build = Some(Build {
                    context,
                    dockerfile: relative_path(&image.context.value, dockerfile),
                    target: image.stage.value.clone(),
                    args: planned
                        .args
                        .iter()
                        .map(|(k, v)| Pair {
                            name: k.clone(),
                            value: v.clone(),
                        })
                        .collect(),
                });
            }
            if s.profiles.is_none() && built.len() > 1 {
                service.profiles = vec![variant.name.value.clone()];
            }
            service.gpu = variant.gpu.as_ref().map(|g| Gpu {
                driver: g.driver.value.clone(),
                count: match g.count {
                    GpuCount::All => "all".into(),
                    GpuCount::Count(n) => n.to_string(),
                },
                capabilities: g.capabilities.iter().map(|c| c.value.clone()).collect(),
            });
        }
        services.push(service);
    }
    let context = Context {
        header: header(options),
        name: project,
        services,
        volumes: volumes.into_iter().collect(),
    };
    match render_template("compose", &path, &context) {
        Ok(contents) => Some(Rendered { path, contents }),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}
