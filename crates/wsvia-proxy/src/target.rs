//! Where a request wants to go: `host:port` from a CONNECT authority or an absolute URL.

use http::Uri;

use crate::respond::Refusal;

/// A destination: host (IPv6 without brackets) and port.
///
/// # Examples
/// ```
/// let t = wsvia_proxy::target::Target::from_connect(&"[::1]:443".parse().unwrap()).unwrap();
/// assert_eq!((t.host.as_str(), t.port), ("::1", 443));
/// assert_eq!(t.to_string(), "[::1]:443");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// Port, never 0.
    pub port: u16,
}

impl Target {
    /// The target of `CONNECT host:port`.
    ///
    /// # Errors
    /// [`Refusal::BadRequest`] without a port, with port 0, or with userinfo.
    ///
    /// # Examples
    /// ```
    /// use wsvia_proxy::target::Target;
    /// assert!(Target::from_connect(&"example.com".parse().unwrap()).is_err());
    /// ```
    pub fn from_connect(uri: &Uri) -> Result<Target, Refusal> {
        let bad = |detail: &str| Refusal::BadRequest {
            detail: detail.to_owned(),
        };
        if uri.scheme().is_some()
            || uri
                .path_and_query()
                .is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty())
        {
            return Err(bad("CONNECT needs host:port (authority form), not a URL"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| bad("CONNECT needs host:port"))?;
        if authority.as_str().contains('@') {
            return Err(bad("CONNECT target must not carry credentials"));
        }
        let port = authority
            .port_u16()
            .ok_or_else(|| bad("CONNECT needs host:port (no port given)"))?;
        Target::new(authority.host(), port)
    }

    /// The target of an absolute-form request (`GET http://host/path`).
    ///
    /// # Errors
    /// [`Refusal::BadRequest`] for other schemes, userinfo, or port 0.
    ///
    /// # Examples
    /// ```
    /// use wsvia_proxy::target::Target;
    /// let t = Target::from_absolute(&"http://example.com/chat".parse().unwrap()).unwrap();
    /// assert_eq!(t.port, 80);
    /// ```
    pub fn from_absolute(uri: &Uri) -> Result<Target, Refusal> {
        let bad = |detail: &str| Refusal::BadRequest {
            detail: detail.to_owned(),
        };
        let default_port = match uri.scheme_str() {
            Some("http") | Some("ws") => 80,
            Some(other) => {
                return Err(bad(&format!(
                    "cannot forward {other}:// requests; use CONNECT for TLS"
                )));
            }
            None => {
                return Err(bad(
                    "this is a proxy: send CONNECT host:port or an absolute URL",
                ));
            }
        };
        let authority = uri.authority().ok_or_else(|| bad("the URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("the URL must not carry credentials"));
        }
        Target::new(
            authority.host(),
            authority.port_u16().unwrap_or(default_port),
        )
    }

    fn new(host: &str, port: u16) -> Result<Target, Refusal> {
        if port == 0 {
            return Err(Refusal::BadRequest {
                detail: "port 0 is not a destination".to_owned(),
            });
        }
        let bad = |detail: &str| Refusal::BadRequest {
            detail: detail.to_owned(),
        };
        // Brackets belong to IPv6 literals only: `[::1]`, never `[zz]` or `a[b]`.
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(inner) if inner.parse::<std::net::Ipv6Addr>().is_ok() => inner,
            Some(_) => return Err(bad("brackets in a host must hold an IPv6 address")),
            None if host.contains(['[', ']']) => {
                return Err(bad("brackets in a host must hold an IPv6 address"));
            }
            None => host,
        };
        if host.is_empty() {
            return Err(bad("the target has no host"));
        }
        let name_like = |h: &str| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        };
        if !host.contains(':') && !name_like(host) {
            return Err(bad("the host is neither a name nor an IP address"));
        }
        Ok(Target {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_targets_need_a_host_and_a_real_port() {
        for (input, ok) in [
            ("example.com:443", true),
            ("EXAMPLE.com:8080", true),
            ("127.0.0.1:1", true),
            ("[::1]:443", true),
            ("example.com", false),
            ("example.com:0", false),
            ("[zz]:443", false),
            ("a[b]:443", false),
            ("2[1:s]:3", false),
        ] {
            let uri: Uri = input.parse().unwrap();
            assert_eq!(Target::from_connect(&uri).is_ok(), ok, "{input}");
        }
        assert!(
            "example.com:65536"
                .parse::<Uri>()
                .map(|u| Target::from_connect(&u).is_err())
                .unwrap_or(true)
        );
        let t = Target::from_connect(&"EXAMPLE.com:8080".parse().unwrap()).unwrap();
        assert_eq!(t.to_string(), "example.com:8080");
    }

    #[test]
    fn absolute_targets_are_http_only_without_credentials() {
        for (input, ok) in [
            ("http://example.com/", true),
            ("http://example.com:8080/x?y", true),
            ("ws://example.com/", true),
            ("https://example.com/", false),
            ("http://user:pw@example.com/", false),
            ("/just/a/path", false),
        ] {
            let uri: Uri = input.parse().unwrap();
            assert_eq!(Target::from_absolute(&uri).is_ok(), ok, "{input}");
        }
    }
}
