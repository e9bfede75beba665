//! websockify token files (`token: host:port` per line) and the `token`
//! query parameter that picks a target from them.
//!
//! This module owns [`TokenTable`], [`TokensError`], [`token_from_query`] and
//! [`token_from_target`]. Reading the file (or a directory of files) and
//! routing to a `tokens:FILE` upstream are the gateway's job; the route form
//! lives in [`crate::route`].
//!
//! The format follows websockify's `ReadOnlyTokenFile` plugin
//! (`websockify/token_plugins.py`): each line is stripped of surrounding
//! whitespace; empty lines and lines starting with `#` are skipped; other
//! lines split at `: ` into a token and a target (whitespace around each is
//! ignored), and the target splits at its last `:` into host and port. Where websockify skips a bad line with a
//! warning, [`TokenTable::parse`] fails with its line number, and where a
//! later line would silently replace an earlier token, it rejects the
//! duplicate. A tab may stand for the space after the colon, and an IPv6
//! host may be written in brackets (`vm: [::1]:5900`).
//!
//! Tokens are credentials: no error message and no `Debug` output contains
//! one.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::net::Ipv6Addr;

use percent_encoding::percent_decode_str;

/// The line form every error points to.
const LINE_FORM: &str = "expected `token: host:port`, e.g. `vm1: 127.0.0.1:5901`";

/// The targets of a websockify token file, by token.
///
/// `Debug` shows the number of tokens, not the tokens.
///
/// # Examples
///
/// ```
/// use wsvia_core::tokens::TokenTable;
///
/// let table = TokenTable::parse("# VNC desktops\nvm1: 127.0.0.1:5901\n  vm2:\t[::1]:5902  \n")?;
/// assert_eq!(table.lookup("vm1"), Some(("127.0.0.1", 5901)));
/// assert_eq!(table.lookup("vm2"), Some(("::1", 5902)));
/// assert_eq!(table.lookup("vm3"), None);
/// assert_eq!(table.len(), 2);
/// # Ok::<(), wsvia_core::tokens::TokensError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenTable {
    targets: HashMap<String, Target>,
}

/// One line's target, with its line for duplicate reports.
#[derive(Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    line: usize,
}

impl TokenTable {
    /// Parses the text of a token file.
    ///
    /// # Errors
    ///
    /// Returns a [`TokensError`] with the 1-based line number for a line
    /// without `: ` ([`TokensError::MissingSeparator`]), an empty token
    /// ([`TokensError::EmptyToken`]), a target that is not `host:port`
    /// ([`TokensError::InvalidTarget`]) or a token defined twice
    /// ([`TokensError::Duplicate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::tokens::{TokenTable, TokensError};
    ///
    /// let err = TokenTable::parse("vm1: host:5901\nvm2 host:5902\n").unwrap_err();
    /// assert_eq!(err, TokensError::MissingSeparator { line: 2 });
    /// ```
    pub fn parse(text: &str) -> Result<TokenTable, TokensError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut targets = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let (token, target) =
                split_line(content).ok_or(TokensError::MissingSeparator { line })?;
            let token = token.trim();
            if token.is_empty() {
                return Err(TokensError::EmptyToken { line });
            }
            let (host, port) = parse_target(target.trim())
                .map_err(|reason| TokensError::InvalidTarget { line, reason })?;
            match targets.entry(token.to_owned()) {
                Entry::Occupied(first) => {
                    let first: &Target = first.get();
                    return Err(TokensError::Duplicate {
                        line,
                        first_line: first.line,
                    });
                }
                Entry::Vacant(slot) => {
                    slot.insert(Target { host, port, line });
                }
            }
        }
        Ok(TokenTable { targets })
    }

    /// The target of `token`: host (lowercase name or IP address, IPv6
    /// without brackets) and port.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::tokens::TokenTable;
    ///
    /// let table = TokenTable::parse("abc: VNC.internal:5900")?;
    /// assert_eq!(table.lookup("abc"), Some(("vnc.internal", 5900)));
    /// assert_eq!(table.lookup("ABC"), None);
    /// # Ok::<(), wsvia_core::tokens::TokensError>(())
    /// ```
    pub fn lookup(&self, token: &str) -> Option<(&str, u16)> {
        self.targets
            .get(token)
            .map(|target| (target.host.as_str(), target.port))
    }

    /// How many tokens the table holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::tokens::TokenTable;
    ///
    /// assert_eq!(TokenTable::parse("# nothing yet\n")?.len(), 0);
    /// # Ok::<(), wsvia_core::tokens::TokensError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether the table holds no token.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::tokens::TokenTable;
    ///
    /// assert!(TokenTable::parse("")?.is_empty());
    /// # Ok::<(), wsvia_core::tokens::TokensError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenTable")
            .field("tokens", &self.targets.len())
            .finish()
    }
}

