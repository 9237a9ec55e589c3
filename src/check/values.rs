//! Values a consumer of the outputs would refuse, checked with that consumer's grammar:
//! runner labels and branch/tag filters and cron schedules (GitHub Actions, as actionlint
//! checks them), `--mount` targets and ids (BuildKit), node selector labels and resource
//! quantities (Kubernetes), and the Docker Hub README path (read in CI from the checkout).

use super::Checker;
use crate::diagnostics::Error;
use crate::spec::{Mount, Text, Trigger, Workflow};
use crate::value::cron::check_cron;
use crate::value::kubernetes::{check_label_key, check_label_value, check_quantity};
use crate::value::ref_glob::check_ref_pattern;

impl Checker<'_> {
    /// Every value whose consumer has a grammar of its own.
    pub(super) fn consumer_values(&mut self) {
        let spec = self.spec;
        if let Some(syntax) = &spec.project.dockerfile_syntax {
            self.dockerfile_syntax(syntax);
        }
        for stage in &spec.stages {
            for ins in &stage.instructions {
                if let crate::spec::InstructionKind::Run(run) = &ins.kind {
                    for m in &run.mounts {
                        self.mount_values(m);
                    }
                }
            }
        }
        for w in &spec.workflows {
            self.workflow_grammar(w);
        }
        for a in spec
            .args
            .iter()
            .chain(spec.variants.iter().flat_map(|v| &v.args))
        {
            self.ci_arg(a);
        }
        for chart in &spec.charts {
            for (key, value) in &chart.node_selector {
                self.node_selector(key, value);
            }
            if let Some(r) = &chart.resources {
                for (name, q) in [("cpu", &r.cpu), ("memory", &r.memory)] {
                    if let Some(q) = q {
                        self.quantity(name, q);
                    }
                }
            }
        }
    }

    /// A `from-ci` argument specc sets itself (`VERSION` and `REVISION` follow the
    /// run-time rules of `plan::runtime`).
    fn ci_arg(&mut self, a: &crate::spec::ArgDecl) {
        let Some(from_ci) = &a.from_ci else { return };
        let name = a.name.value.as_str();
        let help = match name {
            "VERSION" => {
                "the version already comes from the git tag or release in CI; name the argument otherwise, e.g. `arg GIT_REF from-ci=\"ref-name\"`"
            }
            "REVISION" => {
                "`REVISION` is already the commit in CI; name the argument otherwise, e.g. `arg GIT_SHA from-ci=\"sha\"`"
            }
            _ => return,
        };
        self.push(Error::ManagedArg {
            name: name.to_string(),
            span: from_ci.span,
            help: help.into(),
        });
    }

    /// A `--mount` option BuildKit cannot take: empty, or a control character that is not
    /// white space (those, with `,` and `=`, are `mount_option`'s).
    fn mount_values(&mut self, m: &Mount) {
        let options = match m {
            Mount::Cache { target, id, .. } => [(Some(target), "target"), (id.as_ref(), "id")],
            Mount::Secret { id, target, .. } => [(Some(id), "id"), (target.as_ref(), "target")],
            Mount::Bind { source, target, .. } => {
                [(Some(source), "source"), (Some(target), "target")]
            }
        };
        for (t, what) in options {
            let Some(t) = t else { continue };
            let reason = if t.value.is_empty() {
                "empty"
            } else if t
                .value
                .contains(|c: char| c.is_control() && !c.is_whitespace())
            {
                "a control character (NUL, ...) ends the option"
            } else {
                continue;
            };
            let help = if what == "target" {
                "write the path inside the build container, e.g. `cache \"/root/.cache/pip\"`"
            } else {
                "write a plain id of letters, digits and `._-`, e.g. `id=\"pip\"`"
            };
            self.push(Error::MountValue {
                what: format!("a mount `{what}`"),
                span: t.span,
                reason: reason.into(),
                help: help.into(),
            });
        }
    }

    /// A runner label GitHub can match: not empty, one line.
    fn runner_label(&mut self, label: &Text, help: &str) {
        let reason = if label.value.trim().is_empty() {
            "empty"
        } else if label.value.contains(char::is_control) {
            "a line break or control character"
        } else {
            return;
        };
        self.push(Error::RunnerLabel {
            value: shown(&label.value),
            span: label.span,
            reason: reason.into(),
            help: help.into(),
        });
    }

    fn workflow_grammar(&mut self, w: &Workflow) {
        self.runner_label(
            &w.runner,
            "write one runner label, e.g. `runner=\"ubuntu-24.04\"`",
        );
        for r in &w.runs_on {
            for label in &r.labels {
                self.runner_label(
                    label,
                    "write the runner's labels as separate arguments, e.g. `runs-on \"linux/arm64\" \"self-hosted\" \"arm64\"`",
                );
            }
        }
        for t in &w.triggers {
            match &t.value {
                Trigger::Tag { pattern } => self.ref_pattern("tag", pattern, "v*"),
                Trigger::Push { branch } => self.ref_pattern("branch", branch, "main"),
                Trigger::PullRequest { branch, paths } => {
                    if let Some(branch) = branch {
                        self.ref_pattern("branch", branch, "main");
                    }
                    for p in paths.iter().flatten() {
                        if p.value.trim().is_empty() {
                            self.push(Error::EmptyValue {
                                what: "a path pattern".into(),
                                span: p.span,
                                help: "write e.g. `paths \"src/**\"`, or remove `paths` to build on every pull request's change to the build inputs".into(),
                            });
                        }
                        self.ref_pattern("path", p, "src/**");
                    }
                }
                Trigger::Schedule { cron } => self.cron(cron),
                Trigger::Release | Trigger::Dispatch => {}
            }
        }
        if let Some(d) = &w.dockerhub_description {
            self.path(&d.readme, "README path");
            if is_under_git(&d.readme.value) {
                self.push(Error::InvalidPath {
                    what: "README path".into(),
                    value: shown(&d.readme.value),
                    span: d.readme.span,
                    reason: "inside `.git`, which would publish the repository's configuration"
                        .into(),
                    help: "write the path of a Markdown file of the repository, e.g. `readme=\"README.md\"`".into(),
                });
            }
        }
    }

    /// A branch or tag filter; empty ones and `${{` are reported elsewhere.
    fn ref_pattern(&mut self, what: &str, text: &Text, example: &str) {
        if text.value.trim().is_empty() || text.value.contains("${{") {
            return;
        }
        if let Err(reason) = check_ref_pattern(&text.value) {
            self.push(Error::RefPattern {
                what: what.into(),
                value: shown(&text.value),
                span: text.span,
                reason,
                help: format!(
                    "write a {} with glob operators `*`, `**`, `?`, `+`, `[a-z]`, e.g. `{example}`",
                    if what == "path" {
                        "relative path"
                    } else {
                        "Git ref name"
                    }
                ),
            });
        }
    }

    /// A cron schedule; one without five white-space separated fields is reported
    /// elsewhere.
    fn cron(&mut self, cron: &Text) {
        if cron.value.split_whitespace().count() != 5 {
            return;
        }
        if let Err(reason) = check_cron(&cron.value) {
            self.push(Error::InvalidCron {
                value: shown(&cron.value),
                span: cron.span,
                reason,
                help: "write `minute hour day month weekday` on one line, separated by spaces, e.g. `cron=\"0 3 * * 1\"`".into(),
            });
        }
    }

    fn node_selector(&mut self, key: &Text, value: &Text) {
        if let Err(reason) = check_label_key(&key.value) {
            self.push(Error::NodeSelector {
                what: "key".into(),
                value: shown(&key.value),
                span: key.span,
                reason,
                help: "write a Kubernetes label key, e.g. `karpenter.sh/nodepool` or `gpu-type`"
                    .into(),
            });
        }
        if let Err(reason) = check_label_value(&value.value) {
            self.push(Error::NodeSelector {
                what: "value".into(),
                value: shown(&value.value),
                span: value.span,
                reason,
                help: "write a Kubernetes label value: at most 63 letters, digits, `-`, `_`, `.`, e.g. `g5.xlarge`".into(),
            });
        }
    }

    fn quantity(&mut self, name: &str, q: &Text) {
        if let Err(reason) = check_quantity(&q.value) {
            let example = if name == "cpu" {
                "`cpu=\"500m\"` or `cpu=\"2\"`"
            } else {
                "`memory=\"512Mi\"` or `memory=\"8Gi\"`"
            };
            self.push(Error::InvalidQuantity {
                value: shown(&q.value),
                span: q.span,
                reason,
                help: format!("write a Kubernetes quantity, e.g. {example}"),
            });
        }
    }
}

/// True when a path has a `.git` component, in any case.
pub(super) fn is_under_git(path: &str) -> bool {
    path.split(['/', '\\'])
        .any(|p| p.eq_ignore_ascii_case(".git"))
}

/// A value as a message shows it: control characters (line breaks, NUL) escaped.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl Checker<'_> {
    /// `dockerfile-syntax=`: BuildKit pulls this image as the Dockerfile's frontend, so it
    /// must be an image reference, written without variables (a parser directive expands
    /// none).
    fn dockerfile_syntax(&mut self, syntax: &Text) {
        if let Err(reason) = crate::value::image_ref::ImageRef::parse(&syntax.value) {
            self.push(Error::InvalidImageReference {
                value: syntax.value.clone(),
                span: syntax.span,
                reason,
                help:
                    "write the frontend image, e.g. `dockerfile-syntax=\"docker/dockerfile:1.7\"`"
                        .into(),
            });
        }
    }
}
