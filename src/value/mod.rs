//! The grammars of single values: a string in, `Ok` or the reason it is wrong out.
//!
//! Names, build-argument and environment names, platforms, image references, registry
//! hosts, repository paths, OCI tags and tag templates, compose ports and volumes,
//! durations, secret names, and the look of a leaked credential. No spans here: callers
//! attach the reason to the value's span.

pub mod compose_field;
pub mod cron;
pub mod date;
pub mod dockerfile;
pub mod duration;
pub mod ignore;
pub mod image_ref;
pub mod interpolation;
pub mod kubernetes;
pub mod platform;
pub mod port;
pub mod ref_glob;
pub mod reference;
pub mod repo_path;
pub mod secret;
pub mod tag;
pub mod tag_template;
pub mod version;

pub use duration::{check_duration, parse_go_duration};
pub use ref_glob::RefPattern;
pub use version::{VersionParts, parse_version};

/// A spec name: `[a-z0-9][a-z0-9_.-]*`, at most 63 characters.
pub fn check_name(s: &str) -> Result<(), &'static str> {
    let mut chars = s.chars();
    match chars.next() {
        None => return Err("empty name"),
        Some(c) if !(c.is_ascii_lowercase() || c.is_ascii_digit()) => {
            return Err(if c.is_ascii_uppercase() {
                "uppercase letters are not allowed"
            } else {
                "must start with a lowercase letter or a digit"
            });
        }
        _ => {}
    }
    if s.len() > 63 {
        return Err("longer than 63 characters");
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("uppercase letters are not allowed");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
    {
        return Err("only lowercase letters, digits, `-`, `_` and `.` are allowed");
    }
    Ok(())
}

/// The nearest valid spec name, for help texts: `Build_Stage` gives `build_stage`.
pub fn to_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c) {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_start_matches(['-', '_', '.']);
    let out: String = out.chars().take(63).collect();
    if out.is_empty() {
        "my-name".into()
    } else {
        out
    }
}

/// A shell variable / build argument name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The nearest valid variable name, for help texts.
pub fn to_variable_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A platform `os/arch[/variant]`, as BuildKit spells it; `Err` holds the reason and
/// the help.
pub fn check_platform(s: &str) -> Result<(), (String, String)> {
    platform::Platform::parse(s).map(|_| ())
}

/// One repository path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__`, or any number of `-`.
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-')) {
            return false;
        }
    }
    true
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A repository path (`org/app`): lowercase components separated by `/`.
pub fn check_repository_path(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.len() > 255 {
        return Err("longer than 255 characters".into());
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("uppercase letters are not allowed".into());
    }
    for part in s.split('/') {
        if !is_path_component(part) {
            return Err(format!(
                "`{part}` is not a valid path component (lowercase letters and digits, separated by `.`, `_`, `__` or `-`)"
            ));
        }
    }
    Ok(())
}

/// A registry host: DNS name or IP with an optional `:port`, no scheme, no path.
pub fn check_host(s: &str) -> Result<(), String> {
    if s.contains("://") {
        return Err("a host, not a URL".into());
    }
    if s.contains('/') {
        return Err("a host has no path".into());
    }
    let (name, port) = match s.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("`{p}` is not a port number"));
    }
    if name.is_empty() || name.len() > 253 {
        return Err("empty or too long host name".into());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("`{label}` is not a valid host name label"));
        }
    }
    Ok(())
}

/// The host inside a URL-like value, for help texts: `https://docker.io/v2/` gives
/// `docker.io`; `None` when that is not a valid host either.
pub fn to_host(s: &str) -> Option<String> {
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or_default();
    (host != s && check_host(host).is_ok()).then(|| host.to_string())
}

/// A symbolic file mode (`rwxr-xr-x`) as octal (`755`), for help texts.
pub fn symbolic_to_octal(s: &str) -> Option<String> {
    let s = s.strip_prefix('-').unwrap_or(s);
    if s.len() != 9 {
        return None;
    }
    let mut out = String::new();
    for triple in s.as_bytes().chunks(3) {
        let mut digit = 0;
        for (bit, (c, want)) in triple.iter().zip([b'r', b'w', b'x']).enumerate() {
            match *c {
                b'-' => {}
                c if c == want => digit |= 4 >> bit,
                _ => return None,
            }
        }
        out.push(char::from(b'0' + digit));
    }
    Some(out)
}

