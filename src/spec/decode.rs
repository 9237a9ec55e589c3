//! KDL document in, [`Spec`] out: one function per node kind.
//!
//! Shape problems (unknown nodes and properties, wrong types, missing values, duplicate
//! names, names that break the naming rule) are all collected; decoding goes on past each
//! so one run reports them all.

use std::collections::HashMap;

use kdl::{KdlDocument, KdlNode, KdlValue};
use miette::SourceSpan;

use super::reader::{Errors, Reader};
use super::*;
use crate::diagnostics::{Error, suggest};
use crate::value::interpolation;
use crate::value::to_name;

pub const TOP_LEVEL: &[&str] = &[
    "project", "output", "arg", "ignore", "registry", "secret", "variant", "stage", "image",
    "service", "network", "workflow", "chart",
];

pub const INSTRUCTIONS: &[&str] = &[
    "workdir",
    "copy",
    "add",
    "run",
    "env",
    "arg",
    "expose",
    "user",
    "healthcheck",
    "label",
    "volume",
    "shell",
    "entrypoint",
    "cmd",
    "comment",
];

/// The settings of an `output` block.
pub const OUTPUT_SETTINGS: &[&str] = &[
    "dockerfiles",
    "dockerignore",
    "bake",
    "compose",
    "workflows",
    "charts",
    "lock",
];

/// The children of a `service`.
pub const SERVICE_CHILDREN: &[&str] = &[
    "port",
    "volume",
    "env",
    "depends-on",
    "restart",
    "command",
    "healthcheck",
    "profile",
    "container-name",
    "env-file",
    "device",
    "group-add",
    "device-cgroup-rule",
    "shm-size",
    "extra-host",
    "tty",
    "stop-signal",
    "pull-policy",
    "entrypoint",
    "gpu",
    "logging",
    "network",
];

/// The children of a `workflow`.
pub const WORKFLOW_CHILDREN: &[&str] = &[
    "on",
    "images",
    "smoke-test",
    "scan",
    "dockerhub-description",
    "chart",
    "runs-on",
];

/// The children of a `chart`.
pub const CHART_CHILDREN: &[&str] = &[
    "image",
    "runtime",
    "resources",
    "node-selector",
    "toleration",
    "push",
];

/// How to log in to ghcr.io: with the workflow's own token, no secret to store.
const GHCR_LOGIN: &str = "login \"github-token\"";
const GHCR_HINT: &str = "log in to ghcr.io with the workflow's own token: write `login \"github-token\"` (no secret to store)";

/// Decodes a parsed document.
///
/// `Err` holds every shape problem found, and the spec too when no declaration had to be
/// dropped (only a missing or wrongly typed required value drops one): then the later
/// stages can still check it and report their problems in the same run.
pub fn decode(doc: &KdlDocument, src: &str) -> Result<Spec, (Option<Spec>, Vec<Error>)> {
    let errors: Errors = Default::default();
    let d = Decoder {
        src,
        errors: &errors,
    };
    let spec = d.document(doc);
    let mut errors = errors.into_inner();
    crate::diagnostics::sort_by_position(&mut errors);
    if errors.is_empty()
        && let Some(spec) = spec
    {
        return Ok(spec);
    }
    let dropped = errors.iter().any(|e| {
        matches!(
            e,
            Error::MissingValue { .. } | Error::WrongType { .. } | Error::MissingProject { .. }
        )
    });
    Err((spec.filter(|_| !dropped), errors))
}

struct Decoder<'a> {
    src: &'a str,
    errors: &'a Errors,
}

impl<'a> Decoder<'a> {
    fn push(&self, e: Error) {
        self.errors.borrow_mut().push(e);
    }

    fn reader(&self, node: &'a KdlNode, props: &[&str]) -> Reader<'a> {
        Reader::new(node, self.src, self.errors, props)
    }

    fn unknown_node(&self, node: &KdlNode, place: &str, known: &[&str]) {
        let name = node.name().value();
        self.push(Error::UnknownNode {
            name: name.to_string(),
            place: place.to_string(),
            span: node.name().span(),
            help: suggest("nodes here", name, known.iter().copied()),
        });
    }

    /// A declaration's name (argument 1), checked against the naming rule.
    fn name(&self, r: &mut Reader<'a>, kind: &str) -> Option<Text> {
        let example = format!("{} my-{kind}", r.node_name());
        let name = r.arg(0, &format!("a {kind} name"), &example)?;
        if let Err(reason) = crate::value::check_name(&name.value) {
            self.push(Error::InvalidName {
                kind: kind.to_string(),
                name: name.value.clone(),
                span: name.span,
                reason: reason.to_string(),
                help: format!(
                    "write e.g. `{}`: names use lowercase letters, digits, `-`, `_` and `.`, and start with a letter or digit",
                    to_name(&name.value)
                ),
            });
        }
        Some(name)
    }

    /// `text` parsed by `parse`; a value that does not parse is reported (as `error`
    /// says) and left out, so that nothing downstream reads it again.
    fn typed<T>(
        &self,
        text: Text,
        parse: impl FnOnce(&str) -> Result<T, String>,
        error: impl FnOnce(Text, String) -> Error,
    ) -> Option<Spanned<T>> {
        match parse(&text.value) {
            Ok(value) => Some(Spanned::new(value, text.span)),
            Err(reason) => {
                self.push(error(text, reason));
                None
            }
        }
    }

    /// A compose port mapping.
    fn port(&self, text: Text, help: &str) -> Option<Spanned<PortMapping>> {
        self.typed(text, PortMapping::parse, |t, reason| Error::InvalidPort {
            value: t.value,
            span: t.span,
            reason,
            help: help.into(),
        })
    }

    /// A tag rule's template; one that does not parse is reported at the culprit.
    fn tag_template(&self, text: Text) -> Option<Spanned<TagTemplate>> {
        match TagTemplate::parse(&text.value) {
            Ok(t) => Some(Spanned::new(t, text.span)),
            Err(e) => {
                self.push(Error::InvalidTagTemplate {
                    span: inner_span(text.span, &text.value, e.start, e.len),
                    template: text.value,
                    reason: e.reason,
                    help: e.help,
                });
                None
            }
        }
    }

    /// The name of a secret, the value of `property`; one that is not is reported (and
    /// kept, so that its node is still checked).
    fn secret(&self, property: &str, text: Text) -> Spanned<SecretName> {
        self.secret_with(property, text, None)
    }

    /// [`Self::secret`] with advice that fits better than a name (`hint`), when given.
    fn secret_with(&self, property: &str, text: Text, hint: Option<&str>) -> Spanned<SecretName> {
        let error = match SecretName::parse(&text.value) {
            Ok(name) => return Spanned::new(name, text.span),
            Err(SecretProblem::Credential) => {
                let example = match property {
                    "username-secret" => "DOCKERHUB_USERNAME",
                    "namespace-secret" => "DOCKERHUB_NAMESPACE",
                    "access-key-id-secret" => "AWS_ACCESS_KEY_ID",
                    "secret-access-key-secret" => "AWS_SECRET_ACCESS_KEY",
                    "env" | "github" => "HF_TOKEN",
                    _ => "DOCKERHUB_TOKEN",
                };
                let store = match hint {
                    Some(hint) => hint.to_string(),
                    None => format!(
                        "store the value as a repository secret and write its name, e.g. `{property}={example}`"
                    ),
                };
                Error::CredentialLiteral {
                    property: property.into(),
                    span: text.span,
                    help: format!("{store}; if this was a real credential, revoke it"),
                }
            }
            Err(SecretProblem::Invalid(reason)) => {
                let upper = text.value.to_ascii_uppercase();
                let name = crate::value::to_variable_name(upper.trim_start_matches("GITHUB_"));
                Error::InvalidSecretName {
                    name: text.value.clone(),
                    span: text.span,
                    reason,
                    help: match hint {
                        Some(hint) => hint.to_string(),
                        None => format!("write e.g. `{property}={name}`"),
                    },
                }
            }
        };
        self.push(error);
        Spanned::new(SecretName::reported(&text.value), text.span)
    }

    /// A platform, `os/arch[/variant]`.
    fn platform(&self, text: Text) -> Option<Spanned<Platform>> {
        match Platform::parse(&text.value) {
            Ok(p) => Some(Spanned::new(p, text.span)),
            Err((reason, help)) => {
                self.push(Error::InvalidPlatform {
                    value: text.value,
                    span: text.span,
                    reason,
                    help,
                });
                None
            }
        }
    }

    /// A health check duration.
    fn duration(&self, text: Text) -> Option<Spanned<Duration>> {
        self.typed(text, Duration::parse, |t, reason| {
            let help = match crate::value::to_duration(&t.value) {
                Some(fixed) => {
                    format!("write `{fixed}`; durations look like `30s`, `1m30s` or `500ms`")
                }
                None => "write e.g. `30s`, `1m30s` or `500ms`".into(),
            };
            Error::InvalidDuration {
                value: t.value,
                span: t.span,
                reason,
                help,
            }
        })
    }

    fn document(&self, doc: &'a KdlDocument) -> Option<Spec> {
        let mut project: Option<Project> = None;
        let mut output: Option<(Output, SourceSpan)> = None;
        let mut args = Vec::new();
        let mut ignore = Vec::new();
        let mut registries = Vec::new();
        let mut secrets = Vec::new();
        let mut variants = Vec::new();
        let mut stages = Vec::new();
        let mut images = Vec::new();
        let mut services = Vec::new();
        let mut networks = Vec::new();
        let mut workflows = Vec::new();
        let mut charts = Vec::new();
        for node in doc.nodes() {
            match node.name().value() {
                "project" => {
                    let p = self.project(node);
                    match (&project, p) {
                        (Some(first), Some(p)) => self.push(Error::DuplicateName {
                            kind: "node".into(),
                            name: "project".into(),
                            first: first.name.span,
                            span: p.name.span,
                            help: "a spec describes one project; merge the two".into(),
                        }),
                        (None, p) => project = p,
                        _ => {}
                    }
                }
                "output" => {
                    let o = self.output(node);
                    if let Some((_, first)) = &output {
                        self.push(Error::DuplicateName {
                            kind: "node".into(),
                            name: "output".into(),
                            first: *first,
                            span: node.name().span(),
                            help: "merge the two `output` blocks into one".into(),
                        });
                    } else {
                        output = Some((o, node.name().span()));
                    }
                }
                "arg" => args.extend(self.arg_decl(node, true)),
                "ignore" => {
                    let mut r = self.reader(node, &[]);
                    ignore.extend(r.rest_required(0, "a pattern", "ignore \"models/\" \"*.ckpt\""));
                    r.finish("patterns");
                }
                "registry" => registries.extend(self.registry(node)),
                "secret" => secrets.extend(self.build_secret(node)),
                "variant" => variants.extend(self.variant(node)),
                "stage" => stages.extend(self.stage(node)),
                "image" => images.extend(self.image(node)),
                "service" => services.extend(self.service(node)),
                "network" => networks.extend(self.network(node)),
                "workflow" => workflows.extend(self.workflow(node)),
                "chart" => charts.extend(self.chart(node)),
                _ => self.unknown_node(node, "at the top level", TOP_LEVEL),
            }
        }
        // A `project` node that failed to decode has reported its own problem already.
        // So has a misspelt one (`projet`): its unknown-node error says what to fix.
        let has_project_node = doc
            .nodes()
            .iter()
            .any(|n| crate::diagnostics::closest(n.name().value(), ["project"]).is_some());
        if !has_project_node {
            self.push(Error::MissingProject {
                span: SourceSpan::from((0, 0)),
            });
        }
        self.unique("build argument", args.iter().map(|a| &a.name));
        self.unique("registry", registries.iter().map(|r: &Registry| &r.name));
        self.unique("build secret", secrets.iter().map(|s: &BuildSecret| &s.id));
        self.unique("variant", variants.iter().map(|v: &Variant| &v.name));
        self.unique("stage", stages.iter().map(|s: &Stage| &s.name));
        self.unique("image", images.iter().map(|i: &Image| &i.name));
        self.unique("service", services.iter().map(|s: &Service| &s.name));
        self.unique("network", networks.iter().map(|n: &Network| &n.name));
        self.unique("workflow", workflows.iter().map(|w: &Workflow| &w.name));
        self.unique("chart", charts.iter().map(|c: &Chart| &c.name));
        let defaults: Vec<&Spanned<bool>> = variants
            .iter()
            .filter_map(|v: &Variant| v.default.as_ref().filter(|d| d.value))
            .collect();
        if let [first, second, ..] = defaults.as_slice() {
            self.push(Error::MultipleDefaults {
                first: first.span,
                span: second.span,
            });
        }
        if variants.is_empty() {
            variants.push(Variant {
                name: Spanned::new("default".into(), SourceSpan::from((0, 0))),
                default: Some(Spanned::new(true, SourceSpan::from((0, 0)))),
                tag_prefix: None,
                tag_suffix: None,
                args: Vec::new(),
                platforms: Vec::new(),
                gpu: None,
                implicit: true,
                span: SourceSpan::from((0, 0)),
            });
        }
        let mut spec = Spec {
            project: project?,
            output: output.map(|(o, _)| o).unwrap_or_else(Output::defaults),
            args,
            ignore,
            registries,
            secrets,
            variants,
            stages,
            images,
            services,
            networks,
            workflows,
            charts,
            names: Default::default(),
        };
        spec.names = super::names::Names::of(&spec);
        Some(spec)
    }

    fn unique<'n>(&self, kind: &str, names: impl Iterator<Item = &'n Text>) {
        let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
        for name in names {
            if let Some(first) = seen.get(name.as_str()) {
                self.push(Error::DuplicateName {
                    kind: kind.to_string(),
                    name: name.value.clone(),
                    first: *first,
                    span: name.span,
                    help: format!("rename one of them, or merge them into one {kind}"),
                });
            } else {
                seen.insert(name.as_str(), name.span);
            }
        }
    }

