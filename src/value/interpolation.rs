//! Compose interpolation, the one parser: `$$` (a literal `$`), `$NAME`, `${NAME}`, and
//! `${NAME<op>word}` with `op` one of `:-` `-` (default), `:?` `?` (error when unset),
//! `:+` `+` (alternative); `word` may itself hold interpolation. A value marked
//! `(expand)` in a compose field is parsed here, so a misspelt variable, an unclosed
//! brace or an unknown form is refused in `check`, never passed to compose.

/// One piece of an interpolated value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text as compose leaves it (`$$` already read as `$`).
    Literal(String),
    Variable(Variable),
}

/// A variable reference: `${NAME}`, `$NAME` or a form with a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// The operator (`:-`, `-`, `:?`, `?`, `:+`, `+`) and its word, when written.
    pub form: Option<(&'static str, Vec<Piece>)>,
}

/// Where (byte offset and length in the value) and why a value is not valid
/// interpolation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub offset: usize,
    pub len: usize,
    pub reason: String,
}

const OPERATORS: [&str; 6] = [":-", ":?", ":+", "-", "?", "+"];

/// Parses `s` as compose reads it.
pub fn parse(s: &str) -> Result<Vec<Piece>, InterpolationError> {
    let (pieces, end) = pieces(s, 0, false)?;
    debug_assert_eq!(end, s.len());
    Ok(pieces)
}

/// True when `s` reads at least one variable (`$$` alone does not).
pub fn has_variables(pieces: &[Piece]) -> bool {
    pieces.iter().any(|p| matches!(p, Piece::Variable(_)))
}

/// The value with every variable replaced by `with(variable)`, e.g. its default.
pub fn substitute(pieces: &[Piece], with: &dyn Fn(&Variable) -> String) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(t) => t.clone(),
            Piece::Variable(v) => with(v),
        })
        .collect()
}

/// The value compose gives when no variable is set: each `${NAME:-word}` and
/// `${NAME-word}` is its word; `None` when some variable has no default.
pub fn defaults(pieces: &[Piece]) -> Option<String> {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Literal(t) => out.push_str(t),
            Piece::Variable(Variable {
                form: Some((":-" | "-", word)),
                ..
            }) => out.push_str(&defaults(word)?),
            Piece::Variable(_) => return None,
        }
    }
    Some(out)
}

/// The value with each variable at its default where it has one, else `filler`: a
/// sample of what compose may give, for checks of the parts around the variables.
pub fn sample(pieces: &[Piece], filler: &str) -> String {
    substitute(pieces, &|v| match &v.form {
        Some((":-" | "-", word)) => sample(word, filler),
        _ => filler.to_string(),
    })
}

/// The value compose gives when `lookup` says which variables are set (and to what);
/// `None` when a `?` form finds its variable missing (compose then stops with an error).
pub fn resolve(pieces: &[Piece], lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    for p in pieces {
        let Piece::Variable(v) = p else {
            if let Piece::Literal(t) = p {
                out.push_str(t);
            }
            continue;
        };
        let value = lookup(&v.name);
        let set = value.is_some();
        let non_empty = value.as_deref().is_some_and(|x| !x.is_empty());
        let resolved = match &v.form {
            None => value.unwrap_or_default(),
            Some((op, word)) => {
                let (test, replace_when_true) = match *op {
                    ":-" => (non_empty, false),
                    "-" => (set, false),
                    ":?" if !non_empty => return None,
                    "?" if !set => return None,
                    ":+" => (non_empty, true),
                    "+" => (set, true),
                    _ => (true, false),
                };
                match (test, replace_when_true) {
                    (true, false) => value.unwrap_or_default(),
                    (false, false) | (true, true) => resolve(word, lookup)?,
                    (false, true) => String::new(),
                }
            }
        };
        out.push_str(&resolved);
    }
    Some(out)
}

/// The names of every variable `pieces` reads, words included.
pub fn variables(pieces: &[Piece]) -> Vec<String> {
    let mut out = Vec::new();
    for p in pieces {
        if let Piece::Variable(v) = p {
            out.push(v.name.clone());
            if let Some((_, word)) = &v.form {
                out.extend(variables(word));
            }
        }
    }
    out
}

fn error(offset: usize, len: usize, reason: impl Into<String>) -> InterpolationError {
    InterpolationError {
        offset,
        len,
        reason: reason.into(),
    }
}

/// Pieces from byte `at` to the end of `s`, or (`nested`) to the `}` that closes the
/// enclosing `${`; returns them and the offset of that `}` (or of the end).
fn pieces(s: &str, mut at: usize, nested: bool) -> Result<(Vec<Piece>, usize), InterpolationError> {
    let mut out = Vec::new();
    let mut text = String::new();
    while at < s.len() {
        let rest = &s[at..];
        if nested && rest.starts_with('}') {
            break;
        }
        if !rest.starts_with('$') {
            let c = rest.chars().next().unwrap_or_default();
            text.push(c);
            at += c.len_utf8();
            continue;
        }
        if rest.starts_with("$$") {
            text.push('$');
            at += 2;
            continue;
        }
        if !text.is_empty() {
            out.push(Piece::Literal(std::mem::take(&mut text)));
        }
        let (variable, next) = variable(s, at)?;
        out.push(Piece::Variable(variable));
        at = next;
    }
    if !text.is_empty() {
        out.push(Piece::Literal(text));
    }
    Ok((out, at))
}

