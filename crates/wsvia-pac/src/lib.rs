//! Proxy auto-config (PAC): run a PAC file's `FindProxyForURL(url, host)` in QuickJS with
//! the standard helper functions, and read its answer as a list of proxies to try.
//!
//! # Layout
//! - [`PacScript`]: a checked script; [`PacScript::find_proxy`] evaluates it (blocking:
//!   `dnsResolve` may look a name up).
//! - [`PacEntry`], [`parse_result`]: `"PROXY a:3128; SOCKS5 b:1080; DIRECT"` as values.
//!
//! # Examples
//! ```
//! let pac = wsvia_pac::PacScript::new(r#"
//!     function FindProxyForURL(url, host) {
//!         if (dnsDomainIs(host, ".internal")) return "DIRECT";
//!         return "PROXY proxy.corp:3128; DIRECT";
//!     }"#).unwrap();
//! let list = pac.find_proxy("wss://chat.example.com/", "chat.example.com").unwrap();
//! assert_eq!(list[0].to_proxy_url().as_deref(), Some("http://proxy.corp:3128"));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use rquickjs::{Context, Function, Runtime};

const HELPERS: &str = include_str!("helpers.js");

/// How long one evaluation may run before it is stopped (a PAC file with a loop).
const TIME_LIMIT: Duration = Duration::from_secs(2);

/// Memory one evaluation may use.
const MEMORY_LIMIT: usize = 32 << 20;

/// Why a PAC file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacError {
    /// The script does not compile or throws while loading.
    #[error("the PAC file does not load: {0}")]
    Load(String),
    /// It defines no `FindProxyForURL`.
    #[error("the PAC file defines no function FindProxyForURL(url, host)")]
    NoFunction,
    /// `FindProxyForURL` threw, ran too long, or returned something other than a string.
    #[error("FindProxyForURL failed: {0}")]
    Eval(String),
    /// The answer names nothing usable.
    #[error("FindProxyForURL returned {0:?}, which names no proxy and no DIRECT")]
    Empty(String),
    /// The JavaScript engine could not start.
    #[error("cannot start the JavaScript engine: {0}")]
    Engine(String),
}

/// One entry of a PAC answer.
///
/// # Examples
/// ```
/// use wsvia_pac::{PacEntry, parse_result};
/// assert_eq!(parse_result("SOCKS5 s:1080; DIRECT"), vec![
///     PacEntry::Socks5 { authority: "s:1080".into() },
///     PacEntry::Direct,
/// ]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacEntry {
    /// No proxy.
    Direct,
    /// `PROXY host:port`: an HTTP proxy.
    Http {
        /// `host:port`.
        authority: String,
    },
    /// `HTTPS host:port`: an HTTP proxy reached over TLS.
    Https {
        /// `host:port`.
        authority: String,
    },
    /// `SOCKS host:port` or `SOCKS5 host:port` (wsvia speaks SOCKS5 only).
    Socks5 {
        /// `host:port`.
        authority: String,
    },
}

impl PacEntry {
    /// The proxy URL wsvia's selection understands; `None` for `DIRECT`.
    ///
    /// # Examples
    /// ```
    /// let e = wsvia_pac::PacEntry::Https { authority: "p:443".into() };
    /// assert_eq!(e.to_proxy_url().as_deref(), Some("https://p:443"));
    /// ```
    pub fn to_proxy_url(&self) -> Option<String> {
        match self {
            PacEntry::Direct => None,
            PacEntry::Http { authority } => Some(format!("http://{authority}")),
            PacEntry::Https { authority } => Some(format!("https://{authority}")),
            PacEntry::Socks5 { authority } => Some(format!("socks5://{authority}")),
        }
    }
}

/// Read a `FindProxyForURL` answer; unknown or malformed entries are skipped.
///
/// # Examples
/// ```
/// use wsvia_pac::{PacEntry, parse_result};
/// assert_eq!(parse_result(" proxy a:1 ;; direct ; BOGUS x"), vec![
///     PacEntry::Http { authority: "a:1".into() },
///     PacEntry::Direct,
/// ]);
/// ```
pub fn parse_result(answer: &str) -> Vec<PacEntry> {
    answer
        .split(';')
        .filter_map(|entry| {
            let mut words = entry.split_whitespace();
            let kind = words.next()?.to_ascii_uppercase();
            let authority = words.next().map(str::to_owned);
            match (kind.as_str(), authority) {
                ("DIRECT", None) => Some(PacEntry::Direct),
                ("PROXY" | "HTTP", Some(authority)) => Some(PacEntry::Http { authority }),
                ("HTTPS", Some(authority)) => Some(PacEntry::Https { authority }),
                ("SOCKS" | "SOCKS5", Some(authority)) => Some(PacEntry::Socks5 { authority }),
                _ => None,
            }
        })
        .collect()
}

