//! Parse `Proxy-Authenticate` / `WWW-Authenticate` challenges (RFC 9110 §11).
//!
//! This module owns the generic challenge syntax, for every scheme:
//! `auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, several challenges per
//! header value, quoted-strings with backslash escapes, and picking the
//! strongest challenge we can answer ([`strongest`]). The same syntax carries
//! `Authorization` credentials, so [`crate::digest`] reuses this parser.
//! What a `Digest` challenge *means* lives in [`crate::digest`]; `Basic`
//! answers live in [`crate::auth`].
//!
//! The parser is total: any input gives `Ok` or a [`ChallengeError`] naming
//! the byte offset, never a panic.

use std::fmt;

use crate::digest::{DigestAlgorithm, DigestChallenge};

/// One authentication challenge, e.g. `Digest realm="r", nonce="n"`.
///
/// # Examples
///
/// ```
/// use wsvia_core::challenge::{Challenge, parse_challenges};
///
/// let parsed = parse_challenges(r#"Basic realm="proxy""#)?;
/// assert_eq!(
///     parsed,
///     [Challenge {
///         scheme: "Basic".into(),
///         token68: None,
///         params: vec![("realm".into(), "proxy".into())],
///     }]
/// );
/// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare with [`Challenge::is_scheme`]).
    pub scheme: String,
    /// The token68 form (`NTLM TlRMTVNTUAAC...`), if the challenge used it.
    pub token68: Option<String>,
    /// `auth-param`s in order: lowercased name, unquoted value.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Builds a challenge with the given scheme and no parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::Challenge;
    ///
    /// let c = Challenge::new("Negotiate");
    /// assert_eq!(c.to_string(), "Negotiate");
    /// ```
    pub fn new(scheme: impl Into<String>) -> Self {
        Self {
            scheme: scheme.into(),
            token68: None,
            params: Vec::new(),
        }
    }

    /// Appends an `auth-param` (the name is lowercased) and returns `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::Challenge;
    ///
    /// let c = Challenge::new("Basic").with_param("Realm", "wsvia proxy");
    /// assert_eq!(c.to_string(), r#"Basic realm="wsvia proxy""#);
    /// ```
    #[must_use]
    pub fn with_param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.params.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Returns the first value of the parameter `name` (case-insensitive).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::parse_challenges;
    ///
    /// let c = &parse_challenges(r#"Digest REALM="r", Nonce=abc"#)?[0];
    /// assert_eq!(c.param("nonce"), Some("abc"));
    /// assert_eq!(c.param("NONCE"), Some("abc"));
    /// assert_eq!(c.param("opaque"), None);
    /// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Returns the `realm` parameter, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::parse_challenges;
    ///
    /// let c = &parse_challenges(r#"Basic realm="corp \"proxy\"""#)?[0];
    /// assert_eq!(c.realm(), Some(r#"corp "proxy""#));
    /// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
    /// ```
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// Tells whether this challenge uses `scheme`, compared case-insensitively.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::parse_challenges;
    ///
    /// let c = &parse_challenges("NTLM")?[0];
    /// assert!(c.is_scheme("ntlm"));
    /// assert!(!c.is_scheme("Negotiate"));
    /// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
    /// ```
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

/// Serialises the challenge in header form.
///
/// Values are written as quoted-strings, except the token-valued Digest
/// parameters `algorithm`, `stale`, `userhash` and `charset`, which some
/// peers only accept unquoted (RFC 7616 §3.3).
///
/// # Examples
///
/// ```
/// use wsvia_core::Challenge;
///
/// let c = Challenge::new("Digest")
///     .with_param("realm", "r")
///     .with_param("algorithm", "SHA-256");
/// assert_eq!(c.to_string(), r#"Digest realm="r", algorithm=SHA-256"#);
/// ```
impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(token68) = &self.token68 {
            write!(f, " {token68}")?;
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            let sep = if i == 0 && self.token68.is_none() {
                " "
            } else {
                ", "
            };
            let bare = matches!(
                name.as_str(),
                "algorithm" | "stale" | "userhash" | "charset"
            ) && !value.is_empty()
                && value.bytes().all(is_tchar);
            if bare {
                write!(f, "{sep}{name}={value}")?;
            } else {
                write!(f, "{sep}{name}={}", quote(value))?;
            }
        }
        Ok(())
    }
}

