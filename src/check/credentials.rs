//! Credentials pasted into literal values: every value that lands in an image, a
//! generated file or the committed spec (environment values, build arguments, labels,
//! commands, compose environment, workflow fields, image references, secret ids) is
//! searched with `value::secret::find_credential`; what looks like a credential is an
//! error whose help says how to pass it as a secret instead.

use super::Checker;
use crate::diagnostics::Error;
use crate::spec::{
    ArgDecl, EnvVar, ImageSource, InstructionKind, Mount, Spanned, Text, inner_span,
};
use crate::value::secret::{find_credential, image_userinfo};
use crate::value::{looks_like_credential, to_name, to_variable_name};

/// Where a value ends up, which decides how to keep a secret out of it.
#[derive(Clone, Copy)]
enum Place {
    /// An ENV, a label: stored in the image.
    Image,
    /// A build argument or a command: in the Dockerfile and the image's history.
    Dockerfile,
    /// A compose service's environment or command.
    Compose,
    /// A log driver's option: compose takes it literally, so it belongs to the daemon.
    LogOption,
    /// A smoke test's environment or command.
    Workflow,
    /// A chart's values (node selectors, tolerations).
    Values,
}

impl Place {
    fn text(self) -> &'static str {
        match self {
            Place::Image => "baked into the image",
            Place::Dockerfile => "written into the Dockerfile and the image history",
            Place::Compose | Place::LogOption => "committed in the compose file",
            Place::Workflow => "committed in the workflow",
            Place::Values => "committed in the Helm values",
        }
    }

    /// What to type instead; `name` is the variable the value was meant for, if any.
    fn help(self, name: Option<&str>) -> String {
        let var = to_variable_name(name.unwrap_or("token"));
        let id = to_name(&var.to_ascii_lowercase().replace('_', "-"));
        let advice = match self {
            Place::Image | Place::Dockerfile => format!(
                "pass it as a build secret: declare `secret \"{id}\" env=\"{var}\"` at the top level and mount it in the `run` that needs it, `run \"...\" {{ secret \"{id}\" }}` (it reads /run/secrets/{id}); a value the running container needs goes in at run time, e.g. `service ... {{ env {var} (expand)\"${{{var}}}\" }}`"
            ),
            Place::Compose => format!(
                "take it from the environment compose runs in: `env {var} (expand)\"${{{var}}}\"`, with `{var}` set in the shell or in an `.env` file that is not committed"
            ),
            Place::LogOption => {
                "set it in the Docker daemon's log options (`log-opts` in /etc/docker/daemon.json) on the host, not in the compose file".to_string()
            }
            Place::Workflow => {
                "a smoke test's values are committed in the workflow: use a value that is not a credential".to_string()
            }
            Place::Values => {
                "node selectors and tolerations are committed in the chart's values: use a value that is not a credential".to_string()
            }
        };
        format!("{advice}; if this was a real credential, revoke it")
    }
}

