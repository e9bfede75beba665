//! Which proxy, if any, a WebSocket target goes through, decided like curl.
//!
//! This module owns [`ProxySelector`] and its inputs ([`Target`],
//! [`EnvSnapshot`]) and output ([`Selection`], [`SelectionReason`]). Parsing a
//! proxy URL lives in [`crate::proxy_url`]; matching `no_proxy` entries lives
//! in [`crate::no_proxy`]. Nothing here reads the real environment: callers
//! pass a snapshot (`EnvSnapshot::from_vars(std::env::vars())`).
//!
//! Order, after curl's `lib/url.c` (`url_set_conn_proxies`, `detect_proxy`):
//! 1. `--proxy ""` disables proxies;
//! 2. otherwise the proxy candidate is `--proxy`, else the first set
//!    variable of
//!    - `wss://`: `wss_proxy`, `WSS_PROXY`, `https_proxy`, `HTTPS_PROXY`,
//!      `all_proxy`, `ALL_PROXY`;
//!    - `ws://`: `ws_proxy`, `WS_PROXY`, `http_proxy`, `all_proxy`,
//!      `ALL_PROXY` (never `HTTP_PROXY`: CGI puts a request's `Proxy:`
//!      header there);
//! 3. the `no_proxy` list (`--noproxy` if given, else `no_proxy`, else
//!    `NO_PROXY`) exempts matching targets, also from `--proxy`;
//! 4. the candidate is parsed; a malformed value is an error naming its
//!    variable.
//!
//! Empty variables count as unset, as in curl. Beyond curl, a value may be a
//! comma-separated list of proxies and `DIRECT` ([`ProxyChoice::parse_list`]):
//! the client tries them in order (failover), as browsers do with PAC answers.

use std::collections::BTreeMap;
use std::fmt;

use crate::no_proxy::NoProxy;
use crate::proxy_url::{ProxyChoice, ProxyUrl, ProxyUrlError};

/// The scheme of the WebSocket URL being connected to.
///
/// # Examples
///
/// ```
/// use wsvia_core::TargetScheme;
///
/// assert_ne!(TargetScheme::Ws, TargetScheme::Wss);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetScheme {
    /// `ws://`, looked up like `http://`.
    Ws,
    /// `wss://`, looked up like `https://`.
    Wss,
}

/// The WebSocket server a connection is for.
///
/// # Examples
///
/// ```
/// use wsvia_core::{Target, TargetScheme};
///
/// let target = Target::new(TargetScheme::Wss, "ws.example.com", 443);
/// assert_eq!(target.host, "ws.example.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `ws` or `wss`.
    pub scheme: TargetScheme,
    /// Host name or IP address; IPv6 without brackets.
    pub host: String,
    /// Port of the server.
    pub port: u16,
}

impl Target {
    /// Builds a target.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{Target, TargetScheme};
    ///
    /// let target = Target::new(TargetScheme::Ws, "::1", 8080);
    /// assert_eq!((target.scheme, target.port), (TargetScheme::Ws, 8080));
    /// ```
    pub fn new(scheme: TargetScheme, host: impl Into<String>, port: u16) -> Self {
        Target {
            scheme,
            host: host.into(),
            port,
        }
    }
}

/// A copy of the environment variables the selector may read.
///
/// `Debug` lists variable names only, since values may hold proxy passwords.
///
/// # Examples
///
/// ```
/// use wsvia_core::EnvSnapshot;
///
/// let env: EnvSnapshot = [("https_proxy", "http://proxy:3128"), ("no_proxy", "")]
///     .into_iter()
///     .collect();
/// assert_eq!(env.get("https_proxy"), Some("http://proxy:3128"));
/// assert_eq!(env.get("no_proxy"), None);
/// ```
#[derive(Clone, Default)]
pub struct EnvSnapshot {
    vars: BTreeMap<String, String>,
}

impl EnvSnapshot {
    /// Builds a snapshot from name/value pairs, e.g. `std::env::vars()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::EnvSnapshot;
    ///
    /// let env = EnvSnapshot::from_vars([("ALL_PROXY", "socks5h://tor:9050")]);
    /// assert_eq!(env.get("ALL_PROXY"), Some("socks5h://tor:9050"));
    /// assert_eq!(env.get("all_proxy"), None);
    /// ```
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        EnvSnapshot {
            vars: vars
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }

    /// The value of `name` (case-sensitive); empty values count as unset.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::EnvSnapshot;
    ///
    /// let env = EnvSnapshot::from_vars([("http_proxy", ""), ("no_proxy", "localhost")]);
    /// assert_eq!(env.get("http_proxy"), None);
    /// assert_eq!(env.get("no_proxy"), Some("localhost"));
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvSnapshot {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        EnvSnapshot::from_vars(iter)
    }
}

impl fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSnapshot")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Picks the proxy for a target from `--proxy`, `--noproxy` and the
/// environment, like curl.
///
/// # Examples
///
/// ```
/// use wsvia_core::{EnvSnapshot, ProxySelector, SelectionReason, Target, TargetScheme};
///
/// let env = EnvSnapshot::from_vars([
///     ("HTTPS_PROXY", "http://proxy.corp:3128"),
///     ("NO_PROXY", ".internal.corp"),
/// ]);
/// let selector = ProxySelector::new(env);
///
/// let public = selector.select(&Target::new(TargetScheme::Wss, "ws.example.com", 443))?;
/// assert_eq!(public.proxy().map(|p| p.authority()), Some("proxy.corp:3128".to_owned()));
/// assert_eq!(public.reason, SelectionReason::EnvVar { name: "HTTPS_PROXY".into() });
///
/// let internal = selector.select(&Target::new(TargetScheme::Wss, "chat.internal.corp", 443))?;
/// assert!(internal.proxy().is_none());
/// # Ok::<(), wsvia_core::ProxyUrlError>(())
/// ```
#[derive(Clone, Default)]
pub struct ProxySelector {
    env: EnvSnapshot,
    /// `--proxy` entries as given (not yet parsed); `[""]` or `[]` turns proxies off.
    explicit: Option<Vec<String>>,
    no_proxy: Option<String>,
}

impl ProxySelector {
    /// A selector reading only `env` (no `--proxy`, no `--noproxy`).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{EnvSnapshot, ProxySelector, Target, TargetScheme};
    ///
    /// let selector = ProxySelector::new(EnvSnapshot::default());
    /// let selection = selector.select(&Target::new(TargetScheme::Ws, "example.com", 80))?;
    /// assert!(selection.proxy().is_none());
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn new(env: EnvSnapshot) -> Self {
        ProxySelector {
            env,
            explicit: None,
            no_proxy: None,
        }
    }

    /// Sets the `--proxy` value; it wins over every variable. `Some("")`
    /// disables proxies (curl's `-x ""`). The value may be a comma-separated
    /// list of proxies and `DIRECT`, tried in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{EnvSnapshot, ProxySelector, SelectionReason, Target, TargetScheme};
    ///
    /// let env = EnvSnapshot::from_vars([("all_proxy", "http://env-proxy:3128")]);
    /// let target = Target::new(TargetScheme::Wss, "example.com", 443);
    ///
    /// let flag = ProxySelector::new(env.clone()).explicit_proxy(Some("flag-proxy:8080".into()));
    /// assert_eq!(flag.select(&target)?.reason, SelectionReason::ExplicitFlag);
    ///
    /// let off = ProxySelector::new(env).explicit_proxy(Some(String::new()));
    /// assert_eq!(off.select(&target)?.reason, SelectionReason::ExplicitNone);
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn explicit_proxy(mut self, proxy: Option<String>) -> Self {
        self.explicit = proxy.map(|list| list.split(',').map(str::to_owned).collect());
        self
    }

    /// Sets the `--proxy` list entry by entry (each a proxy URL or `DIRECT`,
    /// not split on commas); an empty list disables proxies.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{EnvSnapshot, ProxyChoice, ProxySelector, Target, TargetScheme};
    ///
    /// let selector = ProxySelector::new(EnvSnapshot::default())
    ///     .explicit_proxies(vec!["http://a:3128".into(), "DIRECT".into()]);
    /// let selection = selector.select(&Target::new(TargetScheme::Ws, "h", 80))?;
    /// assert_eq!(selection.choices[1], ProxyChoice::Direct);
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn explicit_proxies(mut self, entries: Vec<String>) -> Self {
        self.explicit = Some(entries);
        self
    }

