//! Spec strings in, text that means exactly the same string in a target format out.
//!
//! One function per format and position. A value a format cannot carry (a newline in a
//! Dockerfile shell line, say) gives `Err(reason)`; callers turn that into a diagnostic
//! rather than write a file that means something else. `check` refuses such values first
//! (the facts live in `crate::value::dockerfile`); these refusals are a second line.

use crate::value::dockerfile::heredoc_word;

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

/// Words a YAML 1.1 reader (Helm's go-yaml v2, PyYAML) takes as a boolean or null.
const YAML11_SPECIAL: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
];

/// A YAML mapping key: plain when every YAML reader (1.1 and 1.2) takes it as the same
/// string, double-quoted otherwise.
pub fn yaml_key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
        && !YAML11_SPECIAL.contains(&k);
    if plain { k.to_string() } else { yaml(k) }
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
///
/// A run of backslashes just before a `"` of the value or at its end is written outside
/// the quotes (`"abc"\\""` for `abc\`): BuildKit's lexer reads both forms the same, but
/// hadolint's parser cannot read `\\"` inside a quoted string, and a line must never
/// end in `\`, which some Dockerfile parsers take as a continuation before lexing.
pub fn docker_quoted(s: &str, expand: bool) -> Result<String, String> {
    single_line(s)?;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut run = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    run += 1;
                }
                let outside = matches!(chars.peek(), None | Some('"'));
                if outside {
                    out.push('"');
                }
                out.push_str(&"\\\\".repeat(run));
                if outside {
                    out.push('"');
                }
            }
            '"' => out.push_str("\\\""),
            '$' if !expand => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// `s` for BuildKit's shell lexer, which reads the values of COPY/ADD paths, VOLUME,
/// WORKDIR and USER: it removes quotes, treats `\` as an escape and expands `$VAR`, so
/// each of `\ " ' $` gets a backslash (and so does a leading byte-order mark, which the
/// lexer would skip); `$` keeps none when `expand` asks for Docker's expansion.
fn lexer_escaped(s: &str, expand: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        let special = matches!(c, '\\' | '"' | '\'') || (c == '$' && !expand);
        if special || (i == 0 && c == '\u{feff}') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A bare Dockerfile word (WORKDIR, USER), escaped for the shell lexer. A leading `--`
/// would be read as a flag of the instruction, so its first `-` is escaped too.
pub fn docker_word(s: &str, expand: bool) -> Result<String, String> {
    single_line(s)?;
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err("leading or trailing white space would be lost".into());
    }
    let mut escaped = lexer_escaped(s, expand);
    if escaped.starts_with("--") {
        escaped.insert(0, '\\');
    }
    // A line ending in `\` continues into the next one, decided before the lexer reads
    // the escape: an empty `""` after the escaped backslash ends the line instead.
    if escaped.ends_with('\\') {
        escaped.push_str("\"\"");
    }
    Ok(escaped)
}

/// The value of a `--flag=value` (COPY/ADD `--chown`): BuildKit's flag parser reads it
/// byte by byte (so only ASCII survives) and removes one level of quotes and escapes
/// before the shell lexer reads it.
pub fn docker_flag_word(s: &str, expand: bool) -> Result<String, String> {
    if !s.is_ascii() {
        return Err("Docker's flag parser mangles non-ASCII characters".into());
    }
    if s.contains(char::is_whitespace) {
        return Err("white space would end the flag".into());
    }
    let word = docker_word(s, expand)?;
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '\\' | '"' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

/// A LABEL key: quoted like a value, but BuildKit splits `key=value` at the first `=`
/// whatever the quoting, so a key cannot contain one.
pub fn docker_label_key(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("empty label key".into());
    }
    if s.contains('=') {
        return Err("Docker splits a label at its first `=`, so a key cannot contain one".into());
    }
    docker_quoted(s, false)
}

/// COPY/ADD paths, each with whether Docker may expand `$VAR` in it: plain words when
/// simple, else the JSON form (whose strings the shell lexer still reads, so they are
/// escaped for it). A word like `<<EOF` would start a heredoc in the plain form.
pub fn docker_paths(paths: &[(String, bool)]) -> Result<String, String> {
    for (p, _) in paths {
        single_line(p)?;
        if p.is_empty() {
            return Err("empty path".into());
        }
    }
    let simple = paths.iter().all(|(p, _)| {
        !p.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
            && !p.starts_with('[')
            && !p.starts_with("--")
            && !p.contains("<<")
    });
    Ok(if simple {
        let escaped: Vec<String> = paths.iter().map(|(p, e)| lexer_escaped(p, *e)).collect();
        escaped.join(" ")
    } else {
        lexer_list(paths)
    })
}

/// A JSON array whose strings BuildKit's shell lexer reads again (COPY/ADD, VOLUME),
/// each with whether Docker may expand `$VAR` in it.
pub fn lexer_list(words: &[(String, bool)]) -> String {
    let escaped: Vec<String> = words.iter().map(|(w, e)| lexer_escaped(w, *e)).collect();
    exec_form(&escaped)
}