/// Errors in a token file; each names the 1-based line, never the token.
///
/// # Examples
///
/// ```
/// use wsvia_core::tokens::{TokenTable, TokensError};
///
/// let err = TokenTable::parse("a: h:1\na: h:2").unwrap_err();
/// assert_eq!(err, TokensError::Duplicate { line: 2, first_line: 1 });
/// assert_eq!(err.to_string(), "token file line 2: the token of line 1 appears again; each token may appear once");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokensError {
    /// The line has no `: ` between token and target.
    #[error("token file line {line}: no `: ` after the token; {LINE_FORM}")]
    MissingSeparator {
        /// The line number, from 1.
        line: usize,
    },
    /// Nothing before the `: `.
    #[error("token file line {line}: the token is empty; {LINE_FORM}")]
    EmptyToken {
        /// The line number, from 1.
        line: usize,
    },
    /// The target is not `host:port`.
    #[error("token file line {line}: invalid target: {reason}; {LINE_FORM}")]
    InvalidTarget {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A token defined on an earlier line appears again.
    #[error(
        "token file line {line}: the token of line {first_line} appears again; each token may appear once"
    )]
    Duplicate {
        /// The line of the repetition, from 1.
        line: usize,
        /// The line that defined the token first.
        first_line: usize,
    },
}

/// The `token` parameter of a request's query, as websockify reads it
/// (Python's `parse_qs`): pairs split at `&`, `+` means a space, `%XX` is
/// decoded (invalid UTF-8 becomes U+FFFD), empty values are skipped, the
/// first non-empty `token` wins, and trailing newlines are dropped. A leading
/// `?` is tolerated.
///
/// # Examples
///
/// ```
/// use wsvia_core::tokens::token_from_query;
///
/// assert_eq!(token_from_query(Some("token=abc")), Some("abc".into()));
/// assert_eq!(token_from_query(Some("?x=1&token=a%2Fb+c")), Some("a/b c".into()));
/// assert_eq!(token_from_query(Some("token=&token=second")), Some("second".into()));
/// assert_eq!(token_from_query(Some("tokens=abc")), None);
/// assert_eq!(token_from_query(None), None);
/// ```
pub fn token_from_query(query: Option<&str>) -> Option<String> {
    let query = query?;
    let query = query.strip_prefix('?').unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if decode_component(key) != "token" {
            return None;
        }
        let value = decode_component(value);
        let value = value.trim_end_matches('\n');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// The `token` parameter of an origin-form request target such as
/// `/?token=abc` or `/vnc/websockify?token=abc`: [`token_from_query`] on
/// what follows the first `?`.
///
/// # Examples
///
/// ```
/// use wsvia_core::tokens::token_from_target;
///
/// assert_eq!(token_from_target("/?token=abc"), Some("abc".into()));
/// assert_eq!(token_from_target("/websockify"), None);
/// ```
pub fn token_from_target(path_and_query: &str) -> Option<String> {
    token_from_query(path_and_query.split_once('?').map(|(_, query)| query))
}

/// Splits a stripped line at the first `:` followed by a space or tab, or at
/// a `:` ending the line (an empty target, reported as such).
fn split_line(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let colon = bytes
        .windows(2)
        .position(|pair| pair[0] == b':' && matches!(pair[1], b' ' | b'\t'))
        .or_else(|| {
            line.len()
                .checked_sub(1)
                .filter(|&last| bytes[last] == b':')
        })?;
    Some((&line[..colon], &line[colon + 1..]))
}

/// Parses `host:port`, `[v6]:port` or websockify's bare `v6:port`.
fn parse_target(target: &str) -> Result<(String, u16), &'static str> {
    if target.is_empty() {
        return Err("the target is empty");
    }
    if target.chars().any(char::is_whitespace) {
        return Err("the target holds a space (comments go on lines of their own)");
    }
    if target.starts_with("unix_socket:") {
        return Err("unix_socket targets are not supported");
    }
    let Some((host, port)) = target.rsplit_once(':') else {
        return Err("the port is missing");
    };
    let port = match port.parse::<u16>() {
        Ok(port) if port != 0 && port_text_is_digits(target) => port,
        _ => return Err("the port must be a number from 1 to 65535"),
    };
    let host = match host.strip_prefix('[') {
        Some(inner) => {
            let inner = inner
                .strip_suffix(']')
                .ok_or("an IPv6 address misses its closing `]`")?;
            parse_v6(inner)?
        }
        None if host.contains(':') => parse_v6(host)?,
        None => parse_name(host)?,
    };
    Ok((host, port))
}

