//! What a Dockerfile (and bake) can carry: the facts both `check` (which refuses a value)
//! and the renderer's escaping (which writes it) rely on.

/// True when `s` cannot sit on one Dockerfile line (a line break or a NUL byte).
pub fn breaks_line(s: &str) -> bool {
    s.contains(['\n', '\r', '\0'])
}

/// True when `s` has white space at either end.
pub fn has_surrounding_space(s: &str) -> bool {
    s.trim() != s
}

/// A word of `s` that BuildKit takes for a heredoc (`<<EOF`, `2<<-X`), splitting words
/// as its lexer does (quotes and escapes kept in the word).
pub fn heredoc_word(s: &str) -> Option<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None | Some('"'), '\\') => {
                word.push(c);
                word.extend(chars.next());
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                word.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                word.push(c);
            }
            _ => word.push(c),
        }
    }
    words.push(word);
    words.into_iter().find(|w| {
        let rest = w.trim_start_matches(|c: char| c.is_ascii_digit());
        rest.strip_prefix("<<")
            .map(|r| r.strip_prefix('-').unwrap_or(r))
            .is_some_and(|r| !r.is_empty() && !r.contains('<'))
    })
}

/// Why BuildKit would read a one-line, non-empty, trimmed command without a heredoc
/// differently from what it says, given whether it comes first on its RUN line.
pub fn command_misread(s: &str, first: bool) -> Option<&'static str> {
    use serde::Deserialize;
    if s.ends_with('\\') {
        return Some("a trailing `\\` would continue into the next Dockerfile line");
    }
    if first && s.starts_with("--") {
        return Some("Docker would read a leading `--` word as a flag of RUN");
    }
    let mut de = serde_json::Deserializer::from_str(s);
    if first && s.starts_with('[') && Vec::<serde_json::Value>::deserialize(&mut de).is_ok() {
        return Some("Docker would read a command starting with a JSON array as the exec form");
    }
    if !first && s.starts_with('#') {
        return Some("Docker would drop a continuation line starting with `#` as a comment");
    }
    None
}

/// The longest line BuildKit reads, in bytes: its line scanner's 64 KiB buffer holds the
/// line and its newline, and a longer line fails the whole Dockerfile.
pub const MAX_LINE_BYTES: usize = 64 * 1024 - 1;

/// At most how many bytes `s` takes on a Dockerfile line, however it is escaped there
/// (the worst case is a JSON string of a lexer-escaped word: `\` becomes `\\\\`, a
/// control character `\u00XX`), with its quotes and separators.
pub fn written_len_bound(s: &str) -> usize {
    let body: usize = s
        .chars()
        .map(|c| match c {
            c if c.is_ascii_control() => 6,
            '\\' | '"' | '\'' | '$' => 4,
            c => c.len_utf8(),
        })
        .sum();
    body + 8
}

/// At most how many bytes a Dockerfile line holding `values` takes: the values, the
/// keyword, the flags' names and the indentation.
pub fn line_len_bound<'a>(values: impl IntoIterator<Item = &'a str>) -> usize {
    256 + values
        .into_iter()
        .map(|v| written_len_bound(v) + 32)
        .sum::<usize>()
}

/// True when `s` can be a `--mount` option value as written.
pub fn is_mount_option(s: &str) -> bool {
    s.is_ascii()
        && !s.contains([',', '=', '"', '\'', '\\', '$'])
        && !s.contains(char::is_whitespace)
}

/// True when `s` is in Unicode NFC, the form `docker buildx bake` normalises strings to.
pub fn is_nfc(s: &str) -> bool {
    use unicode_normalization::{IsNormalized, is_nfc_quick};
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => unicode_normalization::is_nfc(s),
    }
}

/// An `add --checksum` digest as BuildKit takes it: `sha256:`, `sha384:` or `sha512:` and
/// that many lowercase hex digits.
pub fn check_checksum(s: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return Err("expected `ALGORITHM:HEX`".into());
    };
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        other => {
            return Err(format!(
                "unknown algorithm `{other}` (sha256, sha384 or sha512)"
            ));
        }
    };
    if hex.len() != len
        || !hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(format!("{algorithm} takes {len} lowercase hex digits"));
    }
    Ok(())
}

/// A variable a Dockerfile value expands: its name and where the reference (`$NAME`,
/// `${NAME}`, `${NAME:-word}`, ...) starts in the value and how long it is, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableRef {
    pub name: String,
    pub start: usize,
    pub len: usize,
}

/// Why a value does not expand as written, and where (byte offset and length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpansionError {
    pub reason: String,
    pub start: usize,
    pub len: usize,
}

