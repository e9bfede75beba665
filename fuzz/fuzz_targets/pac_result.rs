//! A PAC file's `FindProxyForURL` answer (`"PROXY a:3128; SOCKS5 b:1080; DIRECT"`), as
//! `wsvia_pac::parse_result` reads it. (Only the answer: evaluating fuzzed scripts could
//! make `dnsResolve` look names up.)
//!
//! Invariants: no panic; at most one entry per `;`-separated part; an entry's proxy URL,
//! when it parses, keeps the scheme its keyword names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::{ProxyScheme, ProxyUrl};
use wsvia_pac::{PacEntry, parse_result};

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = std::str::from_utf8(data) else {
        return;
    };
    let entries = parse_result(answer);
    assert!(entries.len() <= answer.split(';').count(), "{answer:?}");
    for entry in &entries {
        let Some(url) = entry.to_proxy_url() else {
            assert_eq!(entry, &PacEntry::Direct);
            continue;
        };
        if let Ok(proxy) = ProxyUrl::parse(&url) {
            let want = match entry {
                PacEntry::Http { .. } => ProxyScheme::Http,
                PacEntry::Https { .. } => ProxyScheme::Https,
                _ => ProxyScheme::Socks5,
            };
            assert_eq!(proxy.scheme, want, "{answer:?} -> {url:?}");
        }
    }
});