/// A likely meant volume, for help texts: `./data:data` gives `./data:/data`.
pub fn to_volume(s: &str) -> Option<String> {
    let mut parts: Vec<String> = s.split(':').map(str::to_string).collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let target = if parts.len() == 1 { 0 } else { 1 };
    if !parts[target].starts_with('/') {
        parts[target] = format!("/{}", parts[target].trim_start_matches("./"));
    }
    if parts.len() > 1 {
        let source = &parts[0];
        let is_path = source.starts_with(['.', '/', '~']);
        if !is_path {
            parts[0] = source
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
        }
    }
    if let Some(mode) = parts.get_mut(2) {
        match mode.as_str() {
            "readonly" | "read-only" | "read_only" => *mode = "ro".into(),
            "readwrite" | "read-write" | "read_write" => *mode = "rw".into(),
            _ => {}
        }
    }
    let fixed = parts.join(":");
    (fixed != s && check_volume(&fixed).is_ok()).then_some(fixed)
}

/// The region of an Amazon ECR host `<account>.dkr.ecr.<region>.amazonaws.com`.
pub fn ecr_region(host: &str) -> Option<&str> {
    let rest = host.strip_suffix(".amazonaws.com")?;
    let (account, region) = rest.split_once(".dkr.ecr.")?;
    (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())).then_some(region)
}

/// Looks like an ECR host but is not well formed (wrong account id, missing region).
pub fn looks_like_ecr(host: &str) -> bool {
    host.contains(".ecr.") && host.ends_with(".amazonaws.com")
}

/// An image reference: `[host[:port]/]path[:tag][@digest]`, or `scratch`.
pub fn check_image_reference(s: &str) -> Result<(), String> {
    image_ref::ImageRef::parse(s).map(|_| ())
}

/// An image reference with its name (not its tag or digest) in lowercase, for help texts.
pub fn lowercase_reference(s: &str) -> String {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let name_end = rest[last_slash..]
        .rfind(':')
        .map_or(rest.len(), |i| last_slash + i);
    let mut out = rest[..name_end].to_ascii_lowercase();
    out.push_str(&rest[name_end..]);
    if let Some(d) = digest {
        out.push('@');
        out.push_str(d);
    }
    out
}

/// A likely meant duration, for help texts: `30 seconds` gives `30s`, `10` gives `10s`.
pub fn to_duration(s: &str) -> Option<String> {
    let mut out = String::new();
    for word in s.split_whitespace() {
        let digits = word
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(word.len());
        let (number, unit) = word.split_at(digits);
        out.push_str(number);
        out.push_str(match unit {
            "sec" | "secs" | "second" | "seconds" => "s",
            "min" | "mins" | "minute" | "minutes" => "m",
            "hr" | "hrs" | "hour" | "hours" => "h",
            other => other,
        });
    }
    // A bare number at the end means seconds.
    if out.ends_with(|c: char| c.is_ascii_digit()) {
        out.push('s');
    }
    (out != s && check_duration(&out).is_ok()).then_some(out)
}

/// An OCI tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn check_tag(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err("empty tag".into());
    }
    if t.len() > 128 {
        return Err(format!("{} characters, more than the 128 allowed", t.len()));
    }
    let first = t.chars().next().unwrap_or('_');
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Err(format!(
            "starts with `{first}`; a tag starts with a letter, digit or `_`"
        ));
    }
    if let Some(bad) = t
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
    {
        return Err(format!(
            "contains `{bad}`; a tag holds only letters, digits, `_`, `.` and `-`"
        ));
    }
    Ok(())
}

/// The nearest valid tag text, for help texts: other characters become `-`, and leading
/// `.` and `-` are dropped; `{{...}}` placeholders are kept.
pub fn to_tag_text(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{")
            && let Some(close) = after.find("}}")
        {
            out.push_str(&rest[..close + 4]);
            rest = &after[close + 2..];
            continue;
        }
        let c = rest.chars().next().unwrap_or('-');
        let ok = c.is_ascii_alphanumeric() || "_.-".contains(c);
        if ok {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
        rest = &rest[c.len_utf8()..];
    }
    out.trim_start_matches(['.', '-']).to_string()
}

/// A placeholder a tag template can use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Version,
    Major,
    Minor,
    Patch,
    /// The commit, 7 characters.
    Sha,
    /// The whole commit (40 characters).
    ShaLong,
    Branch,
    /// The pull request's number.
    Pr,
    /// The time of the run in UTC, in a format (`{{date 'YYYYMMDD'}}`).
    Date(date::DateFormat),
}

