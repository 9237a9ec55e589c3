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
        }
        let declared: HashSet<&str> = spec.secrets.iter().map(|s| s.id.as_str()).collect();
        let mut mounted = HashSet::new();
        for id in mounted_ids(spec) {
            mounted.insert(id.as_str());
            // A pasted credential is `credential_value`'s to report.
            if !declared.contains(id.as_str()) && !looks_like_credential(&id.value) {
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
            Mount::Cache { .. } => None,
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
