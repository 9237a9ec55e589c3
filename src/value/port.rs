//! A compose port mapping, `[ip:][host[-host]:]container[-container][/tcp|udp|sctp]`,
//! parsed once at decode: the host and container ranges are numbers, so the workflow's
//! smoke test reads the host port from the mapping instead of splitting text again.

use std::fmt;

use super::interpolation::{self, Piece};

/// `first-last`, or one port when both are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// The host address a mapping binds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAddress {
    Ipv4(std::net::Ipv4Addr),
    /// A bracketed IPv6 address, as written (`[::1]`).
    Ipv6(String),
}

/// A parsed `port` value; [`fmt::Display`] gives back the spec's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    text: String,
    pub address: Option<HostAddress>,
    /// Whether a host part was written (`ip::80` writes an empty one: any free port).
    pub host_written: bool,
    /// The host ports; `None` when Docker picks them.
    pub host: Option<PortRange>,
    pub container: PortRange,
    /// `tcp` when the mapping names none.
    pub protocol: String,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PortMapping {
    /// Parses `s`, or gives the reason it is not a mapping compose accepts.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (spec, protocol) = match s.rsplit_once('/') {
            Some((a, p)) if ["tcp", "udp", "sctp"].contains(&p) => (a, p),
            Some((_, p)) => return Err(format!("unknown protocol `{p}` (tcp, udp or sctp)")),
            None => (s, "tcp"),
        };
        let (address, spec) = split_ipv6(spec)?;
        let parts: Vec<&str> = spec.split(':').collect();
        let (ranges, address) = match parts.len() {
            1 | 2 => (&parts[..], address),
            3 => (&parts[1..], Some(ipv4(parts[0])?)),
            _ => return Err("too many `:`".into()),
        };
        let any_host = matches!(address, Some(HostAddress::Ipv4(_)));
        let (host, container) = match ranges {
            [container] => (None, range(container)?),
            ["", container] if any_host => (None, range(container)?),
            [host, container] => (Some(range(host)?), range(container)?),
            _ => unreachable!("one or two ranges"),
        };
        if let Some(h) = host
            && h.last - h.first != container.last - container.first
            && h.first != h.last
            && container.first != container.last
        {
            return Err("the host and container ranges differ in size".into());
        }
        Ok(PortMapping {
            text: s.to_string(),
            address,
            host_written: ranges.len() == 2,
            host,
            container,
            protocol: protocol.to_string(),
        })
    }

    /// The port a probe on `localhost` reaches: the first host port, or the container
    /// port when the mapping publishes it as is.
    pub fn host_port(&self) -> u16 {
        self.host.unwrap_or(self.container).first
    }

    /// Why the smoke test of a generated workflow cannot reach this mapping at
    /// `http://localhost:<host port>`: it must publish a fixed TCP host port.
    pub fn smoke_problem(&self) -> Option<String> {
        if self.protocol != "tcp" {
            return Some(format!(
                "the probe speaks HTTP over TCP, not {}",
                self.protocol
            ));
        }
        if matches!(self.address, Some(HostAddress::Ipv6(_))) {
            return Some("the probe connects to `localhost`, not to an IPv6 address".into());
        }
        if !self.host_written {
            return Some("one port publishes the container port on a random host port".into());
        }
        if self.host.is_none() {
            return Some("an empty host port makes Docker pick a random one".into());
        }
        None
    }
}

/// An interpolated mapping (`${PORT:-8080}:8080`): with every variable unset (their
/// defaults) it must be a mapping compose accepts, and each part written literally is
/// checked as [`PortMapping::parse`] checks it; a part that reads a variable is compose's
/// to resolve, so its `:` inside `${...}` is not a separator.
pub fn check_interpolated(pieces: &[Piece]) -> Result<(), String> {
    let defaults = interpolation::defaults(pieces);
    if let Some(text) = &defaults {
        PortMapping::parse(text).map_err(|e| format!("with its defaults, `{text}`: {e}"))?;
    }
    const MARK: &str = "\u{1}";
    let s = interpolation::substitute(pieces, &|_| MARK.to_string());
    let (spec, protocol) = s.rsplit_once('/').unwrap_or((&s, "tcp"));
    if !protocol.contains(MARK) && !["tcp", "udp", "sctp"].contains(&protocol) {
        return Err(format!("unknown protocol `{protocol}` (tcp, udp or sctp)"));
    }
    if spec.starts_with('[') {
        return Ok(());
    }
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() > 3 {
        return Err("too many `:` outside `${...}`".into());
    }
    for (i, part) in parts.iter().enumerate().filter(|(_, p)| !p.contains(MARK)) {
        match (parts.len(), i) {
            (3, 0) => drop(ipv4(part)?),
            (3, 1) if part.is_empty() => {}
            _ => drop(range(part)?),
        }
    }
    Ok(())
}

/// A bracketed IPv6 host address (`[::1]:8080:80`) and the rest.
fn split_ipv6(spec: &str) -> Result<(Option<HostAddress>, &str), String> {
    match spec.strip_prefix('[') {
        Some(rest) => match rest.split_once("]:") {
            Some((ip, after)) => Ok((Some(HostAddress::Ipv6(format!("[{ip}]"))), after)),
            None => Err("unclosed `[` in the host address".into()),
        },
        None => Ok((None, spec)),
    }
}

fn ipv4(ip: &str) -> Result<HostAddress, String> {
    ip.parse()
        .map(HostAddress::Ipv4)
        .map_err(|_| format!("`{ip}` is not an IP address"))
}

/// `80` or `8000-8010`.
fn range(text: &str) -> Result<PortRange, String> {
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    match (port(a), port(b)) {
        (Some(first), Some(last)) if first <= last => Ok(PortRange { first, last }),
        (Some(_), Some(_)) => Err(format!("range `{text}` runs backwards")),
        _ => Err(format!("`{text}` is not a port number from 1 to 65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_of_each_form() {
        let p = |s: &str| PortMapping::parse(s).unwrap();
        assert_eq!(p("3000").host_port(), 3000);
        assert_eq!(p("3001:3000").host_port(), 3001);
        assert_eq!(p("127.0.0.1:3001:3000/tcp").host_port(), 3001);
        assert_eq!(p("8000-8001:80-81").host_port(), 8000);
        assert_eq!(
            p("127.0.0.1:3001:3000/tcp").to_string(),
            "127.0.0.1:3001:3000/tcp"
        );
    }

    #[test]
    fn interpolated_ports_check_their_literal_parts() {
        let check = |s: &str| check_interpolated(&interpolation::parse(s).unwrap());
        assert_eq!(check("${PORT:-8080}:8080"), Ok(()));
        assert_eq!(check("${BIND:-127.0.0.1}:${PORT}:80/udp"), Ok(()));
        assert_eq!(check("${PORT}:80"), Ok(()));
        assert!(check("${PORT:-99999}:80").unwrap_err().contains("defaults"));
        assert!(check("${PORT}:80x").unwrap_err().contains("`80x`"));
        assert!(check("${A}:1:2:3").unwrap_err().contains("too many"));
        assert!(check("${A}:80/icmp").unwrap_err().contains("protocol"));
    }

    #[test]
    fn smoke_problems() {
        let p = |s: &str| PortMapping::parse(s).unwrap().smoke_problem();
        assert!(p("127.0.0.1::80").is_some());
        assert!(p("80").is_some());
        assert!(p("[::1]:80:80").is_some());
        assert!(p("80:80/udp").is_some());
        assert!(p("8080:80").is_none());
    }
}