impl Placeholder {
    /// The placeholders written as a bare name.
    pub const ALL: &'static [(&'static str, Placeholder)] = &[
        ("version", Placeholder::Version),
        ("major", Placeholder::Major),
        ("minor", Placeholder::Minor),
        ("patch", Placeholder::Patch),
        ("sha", Placeholder::Sha),
        ("sha_long", Placeholder::ShaLong),
        ("branch", Placeholder::Branch),
        ("pr", Placeholder::Pr),
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Placeholder::Date(_) => "date",
            _ => Self::ALL
                .iter()
                .find(|(_, p)| p == self)
                .map(|(n, _)| *n)
                .unwrap_or("version"),
        }
    }

    /// `{{version}}` and its parts: known from the version alone.
    pub fn is_version_part(&self) -> bool {
        matches!(
            self,
            Placeholder::Version | Placeholder::Major | Placeholder::Minor | Placeholder::Patch
        )
    }

    /// `{{major}}`, `{{minor}}`, `{{patch}}`: a tag made of these (and literals) stays on
    /// the newest stable release; only `{{version}}` names a pre-release.
    pub fn follows_stable(&self) -> bool {
        matches!(
            self,
            Placeholder::Major | Placeholder::Minor | Placeholder::Patch
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    Placeholder(Placeholder),
}

/// A template error: byte range inside the template, reason, help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub start: usize,
    pub len: usize,
    pub reason: String,
    pub help: String,
}

/// Parses a tag template such as `v{{version}}-cpu`.
pub fn parse_tag_template(s: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = s;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Literal(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(TemplateError {
                start: offset + open,
                len: rest.len() - open,
                reason: "`{{` is never closed".into(),
                help: "close the placeholder with `}}`, e.g. `{{version}}`".into(),
            });
        };
        let inner = &after[..close];
        match placeholder(inner) {
            Ok(p) => pieces.push(Piece::Placeholder(p)),
            Err((start, len, reason, help)) => {
                // An error inside the braces points at its part; else at the whole `{{...}}`.
                let (start, len) = match start {
                    Some(at) => (offset + open + 2 + at, len),
                    None => (offset + open, close + 4),
                };
                return Err(TemplateError {
                    start,
                    len,
                    reason,
                    help,
                });
            }
        }
        let consumed = open + 2 + close + 2;
        rest = &rest[consumed..];
        offset += consumed;
    }
    if rest.contains("}}") {
        let at = rest.find("}}").unwrap_or(0);
        return Err(TemplateError {
            start: offset + at,
            len: 2,
            reason: "`}}` without a matching `{{`".into(),
            help: "placeholders are written `{{version}}`".into(),
        });
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_string()));
    }
    if pieces.is_empty() {
        return Err(TemplateError {
            start: 0,
            len: 0,
            reason: "empty tag template".into(),
            help: "write a tag, e.g. `tag \"latest\"`".into(),
        });
    }
    Ok(pieces)
}

/// Why the text between `{{` and `}}` is no placeholder: where inside it (`None`: the
/// whole placeholder), how long, the reason and the help.
type PlaceholderError = (Option<usize>, usize, String, String);

/// The placeholder written `{{inner}}`: a name, or `date 'FORMAT'`.
fn placeholder(inner: &str) -> Result<Placeholder, PlaceholderError> {
    let name = inner.trim();
    if let Some((_, p)) = Placeholder::ALL.iter().find(|(n, _)| *n == name) {
        return Ok(p.clone());
    }
    let Some(args) = name
        .strip_prefix("date")
        .filter(|a| a.is_empty() || a.starts_with(' '))
    else {
        let mut known: Vec<&str> = Placeholder::ALL.iter().map(|(n, _)| *n).collect();
        known.push("date");
        return Err((
            None,
            0,
            format!("unknown placeholder `{name}`"),
            crate::diagnostics::suggest("placeholders", name, known),
        ));
    };
    let fields = date::DateField::NAMED
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let help = format!(
        "write e.g. `{{{{date 'YYYYMMDD'}}}}`: the fields {fields} (in UTC), separated by `-`, `_` or `.`"
    );
    let quoted = args.trim();
    let format = quoted
        .strip_prefix('\'')
        .and_then(|q| q.strip_suffix('\''))
        .filter(|f| !f.contains('\''));
    let Some(format) = format else {
        let reason = if quoted.contains(" tz=") || quoted.contains("tz=") {
            "specc writes dates in UTC only: `tz=` is not supported".to_string()
        } else {
            "`date` takes one format in single quotes".to_string()
        };
        return Err((None, 0, reason, help));
    };
    // Offset of the format inside `inner`.
    let at = inner.find('\'').map_or(0, |q| q + 1);
    date::DateFormat::parse(format)
        .map(Placeholder::Date)
        .map_err(|e| (Some(at + e.start), e.len.max(1), e.reason, help))
}

