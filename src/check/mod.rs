//! Typed spec in, checked spec and its dependency graph out.
//!
//! Builds a petgraph graph of stages, images, variants, registries, services, workflows and
//! charts, resolves every name (with "did you mean"), finds cycles, checks each value
//! against its grammar (`values`) and collects every problem, warnings included.

pub mod charts;
pub mod targets;

use std::collections::{HashMap, HashSet};

use miette::{LabeledSpan, SourceSpan};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::diagnostics::{Error, and_also, plural, suggest};
use crate::spec::*;
use crate::value;

pub mod compose;
mod context;
mod credentials;
mod expand;
mod labels;
mod line_length;
mod outputs;
mod paths;
mod references;
mod representable;
mod runners;
mod secrets;
pub mod tags;
mod values;

/// A vertex of the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Vertex {
    Stage(usize),
    Image(usize),
    Variant(usize),
    Registry(usize),
    Service(usize),
    Workflow(usize),
    Chart(usize),
    /// An image from a registry (`FROM node:18`, `image="postgres:16"`).
    External(String),
}

/// What an edge means: "`from` depends on `to` because of ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    BuildsFrom,
    CopiesFrom,
    TargetStage,
    BuiltIn,
    PushedTo,
    Runs,
    DependsOn,
    Builds,
    Packages,
    Feeds,
}

impl EdgeKind {
    pub fn label(self) -> &'static str {
        match self {
            EdgeKind::BuildsFrom => "from",
            EdgeKind::CopiesFrom => "copy --from",
            EdgeKind::TargetStage => "target",
            EdgeKind::BuiltIn => "variant",
            EdgeKind::PushedTo => "push",
            EdgeKind::Runs => "runs",
            EdgeKind::DependsOn => "depends_on",
            EdgeKind::Builds => "builds",
            EdgeKind::Packages => "packages",
            EdgeKind::Feeds => "values",
        }
    }
}

/// The whole spec as a graph; vertices are added in spec order, so walks are deterministic.
#[derive(Debug, Clone, Default)]
pub struct SpecGraph {
    pub graph: DiGraph<Vertex, (EdgeKind, SourceSpan)>,
    index: HashMap<Vertex, NodeIndex>,
}

impl SpecGraph {
    fn vertex(&mut self, v: Vertex) -> NodeIndex {
        if let Some(i) = self.index.get(&v) {
            return *i;
        }
        let i = self.graph.add_node(v.clone());
        self.index.insert(v, i);
        i
    }

    fn edge(&mut self, from: Vertex, to: Vertex, kind: EdgeKind, span: SourceSpan) {
        let (a, b) = (self.vertex(from), self.vertex(to));
        self.graph.add_edge(a, b, (kind, span));
    }

    /// Stages `stage` depends on directly, in the order the spec names them.
    pub fn stage_dependencies(&self, stage: usize) -> Vec<usize> {
        let Some(i) = self.index.get(&Vertex::Stage(stage)) else {
            return Vec::new();
        };
        let mut deps: Vec<(usize, usize)> = self
            .graph
            .edges(*i)
            .filter_map(|e| match self.graph[e.target()] {
                Vertex::Stage(s) => Some((e.id().index(), s)),
                _ => None,
            })
            .collect();
        deps.sort();
        let mut seen = HashSet::new();
        deps.into_iter()
            .map(|(_, s)| s)
            .filter(|s| seen.insert(*s))
            .collect()
    }
}

/// A spec that passed every check, its graph, and the warnings it raised.
#[derive(Debug, Clone)]
pub struct Checked {
    pub spec: Spec,
    pub graph: SpecGraph,
    pub warnings: Vec<Error>,
}

/// Checks `spec`; `Err` holds every problem (errors and warnings) when any is an error.
pub fn check(spec: Spec) -> Result<Checked, Vec<Error>> {
    check_file(spec, None)
}

/// [`check`] for the spec in the file `spec_file` (its path as given): no output may be
/// written over it.
pub fn check_file(spec: Spec, spec_file: Option<&str>) -> Result<Checked, Vec<Error>> {
    let spec_file = spec_file
        .and_then(|f| std::path::Path::new(f).file_name())
        .map(|f| f.to_string_lossy().into_owned());
    let mut c = Checker {
        spec_file,
        pushed: Vec::new(),
        spec: &spec,
        problems: Vec::new(),
        graph: SpecGraph::default(),
        unresolved_stage: false,
        undefined: Vec::new(),
    };
    c.run();
    let Checker {
        mut problems,
        graph,
        ..
    } = c;
    crate::diagnostics::sort_by_position(&mut problems);
    if problems.iter().any(|p| !p.is_warning()) {
        return Err(problems);
    }
    Ok(Checked {
        spec,
        graph,
        warnings: problems,
    })
}

struct Checker<'s> {
    spec: &'s Spec,
    problems: Vec<Error>,
    graph: SpecGraph,
    /// Some stage reference did not resolve: which stages are unused is then a guess.
    unresolved_stage: bool,
    /// Stages whose `from="$ARG"` has no value, and for which variants.
    undefined: Vec<(usize, Vec<usize>)>,
    /// The spec's file name (outputs are written relative to its folder), when known.
    spec_file: Option<String>,
    /// Every tag each image pushes, for [`Self::shared_references`].
    pushed: Vec<references::Pushed>,
}

/// True when a string cannot be a spec name, so it must mean an image reference.
fn is_reference_like(s: &str) -> bool {
    s == "scratch" || s.contains([':', '/', '@'])
}

impl<'s> Checker<'s> {
    fn push(&mut self, e: Error) {
        self.problems.push(e);
    }