/// Why a challenge (or credentials) header value could not be parsed.
///
/// # Examples
///
/// ```
/// use wsvia_core::challenge::{ChallengeError, parse_challenges};
///
/// let err = parse_challenges(r#"Basic realm="open"#).unwrap_err();
/// assert_eq!(err, ChallengeError::UnterminatedQuote { offset: 12 });
/// assert!(err.to_string().contains("byte 12"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The value holds no challenge at all (empty, or only commas/spaces).
    #[error(
        "auth challenge header is empty; expected at least one auth-scheme, e.g. `Basic realm=\"proxy\"`"
    )]
    Empty,
    /// A byte that the grammar does not allow at this position.
    #[error("auth challenge: expected {expected} at byte {offset}, found {}", describe(.found))]
    Unexpected {
        /// Byte offset into the header value.
        offset: usize,
        /// What the grammar expected there.
        expected: &'static str,
        /// What was found (`None` for end of input).
        found: Option<char>,
    },
    /// A quoted-string that is never closed.
    #[error("auth challenge: quoted-string opened at byte {offset} has no closing '\"'")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        offset: usize,
    },
}

/// Parses one `Proxy-Authenticate` / `WWW-Authenticate` header value into
/// its challenges.
///
/// Several comma-separated challenges may share one value; empty list
/// elements and extra spaces are skipped. Parameter names are lowercased,
/// quoted values unescaped.
///
/// # Errors
///
/// [`ChallengeError::Empty`] when no challenge is present, otherwise the
/// first syntax error with its byte offset.
///
/// # Examples
///
/// ```
/// use wsvia_core::parse_challenges;
///
/// let cs = parse_challenges(
///     r#"Basic realm="a", Digest realm="b", nonce="x", qop="auth,auth-int", NTLM"#,
/// )?;
/// assert_eq!(cs.len(), 3);
/// assert!(cs[1].is_scheme("digest"));
/// assert_eq!(cs[1].param("qop"), Some("auth,auth-int"));
/// assert!(cs[2].params.is_empty());
/// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
/// ```
pub fn parse_challenges(header_value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    let out = Parser::new(header_value).challenges()?;
    if out.is_empty() {
        return Err(ChallengeError::Empty);
    }
    Ok(out)
}

/// Parses several header lines (e.g. every `Proxy-Authenticate` of a 407)
/// into one list, in order. Lines holding only empty list elements are
/// skipped.
///
/// # Errors
///
/// The first syntax error (offsets are within that line), or
/// [`ChallengeError::Empty`] when no line holds a challenge.
///
/// # Examples
///
/// ```
/// use wsvia_core::challenge::parse_all;
///
/// let cs = parse_all([r#"Digest realm="r", nonce="n""#, r#"Basic realm="r""#])?;
/// assert_eq!(cs.len(), 2);
/// assert!(cs[1].is_scheme("Basic"));
/// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
/// ```
pub fn parse_all<'a>(
    header_values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, ChallengeError> {
    let mut out = Vec::new();
    for value in header_values {
        out.extend(Parser::new(value).challenges()?);
    }
    if out.is_empty() {
        return Err(ChallengeError::Empty);
    }
    Ok(out)
}

/// Picks the strongest challenge we can answer.
///
/// `supported` lists scheme names, strongest first (e.g. `["Digest",
/// "Basic"]`). The first scheme with an answerable challenge wins. Among
/// several `Digest` challenges, those [`DigestChallenge::from_challenge`]
/// rejects (unsupported algorithm, no `auth` qop, missing nonce) are
/// skipped, and SHA-256 is preferred over MD5; ties go to the first offered.
///
/// # Examples
///
/// ```
/// use wsvia_core::challenge::{parse_all, strongest};
///
/// let cs = parse_all([
///     r#"Digest realm="r", nonce="n", algorithm=MD5, qop="auth""#,
///     r#"Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth""#,
///     r#"Basic realm="r""#,
/// ])?;
/// let best = strongest(&cs, &["Digest", "Basic"]).unwrap();
/// assert_eq!(best.param("algorithm"), Some("SHA-256"));
/// assert!(strongest(&cs, &["Basic"]).unwrap().is_scheme("basic"));
/// assert!(strongest(&cs, &["Negotiate"]).is_none());
/// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
/// ```
pub fn strongest<'a>(challenges: &'a [Challenge], supported: &[&str]) -> Option<&'a Challenge> {
    for scheme in supported {
        let mut best: Option<(u8, &Challenge)> = None;
        for c in challenges.iter().filter(|c| c.is_scheme(scheme)) {
            let rank = if c.is_scheme("Digest") {
                match DigestChallenge::from_challenge(c) {
                    Ok(d) => digest_rank(d.algorithm),
                    Err(_) => continue,
                }
            } else {
                0
            };
            if best.is_none_or(|(r, _)| rank > r) {
                best = Some((rank, c));
            }
        }
        if let Some((_, c)) = best {
            return Some(c);
        }
    }
    None
}

