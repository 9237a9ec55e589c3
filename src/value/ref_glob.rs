//! GitHub's filter pattern for branch and tag names (`on: push: branches/tags`), as
//! actionlint checks it: glob operators `*`, `**`, `?`, `+`, `[...]`, a leading `!`, `\`
//! escaping a special character, and only characters a Git ref name may hold.

/// Why `s` is not a branch or tag pattern GitHub accepts.
pub fn check_ref_pattern(s: &str) -> Result<(), String> {
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
    // Whether the previous item can take a `?` or `+` quantifier.
    let mut repeatable = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => match chars.get(i) {
                Some('+' | '\\' | '!') => {
                    i += 1;
                    repeatable = true;
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
                if !repeatable {
                    return Err(format!(
                        "`{c}` repeats the character before it, which must not be special"
                    ));
                }
                repeatable = false;
            }
            '*' => repeatable = false,
            '[' => {
                i = class(&chars, i)?;
                repeatable = true;
            }
            ' ' | '~' | '^' | ':' => {
                return Err(format!("a ref name cannot contain `{c}`"));
            }
            _ => repeatable = true,
        }
    }
    if s.ends_with(['/', '.']) {
        return Err("a ref name does not end with `/` or `.`".into());
    }
    Ok(())
}

/// A character class whose `[` is before `i`; the index after its `]`.
fn class(chars: &[char], mut i: usize) -> Result<usize, String> {
    if chars.get(i) == Some(&']') {
        return Err("an empty character class `[]`".into());
    }
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
                }
                None => return Err("a `[` without its `]`".into()),
            }
        } else {
            members += 1;
        }
    }
    if members == 1 {
        return Err("a class of one character; write the character itself".into());
    }
    Ok(i)
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
}
