//! The grammars of compose service fields that take one string each: container names,
//! byte sizes (`shm_size`), `extra_hosts` entries, stop signals, devices, `group_add`
//! entries and device cgroup rules. Each returns the reason a value is not what Docker
//! accepts, so `check` can refuse it instead of `docker compose up`.

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_container_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first && rest && s.len() >= 2 {
        Ok(())
    } else {
        Err("a container name is 2 or more letters, digits, `_`, `.` or `-`, starting with a letter or digit".into())
    }
}

/// A compose byte value: a number with an optional unit `b`, `k`, `m`, `g`, `kb`, `mb`,
/// `gb` (either case).
pub fn check_byte_size(s: &str) -> Result<(), String> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let unit = s[digits..].to_ascii_lowercase();
    if digits == 0 {
        return Err("a size starts with a number".into());
    }
    if ["", "b", "k", "m", "g", "kb", "mb", "gb"].contains(&unit.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "unknown unit `{}` (b, k, m, g, kb, mb or gb)",
            &s[digits..]
        ))
    }
}

/// An `extra_hosts` entry: `host:ip` or `host=ip`, the address IPv4, IPv6 or
/// `host-gateway`.
pub fn check_extra_host(s: &str) -> Result<(), String> {
    let (host, ip) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or("write `HOST:IP` or `HOST=IP`")?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if !host_ok {
        return Err(format!("`{host}` is not a host name"));
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip == "host-gateway" || ip.parse::<std::net::IpAddr>().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "`{ip}` is not an IP address (or `host-gateway`); for an IPv6 address write `HOST=IP`"
        ))
    }
}

/// Signal names Docker knows, without the `SIG` prefix.
const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE",
    "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN",
    "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// A stop signal: `SIGTERM`-style name (the prefix optional) or a number 1–64.
pub fn check_signal(s: &str) -> Result<(), String> {
    if s.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n)) {
        return Ok(());
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    if SIGNALS.contains(&name) {
        Ok(())
    } else {
        Err("not a signal name (e.g. `SIGTERM`, `SIGINT`, `SIGQUIT`) or number".into())
    }
}

/// A device: `HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]`, paths absolute, permissions
/// from `rwm`.
pub fn check_device(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() > 3 {
        return Err("too many `:`; write `/dev/HOST[:/dev/CONTAINER[:rwm]]`".into());
    }
    for path in parts.iter().take(2) {
        if !path.starts_with('/') {
            return Err(format!("`{path}` is not an absolute path"));
        }
    }
    match parts.get(2) {
        Some(p) if p.is_empty() || !p.chars().all(|c| "rwm".contains(c)) => {
            Err(format!("permissions `{p}` are not letters of `rwm`"))
        }
        _ => Ok(()),
    }
}

/// A `group_add` entry: a group name or a numeric id.
pub fn check_group(s: &str) -> Result<(), String> {
    let numeric = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let name = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
    if numeric || name {
        Ok(())
    } else {
        Err("a group is a name (`video`, `render`) or a numeric id".into())
    }
}

/// A device cgroup rule: `TYPE MAJOR:MINOR PERMISSIONS`, type `a`, `b` or `c`, numbers
/// or `*`, permissions from `rwm`.
pub fn check_cgroup_rule(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split(' ').collect();
    let [kind, numbers, perms] = parts.as_slice() else {
        return Err("write `TYPE MAJOR:MINOR PERMISSIONS`, e.g. `c 189:* rmw`".into());
    };
    if !["a", "b", "c"].contains(kind) {
        return Err(format!("type `{kind}` is not `a`, `b` or `c`"));
    }
    let number = |n: &str| n == "*" || (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    match numbers.split_once(':') {
        Some((major, minor)) if number(major) && number(minor) => {}
        _ => return Err(format!("`{numbers}` is not `MAJOR:MINOR` (numbers or `*`)")),
    }
    if perms.is_empty() || !perms.chars().all(|c| "rwm".contains(c)) {
        return Err(format!("permissions `{perms}` are not letters of `rwm`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_values() {
        assert!(check_container_name("my-app.1").is_ok());
        for size in ["64m", "1gb", "2G", "1024", "512kb"] {
            assert!(check_byte_size(size).is_ok(), "{size}");
        }
        for host in ["db:10.0.0.2", "host.docker.internal:host-gateway", "v6=::1"] {
            assert!(check_extra_host(host).is_ok(), "{host}");
        }
        for sig in ["SIGTERM", "INT", "9", "SIGUSR1"] {
            assert!(check_signal(sig).is_ok(), "{sig}");
        }
        assert!(check_device("/dev/kfd").is_ok());
        assert!(check_device("/dev/dri:/dev/dri:rwm").is_ok());
        assert!(check_group("video").is_ok() && check_group("44").is_ok());
        assert!(check_cgroup_rule("c 189:* rmw").is_ok());
    }

    #[test]
    fn refused_values() {
        assert!(check_container_name("-app").is_err());
        assert!(check_byte_size("64mib").unwrap_err().contains("unit"));
        assert!(check_byte_size("m").is_err());
        assert!(check_extra_host("db").is_err());
        assert!(check_extra_host("db:not-an-ip").is_err());
        assert!(check_signal("SIGFOO").is_err());
        assert!(check_device("dev/kfd").is_err());
        assert!(check_device("/dev/kfd:/dev/kfd:x").is_err());
        assert!(check_group("Video").is_err());
        assert!(check_cgroup_rule("x 1:2 r").is_err());
        assert!(check_cgroup_rule("c 1 r").is_err());
    }
}