/// A compose port: `[ip:][host[-host]:]container[-container][/tcp|udp|sctp]`.
pub fn check_port(s: &str) -> Result<(), String> {
    port::PortMapping::parse(s).map(|_| ())
}

/// A compose short-syntax volume: `target`, or `source:target[:mode]`.
pub fn check_volume(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err("too many `:`; write `source:target[:mode]`".into()),
    };
    if !target.starts_with('/') {
        return Err(format!("the container path `{target}` must be absolute"));
    }
    if let Some(src) = source {
        if src.is_empty() {
            return Err("empty source".into());
        }
        let is_path = src.starts_with('.') || src.starts_with('/') || src.starts_with('~');
        if !is_path {
            let ok = src
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && src
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(format!(
                    "`{src}` is neither a path (starting with `.`, `/` or `~`) nor a volume name"
                ));
            }
        }
    }
    if let Some(m) = mode {
        let valid = [
            "ro",
            "rw",
            "z",
            "Z",
            "cached",
            "delegated",
            "consistent",
            "nocopy",
        ];
        if !m.split(',').all(|o| valid.contains(&o)) {
            return Err(format!("unknown mode `{m}` (ro, rw, z, Z, nocopy, ...)"));
        }
    }
    Ok(())
}

/// A named volume (the source of `name:/path`), which compose must declare.
pub fn named_volume(s: &str) -> Option<&str> {
    let (src, _) = s.split_once(':')?;
    (!(src.starts_with('.') || src.starts_with('/') || src.starts_with('~'))).then_some(src)
}

/// True for strings that look like a credential rather than a name: known token prefixes,
/// AWS access key ids, and long strings that mix cases and digits like random tokens do.
pub fn looks_like_credential(s: &str) -> bool {
    if secret::has_token_prefix(s) && s.len() >= 16 {
        return true;
    }
    let lower = s.chars().filter(|c| c.is_ascii_lowercase()).count();
    let upper = s.chars().filter(|c| c.is_ascii_uppercase()).count();
    let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
    // Secret names are conventionally UPPER_SNAKE; a long mixed-case string with digits is not.
    s.len() >= 20 && lower > 0 && upper > 0 && digits > 0 && !s.contains(' ')
}

/// A relative path inside the repository: not absolute, no `..`, not empty.
pub fn check_relative_path(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty path".into());
    }
    if s.starts_with('/') || s.starts_with('\\') || s.chars().nth(1) == Some(':') {
        return Err("an absolute path; outputs stay inside the repository".into());
    }
    if s.split(['/', '\\']).any(|p| p == "..") {
        return Err("`..` leaves the repository".into());
    }
    if s.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    Ok(())
}

