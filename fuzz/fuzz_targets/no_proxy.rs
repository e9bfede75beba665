//! `no_proxy` lists and their matching. Input: the list, then a line with the host, then
//! a line with the port.
//!
//! Invariants: a match names an entry that is written in the list; `*` matches whatever
//! an entry matches; a DNS name in the list matches itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::NoProxy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let list = parts.next().unwrap_or_default();
    let host = parts.next().unwrap_or("example.com");
    let port = parts
        .next()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or(443);
    let rules = NoProxy::parse(list);
    if let Some(entry) = rules.matches(host, port) {
        assert!(list.contains(entry), "{entry:?} is not in {list:?}");
    }
    // `*` matches at least every host some entry matches (not, say, `[]`, which is no host).
    if rules.matches(host, port).is_some() {
        assert_eq!(
            NoProxy::parse("*").matches(host, port),
            Some("*"),
            "{host:?}"
        );
    }
    // A plain DNS name written in the list matches itself.
    let is_name = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if is_name {
        assert_eq!(
            NoProxy::parse(host).matches(host, port),
            Some(host),
            "{host:?}"
        );
    }
    for other in [
        "localhost",
        "127.0.0.1",
        "[::1]",
        "::1",
        "",
        "a..b",
        "[",
        "]",
    ] {
        let _ = rules.matches(other, port);
    }
});