/// The length of the variable name at the start of `s` (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_len(s: &str) -> usize {
    let first = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first {
        return 0;
    }
    s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// The variable whose `$` is at byte `at` of `s`, and the offset after it.
fn variable(s: &str, at: usize) -> Result<(Variable, usize), InterpolationError> {
    let after = &s[at + 1..];
    if !after.starts_with('{') {
        let len = name_len(after);
        if len == 0 {
            return Err(error(
                at,
                1,
                "a `$` that starts no variable; write `$$` for a literal `$`",
            ));
        }
        let name = after[..len].to_string();
        return Ok((Variable { name, form: None }, at + 1 + len));
    }
    let start = at + 2;
    let len = name_len(&s[start..]);
    let rest = &s[start + len..];
    if len == 0 {
        let shown = rest.chars().next().map_or(0, char::len_utf8);
        return Err(error(
            at,
            2 + shown,
            "`${` must be followed by a variable name (letters, digits and `_`, not starting with a digit)",
        ));
    }
    let name = s[start..start + len].to_string();
    if rest.starts_with('}') {
        return Ok((Variable { name, form: None }, start + len + 1));
    }
    let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
        if rest.is_empty() {
            return Err(error(at, s.len() - at, "`${` is never closed with `}`"));
        }
        let shown = rest.chars().next().map_or(0, char::len_utf8);
        return Err(error(
            start + len,
            shown,
            "not a known form: write `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `${NAME:+alternative}` or `${NAME+alternative}`",
        ));
    };
    let word_at = start + len + op.len();
    let (word, end) = pieces(s, word_at, true)?;
    if end >= s.len() {
        return Err(error(at, s.len() - at, "`${` is never closed with `}`"));
    }
    let form = Some((*op, word));
    Ok((Variable { name, form }, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str) -> Piece {
        Piece::Variable(Variable {
            name: name.into(),
            form: None,
        })
    }

    fn lit(t: &str) -> Piece {
        Piece::Literal(t.into())
    }

    #[test]
    fn literal_text_and_escaped_dollars() {
        assert_eq!(parse("a $$b").unwrap(), [lit("a $b")]);
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn variables_in_every_form() {
        assert_eq!(parse("$A:${B}").unwrap(), [var("A"), lit(":"), var("B")]);
        let p = parse("${PORT:-8080}:80").unwrap();
        assert_eq!(
            p,
            [
                Piece::Variable(Variable {
                    name: "PORT".into(),
                    form: Some((":-", vec![lit("8080")])),
                }),
                lit(":80"),
            ]
        );
        for op in OPERATORS {
            assert!(parse(&format!("${{X{op}w}}")).is_ok(), "{op}");
        }
        let nested = parse("${A:-${B:-x}}").unwrap();
        assert!(
            matches!(&nested[0], Piece::Variable(v) if v.form.as_ref().unwrap().1 == [Piece::Variable(Variable { name: "B".into(), form: Some((":-", vec![lit("x")])) })])
        );
    }

    #[test]
    fn errors_say_where() {
        let e = parse("x ${A").unwrap_err();
        assert_eq!((e.offset, e.len), (2, 3));
        assert!(e.reason.contains("never closed"));
        let e = parse("${A:-b").unwrap_err();
        assert!(e.reason.contains("never closed"), "{e:?}");
        let e = parse("${1A}").unwrap_err();
        assert!(e.reason.contains("variable name"));
        let e = parse("${A*b}").unwrap_err();
        assert_eq!((e.offset, e.len), (3, 1));
        assert!(e.reason.contains("known form"));
        let e = parse("5$ off").unwrap_err();
        assert_eq!((e.offset, e.len), (1, 1));
        assert!(e.reason.contains("$$"));
    }

    #[test]
    fn resolution_follows_each_form() {
        let env = |n: &str| match n {
            "SET" => Some("v".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let r = |s: &str| resolve(&parse(s).unwrap(), &env);
        assert_eq!(r("${SET:-d}/${EMPTY:-d}/${NONE:-d}").unwrap(), "v/d/d");
        assert_eq!(r("${SET-d}/${EMPTY-d}/${NONE-d}").unwrap(), "v//d");
        assert_eq!(
            r("${SET:+a}/${EMPTY:+a}/${EMPTY+a}/${NONE+a}").unwrap(),
            "a//a/"
        );
        assert_eq!(r("$SET${NONE}${NONE:-${SET}}").unwrap(), "vv");
        assert_eq!(r("${SET:?e}").unwrap(), "v");
        assert_eq!(r("${EMPTY:?e}"), None);
        assert_eq!(r("${EMPTY?e}").unwrap(), "");
        assert_eq!(r("${NONE?e}"), None);
        let vars = variables(&parse("${A:-${B}}$C").unwrap());
        assert_eq!(vars, ["A", "B", "C"]);
    }

    #[test]
    fn substitution_uses_the_callback() {
        let p = parse("${A:-x}/${B}").unwrap();
        assert!(has_variables(&p));
        let s = substitute(&p, &|v| format!("<{}>", v.name));
        assert_eq!(s, "<A>/<B>");
        assert!(!has_variables(&parse("$$").unwrap()));
    }
}