impl Checker<'_> {
    pub(super) fn credentials(&mut self) {
        let spec = self.spec;
        for a in spec
            .args
            .iter()
            .chain(spec.variants.iter().flat_map(|v| &v.args))
        {
            self.arg_credential(a);
        }
        for stage in &spec.stages {
            self.image_source_credential(&stage.from, "`from`");
            for ins in &stage.instructions {
                self.instruction_credentials(&ins.kind);
            }
        }
        for s in &spec.secrets {
            self.secret_id_credential(&s.id);
        }
        for s in &spec.services {
            self.image_source_credential(&s.image, "`image`");
            for e in &s.env {
                self.env_credential(e, Place::Compose);
            }
            for w in s.command.iter().flatten() {
                self.value_credential(&w.text, "a `command` word", Place::Compose, None);
            }
            if let Some(h) = &s.healthcheck {
                self.value_credential(&h.command, "a health check", Place::Compose, None);
            }
            for w in s.fields.entrypoint.iter().flatten() {
                self.value_credential(&w.text, "an `entrypoint` word", Place::Compose, None);
            }
            // Log drivers take endpoints and tokens (splunk-token, awslogs keys) as options.
            for (key, value) in s.fields.logging.iter().flat_map(|l| &l.options) {
                let what = format!("the `logging` option `{}`", key.value);
                self.value_credential(value, &what, Place::LogOption, None);
            }
        }
        let descriptions = spec.images.iter().filter_map(|i| i.description.as_ref());
        for d in spec.project.description.iter().chain(descriptions) {
            self.value_credential(d, "a description (an image label)", Place::Image, None);
        }
        for chart in &spec.charts {
            let tolerations = chart.tolerations.iter().filter_map(|t| t.value.as_ref());
            for v in chart
                .node_selector
                .iter()
                .map(|(_, v)| v)
                .chain(tolerations)
            {
                self.value_credential(v, "a chart value", Place::Values, None);
            }
        }
        for t in spec.workflows.iter().flat_map(|w| &w.smoke_tests) {
            for e in &t.env {
                self.env_credential(e, Place::Workflow);
            }
            if let Some(c) = &t.command {
                self.value_credential(c, "a smoke test `command`", Place::Workflow, None);
            }
        }
    }

    fn instruction_credentials(&mut self, kind: &InstructionKind) {
        match kind {
            InstructionKind::Env(vars) => {
                for e in vars {
                    self.env_credential(e, Place::Image);
                }
            }
            InstructionKind::Arg(a) => self.arg_credential(a),
            InstructionKind::Label(key, value) => {
                self.value_credential(value, "a label value", Place::Image, Some(&key.value));
            }
            InstructionKind::Run(run) => {
                for c in &run.commands {
                    self.value_credential(c, "a `run` command", Place::Dockerfile, None);
                }
                for m in &run.mounts {
                    if let Mount::Secret { id, .. } = m {
                        self.secret_id_credential(id);
                    }
                }
            }
            InstructionKind::Healthcheck(h) => {
                self.value_credential(&h.command, "a health check", Place::Dockerfile, None);
            }
            InstructionKind::Cmd(words) | InstructionKind::Entrypoint(words) => {
                for w in words {
                    self.value_credential(w, "a command word", Place::Image, None);
                }
            }
            InstructionKind::Copy(c) => {
                if let Some(from) = &c.from {
                    self.image_source_credential(from, "`copy from=`");
                }
            }
            _ => {}
        }
    }

    fn env_credential(&mut self, e: &EnvVar, place: Place) {
        let what = format!("the value of `{}`", e.name.value);
        self.value_credential(&e.value, &what, place, Some(&e.name.value));
    }

    fn arg_credential(&mut self, a: &ArgDecl) {
        if let Some(v) = &a.value {
            let what = format!("build argument `{}`", a.name.value);
            self.value_credential(v, &what, Place::Dockerfile, Some(&a.name.value));
        }
    }

    fn value_credential(&mut self, v: &Text, what: &str, place: Place, name: Option<&str>) {
        if let Some((start, len)) = find_credential(&v.value) {
            self.push(Error::CredentialValue {
                what: what.to_string(),
                place: place.text().into(),
                span: inner_span(v.span, &v.value, start, len),
                help: place.help(name),
            });
        }
    }

    /// `user:password@` written before an image reference.
    fn image_source_credential(&mut self, source: &Spanned<ImageSource>, what: &str) {
        let text = source.value.as_str();
        if let Some((start, len)) = image_userinfo(text) {
            self.push(Error::CredentialValue {
                what: format!("the {what} reference"),
                place: "committed in the generated files".into(),
                span: inner_span(source.span, text, start, len),
                help: "write the reference without `user:password@` and log in to the registry instead: `registry NAME host=\"...\" { login ... }` for CI, `docker login` locally; if this was a real credential, revoke it".into(),
            });
        }
    }

    /// A secret's id names it; the value itself pasted there is a leak.
    fn secret_id_credential(&mut self, id: &Text) {
        if looks_like_credential(&id.value) {
            self.push(Error::CredentialValue {
                what: format!("the build secret id `{}`", id.value),
                place: "committed in the spec and the generated files".into(),
                span: id.span,
                help: "the id names the secret, it is not its value: write e.g. `secret \"token\" env=\"TOKEN\"` and keep the value in the variable `TOKEN`; if this was a real credential, revoke it".into(),
            });
        }
    }
}
