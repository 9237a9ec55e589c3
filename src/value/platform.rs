//! A platform, `os/arch[/variant]` as BuildKit spells it, parsed once at decode;
//! [`fmt::Display`] gives back the spec's text.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    text: String,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Platform {
    /// Parses `s`, or gives the reason and the help.
    pub fn parse(s: &str) -> Result<Self, (String, String)> {
        let p = parts(s)?;
        Ok(Platform {
            text: s.to_string(),
            os: p[0].to_string(),
            arch: p[1].to_string(),
            variant: p.get(2).map(|v| v.to_string()),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

const OSES: &[&str] = &["linux", "windows", "darwin", "freebsd"];
const ARCHES: &[&str] = &[
    "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64",
];

/// The parts of `os/arch[/variant]`, or the reason and the help.
fn parts(s: &str) -> Result<Vec<&str>, (String, String)> {
    let parts: Vec<&str> = s.split('/').collect();
    let help = "write `os/arch[/variant]`, e.g. `linux/amd64`, `linux/arm64` or `linux/arm/v7`";
    if !(2..=3).contains(&parts.len()) {
        return Err((
            "expected `os/arch` or `os/arch/variant`".into(),
            help.into(),
        ));
    }
    if !OSES.contains(&parts[0]) {
        let h = crate::diagnostics::suggest("operating systems", parts[0], OSES.iter().copied());
        return Err((format!("unknown operating system `{}`", parts[0]), h));
    }
    if !ARCHES.contains(&parts[1]) {
        let mut h = crate::diagnostics::suggest("architectures", parts[1], ARCHES.iter().copied());
        if matches!(parts[1], "x86_64" | "x86" | "x64" | "amd") {
            h = "did you mean `amd64`?".into();
        } else if matches!(parts[1], "aarch64" | "armv8") {
            h = "did you mean `arm64`?".into();
        }
        return Err((format!("unknown architecture `{}`", parts[1]), h));
    }
    if let Some(variant) = parts.get(2) {
        let ok = match parts[1] {
            "arm" => ["v5", "v6", "v7"].contains(variant),
            "arm64" => ["v8"].contains(variant),
            "amd64" => ["v2", "v3", "v4"].contains(variant),
            _ => false,
        };
        if !ok {
            return Err((
                format!("`{}` has no variant `{variant}`", parts[1]),
                "arm takes v5, v6 or v7; arm64 takes v8; amd64 takes v2, v3 or v4".into(),
            ));
        }
    }
    Ok(parts)
}