/// Higher is stronger.
fn digest_rank(algorithm: DigestAlgorithm) -> u8 {
    match algorithm {
        DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => 1,
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => 2,
    }
}

/// Writes `value` as an HTTP quoted-string, escaping `"` and `\`.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `tchar` from RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Bytes allowed in an unquoted value. Wider than `tchar`: real servers send
/// `nonce=abc/def==` unquoted, so token68 characters are accepted too.
fn is_value_char(b: u8) -> bool {
    is_tchar(b) || b == b'/' || b == b'=' || b >= 0x80
}

fn describe(found: &Option<char>) -> String {
    match found {
        Some(c) => format!("{c:?}"),
        None => "end of input".to_owned(),
    }
}

/// A cursor over a header value (also used for `Sec-WebSocket-Extensions`, in
/// `deflate`). All slicing happens at ASCII delimiters, so byte offsets stay on UTF-8
/// boundaries.
pub(crate) struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Steps over the ASCII byte [`Parser::peek`] returned.
    pub(crate) fn advance(&mut self) {
        self.pos += 1;
    }

    fn unexpected(&self, expected: &'static str) -> ChallengeError {
        ChallengeError::Unexpected {
            offset: self.pos,
            expected,
            found: self.s.get(self.pos..).and_then(|r| r.chars().next()),
        }
    }

    pub(crate) fn skip_ows(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(is_ows) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Skips whitespace and commas (empty list elements).
    pub(crate) fn skip_list_separators(&mut self) {
        while self.peek().is_some_and(|b| is_ows(b) || b == b',') {
            self.pos += 1;
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn token(&mut self, expected: &'static str) -> Result<&'a str, ChallengeError> {
        let t = self.take_while(is_tchar);
        if t.is_empty() {
            return Err(self.unexpected(expected));
        }
        Ok(t)
    }

    fn challenges(&mut self) -> Result<Vec<Challenge>, ChallengeError> {
        let mut out = Vec::new();
        loop {
            self.skip_list_separators();
            if self.peek().is_none() {
                return Ok(out);
            }
            out.push(self.challenge()?);
        }
    }

    /// Parses one challenge; stops before the `,` that ends it (or at end).
    fn challenge(&mut self) -> Result<Challenge, ChallengeError> {
        let mut c = Challenge::new(self.token("an auth-scheme token")?);
        let spaces = self.skip_ows();
        match self.peek() {
            None | Some(b',') => return Ok(c),
            Some(_) if spaces == 0 => {
                return Err(self.unexpected("a space or ',' after the auth-scheme"));
            }
            Some(_) => {}
        }
        if let Some(t68) = self.try_token68() {
            c.token68 = Some(t68.to_owned());
            return Ok(c);
        }
        loop {
            let name = self.token("an auth-param name")?;
            self.skip_ows();
            if self.peek() != Some(b'=') {
                return Err(self.unexpected("'=' after the auth-param name"));
            }
            self.pos += 1;
            self.skip_ows();
            let value = self.value()?;
            c.params.push((name.to_ascii_lowercase(), value));
            self.skip_ows();
            match self.peek() {
                None => return Ok(c),
                Some(b',') => {}
                Some(_) => return Err(self.unexpected("',' or end after the auth-param")),
            }
            self.skip_list_separators();
            if !self.next_is_param() {
                // End of input, or the next element starts a new challenge.
                return Ok(c);
            }
        }
    }

    /// Consumes a token68 if one fills the rest of this list element.
    fn try_token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let body = self.take_while(is_token68_char);
        if !body.is_empty() {
            self.take_while(|b| b == b'=');
            let end = self.pos;
            self.skip_ows();
            if matches!(self.peek(), None | Some(b',')) {
                return Some(&self.s[start..end]);
            }
        }
        self.pos = start;
        None
    }

    /// Looks ahead: does `token BWS "="` start here?
    fn next_is_param(&mut self) -> bool {
        let start = self.pos;
        let is_param = !self.take_while(is_tchar).is_empty() && {
            self.skip_ows();
            self.peek() == Some(b'=')
        };
        self.pos = start;
        is_param
    }

    fn value(&mut self) -> Result<String, ChallengeError> {
        if self.peek() == Some(b'"') {
            return self.quoted_string();
        }
        let v = self.take_while(is_value_char);
        if v.is_empty() {
            return Err(self.unexpected("a token or quoted-string value"));
        }
        Ok(v.to_owned())
    }

    /// Parses a quoted-string starting at the opening `"`, unescaping
    /// quoted-pairs.
    pub(crate) fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        let open = self.pos;
        let mut out = String::new();
        let mut chars = self.s[open + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = open + 1 + i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(ChallengeError::UnterminatedQuote { offset: open })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(scheme: &str, token68: Option<&str>, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            token68: token68.map(Into::into),
            params: params
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
        }
    }

    #[test]
    fn parses_valid_headers() {
        let cases: Vec<(&str, Vec<Challenge>)> = vec![
            (
                r#"Basic realm="proxy""#,
                vec![ch("Basic", None, &[("realm", "proxy")])],
            ),
            ("Negotiate", vec![ch("Negotiate", None, &[])]),
            (
                "NTLM, Negotiate",
                vec![ch("NTLM", None, &[]), ch("Negotiate", None, &[])],
            ),
            (
                "NTLM TlRMTVNTUAACAAAA==",
                vec![ch("NTLM", Some("TlRMTVNTUAACAAAA=="), &[])],
            ),
            (
                "Negotiate a87421000492aa874209af8bc028, Basic realm=x",
                vec![
                    ch("Negotiate", Some("a87421000492aa874209af8bc028"), &[]),
                    ch("Basic", None, &[("realm", "x")]),
                ],
            ),
            (
                r#"Basic realm="a", Digest realm="b", nonce="x", qop="auth,auth-int""#,
                vec![
                    ch("Basic", None, &[("realm", "a")]),
                    ch(
                        "Digest",
                        None,
                        &[("realm", "b"), ("nonce", "x"), ("qop", "auth,auth-int")],
                    ),
                ],
            ),
            // Case-insensitive names are lowercased; scheme kept as sent.
            (
                r#"dIgEsT REALM="r", Nonce=abc"#,
                vec![ch("dIgEsT", None, &[("realm", "r"), ("nonce", "abc")])],
            ),
            // Escapes in quoted-strings; commas inside quotes.
            (
                r#"Basic realm="a \"b\" \\ c, d""#,
                vec![ch("Basic", None, &[("realm", r#"a "b" \ c, d"#)])],
            ),
            // Odd whitespace, BWS around '=', empty list elements.
            (
                " ,, Basic \t realm = \"r\" ,  , ,Digest nonce=n ,",
                vec![
                    ch("Basic", None, &[("realm", "r")]),
                    ch("Digest", None, &[("nonce", "n")]),
                ],
            ),
            // Empty quoted value; unquoted token68-ish value.
            (
                r#"Digest realm="", nonce=7ypf/xlj9XX=="#,
                vec![ch(
                    "Digest",
                    None,
                    &[("realm", ""), ("nonce", "7ypf/xlj9XX==")],
                )],
            ),
            // UTF-8 inside quotes.
            (
                r#"Basic realm="Prøxy ☃""#,
                vec![ch("Basic", None, &[("realm", "Prøxy ☃")])],
            ),
            // A bare scheme then a param challenge.
            (
                r#"Negotiate, Basic realm="r", charset="UTF-8""#,
                vec![
                    ch("Negotiate", None, &[]),
                    ch("Basic", None, &[("realm", "r"), ("charset", "UTF-8")]),
                ],
            ),
            // A lone word after the scheme is a token68 by the grammar.
            ("Custom realm", vec![ch("Custom", Some("realm"), &[])]),
            ("Custom realm=", vec![ch("Custom", Some("realm="), &[])]),
            // RFC 9110 §11.6.1 example, newauth with a token68-free param list.
            (
                r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
                vec![
                    ch(
                        "Newauth",
                        None,
                        &[
                            ("realm", "apps"),
                            ("type", "1"),
                            ("title", r#"Login to "apps""#),
                        ],
                    ),
                    ch("Basic", None, &[("realm", "simple")]),
                ],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_challenges(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_invalid_headers() {
        use ChallengeError::*;
        let u = |offset, expected, found| Unexpected {
            offset,
            expected,
            found,
        };
        let cases: Vec<(&str, ChallengeError)> = vec![
            ("", Empty),
            (" , ,\t", Empty),
            (r#"Basic realm="x"#, UnterminatedQuote { offset: 12 }),
            (r#"Basic realm="x\"#, UnterminatedQuote { offset: 12 }),
            (r#""Basic""#, u(0, "an auth-scheme token", Some('"'))),
            (
                r#"Basic"x""#,
                u(5, "a space or ',' after the auth-scheme", Some('"')),
            ),
            (
                "Basic a=b, c=",
                u(13, "a token or quoted-string value", None),
            ),
            (
                "Basic a=b, c=,",
                u(13, "a token or quoted-string value", Some(',')),
            ),
            // `realm=` alone is a token68, so `x=y` must be a new challenge.
            (
                "Basic realm=, x=y",
                u(15, "a space or ',' after the auth-scheme", Some('=')),
            ),
            (
                r#"Basic realm="a" b"#,
                u(16, "',' or end after the auth-param", Some('b')),
            ),
            ("Basic =x", u(6, "an auth-param name", Some('='))),
            (
                "Basic a b",
                u(8, "'=' after the auth-param name", Some('b')),
            ),
            (
                "Bäsic",
                u(1, "a space or ',' after the auth-scheme", Some('ä')),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_challenges(input), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn errors_are_actionable() {
        let cases: &[(&str, &str)] = &[
            ("", "at least one auth-scheme"),
            (r#"Basic realm="x"#, "quoted-string opened at byte 12"),
            ("Basic a=b, c=", "at byte 13, found end of input"),
            (
                "Basic a b",
                "expected '=' after the auth-param name at byte 8, found 'b'",
            ),
        ];
        for (input, needle) in cases {
            let msg = parse_challenges(input).unwrap_err().to_string();
            assert!(msg.contains(needle), "{input:?}: {msg}");
        }
    }

    #[test]
    fn accessors() {
        let cs = parse_challenges(r#"Digest Realm="r", NONCE="n", realm="second""#).unwrap();
        let c = &cs[0];
        let cases: &[(&str, Option<&str>)] = &[
            ("realm", Some("r")),
            ("REALM", Some("r")),
            ("nonce", Some("n")),
            ("opaque", None),
        ];
        for (name, want) in cases {
            assert_eq!(c.param(name), *want, "param {name}");
        }
        assert_eq!(c.realm(), Some("r"));
        assert!(c.is_scheme("DIGEST"));
        assert!(!c.is_scheme("Basic"));
    }

    #[test]
    fn display_round_trips() {
        let cases: &[(&str, &str)] = &[
            (r#"Basic realm="x""#, r#"Basic realm="x""#),
            ("basic realm=x", r#"basic realm="x""#),
            ("NTLM", "NTLM"),
            ("NTLM TlRMTVNTUAACAAAA==", "NTLM TlRMTVNTUAACAAAA=="),
            (
                r#"Digest realm="a\"b\\c", nonce="n", algorithm="SHA-256", stale=TRUE, qop="auth""#,
                r#"Digest realm="a\"b\\c", nonce="n", algorithm=SHA-256, stale=TRUE, qop="auth""#,
            ),
        ];
        for (input, want) in cases {
            let parsed = parse_challenges(input).unwrap();
            let shown = parsed[0].to_string();
            assert_eq!(shown, *want, "input {input:?}");
            assert_eq!(
                parse_challenges(&shown).unwrap(),
                parsed,
                "reparse {shown:?}"
            );
        }
    }

    #[test]
    fn parse_all_joins_lines() {
        let cases: Vec<(Vec<&str>, Result<usize, ChallengeError>)> = vec![
            (vec![r#"Basic realm="a""#, "NTLM, Negotiate"], Ok(3)),
            (vec!["", r#"Basic realm="a""#, " , "], Ok(1)),
            (vec![], Err(ChallengeError::Empty)),
            (vec!["", ","], Err(ChallengeError::Empty)),
            (
                vec!["Basic", r#"Digest realm="x"#],
                Err(ChallengeError::UnterminatedQuote { offset: 13 }),
            ),
        ];
        for (lines, want) in cases {
            assert_eq!(
                parse_all(lines.iter().copied()).map(|v| v.len()),
                want,
                "lines {lines:?}"
            );
        }
    }

    #[test]
    fn strongest_prefers_order_then_algorithm() {
        // RFC 7616 §3.9.1 offers SHA-256 and MD5 as two header lines.
        let rfc = [
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        ];
        // (header lines, supported, expected (scheme, algorithm param))
        type Case<'a> = (
            Vec<&'a str>,
            &'a [&'a str],
            Option<(&'a str, Option<&'a str>)>,
        );
        let cases: Vec<Case> = vec![
            (
                rfc.to_vec(),
                &["Digest", "Basic"],
                Some(("Digest", Some("SHA-256"))),
            ),
            (
                vec![rfc[1], rfc[0]],
                &["Digest"],
                Some(("Digest", Some("SHA-256"))),
            ),
            (
                vec![r#"Basic realm="r", Digest realm="r", nonce="n""#],
                &["Digest", "Basic"],
                Some(("Digest", None)),
            ),
            (
                vec![r#"Basic realm="r", Digest realm="r", nonce="n""#],
                &["Basic", "Digest"],
                Some(("Basic", None)),
            ),
            // Unanswerable Digest (SHA-512-256, auth-int only, no nonce) falls back.
            (
                vec![
                    r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#,
                    r#"Digest realm="r", nonce="n", qop="auth-int""#,
                    r#"Digest realm="r""#,
                    r#"Basic realm="r""#,
                ],
                &["Digest", "Basic"],
                Some(("Basic", None)),
            ),
            (
                vec![
                    r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#,
                    r#"Digest realm="r", nonce="n", algorithm=MD5-sess, qop=auth"#,
                ],
                &["Digest"],
                Some(("Digest", Some("MD5-sess"))),
            ),
            (vec!["NTLM, Negotiate"], &["Digest", "Basic"], None),
            (
                vec!["NTLM, Negotiate"],
                &["negotiate"],
                Some(("Negotiate", None)),
            ),
            (vec!["Basic realm=x"], &[], None),
        ];
        for (lines, supported, want) in cases {
            let cs = parse_all(lines.iter().copied()).unwrap();
            let got = strongest(&cs, supported).map(|c| (c.scheme.as_str(), c.param("algorithm")));
            assert_eq!(got, want, "lines {lines:?} supported {supported:?}");
        }
    }

    /// Tiny deterministic generator so the no-panic test needs no extra crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn never_panics() {
        let seeds = [
            r#"Basic realm="a", Digest realm="b", nonce="x", qop="auth,auth-int""#,
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", NTLM abc=="#,
            "Negotiate \t, ,ä=\"ø\\",
        ];
        // Every prefix of every seed (cuts inside quotes, escapes, UTF-8).
        for seed in seeds {
            for (i, _) in seed.char_indices() {
                let _ = parse_challenges(&seed[..i]);
            }
        }
        // Random strings over a grammar-heavy alphabet.
        let alphabet: Vec<char> = "aZ09 \t,=\"\\/+-_~.!;:ä☃\u{0}\r\n".chars().collect();
        let mut rng = Lcg(0x5eed);
        for _ in 0..20_000 {
            let len = (rng.next() % 40) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(rng.next() as usize) % alphabet.len()])
                .collect();
            if let Ok(cs) = parse_challenges(&s) {
                // Anything accepted must survive Display -> parse.
                for c in &cs {
                    let again = parse_challenges(&c.to_string());
                    assert!(again.is_ok(), "{s:?} -> {c} failed to reparse");
                }
            }
        }
    }
}