    /// Reports a name given twice where the output is a map (compose `environment` and
    /// `depends_on`, a step's `env`, `nodeSelector`): YAML refuses duplicate keys.
    fn unique_keys<'t>(
        &mut self,
        kind: &str,
        names: impl IntoIterator<Item = &'t Text>,
        help: &str,
    ) {
        let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
        for n in names {
            if let Some(first) = seen.get(n.as_str()) {
                self.push(Error::DuplicateName {
                    kind: kind.into(),
                    name: n.value.clone(),
                    first: *first,
                    span: n.span,
                    help: help.into(),
                });
            } else {
                seen.insert(n.as_str(), n.span);
            }
        }
    }

    fn unknown(&mut self, kind: &str, name: &Text, candidates: Vec<&str>, extra: &str) {
        let help = and_also(
            suggest(
                &format!("declared {}", plural(kind)),
                &name.value,
                candidates,
            ),
            extra,
        );
        self.push(Error::UnknownReference {
            kind: kind.to_string(),
            name: name.value.clone(),
            span: name.span,
            help,
        });
    }

    /// Resolves a registry name, reporting it when unknown.
    fn registry(&mut self, name: &Text) -> Option<usize> {
        let found = self.spec.registry_index(&name.value);
        if found.is_none() {
            let all = self
                .spec
                .registries
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            self.unknown(
                "registry",
                name,
                all,
                "declare it with `registry NAME host=\"...\"`",
            );
        }
        found
    }

    fn variant(&mut self, name: &Text) -> Option<usize> {
        let found = self.spec.variant_index(&name.value);
        if found.is_none() {
            let all: Vec<&str> = self
                .spec
                .variants
                .iter()
                .filter(|v| !v.implicit)
                .map(|v| v.name.as_str())
                .collect();
            let extra = if all.is_empty() {
                "declare it with `variant NAME { ... }`"
            } else {
                ""
            };
            self.unknown("variant", name, all, extra);
        }
        found
    }

    fn image(&mut self, name: &Text) -> Option<usize> {
        let found = self.spec.image_index(&name.value);
        if found.is_none() {
            let all = self.spec.images.iter().map(|i| i.name.as_str()).collect();
            self.unknown("image", name, all, "");
        }
        found
    }

    fn run(&mut self) {
        let spec = self.spec;
        for (i, _) in spec.stages.iter().enumerate() {
            self.graph.vertex(Vertex::Stage(i));
        }
        self.output();
        self.registries();
        self.variants();
        self.stages();
        self.stage_cycles();
        self.images();
        self.undefined_args();
        self.services();
        self.workflows();
        self.charts();
        self.unused_stages();
        self.build_secrets();
        self.credentials();
        self.representable();
        self.expansions();
        self.managed_labels();
        self.consumer_values();
        self.git_outputs();
        self.build_contexts();
        self.ignored_sources();
        self.line_lengths();
        self.output_clashes();
    }

    fn path(&mut self, p: &Text, what: &str) {
        if let Err(reason) = value::check_relative_path(&p.value) {
            self.push(Error::InvalidPath {
                what: what.into(),
                value: p.value.clone(),
                span: p.span,
                reason,
                help: format!(
                    "write a path inside the repository, relative to the spec's folder, e.g. `{}`",
                    value::to_relative_path(&p.value)
                ),
            });
        }
    }

    fn output(&mut self) {
        for (p, what) in self.spec.output.settings() {
            self.path(p, what);
        }
    }

    fn login_error(&mut self, span: SourceSpan, message: String, label: &str, help: String) {
        self.push(Error::Login {
            message,
            span,
            label: label.into(),
            help,
        });
    }

    fn registries(&mut self) {
        for r in &self.spec.registries {
            self.graph.vertex(Vertex::Registry(
                self.spec.registry_index(&r.name.value).unwrap_or(0),
            ));
            let host = r.host.as_str();
            let ecr = value::ecr_region(host);
            if let Err(reason) = value::check_host(host) {
                self.push(Error::InvalidHost {
                    value: host.into(),
                    span: r.host.span,
                    help: match value::to_host(host) {
                        Some(fixed) => format!("write only the host: `host=\"{fixed}\"`"),
                        None if reason.contains("port") => "write a port from 1 to 65535 after the host, e.g. `localhost:5000`".into(),
                        None => "write only the host, e.g. `docker.io`, `ghcr.io` or `123456789012.dkr.ecr.us-west-2.amazonaws.com`".into(),
                    },
                    reason,
                });
            } else if ecr.is_none() && value::looks_like_ecr(host) {
                self.push(Error::InvalidHost {
                    value: host.into(),
                    span: r.host.span,
                    reason: "not an ECR host `<12-digit account>.dkr.ecr.<region>.amazonaws.com`"
                        .into(),
                    help: "e.g. `123456789012.dkr.ecr.us-west-2.amazonaws.com`".into(),
                });
            }
            if let Some(ns) = &r.namespace
                && let Err(reason) = value::check_repository_path(&ns.value)
            {
                self.push(Error::InvalidRepository {
                    what: "namespace".into(),
                    value: ns.value.clone(),
                    span: ns.span,
                    reason,
                    help: lowercase_help(
                        &ns.value,
                        "namespaces are lowercase, e.g. `sanster` or `my-org/team`",
                    ),
                });
            }
            let Some(login) = &r.login else { continue };
            match &login.method {
                LoginMethod::Basic { .. } => {
                    if ecr.is_some() {
                        self.login_error(
                            login.span,
                            "Amazon ECR does not take a user name and password".into(),
                            "use `login \"aws\"`",
                            format!(
                                "write `login \"aws\" region=\"{}\" role=\"arn:aws:iam::{}:role/NAME\"`",
                                ecr.unwrap_or_default(),
                                host.split('.').next().unwrap_or_default()
                            ),
                        );
                    }
                }
                LoginMethod::GithubToken => {
                    if host != "ghcr.io" {
                        self.login_error(login.span, format!("`login \"github-token\"` only works for ghcr.io, not `{host}`"), "GITHUB_TOKEN is accepted by ghcr.io only", format!("log in to `{host}` with secrets: `login \"basic\" username-secret=REGISTRY_USERNAME password-secret=REGISTRY_TOKEN`, or set `host=\"ghcr.io\"`"));
                    }
                }
                LoginMethod::Aws {
                    region,
                    role,
                    access_key_id_secret,
                    secret_access_key_secret,
                } => {
                    match ecr {
                        None => self.login_error(login.span, format!("`login \"aws\"` needs an Amazon ECR host, not `{host}`"), "not an ECR registry", format!("log in to `{host}` with secrets: `login \"basic\" username-secret=REGISTRY_USERNAME password-secret=REGISTRY_TOKEN`, or set `host=\"<account>.dkr.ecr.<region>.amazonaws.com\"`")),
                        Some(host_region) if host_region != region.value => {
                            let (hr, rv) = (host_region.to_string(), region.value.clone());
                            self.login_error(region.span, format!("login region `{rv}` differs from the registry's region `{hr}`"), "does not match the host", format!("write `region=\"{hr}\"`"));
                        }
                        _ => {}
                    }
                    let account = host.split('.').next().unwrap_or_default();
                    match (role, access_key_id_secret, secret_access_key_secret) {
                        (Some(role), None, None) => {
                            if !role.value.starts_with("arn:aws") || !role.value.contains(":role/")
                            {
                                self.push(Error::InvalidRoleArn {
                                    value: role.value.clone(),
                                    span: role.span,
                                    reason: "expected `arn:aws:iam::<account>:role/<name>`".into(),
                                    help: format!(
                                        "write the role's full ARN, e.g. `role=\"arn:aws:iam::{}:role/{}\"`",
                                        if ecr.is_some() { account } else { "123456789012" },
                                        role.value.rsplit([':', '/']).next().filter(|n| !n.is_empty()).unwrap_or("github-push")
                                    ),
                                });
                            }
                        }
                        (None, Some(_), Some(_)) => {}
                        (role, key, secret) => {
                            let label = match (role, key, secret) {
                                (None, None, None) => "no credentials given",
                                (Some(_), _, _) => "both a role and access keys given",
                                _ => "only one of the two key secrets given",
                            };
                            self.login_error(login.span, "`login \"aws\"` needs either `role=` or both key secrets".into(), label, "write `role=\"arn:aws:iam::<account>:role/NAME\"` (OIDC, preferred) or `access-key-id-secret=AWS_ACCESS_KEY_ID secret-access-key-secret=AWS_SECRET_ACCESS_KEY`".into());
                        }
                    }
                }
            }
        }
    }

    fn variants(&mut self) {
        for (i, v) in self.spec.variants.iter().enumerate() {
            self.graph.vertex(Vertex::Variant(i));
            let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
            for p in &v.platforms {
                if let Some(first) = seen.get(p.value.as_str()) {
                    self.push(Error::DuplicateName {
                        kind: "platform".into(),
                        name: p.value.to_string(),
                        first: *first,
                        span: p.span,
                        help: "remove the repeated platform".into(),
                    });
                } else {
                    seen.insert(p.value.as_str(), p.span);
                }
            }
            if let Some(gpu) = &v.gpu
                && !gpu.allow_any_platform
                // An invalid platform has its own error.
                && let Some(p) = v
                    .platforms
                    .iter()
                    .find(|p| (p.value.os.as_str(), p.value.arch.as_str()) != ("linux", "amd64"))
            {
                self.push(Error::GpuPlatform {
                    variant: v.name.value.clone(),
                    platform: p.value.to_string(),
                    span: p.span,
                });
            }
            for (affix, what) in [(&v.tag_prefix, "tag-prefix"), (&v.tag_suffix, "tag-suffix")] {
                let Some(affix) = affix else { continue };
                let bad = affix
                    .value
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)));
                let reason = match bad {
                    Some(bad) => format!("`{bad}` cannot appear in a tag"),
                    // The prefix starts every tag of the variant.
                    None if what == "tag-prefix" && affix.value.starts_with(['.', '-']) => {
                        "a tag cannot start with `.` or `-`".into()
                    }
                    None => continue,
                };
                self.push(Error::InvalidTagAffix {
                    what: what.into(),
                    value: affix.value.clone(),
                    span: affix.span,
                    reason,
                    help: format!(
                        "write e.g. `{what}=\"{}\"`; tags hold letters, digits, `_`, `.` and `-`",
                        value::to_tag_text(&affix.value)
                    ),
                });
            }
        }
    }

    fn stages(&mut self) {
        let spec = self.spec;
        for (si, stage) in spec.stages.iter().enumerate() {
            let from = Text::new(stage.from.value.to_string(), stage.from.span);
            let from = &from;
            if let Some(dep) = self.spec.stage_index(&from.value) {
                self.graph.edge(
                    Vertex::Stage(si),
                    Vertex::Stage(dep),
                    EdgeKind::BuildsFrom,
                    from.span,
                );
            } else if let Some((name, form)) = arg_with_default(&from.value) {
                self.push(Error::InvalidImageReference {
                    value: from.value.clone(),
                    span: from.span,
                    reason: format!("`{form}` is a shell-style default, which `from=` does not read"),
                    help: format!(
                        "give the argument its value in the spec, at the top level or per variant: `arg {name} \"...\"`, and write `from=\"${name}\"`"
                    ),
                });
            } else if let Some(arg) = arg_reference(&from.value) {
                self.stages_named_by(si, arg, from.span);
                if !value::is_variable_name(arg) {
                    self.push(Error::InvalidVariableName {
                        what: "build argument".into(),
                        name: arg.into(),
                        span: from.span,
                        help: format!(
                            "write `from=\"${}\"` with a declared argument",
                            value::to_variable_name(arg)
                        ),
                    });
                }
            } else if from.value.contains('$') {
                self.push(Error::InvalidImageReference {
                    value: from.value.clone(),
                    span: from.span,
                    reason: "`$` inside a reference: the base would depend on a variable specc cannot follow".into(),
                    help: "to choose the base (or a stage) per variant, give each variant a build argument holding the whole name, e.g. `variant cpu { arg BASE \"base-cpu\" }`, and write `from=\"$BASE\"`".into(),
                });
            } else if let Err(reason) = stage.from.value.reference() {
                let reason = reason.to_string();
                let stages: Vec<&str> = spec.stages.iter().map(|s| s.name.as_str()).collect();
                let mut help = reference_help(
                    &from.value,
                    "write a stage name, `$ARG`, or an image like `python:3.12-slim`",
                );
                if !is_reference_like(&from.value) {
                    help = and_also(
                        suggest("declared stages", &from.value, stages),
                        "or write an image like `python:3.12-slim`",
                    );
                }
                self.push(Error::InvalidImageReference {
                    value: from.value.clone(),
                    span: from.span,
                    reason,
                    help,
                });
            } else if let Some(meant) = (!is_reference_like(&from.value))
                .then(|| {
                    let others = spec
                        .stages
                        .iter()
                        .filter(|s| s.name.value != stage.name.value);
                    crate::diagnostics::closest(&from.value, others.map(|s| s.name.as_str()))
                })
                .flatten()
            {
                // A bare name close to a stage's is a misspelt stage, not a Docker Hub image.
                self.push(Error::UnknownReference {
                    kind: "stage".into(),
                    name: from.value.clone(),
                    span: from.span,
                    help: format!(
                        "did you mean `{meant}`? For an image from a registry, write its tag too, e.g. `from=\"{}:latest\"`",
                        from.value
                    ),
                });
                self.unresolved_stage = true;
            } else {
                self.graph.edge(
                    Vertex::Stage(si),
                    Vertex::External(from.value.clone()),
                    EdgeKind::BuildsFrom,
                    from.span,
                );
            }
            for ins in &stage.instructions {
                self.instruction(si, ins);
            }
        }
    }

    /// A `from="$ARG"` whose value (top level or in a variant) names a stage builds from
    /// that stage: Docker resolves the expanded name to the stage, so the stage must be in
    /// the file, and its own dependencies and cycles count.
    fn stages_named_by(&mut self, si: usize, arg: &str, span: SourceSpan) {
        let spec = self.spec;
        let values = spec
            .args
            .iter()
            .chain(spec.variants.iter().flat_map(|v| &v.args))
            .filter(|a| a.name.value == arg)
            .filter_map(|a| a.value.as_ref());
        for value in values {
            if let Some(dep) = self.spec.stage_index(&value.value) {
                let (me, base) = (Vertex::Stage(si), Vertex::Stage(dep));
                self.graph.edge(me, base, EdgeKind::BuildsFrom, span);
            }
        }
    }

    fn variant_list(&mut self, list: &[Text]) {
        for v in list {
            self.variant(v);
        }
    }

    fn instruction(&mut self, si: usize, ins: &Instruction) {
        if let Some(list) = &ins.variants {
            self.variant_list(list);
        }
        for rule in &ins.lint_ignore {
            let v = &rule.value;
            let ok = v.len() == 6
                && (v.starts_with("DL") || v.starts_with("SC"))
                && v[2..].chars().all(|c| c.is_ascii_digit());
            if !ok {
                self.push(Error::InvalidLintRule {
                    value: v.clone(),
                    span: rule.span,
                    reason: "expected a rule code like `DL3008` or `SC2086`".into(),
                    help: "list hadolint rule codes, e.g. `lint-ignore=\"DL3008 DL3059\"`".into(),
                });
            }
        }
        match &ins.kind {
            InstructionKind::Copy(copy) => {
                if let Some(source) = &copy.from {
                    self.copies_from(si, source);
                }
                self.permissions(&copy.chown, &copy.chmod);
            }
            InstructionKind::Add(add) => {
                self.permissions(&add.chown, &add.chmod);
                if let Some(sum) = &add.checksum
                    && let Err(reason) = value::dockerfile::check_checksum(&sum.value)
                {
                    self.push(Error::InvalidChecksum {
                        value: sum.value.clone(),
                        span: sum.span,
                        reason,
                        help: "write e.g. `checksum=\"sha256:<64 hex digits>\"`".into(),
                    });
                }
            }
            InstructionKind::Expose(ports) => {
                // An `(expand)` port is known only at build time; `expansions` checks it.
                for p in ports.iter().filter(|p| !ins.expands(p)) {
                    let (num, proto) = p.value.split_once('/').unwrap_or((&p.value, "tcp"));
                    let reason = if num.contains(':') {
                        Some("`expose` takes a container port, not a mapping".to_string())
                    } else if !["tcp", "udp", "sctp"].contains(&proto) {
                        Some(format!("unknown protocol `{proto}` (tcp, udp or sctp)"))
                    } else {
                        value::check_port(num).err()
                    };
                    if let Some(reason) = reason {
                        self.push(Error::InvalidPort {
                            value: p.value.clone(),
                            span: p.span,
                            reason,
                            help: "write e.g. `expose 8080` or `expose \"53/udp\"`; host mappings belong in a service's `port`".into(),
                        });
                    }
                }
            }
            InstructionKind::Healthcheck(h) => self.healthcheck(h),
            InstructionKind::Run(run) => {
                for m in &run.mounts {
                    if let Mount::Bind {
                        from: Some(source), ..
                    } = m
                    {
                        self.copies_from(si, source);
                    }
                }
            }
            _ => {}
        }
    }

    /// A `copy from=` (or a bind mount's `from=`): a stage, built first, or an image.
    fn copies_from(&mut self, si: usize, source: &Spanned<ImageSource>) {
        let from = &Text::new(source.value.to_string(), source.span);
        if let Some(dep) = self.spec.stage_index(&from.value) {
            self.graph.edge(
                Vertex::Stage(si),
                Vertex::Stage(dep),
                EdgeKind::CopiesFrom,
                from.span,
            );
        } else if is_reference_like(&from.value) {
            match source.value.reference() {
                Ok(_) => self.graph.edge(
                    Vertex::Stage(si),
                    Vertex::External(from.value.clone()),
                    EdgeKind::CopiesFrom,
                    from.span,
                ),
                Err(reason) => self.push(Error::InvalidImageReference {
                    value: from.value.clone(),
                    span: from.span,
                    reason: reason.to_string(),
                    help: reference_help(
                        &from.value,
                        "write a stage name or an image like `busybox:1.36`",
                    ),
                }),
            }
        } else {
            let stages: Vec<&str> = self.spec.stages.iter().map(|s| s.name.as_str()).collect();
            let help = and_also(
                suggest("declared stages", &from.value, stages),
                "to copy from an image, write its reference, e.g. `from=\"busybox:1.36\"`",
            );
            self.push(Error::CopyFromUnknownStage {
                name: from.value.clone(),
                span: from.span,
                help,
            });
            self.unresolved_stage = true;
        }
    }

    fn permissions(&mut self, chown: &Option<Text>, chmod: &Option<Text>) {
        if let Some(m) = chmod {
            let ok = (3..=4).contains(&m.value.len())
                && m.value.chars().all(|c| ('0'..='7').contains(&c));
            if !ok {
                self.push(Error::InvalidFileMode {
                    value: m.value.clone(),
                    span: m.span,
                    reason: "expected an octal mode".into(),
                    help: match value::symbolic_to_octal(&m.value) {
                        Some(octal) => format!("write `chmod=\"{octal}\"`"),
                        None => "write e.g. `chmod=\"755\"` or `chmod=\"0644\"`".into(),
                    },
                });
            }
        }
        if let Some(o) = chown
            && (o.value.is_empty()
                || o.value.contains(char::is_whitespace)
                || !o.value.is_ascii()
                || o.value.matches(':').count() > 1)
        {
            self.push(Error::InvalidOwner {
                value: o.value.clone(),
                span: o.span,
                reason: "expected `user` or `user:group` in ASCII".into(),
                help: "write e.g. `chown=\"1000:1000\"` or `chown=\"app:app\"`".into(),
            });
        }
    }

    fn healthcheck(&mut self, h: &Healthcheck) {
        if h.command.value.trim().is_empty() {
            self.push(Error::EmptyValue {
                what: "the health check command".into(),
                span: h.command.span,
                help: "write e.g. `healthcheck \"curl -f http://localhost:8080/\"`".into(),
            });
        }
    }

    fn stage_cycles(&mut self) {
        let spec = self.spec;
        let cycles = find_cycles(&self.graph, spec.stages.len(), |v| match v {
            Vertex::Stage(i) => Some(*i),
            _ => None,
        });
        let name = |i: usize| spec.stages[i].name.as_str();
        for (path, edges) in cycles {
            let path: Vec<&str> = path.into_iter().map(name).collect();
            self.push(Error::Cycle {
                kind: "stages".into(),
                kind_one: "stage".into(),
                path: path.join(" → "),
                edges: edges
                    .into_iter()
                    .map(|(a, b, span)| {
                        let label = format!("`{}` depends on `{}` here", name(a), name(b));
                        LabeledSpan::new_with_span(Some(label), span)
                    })
                    .collect(),
            });
        }
    }

    fn images(&mut self) {
        let spec = self.spec;
        for (ii, image) in spec.images.iter().enumerate() {
            let me = Vertex::Image(ii);
            self.graph.vertex(me.clone());
            let target = self.spec.stage_index(&image.stage.value);
            match target {
                Some(s) => self.graph.edge(
                    me.clone(),
                    Vertex::Stage(s),
                    EdgeKind::TargetStage,
                    image.stage.span,
                ),
                None => {
                    let all = spec.stages.iter().map(|s| s.name.as_str()).collect();
                    self.unknown("stage", &image.stage, all, "");
                    self.unresolved_stage = true;
                }
            }
            let variants: Vec<usize> = match &image.variants {
                Some(list) => list.iter().filter_map(|v| self.variant(v)).collect(),
                None => (0..spec.variants.len()).collect(),
            };
            for &v in &variants {
                self.graph.edge(
                    me.clone(),
                    Vertex::Variant(v),
                    EdgeKind::BuiltIn,
                    image
                        .variants
                        .as_ref()
                        .map_or(image.name.span, |l| l[0].span),
                );
            }
            for r in &image.registries {
                if let Some(ri) = self.registry(r) {
                    self.graph
                        .edge(me.clone(), Vertex::Registry(ri), EdgeKind::PushedTo, r.span);
                }
            }
            if let Some(repo) = &image.repository
                && let Err(reason) = value::check_repository_path(&repo.value)
            {
                self.push(Error::InvalidRepository {
                    what: "repository".into(),
                    value: repo.value.clone(),
                    span: repo.span,
                    reason,
                    help: lowercase_help(
                        &repo.value,
                        "repositories are lowercase, e.g. `runpod-comfyui-custom`",
                    ),
                });
            }
            self.path(&image.context, "build context");
            for cache in &image.caches {
                if let Some(r) = &cache.registry
                    && self.registry(r).is_some()
                    && !image.registries.iter().any(|x| x.value == r.value)
                {
                    self.push(Error::UnknownReference {
                        kind: "registry of this image".into(),
                        name: r.value.clone(),
                        span: r.span,
                        help: "a registry cache lives next to the image; add the registry to the image's `registries=`".into(),
                    });
                }
            }
            self.tags(ii, image, &variants);
            if let Some(t) = target {
                for &v in &variants {
                    self.build_args(t, v);
                }
            }
        }
        self.target_names();
        self.shared_references();
    }

    /// Two images whose bake targets get one name (image `app` in variant `cpu` and image
    /// `app-cpu`) would overwrite each other in the bake file and the lock.
    fn target_names(&mut self) {
        let spec = self.spec;
        let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
        for (ii, image) in spec.images.iter().enumerate() {
            // A second image of one name is reported as declared twice.
            if self.spec.image_index(&image.name.value) != Some(ii) {
                continue;
            }
            for v in targets::image_variants(spec, image) {
                // So is a second variant of one name.
                if self.spec.variant_index(&spec.variants[v].name.value) != Some(v) {
                    continue;
                }
                let name = targets::target_name(spec, image, v);
                let Some(&(fi, fv)) = seen.get(&name) else {
                    seen.insert(name, (ii, v));
                    continue;
                };
                let describe = |i: usize, v: usize| {
                    let image = &spec.images[i];
                    if targets::image_variants(spec, image).len() > 1 {
                        format!(
                            "image `{}` in variant `{}`",
                            image.name.value, spec.variants[v].name.value
                        )
                    } else {
                        format!("image `{}`", image.name.value)
                    }
                };
                self.push(Error::DuplicateName {
                    kind: "bake target".into(),
                    name: name.clone(),
                    first: spec.images[fi].name.span,
                    span: image.name.span,
                    help: format!(
                        "{} and {} both build target `{name}`; rename one of the images",
                        describe(fi, fv),
                        describe(ii, v)
                    ),
                });
            }
        }
    }

    /// Every `$ARG` in a `from=` reached by building `target` in variant `v` needs a value;
    /// the ones without are collected per stage and reported by [`Self::undefined_args`].
    fn build_args(&mut self, target: usize, v: usize) {
        let variant = &self.spec.variants[v];
        for s in reachable_stages(&self.graph, target) {
            let from = &self.spec.stages[s].from;
            // A malformed `$NAME` has its own error.
            let Some(arg) =
                arg_reference(from.value.as_str()).filter(|a| value::is_variable_name(a))
            else {
                continue;
            };
            let declared = self.spec.args.iter().any(|a| a.name.value == arg)
                || variant.args.iter().any(|a| a.name.value == arg);
            if declared {
                continue;
            }
            match self.undefined.iter_mut().find(|(stage, _)| *stage == s) {
                Some((_, variants)) if !variants.contains(&v) => variants.push(v),
                Some(_) => {}
                None => self.undefined.push((s, vec![v])),
            }
        }
    }

    /// One error per `from="$ARG"` that lacks a value, naming every variant concerned.
    fn undefined_args(&mut self) {
        let spec = self.spec;
        for (s, mut variants) in std::mem::take(&mut self.undefined) {
            variants.sort();
            let from = &spec.stages[s].from;
            let Some(arg) = arg_reference(from.value.as_str()) else {
                continue;
            };
            let names: Vec<String> = variants
                .iter()
                .map(|v| format!("`{}`", spec.variants[*v].name.value))
                .collect();
            let names = match names.as_slice() {
                [one] => one.clone(),
                [init @ .., last] => format!("{} and {last}", init.join(", ")),
                [] => continue,
            };
            let implicit = spec.variants.iter().all(|v| v.implicit);
            let (context, help) = if implicit {
                (
                    format!("(no `arg {arg}` declares one)"),
                    format!("declare it at the top level: `arg {arg} \"python:3.12-slim\"`"),
                )
            } else {
                let each = if variants.len() == 1 { "" } else { "each of " };
                let plural = if variants.len() == 1 { "" } else { "s" };
                (
                    format!("for variant{plural} {names}"),
                    format!(
                        "add `arg {arg} \"...\"` to {each}variant{plural} {names}, or give it a default at the top level: `arg {arg} \"...\"`"
                    ),
                )
            };
            self.push(Error::UndefinedArg {
                name: arg.into(),
                context,
                span: from.span,
                help,
            });
        }
    }

    /// A spec image or an external reference: `Some(index)` for a spec image.
    fn image_or_reference(&mut self, source: &Spanned<ImageSource>) -> Result<Option<usize>, ()> {
        let text = source.value.as_str();
        if let Some(i) = self.spec.image_index(text) {
            return Ok(Some(i));
        }
        let value = &Text::new(text.to_string(), source.span);
        if is_reference_like(text) {
            return match source.value.reference() {
                Ok(_) => Ok(None),
                Err(reason) => {
                    self.push(Error::InvalidImageReference {
                        value: text.to_string(),
                        span: source.span,
                        reason: reason.to_string(),
                        help: reference_help(
                            text,
                            "write a spec image name or a reference like `postgres:16-alpine`",
                        ),
                    });
                    Err(())
                }
            };
        }
        let all = self.spec.images.iter().map(|i| i.name.as_str()).collect();
        self.unknown(
            "image",
            value,
            all,
            "for an image from a registry, write its tag too, e.g. `postgres:16-alpine`",
        );
        Err(())
    }

    /// `image=(expand)"..."`: an image reference compose interpolates. With each variable
    /// at its default (else `x`) it must be a valid reference, never a spec image.
    fn interpolated_image(&mut self, source: &Spanned<ImageSource>) -> Result<Option<usize>, ()> {
        let text = source.value.as_str();
        let Ok(pieces) = value::interpolation::parse(text) else {
            return Err(()); // reported at decode
        };
        let sample = value::interpolation::sample(&pieces, "x");
        if self.spec.image_index(text).is_some() {
            self.push(Error::InvalidImageReference {
                value: text.to_string(),
                span: source.span,
                reason: "a spec image: compose would pull an image of this name".into(),
                help: format!(
                    "write `image={text}` without `(expand)`; specc names the image it builds"
                ),
            });
            return Err(());
        }
        match ImageSource::parse(&sample).reference() {
            Ok(_) => Ok(None),
            Err(reason) => {
                self.push(Error::InvalidImageReference {
                    value: text.to_string(),
                    span: source.span,
                    reason: format!("with its defaults, `{sample}`: {reason}"),
                    help: "write e.g. `image=(expand)\"redis:${REDIS_TAG:-7-alpine}\"`".into(),
                });
                Err(())
            }
        }
    }

    /// The variant a reference to image `ii` means, checked against the image's variants.
    fn image_variant(&mut self, ii: usize, variant: &Option<Text>) -> Option<usize> {
        let image = &self.spec.images[ii];
        let built: Vec<usize> = match &image.variants {
            Some(list) => list
                .iter()
                .filter_map(|v| self.spec.variant_index(&v.value))
                .collect(),
            None => (0..self.spec.variants.len()).collect(),
        };
        match variant {
            Some(v) => {
                let vi = self.variant(v)?;
                if !built.contains(&vi) {
                    let names: Vec<&str> = built
                        .iter()
                        .map(|b| self.spec.variants[*b].name.as_str())
                        .collect();
                    let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                    self.push(Error::VariantNotBuilt {
                        image: image.name.value.clone(),
                        variant: v.value.clone(),
                        span: v.span,
                        help: format!(
                            "add `{}` to the `variants=` of image `{}`, or use one it is built in: {}",
                            v.value,
                            image.name.value,
                            list.join(", ")
                        ),
                    });
                    return None;
                }
                Some(vi)
            }
            None => targets::default_variant(self.spec, &built),
        }
    }

    fn services(&mut self) {
        let spec = self.spec;
        for (si, s) in spec.services.iter().enumerate() {
            let me = Vertex::Service(si);
            self.graph.vertex(me.clone());
            let image = if s.image_expand {
                self.interpolated_image(&s.image)
            } else {
                self.image_or_reference(&s.image)
            };
            match image {
                Ok(Some(ii)) => {
                    self.graph
                        .edge(me.clone(), Vertex::Image(ii), EdgeKind::Runs, s.image.span);
                    self.image_variant(ii, &s.variant);
                }
                Ok(None) => {
                    self.graph.edge(
                        me.clone(),
                        Vertex::External(s.image.value.to_string()),
                        EdgeKind::Runs,
                        s.image.span,
                    );
                    if let Some(v) = &s.variant {
                        self.push(Error::ExternalVariant {
                            value: v.value.clone(),
                            span: v.span,
                        });
                    }
                }
                Err(()) => {}
            }
            for v in &s.volumes {
                self.service_volume(v);
            }
            let env = s.env.iter().map(|e| &e.name);
            self.unique_keys("environment variable", env, "keep one of them");
            let deps = s.depends_on.iter().map(|d| &d.service);
            self.unique_keys("dependency", deps, "keep one of them");
            for d in &s.depends_on {
                match spec.service_index(&d.service.value) {
                    Some(di) => self.graph.edge(
                        me.clone(),
                        Vertex::Service(di),
                        EdgeKind::DependsOn,
                        d.service.span,
                    ),
                    None => {
                        let all = spec.services.iter().map(|s| s.name.as_str()).collect();
                        self.unknown("service", &d.service, all, "");
                    }
                }
            }
            if let Some(h) = &s.healthcheck {
                self.healthcheck(h);
            }
            for p in s.profiles.iter().flatten() {
                if value::check_name(&p.value).is_err() {
                    self.push(Error::InvalidName {
                        kind: "profile".into(),
                        name: p.value.clone(),
                        span: p.span,
                        reason: "not a valid profile name".into(),
                        help: "profiles use lowercase letters, digits, `-`, `_` and `.`".into(),
                    });
                }
            }
        }
        self.service_cycles();
        compose::dependencies_across_profiles(spec, &mut self.problems);
        compose::pull_policies(spec, &mut self.problems);
        compose::networks(spec, &mut self.problems);
    }

    /// A volume compose accepts. An interpolated one is checked with each variable at its
    /// default (else a path): its source must be a path, since a named volume would have
    /// to be declared under a name only compose knows.
    fn service_volume(&mut self, v: &crate::spec::ComposeText) {
        let text = &v.text.value;
        let checked = if v.expand {
            let Ok(pieces) = value::interpolation::parse(text) else {
                return; // reported at decode
            };
            let sample = value::interpolation::sample(&pieces, "/x");
            value::check_volume(&sample).and_then(|()| match value::named_volume(&sample) {
                Some(name) if value::interpolation::has_variables(&pieces) => Err(format!(
                    "with its defaults the source is the named volume `{name}`; an interpolated source must be a path"
                )),
                _ => Ok(()),
            })
        } else {
            value::check_volume(text)
        };
        if let Err(reason) = checked {
            self.push(Error::InvalidVolume {
                value: text.clone(),
                span: v.text.span,
                reason,
                help: match value::to_volume(text) {
                    Some(fixed) if !v.expand => format!("write `{fixed}`"),
                    _ if v.expand => "write e.g. `volume (expand)\"${DATA_DIR:-./data}:/data\"`: a path source and an absolute container path".into(),
                    _ => "write `./host/path:/container/path[:ro]` or `volume-name:/container/path`".into(),
                },
            });
        }
    }

    fn service_cycles(&mut self) {
        let spec = self.spec;
        let cycles = find_cycles(&self.graph, spec.services.len(), |v| match v {
            Vertex::Service(i) => Some(*i),
            _ => None,
        });
        let name = |i: usize| spec.services[i].name.as_str();
        for (path, edges) in cycles {
            let path: Vec<&str> = path.into_iter().map(name).collect();
            self.push(Error::Cycle {
                kind: "services".into(),
                kind_one: "service".into(),
                path: path.join(" → "),
                edges: edges
                    .into_iter()
                    .map(|(a, b, span)| {
                        let label = format!("`{}` waits for `{}`", name(a), name(b));
                        LabeledSpan::new_with_span(Some(label), span)
                    })
                    .collect(),
            });
        }
    }

    fn workflows(&mut self) {
        let spec = self.spec;
        for (wi, w) in spec.workflows.iter().enumerate() {
            let me = Vertex::Workflow(wi);
            self.graph.vertex(me.clone());
            for name in w.images.iter().flatten() {
                if let Some(ii) = self.image(name) {
                    self.graph
                        .edge(me.clone(), Vertex::Image(ii), EdgeKind::Builds, name.span);
                }
            }
            self.runs_on(w);
            for t in &w.smoke_tests {
                if let Some(ii) = self.image(&t.image) {
                    self.image_variant(ii, &t.variant);
                }
                let env = t.env.iter().map(|e| &e.name);
                self.unique_keys("environment variable", env, "keep one of them");
                if let Some(p) = &t.port
                    && let Some(reason) = p.value.smoke_problem()
                {
                    let container = p.value.container;
                    self.push(Error::SmokeTestPort {
                        value: p.value.to_string(),
                        span: p.span,
                        reason,
                        help: format!(
                            "publish a fixed host port, e.g. `port=\"{container}:{container}\"`; the probe reads `http://localhost:<host port>`"
                        ),
                    });
                }
                if let Some(path) = &t.path
                    && !path.value.starts_with('/')
                {
                    self.push(Error::InvalidProbePath {
                        value: path.value.clone(),
                        span: path.span,
                        reason: "must start with `/`".into(),
                        help: format!("write `path=\"/{}\"`", path.value),
                    });
                }
            }
            if let Some(d) = &w.dockerhub_description {
                if let Some(ri) = self.registry(&d.registry) {
                    let host = &spec.registries[ri].host.value;
                    if host != "docker.io"
                        && host != "index.docker.io"
                        && host != "registry-1.docker.io"
                    {
                        self.push(Error::NotDockerHub {
                            name: d.registry.value.clone(),
                            host: host.clone(),
                            span: d.registry.span,
                        });
                    }
                }
                if let Some(image) = &d.image {
                    self.image(image);
                }
            }
            for c in &w.charts {
                match spec.chart_index(&c.value) {
                    Some(ci) => {
                        self.graph
                            .edge(me.clone(), Vertex::Chart(ci), EdgeKind::Packages, c.span);
                        if spec.charts[ci].push.is_none() {
                            self.push(Error::MissingValue {
                                node: format!("chart {}", c.value),
                                what: "a `push` destination".into(),
                                span: spec.charts[ci].name.span,
                                help: "the workflow pushes this chart; add `push registry=NAME repository=\"charts\"` to it".into(),
                            });
                        }
                    }
                    None => {
                        let all = spec.charts.iter().map(|c| c.name.as_str()).collect();
                        self.unknown("chart", c, all, "");
                    }
                }
            }
            for t in &w.triggers {
                let text = match &t.value {
                    Trigger::Tag { pattern } => Some(pattern),
                    Trigger::Push { branch } => Some(branch),
                    Trigger::PullRequest { branch, .. } => branch.as_ref(),
                    Trigger::Schedule { cron } => {
                        if cron.value.split_whitespace().count() != 5 {
                            self.push(Error::InvalidCron {
                                value: cron.value.clone(),
                                span: cron.span,
                                reason: "expected five fields".into(),
                                help: "write `minute hour day month weekday`, e.g. `cron=\"0 3 * * 1\"`".into(),
                            });
                        }
                        None
                    }
                    _ => None,
                };
                if let Some(text) = text.filter(|t| t.value.trim().is_empty()) {
                    self.push(Error::EmptyValue {
                        what: "the pattern".into(),
                        span: text.span,
                        help: "write e.g. `pattern=\"v*\"` or `branch=\"main\"`".into(),
                    });
                }
            }
        }
    }

    fn charts(&mut self) {
        let spec = self.spec;
        for (ci, chart) in spec.charts.iter().enumerate() {
            let me = Vertex::Chart(ci);
            self.graph.vertex(me.clone());
            if let Some(p) = &chart.path {
                self.path(p, "chart path");
            }
            let selector = chart.node_selector.iter().map(|(k, _)| k);
            self.unique_keys("node selector label", selector, "keep one of them");
            for ci_image in &chart.images {
                if let Some(ii) = self.image(&ci_image.image) {
                    self.graph.edge(
                        me.clone(),
                        Vertex::Image(ii),
                        EdgeKind::Feeds,
                        ci_image.image.span,
                    );
                    let v = self.image_variant(ii, &ci_image.variant);
                    self.chart_gpu(v, ci_image.image.span);
                    if let Some(r) = &ci_image.registry
                        && self.registry(r).is_some()
                        && !spec.images[ii]
                            .registries
                            .iter()
                            .any(|x| x.value == r.value)
                    {
                        self.push(Error::UnknownReference {
                            kind: "registry of this image".into(),
                            name: r.value.clone(),
                            span: r.span,
                            help: format!("image `{}` is not pushed there; add it to the image's `registries=`", ci_image.image.value),
                        });
                    }
                    self.chart_image_namespace(ii, ci_image);
                    self.chart_tag(ii, ci_image.registry.as_ref(), ci_image.image.span);
                }
                for (key, _) in ci_image.slots() {
                    self.values_key(key);
                }
            }
            self.values_keys_apart(chart);
            self.chart_mode(chart);
            for rt in &chart.runtimes {
                if let Some(img) = &rt.image
                    && let Ok(Some(ii)) = self.image_or_reference(img)
                {
                    self.graph
                        .edge(me.clone(), Vertex::Image(ii), EdgeKind::Feeds, img.span);
                    self.image_variant(ii, &rt.variant);
                    self.chart_tag(ii, None, img.span);
                }
            }
            if let Some(push) = &chart.push {
                self.registry(&push.registry);
                if let Err(reason) = value::check_repository_path(&push.repository.value) {
                    self.push(Error::InvalidRepository {
                        what: "chart repository".into(),
                        value: push.repository.value.clone(),
                        span: push.repository.span,
                        reason,
                        help: lowercase_help(
                            &push.repository.value,
                            "write e.g. `repository=\"sd-on-eks/charts\"`",
                        ),
                    });
                }
            }
        }
    }

    /// Helm values hold a literal GPU limit: variant `v` of a chart's image cannot take
    /// its GPU count from compose interpolation.
    fn chart_gpu(&mut self, v: Option<usize>, span: SourceSpan) {
        let gpu = v.and_then(|v| self.spec.variants[v].gpu.as_ref());
        if let Some(GpuCount::Interpolated(text)) = gpu.map(|g| &g.count) {
            self.push(Error::InvalidGpuCount {
                value: text.value.clone(),
                span,
                reason: "a chart's GPU limit is a number, which Helm values cannot interpolate"
                    .into(),
                help: format!(
                    "give variant `{}` a literal count (`count=1`), or feed the chart another variant (`variant=`)",
                    self.spec.variants[v.unwrap_or_default()].name.value
                ),
            });
        }
    }

    /// Helm values hold a literal tag: image `ii` must push, on a release, a tag that the
    /// spec alone gives (at most the version; not the commit or the branch of a CI run)
    /// to `registry` (the chart's, or the image's first).
    fn chart_tag(&mut self, ii: usize, registry: Option<&Text>, span: SourceSpan) {
        let image = &self.spec.images[ii];
        let registry = registry.or(image.registries.first());
        let release = |r: &&TagRule| {
            r.when.value.applies_on(Event::Release)
                && registry.is_none_or(|g| {
                    r.registries.is_empty() || r.registries.iter().any(|x| x.value == g.value)
                })
        };
        let known = image
            .tags
            .iter()
            .filter(release)
            .any(|r| r.template.value.placeholders().all(|p| p.is_version_part()));
        if known {
            return;
        }
        let first = image.tags.iter().find(release);
        self.push(Error::ChartTagUnknown {
            image: image.name.value.clone(),
            span,
            reason: match first {
                Some(r) => format!(
                    "its release tags depend on the CI run (`{}`)",
                    r.template.value
                ),
                None => "it pushes no tag on a release".into(),
            },
            help: format!(
                "add a release tag that the spec alone gives to image `{}`, e.g. `tag \"{{{{version}}}}\"`",
                image.name.value
            ),
        });
    }

    /// Helm values hold a literal image repository: the registry that feeds a chart (the
    /// one named, else the image's first) must have a literal namespace, not one that only
    /// CI knows (`namespace-secret=`, or none: the GitHub owner).
    fn chart_image_namespace(&mut self, ii: usize, ci_image: &crate::spec::ChartImage) {
        let spec = self.spec;
        let image = &spec.images[ii];
        let name = match &ci_image.registry {
            Some(r) => Some(r),
            None => image.registries.first(),
        };
        let Some(name) = name else { return };
        let Some(registry) = spec
            .registry_index(&name.value)
            .map(|r| &spec.registries[r])
        else {
            return;
        };
        if registry.namespace.is_some() {
            return;
        }
        let repo = image.repository.as_ref().unwrap_or(&image.name);
        let (placeholder, reason) = match &registry.namespace_secret {
            Some(secret) => (
                format!("<{}>", secret.value),
                format!(
                    "registry `{}` takes its namespace from `{}`, which Helm values cannot read",
                    registry.name.value, secret.value
                ),
            ),
            None => (
                "<github-owner>".to_string(),
                format!(
                    "registry `{}` has no namespace (CI uses the GitHub owner), which Helm values cannot know",
                    registry.name.value
                ),
            ),
        };
        let span = ci_image
            .registry
            .as_ref()
            .map_or(ci_image.image.span, |r| r.span);
        self.push(Error::HelmNamespace {
            value: format!("{}/{placeholder}/{}", registry.host.value, repo.value),
            span,
            reason,
            help: format!(
                "give registry `{}` a literal namespace (`namespace=\"my-org\"`), or feed the chart from a registry that has one (`registry=NAME`)",
                registry.name.value
            ),
        });
    }

    /// Image keys of one chart must not overlap each other (`a` and `a.image` would
    /// overwrite one another) nor the top-level keys specc writes itself.
    fn values_keys_apart(&mut self, chart: &Chart) {
        const FULL: [&str; 6] = [
            "imagePullSecrets",
            "resources",
            "nodeSelector",
            "tolerations",
            "affinity",
            "modelsRuntime",
        ];
        // An overlay writes only the pod settings the spec asks for, under these keys.
        const OVERLAY: [&str; 3] = ["resources", "nodeSelector", "tolerations"];
        let reserved: &[&str] = if chart.overlay() { &OVERLAY } else { &FULL };
        let keys: Vec<&Text> = chart
            .images
            .iter()
            .flat_map(|i| i.slots().into_iter().map(|(k, _)| k))
            .filter(|k| values_key_ok(&k.value))
            .collect();
        let within =
            |inner: &str, outer: &str| inner == outer || inner.starts_with(&format!("{outer}."));
        for (i, key) in keys.iter().enumerate() {
            let first = key.value.split('.').next().unwrap_or_default();
            let (reason, help) = if reserved.contains(&first) {
                (
                    format!("`{first}` is a values key specc writes itself"),
                    "choose another key, e.g. `key=\"image\"`",
                )
            } else if let Some(other) = keys[..i]
                .iter()
                .find(|o| within(&key.value, &o.value) || within(&o.value, &key.value))
            {
                (
                    format!("overlaps the key `{}` of another image", other.value),
                    "give each image a key of its own, e.g. `key=\"web.image\"`",
                )
            } else {
                continue;
            };
            self.push(Error::ValuesKeyClash {
                value: key.value.clone(),
                span: key.span,
                reason,
                help: help.into(),
            });
        }
    }

    fn values_key(&mut self, key: &Text) {
        if !values_key_ok(&key.value) {
            self.push(Error::InvalidValuesKey {
                value: key.value.clone(),
                span: key.span,
                reason: "expected dotted identifiers".into(),
                help: {
                    let joined: Vec<&str> =
                        key.value.split('.').filter(|p| !p.is_empty()).collect();
                    let fixed = joined.join(".");
                    if !fixed.is_empty() && fixed != key.value && values_key_ok(&fixed) {
                        format!("write `key=\"{fixed}\"`")
                    } else {
                        "write e.g. `key=\"queueAgent.image\"`".into()
                    }
                },
            });
        }
    }

    fn unused_stages(&mut self) {
        let mut used = HashSet::new();
        for (ii, image) in self.spec.images.iter().enumerate() {
            let _ = ii;
            if let Some(t) = self.spec.stage_index(&image.stage.value) {
                used.extend(reachable_stages(&self.graph, t));
            }
        }
        // A misspelt stage name already has an error; the stage it meant is not "unused".
        if self.unresolved_stage {
            return;
        }
        // With no images at all, every stage is "unused": say so once per stage anyway.
        for (i, s) in self.spec.stages.iter().enumerate() {
            // A second stage of one name has its own error (declared twice).
            let duplicate = self.spec.stage_index(&s.name.value) != Some(i);
            if !used.contains(&i) && !duplicate {
                self.push(Error::UnusedStage {
                    name: s.name.value.clone(),
                    span: s.name.span,
                });
            }
        }
    }
}

