//! The NAME of a CI secret (`username-secret=DOCKERHUB_TOKEN`), validated once at decode:
//! a name of letters, digits and `_` that GitHub does not reserve, and not a credential
//! pasted in its place. [`fmt::Display`] gives back the spec's text.

use std::fmt;

use super::{is_variable_name, looks_like_credential};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName(String);

/// Why a value is not a secret name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretProblem {
    /// The value looks like the secret itself.
    Credential,
    Invalid(String),
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl SecretName {
    pub fn parse(s: &str) -> Result<Self, SecretProblem> {
        if looks_like_credential(s) {
            return Err(SecretProblem::Credential);
        }
        if !is_variable_name(s) {
            return Err(SecretProblem::Invalid(
                "secret names hold only letters, digits and `_`, and do not start with a digit"
                    .into(),
            ));
        }
        if s.to_ascii_uppercase().starts_with("GITHUB_") {
            return Err(SecretProblem::Invalid(
                "GitHub reserves names that start with `GITHUB_`".into(),
            ));
        }
        Ok(SecretName(s.to_string()))
    }

    /// A value already reported as not a secret name, kept (as decode keeps an invalid
    /// declaration name) so that its node is still checked; such a spec never plans.
    pub(crate) fn reported(s: &str) -> Self {
        SecretName(s.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