/// The nearest path inside the repository, for help texts: `../x` gives `x`, `/tmp/x`
/// gives `tmp/x`.
pub fn to_relative_path(s: &str) -> String {
    // A Windows drive (`C:`); byte 1 being `:` means byte 0 is a whole character.
    let s = match s.as_bytes().get(1) {
        Some(b':') => &s[2..],
        _ => s,
    };
    let parts: Vec<&str> = s
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".." && *p != "." && !p.contains('\0'))
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        assert!(check_platform("linux/amd64").is_ok());
        assert!(check_platform("linux/arm/v7").is_ok());
        assert!(
            check_platform("linux/x86_64")
                .unwrap_err()
                .1
                .contains("amd64")
        );
        assert!(check_platform("linux").is_err());
        assert!(check_platform("linux/arm/v9").is_err());
    }

    #[test]
    fn image_references() {
        for ok in [
            "node:18-alpine",
            "nvidia/cuda:11.8.0-runtime-ubuntu22.04",
            "ghcr.io/org/app:1.0",
            "localhost:5000/app",
            "scratch",
            "python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(check_image_reference(ok).is_ok(), "{ok}");
        }
        for bad in [
            "Node:18",
            "node:",
            "node:-x",
            "https://x/y",
            "a//b",
            "node@md5",
        ] {
            assert!(check_image_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports() {
        for ok in [
            "8080",
            "8081:8080",
            "127.0.0.1:8080:80",
            "3000-3005:3000-3005",
            "53:53/udp",
            "127.0.0.1::80",
        ] {
            assert!(check_port(ok).is_ok(), "{ok}");
        }
        for bad in [
            "80:80:80:80",
            "0:80",
            "70000",
            "80/xdp",
            "3000-3005:3001-3002",
            "a:80",
            "::80",
        ] {
            assert!(check_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes() {
        for ok in [
            "/data",
            "./models:/app/models",
            "pgdata:/var/lib/postgresql/data",
            "./x:/y:ro",
        ] {
            assert!(check_volume(ok).is_ok(), "{ok}");
        }
        for bad in ["data", "./x:y", "./x:/y:rx", "a:b:c:d", "my vol:/x"] {
            assert!(check_volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_and_tags() {
        assert_eq!(
            parse_tag_template("v{{version}}-x").unwrap(),
            vec![
                Piece::Literal("v".into()),
                Piece::Placeholder(Placeholder::Version),
                Piece::Literal("-x".into())
            ]
        );
        assert!(
            parse_tag_template("{{verison}}")
                .unwrap_err()
                .help
                .contains("version")
        );
        assert!(parse_tag_template("{{version").is_err());
        assert!(check_tag("latest").is_ok());
        assert!(check_tag("-x").is_err());
        assert!(check_tag(&"a".repeat(129)).is_err());
        assert!(check_tag("a/b").is_err());
    }

    #[test]
    fn credentials() {
        assert!(looks_like_credential(
            "dckr_pat_2b3e36beeb386dfdaacb9b46004ccb7c"
        ));
        assert!(looks_like_credential("AKIAIOSFODNN7EXAMPLE"));
        assert!(looks_like_credential("aB3dE5fG7hJ9kL1mN3pQ5rS7"));
        assert!(!looks_like_credential("DOCKERHUB_TOKEN"));
        assert!(!looks_like_credential("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn versions_and_names() {
        assert_eq!(parse_version("v1.2.3").unwrap().minor, "2");
        assert!(parse_version("1.2").is_none());
        assert!(check_name("iopaint-gpu").is_ok());
        assert!(check_name("Gpu").is_err());
        assert!(check_duration("1m30s").is_ok());
        assert!(check_duration("30 seconds").is_err());
        assert_eq!(
            ecr_region("123456789012.dkr.ecr.us-west-2.amazonaws.com"),
            Some("us-west-2")
        );
    }

    #[test]
    fn help_suggestions() {
        assert_eq!(to_name("Build_Stage"), "build_stage");
        assert_eq!(to_name("demo app"), "demo-app");
        assert_eq!(to_tag_text("release/{{version}}"), "release-{{version}}");
        assert_eq!(to_tag_text(".hidden"), "hidden");
        assert_eq!(to_duration("30 seconds").as_deref(), Some("30s"));
        assert_eq!(to_duration("1m30").as_deref(), Some("1m30s"));
        assert_eq!(to_duration("10").as_deref(), Some("10s"));
        assert_eq!(to_duration("soon"), None);
        assert_eq!(to_relative_path("../docker-bake.hcl"), "docker-bake.hcl");
        assert_eq!(to_relative_path("/tmp/docker"), "tmp/docker");
        assert_eq!(
            to_host("https://docker.io/v2/").as_deref(),
            Some("docker.io")
        );
        assert_eq!(to_host("localhost:99999"), None);
        assert_eq!(symbolic_to_octal("rwxr-xr-x").as_deref(), Some("755"));
        assert_eq!(symbolic_to_octal("rw-r--r--").as_deref(), Some("644"));
        assert_eq!(symbolic_to_octal("u+x"), None);
        assert_eq!(to_volume("./data:data").as_deref(), Some("./data:/data"));
        assert_eq!(to_volume("data").as_deref(), Some("/data"));
        assert_eq!(
            to_volume("./c:/etc/c:readonly").as_deref(),
            Some("./c:/etc/c:ro")
        );
        assert_eq!(lowercase_reference("Golang:1.22-RC"), "golang:1.22-RC");
    }
}