/// A dependency cycle: a closed walk through it (vertex numbers, first and last the same)
/// and every edge inside it as `(from, to, span)`, in source order.
type Cycle = (Vec<usize>, Vec<(usize, usize, SourceSpan)>);

/// The cycles among the vertices `index` numbers `0..count`, in spec order. The walk of
/// each is a shortest one from its first member in spec order back to it.
fn find_cycles(
    graph: &SpecGraph,
    count: usize,
    index: impl Fn(&Vertex) -> Option<usize>,
) -> Vec<Cycle> {
    let mut g: DiGraph<usize, SourceSpan> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..count).map(|i| g.add_node(i)).collect();
    for e in graph.graph.edge_references() {
        let ends = (
            index(&graph.graph[e.source()]),
            index(&graph.graph[e.target()]),
        );
        if let (Some(a), Some(b)) = ends {
            g.add_edge(nodes[a], nodes[b], e.weight().1);
        }
    }
    let mut sccs: Vec<Vec<usize>> = tarjan_scc(&g)
        .into_iter()
        .map(|c| {
            let mut v: Vec<usize> = c.into_iter().map(|n| g[n]).collect();
            v.sort();
            v
        })
        .filter(|c| c.len() > 1 || g.contains_edge(nodes[c[0]], nodes[c[0]]))
        .collect();
    sccs.sort();
    sccs.into_iter()
        .map(|scc| {
            let members: HashSet<usize> = scc.iter().copied().collect();
            let mut edges: Vec<(usize, usize, SourceSpan)> = g
                .edge_references()
                .map(|e| (g[e.source()], g[e.target()], *e.weight()))
                .filter(|(a, b, _)| members.contains(a) && members.contains(b))
                .collect();
            edges.sort_by_key(|(_, _, span)| span.offset());
            // Breadth-first from the first member, edges in source order, until an edge
            // leads back to it.
            let start = scc[0];
            let mut parent: HashMap<usize, usize> = HashMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut last = start;
            'search: while let Some(n) = queue.pop_front() {
                for &(a, b, _) in edges.iter().filter(|(a, _, _)| *a == n) {
                    if b == start {
                        last = a;
                        break 'search;
                    }
                    if let std::collections::hash_map::Entry::Vacant(slot) = parent.entry(b) {
                        slot.insert(a);
                        queue.push_back(b);
                    }
                }
            }
            // Back from the last vertex to `start` through the parents, then reversed.
            let mut back = Vec::new();
            let mut n = last;
            while n != start {
                back.push(n);
                n = parent[&n];
            }
            let mut walk = vec![start];
            walk.extend(back.into_iter().rev());
            walk.push(start);
            (walk, edges)
        })
        .collect()
}

