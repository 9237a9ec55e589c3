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
}
