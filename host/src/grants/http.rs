//! Outbound HTTP grants: which `scheme://host:port` a plugin may reach, with
//! which methods, which otherwise refused addresses (loopback, private,
//! link-local, cloud metadata) it may reach anyway, and the limits of one
//! fetch.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// `[plugins.NAME.http]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpGrant {
    /// `scheme://host[:port]` patterns: `https://api.example.org`,
    /// `http://*.example.org:8080`, `https://*:*` (any host, any port).
    /// A missing port is the scheme's (443, 80).
    pub allowed_hosts: Vec<String>,
    /// Methods allowed (upper case); empty: `GET` and `HEAD`.
    pub allowed_methods: Vec<String>,
    /// Addresses refused by default that this plugin may reach anyway, as
    /// `IP` or `IP/prefix` (`127.0.0.1`, `10.0.0.0/8`).
    pub allowed_addresses: Vec<String>,
    /// Largest request body (bytes).
    pub max_request_bytes: u64,
    /// Largest response body (bytes); past it the body fails.
    pub max_response_bytes: u64,
    /// Longest one request may take to connect, and to send each part of
    /// its answer (ms); never past the job's own deadline.
    pub timeout_ms: u64,
    /// Requests the plugin may start per minute on this host (0: no cap).
    pub requests_per_minute: u32,
}

impl Default for HttpGrant {
    fn default() -> Self {
        HttpGrant {
            allowed_hosts: Vec::new(),
            allowed_methods: Vec::new(),
            allowed_addresses: Vec::new(),
            max_request_bytes: 1024 * 1024,
            max_response_bytes: 10 * 1024 * 1024,
            timeout_ms: 30_000,
            requests_per_minute: 600,
        }
    }
}

/// The largest body either way (1 GiB) and the longest timeout (1 hour).
const MAX_BODY_BYTES: u64 = 1 << 30;
const MAX_TIMEOUT_MS: u64 = 3_600_000;

impl HttpGrant {
    pub(super) fn check(&self) -> Result<(), String> {
        for p in &self.allowed_hosts {
            HostPattern::parse(p).map_err(|e| format!("allowed_hosts {p:?}: {e}"))?;
        }
        for m in &self.allowed_methods {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!("allowed_methods {m:?}: not an upper-case method"));
            }
        }
        for a in &self.allowed_addresses {
            parse_cidr(a).map_err(|e| format!("allowed_addresses {a:?}: {e}"))?;
        }
        for (key, value, max) in [
            ("max_request_bytes", self.max_request_bytes, MAX_BODY_BYTES),
            (
                "max_response_bytes",
                self.max_response_bytes,
                MAX_BODY_BYTES,
            ),
            ("timeout_ms", self.timeout_ms, MAX_TIMEOUT_MS),
        ] {
            if !(1..=max).contains(&value) {
                return Err(format!("{key} = {value} is out of bounds: 1..={max}"));
            }
        }
        Ok(())
    }

    /// The methods allowed.
    pub fn methods(&self) -> Vec<String> {
        if self.allowed_methods.is_empty() {
            vec!["GET".into(), "HEAD".into()]
        } else {
            self.allowed_methods.clone()
        }
    }

    /// Whether `scheme://host:port` matches one of the patterns.
    pub fn allows_host(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.allowed_hosts
            .iter()
            .any(|p| HostPattern::parse(p).is_ok_and(|p| p.matches(scheme, host, port)))
    }

    pub fn allows_method(&self, method: &str) -> bool {
        self.methods().iter().any(|m| m == method)
    }

    /// Whether `ip`, refused by default, is granted by address.
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed_addresses
            .iter()
            .any(|a| parse_cidr(a).is_ok_and(|(net, bits)| in_network(ip, net, bits)))
    }
}

/// One `scheme://host[:port]` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: String,
    /// `*`, `*.suffix` or an exact host (lower case).
    host: String,
    /// None: any port.
    port: Option<u16>,
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("needs a scheme, e.g. https://host")?;
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            _ => return Err(format!("scheme {scheme:?} is not http or https")),
        };
        if rest.contains('/') || rest.contains('@') || rest.contains('?') {
            return Err("only scheme://host[:port], no path or user".into());
        }
        let bare_ipv6 = rest.starts_with('[') && rest.ends_with(']');
        let (host, port) = match rest.rsplit_once(':') {
            _ if bare_ipv6 => (rest, Some(default_port)),
            Some((h, "*")) => (h, None),
            Some((h, p)) => (
                h,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("port {p:?} is not 0-65535"))?,
                ),
            ),
            None => (rest, Some(default_port)),
        };
        let host = host.to_ascii_lowercase();
        let name = host.strip_prefix("*.").unwrap_or(&host);
        let valid = host == "*"
            || (!name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b)));
        if !valid {
            return Err(format!("host {host:?} is not a name, `*` or `*.suffix`"));
        }
        Ok(HostPattern {
            scheme: scheme.to_string(),
            host,
            port,
        })
    }

    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let host_ok = match self.host.strip_prefix("*.") {
            _ if self.host == "*" => true,
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => host == self.host,
        };
        self.scheme == scheme && host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// Why an address is refused unless granted by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Reachable without an address grant.
    Public,
    Loopback,
    Private,
    LinkLocal,
    /// A cloud metadata service (169.254.169.254 and kin).
    Metadata,
    /// Unspecified, multicast, broadcast, documentation or reserved.
    Unroutable,
}

impl std::fmt::Display for AddressClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "cloud metadata",
            AddressClass::Unroutable => "unroutable",
        })
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn classify_address(ip: IpAddr) -> AddressClass {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] || o == [169, 254, 170, 2] {
                AddressClass::Metadata
            } else if v4.is_loopback() {
                AddressClass::Loopback
            } else if v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
                AddressClass::Private
            } else if v4.is_link_local() {
                AddressClass::LinkLocal
            } else if v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || o[0] >= 240
            {
                AddressClass::Unroutable
            } else {
                AddressClass::Public
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if s == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] {
                AddressClass::Metadata
            } else if v6.is_loopback() {
                AddressClass::Loopback
            } else if (s[0] & 0xfe00) == 0xfc00 {
                AddressClass::Private
            } else if (s[0] & 0xffc0) == 0xfe80 {
                AddressClass::LinkLocal
            } else if v6.is_unspecified() || v6.is_multicast() || s[0] == 0x2001 && s[1] == 0xdb8 {
                AddressClass::Unroutable
            } else {
                AddressClass::Public
            }
        }
    }
}

fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let (ip, bits) = match text.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (text, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address"))?;
    let ip = canonical(ip);
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b
            .parse::<u8>()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("prefix {b:?} is not 0-{max}"))?,
        None => max,
    };
    Ok((ip, bits))
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
