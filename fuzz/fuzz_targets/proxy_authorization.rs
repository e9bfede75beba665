//! What the proxy reads from a client: a `Proxy-Authorization` value, Basic or Digest.
//!
//! Invariants: no panic; Basic credentials we encode decode back; a parsed Digest answer
//! has the fields the proxy relies on, and checking it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::Credentials;
use wsvia_core::digest::{self, DigestResponse};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(creds) = Credentials::from_basic_header_value(value) {
        let again = Credentials::from_basic_header_value(&creds.basic_header_value());
        assert_eq!(again.as_ref(), Some(&creds), "{value:?}");
    }
    let creds = Credentials::parse_user_pass(value);
    let encoded = creds.basic_header_value();
    assert_eq!(
        Credentials::from_basic_header_value(&encoded).as_ref(),
        Some(&creds),
        "{value:?} as user:pass"
    );
    if let Ok(answer) = DigestResponse::parse(value) {
        assert!(answer.qop.is_none() || answer.nc.is_some() && answer.cnonce.is_some());
        let ha1 = digest::ha1(answer.algorithm, &answer.username, &answer.realm, "pw");
        let _ = answer.verify(&ha1, "CONNECT");
        let _ = answer.verify(value, "GET");
    }
});
