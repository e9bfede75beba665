//! websockify token files (`token: host:port` lines) and the `token` query parameter.
//!
//! Invariants: no panic; a looked-up target has a port other than 0 and a host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::tokens::{TokenTable, token_from_query, token_from_target};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let from_target = token_from_target(text);
    let _ = token_from_query(Some(text));
    let Ok(table) = TokenTable::parse(text) else {
        return;
    };
    assert_eq!(table.is_empty(), table.len() == 0);
    for line in text.lines() {
        let token = line.split(':').next().unwrap_or_default().trim();
        if let Some((host, port)) = table.lookup(token) {
            assert!(
                !host.is_empty() && port != 0,
                "{token:?} -> {host:?}:{port}"
            );
        }
    }
    if let Some(token) = from_target {
        let _ = table.lookup(&token);
    }
});