/// A shell command on a RUN line: kept byte for byte, but it must fit on one line, must
/// not end in a backslash (which would join the next line), must not have white space at
/// its ends (BuildKit trims it), and must not contain a `<<WORD` heredoc word (BuildKit
/// would read the following lines as the heredoc's body).
pub fn shell_command(s: &str) -> Result<&str, String> {
    single_line(s)?;
    if s.trim().is_empty() {
        return Err("empty command".into());
    }
    if s.trim_end().ends_with('\\') {
        return Err("a trailing `\\` would continue into the next Dockerfile line".into());
    }
    if s.trim() != s {
        return Err("Docker trims white space at the ends of a command".into());
    }
    if let Some(word) = heredoc_word(s) {
        return Err(format!(
            "`{word}` would start a Dockerfile heredoc and swallow the following lines"
        ));
    }
    Ok(s)
}

/// Why a command cannot come first on a RUN line: BuildKit reads a leading JSON array as
/// the exec form (ignoring what follows it) and leading `--` words as flags.
pub fn first_shell_command(s: &str) -> Result<&str, String> {
    use serde::Deserialize;
    let s = shell_command(s)?;
    if s.starts_with("--") {
        return Err("Docker would read a leading `--` word as a flag of RUN".into());
    }
    let mut de = serde_json::Deserializer::from_str(s);
    if s.starts_with('[') && Vec::<serde_json::Value>::deserialize(&mut de).is_ok() {
        return Err(
            "Docker would read a command starting with a JSON array as the exec form".into(),
        );
    }
    Ok(s)
}

/// Why a command cannot start a continuation line: BuildKit drops such a line when it
/// starts with `#`, as a comment.
pub fn later_shell_command(s: &str) -> Result<&str, String> {
    let s = shell_command(s)?;
    if s.starts_with('#') {
        return Err("Docker would drop a continuation line starting with `#` as a comment".into());
    }
    Ok(s)
}

/// Text for a `#` comment line (YAML, HCL, Dockerfile, `.dockerignore`): every line
/// terminator any of them knows (`\n`, `\r`, and for YAML also U+0085, U+2028 and
/// U+2029) would end the comment and start a line of content, so each is folded to a
/// space; so are the other control characters and the byte-order mark, which YAML does
/// not allow in a stream.
pub fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if breaks_comment(c) { ' ' } else { c })
        .collect()
}

/// True for a character a `#` comment line cannot hold as written.
fn breaks_comment(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
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
            r#""a \"b\" \$C "\\"""#
        );
        assert_eq!(docker_quoted("a\\\"b", false).unwrap(), r#""a"\\"\"b""#);
        assert_eq!(docker_quoted("a\\b", false).unwrap(), r#""a\\b""#);
        assert_eq!(docker_word("/srv/app\\", false).unwrap(), r#"/srv/app\\"""#);
        assert_eq!(docker_quoted("/x:$PATH", true).unwrap(), r#""/x:$PATH""#);
        assert!(docker_quoted("a\nb", false).is_err());
        let lit = |s: &str| (s.to_string(), false);
        assert_eq!(
            docker_paths(&[lit("a b"), lit("/x/")]).unwrap(),
            r#"["a b", "/x/"]"#
        );
        assert_eq!(docker_paths(&[lit("a"), lit("b/")]).unwrap(), "a b/");
        assert_eq!(
            docker_paths(&[lit("a$b"), ("/x/${D}/".into(), true)]).unwrap(),
            r"a\$b /x/${D}/"
        );
        assert_eq!(docker_word("/$x", true).unwrap(), "/$x");
        assert!(shell_command("echo \\").is_err());
        assert!(shell_command("cat <<EOF").is_err());
        assert!(shell_command("echo '<<EOF' \"a <<b\" <<<x").is_ok());
        assert!(first_shell_command("[ \"$x\" ] && echo").is_err());
        assert!(first_shell_command("[ -f x ]").is_ok());
        assert!(later_shell_command("# x").is_err());
    }

    #[test]
    fn comments_fold_every_line_terminator() {
        assert_eq!(
            comment("a\nb\rc\u{85}d\u{2028}e\u{2029}f\u{0}g\u{feff}h\ti"),
            "a b c d e f g h\ti"
        );
    }

    #[test]
    fn lexer_words() {
        assert_eq!(
            docker_word("/it's \"$x\"", false).unwrap(),
            r#"/it\'s \"\$x\""#
        );
        assert_eq!(docker_word("--x", false).unwrap(), r"\--x");
        assert_eq!(docker_flag_word("a'b", false).unwrap(), r"a\\\'b");
        assert_eq!(
            docker_paths(&[("a'b".into(), false), ("/d/".into(), false)]).unwrap(),
            r#"["a\\'b", "/d/"]"#
        );
        assert!(docker_label_key("a=b").is_err());
    }
}