    fn project(&self, node: &'a KdlNode) -> Option<Project> {
        let mut r = self.reader(
            node,
            &[
                "version",
                "description",
                "source",
                "url",
                "license",
                "dockerfile-syntax",
            ],
        );
        let name = self.name(&mut r, "project");
        let version = r
            .prop("version")
            .unwrap_or_else(|| Spanned::new("0.0.0".into(), r.name_span()));
        let version = Spanned::new(Version::parse(&version.value), version.span);
        let description = r.prop("description");
        let source = r.prop("source");
        let url = r.prop("url");
        let license = r.prop("license");
        let dockerfile_syntax = r.prop("dockerfile-syntax");
        let mut maintainers = Vec::new();
        for child in r.children() {
            match child.name().value() {
                "maintainer" => {
                    let mut c = self.reader(child, &[]);
                    maintainers.extend(c.arg(
                        0,
                        "a maintainer",
                        "maintainer \"Jane <jane@example.com>\"",
                    ));
                    c.finish("one argument, the maintainer");
                }
                _ => self.unknown_node(child, "in `project`", &["maintainer"]),
            }
        }
        let span = r.span();
        r.finish("one argument, the project name");
        Some(Project {
            name: name?,
            version,
            description,
            source,
            url,
            license,
            dockerfile_syntax,
            maintainers,
            span,
        })
    }

    fn output(&self, node: &'a KdlNode) -> Output {
        let mut r = self.reader(node, &[]);
        let mut out = Output::defaults();
        for child in r.children() {
            let key = child.name().value();
            let slot = match key {
                "dockerfiles" => &mut out.dockerfiles,
                "dockerignore" => &mut out.dockerignore,
                "bake" => &mut out.bake,
                "compose" => &mut out.compose,
                "workflows" => &mut out.workflows,
                "charts" => &mut out.charts,
                "lock" => &mut out.lock,
                _ => {
                    self.unknown_node(child, "in `output`", OUTPUT_SETTINGS);
                    continue;
                }
            };
            let mut c = self.reader(child, &[]);
            if let Some(path) = c.arg(0, "a path", &format!("{key} \"path\"")) {
                *slot = path;
            }
            c.finish("one argument, a path");
        }
        r.finish("no arguments");
        out
    }

    /// `arg NAME [VALUE] [from-ci=KIND]`; at the top level and in variants the value is
    /// required, except with `from-ci` (a build outside CI then gets an empty value).
    fn arg_decl(&self, node: &'a KdlNode, value_required: bool) -> Option<ArgDecl> {
        let mut r = self.reader(node, if value_required { &["from-ci"] } else { &[] });
        let name = r.arg(0, "an argument name", "arg NAME \"value\"");
        let from_ci = r.prop("from-ci");
        let value = if value_required && from_ci.is_none() {
            r.arg(1, "a value", "arg NAME \"value\"")
        } else {
            r.opt_arg(1, "a default value")
        };
        let span = r.span();
        r.finish("a name and a value");
        let name = name?;
        self.variable_name(&name, "build argument");
        let kinds: Vec<&str> = CI_VALUES.iter().map(|(k, _)| *k).collect();
        let from_ci = from_ci.filter(|k| self.choice(k, "CI value", &kinds));
        let value = match (&from_ci, value) {
            (Some(k), None) => Some(Spanned::new(String::new(), k.span)),
            (_, value) => value,
        };
        let from_ci = from_ci.and_then(|k| {
            let (_, var) = CI_VALUES.iter().find(|(name, _)| *name == k.value)?;
            Some(Spanned::new(var.to_string(), k.span))
        });
        Some(ArgDecl {
            name,
            value,
            from_ci,
            span,
        })
    }

    fn variable_name(&self, name: &Text, what: &str) {
        if !crate::value::is_variable_name(&name.value) {
            self.push(Error::InvalidVariableName {
                what: what.to_string(),
                name: name.value.clone(),
                span: name.span,
                help: format!(
                    "write e.g. `{}`",
                    crate::value::to_variable_name(&name.value)
                ),
            });
        }
    }