/// A checked PAC script.
#[derive(Debug, Clone)]
pub struct PacScript {
    source: String,
}

impl PacScript {
    /// Load `source` once to check it compiles and defines `FindProxyForURL`.
    ///
    /// # Errors
    /// [`PacError::Load`] or [`PacError::NoFunction`].
    ///
    /// # Examples
    /// ```
    /// assert!(wsvia_pac::PacScript::new("function nope() {}").is_err());
    /// ```
    pub fn new(source: impl Into<String>) -> Result<PacScript, PacError> {
        let script = PacScript {
            source: source.into(),
        };
        script.with_function(|_| Ok(()))?;
        Ok(script)
    }

    /// Evaluate `FindProxyForURL(url, host)`. Blocking: the script may resolve names
    /// (`dnsResolve`, `isInNet`, `isResolvable`); run it off async workers.
    ///
    /// # Errors
    /// A [`PacError`] naming what failed.
    ///
    /// # Examples
    /// See the crate documentation.
    pub fn find_proxy(&self, url: &str, host: &str) -> Result<Vec<PacEntry>, PacError> {
        let answer = self.evaluate(url, host)?;
        let entries = parse_result(&answer);
        if entries.is_empty() {
            return Err(PacError::Empty(answer));
        }
        Ok(entries)
    }

    /// The raw answer of `FindProxyForURL(url, host)`, e.g. `"PROXY p:3128; DIRECT"`.
    ///
    /// # Errors
    /// A [`PacError`] naming what failed.
    ///
    /// # Examples
    /// ```
    /// let pac = wsvia_pac::PacScript::new("function FindProxyForURL(u, h) { return 'DIRECT'; }").unwrap();
    /// assert_eq!(pac.evaluate("ws://h/", "h").unwrap(), "DIRECT");
    /// ```
    pub fn evaluate(&self, url: &str, host: &str) -> Result<String, PacError> {
        self.with_function(|f| {
            f.call::<_, String>((url, host))
                .map_err(|e| PacError::Eval(e.to_string()))
        })
    }