    /// Sets the `--noproxy` value; it replaces `no_proxy` / `NO_PROXY`, and
    /// `Some("")` means "no exemptions" even if those variables are set.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{EnvSnapshot, ProxySelector, Target, TargetScheme};
    ///
    /// let env = EnvSnapshot::from_vars([
    ///     ("https_proxy", "http://proxy:3128"),
    ///     ("no_proxy", "*"),
    /// ]);
    /// let target = Target::new(TargetScheme::Wss, "example.com", 443);
    /// let selector = ProxySelector::new(env).no_proxy_override(Some(String::new()));
    /// assert!(selector.select(&target)?.proxy().is_some());
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn no_proxy_override(mut self, list: Option<String>) -> Self {
        self.no_proxy = list;
        self
    }

    /// Decides whether and through which proxy to reach `target`.
    ///
    /// # Errors
    ///
    /// Returns the [`ProxyUrlError`] of a malformed `--proxy` value as is,
    /// and one from a variable wrapped in [`ProxyUrlError::InVariable`]
    /// naming it. A malformed value is not an error when the target is
    /// exempted by the `no_proxy` list.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{EnvSnapshot, ProxySelector, ProxyUrlError, Target, TargetScheme};
    ///
    /// let env = EnvSnapshot::from_vars([("wss_proxy", "socks4://proxy")]);
    /// let target = Target::new(TargetScheme::Wss, "example.com", 443);
    /// let err = ProxySelector::new(env).select(&target).unwrap_err();
    /// assert!(matches!(err, ProxyUrlError::InVariable { ref name, .. } if name == "wss_proxy"));
    /// ```
    pub fn select(&self, target: &Target) -> Result<Selection, ProxyUrlError> {
        let candidate = match self.explicit.as_deref() {
            Some([]) => return Ok(Selection::direct(SelectionReason::ExplicitNone)),
            Some([only]) if only.trim().is_empty() => {
                return Ok(Selection::direct(SelectionReason::ExplicitNone));
            }
            Some(entries) => Some((None, Candidate::Entries(entries))),
            None => self
                .env_candidate(target.scheme)
                .map(|(name, value)| (name, Candidate::List(value))),
        };
        let Some((variable, value)) = candidate else {
            return Ok(Selection::direct(SelectionReason::NoEnv));
        };
        if let Some((source, list)) = self.no_proxy_list()
            && let Some(entry) = NoProxy::parse(list).matches(&target.host, target.port)
        {
            return Ok(Selection::direct(SelectionReason::NoProxyEntry {
                source: source.to_owned(),
                entry: entry.to_owned(),
            }));
        }
        match variable {
            None => Ok(Selection {
                choices: value.parse()?,
                reason: SelectionReason::ExplicitFlag,
            }),
            Some(name) => {
                let choices = value.parse().map_err(|source| ProxyUrlError::InVariable {
                    name: name.to_owned(),
                    source: Box::new(source),
                })?;
                Ok(Selection {
                    choices,
                    reason: SelectionReason::EnvVar {
                        name: name.to_owned(),
                    },
                })
            }
        }
    }

    /// The first set proxy variable for `scheme`, with its name.
    fn env_candidate(&self, scheme: TargetScheme) -> Option<(Option<&'static str>, &str)> {
        let names: &[&'static str] = match scheme {
            TargetScheme::Wss => &[
                "wss_proxy",
                "WSS_PROXY",
                "https_proxy",
                "HTTPS_PROXY",
                "all_proxy",
                "ALL_PROXY",
            ],
            TargetScheme::Ws => &[
                "ws_proxy",
                "WS_PROXY",
                "http_proxy",
                "all_proxy",
                "ALL_PROXY",
            ],
        };
        names
            .iter()
            .find_map(|name| Some((Some(*name), self.env.get(name)?)))
    }

