//! Spec strings in, text that means exactly the same string in a target format out.
//!
//! One function per format and position. A value a format cannot carry (a newline in a
//! Dockerfile shell line, say) gives `Err(reason)`; callers turn that into a diagnostic
//! rather than write a file that means something else.

/// A YAML double-quoted scalar.
pub fn yaml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // YAML forbids most control characters, BOM and the non-characters; escape them.
            c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A compose value: compose interpolates `$`, so a literal `$` is written `$$`.
pub fn compose(s: &str) -> String {
    yaml(&s.replace('$', "$$"))
}

/// A YAML scalar in a GitHub Actions workflow: GitHub evaluates `${{ ... }}` in almost
/// every field, so a literal `${{` is written as the expression `${{ '${{' }}`.
pub fn gha(s: &str) -> String {
    yaml(&s.replace("${{", "${{ '${{' }}"))
}

/// An HCL quoted string; `${` and `%{` would start interpolation, so they are doubled.
pub fn hcl(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string (Dockerfile exec form, JSON files).
pub fn json(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A Dockerfile exec-form array: `["a", "b"]`.
pub fn exec_form(words: &[String]) -> String {
    let items: Vec<String> = words.iter().map(|w| json(w)).collect();
    format!("[{}]", items.join(", "))
}

/// Why a value cannot sit on one Dockerfile line.
fn single_line(s: &str) -> Result<(), String> {
    if s.contains(['\n', '\r']) {
        return Err("a Dockerfile instruction cannot hold a line break here".into());
    }
    if s.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    Ok(())
}

/// A double-quoted Dockerfile value (ENV, LABEL, ARG). `$` is escaped so Docker does
/// not expand it, unless `expand` asks for Docker's variable expansion on purpose.
pub fn docker_quoted(s: &str, expand: bool) -> Result<String, String> {
    single_line(s)?;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' if !expand => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// A bare Dockerfile word (WORKDIR, USER): backslashes and `$` escaped.
pub fn docker_word(s: &str) -> Result<String, String> {
    single_line(s)?;
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err("leading or trailing white space would be lost".into());
    }
    Ok(s.replace('\\', "\\\\").replace('$', "\\$"))
}

/// COPY/ADD paths: plain words when simple, else the JSON form.
pub fn docker_paths(paths: &[String]) -> Result<String, String> {
    for p in paths {
        single_line(p)?;
        if p.contains('$') {
            return Err("`$` in a COPY/ADD path would be expanded by Docker".into());
        }
        if p.is_empty() {
            return Err("empty path".into());
        }
    }
    let simple = paths.iter().all(|p| {
        !p.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
            && !p.starts_with('[')
            && !p.starts_with("--")
    });
    Ok(if simple {
        paths.join(" ")
    } else {
        exec_form(paths)
    })
}

/// A shell command on a RUN or HEALTHCHECK line: kept byte for byte, but it must fit on
/// one line, and it must not end in a backslash (which would join the next line).
pub fn shell_command(s: &str) -> Result<&str, String> {
    single_line(s)?;
    if s.trim().is_empty() {
        return Err("empty command".into());
    }
    if s.trim_end().ends_with('\\') {
        return Err("a trailing `\\` would continue into the next Dockerfile line".into());
    }
    Ok(s)
}

/// Text for a `#` comment line: line breaks would end the comment, so they are folded.
pub fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_keeps_interpolation_literal() {
        assert_eq!(hcl("a${b}%{c}\"\\"), r#""a$${b}%%{c}\"\\""#);
        assert_eq!(hcl("$x"), "\"$x\"");
    }

    #[test]
    fn yaml_and_compose() {
        assert_eq!(yaml("a\"b\n#c"), r#""a\"b\n#c""#);
        assert_eq!(compose("$HOME ${{ x }}"), r#""$$HOME $${{ x }}""#);
    }

    #[test]
    fn dockerfile_values() {
        assert_eq!(
            docker_quoted("a \"b\" $C \\", false).unwrap(),
            r#""a \"b\" \$C \\""#
        );
        assert_eq!(docker_quoted("/x:$PATH", true).unwrap(), r#""/x:$PATH""#);
        assert!(docker_quoted("a\nb", false).is_err());
        assert_eq!(
            docker_paths(&["a b".into(), "/x/".into()]).unwrap(),
            r#"["a b", "/x/"]"#
        );
        assert_eq!(docker_paths(&["a".into(), "b/".into()]).unwrap(), "a b/");
        assert!(shell_command("echo \\").is_err());
    }
}
