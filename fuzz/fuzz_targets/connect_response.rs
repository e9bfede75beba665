//! What wsvia's client reads from a CONNECT answer itself (hyper reads the head): the
//! `Proxy-Authenticate` lines of a 407, one per input line.
//!
//! Invariants: a parsed challenge prints and parses back to itself; a Digest challenge we
//! accept survives `to_challenge`; and our answer to it is read back by the proxy's own
//! parser with the same realm, nonce and uri, and verifies with the right password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::Credentials;
use wsvia_core::challenge::{parse_all, parse_challenges, strongest};
use wsvia_core::digest::{self, DigestChallenge, DigestRequest, DigestResponse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    for line in &lines {
        if let Ok(parsed) = parse_challenges(line) {
            let printed = parsed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let again = parse_challenges(&printed)
                .unwrap_or_else(|e| panic!("{line:?} printed as {printed:?} does not parse: {e}"));
            assert_eq!(again, parsed, "{line:?} printed as {printed:?}");
        }
    }
    let Ok(all) = parse_all(lines.iter().copied()) else {
        return;
    };
    let _ = strongest(&all, &["Digest", "Basic"]);
    for c in &all {
        let Ok(d) = DigestChallenge::from_challenge(c) else {
            continue;
        };
        assert_eq!(
            DigestChallenge::from_challenge(&d.to_challenge()).as_ref(),
            Ok(&d),
            "{c}"
        );
        for creds in [
            Credentials::new("Mufasa", "Circle of Life"),
            Credentials::new("Jäsøn Doe", ""),
        ] {
            let req = DigestRequest {
                method: "CONNECT",
                uri: "example.com:443",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv",
                nc: 1,
            };
            let value = digest::authorization(&d, &creds, &req);
            let answer = DigestResponse::parse(&value)
                .unwrap_or_else(|e| panic!("our answer {value:?} to {c} does not parse: {e}"));
            assert_eq!(answer.realm, d.realm, "{value}");
            assert_eq!(answer.nonce, d.nonce, "{value}");
            assert_eq!(answer.uri, req.uri, "{value}");
            assert_eq!(answer.algorithm, d.algorithm, "{value}");
            assert_eq!(answer.userhash, d.userhash, "{value}");
            if !d.userhash {
                assert_eq!(answer.username, creds.username, "{value}");
                let stored = digest::ha1(d.algorithm, &creds.username, &d.realm, &creds.password);
                assert!(answer.verify(&stored, "CONNECT"), "{value} does not verify");
            }
        }
    }
});