/// The variables BuildKit's lexer expands in `s`, as specc writes an `(expand)` value (a
/// `\` is a literal backslash there, never an escape). A `$` before anything but a
/// name or `{` stays a literal `$`, as in BuildKit. Inside `${NAME...}` the forms
/// `:-`, `-`, `:+`, `+`, `:?` and `?` are known; their words may hold references too.
pub fn variable_refs(s: &str) -> Result<Vec<VariableRef>, ExpansionError> {
    let mut refs = Vec::new();
    let end = scan(s.as_bytes(), 0, false, &mut refs)?;
    debug_assert_eq!(end, s.len());
    Ok(refs)
}

/// Scans from `at` to the end (or to the `}` closing a `${...}` word when `nested`),
/// giving the offset where it stopped.
fn scan(
    b: &[u8],
    mut at: usize,
    nested: bool,
    refs: &mut Vec<VariableRef>,
) -> Result<usize, ExpansionError> {
    while at < b.len() {
        match b[at] {
            b'}' if nested => return Ok(at),
            b'$' if b.get(at + 1) == Some(&b'{') => at = braced(b, at, refs)?,
            b'$' if b
                .get(at + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') =>
            {
                let len = 1 + name_len(&b[at + 1..]);
                let name = String::from_utf8_lossy(&b[at + 1..at + len]).into_owned();
                refs.push(VariableRef {
                    name,
                    start: at,
                    len,
                });
                at += len;
            }
            _ => at += 1,
        }
    }
    Ok(at)
}

fn name_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count()
}

/// A `${...}` reference starting at `start`; the offset after its `}`.
fn braced(b: &[u8], start: usize, refs: &mut Vec<VariableRef>) -> Result<usize, ExpansionError> {
    let name_at = start + 2;
    let len = name_len(&b[name_at..]);
    let error = |reason: String, len: usize| ExpansionError { reason, start, len };
    if len == 0 || b[name_at].is_ascii_digit() {
        return Err(error("`${` is not followed by a variable name".into(), 2));
    }
    let name = String::from_utf8_lossy(&b[name_at..name_at + len]).into_owned();
    let index = refs.len();
    refs.push(VariableRef {
        name: name.clone(),
        start,
        len: 0,
    });
    let mut at = name_at + len;
    let rest = &b[at..];
    let operator = [":-", ":+", ":?", "-", "+", "?"]
        .into_iter()
        .find(|op| rest.starts_with(op.as_bytes()));
    if let Some(op) = operator {
        at = scan(b, at + op.len(), true, refs)?;
    } else if rest.first().is_some_and(|c| *c != b'}') {
        let form = String::from_utf8_lossy(&rest[..1]);
        return Err(error(
            format!(
                "`${{{name}{form}...}}` is not a form Dockerfile expansion knows; write `${{{name}}}`, `${{{name}:-default}}` or `${{{name}:+alternative}}`"
            ),
            at - start + 1,
        ));
    }
    if b.get(at) != Some(&b'}') {
        return Err(error("`${` has no closing `}`".into(), (at - start).max(2)));
    }
    refs[index].len = at + 1 - start;
    Ok(at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredocs() {
        assert_eq!(heredoc_word("cat <<EOF").as_deref(), Some("<<EOF"));
        assert_eq!(heredoc_word("cat 2<<-X").as_deref(), Some("2<<-X"));
        assert_eq!(heredoc_word("echo '<<EOF' \"a <<b\" <<<x"), None);
    }

    #[test]
    fn commands() {
        assert!(command_misread("make \\", true).is_some());
        assert!(command_misread("[ \"$x\" ] && echo", true).is_some());
        assert!(command_misread("[ -f x ]", true).is_none());
        assert!(command_misread("--x", true).is_some());
        assert!(command_misread("# x", false).is_some());
        assert!(command_misread("# x", true).is_none());
    }

    #[test]
    fn checksums() {
        assert!(check_checksum(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(check_checksum("sha256:abc").is_err());
        assert!(check_checksum(&format!("md5:{}", "a".repeat(32))).is_err());
        assert!(check_checksum(&format!("sha256:{}", "A".repeat(64))).is_err());
    }

    fn names(s: &str) -> Vec<String> {
        variable_refs(s)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    #[test]
    fn references() {
        assert_eq!(names("/opt/$APP/${B}/x"), ["APP", "B"]);
        assert_eq!(names("${A:-${B}x}-$ 1$"), ["A", "B"]);
        assert_eq!(names("a\\$B"), ["B"]);
        let r = &variable_refs("x${AB:+y}z").unwrap()[0];
        assert_eq!((r.start, r.len), (1, 8));
        assert!(variable_refs("${A").is_err());
        assert!(variable_refs("${}").is_err());
        assert!(variable_refs("${A#b}").is_err());
        assert!(variable_refs("${A:-b").is_err());
    }
}
