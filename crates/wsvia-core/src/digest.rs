//! HTTP `Digest` authentication (RFC 7616, with RFC 2617/2069 fallbacks).
//!
//! This module owns both sides of Digest:
//! - client: [`DigestChallenge::from_challenge`] reads a parsed challenge and
//!   [`authorization`] builds the `Proxy-Authorization` value (with
//!   `userhash` and RFC 8187 `username*` when needed);
//! - server: [`DigestChallenge::to_challenge`] builds the challenge to send,
//!   [`DigestResponse::parse`] reads the client's answer, and
//!   [`expected_response`] / [`DigestResponse::verify`] check it against a
//!   stored HA1 (see [`ha1`]).
//!
//! Nothing here draws randomness or reads a clock: callers pass the client
//! nonce (`cnonce`), nonce count and server nonce in, and track nonce
//! freshness and replay themselves. The generic challenge syntax lives in
//! [`crate::challenge`]; credentials in [`crate::auth`].

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest as _, Sha256};

use crate::auth::Credentials;
use crate::challenge::{Challenge, ChallengeError, parse_challenges, quote};

/// A Digest hash algorithm we can compute.
///
/// Parsed case-insensitively from the `algorithm` parameter; when that
/// parameter is absent the algorithm is MD5 ([`Default`]).
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::DigestAlgorithm;
///
/// let alg: DigestAlgorithm = "sha-256".parse()?;
/// assert_eq!(alg, DigestAlgorithm::Sha256);
/// assert_eq!(alg.to_string(), "SHA-256");
/// assert_eq!(DigestAlgorithm::default(), DigestAlgorithm::Md5);
/// assert!("SHA-512-256".parse::<DigestAlgorithm>().is_err());
/// # Ok::<(), wsvia_core::digest::DigestError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DigestAlgorithm {
    /// `MD5`: kept for compatibility with RFC 2617 peers.
    #[default]
    Md5,
    /// `MD5-sess`: MD5 with a session key mixing in both nonces.
    Md5Sess,
    /// `SHA-256`: mandatory to implement in RFC 7616.
    Sha256,
    /// `SHA-256-sess`: SHA-256 with a session key.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// Returns the canonical token as sent on the wire, e.g. `SHA-256-sess`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::digest::DigestAlgorithm;
    ///
    /// assert_eq!(DigestAlgorithm::Md5Sess.as_str(), "MD5-sess");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Tells whether this is a `-sess` variant (HA1 mixes in the nonces).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::digest::DigestAlgorithm;
    ///
    /// assert!(DigestAlgorithm::Sha256Sess.is_sess());
    /// assert!(!DigestAlgorithm::Sha256.is_sess());
    /// ```
    pub fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    fn hasher(self) -> HashFn {
        match self {
            Self::Md5 | Self::Md5Sess => md5_hex,
            Self::Sha256 | Self::Sha256Sess => sha256_hex,
        }
    }
}

/// Writes the canonical token ([`DigestAlgorithm::as_str`]).
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::DigestAlgorithm;
///
/// assert_eq!(format!("algorithm={}", DigestAlgorithm::Sha256), "algorithm=SHA-256");
/// ```
impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses an `algorithm` token, case-insensitively.
///
/// # Errors
///
/// [`DigestError::UnsupportedAlgorithm`] for anything but MD5, MD5-sess,
/// SHA-256 and SHA-256-sess (SHA-512-256 is not supported).
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::{DigestAlgorithm, DigestError};
///
/// assert_eq!("md5-SESS".parse(), Ok(DigestAlgorithm::Md5Sess));
/// let err = "SHA-512-256".parse::<DigestAlgorithm>().unwrap_err();
/// assert!(err.to_string().contains("SHA-512-256"));
/// ```
impl FromStr for DigestAlgorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Md5, Self::Md5Sess, Self::Sha256, Self::Sha256Sess]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| DigestError::UnsupportedAlgorithm { name: s.to_owned() })
    }
}

/// The parts of a `Digest` challenge a client needs to answer it.
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::{DigestAlgorithm, DigestChallenge};
/// use wsvia_core::parse_challenges;
///
/// let c = &parse_challenges(r#"Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth,auth-int""#)?[0];
/// let d = DigestChallenge::from_challenge(c)?;
/// assert_eq!(d.algorithm, DigestAlgorithm::Sha256);
/// assert!(d.qop_auth);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// Protection space, echoed back in the answer.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque server data, echoed back unchanged.
    pub opaque: Option<String>,
    /// Hash algorithm (MD5 when the challenge names none).
    pub algorithm: DigestAlgorithm,
    /// `auth` was offered in `qop`; when `false` the answer uses the
    /// RFC 2069 form (no `qop`, `nc`, `cnonce`).
    pub qop_auth: bool,
    /// The server asked for a hashed username (`userhash=true`).
    pub userhash: bool,
    /// The previous nonce was stale: retry with the same credentials.
    pub stale: bool,
}

