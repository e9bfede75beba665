//! The SNI router's ClientHello peek.
//!
//! Invariants: a server name is lowercase, without a trailing dot, at most 253 bytes; and
//! a prefix of bytes that hold a complete hello is never an error (only "need more" or
//! the same hello), since the router calls it again as bytes arrive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::sni::{MAX_CLIENT_HELLO_BYTES, Peek, peek_client_hello};

fuzz_target!(|data: &[u8]| {
    let Ok(peek) = peek_client_hello(data) else {
        return;
    };
    if let Peek::Hello { server_name, .. } = &peek {
        if let Some(name) = server_name {
            assert!(!name.is_empty() && name.len() <= 253, "{name:?}");
            assert!(!name.ends_with('.'), "{name:?}");
            assert!(
                name.is_ascii() && name.to_ascii_lowercase() == *name,
                "{name:?}"
            );
        }
        assert!(data.len() >= 5);
        for cut in [1, data.len() / 2, data.len() - 1] {
            match peek_client_hello(&data[..cut]) {
                Ok(Peek::NeedMore) => {}
                Ok(p) if p == peek => {}
                other => panic!(
                    "a prefix of {cut} bytes of a complete hello gives {other:?}, not NeedMore"
                ),
            }
        }
    }
    if matches!(peek, Peek::NeedMore) {
        assert!(
            data.len() < MAX_CLIENT_HELLO_BYTES,
            "NeedMore past the limit"
        );
    }
});