    /// `secret ID [env=VAR | file=PATH] [github=NAME]`; the environment variable and the
    /// GitHub secret default to the id in upper case (`hf` -> `HF`).
    fn build_secret(&self, node: &'a KdlNode) -> Option<BuildSecret> {
        let example = "secret \"hf\" env=\"HF_TOKEN\" github=\"HF_TOKEN\"";
        let mut r = self.reader(node, &["env", "file", "github"]);
        let id = r.arg(0, "a secret id", example);
        let (env, file, github) = (r.prop("env"), r.prop("file"), r.prop("github"));
        let span = r.span();
        r.finish("one argument, the secret id");
        let id = id?;
        let default = crate::value::to_variable_name(&id.value);
        let local = match (env, file) {
            (Some(env), Some(file)) => {
                self.push(Error::SecretSource {
                    id: id.value.clone(),
                    first: env.span,
                    span: file.span,
                });
                SecretSource::File(file)
            }
            (None, Some(file)) => SecretSource::File(file),
            (env, None) => {
                let env = env.unwrap_or_else(|| Spanned::new(default.clone(), id.span));
                SecretSource::Env(self.secret("env", env))
            }
        };
        let github = match (&github, &local) {
            (Some(g), _) => g.clone(),
            (None, SecretSource::Env(e)) => Spanned::new(e.value.to_string(), e.span),
            (None, SecretSource::File(_)) => Spanned::new(default, id.span),
        };
        Some(BuildSecret {
            id,
            local,
            github: self.secret("github", github),
            span,
        })
    }

    fn registry(&self, node: &'a KdlNode) -> Option<Registry> {
        let mut r = self.reader(node, &["host", "namespace", "namespace-secret"]);
        let name = self.name(&mut r, "registry");
        let host = r.prop_required("host", "registry hub host=\"docker.io\"");
        let namespace = r.prop("namespace");
        let namespace_secret = r
            .prop("namespace-secret")
            .map(|s| self.secret("namespace-secret", s));
        let mut login = None;
        // The first `login` node, whether or not it decoded.
        let mut first_login: Option<miette::SourceSpan> = None;
        for child in r.children() {
            match (child.name().value(), first_login) {
                ("login", Some(first)) => self.push(Error::DuplicateName {
                    kind: "node".into(),
                    name: "login".into(),
                    first,
                    span: child.name().span(),
                    help: "a registry has one login; keep one".into(),
                }),
                ("login", None) => {
                    first_login = Some(child.name().span());
                    let ghcr = host.as_ref().is_some_and(|h| h.value == "ghcr.io");
                    login = self.login(child, ghcr);
                }
                (_, _) => self.unknown_node(child, "in `registry`", &["login"]),
            }
        }
        let span = r.span();
        r.finish("one argument, the registry name");
        Some(Registry {
            name: name?,
            host: host?,
            namespace,
            namespace_secret,
            login,
            span,
        })
    }