impl DigestChallenge {
    /// Reads a parsed `Digest` challenge.
    ///
    /// # Errors
    ///
    /// [`DigestError::NotDigest`] for another scheme,
    /// [`DigestError::MissingParam`] without `realm` or `nonce`,
    /// [`DigestError::UnsupportedAlgorithm`] for e.g. `SHA-512-256`, and
    /// [`DigestError::UnsupportedQop`] when `qop` is given but lacks `auth`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::digest::{DigestChallenge, DigestError};
    /// use wsvia_core::parse_challenges;
    ///
    /// let c = &parse_challenges(r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#)?[0];
    /// assert!(matches!(
    ///     DigestChallenge::from_challenge(c),
    ///     Err(DigestError::UnsupportedAlgorithm { .. })
    /// ));
    /// # Ok::<(), wsvia_core::challenge::ChallengeError>(())
    /// ```
    pub fn from_challenge(c: &Challenge) -> Result<Self, DigestError> {
        if !c.is_scheme("Digest") {
            return Err(DigestError::NotDigest {
                scheme: c.scheme.clone(),
            });
        }
        let required = |param: &'static str| {
            c.param(param).ok_or(DigestError::MissingParam {
                what: "challenge",
                param,
            })
        };
        let realm = required("realm")?.to_owned();
        let nonce = required("nonce")?.to_owned();
        let algorithm = match c.param("algorithm") {
            Some(a) => a.trim().parse()?,
            None => DigestAlgorithm::Md5,
        };
        let qop_auth = match c.param("qop").map(str::trim) {
            None | Some("") => false,
            Some(list) => {
                if !list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"))
                {
                    return Err(DigestError::UnsupportedQop {
                        offered: list.to_owned(),
                    });
                }
                true
            }
        };
        let flag = |name: &str| {
            c.param(name)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        };
        Ok(Self {
            realm,
            nonce,
            opaque: c.param("opaque").map(str::to_owned),
            algorithm,
            qop_auth,
            userhash: flag("userhash"),
            stale: flag("stale"),
        })
    }

    /// Builds the challenge a server sends (`Proxy-Authenticate: <this>`).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::digest::{DigestAlgorithm, DigestChallenge};
    ///
    /// let d = DigestChallenge {
    ///     realm: "wsvia".into(),
    ///     nonce: "abc".into(),
    ///     opaque: None,
    ///     algorithm: DigestAlgorithm::Sha256,
    ///     qop_auth: true,
    ///     userhash: false,
    ///     stale: false,
    /// };
    /// assert_eq!(
    ///     d.to_challenge().to_string(),
    ///     r#"Digest realm="wsvia", nonce="abc", algorithm=SHA-256, qop="auth""#
    /// );
    /// ```
    pub fn to_challenge(&self) -> Challenge {
        let mut c = Challenge::new("Digest")
            .with_param("realm", self.realm.as_str())
            .with_param("nonce", self.nonce.as_str());
        if let Some(opaque) = &self.opaque {
            c = c.with_param("opaque", opaque.as_str());
        }
        c = c.with_param("algorithm", self.algorithm.as_str());
        if self.qop_auth {
            c = c.with_param("qop", "auth");
        }
        if self.userhash {
            c = c.with_param("userhash", "true");
        }
        if self.stale {
            c = c.with_param("stale", "true");
        }
        c
    }
}

/// Per-request inputs of a Digest answer. The caller supplies the client
/// nonce and counts requests made with the same server nonce.
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::DigestRequest;
///
/// let req = DigestRequest { method: "CONNECT", uri: "example.com:443", cnonce: "c0ffee", nc: 1 };
/// assert_eq!(req.nc, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestRequest<'a> {
    /// Request method, e.g. `CONNECT`.
    pub method: &'a str,
    /// The `uri` parameter: the request-target, e.g. `example.com:443` for
    /// CONNECT or `/dir/index.html`.
    pub uri: &'a str,
    /// Client nonce (random, chosen by the caller).
    pub cnonce: &'a str,
    /// Nonce count: 1 for the first request with this server nonce.
    pub nc: u32,
}

/// Builds the `Authorization` / `Proxy-Authorization` value answering `ch`.
///
/// Sends `qop=auth` with `nc`/`cnonce` when offered, else the RFC 2069 form
/// (plus `cnonce` for `-sess` algorithms, which need it). The username is
/// hashed when the server asked for `userhash`, sent as RFC 8187
/// `username*` when it is not printable ASCII, and quoted otherwise.
///
/// # Examples
///
/// RFC 7616 §3.9.1 (SHA-256):
///
/// ```
/// use wsvia_core::Credentials;
/// use wsvia_core::digest::{DigestAlgorithm, DigestChallenge, DigestRequest, authorization};
///
/// let ch = DigestChallenge {
///     realm: "http-auth@example.org".into(),
///     nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
///     opaque: Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS".into()),
///     algorithm: DigestAlgorithm::Sha256,
///     qop_auth: true,
///     userhash: false,
///     stale: false,
/// };
/// let req = DigestRequest {
///     method: "GET",
///     uri: "/dir/index.html",
///     cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
///     nc: 1,
/// };
/// let value = authorization(&ch, &Credentials::new("Mufasa", "Circle of Life"), &req);
/// assert!(value.starts_with(r#"Digest username="Mufasa", realm="http-auth@example.org""#));
/// assert!(value.contains(
///     r#"response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1""#
/// ));
/// assert!(value.contains("qop=auth, nc=00000001"));
/// ```
pub fn authorization(ch: &DigestChallenge, creds: &Credentials, req: &DigestRequest) -> String {
    let alg = ch.algorithm;
    authorization_with(ch, creds, req, alg.hasher(), alg.as_str(), alg.is_sess())
}

