//! Proxy URLs (`-x`, `*_proxy` variables) with curl's rules, and lists of them with
//! `DIRECT` (failover).
//!
//! Invariant: what parses prints (password redacted) and parses back to the same scheme,
//! host, port and user name; the authority parses back too; every entry of a list prints
//! and parses back to the same proxy (or `DIRECT`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::{ProxyChoice, ProxyUrl};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(list) = ProxyChoice::parse_list(input) {
        assert!(!list.is_empty(), "{input:?}");
        for choice in &list {
            let printed = choice.to_string();
            let again = ProxyChoice::parse(&printed)
                .unwrap_or_else(|e| panic!("{input:?}: {printed:?} does not parse: {e}"));
            assert_eq!(
                again.proxy().map(|p| (p.scheme, &p.host, p.port)),
                choice.proxy().map(|p| (p.scheme, &p.host, p.port)),
                "{input:?} -> {printed:?}"
            );
        }
    }
    let Ok(url) = ProxyUrl::parse(input) else {
        return;
    };
    assert_ne!(url.port, 0, "{input:?}");
    let printed = url.to_string();
    let again = ProxyUrl::parse(&printed)
        .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?} does not parse: {e}"));
    assert_eq!(again.scheme, url.scheme, "{input:?} -> {printed:?}");
    assert_eq!(again.host, url.host, "{input:?} -> {printed:?}");
    assert_eq!(again.port, url.port, "{input:?} -> {printed:?}");
    // `:@host` (empty user and password) prints as `@host`, which reads as no userinfo.
    let user = |u: &ProxyUrl| {
        u.credentials
            .as_ref()
            .filter(|c| !c.username.is_empty() || !c.password.is_empty())
            .map(|c| c.username.clone())
    };
    assert_eq!(user(&again), user(&url), "{input:?} -> {printed:?}");
    let authority = format!("{}://{}", url.scheme, url.authority());
    let bare = ProxyUrl::parse(&authority)
        .unwrap_or_else(|e| panic!("{input:?}: authority {authority:?} does not parse: {e}"));
    assert_eq!((bare.host, bare.port), (url.host, url.port), "{input:?}");
});
