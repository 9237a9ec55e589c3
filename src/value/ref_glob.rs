//! GitHub's filter pattern for branch and tag names (`on: push: branches/tags`), as
//! actionlint checks it: glob operators `*`, `**`, `?`, `+`, `[...]`, a leading `!`, `\`
//! escaping a special character, and only characters a Git ref name may hold.
//!
//! [`RefPattern`] is such a pattern parsed, for a tag rule's `branch=` filter: it matches
//! a branch name as GitHub's filter cheat sheet says (`*` stops at `/`, `**` does not,
//! `?` and `+` repeat the character before them zero-or-one and one-or-more times), and
//! writes itself as an RE2 regular expression for bake, which can only compare with one.

use std::fmt;

/// Why `s` is not a branch or tag pattern GitHub accepts.
pub fn check_ref_pattern(s: &str) -> Result<(), String> {
    RefPattern::parse(s).map(|_| ())
}

/// How often an item of a pattern repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Once,
    /// `?`
    Optional,
    /// `+`
    OneOrMore,
}

/// One item of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Char(char, Repeat),
    /// `[a-z0-9]`: inclusive ranges (a single character is a range of one).
    Class(Vec<(char, char)>, Repeat),
    /// `*`: any characters but `/`.
    Star,
    /// `**`: any characters.
    AnyPath,
}

/// A parsed branch filter pattern (see the module header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefPattern {
    text: String,
    negated: bool,
    items: Vec<Item>,
}

impl fmt::Display for RefPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl RefPattern {
    /// Parses `s`, or says why GitHub would refuse it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let items = parse_items(s)?;
        Ok(RefPattern {
            text: s.to_string(),
            negated: s.starts_with('!'),
            items,
        })
    }

    /// The literal name the pattern matches alone, when it has no operator.
    pub fn literal(&self) -> Option<String> {
        self.items
            .iter()
            .map(|i| match i {
                Item::Char(c, Repeat::Once) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// True for `!pattern`: it matches every name the pattern does not.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// True when branch `name` passes the filter.
    pub fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        // Positions reachable after each item, as an NFA would track them.
        let mut at = vec![false; chars.len() + 1];
        at[0] = true;
        for item in &self.items {
            let mut next = vec![false; chars.len() + 1];
            for start in (0..=chars.len()).filter(|&p| at[p]) {
                item.advance(&chars, start, &mut next);
            }
            at = next;
        }
        at[chars.len()] != self.negated
    }

    /// The pattern (without its `!`) as an anchored RE2 regular expression, which Go's
    /// `regexp` (bake) and Rust's `regex` read alike.
    pub fn regex(&self) -> String {
        let mut out = String::from("^");
        for item in &self.items {
            let (body, repeat) = match item {
                Item::Star => ("[^/]*".to_string(), Repeat::Once),
                Item::AnyPath => ("(?s:.*)".to_string(), Repeat::Once),
                Item::Char(c, r) => (regex_char(*c), *r),
                Item::Class(ranges, r) => {
                    let members: String = ranges
                        .iter()
                        .map(|(a, b)| {
                            if a == b {
                                regex_char(*a)
                            } else {
                                format!("{}-{}", regex_char(*a), regex_char(*b))
                            }
                        })
                        .collect();
                    (format!("[{members}]"), *r)
                }
            };
            out.push_str(&body);
            out.push_str(match repeat {
                Repeat::Once => "",
                Repeat::Optional => "?",
                Repeat::OneOrMore => "+",
            });
        }
        out.push('$');
        out
    }
}

/// A character as a regular expression: ASCII punctuation escaped (RE2 and Rust's
/// `regex` both take `\` before any of it, in and out of classes).
fn regex_char(c: char) -> String {
    if c.is_ascii_punctuation() {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

impl Item {
    /// Marks in `next` every position after this item when it starts at `start`.
    fn advance(&self, chars: &[char], start: usize, next: &mut [bool]) {
        let one = |p: usize| match self {
            Item::Char(c, _) => chars.get(p) == Some(c),
            Item::Class(ranges, _) => chars
                .get(p)
                .is_some_and(|c| ranges.iter().any(|(a, b)| (a..=b).contains(&c))),
            Item::Star | Item::AnyPath => false,
        };
        match self {
            Item::Star => {
                let mut p = start;
                next[p] = true;
                while p < chars.len() && chars[p] != '/' {
                    p += 1;
                    next[p] = true;
                }
            }
            Item::AnyPath => next[start..].iter_mut().for_each(|n| *n = true),
            Item::Char(_, repeat) | Item::Class(_, repeat) => {
                if *repeat == Repeat::Optional {
                    next[start] = true;
                }
                let mut p = start;
                while one(p) {
                    p += 1;
                    next[p] = true;
                    if *repeat != Repeat::OneOrMore {
                        break;
                    }
                }
            }
        }
    }
}

/// The items of pattern `s`, or why GitHub would refuse it.
fn parse_items(s: &str) -> Result<Vec<Item>, String> {
    if s.is_empty() {
        return Err("empty pattern".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(match c {
            '\n' | '\r' => "a line break; a pattern is one line".into(),
            _ => format!("control character {c:?}; Git ref names have none"),
        });
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    if chars[0] == '!' {
        if chars.len() == 1 {
            return Err("`!` negates a pattern; a pattern must follow it".into());
        }
        i = 1;
    } else if chars[0] == '/' {
        return Err("a ref name does not start with `/`".into());
    }
    let mut items: Vec<Item> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => match chars.get(i) {
                Some(&e @ ('+' | '\\' | '!')) => {
                    i += 1;
                    items.push(Item::Char(e, Repeat::Once));
                }
                Some(e @ ('[' | '?' | '*')) => {
                    return Err(format!(
                        "`{e}` cannot be part of a ref name, escaped or not"
                    ));
                }
                _ => {
                    return Err(
                        "`\\` only escapes `[`, `?`, `+`, `*`, `\\` and `!`; a ref name cannot hold it".into(),
                    );
                }
            },
            '?' | '+' => {
                let repeat = if c == '?' {
                    Repeat::Optional
                } else {
                    Repeat::OneOrMore
                };
                match items.last_mut() {
                    Some(Item::Char(_, r) | Item::Class(_, r)) if *r == Repeat::Once => {
                        *r = repeat;
                    }
                    _ => {
                        return Err(format!(
                            "`{c}` repeats the character before it, which must not be special"
                        ));
                    }
                }
            }
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                items.push(Item::AnyPath);
            }
            '*' => items.push(Item::Star),
            '[' => {
                let (ranges, after) = class(&chars, i)?;
                i = after;
                items.push(Item::Class(ranges, Repeat::Once));
            }
            ' ' | '~' | '^' | ':' => {
                return Err(format!("a ref name cannot contain `{c}`"));
            }
            _ => items.push(Item::Char(c, Repeat::Once)),
        }
    }
    if s.ends_with(['/', '.']) {
        return Err("a ref name does not end with `/` or `.`".into());
    }
    Ok(items)
}

/// A character class whose `[` is before `i`: its ranges and the index after its `]`.
fn class(chars: &[char], mut i: usize) -> Result<(Vec<(char, char)>, usize), String> {
    if chars.get(i) == Some(&']') {
        return Err("an empty character class `[]`".into());
    }
    let mut ranges = Vec::new();
    let mut members = 0;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("a `[` without its `]`".into());
        };
        i += 1;
        if c == ']' {
            break;
        }
        if chars.get(i) == Some(&'-') {
            match chars.get(i + 1) {
                Some(']') => return Err(format!("the range `{c}-` has no end")),
                Some(&end) => {
                    if c > end {
                        return Err(format!("the range `{c}-{end}` runs backwards"));
                    }
                    i += 2;
                    members += 2;
                    ranges.push((c, end));
                }
                None => return Err("a `[` without its `]`".into()),
            }
        } else {
            members += 1;
            ranges.push((c, c));
        }
    }
    if members == 1 {
        return Err("a class of one character; write the character itself".into());
    }
    Ok((ranges, i))
}