/// A client's parsed `Digest` answer, as a server (the forward proxy) sees it.
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::{DigestAlgorithm, DigestResponse};
///
/// let r = DigestResponse::parse(
///     r#"Digest username="u", realm="r", nonce="n", uri="/", response="00", algorithm=SHA-256"#,
/// )?;
/// assert_eq!((r.username.as_str(), r.algorithm), ("u", DigestAlgorithm::Sha256));
/// assert_eq!(r.qop, None);
/// # Ok::<(), wsvia_core::digest::DigestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestResponse {
    /// The username (decoded from `username*` if sent that way); the hex
    /// userhash when [`DigestResponse::userhash`] is set.
    pub username: String,
    /// Realm the client answered for.
    pub realm: String,
    /// Server nonce the client used.
    pub nonce: String,
    /// The `uri` parameter (compare it with the request-target).
    pub uri: String,
    /// The hex response digest, as sent.
    pub response: String,
    /// Hash algorithm (MD5 when absent).
    pub algorithm: DigestAlgorithm,
    /// `qop` as sent (only `auth` is accepted), `None` in RFC 2069 form.
    pub qop: Option<String>,
    /// Nonce count, 8 hex digits as sent.
    pub nc: Option<String>,
    /// Client nonce.
    pub cnonce: Option<String>,
    /// Opaque value echoed from the challenge.
    pub opaque: Option<String>,
    /// `userhash=true`: `username` is `H(username ":" realm)` in hex.
    pub userhash: bool,
}

