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

/// Prefixes of well-known token formats (Docker Hub, GitHub, GitLab, Slack, OpenAI and
/// Anthropic style `sk-`, AWS access key ids).
const TOKEN_PREFIXES: &[&str] = &[
    "dckr_pat_",
    "dckr_oat_",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "sk-",
    "AKIA",
    "ASIA",
];

pub(crate) fn has_token_prefix(s: &str) -> bool {
    TOKEN_PREFIXES.iter().any(|p| s.starts_with(p))
}

/// The first credential-looking part of a literal value (an environment value, a label,
/// a command), as a byte range: a token of a known format, a random-looking token of 20
/// or more characters, or the password of a `scheme://user:password@host` URL that looks
/// random. Words, paths, URLs, hex digests (`sha256:...`) and placeholders such as
/// `postgresql://user:pass@db/app` are not.
pub fn find_credential(s: &str) -> Option<(usize, usize)> {
    if let Some(found) = url_password(s) {
        return Some(found);
    }
    tokens(s).find(|&(start, len)| {
        let t = &s[start..start + len];
        (has_token_prefix(t) && len >= 20 && t.contains(|c: char| c.is_ascii_digit()))
            || looks_random(t)
    })
}

/// Runs of characters between separators (white space, quotes, `=`, `,`, `;`, brackets,
/// shell operators), with their byte offsets.
fn tokens(s: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let separator = |c: char| c.is_whitespace() || "\"'`=,;()[]{}<>|&".contains(c);
    let mut start = None;
    let mut out = Vec::new();
    for (i, c) in s.char_indices().chain([(s.len(), ' ')]) {
        match (separator(c), start) {
            (true, Some(st)) => {
                out.push((st, i - st));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out.into_iter()
}

/// A token of base64/base62 characters, 20 or more long, that mixes lower case, upper
/// case and digits and switches between them as often as random text does (a third of
/// the characters or more; `MyApplicationServer2024` switches far less).
fn looks_random(t: &str) -> bool {
    let class = |c: char| match c {
        'a'..='z' => 0,
        'A'..='Z' => 1,
        '0'..='9' => 2,
        _ => 3,
    };
    if t.len() < 20
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/_-".contains(c))
    {
        return false;
    }
    let has = |k| t.chars().any(|c| class(c) == k);
    if !(has(0) && has(1) && has(2)) {
        return false;
    }
    let classes: Vec<u8> = t.chars().map(class).collect();
    let switches = classes.windows(2).filter(|w| w[0] != w[1]).count();
    switches * 3 >= t.len()
}

/// The password of the first `scheme://user:password@` in `s`, when it looks like a
/// credential (random, or a token of a known format).
fn url_password(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(at) = s[from..].find("://") {
        let auth_start = from + at + 3;
        let rest = &s[auth_start..];
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len());
        if let Some(at_sign) = rest[..end].rfind('@')
            && let Some(colon) = rest[..at_sign].find(':')
        {
            let pw = &rest[colon + 1..at_sign];
            if looks_random(pw) || (has_token_prefix(pw) && pw.len() >= 16) {
                return Some((auth_start + colon + 1, pw.len()));
            }
        }
        from = auth_start;
    }
    None
}

/// `user:password@` before an image reference (`from="me:hunter2@ghcr.io/x"`): a
/// registry login written into the reference, which no registry client reads.
pub fn image_userinfo(s: &str) -> Option<(usize, usize)> {
    let at = s.find('@')?;
    let before = &s[..at];
    // `name@sha256:...` is a digest; userinfo has a `:` and no `/` before the `@`.
    (before.contains(':') && !before.contains('/')).then_some((0, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(s: &str) -> Option<&str> {
        find_credential(s).map(|(a, n)| &s[a..a + n])
    }

    #[test]
    fn finds_credentials_in_values() {
        let openai = "sk-proj-Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY";
        assert_eq!(found(openai), Some(openai));
        assert_eq!(found("AKIAIOSFODNN7EXAMPLE"), Some("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(
            found("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        );
        let gh = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
        assert_eq!(
            found(&format!("curl -H 'Authorization: token {gh}'")),
            Some(gh)
        );
        assert_eq!(
            found("postgresql://app:Xk9mQ2vL7pR4tW8nB3cZ@db:5432/app"),
            Some("Xk9mQ2vL7pR4tW8nB3cZ")
        );
    }

    #[test]
    fn leaves_ordinary_values_alone() {
        for s in [
            "postgresql://user:pass@db:5432/app",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "https://raw.githubusercontent.com/tianon/gosu/1.17/LICENSE",
            "MyApplicationServer2024",
            "/opt/MyApp2/bin:/usr/local/bin:${PATH}",
            "org.opencontainers.image.description",
            "AWS_SECRET_ACCESS_KEY",
            "sk-learn",
            "python -m pip install --no-cache-dir -r requirements.txt",
        ] {
            assert_eq!(found(s), None, "{s}");
        }
    }

    #[test]
    fn finds_userinfo_in_image_references() {
        assert_eq!(image_userinfo("me:hunter2@ghcr.io/x/y:1"), Some((0, 10)));
        assert_eq!(image_userinfo("ghcr.io/x/y@sha256:abc"), None);
        assert_eq!(image_userinfo("postgres:16"), None);
    }
}
