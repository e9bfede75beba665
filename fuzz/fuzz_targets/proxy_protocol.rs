//! PROXY protocol v2 headers (what an SNI backend behind the gateway decodes).
//!
//! Invariants: a complete header's length is within the input and every shorter prefix
//! is incomplete, not an error; a PROXY header with addresses encodes back to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::proxy_protocol::{Command, decode_v2, encode_v2};

fuzz_target!(|data: &[u8]| {
    let Ok(Some((header, len))) = decode_v2(data) else {
        return;
    };
    assert!(
        (16..=data.len()).contains(&len),
        "len {len} of {}",
        data.len()
    );
    for cut in [0, 12, 15, len - 1] {
        let cut = cut.min(len - 1);
        assert_eq!(decode_v2(&data[..cut]), Ok(None), "prefix {cut} of {len}");
    }
    if let (Command::Proxy, Some(src), Some(dst)) =
        (header.command, header.source, header.destination)
    {
        assert_eq!(src.is_ipv4(), dst.is_ipv4());
        let encoded = encode_v2(src, dst);
        let (again, n) = decode_v2(&encoded)
            .expect("our own header decodes")
            .expect("our own header is complete");
        assert_eq!((again, n), (header, encoded.len()));
    }
});