impl DigestResponse {
    /// Parses a `Digest ...` `Authorization` / `Proxy-Authorization` value.
    ///
    /// # Errors
    ///
    /// [`DigestError::Syntax`] for malformed syntax, [`DigestError::NotDigest`]
    /// for another scheme, [`DigestError::MissingParam`] when `username`,
    /// `realm`, `nonce`, `uri`, `response` (or `nc`/`cnonce` with `qop`) are
    /// missing, [`DigestError::InvalidParam`] for a bad `nc`/`username*`,
    /// and [`DigestError::UnsupportedAlgorithm`] / [`DigestError::UnsupportedQop`]
    /// (`auth-int`).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::digest::{DigestError, DigestResponse};
    ///
    /// let r = DigestResponse::parse(
    ///     "Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\", nonce=\"n\", \
    ///      uri=\"/\", response=\"00\", qop=auth, nc=00000001, cnonce=\"c\"",
    /// )?;
    /// assert_eq!(r.username, "Jäsøn Doe");
    /// assert!(matches!(
    ///     DigestResponse::parse(r#"Basic dXNlcjpwYXNz"#),
    ///     Err(DigestError::NotDigest { .. })
    /// ));
    /// # Ok::<(), DigestError>(())
    /// ```
    pub fn parse(header_value: &str) -> Result<Self, DigestError> {
        let cs = parse_challenges(header_value)?;
        let [c] = cs.as_slice() else {
            return Err(DigestError::NotSingle { count: cs.len() });
        };
        if !c.is_scheme("Digest") {
            return Err(DigestError::NotDigest {
                scheme: c.scheme.clone(),
            });
        }
        let missing = |param: &'static str| DigestError::MissingParam {
            what: "credentials",
            param,
        };
        let required =
            |param: &'static str| c.param(param).map(str::to_owned).ok_or(missing(param));
        let username = match (c.param("username"), c.param("username*")) {
            (Some(_), Some(_)) => {
                return Err(DigestError::InvalidParam {
                    param: "username*",
                    value: String::new(),
                    reason: "must not be sent together with `username`",
                });
            }
            (Some(u), None) => u.to_owned(),
            (None, Some(ext)) => decode_ext_value(ext)?,
            (None, None) => return Err(missing("username")),
        };
        let algorithm = match c.param("algorithm") {
            Some(a) => a.trim().parse()?,
            None => DigestAlgorithm::Md5,
        };
        let qop = c.param("qop").map(str::to_owned);
        let nc = c.param("nc").map(str::to_owned);
        let cnonce = c.param("cnonce").map(str::to_owned);
        if let Some(q) = &qop {
            if !q.eq_ignore_ascii_case("auth") {
                return Err(DigestError::UnsupportedQop { offered: q.clone() });
            }
            if nc.is_none() {
                return Err(missing("nc"));
            }
            if cnonce.is_none() {
                return Err(missing("cnonce"));
            }
        }
        if let Some(n) = nc
            .as_ref()
            .filter(|n| !(n.len() == 8 && n.bytes().all(|b| b.is_ascii_hexdigit())))
        {
            return Err(DigestError::InvalidParam {
                param: "nc",
                value: n.clone(),
                reason: "expected 8 hex digits, e.g. 00000001",
            });
        }
        Ok(Self {
            username,
            realm: required("realm")?,
            nonce: required("nonce")?,
            uri: required("uri")?,
            response: required("response")?,
            algorithm,
            qop,
            nc,
            cnonce,
            opaque: c.param("opaque").map(str::to_owned),
            userhash: c
                .param("userhash")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// Checks the client's `response` against [`expected_response`] in
    /// constant time (hex case-insensitively).
    ///
    /// This checks the password only. The caller must also check that
    /// `realm` is its own, `nonce` is one it issued and is fresh, `uri`
    /// matches the request-target, and `nc` grows (replay).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::Credentials;
    /// use wsvia_core::digest::*;
    ///
    /// let ch = DigestChallenge {
    ///     realm: "wsvia".into(), nonce: "n1".into(), opaque: None,
    ///     algorithm: DigestAlgorithm::Sha256, qop_auth: true, userhash: false, stale: false,
    /// };
    /// let req = DigestRequest { method: "CONNECT", uri: "example.com:443", cnonce: "c1", nc: 1 };
    /// let sent = authorization(&ch, &Credentials::new("alice", "pw"), &req);
    ///
    /// let resp = DigestResponse::parse(&sent)?;
    /// let stored = ha1(resp.algorithm, "alice", "wsvia", "pw");
    /// assert!(resp.verify(&stored, "CONNECT"));
    /// assert!(!resp.verify(&ha1(resp.algorithm, "alice", "wsvia", "wrong"), "CONNECT"));
    /// # Ok::<(), DigestError>(())
    /// ```
    pub fn verify(&self, ha1_hex: &str, method: &str) -> bool {
        let want = expected_response(self, ha1_hex, method);
        let got = self.response.as_bytes();
        if want.len() != got.len() {
            return false;
        }
        want.bytes()
            .zip(got)
            .fold(0u8, |acc, (w, g)| acc | (w ^ g.to_ascii_lowercase()))
            == 0
    }
}

/// Computes `HA1 = H(username ":" realm ":" password)` in lowercase hex,
/// the value `htdigest` files store (for MD5).
///
/// For `-sess` algorithms this is still the base HA1, hashed with the
/// algorithm's function; [`expected_response`] mixes in the nonces.
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::{DigestAlgorithm, ha1};
///
/// // RFC 2617 §3.5.
/// assert_eq!(
///     ha1(DigestAlgorithm::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life"),
///     "939e7578ed9e3c518a452acee763bce9"
/// );
/// ```
pub fn ha1(algorithm: DigestAlgorithm, username: &str, realm: &str, password: &str) -> String {
    hash_parts(algorithm.hasher(), &[username, realm, password])
}

/// Computes the `response` a client should have sent, given the stored
/// base HA1 (see [`ha1`]) and the request method.
///
/// Handles `-sess` (HA1 becomes `H(HA1:nonce:cnonce)`) and both the
/// `qop=auth` and the RFC 2069 (no qop) forms. Prefer
/// [`DigestResponse::verify`] for the comparison.
///
/// # Examples
///
/// RFC 2617 §3.5:
///
/// ```
/// use wsvia_core::digest::{DigestResponse, expected_response};
///
/// let resp = DigestResponse::parse(
///     r#"Digest username="Mufasa", realm="testrealm@host.com",
///        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html",
///        qop=auth, nc=00000001, cnonce="0a4f113b",
///        response="6629fae49393a05397450978507c4ef1",
///        opaque="5ccc069c403ebaf9f0171e9517f40e41""#
///         .replace('\n', " ")
///         .as_str(),
/// )?;
/// let ha1 = "939e7578ed9e3c518a452acee763bce9"; // MD5("Mufasa:testrealm@host.com:Circle Of Life")
/// assert_eq!(expected_response(&resp, ha1, "GET"), resp.response);
/// # Ok::<(), wsvia_core::digest::DigestError>(())
/// ```
pub fn expected_response(resp: &DigestResponse, ha1_hex: &str, method: &str) -> String {
    let ha1 = ha1_hex.to_ascii_lowercase();
    let qop_nc = resp
        .qop
        .as_deref()
        .map(|q| (q, resp.nc.as_deref().unwrap_or("")));
    compute_response(
        resp.algorithm.hasher(),
        &ResponseInputs {
            sess: resp.algorithm.is_sess(),
            base_ha1: &ha1,
            nonce: &resp.nonce,
            cnonce: resp.cnonce.as_deref().unwrap_or(""),
            qop_nc,
            method,
            uri: &resp.uri,
        },
    )
}

/// Why a Digest challenge or answer could not be used.
///
/// # Examples
///
/// ```
/// use wsvia_core::digest::{DigestError, DigestResponse};
///
/// let err = DigestResponse::parse(r#"Digest realm="r""#).unwrap_err();
/// assert_eq!(err.to_string(), "Digest credentials lack the required `username` parameter");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The header value is not syntactically a challenge/credentials list.
    #[error("Digest header syntax: {0}")]
    Syntax(#[from] ChallengeError),
    /// The scheme is not `Digest`.
    #[error("expected the Digest auth-scheme, found `{scheme}`")]
    NotDigest {
        /// The scheme that was found.
        scheme: String,
    },
    /// An `Authorization` value must hold exactly one credentials item.
    #[error("expected exactly one Digest credentials item, found {count}")]
    NotSingle {
        /// How many were found.
        count: usize,
    },
    /// A required parameter is absent.
    #[error("Digest {what} lack the required `{param}` parameter")]
    MissingParam {
        /// `"challenge"` or `"credentials"`.
        what: &'static str,
        /// The missing parameter.
        param: &'static str,
    },
    /// A parameter value is malformed.
    #[error("Digest parameter `{param}` is invalid ({value:?}): {reason}")]
    InvalidParam {
        /// The parameter name.
        param: &'static str,
        /// The offending value (empty when echoing it adds nothing).
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// The algorithm is not one we implement.
    #[error(
        "Digest algorithm `{name}` is not supported; supported are MD5, MD5-sess, SHA-256 and SHA-256-sess"
    )]
    UnsupportedAlgorithm {
        /// The algorithm token as received.
        name: String,
    },
    /// No supported quality of protection (only `auth` is implemented).
    #[error("Digest qop `{offered}` is not supported; only `auth` (or no qop) is implemented")]
    UnsupportedQop {
        /// The qop value or list as received.
        offered: String,
    },
}

/// A hash function returning lowercase hex.
type HashFn = fn(&[u8]) -> String;

/// Characters RFC 8187 `attr-char` allows unencoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

struct ResponseInputs<'a> {
    sess: bool,
    base_ha1: &'a str,
    nonce: &'a str,
    cnonce: &'a str,
    /// `(qop, nc)` when a qop is used; `None` for the RFC 2069 form.
    qop_nc: Option<(&'a str, &'a str)>,
    method: &'a str,
    uri: &'a str,
}