    fn with_function<T>(
        &self,
        f: impl FnOnce(&Function<'_>) -> Result<T, PacError>,
    ) -> Result<T, PacError> {
        let runtime = Runtime::new().map_err(|e| PacError::Engine(e.to_string()))?;
        runtime.set_memory_limit(MEMORY_LIMIT);
        let started = Instant::now();
        runtime.set_interrupt_handler(Some(Box::new(move || started.elapsed() > TIME_LIMIT)));
        let context = Context::full(&runtime).map_err(|e| PacError::Engine(e.to_string()))?;
        context.with(|ctx| {
            let globals = ctx.globals();
            let resolve = Function::new(ctx.clone(), |host: String| resolve(&host))
                .map_err(|e| PacError::Engine(e.to_string()))?;
            let my_ip = Function::new(ctx.clone(), my_ip_address)
                .map_err(|e| PacError::Engine(e.to_string()))?;
            globals
                .set("__wsvia_resolve", resolve)
                .and_then(|_| globals.set("__wsvia_my_ip", my_ip))
                .map_err(|e| PacError::Engine(e.to_string()))?;
            ctx.eval::<(), _>(HELPERS)
                .map_err(|e| PacError::Engine(format!("helpers: {e}")))?;
            ctx.eval::<(), _>(self.source.as_str())
                .map_err(|e| PacError::Load(exception(&ctx, e)))?;
            let function: Function = globals
                .get("FindProxyForURL")
                .map_err(|_| PacError::NoFunction)?;
            f(&function).map_err(|e| match e {
                PacError::Eval(msg) => PacError::Eval(if msg.contains("Exception") {
                    exception(&ctx, rquickjs::Error::Exception)
                } else {
                    msg
                }),
                other => other,
            })
        })
    }
}

/// The text of the pending JavaScript exception, if any.
fn exception(ctx: &rquickjs::Ctx<'_>, e: rquickjs::Error) -> String {
    if matches!(e, rquickjs::Error::Exception) {
        let value = ctx.catch();
        if let Some(ex) = value.as_exception() {
            return ex.message().unwrap_or_else(|| "exception".to_owned());
        }
        return format!("{value:?}");
    }
    e.to_string()
}

/// `dnsResolve`: the first IPv4 address (then IPv6) of `host`, or "" when none.
fn resolve(host: &str) -> String {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.to_string();
    }
    let Ok(addrs) = (host, 0).to_socket_addrs() else {
        return String::new();
    };
    let addrs: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// `myIpAddress`: the address this machine would use to reach the Internet, found by
/// connecting (not sending on) a UDP socket to a documentation address; loopback when
/// there is no route.
fn my_ip_address() -> String {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(body: &str, url: &str, host: &str) -> Result<Vec<PacEntry>, PacError> {
        PacScript::new(format!("function FindProxyForURL(url, host) {{ {body} }}"))?
            .find_proxy(url, host)
    }

    fn first(body: &str, host: &str) -> String {
        eval(body, &format!("wss://{host}/"), host)
            .map(|l| format!("{:?}", l[0]))
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn helper_functions_answer_as_browsers_do() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "return isPlainHostName(host) ? 'DIRECT' : 'PROXY p:1';",
                "intranet",
                "Direct",
            ),
            (
                "return isPlainHostName(host) ? 'DIRECT' : 'PROXY p:1';",
                "a.example",
                "Http",
            ),
            (
                "return dnsDomainIs(host, '.example.com') ? 'DIRECT' : 'PROXY p:1';",
                "www.example.com",
                "Direct",
            ),
            (
                "return dnsDomainIs(host, '.example.com') ? 'DIRECT' : 'PROXY p:1';",
                "example.org",
                "Http",
            ),
            (
                "return localHostOrDomainIs(host, 'www.example.com') ? 'DIRECT' : 'PROXY p:1';",
                "www",
                "Direct",
            ),
            (
                "return shExpMatch(host, '*.corp.*') ? 'DIRECT' : 'PROXY p:1';",
                "a.corp.example",
                "Direct",
            ),
            (
                "return shExpMatch(host, 'a?.x') ? 'DIRECT' : 'PROXY p:1';",
                "ab.x",
                "Direct",
            ),
            (
                "return shExpMatch(host, 'a?.x') ? 'DIRECT' : 'PROXY p:1';",
                "abc.x",
                "Http",
            ),
            (
                "return isInNet(host, '10.0.0.0', '255.0.0.0') ? 'DIRECT' : 'PROXY p:1';",
                "10.1.2.3",
                "Direct",
            ),
            (
                "return isInNet(host, '10.0.0.0', '255.0.0.0') ? 'DIRECT' : 'PROXY p:1';",
                "11.1.2.3",
                "Http",
            ),
            (
                "return isInNet(host, '127.0.0.0', '255.0.0.0') ? 'DIRECT' : 'PROXY p:1';",
                "localhost",
                "Direct",
            ),
            (
                "return dnsResolve(host) === '127.0.0.1' ? 'DIRECT' : 'PROXY p:1';",
                "localhost",
                "Direct",
            ),
            (
                "return dnsDomainLevels(host) === 2 ? 'DIRECT' : 'PROXY p:1';",
                "a.b.c",
                "Direct",
            ),
            (
                "return convert_addr('1.2.3.4') === 16909060 ? 'DIRECT' : 'PROXY p:1';",
                "x",
                "Direct",
            ),
            (
                "return weekdayRange('SUN', 'SAT') ? 'DIRECT' : 'PROXY p:1';",
                "x",
                "Direct",
            ),
            (
                "return timeRange(0, 24) ? 'DIRECT' : 'PROXY p:1';",
                "x",
                "Direct",
            ),
            (
                "return dateRange('JAN', 'DEC') ? 'DIRECT' : 'PROXY p:1';",
                "x",
                "Direct",
            ),
            (
                "return typeof myIpAddress() === 'string' ? 'DIRECT' : 'PROXY p:1';",
                "x",
                "Direct",
            ),
        ];
        for (body, host, want) in cases {
            let got = first(body, host);
            assert!(got.starts_with(want), "{body} for {host}: {got}");
        }
    }

    #[test]
    fn bad_scripts_are_errors_that_say_what_failed() {
        assert_eq!(
            PacScript::new("var x = 1;").unwrap_err(),
            PacError::NoFunction
        );
        assert!(matches!(
            PacScript::new("function FindProxyForURL( {").unwrap_err(),
            PacError::Load(_)
        ));
        assert!(
            matches!(eval("throw new Error('boom');", "ws://h/", "h").unwrap_err(), PacError::Eval(m) if m.contains("boom"))
        );
        assert!(matches!(
            eval("return 'NOPE';", "ws://h/", "h").unwrap_err(),
            PacError::Empty(_)
        ));
        let looping = eval("while (true) {}", "ws://h/", "h").unwrap_err();
        assert!(matches!(looping, PacError::Eval(_)), "{looping:?}");
    }
}
