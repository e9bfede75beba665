//! Proxy credentials and the `Basic` answer (RFC 7617).
//!
//! This module owns [`Credentials`]: building them from curl-style
//! `user:pass` strings, encoding them as a `Basic` header value on the client
//! side and decoding one on the server side. Parsing challenges lives in
//! [`crate::challenge`]; answering `Digest` lives in [`crate::digest`].
//! Credentials never print their password: `Debug` redacts it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A username and password pair used to answer proxy or server challenges.
///
/// `Debug` output redacts the password, so logging a `Credentials` value is
/// safe.
///
/// # Examples
///
/// ```
/// use wsvia_core::Credentials;
///
/// let creds = Credentials::new("alice", "s3cret");
/// assert_eq!(creds.username, "alice");
/// assert_eq!(
///     format!("{creds:?}"),
///     r#"Credentials { username: "alice", password: "<redacted>" }"#
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name, as typed (no percent-decoding is applied here).
    pub username: String,
    /// The password, as typed.
    pub password: String,
}

impl Credentials {
    /// Builds credentials from a username and a password.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::Credentials;
    ///
    /// let creds = Credentials::new("bob", String::from("pw"));
    /// assert_eq!(creds.password, "pw");
    /// ```
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Parses a curl-style `-U user:pass` argument.
    ///
    /// The string is split at the *first* `:`, so passwords may contain
    /// colons. Without a `:` the whole string is the username and the
    /// password is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::Credentials;
    ///
    /// assert_eq!(
    ///     Credentials::parse_user_pass("alice:a:b"),
    ///     Credentials::new("alice", "a:b")
    /// );
    /// assert_eq!(Credentials::parse_user_pass("alice"), Credentials::new("alice", ""));
    /// ```
    pub fn parse_user_pass(s: &str) -> Self {
        match s.split_once(':') {
            Some((user, pass)) => Self::new(user, pass),
            None => Self::new(s, ""),
        }
    }

    /// Returns the `Basic` header value for these credentials (RFC 7617,
    /// UTF-8 charset), e.g. `Basic dXNlcjpwYXNz`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::Credentials;
    ///
    /// let creds = Credentials::new("Aladdin", "open sesame");
    /// assert_eq!(creds.basic_header_value(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    /// ```
    pub fn basic_header_value(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", STANDARD.encode(raw.as_bytes()))
    }

    /// Parses a `Basic <base64>` `Authorization` / `Proxy-Authorization`
    /// value on the server side.
    ///
    /// The scheme is matched case-insensitively and surrounding or repeated
    /// spaces/tabs are tolerated. Returns `None` when the scheme is not
    /// `Basic`, the base64 is malformed, the decoded bytes are not UTF-8, or
    /// they contain no `:`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::Credentials;
    ///
    /// let creds = Credentials::from_basic_header_value("basic   QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    /// assert_eq!(creds, Some(Credentials::new("Aladdin", "open sesame")));
    /// assert_eq!(Credentials::from_basic_header_value("Bearer abc"), None);
    /// ```
    pub fn from_basic_header_value(v: &str) -> Option<Credentials> {
        let v = v.trim_matches(is_ows);
        let (scheme, rest) = v.split_once(is_ows)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let token = rest.trim_matches(is_ows);
        if token.is_empty() || token.contains(is_ows) {
            return None;
        }
        let bytes = STANDARD.decode(token).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (user, pass) = text.split_once(':')?;
        Some(Self::new(user, pass))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Optional whitespace as HTTP defines it (SP / HTAB).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_user_pass_cases() {
        let cases: &[(&str, &str, &str)] = &[
            ("user:pass", "user", "pass"),
            ("user:pa:ss", "user", "pa:ss"),
            ("user:", "user", ""),
            (":pass", "", "pass"),
            ("user", "user", ""),
            ("", "", ""),
            ("üser:päss", "üser", "päss"),
        ];
        for &(input, user, pass) in cases {
            assert_eq!(
                Credentials::parse_user_pass(input),
                Credentials::new(user, pass),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn basic_header_value_cases() {
        let cases: &[(&str, &str, &str)] = &[
            ("user", "pass", "Basic dXNlcjpwYXNz"),
            // RFC 7617 §2.
            (
                "Aladdin",
                "open sesame",
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            ),
            // RFC 7617 §2.1 (UTF-8 charset).
            ("test", "123\u{a3}", "Basic dGVzdDoxMjPCow=="),
            ("", "", "Basic Og=="),
        ];
        for &(user, pass, want) in cases {
            let creds = Credentials::new(user, pass);
            assert_eq!(creds.basic_header_value(), want);
            assert_eq!(
                Credentials::from_basic_header_value(want),
                Some(creds),
                "round trip of {want:?}"
            );
        }
    }

    #[test]
    fn from_basic_header_value_cases() {
        let ok = Some(Credentials::new("user", "pass"));
        let cases: &[(&str, Option<Credentials>)] = &[
            ("Basic dXNlcjpwYXNz", ok.clone()),
            ("BASIC dXNlcjpwYXNz", ok.clone()),
            ("  basic \t dXNlcjpwYXNz  ", ok.clone()),
            ("Basic", None),
            ("Basic ", None),
            ("Basicx dXNlcjpwYXNz", None),
            ("Digest dXNlcjpwYXNz", None),
            ("Basic dXNlcjpwYXNz extra", None),
            ("Basic !!!!", None),
            // "userpass": no colon.
            ("Basic dXNlcnBhc3M=", None),
            // 0xff 0xfe: not UTF-8.
            ("Basic //4=", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                &Credentials::from_basic_header_value(input),
                want,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn debug_redacts_password() {
        let creds = Credentials::new("alice", "hunter2");
        let shown = format!("{creds:?}");
        assert_eq!(
            shown,
            r#"Credentials { username: "alice", password: "<redacted>" }"#
        );
        assert!(!shown.contains("hunter2"));
    }
}