#[cfg(test)]
mod tests {
    use super::check_ref_pattern as check;

    #[test]
    fn accepted() {
        for ok in [
            "main",
            "v*",
            "release/**",
            "v[0-9]+.*",
            "!main",
            "a?",
            r"\+x",
            "v1.[ab]",
            "**",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "my branch",
            "a\0b",
            "a\nb",
            "!",
            "/main",
            "main/",
            "v1.",
            "+a",
            "*?",
            "[]",
            "[a",
            "[a]",
            "[z-a]",
            "a~1",
            "a^",
            "a:b",
            r"a\b",
            r"\*",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matching() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("main", &["main"], &["mainx", "xmain", "", "feature/main"]),
            ("!main", &["dev", "feature/main"], &["main"]),
            (
                "release/*",
                &["release/1.0", "release/"],
                &["release/1/2", "release"],
            ),
            ("release/**", &["release/1/2", "release/"], &["releases/1"]),
            ("v[0-9]+.*", &["v1.", "v12.x"], &["v.1", "vx.1", "v1.2/3"]),
            ("ab?c", &["ac", "abc"], &["abbc"]),
            ("a[bc]+", &["ab", "acbc"], &["a", "ad"]),
            (r"\+x", &["+x"], &["x", "++x"]),
            ("**", &["", "a/b"], &[]),
        ];
        for (pattern, yes, no) in cases {
            let p = super::RefPattern::parse(pattern).unwrap();
            let re = regex::Regex::new(&p.regex()).unwrap();
            for name in *yes {
                assert!(p.matches(name), "{pattern} should match {name:?}");
            }
            for name in *no {
                assert!(!p.matches(name), "{pattern} should not match {name:?}");
            }
            for name in yes.iter().chain(no.iter()) {
                // The regular expression bake compares with means the same.
                assert_eq!(
                    re.is_match(name) != p.is_negated(),
                    p.matches(name),
                    "{pattern} on {name:?}: regex {}",
                    p.regex()
                );
            }
        }
        assert_eq!(
            super::RefPattern::parse("main")
                .unwrap()
                .literal()
                .as_deref(),
            Some("main")
        );
        assert_eq!(super::RefPattern::parse("v*").unwrap().literal(), None);
    }
}
