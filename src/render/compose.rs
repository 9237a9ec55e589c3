//! Checked spec and plan in, `compose.yaml` out: one service per spec service, with a
//! build section that matches the bake target, and GPU reservations from the variant.

use std::collections::BTreeSet;

use serde::Serialize;

use super::dockerfile::Dockerfiles;
use super::{RenderOptions, Rendered, header, relative_path, render_template};
use crate::check::Checked;
use crate::diagnostics::Error;
use crate::plan::{Plan, Target, runtime};
use crate::spec::{ComposeText, Healthcheck, ServiceFields, Spec, Text};
use crate::value;

#[derive(Serialize)]
struct Context {
    header: Vec<String>,
    name: String,
    services: Vec<Service>,
    volumes: Vec<String>,
    /// Build secrets of the services' builds, by id.
    secrets: Vec<Secret>,
    networks: Vec<Network>,
}

/// A top-level `secrets:` entry: read from an environment variable or a file.
#[derive(Serialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Secret {
    id: String,
    environment: Option<String>,
    file: Option<String>,
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
    fields: Fields,
}

/// The settings passed through, each value a YAML scalar.
#[derive(Serialize)]
struct Fields {
    container_name: Option<String>,
    env_file: Vec<EnvFile>,
    devices: Vec<String>,
    group_add: Vec<String>,
    device_cgroup_rules: Vec<String>,
    shm_size: Option<String>,
    extra_hosts: Vec<String>,
    tty: bool,
    stop_signal: Option<String>,
    pull_policy: Option<String>,
    entrypoint: Option<Vec<String>>,
    logging: Option<Logging>,
    networks: Vec<String>,
}

#[derive(Serialize)]
struct Logging {
    driver: String,
    options: Vec<Pair>,
}

/// A top-level network.
#[derive(Serialize)]
struct Network {
    name: String,
    internal: bool,
    driver: Option<String>,
}

#[derive(Serialize)]
struct EnvFile {
    path: String,
    required: bool,
}

fn fields(f: &ServiceFields) -> Fields {
    let literal = |t: &Text| super::escape::compose(&t.value);
    let all = |list: &[Text]| list.iter().map(literal).collect();
    Fields {
        container_name: f.container_name.as_ref().map(literal),
        env_file: f
            .env_files
            .iter()
            .map(|(path, required)| EnvFile {
                path: scalar(path),
                required: *required,
            })
            .collect(),
        devices: all(&f.devices),
        group_add: all(&f.group_add),
        device_cgroup_rules: all(&f.device_cgroup_rules),
        shm_size: f.shm_size.as_ref().map(literal),
        extra_hosts: all(&f.extra_hosts),
        tty: f.tty,
        stop_signal: f.stop_signal.as_ref().map(literal),
        pull_policy: f.pull_policy.as_ref().map(literal),
        entrypoint: f
            .entrypoint
            .as_ref()
            .map(|e| e.iter().map(scalar).collect()),
        logging: f.logging.as_ref().map(|l| Logging {
            driver: literal(&l.driver),
            options: l
                .options
                .iter()
                .map(|(k, v)| Pair {
                    name: k.value.clone(),
                    value: literal(v),
                })
                .collect(),
        }),
        networks: f.networks.iter().map(|n| n.value.clone()).collect(),
    }
}

#[derive(Serialize)]
struct Build {
    context: String,
    dockerfile: String,
    target: String,
    platforms: Vec<String>,
    /// Values already written as YAML scalars.
    args: Vec<Pair>,
    labels: Vec<Pair>,
    secrets: Vec<String>,
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
    required: bool,
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
    count: Option<String>,
    device_ids: Vec<String>,
    capabilities: Vec<String>,
}

/// A compose string as a YAML scalar: `$` left to compose's interpolation where the spec
/// says `(expand)`, else literal (`$$`).
fn scalar(v: &ComposeText) -> String {
    expandable(&v.text.value, v.expand)
}

fn expandable(text: &str, expand: bool) -> String {
    if expand {
        super::escape::yaml(text)
    } else {
        super::escape::compose(text)
    }
}

/// A GPU count as YAML: a number or `all` as it is, an interpolated one quoted (compose
/// converts what it interpolates to a count).
fn gpu_count(count: &str) -> String {
    if count == "all" || count.parse::<u32>().is_ok() {
        count.to_string()
    } else {
        super::escape::yaml(count)
    }
}

fn check(h: &Healthcheck) -> Check {
    Check {
        command: expandable(&h.command.value, h.expand),
        interval: h.interval.as_ref().map(|t| t.value.to_string()),
        timeout: h.timeout.as_ref().map(|t| t.value.to_string()),
        start_period: h.start_period.as_ref().map(|t| t.value.to_string()),
        retries: h.retries.as_ref().map(|r| r.value),
    }
}