    /// The `no_proxy` list in force and where it came from.
    fn no_proxy_list(&self) -> Option<(&'static str, &str)> {
        if let Some(list) = self.no_proxy.as_deref() {
            return Some(("--noproxy", list));
        }
        ["no_proxy", "NO_PROXY"]
            .into_iter()
            .find_map(|name| Some((name, self.env.get(name)?)))
    }
}

/// A proxy value not parsed yet: a variable's list, or `--proxy` entries.
enum Candidate<'a> {
    List(&'a str),
    Entries(&'a [String]),
}

impl Candidate<'_> {
    fn parse(&self) -> Result<Vec<ProxyChoice>, ProxyUrlError> {
        match self {
            Candidate::List(list) => ProxyChoice::parse_list(list),
            Candidate::Entries(entries) => {
                let choices = entries
                    .iter()
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| ProxyChoice::parse(e))
                    .collect::<Result<Vec<_>, _>>()?;
                if choices.is_empty() {
                    return Err(ProxyUrlError::Empty);
                }
                Ok(choices)
            }
        }
    }
}

impl fmt::Debug for ProxySelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The `--proxy` value may carry a password: show only whether it is set.
        f.debug_struct("ProxySelector")
            .field("env", &self.env)
            .field("explicit_proxy", &self.explicit.as_ref().map(|_| ".."))
            .field("no_proxy_override", &self.no_proxy)
            .finish()
    }
}

/// The outcome of [`ProxySelector::select`]: what to try, in order, and why.
///
/// # Examples
///
/// ```
/// use wsvia_core::{EnvSnapshot, ProxySelector, Target, TargetScheme};
///
/// let env = EnvSnapshot::from_vars([("http_proxy", "proxy:3128")]);
/// let selection = ProxySelector::new(env).select(&Target::new(TargetScheme::Ws, "h", 80))?;
/// assert_eq!(selection.reason.to_string(), "proxy from environment variable http_proxy");
/// assert_eq!(selection.proxy().map(|p| p.port), Some(3128));
/// # Ok::<(), wsvia_core::ProxyUrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Proxies (and `DIRECT`) to try in order; never empty. One entry unless a list
    /// was given (`--proxy a,b`, `https_proxy=a,DIRECT`).
    pub choices: Vec<ProxyChoice>,
    /// Why, for `wsvia connect -v`.
    pub reason: SelectionReason,
}

impl Selection {
    /// The route a PAC answer gives: its entries in order, as proxy URLs or `DIRECT`.
    ///
    /// # Errors
    /// When an entry is not a usable proxy URL.
    ///
    /// # Examples
    /// ```
    /// use wsvia_core::Selection;
    /// let s = Selection::from_pac("PROXY p:3128; DIRECT", &["http://p:3128", "DIRECT"]).unwrap();
    /// assert_eq!(s.choices.len(), 2);
    /// ```
    pub fn from_pac(answer: &str, entries: &[&str]) -> Result<Selection, ProxyUrlError> {
        let choices = entries
            .iter()
            .map(|e| ProxyChoice::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        if choices.is_empty() {
            return Ok(Selection::direct(SelectionReason::Pac {
                answer: answer.to_owned(),
            }));
        }
        Ok(Selection {
            choices,
            reason: SelectionReason::Pac {
                answer: answer.to_owned(),
            },
        })
    }

    fn direct(reason: SelectionReason) -> Self {
        Selection {
            choices: vec![ProxyChoice::Direct],
            reason,
        }
    }

    /// The first choice's proxy; `None` when it is `DIRECT`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::{EnvSnapshot, ProxySelector, Target, TargetScheme};
    ///
    /// let s = ProxySelector::new(EnvSnapshot::default())
    ///     .explicit_proxy(Some("DIRECT,http://p:1".into()))
    ///     .select(&Target::new(TargetScheme::Ws, "h", 80))?;
    /// assert!(s.proxy().is_none());
    /// assert_eq!(s.choices.len(), 2);
    /// # Ok::<(), wsvia_core::ProxyUrlError>(())
    /// ```
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        self.choices.first().and_then(ProxyChoice::proxy)
    }
}

