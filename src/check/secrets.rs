//! Build secrets: every `run { secret ID }` mount names a top-level `secret ID` that says
//! where its value comes from (a declared secret no run mounts is a warning), and a
//! secret read from a file names a path inside the repository.

use std::collections::HashSet;

use super::Checker;
use crate::diagnostics::{Error, closest};
use crate::spec::{InstructionKind, Mount, SecretSource, Text};
use crate::value::looks_like_credential;

impl Checker<'_> {
    pub(super) fn build_secrets(&mut self) {
        let spec = self.spec;
        for s in &spec.secrets {
            if let SecretSource::File(path) = &s.local {
                self.path(path, "secret file");
            }
            self.secret_id(&s.id);
        }
        self.secret_variables();
        let declared: HashSet<&str> = spec.secrets.iter().map(|s| s.id.as_str()).collect();
        let mut mounted = HashSet::new();
        for id in mounted_ids(spec) {
            mounted.insert(id.as_str());
            // A pasted credential is `credential_value`'s to report, an empty id or a
            // control character `mount_value`'s.
            let reported = looks_like_credential(&id.value)
                || id.value.is_empty()
                || id.value.contains(char::is_control);
            if !declared.contains(id.as_str()) && !reported {
                self.push(Error::UndeclaredSecret {
                    id: id.value.clone(),
                    span: id.span,
                    help: undeclared_help(&id.value, spec.secrets.iter().map(|s| s.id.as_str())),
                });
            }
        }
        for s in &spec.secrets {
            if !mounted.contains(s.id.as_str()) {
                self.push(Error::UnusedSecret {
                    id: s.id.value.clone(),
                    span: s.id.span,
                });
            }
        }
    }
}

impl Checker<'_> {
    /// Compose names a top-level secret with letters, digits and `._-` only.
    fn secret_id(&mut self, id: &Text) {
        let ok = !id.value.is_empty()
            && id
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok && !looks_like_credential(&id.value) {
            self.push(Error::MountValue {
                what: "a build secret id".into(),
                span: id.span,
                reason: "compose takes letters, digits, `.`, `_` and `-` only".into(),
                help: format!(
                    "write e.g. `secret \"{}\"`",
                    crate::value::to_name(&id.value)
                ),
            });
        }
    }

    /// The variable each secret is passed in (bake's `env=`, set by the workflow in CI)
    /// is one bake or the workflow reads for something else, or carries another secret.
    fn secret_variables(&mut self) {
        let spec = self.spec;
        let mut taken: Vec<(&str, &str)> = Vec::new();
        for s in &spec.secrets {
            let (var, span) = match &s.local {
                SecretSource::Env(e) => (e.value.as_str(), e.span),
                SecretSource::File(_) => (s.github.value.as_str(), s.github.span),
            };
            let github = s.github.value.as_str();
            let reason = if reserved_variable(spec, var) {
                Some("bake and the workflow read this variable for the build itself")
            } else if taken.iter().any(|(v, g)| *v == var && *g != github) {
                Some("another secret is passed in this variable")
            } else {
                None
            };
            taken.push((var, github));
            if let Some(reason) = reason {
                let fix = crate::value::to_variable_name(&format!("{}_SECRET", s.id.value));
                self.push(Error::SecretVariable {
                    id: s.id.value.clone(),
                    var: var.to_string(),
                    span,
                    reason: reason.into(),
                    help: format!(
                        "name another variable, e.g. `secret \"{}\" env=\"{fix}\" github=\"{github}\"`",
                        s.id.value
                    ),
                });
            }
        }
    }
}

/// Variables bake and the workflow read: the run-time rules' and the registries'.
fn reserved_variable(spec: &crate::spec::Spec, var: &str) -> bool {
    crate::value::reference::RUNTIME_VARIABLES.contains(&var)
        || spec.registries.iter().any(|r| {
            r.namespace_secret
                .as_ref()
                .is_some_and(|n| n.value.as_str() == var)
        })
}

/// The id of every secret mount, in spec order.
fn mounted_ids(spec: &crate::spec::Spec) -> impl Iterator<Item = &Text> {
    spec.stages
        .iter()
        .flat_map(|s| &s.instructions)
        .filter_map(|i| match &i.kind {
            InstructionKind::Run(run) => Some(&run.mounts),
            _ => None,
        })
        .flatten()
        .filter_map(|m| match m {
            Mount::Secret { id, .. } => Some(id),
            Mount::Cache { .. } | Mount::Bind { .. } => None,
        })
}

fn undeclared_help<'a>(id: &str, declared: impl Iterator<Item = &'a str>) -> String {
    let declared: Vec<&str> = declared.collect();
    if let Some(near) = closest(id, declared.iter().copied()) {
        return format!("did you mean `{near}`? or declare it: `secret \"{id}\"`");
    }
    let var = crate::value::to_variable_name(id);
    format!(
        "declare where it comes from at the top level, e.g. `secret \"{id}\" env=\"{var}\"` (a local build reads the variable `{var}`, CI the repository secret `{var}`), or `secret \"{id}\" file=\"secrets/{id}\" github=\"{var}\"`"
    )
}
