//! Image references, `[host[:port]/]path[:tag][@digest]` (or `scratch`), parsed once at
//! decode. A value that names an image may also be a stage, a spec image or `$ARG`,
//! which only `check` can tell apart, so such a value is an [`ImageSource`]: its text and
//! the outcome of parsing it as a reference, which `check` reports where it is meant as
//! one. [`fmt::Display`] gives back the spec's text.

use std::fmt;

use super::{check_host, check_repository_path, check_tag};

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    text: String,
    /// Where the tag or digest starts (the length of the repository).
    repository_len: usize,
    tag: Option<String>,
    digest: Option<String>,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ImageRef {
    /// Parses `s`, or gives the reason it is not a reference.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty".into());
        }
        if s.contains('$') {
            return Err(
                "`$` starts a variable interpolation, which an image reference cannot hold".into(),
            );
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(digest(d)?)),
            None => (s, None),
        };
        // The tag is after the last `:` that follows the last `/`.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            check_tag(t).map_err(|r| format!("tag `{t}`: {r}"))?;
        }
        check_name(name)?;
        Ok(ImageRef {
            text: s.to_string(),
            repository_len: name.len(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The repository as written: everything before the tag and digest.
    pub fn repository(&self) -> &str {
        &self.text[..self.repository_len]
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest without its `@` (`sha256:...`).
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
}

fn digest(d: &str) -> Result<String, String> {
    let ok = d.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    if ok {
        Ok(d.to_string())
    } else {
        Err(format!(
            "`@{d}` is not a digest like `@sha256:<64 hex digits>`"
        ))
    }
}

/// `[host[:port]/]path`.
fn check_name(name: &str) -> Result<(), String> {
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            check_host(first).map_err(|r| format!("registry host `{first}`: {r}"))?;
            parts.remove(0);
        }
    }
    check_repository_path(&parts.join("/"))
}

/// A value that names an image: a reference, or a name `check` resolves (a stage, a spec
/// image, `$ARG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    text: String,
    reference: Result<ImageRef, String>,
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ImageSource {
    pub fn parse(s: &str) -> Self {
        ImageSource {
            text: s.to_string(),
            reference: ImageRef::parse(s),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value read as a reference, or why it is not one.
    pub fn reference(&self) -> Result<&ImageRef, &str> {
        self.reference.as_ref().map_err(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        let r = ImageRef::parse("ghcr.io/a/b:1.2@sha256:0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(r.repository(), "ghcr.io/a/b");
        assert_eq!(r.tag(), Some("1.2"));
        assert_eq!(r.digest(), Some("sha256:0123456789abcdef0123456789abcdef"));
        let r = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!((r.repository(), r.tag()), ("localhost:5000/app", None));
    }
}
