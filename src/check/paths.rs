//! Output paths inside `.git`: `sync` refuses them when it writes, and this rule refuses
//! them in the spec, so `check --spec-only` does too.

use super::Checker;
use super::values::is_under_git;
use crate::diagnostics::Error;

impl Checker<'_> {
    /// Every `output` setting with a `.git` component, in any case.
    pub(super) fn git_outputs(&mut self) {
        for (p, what) in self.spec.output.settings() {
            if is_under_git(&p.value) {
                self.push(Error::InvalidPath {
                    what: what.into(),
                    value: p.value.clone(),
                    span: p.span,
                    reason: "inside `.git`, which specc never writes".into(),
                    help: "write a path outside `.git`, e.g. `docker` or `specc.lock`".into(),
                });
            }
        }
    }
}