    /// A registry's `login`; on ghcr.io (`ghcr`) the advice is the workflow's own token.
    fn login(&self, node: &'a KdlNode, ghcr: bool) -> Option<Login> {
        const PROPS: &[&str] = &[
            "username-secret",
            "password-secret",
            "region",
            "role",
            "access-key-id-secret",
            "secret-access-key-secret",
        ];
        let mut r = self.reader(node, PROPS);
        let method = r.arg(
            0,
            "a login method",
            if ghcr {
                GHCR_LOGIN
            } else {
                "login \"basic\" username-secret=USER password-secret=TOKEN"
            },
        );
        let span = r.span();
        let method = method?;
        let allowed: &[&str] = match method.as_str() {
            "basic" => &["username-secret", "password-secret"],
            "github-token" => &[],
            "aws" => &[
                "region",
                "role",
                "access-key-id-secret",
                "secret-access-key-secret",
            ],
            other => {
                self.push(Error::InvalidChoice {
                    what: "login method".into(),
                    value: other.to_string(),
                    span: method.span,
                    help: suggest("login methods", other, ["basic", "github-token", "aws"]),
                });
                r.finish("one argument, the login method");
                return None;
            }
        };
        for key in PROPS
            .iter()
            .filter(|k| !allowed.contains(k) && r.has_prop(k))
        {
            self.push(Error::UnknownProperty {
                name: key.to_string(),
                node: format!("login \"{}\"", method.value),
                span: node
                    .entries()
                    .iter()
                    .find(|e| e.name().map(|n| n.value()) == Some(key))
                    .map(|e| e.span())
                    .unwrap_or(span),
                help: if allowed.is_empty() {
                    format!("`login \"{}\"` takes no properties", method.value)
                } else {
                    format!(
                        "properties of `login \"{}\"`: {}",
                        method.value,
                        allowed
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            });
        }
        let example =
            "login \"basic\" username-secret=DOCKERHUB_USERNAME password-secret=DOCKERHUB_TOKEN";
        let method_value = match method.as_str() {
            "basic" => {
                let u = r.prop_required("username-secret", example);
                let p = r.prop_required("password-secret", example);
                let (u, p) = (u?, p?);
                let hint = ghcr.then_some(GHCR_HINT);
                LoginMethod::Basic {
                    username_secret: self.secret_with("username-secret", u, hint),
                    password_secret: self.secret_with("password-secret", p, hint),
                }
            }
            "github-token" => LoginMethod::GithubToken,
            _ => {
                let region = r.prop_required("region", "login \"aws\" region=\"us-west-2\" role=\"arn:aws:iam::123456789012:role/push\"");
                let region = region?;
                let secret = |key| r.prop(key).map(|s| self.secret(key, s));
                LoginMethod::Aws {
                    region,
                    role: r.prop("role"),
                    access_key_id_secret: secret("access-key-id-secret"),
                    secret_access_key_secret: secret("secret-access-key-secret"),
                }
            }
        };
        r.finish("one argument, the login method");
        Some(Login {
            method: method_value,
            span,
        })
    }

    fn variant(&self, node: &'a KdlNode) -> Option<Variant> {
        let mut r = self.reader(node, &["default", "tag-prefix", "tag-suffix"]);
        let name = self.name(&mut r, "variant");
        let default = r.prop_bool("default");
        let tag_prefix = r.prop("tag-prefix");
        let tag_suffix = r.prop("tag-suffix");
        let mut args = Vec::new();
        let mut platforms: Option<Vec<Spanned<Platform>>> = None;
        let mut gpu = None;
        for child in r.children() {
            match child.name().value() {
                "arg" => args.extend(self.arg_decl(child, true)),
                "platforms" => {
                    let mut c = self.reader(child, &[]);
                    let list = c.rest_required(
                        0,
                        "a platform",
                        "platforms \"linux/amd64\" \"linux/arm64\"",
                    );
                    c.finish("platforms");
                    let list = list.into_iter().filter_map(|p| self.platform(p));
                    platforms.get_or_insert_with(Vec::new).extend(list);
                }
                "gpu" => gpu = self.gpu(child),
                _ => self.unknown_node(child, "in `variant`", &["arg", "platforms", "gpu"]),
            }
        }
        self.unique("build argument", args.iter().map(|a| &a.name));
        let span = r.span();
        r.finish("one argument, the variant name");
        Some(Variant {
            name: name?,
            default,
            tag_prefix,
            tag_suffix,
            args,
            platforms: platforms.unwrap_or_default(),
            gpu,
            implicit: false,
            span,
        })
    }

    fn gpu(&self, node: &'a KdlNode) -> Option<Gpu> {
        let r = self.reader(
            node,
            &[
                "count",
                "driver",
                "capabilities",
                "allow-any-platform",
                "device-ids",
            ],
        );
        let device_ids = r.prop_list("device-ids").unwrap_or_default();
        if let (false, Some((count, span))) = (device_ids.is_empty(), r.prop_raw("count")) {
            self.push(Error::InvalidGpuCount {
                value: count.to_string(),
                span,
                reason: "compose takes a count or device ids, not both".into(),
                help: "leave `count=` out: the devices listed in `device-ids=` are reserved".into(),
            });
        }
        let count = match r.prop_raw("count") {
            None => GpuCount::All,
            Some((KdlValue::String(s), _)) if s == "all" => GpuCount::All,
            Some((KdlValue::String(s), span)) if r.expand_prop("count") => {
                self.interpolated_count(Spanned::new(s.clone(), span))
            }
            Some((KdlValue::Integer(n), _)) if (1..=1024).contains(n) => GpuCount::Count(*n as u32),
            Some((value, span)) => {
                self.push(Error::InvalidGpuCount {
                    value: match value {
                        KdlValue::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    span,
                    reason: "expected a whole number from 1 or \"all\"".into(),
                    help: "write `count=1` or `count=\"all\"`".into(),
                });
                GpuCount::All
            }
        };
        let driver = r
            .prop("driver")
            .unwrap_or_else(|| Spanned::new("nvidia".into(), r.name_span()));
        let capabilities = r
            .prop_list("capabilities")
            .unwrap_or_else(|| vec![Spanned::new("gpu".into(), r.name_span())]);
        let allow_any_platform = r.prop_bool("allow-any-platform").is_some_and(|b| b.value);
        let span = r.span();
        r.finish("no arguments");
        Some(Gpu {
            count,
            device_ids,
            driver,
            capabilities,
            allow_any_platform,
            span,
        })
    }

    fn stage(&self, node: &'a KdlNode) -> Option<Stage> {
        let mut r = self.reader(node, &["from", "platform"]);
        r.no_expand(
            "a `from=` holding one whole `$NAME` already reads build argument `NAME`: write `from=\"$NAME\"` without `(expand)`",
        );
        let name = self.name(&mut r, "stage");
        let from = r.prop_required("from", "stage build from=\"alpine:3.20\"");
        let platform = r.prop("platform").and_then(|p| self.stage_platform(p));
        let instructions = r
            .children()
            .iter()
            .filter_map(|c| self.instruction(c))
            .collect();
        let span = r.span();
        r.finish("one argument, the stage name");
        Some(Stage {
            name: name?,
            from: source(from?),
            platform,
            instructions,
            span,
        })
    }

    /// `platform="build"`, `"target"` or a platform like `linux/amd64`.
    fn stage_platform(&self, text: Text) -> Option<Spanned<StagePlatform>> {
        let value = match text.as_str() {
            "build" => StagePlatform::Build,
            "target" => StagePlatform::Target,
            _ => match Platform::parse(&text.value) {
                Ok(p) => StagePlatform::Fixed(p),
                Err((reason, _)) => {
                    self.push(Error::InvalidPlatform {
                        value: text.value,
                        span: text.span,
                        reason,
                        help: "write `platform=\"build\"` (the building machine's, `$BUILDPLATFORM`), `\"target\"` (`$TARGETPLATFORM`) or a platform like `\"linux/amd64\"`".into(),
                    });
                    return None;
                }
            },
        };
        Some(Spanned::new(value, text.span))
    }

    fn instruction(&self, node: &'a KdlNode) -> Option<Instruction> {
        let keyword = node.name().value();
        let props: &[&str] = match keyword {
            "copy" => &[
                "variants",
                "lint-ignore",
                "to",
                "from",
                "chown",
                "chmod",
                "link",
                "include-git",
            ],
            "add" => &[
                "variants",
                "lint-ignore",
                "to",
                "chown",
                "chmod",
                "link",
                "checksum",
                "include-git",
            ],
            "healthcheck" => &[
                "variants",
                "lint-ignore",
                "interval",
                "timeout",
                "start-period",
                "retries",
                "shell",
            ],
            "cmd" | "entrypoint" => &["variants", "lint-ignore", "shell"],
            // `env` takes free `NAME=value` properties too; they are read below.
            "env" => {
                let mut all: Vec<&str> = vec!["variants", "lint-ignore"];
                all.extend(
                    node.entries()
                        .iter()
                        .filter_map(|e| e.name().map(|n| n.value())),
                );
                return self.env_instruction(node, all);
            }
            k if INSTRUCTIONS.contains(&k) => &["variants", "lint-ignore"],
            _ => {
                self.unknown_node(node, "in `stage`", INSTRUCTIONS);
                return None;
            }
        };
        let mut r = self.reader(node, props);
        let variants = r.prop_variants(
            "this instruction would be left out of every Dockerfile",
            "list the variants it applies to, e.g. `variants=\"gpu\"`, or leave `variants=` out to apply it in every variant",
        );
        let lint_ignore = r.prop_list("lint-ignore").unwrap_or_default();
        let span = r.span();
        let expanded = self.expanded(&mut r, keyword);
        let kind = match keyword {
            "workdir" => {
                let path = r.arg(0, "a path", "workdir \"/app\"");
                r.finish("one argument, a path");
                InstructionKind::Workdir(path?)
            }
            "copy" => {
                let sources = r.rest_required(0, "a source path", "copy \"src\" to=\"/app/src\"");
                let to = r.prop_required("to", "copy \"src\" to=\"/app/src\"");
                let copy = Copy {
                    sources,
                    to: to?,
                    from: r.prop("from").map(source),
                    chown: r.prop("chown"),
                    chmod: r.prop("chmod"),
                    link: r.prop_bool("link").is_some_and(|b| b.value),
                    include_git: r.prop_bool("include-git"),
                };
                r.finish("source paths");
                InstructionKind::Copy(copy)
            }
            "add" => {
                let sources = r.rest_required(
                    0,
                    "a source",
                    "add \"https://example.com/file.tar.gz\" to=\"/opt/\"",
                );
                let to = r.prop_required("to", "add \"file.tar.gz\" to=\"/opt/\"");
                let add = Add {
                    sources,
                    to: to?,
                    chown: r.prop("chown"),
                    chmod: r.prop("chmod"),
                    link: r.prop_bool("link").is_some_and(|b| b.value),
                    checksum: r.prop("checksum"),
                    include_git: r.prop_bool("include-git"),
                };
                r.finish("sources");
                InstructionKind::Add(add)
            }
            "run" => {
                let commands = r.rest_required(0, "a command", "run \"make install\"");
                let mut mounts = Vec::new();
                for child in r.children() {
                    mounts.extend(self.mount(child));
                }
                r.finish("commands");
                InstructionKind::Run(Run { commands, mounts })
            }
            "arg" => {
                let name = r.arg(0, "an argument name", "arg VERSION \"1.0\"");
                let value = r.opt_arg(1, "a default value");
                r.finish("a name and an optional default");
                let name = name?;
                self.variable_name(&name, "build argument");
                InstructionKind::Arg(ArgDecl {
                    name,
                    value,
                    from_ci: None,
                    span,
                })
            }
            "expose" => {
                let ports = if r.arg_count() == 0 {
                    r.rest_required(0, "a port", "expose 8080")
                } else {
                    r.rest(0, "a port", true)
                };
                r.finish("ports");
                InstructionKind::Expose(ports)
            }
            "user" => {
                let user = r.arg(0, "a user", "user \"app\"");
                r.finish("one argument, `user` or `user:group`");
                InstructionKind::User(user?)
            }
            "healthcheck" => {
                let h = self.healthcheck(&mut r);
                let shell_form = r.prop_bool("shell").is_some_and(|b| b.value);
                r.finish("one argument, the command");
                InstructionKind::Healthcheck(Healthcheck { shell_form, ..h? })
            }
            "comment" => {
                let example = "comment \"renovate: datasource=docker depName=python\"";
                let text = r.arg(0, "a comment", example);
                r.finish("one argument, the comment's text");
                InstructionKind::Comment(text?)
            }
            "entrypoint" | "cmd" if r.prop_bool("shell").is_some_and(|b| b.value) => {
                let example = format!("{keyword} \"python app.py --port $PORT\" shell=#true");
                let line = r.arg(0, "a command line", &example);
                r.finish_with(
                    "one argument with `shell=#true`, the command line",
                    &format!("write the whole command line as one argument, e.g. `{example}`, or leave `shell=#true` out for the exec form"),
                );
                match keyword {
                    "entrypoint" => InstructionKind::EntrypointShell(line?),
                    _ => InstructionKind::CmdShell(line?),
                }
            }
            "label" => {
                let key = r.arg(0, "a label key", "label \"com.example.team\" \"ml\"");
                let value = r.arg(1, "a label value", "label \"com.example.team\" \"ml\"");
                r.finish("a key and a value");
                InstructionKind::Label(key?, value?)
            }
            "volume" => {
                let paths = r.rest_required(0, "a path", "volume \"/data\"");
                r.finish("paths");
                InstructionKind::Volume(paths)
            }
            "shell" | "entrypoint" | "cmd" => {
                let example = format!("{keyword} \"executable\" \"arg\"");
                let words = r.rest_required(0, "a word", &example);
                r.finish("words");
                match keyword {
                    "shell" => InstructionKind::Shell(words),
                    "entrypoint" => InstructionKind::Entrypoint(words),
                    _ => InstructionKind::Cmd(words),
                }
            }
            _ => unreachable!("every instruction keyword has a branch"),
        };
        Some(Instruction {
            kind,
            variants,
            lint_ignore,
            expanded,
            span,
        })
    }

    /// The values of instruction `keyword` written `(expand)`, where Docker expands `$VAR`
    /// and specc can follow it; on any other value of the instruction, `(expand)` is
    /// reported by the reader with the reason it has no meaning there.
    fn expanded(&self, r: &mut Reader<'a>, keyword: &str) -> Vec<SourceSpan> {
        let mut spans = Vec::new();
        match keyword {
            "workdir" | "user" => spans.extend(r.expanded_args(0)),
            "expose" | "volume" => spans.extend(r.expanded_args(0)),
            "arg" | "label" => {
                spans.extend(r.expanded_args(1));
                r.no_expand(
                    "a name or label key is written literally (specc escapes `$` in it); `(expand)` goes on the value",
                );
            }
            "copy" | "add" => {
                spans.extend(r.expanded_prop("to"));
                spans.extend(r.expanded_prop("chown"));
                r.no_expand(
                    "specc must know which files a `copy`/`add` reads and from where (for the input hash and `.dockerignore`), so its sources and `from=` are literal: to copy a different file per variant, write one `copy` per file with `variants=`; `(expand)` applies to `to=` and `chown=` only",
                );
            }
            "run" => r.no_expand(
                "the shell expands `$VAR` in a `run` command by itself (build arguments declared with `arg` and `env` variables are in its environment); remove `(expand)`",
            ),
            "comment" => r.no_expand("a comment is written as it is; remove `(expand)`"),
            "healthcheck" => r.no_expand(
                "the health check command runs in a shell, which expands `$VAR` by itself; remove `(expand)`",
            ),
            _ => r.no_expand(
                "Docker passes exec-form words as written; to expand a variable at run time, run the command through a shell, e.g. `cmd \"sh\" \"-c\" \"exec app --port=$PORT\"`",
            ),
        }
        spans
    }

    /// `env NAME "value"` or `env A="1" B="2"`.
    fn env_instruction(&self, node: &'a KdlNode, props: Vec<&str>) -> Option<Instruction> {
        let mut r = self.reader(node, &props);
        let variants = r.prop_variants(
            "this instruction would be left out of every Dockerfile",
            "list the variants it applies to, e.g. `variants=\"gpu\"`, or leave `variants=` out to apply it in every variant",
        );
        let lint_ignore = r.prop_list("lint-ignore").unwrap_or_default();
        let pairs = self.env_pairs(&mut r);
        let span = r.span();
        r.finish("a name and a value, or `NAME=value` properties");
        Some(Instruction {
            kind: InstructionKind::Env(pairs),
            variants,
            lint_ignore,
            expanded: Vec::new(),
            span,
        })
    }

    /// `NAME "value"` and `NAME="value"` pairs; `(expand)"..."` lets the target tool expand
    /// `$VAR` in the value instead of keeping it literally.
    fn env_pairs(&self, r: &mut Reader<'a>) -> Vec<EnvVar> {
        let mut pairs: Vec<EnvVar> = r
            .free_props()
            .into_iter()
            .filter(|(k, _)| k.value != "variants" && k.value != "lint-ignore")
            .map(|(name, value)| {
                let expand = r.expand_prop(&name.value);
                EnvVar {
                    name,
                    value,
                    expand,
                }
            })
            .collect();
        if r.arg_count() > 0 || pairs.is_empty() {
            let name = r.arg(0, "a variable name", "env NAME \"value\"");
            let value = r.arg(1, "a value", "env NAME \"value\"");
            let expand = r.expand_arg(1);
            if let (Some(name), Some(value)) = (name, value) {
                pairs.insert(
                    0,
                    EnvVar {
                        name,
                        value,
                        expand,
                    },
                );
            }
        }
        for pair in &pairs {
            self.variable_name(&pair.name, "environment variable");
        }
        pairs
    }

    /// An `(expand)` GPU count: valid interpolation whose defaults (when every variable
    /// has one) give a count from 1 or `all`.
    fn interpolated_count(&self, text: Text) -> GpuCount {
        if !self.interpolation(&text) {
            return GpuCount::All;
        }
        let pieces = interpolation::parse(&text.value).unwrap_or_default();
        let default = interpolation::defaults(&pieces);
        let valid = |d: &str| d == "all" || d.parse::<u32>().is_ok_and(|n| (1..=1024).contains(&n));
        if let Some(d) = default.filter(|d| !valid(d)) {
            self.push(Error::InvalidGpuCount {
                value: text.value.clone(),
                span: text.span,
                reason: format!("with its defaults the count is `{d}`"),
                help: "write e.g. `count=(expand)\"${GPU_COUNT:-1}\"`".into(),
            });
        }
        GpuCount::Interpolated(text)
    }

    /// `network NAME [internal=#true] [driver="bridge"]`.
    fn network(&self, node: &'a KdlNode) -> Option<Network> {
        let mut r = self.reader(node, &["internal", "driver"]);
        let name = self.name(&mut r, "network");
        let internal = r.prop_bool("internal").is_some_and(|b| b.value);
        let driver = r.prop("driver");
        if let Some(d) = &driver {
            self.choice(
                d,
                "network driver",
                &["bridge", "host", "overlay", "ipvlan", "macvlan", "none"],
            );
        }
        let span = r.span();
        r.finish("one argument, the network name");
        Some(Network {
            name: name?,
            internal,
            driver,
            span,
        })
    }

    /// `logging DRIVER OPTION="value"...`.
    fn logging(&self, node: &'a KdlNode) -> Option<Logging> {
        let mut r = self.reader(node, &property_names(node));
        let driver = r.arg(0, "a log driver", "logging \"json-file\" max-size=\"10m\"");
        if let Some(d) = &driver {
            let drivers = [
                "json-file",
                "local",
                "syslog",
                "journald",
                "gelf",
                "fluentd",
                "awslogs",
                "splunk",
                "etwlogs",
                "gcplogs",
                "none",
            ];
            self.choice(d, "log driver", &drivers);
        }
        let options = r.free_props();
        r.finish("one argument, the driver, and `OPTION=\"value\"` properties");
        Some(Logging {
            driver: driver?,
            options,
        })
    }

    /// One of the service settings compose takes as they are, each value checked.
    fn service_field(&self, key: &str, c: &mut Reader<'a>, f: &mut ServiceFields) {
        use crate::value::compose_field as grammar;
        let each = |c: &mut Reader<'a>, example: &str, check: fn(&str) -> Result<(), String>| {
            let values = c.rest_required(0, "a value", example);
            values
                .into_iter()
                .filter(|v| self.field_value(key, v, check, example))
                .collect::<Vec<_>>()
        };
        let one = |c: &mut Reader<'a>, example: &str, check: fn(&str) -> Result<(), String>| {
            let value = c.arg(0, "a value", example)?;
            self.field_value(key, &value, check, example)
                .then_some(value)
        };
        match key {
            "container-name" => {
                f.container_name = one(
                    c,
                    "container-name \"my-app\"",
                    grammar::check_container_name,
                )
            }
            "env-file" => {
                let required = c.prop_bool("required").is_none_or(|b| b.value);
                let files = self.compose_texts(c, "a file", "env-file \".env\"");
                f.env_files.extend(files.into_iter().map(|t| (t, required)));
            }
            "device" => f
                .devices
                .extend(each(c, "device \"/dev/kfd\"", grammar::check_device)),
            "group-add" => f
                .group_add
                .extend(each(c, "group-add \"video\"", grammar::check_group)),
            "device-cgroup-rule" => f.device_cgroup_rules.extend(each(
                c,
                "device-cgroup-rule \"c 189:* rmw\"",
                grammar::check_cgroup_rule,
            )),
            "shm-size" => f.shm_size = one(c, "shm-size \"1gb\"", grammar::check_byte_size),
            "extra-host" => f.extra_hosts.extend(each(
                c,
                "extra-host \"host.docker.internal:host-gateway\"",
                grammar::check_extra_host,
            )),
            "tty" => f.tty = true,
            "stop-signal" => {
                f.stop_signal = one(c, "stop-signal \"SIGINT\"", grammar::check_signal)
            }
            "pull-policy" => {
                let policy = c.arg(0, "a pull policy", "pull-policy \"missing\"");
                let choices = ["always", "never", "missing", "build", "daily", "weekly"];
                f.pull_policy = policy.filter(|p| self.choice(p, "pull policy", &choices));
            }
            _ => f.entrypoint = Some(self.compose_texts(c, "a word", "entrypoint \"/init\"")),
        }
    }

    /// Checks one value of service setting `key`; false (reported) when it is invalid.
    fn field_value(
        &self,
        key: &str,
        value: &Text,
        check: fn(&str) -> Result<(), String>,
        example: &str,
    ) -> bool {
        let Err(reason) = check(&value.value) else {
            return true;
        };
        self.push(Error::InvalidServiceValue {
            what: key.to_string(),
            value: value.value.clone(),
            span: value.span,
            reason,
            help: format!("write e.g. `{example}`"),
        });
        false
    }

    /// Arguments from the first on, each with its `(expand)` annotation; an expanded
    /// value's interpolation is checked.
    fn compose_texts(&self, r: &mut Reader<'a>, what: &str, example: &str) -> Vec<ComposeText> {
        let expands: Vec<bool> = (0..r.arg_count()).map(|i| r.expand_arg(i)).collect();
        let texts = r.rest_required(0, what, example);
        let aligned = texts.len() == expands.len();
        texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let expand = aligned && expands[i];
                if expand {
                    self.interpolation(&text);
                }
                ComposeText { text, expand }
            })
            .collect()
    }

    /// Checks the compose interpolation of an `(expand)` value; true when it parses.
    fn interpolation(&self, text: &Text) -> bool {
        match interpolation::parse(&text.value) {
            Ok(_) => true,
            Err(e) => {
                self.push(Error::InvalidInterpolation {
                    value: text.value.clone(),
                    span: inner_span(text.span, &text.value, e.offset, e.len),
                    reason: e.reason,
                });
                false
            }
        }
    }

    /// A service's port: a literal mapping parses; an interpolated one has its literal
    /// parts checked. False (reported) when it is not a mapping.
    fn service_port(&self, p: &ComposeText) -> bool {
        let help = "write `HOST:CONTAINER`, e.g. `port \"8081:8080\"`, optionally with `/udp`";
        if !p.expand {
            return self.port(p.text.clone(), help).is_some();
        }
        let Ok(pieces) = interpolation::parse(&p.text.value) else {
            return false;
        };
        let checked = crate::value::port::check_interpolated(&pieces);
        if let Err(reason) = &checked {
            self.push(Error::InvalidPort {
                value: p.text.value.clone(),
                span: p.text.span,
                reason: reason.clone(),
                help: "write e.g. `port (expand)\"${PORT:-8080}:8080\"`: literal parts are port numbers or an IP address".into(),
            });
        }
        checked.is_ok()
    }

    fn mount(&self, node: &'a KdlNode) -> Option<Mount> {
        match node.name().value() {
            "cache" => {
                let mut r = self.reader(node, &["id", "sharing"]);
                let target = r.arg(0, "a target path", "cache \"/root/.cache/pip\"");
                let id = r.prop("id");
                let sharing = r.prop("sharing");
                if let Some(s) = &sharing {
                    self.choice(s, "cache sharing mode", &["shared", "private", "locked"]);
                }
                r.finish("one argument, the target path");
                Some(Mount::Cache {
                    target: target?,
                    id,
                    sharing,
                })
            }
            "secret" => {
                let mut r = self.reader(node, &["target", "required"]);
                let id = r.arg(0, "a secret id", "secret \"npmrc\" target=\"/root/.npmrc\"");
                let target = r.prop("target");
                let required = r.prop_bool("required").is_some_and(|b| b.value);
                r.finish("one argument, the secret id");
                Some(Mount::Secret {
                    id: id?,
                    target,
                    required,
                })
            }
            "bind" => {
                let mut r = self.reader(node, &["target", "from", "rw"]);
                let example = "bind \"requirements.txt\" target=\"/tmp/requirements.txt\"";
                let path = r.arg(0, "a source path", example);
                let target = r.prop_required("target", example);
                let from = r.prop("from").map(source);
                let rw = r.prop_bool("rw").is_some_and(|b| b.value);
                r.finish("one argument, the source path");
                Some(Mount::Bind {
                    source: path?,
                    target: target?,
                    from,
                    rw,
                })
            }
            _ => {
                self.unknown_node(node, "in `run`", &["cache", "secret", "bind"]);
                None
            }
        }
    }

    /// Checks `value` is one of `choices`; reports and returns false otherwise.
    fn choice(&self, value: &Text, what: &str, choices: &[&str]) -> bool {
        if choices.contains(&value.as_str()) {
            return true;
        }
        let title = crate::diagnostics::plural(what);
        self.push(Error::InvalidChoice {
            what: what.to_string(),
            value: value.value.clone(),
            span: value.span,
            help: suggest(&title, &value.value, choices.iter().copied()),
        });
        false
    }

    fn healthcheck(&self, r: &mut Reader<'a>) -> Option<Healthcheck> {
        let command = r.arg(
            0,
            "a command",
            "healthcheck \"curl -f http://localhost:8080/\" interval=\"30s\"",
        );
        let command = command?;
        Some(Healthcheck {
            command,
            shell_form: false,
            expand: false,
            interval: r.prop("interval").and_then(|d| self.duration(d)),
            timeout: r.prop("timeout").and_then(|d| self.duration(d)),
            start_period: r.prop("start-period").and_then(|d| self.duration(d)),
            retries: r.prop_u32("retries"),
            span: r.span(),
        })
    }

    fn image(&self, node: &'a KdlNode) -> Option<Image> {
        let mut r = self.reader(
            node,
            &[
                "stage",
                "variants",
                "registries",
                "repository",
                "context",
                "description",
            ],
        );
        let name = self.name(&mut r, "image");
        let stage = r.prop_required("stage", "image app stage=runtime");
        let variants = r.prop_variants(
            "the image would have no target: nothing would be built",
            "list the variants to build it in, e.g. `variants=\"cpu gpu\"`, or leave `variants=` out to build it in every variant",
        );
        let registries = r.prop_list("registries").unwrap_or_default();
        let repository = r.prop("repository");
        let context = r
            .prop("context")
            .unwrap_or_else(|| Spanned::new(".".into(), r.name_span()));
        let description = r.prop("description");
        let mut tags = Vec::new();
        let mut caches = Vec::new();
        let mut ignore = Vec::new();
        for child in r.children() {
            match child.name().value() {
                "ignore" => {
                    let mut c = self.reader(child, &[]);
                    ignore.extend(c.rest_required(0, "a pattern", "ignore \"web/\" \"*.md\""));
                    c.finish("patterns");
                }
                "tag" => tags.extend(self.tag_rule(child)),
                "cache" => {
                    let mut c = self.reader(child, &["registry"]);
                    let kind = c.arg(0, "a cache type", "cache \"gha\"");
                    let registry = c.prop("registry");
                    let span = c.span();
                    c.finish("one argument, the cache type");
                    let Some(kind) = kind else { continue };
                    let kind_value = match kind.as_str() {
                        "registry" => CacheKind::Registry,
                        "gha" => CacheKind::Gha,
                        _ => {
                            self.choice(&kind, "cache type", &["registry", "gha"]);
                            continue;
                        }
                    };
                    if kind_value == CacheKind::Registry && registry.is_none() {
                        self.push(Error::MissingValue {
                            node: "cache".into(),
                            what: "`registry=`".into(),
                            span: kind.span,
                            help: "name the registry that stores the cache: `cache \"registry\" registry=dockerhub`".into(),
                        });
                    }
                    caches.push(Cache {
                        kind: kind_value,
                        registry,
                        span,
                    });
                }
                _ => self.unknown_node(child, "in `image`", &["tag", "cache", "ignore"]),
            }
        }
        if tags.is_empty()
            && node
                .children()
                .is_none_or(|c| !c.nodes().iter().any(|n| n.name().value() == "tag"))
        {
            let span = r.name_span();
            for template in ["{{version}}", "latest"] {
                let template = TagTemplate::parse(template).expect("a valid template");
                tags.push(TagRule {
                    template: Spanned::new(template, span),
                    when: Spanned::new(TagEvents::RELEASE, span),
                    branch: None,
                    registries: Vec::new(),
                    span,
                });
            }
        }
        let span = r.span();
        r.finish("one argument, the image name");
        Some(Image {
            name: name?,
            stage: stage?,
            variants,
            registries,
            repository,
            context,
            description,
            ignore,
            tags,
            caches,
            span,
        })
    }

    /// A `tag` child of an image: its template, events and filters.
    fn tag_rule(&self, node: &'a KdlNode) -> Option<TagRule> {
        let mut c = self.reader(node, &["when", "branch", "registry"]);
        let template = c.arg(0, "a tag template", "tag \"{{version}}\"");
        let when = match (c.prop_list("when"), c.prop("when")) {
            (Some(list), Some(text)) => self.tag_events(&list, text.span),
            _ => Spanned::new(TagEvents::RELEASE, c.name_span()),
        };
        let branch = c.prop("branch").and_then(|b| match RefPattern::parse(&b.value) {
            Ok(p) => Some(Spanned::new(p, b.span)),
            Err(reason) => {
                self.push(Error::RefPattern {
                    what: "branch".into(),
                    value: b.value.clone(),
                    span: b.span,
                    reason,
                    help: "write a branch name, or a pattern with `*`, `**`, `?`, `+`, `[a-z]` (a leading `!` negates it), e.g. `branch=\"main\"` or `branch=\"release/**\"`".into(),
                });
                None
            }
        });
        let registries = c.prop_list("registry").unwrap_or_default();
        let span = c.span();
        c.finish("one argument, the tag template");
        let template = template.and_then(|t| self.tag_template(t))?;
        Some(TagRule {
            template,
            when,
            branch,
            registries,
            span,
        })
    }

    /// `when="branch schedule"`: the events named, each reported when unknown.
    fn tag_events(&self, list: &[Text], span: SourceSpan) -> Spanned<TagEvents> {
        if list.is_empty() {
            self.push(Error::EmptyValue {
                what: "`when`".into(),
                span,
                help: "name the events the tag is pushed on, e.g. `when=\"release\"` or `when=\"branch schedule\"`".into(),
            });
            return Spanned::new(TagEvents::RELEASE, span);
        }
        let mut events = Vec::new();
        for name in list {
            if name.value == "always" {
                events.extend(TagEvents::ALWAYS.events());
                continue;
            }
            let choices: Vec<&str> = Event::ALL
                .iter()
                .map(|e| e.name())
                .chain(["always"])
                .collect();
            match Event::named(&name.value) {
                Some(e) => events.push(e),
                None => {
                    self.choice(name, "tag event", &choices);
                }
            }
        }
        Spanned::new(TagEvents::of(&events), span)
    }

    fn service(&self, node: &'a KdlNode) -> Option<Service> {
        let mut r = self.reader(node, &["image", "variant"]);
        let name = self.name(&mut r, "service");
        let image = r.prop_required("image", "service web image=app");
        let image_expand = r.expand_prop("image");
        if let Some(image) = image.as_ref().filter(|_| image_expand) {
            self.interpolation(image);
        }
        let variant = r.prop("variant");
        let mut s = Service {
            name: name?,
            image: source(image?),
            image_expand,
            variant,
            ports: Vec::new(),
            volumes: Vec::new(),
            env: Vec::new(),
            depends_on: Vec::new(),
            restart: None,
            command: None,
            healthcheck: None,
            profiles: None,
            gpu: None,
            fields: ServiceFields::default(),
            span: r.span(),
        };
        for child in r.children() {
            let key = child.name().value();
            if !SERVICE_CHILDREN.contains(&key) {
                self.unknown_node(child, "in `service`", SERVICE_CHILDREN);
                continue;
            }
            if key == "env" {
                let mut c = self.reader(child, &property_names(child));
                let pairs = self.env_pairs(&mut c);
                for e in pairs.iter().filter(|e| e.expand) {
                    self.interpolation(&e.value);
                }
                s.env.extend(pairs);
                c.finish("a name and a value, or `NAME=value` properties");
                continue;
            }
            if key == "gpu" {
                s.gpu = self.gpu(child);
                continue;
            }
            if key == "logging" {
                s.fields.logging = self.logging(child);
                continue;
            }
            let props: &[&str] = match key {
                "depends-on" => &["condition", "required"],
                "env-file" => &["required"],
                "healthcheck" => &["interval", "timeout", "start-period", "retries"],
                _ => &[],
            };
            let mut c = self.reader(child, props);
            match key {
                "port" => {
                    let ports = self.compose_texts(&mut c, "a port", "port \"8080:8080\"");
                    s.ports
                        .extend(ports.into_iter().filter(|p| self.service_port(p)))
                }
                "volume" => s.volumes.extend(self.compose_texts(
                    &mut c,
                    "a volume",
                    "volume \"./data:/data\"",
                )),
                "depends-on" => {
                    let condition = c.prop("condition");
                    if let Some(cond) = &condition {
                        self.choice(
                            cond,
                            "dependency condition",
                            &["started", "healthy", "completed"],
                        );
                    }
                    let required = c.prop_bool("required").is_none_or(|b| b.value);
                    let names = c.rest_required(0, "a service name", "depends-on \"db\"");
                    for service in names {
                        s.depends_on.push(DependsOn {
                            service,
                            condition: condition.clone(),
                            required,
                        });
                    }
                }
                "restart" => {
                    let policy = c.arg(0, "a restart policy", "restart \"unless-stopped\"");
                    if let Some(r) = &policy {
                        let retries = r
                            .value
                            .strip_prefix("on-failure:")
                            .is_some_and(|n| n.parse::<u32>().is_ok());
                        if !retries {
                            self.choice(
                                r,
                                "restart policy",
                                &[
                                    "no",
                                    "always",
                                    "unless-stopped",
                                    "on-failure",
                                    "on-failure:3",
                                ],
                            );
                        }
                    }
                    s.restart = policy;
                }
                "command" => {
                    s.command = Some(self.compose_texts(
                        &mut c,
                        "a word",
                        "command \"serve\" \"--port=80\"",
                    ))
                }
                "container-name" | "env-file" | "device" | "group-add" | "device-cgroup-rule"
                | "shm-size" | "extra-host" | "tty" | "stop-signal" | "pull-policy"
                | "entrypoint" => self.service_field(key, &mut c, &mut s.fields),
                "network" => s.fields.networks.extend(c.rest_required(
                    0,
                    "a network name",
                    "network \"backend\"",
                )),
                "healthcheck" => {
                    let expand = c.expand_arg(0);
                    s.healthcheck = self
                        .healthcheck(&mut c)
                        .map(|h| Healthcheck { expand, ..h });
                    if let Some(h) = s.healthcheck.as_ref().filter(|h| h.expand) {
                        self.interpolation(&h.command);
                    }
                }
                _ => {
                    s.profiles
                        .get_or_insert_with(Vec::new)
                        .extend(c.rest_required(0, "a profile", "profile \"gpu\""));
                }
            }
            c.finish(match key {
                "port" => "port mappings",
                "volume" => "volumes",
                "depends-on" => "service names",
                "command" => "words",
                "profile" => "profile names",
                "env-file" => "file paths",
                "device" => "devices",
                "group-add" => "groups",
                "device-cgroup-rule" => "rules",
                "extra-host" => "`HOST:IP` entries",
                "entrypoint" => "words",
                "tty" => "no arguments",
                "network" => "network names",
                _ => "one argument",
            });
        }
        r.finish("one argument, the service name");
        Some(s)
    }

    fn workflow(&self, node: &'a KdlNode) -> Option<Workflow> {
        let mut r = self.reader(node, &["name", "runner", "layout"]);
        let name = self.name(&mut r, "workflow");
        let display_name = r.prop("name");
        let runner = r
            .prop("runner")
            .unwrap_or_else(|| Spanned::new("ubuntu-latest".into(), r.name_span()));
        let layout: Option<Text> = r.prop("layout");
        if let Some(l) = &layout {
            self.choice(l, "workflow layout", &["single", "native"]);
        }
        let mut runs_on = Vec::new();
        let mut triggers = Vec::new();
        let mut images: Option<Vec<Text>> = None;
        let mut smoke_tests = Vec::new();
        let mut scan = None;
        let mut dockerhub_description = None;
        let mut charts = Vec::new();
        for child in r.children() {
            match child.name().value() {
                "on" => triggers.extend(self.trigger(child)),
                "images" => {
                    let mut c = self.reader(child, &[]);
                    images.get_or_insert_with(Vec::new).extend(c.rest_required(
                        0,
                        "an image name",
                        "images \"app\"",
                    ));
                    c.finish("image names");
                }
                "smoke-test" => {
                    let mut c =
                        self.reader(child, &["image", "variant", "port", "path", "command"]);
                    let image = c.prop_required(
                        "image",
                        "smoke-test image=app port=\"8080:8080\" path=\"/health\"",
                    );
                    let mut env = Vec::new();
                    for e in c.children() {
                        if e.name().value() == "env" {
                            let names: Vec<&str> = e
                                .entries()
                                .iter()
                                .filter_map(|x| x.name().map(|n| n.value()))
                                .collect();
                            let mut er = self.reader(e, &names);
                            env.extend(self.env_pairs(&mut er));
                            er.finish("a name and a value");
                        } else {
                            self.unknown_node(e, "in `smoke-test`", &["env"]);
                        }
                    }
                    let test = image.map(|image| SmokeTest {
                        image,
                        variant: c.prop("variant"),
                        port: c.prop("port").and_then(|p| {
                            self.port(p, "write `HOST:CONTAINER`, e.g. `port=\"3001:3000\"`")
                        }),
                        path: c.prop("path"),
                        command: c.prop("command"),
                        env,
                        span: c.span(),
                    });
                    c.finish("no arguments");
                    smoke_tests.extend(test);
                }
                "scan" => {
                    let mut c = self.reader(child, &["severity"]);
                    let tool = c.arg(0, "a scanner", "scan \"trivy\"");
                    if let Some(t) = &tool {
                        self.choice(t, "scanner", &["trivy", "scout"]);
                    }
                    scan = tool.map(|tool| Scan {
                        tool,
                        severity: c.prop("severity"),
                        span: c.span(),
                    });
                    c.finish("one argument, the scanner");
                }
                "dockerhub-description" => {
                    let c = self.reader(child, &["registry", "readme", "image"]);
                    let registry =
                        c.prop_required("registry", "dockerhub-description registry=dockerhub");
                    dockerhub_description = registry.map(|registry| DockerhubDescription {
                        registry,
                        readme: c
                            .prop("readme")
                            .unwrap_or_else(|| Spanned::new("README.md".into(), c.name_span())),
                        image: c.prop("image"),
                        span: c.span(),
                    });
                    c.finish("no arguments");
                }
                "chart" => {
                    let mut c = self.reader(child, &[]);
                    charts.extend(c.arg(0, "a chart name", "chart my-chart"));
                    c.finish("one argument, the chart name");
                }
                "runs-on" => runs_on.extend(self.runs_on(child)),
                _ => self.unknown_node(child, "in `workflow`", WORKFLOW_CHILDREN),
            }
        }
        // An `on` node that failed to decode has reported its own problem already.
        let has_on = r.children().iter().any(|c| c.name().value() == "on");
        if triggers.is_empty() && !has_on {
            self.push(Error::MissingValue {
                node: "workflow".into(),
                what: "a trigger".into(),
                span: r.name_span(),
                help: "add at least one, e.g. `on \"tag\" pattern=\"v*\"` or `on \"dispatch\"`"
                    .into(),
            });
        }
        let span = r.span();
        r.finish("one argument, the workflow name");
        Some(Workflow {
            name: name?,
            display_name,
            runner,
            layout,
            runs_on,
            triggers,
            images,
            smoke_tests,
            scan,
            dockerhub_description,
            charts,
            span,
        })
    }

    /// `runs-on "linux/arm64" "ubuntu-24.04-arm"`: a platform and one or more labels.
    fn runs_on(&self, node: &'a KdlNode) -> Option<RunsOn> {
        let mut c = self.reader(node, &[]);
        let example = "runs-on \"linux/arm64\" \"ubuntu-24.04-arm\"";
        let platform = c.arg(0, "a platform", example);
        let labels = c.rest_required(1, "a runner label", example);
        let span = c.span();
        c.finish("a platform, then its runner labels");
        (!labels.is_empty()).then_some(RunsOn {
            platform: platform?,
            labels,
            span,
        })
    }

    /// `paths "src/**" ...` children of an `on "pull-request"`, all of them together.
    fn trigger_paths(&self, r: &mut Reader<'a>) -> Option<Vec<Text>> {
        let mut paths: Option<Vec<Text>> = None;
        for child in r.children() {
            if child.name().value() == "paths" {
                let mut c = self.reader(child, &[]);
                let list = c.rest_required(0, "a path pattern", "paths \"src/**\"");
                paths.get_or_insert_with(Vec::new).extend(list);
                c.finish("path patterns");
            } else {
                self.unknown_node(child, "in `on \"pull-request\"`", &["paths"]);
            }
        }
        paths
    }

    fn trigger(&self, node: &'a KdlNode) -> Option<Spanned<Trigger>> {
        let mut r = self.reader(node, &["pattern", "branch", "cron"]);
        let kind = r.arg(0, "a trigger", "on \"tag\" pattern=\"v*\"");
        let span = r.span();
        let kind = kind?;
        let (trigger, allowed): (Option<Trigger>, &[&str]) = match kind.as_str() {
            "tag" => (
                Some(Trigger::Tag {
                    pattern: r
                        .prop("pattern")
                        .unwrap_or_else(|| Spanned::new("v*".into(), kind.span)),
                }),
                &["pattern"],
            ),
            "release" => (Some(Trigger::Release), &[]),
            "dispatch" => (Some(Trigger::Dispatch), &[]),
            "push" => (
                r.prop_required("branch", "on \"push\" branch=\"main\"")
                    .map(|branch| Trigger::Push { branch }),
                &["branch"],
            ),
            "schedule" => (
                r.prop_required("cron", "on \"schedule\" cron=\"0 3 * * 1\"")
                    .map(|cron| Trigger::Schedule { cron }),
                &["cron"],
            ),
            "pull-request" => (
                Some(Trigger::PullRequest {
                    branch: r.prop("branch"),
                    paths: self.trigger_paths(&mut r),
                }),
                &["branch"],
            ),
            _ => {
                self.choice(
                    &kind,
                    "trigger",
                    &[
                        "tag",
                        "release",
                        "dispatch",
                        "push",
                        "pull-request",
                        "schedule",
                    ],
                );
                (None, &[])
            }
        };
        for entry in node.entries() {
            if let Some(key) = entry.name()
                && !allowed.contains(&key.value())
                && ["pattern", "branch", "cron"].contains(&key.value())
                && trigger.is_some()
            {
                self.push(Error::UnknownProperty {
                    name: key.value().to_string(),
                    node: format!("on \"{}\"", kind.value),
                    span: entry.span(),
                    help: if allowed.is_empty() {
                        format!("`on \"{}\"` takes no properties", kind.value)
                    } else {
                        format!(
                            "properties of `on \"{}\"`: `{}`",
                            kind.value,
                            allowed.join("`, `")
                        )
                    },
                });
            }
        }
        r.finish("one argument, the trigger kind");
        trigger.map(|t| Spanned::new(t, span))
    }

    fn chart(&self, node: &'a KdlNode) -> Option<Chart> {
        let mut r = self.reader(node, &["path", "create", "values"]);
        let name = self.name(&mut r, "chart");
        let path = r.prop("path");
        let mut chart = Chart {
            name: name?,
            path,
            create: r.prop_bool("create"),
            values: r.prop("values"),
            images: Vec::new(),
            runtimes: Vec::new(),
            resources: None,
            node_selector: Vec::new(),
            tolerations: Vec::new(),
            push: None,
            span: r.span(),
        };
        for child in r.children() {
            match child.name().value() {
                "image" => {
                    let mut c = self.reader(
                        child,
                        &["variant", "registry", "key", "repository", "tag", "ref"],
                    );
                    let image = c.arg(0, "an image name", "image app key=\"image\"");
                    let entry = image.map(|image| {
                        let (repository, tag, reference) =
                            (c.prop("repository"), c.prop("tag"), c.prop("ref"));
                        let named = repository.is_some() || tag.is_some() || reference.is_some();
                        // No key named at all: `image`, as `helm create` has it.
                        let key = c.prop("key").or_else(|| {
                            (!named).then(|| Spanned::new("image".into(), c.name_span()))
                        });
                        ChartImage {
                            image,
                            variant: c.prop("variant"),
                            registry: c.prop("registry"),
                            key,
                            repository,
                            tag,
                            reference,
                            span: c.span(),
                        }
                    });
                    c.finish("one argument, the image name");
                    chart.images.extend(entry);
                }
                "runtime" => {
                    let mut c = self.reader(
                        child,
                        &[
                            "type",
                            "namespace",
                            "chart-repository",
                            "chart-version",
                            "image",
                            "variant",
                        ],
                    );
                    let name = self.name(&mut c, "runtime");
                    let kind = c.prop_required("type", "runtime sdruntime type=\"sdwebui\"");
                    if let (Some(name), Some(kind)) = (name, kind) {
                        chart.runtimes.push(Runtime {
                            name,
                            kind,
                            namespace: c.prop("namespace"),
                            chart_repository: c.prop("chart-repository"),
                            chart_version: c.prop("chart-version"),
                            image: c.prop("image").map(source),
                            variant: c.prop("variant"),
                            span: c.span(),
                        });
                    }
                    c.finish("one argument, the runtime name");
                }
                "resources" => {
                    let c = self.reader(child, &["cpu", "memory"]);
                    chart.resources = Some(Resources {
                        cpu: c.prop("cpu"),
                        memory: c.prop("memory"),
                        span: c.span(),
                    });
                    c.finish("no arguments");
                }
                "node-selector" => {
                    let mut c = self.reader(child, &[]);
                    let key = c.arg(
                        0,
                        "a label key",
                        "node-selector \"karpenter.sh/nodepool\" \"gpu\"",
                    );
                    let value = c.arg(
                        1,
                        "a label value",
                        "node-selector \"karpenter.sh/nodepool\" \"gpu\"",
                    );
                    c.finish("a key and a value");
                    if let (Some(k), Some(v)) = (key, value) {
                        chart.node_selector.push((k, v));
                    }
                }
                "toleration" => {
                    let c = self.reader(child, &["key", "operator", "value", "effect"]);
                    let operator = c.prop("operator");
                    if let Some(op) = &operator {
                        self.choice(op, "toleration operator", &["Exists", "Equal"]);
                    }
                    let effect = c.prop("effect");
                    if let Some(e) = &effect {
                        self.choice(
                            e,
                            "toleration effect",
                            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
                        );
                    }
                    chart.tolerations.push(Toleration {
                        key: c.prop("key"),
                        operator,
                        value: c.prop("value"),
                        effect,
                        span: c.span(),
                    });
                    c.finish("no arguments");
                }
                "push" => {
                    let c = self.reader(child, &["registry", "repository"]);
                    let example = "push registry=ecr repository=\"charts\"";
                    let registry = c.prop_required("registry", example);
                    let repository = c.prop_required("repository", example);
                    if let (Some(registry), Some(repository)) = (registry, repository) {
                        chart.push = Some(ChartPush {
                            registry,
                            repository,
                            span: c.span(),
                        });
                    }
                    c.finish("no arguments");
                }
                _ => self.unknown_node(child, "in `chart`", CHART_CHILDREN),
            }
        }
        self.unique("runtime", chart.runtimes.iter().map(|r| &r.name));
        r.finish("one argument, the chart name");
        Some(chart)
    }
}