/// The build section of a service of `planned`: the same Dockerfile, stage, arguments,
/// platforms and labels as its bake target. Compose cannot transform a variable, so the
/// version is the plan's; `REVISION` is passed through as it is.
fn build(spec: &Spec, planned: &Target, compose_dir: &str, dockerfile: &str) -> Build {
    let revision = format!("${{{}:-}}", runtime::REVISION_VARIABLE);
    let args = planned
        .args
        .iter()
        .map(|(k, v)| Pair {
            name: k.clone(),
            value: if k == runtime::REVISION_VARIABLE {
                super::escape::yaml(&revision)
            } else {
                super::escape::compose(v)
            },
        })
        .collect();
    let mut labels = vec![Pair {
        name: "org.opencontainers.image.title".into(),
        value: super::escape::compose(&planned.image),
    }];
    if let Some(source) = &spec.project.source {
        labels.push(Pair {
            name: "org.opencontainers.image.source".into(),
            value: super::escape::compose(&source.value),
        });
    }
    labels.push(Pair {
        name: "org.opencontainers.image.version".into(),
        value: super::escape::compose(&planned.args[runtime::VERSION_VARIABLE]),
    });
    labels.push(Pair {
        name: "org.opencontainers.image.revision".into(),
        value: super::escape::yaml(&revision),
    });
    Build {
        context: relative_path(compose_dir, &planned.context),
        dockerfile: relative_path(&planned.context, dockerfile),
        target: planned.stage.clone(),
        platforms: planned.platforms.clone(),
        args,
        labels,
        secrets: planned.secrets.iter().map(|s| s.id.clone()).collect(),
    }
}

/// The top-level entry of a build secret; a file is relative to the compose file.
fn secret(s: &crate::plan::SecretPlan, compose_dir: &str) -> Secret {
    Secret {
        id: s.id.clone(),
        environment: s.file.is_none().then(|| s.env.clone()),
        file: s.file.as_ref().map(|f| relative_path(compose_dir, f)),
    }
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
    let mut secrets = BTreeSet::new();
    let mut services = Vec::new();
    for s in &spec.services {
        let mut service = Service {
            name: s.name.value.clone(),
            image_expr: String::new(),
            build: None,
            command: s.command.as_ref().map(|c| c.iter().map(scalar).collect()),
            restart: s.restart.as_ref().map(|r| r.value.clone()),
            ports: s.ports.iter().map(scalar).collect(),
            volumes: s.volumes.iter().map(scalar).collect(),
            environment: s
                .env
                .iter()
                .map(|e| EnvEntry {
                    name: e.name.value.clone(),
                    expr: expandable(&e.value.value, e.expand),
                })
                .collect(),
            depends_on: s
                .depends_on
                .iter()
                .map(|d| Dependency {
                    name: d.service.value.clone(),
                    required: d.required,
                    condition: match d.condition.as_ref().map(|c| c.as_str()) {
                        Some("healthy") => "service_healthy",
                        Some("completed") => "service_completed_successfully",
                        _ => "service_started",
                    },
                })
                .collect(),
            healthcheck: s.healthcheck.as_ref().map(check),
            profiles: Vec::new(),
            gpu: None,
            fields: fields(&s.fields),
        };
        for v in s.volumes.iter().filter(|v| !v.expand) {
            if let Some(name) = value::named_volume(&v.text.value) {
                volumes.insert(name.to_string());
            }
        }
        let planned = plan.service(&s.name.value);
        if let Some(planned) = planned {
            // An interpolated reference is the spec's text: compose resolves it.
            service.image_expr = if s.image_expand {
                super::escape::yaml(s.image.value.as_str())
            } else {
                super::escape::compose(&planned.image)
            };
            service.profiles = planned.profiles.clone();
            service.gpu = planned.gpu.as_ref().map(|g| Gpu {
                driver: g.driver.clone(),
                count: g.device_ids.is_empty().then(|| gpu_count(&g.count)),
                device_ids: g.device_ids.clone(),
                capabilities: g.capabilities.clone(),
            });
        }
        let target = planned.and_then(|x| plan.target(x.target.as_deref()?));
        if let Some(planned) = target
            && let Some(dockerfile) = dockerfiles
                .by_target
                .get(&(planned.image_index, planned.variant_index))
        {
            service.build = Some(build(spec, planned, compose_dir, dockerfile));
            secrets.extend(planned.secrets.iter().map(|s| secret(s, compose_dir)));
        }
        services.push(service);
    }
    let context = Context {
        header: header(options),
        name: project,
        services,
        volumes: volumes.into_iter().collect(),
        secrets: secrets.into_iter().collect(),
        networks: spec
            .networks
            .iter()
            .map(|n| Network {
                name: n.name.value.clone(),
                internal: n.internal,
                driver: n.driver.as_ref().map(|d| super::escape::compose(&d.value)),
            })
            .collect(),
    };
    match render_template("compose", &path, &context) {
        Ok(contents) => Some(Rendered { path, contents }),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}