/// RFC 7616 §3.4.1–3.4.3: `KD(HA1, nonce:nc:cnonce:qop:HA2)` or, without
/// qop, `KD(HA1, nonce:HA2)`.
fn compute_response(hash: HashFn, i: &ResponseInputs) -> String {
    let session_ha1;
    let ha1 = if i.sess {
        session_ha1 = hash_parts(hash, &[i.base_ha1, i.nonce, i.cnonce]);
        session_ha1.as_str()
    } else {
        i.base_ha1
    };
    let ha2 = hash_parts(hash, &[i.method, i.uri]);
    match i.qop_nc {
        Some((qop, nc)) => hash_parts(hash, &[ha1, i.nonce, nc, i.cnonce, qop, &ha2]),
        None => hash_parts(hash, &[ha1, i.nonce, &ha2]),
    }
}

/// [`authorization`] with the hash function passed in, so tests can check
/// RFC vectors for algorithms we do not expose.
fn authorization_with(
    ch: &DigestChallenge,
    creds: &Credentials,
    req: &DigestRequest,
    hash: HashFn,
    algorithm: &str,
    sess: bool,
) -> String {
    let user = &creds.username;
    let username = if ch.userhash {
        format!("username={}", quote(&hash_parts(hash, &[user, &ch.realm])))
    } else if user.chars().all(|c| (' '..='~').contains(&c)) {
        format!("username={}", quote(user))
    } else {
        format!("username*=UTF-8''{}", utf8_percent_encode(user, ATTR_CHAR))
    };
    let nc = format!("{:08x}", req.nc);
    let base_ha1 = hash_parts(hash, &[user, &ch.realm, &creds.password]);
    let response = compute_response(
        hash,
        &ResponseInputs {
            sess,
            base_ha1: &base_ha1,
            nonce: &ch.nonce,
            cnonce: req.cnonce,
            qop_nc: ch.qop_auth.then_some(("auth", nc.as_str())),
            method: req.method,
            uri: req.uri,
        },
    );
    let mut parts = vec![
        username,
        format!("realm={}", quote(&ch.realm)),
        format!("nonce={}", quote(&ch.nonce)),
        format!("uri={}", quote(req.uri)),
        format!("algorithm={algorithm}"),
        format!("response={}", quote(&response)),
    ];
    if ch.qop_auth {
        parts.push("qop=auth".to_owned());
        parts.push(format!("nc={nc}"));
    }
    if ch.qop_auth || sess {
        parts.push(format!("cnonce={}", quote(req.cnonce)));
    }
    if let Some(opaque) = &ch.opaque {
        parts.push(format!("opaque={}", quote(opaque)));
    }
    if ch.userhash {
        parts.push("userhash=true".to_owned());
    }
    format!("Digest {}", parts.join(", "))
}

/// Decodes an RFC 8187 `ext-value` (`UTF-8'lang'pct-encoded`).
fn decode_ext_value(ext: &str) -> Result<String, DigestError> {
    let invalid = |reason| DigestError::InvalidParam {
        param: "username*",
        value: ext.to_owned(),
        reason,
    };
    let mut it = ext.splitn(3, '\'');
    let (Some(charset), Some(_lang), Some(encoded)) = (it.next(), it.next(), it.next()) else {
        return Err(invalid(
            "expected charset'language'value, e.g. UTF-8''J%C3%A4s",
        ));
    };
    if !charset.eq_ignore_ascii_case("UTF-8") {
        return Err(invalid("only the UTF-8 charset is supported"));
    }
    percent_decode_str(encoded)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid("percent-decoded bytes are not UTF-8"))
}

/// `H(p0 ":" p1 ":" ...)`.
fn hash_parts(hash: HashFn, parts: &[&str]) -> String {
    hash(parts.join(":").as_bytes())
}

fn md5_hex(data: &[u8]) -> String {
    to_hex(&Md5::digest(data))
}

