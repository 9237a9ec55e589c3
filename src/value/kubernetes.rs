//! Kubernetes value grammars for Helm values: label keys and values (a node selector)
//! and resource quantities (`resources cpu=` / `memory=`).

/// A label name or value: at most 63 characters of `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
fn label_name(s: &str) -> Result<(), String> {
    if s.len() > 63 {
        return Err("longer than 63 characters".into());
    }
    let ok_inner = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if !s.chars().all(ok_inner) {
        return Err("only letters, digits, `-`, `_` and `.` are allowed".into());
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !s.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("must start and end with a letter or a digit".into());
    }
    Ok(())
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name.
pub fn check_label_key(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty key".into());
    }
    let name = match s.split_once('/') {
        Some((prefix, name)) => {
            check_dns_subdomain(prefix).map_err(|why| format!("the prefix `{prefix}`: {why}"))?;
            name
        }
        None => s,
    };
    if name.is_empty() {
        return Err("no name after the prefix".into());
    }
    label_name(name).map_err(|why| format!("the name `{name}`: {why}"))
}

/// A label value: empty, or a label name.
pub fn check_label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    label_name(s)
}

/// A DNS-1123 subdomain: at most 253 characters, lowercase dot-separated labels of
/// letters, digits and `-`, each starting and ending with a letter or digit.
fn check_dns_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err("empty or longer than 253 characters".into());
    }
    for label in s.split('.') {
        let ok = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err("lowercase DNS labels of letters, digits and `-`, joined by `.`".into());
        }
    }
    Ok(())
}

/// A Kubernetes quantity, `<number><suffix>`: a decimal number (`1`, `1.5`, `.5`, `1.`)
/// followed by nothing, a binary suffix (`Ki` .. `Ei`), a decimal one (`m`, `k`, `M` ..
/// `E`) or an exponent (`e3`, `E-2`). Resources are never negative, so no `-` sign.
pub fn check_quantity(s: &str) -> Result<(), String> {
    let rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return Err("a resource cannot be negative".into());
    }
    let digits_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(digits_end);
    let dots = number.matches('.').count();
    if number.is_empty() || number == "." || dots > 1 {
        return Err("must start with a number".into());
    }
    const SUFFIXES: [&str; 14] = [
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E",
    ];
    if SUFFIXES.contains(&suffix) {
        return Ok(());
    }
    if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if !exp.is_empty() && exp.chars().all(|c| c.is_ascii_digit()) {
            return Ok(());
        }
    }
    Err(format!(
        "`{suffix}` is not a unit (`m`, `k`, `M`, `G`, `Ki`, `Mi`, `Gi`, ... or an exponent like `e3`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in [
            "500m", "1.5", "2Gi", "512Mi", "1e3", "2", ".5", "1.", "+1", "1E-2", "8G",
        ] {
            assert!(check_quantity(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "two", "2 Gi", "2GB", "-1", "1.2.3", "e3", "1e", "2gi", "1m\n", ".",
        ] {
            assert!(check_quantity(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels() {
        for ok in [
            "gpu",
            "karpenter.sh/nodepool",
            "kubernetes.io/arch",
            "a_b.c-D",
        ] {
            assert!(check_label_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "gpu type",
            "Example.com/x",
            "a/",
            "/a",
            "-a",
            &"a".repeat(64),
            "a/b/c",
        ] {
            assert!(check_label_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("g5.xlarge").is_ok());
        assert!(check_label_value("a b").is_err());
        assert!(check_label_value("true\n").is_err());
    }
}
