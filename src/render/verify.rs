//! A rendered file in, `Ok` or an [`Error::InvalidOutput`] out: every YAML, HCL and JSON
//! output is parsed back, and every Dockerfile line is checked to be an instruction, a
//! comment or a continuation, before anything is written.

use super::Rendered;
use crate::diagnostics::Error;

const KEYWORDS: &[&str] = &[
    "FROM",
    "ARG",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "HEALTHCHECK",
    "SHELL",
    "STOPSIGNAL",
    "ONBUILD",
];

pub fn verify(out: &Rendered) -> Result<(), Error> {
    let fail = |format: &str, reason: String| Error::InvalidOutput {
        path: out.path.clone(),
        format: format.into(),
        reason,
    };
    let path = out.path.as_str();
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&out.contents)
            .map_err(|e| fail("YAML", e.to_string()))?;
    } else if path.ends_with(".hcl") {
        hcl::parse(&out.contents).map_err(|e| fail("HCL", e.to_string()))?;
    } else if path.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(&out.contents)
            .map_err(|e| fail("JSON", e.to_string()))?;
    } else if path.ends_with("Dockerfile") {
        dockerfile_lines(&out.contents).map_err(|e| fail("Dockerfile", e))?;
    }
    Ok(())
}

/// Each logical line is a comment, blank, or starts with an instruction keyword.
fn dockerfile_lines(text: &str) -> Result<(), String> {
    let mut continued = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let is_instruction = !continued
            && KEYWORDS
                .iter()
                .any(|k| trimmed.split_whitespace().next() == Some(k));
        if !continued && !trimmed.is_empty() && !trimmed.starts_with('#') && !is_instruction {
            return Err(format!("line {} is not an instruction: {line}", n + 1));
        }
        continued = !trimmed.starts_with('#') && line.ends_with('\\');
    }
    if continued {
        return Err("the last line continues past the end of the file".into());
    }
    Ok(())
}
