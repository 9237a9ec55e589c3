//! Spec text in, KDL v2 document out (spans kept).
//!
//! kdl's own diagnostics carry an unnamed source, so each one becomes a
//! [`Error::Syntax`] that the caller attaches to the spec's named source.

use kdl::KdlDocument;
use miette::SourceSpan;

use crate::diagnostics::Error;

/// How deep children blocks, block comments and chains of `/-` may nest. kdl's parser
/// recurses once per level, and a few hundred levels overflow the stack, which aborts the
/// process instead of reporting an error; real specs use three or four levels.
pub const MAX_NESTING: usize = 64;

/// At most this many syntax errors are reported, then how many more there are: past a
/// first mistake (an unclosed string) the rest are mostly echoes of it.
pub const MAX_SYNTAX_ERRORS: usize = 100;

pub fn parse(text: &str) -> Result<KdlDocument, Vec<Error>> {
    if let Some(error) = too_deep(text) {
        return Err(vec![error]);
    }
    KdlDocument::parse_v2(text).map_err(|e| {
        let mut errors: Vec<Error> = Vec::new();
        // kdl may report one problem several times; a set keeps dropping them linear.
        let mut seen = std::collections::HashSet::new();
        for d in e.diagnostics {
            // Clamp to the text: a span past the end would break rendering.
            let offset = d.span.offset().min(text.len());
            let len = d.span.len().min(text.len() - offset);
            // KDL v1 keywords (`true`, `null`) are bare identifiers, not values, in KDL v2.
            let keyword = text
                .get(offset..offset + len)
                .filter(|t| ["true", "false", "null", "inf", "nan"].contains(t));
            let error = Error::Syntax {
                message: d.message.unwrap_or_else(|| "invalid KDL".into()),
                span: SourceSpan::from((offset, len)),
                label: match keyword {
                    Some(k) => format!("`{k}` is a KDL v1 keyword"),
                    None => d.label.unwrap_or_else(|| "here".into()),
                },
                help: match keyword {
                    Some(k) => Some(format!(
                        "KDL v2 writes keywords with `#`: write `#{k}` (or `\"{k}\"` for the text)"
                    )),
                    None => d.help.or_else(|| {
                        Some("see https://kdl.dev for KDL v2 syntax; strings with spaces need double quotes".into())
                    }),
                },
            };
            if seen.insert(format!("{error:?}")) {
                errors.push(error);
            }
        }
        if errors.len() > MAX_SYNTAX_ERRORS {
            let rest = errors.len() - MAX_SYNTAX_ERRORS;
            let next = match &errors[MAX_SYNTAX_ERRORS] {
                Error::Syntax { span, .. } => *span,
                _ => SourceSpan::from((0, 0)),
            };
            errors.truncate(MAX_SYNTAX_ERRORS);
            errors.push(Error::Syntax {
                message: format!("{rest} more syntax errors are not shown"),
                span: next,
                label: "the next one is here".into(),
                help: Some(
                    "fix the errors above first: one unclosed string or block often causes many"
                        .into(),
                ),
            });
        }
        if errors.is_empty() {
            errors.push(Error::Syntax {
                message: "invalid KDL".into(),
                span: SourceSpan::from((0, 0)),
                label: "here".into(),
                help: None,
            });
        }
        errors
    })
}

/// The first place where blocks, block comments or `/-` chains nest deeper than
/// [`MAX_NESTING`], found by a light scan that skips strings and comments.
fn too_deep(text: &str) -> Option<Error> {
    let b = text.as_bytes();
    let at = |i: usize, s: &[u8]| b.get(i..i + s.len()) == Some(s);
    let error = |offset: usize, len: usize, what: &str, help: &str| Error::Syntax {
        message: format!("{what} nest more than {MAX_NESTING} levels deep"),
        span: SourceSpan::from((offset, len)),
        label: "too deep here".into(),
        help: Some(help.into()),
    };
    let mut i = 0;
    let mut blocks = 0usize;
    // `/-` in a row, with only whitespace and line continuations between them.
    let mut slashdashes = 0usize;
    while i < b.len() {
        if at(i, b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if at(i, b"/*") {
            let mut level = 0usize;
            while i < b.len() {
                if at(i, b"/*") {
                    level += 1;
                    if level > MAX_NESTING {
                        return Some(error(
                            i,
                            2,
                            "block comments",
                            "close each `/*` with `*/`; comments this deep are not a spec",
                        ));
                    }
                    i += 2;
                } else if at(i, b"*/") {
                    level -= 1;
                    i += 2;
                    if level == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if at(i, b"/-") {
            slashdashes += 1;
            if slashdashes > MAX_NESTING {
                return Some(error(
                    i,
                    2,
                    "`/-` comments",
                    "one `/-` comments out the next node, argument or block; remove the others",
                ));
            }
            i += 2;
            continue;
        }
        match b[i] {
            b'{' => {
                slashdashes = 0;
                blocks += 1;
                if blocks > MAX_NESTING {
                    return Some(error(
                        i,
                        1,
                        "children blocks",
                        "close each `{` with `}`; a spec needs only a few levels of blocks",
                    ));
                }
            }
            b'}' => {
                slashdashes = 0;
                blocks = blocks.saturating_sub(1);
            }
            b'"' | b'#' => {
                slashdashes = 0;
                i = skip_string(b, i);
                continue;
            }
            c if c.is_ascii_whitespace() || c == b'\\' => {}
            _ => slashdashes = 0,
        }
        i += 1;
    }
    None
}

/// The index after the string (quoted, multi-line or raw) or keyword starting at `i`.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    let hashes = b[i..].iter().take_while(|c| **c == b'#').count();
    i += hashes;
    if b.get(i) != Some(&b'"') {
        return i; // a keyword such as `#true`
    }
    let triple = b.get(i..i + 3) == Some(b"\"\"\"");
    i += if triple { 3 } else { 1 };
    let quotes = if triple { 3 } else { 1 };
    while i < b.len() {
        if hashes == 0 && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i..].starts_with(&b"\"\"\""[..quotes])
            && b[i + quotes..]
                .iter()
                .take(hashes)
                .filter(|c| **c == b'#')
                .count()
                == hashes
        {
            return i + quotes + hashes;
        }
        if !triple && hashes == 0 && b[i] == b'\n' {
            return i; // an unclosed string: the parser reports it
        }
        i += 1;
    }
    i
}