/// A Helm values path: dotted identifiers such as `queueAgent.image`.
fn values_key_ok(key: &str) -> bool {
    key.split('.').all(|p| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// Help for an invalid image reference: its lowercase spelling when that is valid.
fn reference_help(value: &str, otherwise: &str) -> String {
    let fixed = value::lowercase_reference(value);
    if fixed != value && value::check_image_reference(&fixed).is_ok() {
        format!("image names are lowercase: write `{fixed}`")
    } else {
        otherwise.to_string()
    }
}

/// Help for an invalid repository path: its lowercase spelling when that is valid.
fn lowercase_help(value: &str, otherwise: &str) -> String {
    let lower = value.to_ascii_lowercase();
    if lower != value && value::check_repository_path(&lower).is_ok() {
        format!("repository paths are lowercase: write `{lower}`")
    } else {
        otherwise.to_string()
    }
}

/// True when the variant's tag prefix and suffix can be part of a tag (else `variants`
/// reports them).
fn affixes_are_valid(v: &Variant) -> bool {
    let chars_ok = |a: &Text| {
        a.value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    v.tag_prefix
        .as_ref()
        .is_none_or(|p| chars_ok(p) && !p.value.starts_with(['.', '-']))
        && v.tag_suffix.as_ref().is_none_or(chars_ok)
}

/// `$NAME` or `${NAME}` at the start of a `from=` value: the argument's name.
pub fn arg_reference(from: &str) -> Option<&str> {
    let rest = from.strip_prefix('$')?;
    Some(match rest.strip_prefix('{') {
        Some(inner) => inner.strip_suffix('}').unwrap_or(inner),
        None => rest,
    })
}

/// `${NAME:-word}` (or another shell-style form) as a whole `from=` value: the name and
/// the form as written.
fn arg_with_default(from: &str) -> Option<(&str, &str)> {
    let inner = from.strip_prefix("${")?.strip_suffix('}')?;
    let len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(len);
    let known = [":-", ":+", ":?", "-", "+", "?"];
    (value::is_variable_name(name) && known.iter().any(|op| rest.starts_with(op)))
        .then_some((name, from))
}

/// Stages reachable from `target` (itself included), following `from` and `copy --from`.
pub fn reachable_stages(graph: &SpecGraph, target: usize) -> Vec<usize> {
    let mut seen = vec![target];
    let mut known = HashSet::from([target]);
    let mut todo = vec![target];
    while let Some(s) = todo.pop() {
        for d in graph.stage_dependencies(s) {
            if known.insert(d) {
                seen.push(d);
                todo.push(d);
            }
        }
    }
    seen
}