fn sha256_hex(data: &[u8]) -> String {
    to_hex(&Sha256::digest(data))
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

    fn challenge(header: &str) -> DigestChallenge {
        let cs = parse_challenges(header).expect("test header parses");
        DigestChallenge::from_challenge(&cs[0]).expect("test challenge is usable")
    }

    fn param(header: &str, name: &str) -> Option<String> {
        parse_challenges(header).ok()?[0]
            .param(name)
            .map(str::to_owned)
    }

    /// RFC 7616 §3.9.1 (MD5 and SHA-256) and RFC 2617 §3.5, client side:
    /// (challenge, user, password, method, uri, cnonce, expected header).
    #[test]
    fn rfc_vectors_client() {
        let md5_ch = format!(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}""#
        );
        let sha_ch = md5_ch.replace("algorithm=MD5", "algorithm=SHA-256");
        let rfc2617_ch = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let cases: &[(&str, &str, &str, &str, String)] = &[
            (
                &md5_ch,
                "Circle of Life",
                RFC7616_CNONCE,
                "8ca523f5e9506fed4657c9700eebdbec",
                format!(
                    r#"Digest username="Mufasa", realm="http-auth@example.org", nonce="{RFC7616_NONCE}", uri="/dir/index.html", algorithm=MD5, response="8ca523f5e9506fed4657c9700eebdbec", qop=auth, nc=00000001, cnonce="{RFC7616_CNONCE}", opaque="{RFC7616_OPAQUE}""#
                ),
            ),
            (
                &sha_ch,
                "Circle of Life",
                RFC7616_CNONCE,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
                format!(
                    r#"Digest username="Mufasa", realm="http-auth@example.org", nonce="{RFC7616_NONCE}", uri="/dir/index.html", algorithm=SHA-256, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", qop=auth, nc=00000001, cnonce="{RFC7616_CNONCE}", opaque="{RFC7616_OPAQUE}""#
                ),
            ),
            (
                rfc2617_ch,
                "Circle Of Life",
                "0a4f113b",
                "6629fae49393a05397450978507c4ef1",
                r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", algorithm=MD5, response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41""#.to_owned(),
            ),
        ];
        for (header, password, cnonce, response, want) in cases {
            let ch = challenge(header);
            let req = DigestRequest {
                method: "GET",
                uri: "/dir/index.html",
                cnonce,
                nc: 1,
            };
            let got = authorization(&ch, &Credentials::new("Mufasa", *password), &req);
            assert_eq!(&got, want);

            // Server side: parse what the client sent and recompute.
            let resp = DigestResponse::parse(&got).unwrap();
            assert_eq!(resp.response, *response);
            let stored = ha1(resp.algorithm, "Mufasa", &resp.realm, password);
            assert_eq!(expected_response(&resp, &stored, "GET"), *response);
            assert!(resp.verify(&stored, "GET"));
            assert!(!resp.verify(&stored, "POST"));
        }
    }

    /// The RFC 7616 §3.9.1 answers exactly as printed in the RFC, parsed by
    /// the server side.
    #[test]
    fn rfc_vectors_server() {
        let cases: &[(&str, &str)] = &[
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ];
        for (alg, response) in cases {
            let header = format!(
                "Digest username=\"Mufasa\",\n realm=\"http-auth@example.org\",\n uri=\"/dir/index.html\",\n algorithm={alg},\n nonce=\"{RFC7616_NONCE}\",\n nc=00000001,\n cnonce=\"{RFC7616_CNONCE}\",\n qop=auth,\n response=\"{response}\",\n opaque=\"{RFC7616_OPAQUE}\""
            )
            .replace('\n', "");
            let resp = DigestResponse::parse(&header).unwrap();
            let stored = ha1(
                resp.algorithm,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life",
            );
            assert!(resp.verify(&stored, "GET"), "{alg}");
            // The stored HA1 may be upper-case hex; the response too.
            let mut upper = resp.clone();
            upper.response = upper.response.to_ascii_uppercase();
            assert!(upper.verify(&stored.to_ascii_uppercase(), "GET"), "{alg}");
        }
    }

    /// RFC 7616 §3.9.2 uses SHA-512-256, which we do not expose; its printed
    /// values come from SHA-512 truncated to 256 bits (erratum 4897 gives the
    /// FIPS 180-4 SHA-512/256 values). Both check our userhash and
    /// `username*` code paths through `authorization_with`.
    #[test]
    fn rfc7616_userhash_example() {
        fn truncated_sha512(d: &[u8]) -> String {
            to_hex(&sha2::Sha512::digest(d)[..32])
        }
        fn sha512_256(d: &[u8]) -> String {
            to_hex(&sha2::Sha512_256::digest(d))
        }
        let cases: &[(HashFn, &str, &str)] = &[
            (
                truncated_sha512,
                "488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec",
                "ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd",
            ),
            (
                sha512_256,
                "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b",
                "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5",
            ),
        ];
        let creds = Credentials::new("J\u{e4}s\u{f8}n Doe", "Secret, or not?");
        let req = DigestRequest {
            method: "GET",
            uri: "/doe.json",
            cnonce: "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
            nc: 1,
        };
        let mut ch = DigestChallenge {
            realm: "api@example.org".into(),
            nonce: "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK".into(),
            opaque: Some("HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS".into()),
            algorithm: DigestAlgorithm::Sha256,
            qop_auth: true,
            userhash: true,
            stale: false,
        };
        for (hash, username, response) in cases {
            ch.userhash = true;
            let got = authorization_with(&ch, &creds, &req, *hash, "SHA-512-256", false);
            assert_eq!(param(&got, "username").as_deref(), Some(*username));
            assert_eq!(param(&got, "response").as_deref(), Some(*response));
            assert_eq!(param(&got, "userhash").as_deref(), Some("true"));
            assert_eq!(param(&got, "algorithm").as_deref(), Some("SHA-512-256"));

            ch.userhash = false;
            let got = authorization_with(&ch, &creds, &req, *hash, "SHA-512-256", false);
            assert_eq!(
                param(&got, "username*").as_deref(),
                Some("UTF-8''J%C3%A4s%C3%B8n%20Doe")
            );
            assert_eq!(param(&got, "username"), None);
            assert_eq!(param(&got, "response").as_deref(), Some(*response));
        }
    }

    #[test]
    fn round_trips_client_to_server() {
        let algorithms = [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Md5Sess,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha256Sess,
        ];
        // (username, password, qop_auth, userhash, opaque, method, uri, nc)
        type Case<'a> = (
            &'a str,
            &'a str,
            bool,
            bool,
            Option<&'a str>,
            &'a str,
            &'a str,
            u32,
        );
        let cases: &[Case] = &[
            (
                "alice",
                "pw",
                true,
                false,
                None,
                "CONNECT",
                "example.com:443",
                1,
            ),
            (
                "alice",
                "pw",
                false,
                false,
                Some("op"),
                "CONNECT",
                "example.com:443",
                1,
            ),
            (
                "bob",
                "p:w\"",
                true,
                false,
                Some("o\"p"),
                "GET",
                "/a?b=\"c\"",
                0x1234_abcd,
            ),
            ("q\"uo\\te", "x", true, false, None, "GET", "/", 2),
            (
                "J\u{e4}s\u{f8}n Doe",
                "Secret, or not?",
                true,
                false,
                None,
                "GET",
                "/doe.json",
                1,
            ),
            ("tab\tuser", "x", false, false, None, "GET", "/", 1),
            ("carol", "pw", true, true, None, "CONNECT", "[::1]:8443", 3),
            ("", "", true, false, None, "CONNECT", "h:1", u32::MAX),
        ];
        for alg in algorithms {
            for &(user, pass, qop_auth, userhash, opaque, method, uri, nc) in cases {
                let ch = DigestChallenge {
                    realm: "wsvia \"proxy\"".into(),
                    nonce: "n0nce/+=".into(),
                    opaque: opaque.map(Into::into),
                    algorithm: alg,
                    qop_auth,
                    userhash,
                    stale: false,
                };
                // Server challenge -> client parses it back.
                let reparsed = parse_challenges(&ch.to_challenge().to_string()).unwrap();
                assert_eq!(DigestChallenge::from_challenge(&reparsed[0]).unwrap(), ch);

                let req = DigestRequest {
                    method,
                    uri,
                    cnonce: "c/n+once",
                    nc,
                };
                let sent = authorization(&ch, &Credentials::new(user, pass), &req);
                let ctx = format!("{alg} {user:?} qop={qop_auth}: {sent}");
                let resp = DigestResponse::parse(&sent).expect(&ctx);
                let want_user = if userhash {
                    hash_parts(alg.hasher(), &[user, &ch.realm])
                } else {
                    user.to_owned()
                };
                assert_eq!(resp.username, want_user, "{ctx}");
                assert_eq!(resp.userhash, userhash, "{ctx}");
                assert_eq!(resp.realm, ch.realm, "{ctx}");
                assert_eq!(resp.uri, uri, "{ctx}");
                assert_eq!(resp.algorithm, alg, "{ctx}");
                assert_eq!(resp.opaque.as_deref(), opaque, "{ctx}");
                assert_eq!(resp.qop.is_some(), qop_auth, "{ctx}");
                assert_eq!(resp.cnonce.is_some(), qop_auth || alg.is_sess(), "{ctx}");
                if qop_auth {
                    assert_eq!(resp.nc, Some(format!("{nc:08x}")), "{ctx}");
                }
                let stored = ha1(alg, user, &ch.realm, pass);
                assert!(resp.verify(&stored, method), "{ctx}");
                let wrong = ha1(alg, user, &ch.realm, "not the password");
                assert!(!resp.verify(&wrong, method), "{ctx}");
            }
        }
    }

    #[test]
    fn rfc2069_form_has_no_qop() {
        let ch = challenge(r#"Digest realm="r", nonce="n""#);
        assert_eq!(ch.algorithm, DigestAlgorithm::Md5);
        assert!(!ch.qop_auth);
        let req = DigestRequest {
            method: "GET",
            uri: "/",
            cnonce: "c",
            nc: 1,
        };
        let got = authorization(&ch, &Credentials::new("u", "p"), &req);
        // H(H(u:r:p):n:H(GET:/)), checked against an independent computation.
        let want = md5_hex(format!("{}:n:{}", md5_hex(b"u:r:p"), md5_hex(b"GET:/")).as_bytes());
        assert_eq!(
            got,
            format!(
                r#"Digest username="u", realm="r", nonce="n", uri="/", algorithm=MD5, response="{want}""#
            )
        );
    }

    #[test]
    fn from_challenge_cases() {
        let base = DigestChallenge {
            realm: "r".into(),
            nonce: "n".into(),
            opaque: None,
            algorithm: DigestAlgorithm::Md5,
            qop_auth: false,
            userhash: false,
            stale: false,
        };
        let cases: Vec<(&str, Result<DigestChallenge, DigestError>)> = vec![
            (r#"Digest realm="r", nonce="n""#, Ok(base.clone())),
            (
                r#"digest REALM=r, NONCE=n, Algorithm="sha-256-SESS", QOP="auth-int, auth", stale=TRUE, userhash="true", opaque="o""#,
                Ok(DigestChallenge {
                    algorithm: DigestAlgorithm::Sha256Sess,
                    qop_auth: true,
                    stale: true,
                    userhash: true,
                    opaque: Some("o".into()),
                    ..base.clone()
                }),
            ),
            (
                r#"Digest realm="r", nonce="n", qop="", stale=false, userhash=false"#,
                Ok(base.clone()),
            ),
            (
                r#"Basic realm="r""#,
                Err(DigestError::NotDigest {
                    scheme: "Basic".into(),
                }),
            ),
            (
                r#"Digest nonce="n""#,
                Err(DigestError::MissingParam {
                    what: "challenge",
                    param: "realm",
                }),
            ),
            (
                r#"Digest realm="r""#,
                Err(DigestError::MissingParam {
                    what: "challenge",
                    param: "nonce",
                }),
            ),
            (
                r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#,
                Err(DigestError::UnsupportedAlgorithm {
                    name: "SHA-512-256".into(),
                }),
            ),
            (
                r#"Digest realm="r", nonce="n", qop="auth-int""#,
                Err(DigestError::UnsupportedQop {
                    offered: "auth-int".into(),
                }),
            ),
        ];
        for (header, want) in cases {
            let cs = parse_challenges(header).unwrap();
            assert_eq!(DigestChallenge::from_challenge(&cs[0]), want, "{header}");
        }
    }

    #[test]
    fn response_parse_errors() {
        let ok = r#"Digest username="u", realm="r", nonce="n", uri="/", response="00""#;
        assert!(DigestResponse::parse(ok).is_ok());
        let missing = |param| DigestError::MissingParam {
            what: "credentials",
            param,
        };
        let cases: Vec<(String, DigestError)> = vec![
            ("".into(), DigestError::Syntax(ChallengeError::Empty)),
            (
                format!("{ok}, Basic xyz"),
                DigestError::NotSingle { count: 2 },
            ),
            (
                "Basic dXNlcjpwYXNz".into(),
                DigestError::NotDigest {
                    scheme: "Basic".into(),
                },
            ),
            (ok.replace(r#"username="u", "#, ""), missing("username")),
            (ok.replace(r#"realm="r", "#, ""), missing("realm")),
            (ok.replace(r#"nonce="n", "#, ""), missing("nonce")),
            (ok.replace(r#"uri="/", "#, ""), missing("uri")),
            (ok.replace(r#", response="00""#, ""), missing("response")),
            (format!("{ok}, qop=auth, cnonce=c"), missing("nc")),
            (format!("{ok}, qop=auth, nc=00000001"), missing("cnonce")),
            (
                format!("{ok}, qop=auth-int, nc=00000001, cnonce=c"),
                DigestError::UnsupportedQop {
                    offered: "auth-int".into(),
                },
            ),
            (
                format!("{ok}, qop=auth, nc=1, cnonce=c"),
                DigestError::InvalidParam {
                    param: "nc",
                    value: "1".into(),
                    reason: "expected 8 hex digits, e.g. 00000001",
                },
            ),
            (
                format!("{ok}, algorithm=SHA-512-256"),
                DigestError::UnsupportedAlgorithm {
                    name: "SHA-512-256".into(),
                },
            ),
            (
                format!("{ok}, username*=UTF-8''u"),
                DigestError::InvalidParam {
                    param: "username*",
                    value: String::new(),
                    reason: "must not be sent together with `username`",
                },
            ),
            (
                ok.replace(r#"username="u""#, "username*=ISO-8859-1''%E4"),
                DigestError::InvalidParam {
                    param: "username*",
                    value: "ISO-8859-1''%E4".into(),
                    reason: "only the UTF-8 charset is supported",
                },
            ),
            (
                ok.replace(r#"username="u""#, "username*=UTF-8''%FF"),
                DigestError::InvalidParam {
                    param: "username*",
                    value: "UTF-8''%FF".into(),
                    reason: "percent-decoded bytes are not UTF-8",
                },
            ),
            (
                ok.replace(r#"username="u""#, "username*=J%C3%A4s"),
                DigestError::InvalidParam {
                    param: "username*",
                    value: "J%C3%A4s".into(),
                    reason: "expected charset'language'value, e.g. UTF-8''J%C3%A4s",
                },
            ),
        ];
        for (header, want) in cases {
            assert_eq!(DigestResponse::parse(&header), Err(want), "{header}");
        }
    }

    #[test]
    fn algorithm_names() {
        let cases: &[(&str, Option<DigestAlgorithm>)] = &[
            ("MD5", Some(DigestAlgorithm::Md5)),
            ("md5", Some(DigestAlgorithm::Md5)),
            ("MD5-sess", Some(DigestAlgorithm::Md5Sess)),
            ("SHA-256", Some(DigestAlgorithm::Sha256)),
            ("SHA-256-SESS", Some(DigestAlgorithm::Sha256Sess)),
            ("SHA-512-256", None),
            ("SHA256", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(name.parse::<DigestAlgorithm>().ok(), *want, "{name:?}");
            if let Some(alg) = want {
                assert_eq!(alg.as_str().parse::<DigestAlgorithm>().ok(), Some(*alg));
            }
        }
    }
}