impl Output {
    /// Every output at its default place.
    pub fn defaults() -> Output {
        let d = |s: &str| Spanned::new(s.to_string(), SourceSpan::from((0, 0)));
        Output {
            dockerfiles: d("docker"),
            dockerignore: d(".dockerignore"),
            bake: d("docker-bake.hcl"),
            compose: d("compose.yaml"),
            workflows: d(".github/workflows"),
            charts: d("charts"),
            lock: d("specc.lock"),
        }
    }

    /// The settings that name one file, by their names in the spec.
    pub fn files(&self) -> [(&'static str, &Text); 4] {
        [
            ("dockerignore", &self.dockerignore),
            ("bake", &self.bake),
            ("compose", &self.compose),
            ("lock", &self.lock),
        ]
    }

    /// The settings that name a folder, by their names in the spec.
    pub fn folders(&self) -> [(&'static str, &Text); 3] {
        [
            ("dockerfiles", &self.dockerfiles),
            ("workflows", &self.workflows),
            ("charts", &self.charts),
        ]
    }
}

/// A value naming an image, parsed once as a reference (`check` decides whether it is
/// meant as one).
/// The names of every property of `node`, for nodes whose properties are free-form.
fn property_names(node: &KdlNode) -> Vec<&str> {
    node.entries()
        .iter()
        .filter_map(|e| e.name().map(|n| n.value()))
        .collect()
}

fn source(text: Text) -> Spanned<ImageSource> {
    Spanned::new(ImageSource::parse(&text.value), text.span)
}