/// Whether the text after the last `:` is only ASCII digits (`u16::from_str`
/// would also take a leading `+`).
fn port_text_is_digits(target: &str) -> bool {
    target
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_v6(text: &str) -> Result<String, &'static str> {
    text.parse::<Ipv6Addr>()
        .map(|addr| addr.to_string())
        .map_err(|_| "the host is not a name or IP address (write IPv6 in brackets)")
}

/// A DNS name or IPv4 address, lowercased.
fn parse_name(text: &str) -> Result<String, &'static str> {
    if text.is_empty() {
        return Err("the host is empty");
    }
    let valid = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && text.len() <= 253
        && text
            .strip_suffix('.')
            .unwrap_or(text)
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63);
    if !valid {
        return Err("the host is not a name or IP address");
    }
    Ok(text.to_ascii_lowercase())
}

/// Decodes one query component like Python's `unquote_plus`.
fn decode_component(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_websockify_files() {
        let text = "\u{feff}# token file\r\n\
                    \r\n\
                    vm1: 127.0.0.1:5901\r\n\
                    \t vm2 :  Desk.Example.com:05902  \n\
                    vm3:\t[2001:db8::1]:5903\n\
                    vm4: ::1:5904\n\
                    a:b: host:1\n\
                    ## another comment\n\
                    tok-with.dots_and~: h.:65535";
        let table = TokenTable::parse(text).expect("valid file");
        let cases: &[(&str, Option<(&str, u16)>)] = &[
            ("vm1", Some(("127.0.0.1", 5901))),
            ("vm2", Some(("desk.example.com", 5902))),
            ("vm3", Some(("2001:db8::1", 5903))),
            ("vm4", Some(("::1", 5904))),
            ("a:b", Some(("host", 1))),
            ("tok-with.dots_and~", Some(("h.", 65535))),
            ("VM1", None),
            ("vm", None),
            ("", None),
            ("# token file", None),
        ];
        for (token, expected) in cases {
            assert_eq!(table.lookup(token), *expected, "{token:?}");
        }
        assert_eq!(table.len(), 6);
        assert!(!table.is_empty());
    }

    #[test]
    fn reports_line_numbers() {
        let cases: &[(&str, TokensError)] = &[
            (
                "vm1 127.0.0.1:5901",
                TokensError::MissingSeparator { line: 1 },
            ),
            (
                "# c\n\nvm1:127.0.0.1:5901",
                TokensError::MissingSeparator { line: 3 },
            ),
            (": h:1", TokensError::EmptyToken { line: 1 }),
            (
                "a: h:1\n\nb: h:2\na: h:3",
                TokensError::Duplicate {
                    line: 4,
                    first_line: 1,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(TokenTable::parse(text).as_ref(), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn rejects_bad_targets() {
        let cases: &[(&str, &str)] = &[
            ("t: ", "the target is empty"),
            ("t: h", "the port is missing"),
            ("t: h:", "from 1 to 65535"),
            ("t: h:0", "from 1 to 65535"),
            ("t: h:65536", "from 1 to 65535"),
            ("t: h:+5", "from 1 to 65535"),
            ("t: h:59x", "from 1 to 65535"),
            ("t: :5900", "the host is empty"),
            ("t: h:5900 # my vm", "holds a space"),
            ("t: h: 5900", "holds a space"),
            ("t: unix_socket:/run/vnc.sock", "unix_socket"),
            ("t: [::1:5900", "closing"),
            ("t: [zz]:5900", "not a name or IP address"),
            ("t: 1:2:3:5900", "not a name or IP address"),
            ("t: h/x:5900", "not a name or IP address"),
            ("t: a..b:5900", "not a name or IP address"),
        ];
        for (text, fragment) in cases {
            match TokenTable::parse(text) {
                Err(TokensError::InvalidTarget { line: 1, reason }) => {
                    assert!(reason.contains(fragment), "{text:?}: {reason}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn secrets_stay_out_of_messages() {
        let err = TokenTable::parse("s3cret: h:1\ns3cret: h:2").expect_err("duplicate");
        assert!(!err.to_string().contains("s3cret"));
        let table = TokenTable::parse("s3cret: h:1").expect("valid");
        assert_eq!(format!("{table:?}"), "TokenTable { tokens: 1 }");
    }

    #[test]
    fn query_tokens() {
        let cases: &[(Option<&str>, Option<&str>)] = &[
            (None, None),
            (Some(""), None),
            (Some("token=abc"), Some("abc")),
            (Some("?token=abc"), Some("abc")),
            (Some("a=1&token=abc&b=2"), Some("abc")),
            (Some("token=first&token=second"), Some("first")),
            (Some("token=&token=second"), Some("second")),
            (Some("token&token=x"), Some("x")),
            (Some("token"), None),
            (Some("token="), None),
            (Some("to%6Ben=enc"), Some("enc")),
            (Some("token=a%20b+c%2B"), Some("a b c+")),
            (Some("token=abc%0A%0A"), Some("abc")),
            (Some("token=%0A"), None),
            (Some("token=%FF"), Some("\u{FFFD}")),
            (Some("token=%zz"), Some("%zz")),
            (Some("token=a=b"), Some("a=b")),
            (Some("Token=abc"), None),
            (Some("xtoken=abc"), None),
        ];
        for (query, expected) in cases {
            assert_eq!(token_from_query(*query).as_deref(), *expected, "{query:?}");
        }
    }

    #[test]
    fn target_tokens() {
        let cases: &[(&str, Option<&str>)] = &[
            ("/?token=abc", Some("abc")),
            ("/vnc/websockify?token=abc&x=1", Some("abc")),
            ("/websockify", None),
            ("/token=abc", None),
            ("", None),
            ("?token=a?b", Some("a?b")),
        ];
        for (target, expected) in cases {
            assert_eq!(
                token_from_target(target).as_deref(),
                *expected,
                "{target:?}"
            );
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let pieces = [
            ":", ": ", ":\t", "\n", "\r\n", "#", "[", "]", "::1", "h", "é", "0", "5900", " ", "%",
            "%4", "+", "&", "=", "token", "\u{feff}",
        ];
        let mut state: u32 = 0x0BAD_F00D;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..10 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                text.push_str(pieces[(state as usize) % pieces.len()]);
            }
            let _ = TokenTable::parse(&text);
            let _ = token_from_query(Some(&text));
            let _ = token_from_target(&text);
        }
    }
}
