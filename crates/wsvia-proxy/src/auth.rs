//! Who is asking: `Proxy-Authorization` checked against the user files, Basic or Digest,
//! and the `407` that tells a client how to authenticate.
//!
//! Digest nonces are stateless: a timestamp and a keyed hash of it, valid for five
//! minutes, after which the client is told `stale=true` and answers again without
//! asking its user. Passwords never appear in logs; failures are counted by the caller.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use sha2::{Digest as _, Sha256};
use wsvia_core::Credentials;
use wsvia_core::challenge::Challenge;
use wsvia_core::digest::{DigestAlgorithm, DigestChallenge, DigestResponse};

use crate::config::Settings;
use crate::respond::{Body, text};

/// How long a Digest nonce is accepted.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// The result of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// No authentication is configured.
    Anonymous,
    /// Authenticated as this user.
    User(String),
    /// Missing, wrong, or stale credentials: answer 407.
    Refused {
        /// The user name the client tried, for the log (never the password).
        tried: Option<String>,
        /// A Digest answer used an expired nonce: say `stale=true`.
        stale: bool,
    },
}

/// Checks credentials and makes challenges; one per server, shared by connections.
#[derive(Debug)]
pub(crate) struct Authenticator {
    secret: [u8; 32],
}

impl Authenticator {
    pub(crate) fn new() -> Authenticator {
        Authenticator { secret: secret() }
    }

    /// Check `Proxy-Authorization` on a request for `uri` (as written in the request line).
    pub(crate) async fn identify(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &str,
        settings: &std::sync::Arc<Settings>,
    ) -> Identity {
        if !settings.auth_required() {
            return Identity::Anonymous;
        }
        let Some(value) = headers
            .get(header::PROXY_AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Identity::Refused {
                tried: None,
                stale: false,
            };
        };
        let scheme = value.split_whitespace().next().unwrap_or_default();
        if scheme.eq_ignore_ascii_case("basic") {
            return self.basic(value, settings).await;
        }
        if scheme.eq_ignore_ascii_case("digest") {
            return self.digest(value, method, uri, settings);
        }
        Identity::Refused {
            tried: None,
            stale: false,
        }
    }

    async fn basic(&self, value: &str, settings: &std::sync::Arc<Settings>) -> Identity {
        let Some(creds) = Credentials::from_basic_header_value(value) else {
            return Identity::Refused {
                tried: None,
                stale: false,
            };
        };
        let user = creds.username.clone();
        let settings = settings.clone();
        // bcrypt costs milliseconds of CPU: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || {
            settings
                .users
                .verify_basic(&creds.username, &creds.password)
        })
        .await
        .unwrap_or(false);
        if ok {
            Identity::User(user)
        } else {
            Identity::Refused {
                tried: Some(user),
                stale: false,
            }
        }
    }

    fn digest(&self, value: &str, method: &Method, uri: &str, settings: &Settings) -> Identity {
        let Ok(answer) = DigestResponse::parse(value) else {
            return Identity::Refused {
                tried: None,
                stale: false,
            };
        };
        let tried = Some(answer.username.clone());
        let refused = |stale| Identity::Refused {
            tried: tried.clone(),
            stale,
        };
        if answer.userhash || answer.realm != settings.realm || answer.uri != uri {
            return refused(false);
        }
        let Some(ha1) = settings.users.digest_ha1(&answer.username, &answer.realm) else {
            return refused(false);
        };
        if !answer.verify(ha1, method.as_str()) {
            return refused(false);
        }
        match self.nonce_state(&answer.nonce) {
            NonceState::Fresh => Identity::User(answer.username),
            NonceState::Stale => refused(true),
            NonceState::Forged => refused(false),
        }
    }

    /// The 407 answer: one challenge per configured scheme, Digest first.
    pub(crate) fn challenge(&self, settings: &Settings, stale: bool) -> Response<Body> {
        let mut response = text(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "wsvia proxy: authentication required\n",
        );
        let headers = response.headers_mut();
        if settings.users.has_digest_users() {
            let digest = DigestChallenge {
                realm: settings.realm.clone(),
                nonce: self.nonce(now_secs()),
                opaque: None,
                algorithm: DigestAlgorithm::Md5,
                qop_auth: true,
                userhash: false,
                stale,
            };
            push(headers, &digest.to_challenge());
        }
        if settings.users.has_basic_users() {
            push(
                headers,
                &Challenge::new("Basic").with_param("realm", settings.realm.as_str()),
            );
        }
        response
    }

    fn nonce(&self, issued: u64) -> String {
        format!("{issued:x}.{}", self.mac(issued))
    }

    fn mac(&self, issued: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(issued.to_be_bytes());
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn nonce_state(&self, nonce: &str) -> NonceState {
        let Some((ts, mac)) = nonce.split_once('.') else {
            return NonceState::Forged;
        };
        let Ok(issued) = u64::from_str_radix(ts, 16) else {
            return NonceState::Forged;
        };
        if !constant_time_eq(self.mac(issued).as_bytes(), mac.as_bytes()) {
            return NonceState::Forged;
        }
        if now_secs().saturating_sub(issued) > NONCE_LIFETIME.as_secs() {
            NonceState::Stale
        } else {
            NonceState::Fresh
        }
    }
}

enum NonceState {
    Fresh,
    Stale,
    Forged,
}

fn push(headers: &mut HeaderMap, challenge: &Challenge) {
    if let Ok(v) = HeaderValue::from_str(&challenge.to_string()) {
        headers.append(header::PROXY_AUTHENTICATE, v);
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes for the nonce key: the kernel's, else the process's hash seeds.
fn secret() -> [u8; 32] {
    use std::io::Read;
    let mut out = [0u8; 32];
    let from_kernel = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out));
    if from_kernel.is_ok() {
        return out;
    }
    use std::hash::{BuildHasher, Hasher};
    for chunk in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(now_secs());
        chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_verify_expire_and_resist_forgery() {
        let a = Authenticator::new();
        let now = now_secs();
        assert!(matches!(a.nonce_state(&a.nonce(now)), NonceState::Fresh));
        assert!(matches!(
            a.nonce_state(&a.nonce(now - 301)),
            NonceState::Stale
        ));
        let other = Authenticator::new();
        assert!(matches!(
            a.nonce_state(&other.nonce(now)),
            NonceState::Forged
        ));
        assert!(matches!(a.nonce_state("nonsense"), NonceState::Forged));
    }
}