/// Why a [`Selection`] came out the way it did.
///
/// `Display` gives one sentence for verbose output.
///
/// # Examples
///
/// ```
/// use wsvia_core::SelectionReason;
///
/// let reason = SelectionReason::NoProxyEntry {
///     source: "NO_PROXY".into(),
///     entry: ".example.com".into(),
/// };
/// assert_eq!(
///     reason.to_string(),
///     "no proxy: the target matches no_proxy entry '.example.com' (from NO_PROXY)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionReason {
    /// The proxy came from `--proxy`.
    ExplicitFlag,
    /// `--proxy ""` turned proxies off.
    ExplicitNone,
    /// The proxy came from this environment variable.
    EnvVar {
        /// E.g. `https_proxy`.
        name: String,
    },
    /// The target matched a `no_proxy` entry.
    NoProxyEntry {
        /// `--noproxy`, `no_proxy` or `NO_PROXY`.
        source: String,
        /// The entry as written.
        entry: String,
    },
    /// Neither `--proxy` nor any proxy variable for the scheme was set.
    NoEnv,
    /// A PAC file's `FindProxyForURL` answered this.
    Pac {
        /// The answer as the script returned it, e.g. `PROXY p:3128; DIRECT`.
        answer: String,
    },
}

impl fmt::Display for SelectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionReason::ExplicitFlag => f.write_str("proxy from --proxy"),
            SelectionReason::Pac { answer } => {
                write!(
                    f,
                    "proxy list from the PAC file: FindProxyForURL answered {answer:?}"
                )
            }
            SelectionReason::ExplicitNone => f.write_str("no proxy: --proxy \"\" disables proxies"),
            SelectionReason::EnvVar { name } => {
                write!(f, "proxy from environment variable {name}")
            }
            SelectionReason::NoProxyEntry { source, entry } => write!(
                f,
                "no proxy: the target matches no_proxy entry '{entry}' (from {source})"
            ),
            SelectionReason::NoEnv => {
                f.write_str("no proxy: no --proxy given and no proxy environment variable set")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SelectionReason::{ExplicitFlag, ExplicitNone, NoEnv};
    use TargetScheme::{Ws, Wss};

    type Env = &'static [(&'static str, &'static str)];
    /// Redacted proxy URL (`None`: direct) and reason.
    type Outcome = (Option<&'static str>, SelectionReason);
    /// `(scheme, host, port)`.
    type To = (TargetScheme, &'static str, u16);
    /// `(--proxy, --noproxy)`.
    type Flags = (Option<&'static str>, Option<&'static str>);

    const WSS: To = (Wss, "ws.example.com", 443);
    const WS: To = (Ws, "ws.example.com", 80);

    fn selector(env: &[(&str, &str)], explicit: Option<&str>, list: Option<&str>) -> ProxySelector {
        ProxySelector::new(env.iter().copied().collect())
            .explicit_proxy(explicit.map(String::from))
            .no_proxy_override(list.map(String::from))
    }

    fn run(
        label: &str,
        env: &[(&str, &str)],
        flags: Flags,
        target: To,
    ) -> (Option<String>, SelectionReason) {
        let (scheme, host, port) = target;
        let selection = selector(env, flags.0, flags.1)
            .select(&Target::new(scheme, host, port))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        (selection.proxy().map(|p| p.redacted()), selection.reason)
    }

    fn check(label: &str, got: (Option<String>, SelectionReason), expected: &Outcome) {
        assert_eq!(got.0.as_deref(), expected.0, "{label}");
        assert_eq!(got.1, expected.1, "{label}");
    }

    fn via(name: &str, url: &'static str) -> Outcome {
        (Some(url), SelectionReason::EnvVar { name: name.into() })
    }

    fn skip(source: &str, entry: &str) -> Outcome {
        let reason = SelectionReason::NoProxyEntry {
            source: source.into(),
            entry: entry.into(),
        };
        (None, reason)
    }

    const ALL_WSS: Env = &[
        ("wss_proxy", "http://wss-lower:1"),
        ("WSS_PROXY", "http://wss-upper:2"),
        ("https_proxy", "http://https-lower:3"),
        ("HTTPS_PROXY", "http://https-upper:4"),
        ("all_proxy", "http://all-lower:5"),
        ("ALL_PROXY", "http://all-upper:6"),
    ];
    const ALL_WS: Env = &[
        ("ws_proxy", "http://ws-lower:1"),
        ("WS_PROXY", "http://ws-upper:2"),
        ("http_proxy", "http://http-lower:3"),
        ("HTTP_PROXY", "http://http-upper:4"),
        ("all_proxy", "http://all-lower:5"),
        ("ALL_PROXY", "http://all-upper:6"),
    ];

    #[test]
    #[rustfmt::skip]
    fn environment_precedence() {
        // curl lib/url.c detect_proxy: <scheme>_proxy, its uppercase form
        // (never HTTP_PROXY), the ws/wss fallbacks, then all_proxy/ALL_PROXY.
        let cases: &[(&str, Env, To, Outcome)] = &[
            ("empty env", &[], WSS, (None, NoEnv)),
            ("empty values are unset", &[("https_proxy", ""), ("all_proxy", "")], WSS, (None, NoEnv)),
            ("https_proxy is not for ws", &[("https_proxy", "p:1")], WS, (None, NoEnv)),
            ("http_proxy is not for wss", &[("http_proxy", "p:1")], WSS, (None, NoEnv)),
            ("wss: wss_proxy", ALL_WSS, WSS, via("wss_proxy", "http://wss-lower:1")),
            ("wss: WSS_PROXY", &ALL_WSS[1..], WSS, via("WSS_PROXY", "http://wss-upper:2")),
            ("wss: https_proxy", &ALL_WSS[2..], WSS, via("https_proxy", "http://https-lower:3")),
            ("wss: HTTPS_PROXY", &ALL_WSS[3..], WSS, via("HTTPS_PROXY", "http://https-upper:4")),
            ("wss: all_proxy", &ALL_WSS[4..], WSS, via("all_proxy", "http://all-lower:5")),
            ("wss: ALL_PROXY", &ALL_WSS[5..], WSS, via("ALL_PROXY", "http://all-upper:6")),
            ("wss: empty wss_proxy", &[("wss_proxy", ""), ("HTTPS_PROXY", "p:4")], WSS, via("HTTPS_PROXY", "http://p:4")),
            ("ws: ws_proxy", ALL_WS, WS, via("ws_proxy", "http://ws-lower:1")),
            ("ws: WS_PROXY", &ALL_WS[1..], WS, via("WS_PROXY", "http://ws-upper:2")),
            ("ws: http_proxy", &ALL_WS[2..], WS, via("http_proxy", "http://http-lower:3")),
            ("ws: HTTP_PROXY skipped", &ALL_WS[3..], WS, via("all_proxy", "http://all-lower:5")),
            ("ws: ALL_PROXY", &ALL_WS[5..], WS, via("ALL_PROXY", "http://all-upper:6")),
            ("ws: HTTP_PROXY alone", &[("HTTP_PROXY", "p:4")], WS, (None, NoEnv)),
            ("socks5h from ALL_PROXY", &[("ALL_PROXY", "socks5h://tor:9050")], WSS, via("ALL_PROXY", "socks5h://tor:9050")),
            ("socks5 default port", &[("all_proxy", "socks5://s")], WS, via("all_proxy", "socks5://s:1080")),
            ("https proxy default port", &[("https_proxy", "https://tls")], WSS, via("https_proxy", "https://tls:443")),
            ("no_proxy without a proxy", &[("no_proxy", "*")], WSS, (None, NoEnv)),
        ];
        for (label, env, target, expected) in cases {
            check(label, run(label, env, (None, None), *target), expected);
        }
    }

    #[test]
    #[rustfmt::skip]
    fn flags_and_no_proxy() {
        // curl lib/url.c url_set_conn_proxies: -x wins, -x "" disables,
        // --noproxy replaces no_proxy/NO_PROXY (lowercase first), and the
        // list exempts -x proxies too. Every row also has BASE set.
        const BASE: Env = &[("https_proxy", "p:1"), ("http_proxy", "p:1")];
        const NONE: Flags = (None, None);
        let proxied = || via("https_proxy", "http://p:1");
        let cases: &[(&str, Env, Flags, To, Outcome)] = &[
            ("flag beats env", &[], (Some("f:8080"), None), WSS, (Some("http://f:8080"), ExplicitFlag)),
            ("flag with user", &[], (Some("u:p@f:1"), None), WS, (Some("http://u:***@f:1"), ExplicitFlag)),
            ("empty flag", &[], (Some(""), None), WSS, (None, ExplicitNone)),
            ("empty flag beats list", &[("no_proxy", "*")], (Some(""), None), WSS, (None, ExplicitNone)),
            ("no_proxy", &[("no_proxy", ".example.com")], NONE, WSS, skip("no_proxy", ".example.com")),
            ("NO_PROXY", &[("NO_PROXY", "example.com")], NONE, WSS, skip("NO_PROXY", "example.com")),
            ("no_proxy over NO_PROXY", &[("no_proxy", "o.test"), ("NO_PROXY", "*")], NONE, WSS, proxied()),
            ("empty no_proxy", &[("no_proxy", ""), ("NO_PROXY", "*")], NONE, WSS, skip("NO_PROXY", "*")),
            ("list exempts flag", &[("no_proxy", "ws.example.com")], (Some("f:1"), None), WSS, skip("no_proxy", "ws.example.com")),
            ("--noproxy", &[], (None, Some("localhost,.example.com")), WSS, skip("--noproxy", ".example.com")),
            ("--noproxy replaces env", &[("no_proxy", "*")], (None, Some("o.test")), WSS, proxied()),
            ("--noproxy \"\"", &[("NO_PROXY", "*")], (None, Some("")), WSS, proxied()),
            ("--noproxy exempts flag", &[], (Some("f:1"), Some("*")), WSS, skip("--noproxy", "*")),
            ("port entry, same port", &[("no_proxy", "ws.example.com:80")], NONE, WS, skip("no_proxy", "ws.example.com:80")),
            ("port entry, other port", &[("no_proxy", "ws.example.com:80")], NONE, WSS, proxied()),
            ("CIDR, IPv4 target", &[("no_proxy", "10.0.0.0/8")], NONE, (Wss, "10.2.3.4", 443), skip("no_proxy", "10.0.0.0/8")),
            ("IPv6 target", &[("no_proxy", "::1")], NONE, (Wss, "::1", 443), skip("no_proxy", "::1")),
            ("malformed but exempt", &[("https_proxy", "socks4://p"), ("no_proxy", "*")], NONE, WSS, skip("no_proxy", "*")),
        ];
        for (label, extra, flags, target, expected) in cases {
            let env: Vec<_> = BASE.iter().chain(extra.iter()).copied().collect();
            check(label, run(label, &env, *flags, *target), expected);
        }
    }

    #[test]
    #[rustfmt::skip]
    fn malformed_values_are_errors_naming_their_source() {
        // (env, --proxy, scheme, variable the error must name; None: unwrapped)
        let cases: &[(Env, Option<&str>, TargetScheme, Option<&str>)] = &[
            (&[("wss_proxy", "socks4://p")], None, Wss, Some("wss_proxy")),
            (&[("HTTPS_PROXY", "p:99999")], None, Wss, Some("HTTPS_PROXY")),
            (&[("ALL_PROXY", "http://")], None, Ws, Some("ALL_PROXY")),
            (&[("http_proxy", "p/path")], None, Ws, Some("http_proxy")),
            (&[("https_proxy", "p:1")], Some("p:0"), Wss, None),
        ];
        for (env, explicit, scheme, variable) in cases {
            let label = format!("{env:?} {explicit:?}");
            let err = selector(env, *explicit, None)
                .select(&Target::new(*scheme, "example.com", 443))
                .expect_err(&label);
            match (&err, variable) {
                (ProxyUrlError::InVariable { name, source }, Some(expected)) => {
                    assert_eq!(name, expected, "{label}");
                    assert!(!matches!(**source, ProxyUrlError::InVariable { .. }), "{label}");
                    assert!(err.to_string().contains(expected), "{label}: {err}");
                }
                (ProxyUrlError::InVariable { .. }, None) => panic!("{label}: wrapped: {err}"),
                (_, Some(_)) => panic!("{label}: not wrapped: {err}"),
                (_, None) => {}
            }
        }
    }

    #[test]
    fn variable_error_keeps_its_cause_and_hides_the_password() {
        let env = EnvSnapshot::from_vars([("https_proxy", "socks4://alice:hunter2@proxy")]);
        let err = ProxySelector::new(env)
            .select(&Target::new(Wss, "example.com", 443))
            .expect_err("socks4 is unsupported");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(
            err.to_string(),
            "invalid proxy URL in environment variable https_proxy"
        );
        assert!(
            cause.as_deref().is_some_and(|c| c.contains("socks4")),
            "{cause:?}"
        );
        assert!(!format!("{err} {cause:?} {err:?}").contains("hunter2"));
    }

    #[test]
    fn reasons_read_as_sentences() {
        let cases = [
            (ExplicitFlag, "proxy from --proxy"),
            (ExplicitNone, "no proxy: --proxy \"\" disables proxies"),
            (
                via("https_proxy", "").1,
                "proxy from environment variable https_proxy",
            ),
            (
                skip("--noproxy", "localhost").1,
                "no proxy: the target matches no_proxy entry 'localhost' (from --noproxy)",
            ),
            (
                NoEnv,
                "no proxy: no --proxy given and no proxy environment variable set",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn debug_output_hides_values() {
        let env = EnvSnapshot::from_vars([("https_proxy", "http://alice:hunter2@p:1")]);
        let selector = ProxySelector::new(env).explicit_proxy(Some("bob:hunter3@q:2".into()));
        let debug = format!("{selector:?}");
        assert!(debug.contains("https_proxy"), "{debug}");
        assert!(!debug.contains("hunter"), "{debug}");
    }

    #[test]
    fn snapshot_lookup_is_case_sensitive_and_skips_empty() {
        let env: EnvSnapshot = [("no_proxy", "a"), ("NO_PROXY", ""), ("x", "1")]
            .into_iter()
            .collect();
        let cases = [
            ("no_proxy", Some("a")),
            ("NO_PROXY", None),
            ("No_Proxy", None),
            ("x", Some("1")),
        ];
        for (name, expected) in cases {
            assert_eq!(env.get(name), expected, "{name}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn lists_keep_their_order_and_source() {
        // (env, --proxy, expected choices or Err)
        type Expected = Result<&'static [&'static str], ()>;
        let cases: &[(Env, Option<&str>, Expected)] = &[
            (&[], Some("http://a:1,socks5h://b:2,DIRECT"), Ok(&["http://a:1", "socks5h://b:2", "DIRECT"])),
            (&[("https_proxy", "http://a:1, DIRECT")], None, Ok(&["http://a:1", "DIRECT"])),
            (&[], Some("DIRECT"), Ok(&["DIRECT"])),
            (&[], Some(","), Err(())),
            (&[], Some("http://a:1,ftp://b"), Err(())),
            (&[("no_proxy", "ws.example.com")], Some("http://a:1,http://b:2"), Ok(&["DIRECT"])),
        ];
        for (env, flag, expected) in cases {
            let got = selector(env, *flag, None)
                .select(&Target::new(Wss, "ws.example.com", 443))
                .map(|s| s.choices.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(|_| ());
            let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, expected, "{env:?} {flag:?}");
        }
        let entries = ProxySelector::new(EnvSnapshot::default())
            .explicit_proxies(vec!["http://u:a,b@p:1".into(), "direct".into()])
            .select(&Target::new(Ws, "h", 80))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries.proxy().and_then(|p| p.credentials.clone()).map(|c| c.password), Some("a,b".into()));
        assert_eq!(entries.choices[1], ProxyChoice::Direct);
        let off = ProxySelector::new(EnvSnapshot::from_vars([("all_proxy", "p:1")])).explicit_proxies(vec![]);
        assert_eq!(off.select(&Target::new(Ws, "h", 80)).map(|s| s.reason), Ok(ExplicitNone));
    }
}
