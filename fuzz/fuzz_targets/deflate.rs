//! permessage-deflate: the extension header on both sides, and compressed frames read.
//!
//! First byte even: the rest is a `Sec-WebSocket-Extensions` header. What the server side
//! accepts must print as an answer that our client side accepts as exactly the same
//! parameters.
//!
//! First byte odd: its bits choose the agreed parameters, and the rest is what a server
//! sent to our client (frames, compressed or not). Reading it must end, with messages or
//! an error, without a panic or a hang (yawc 0.5 once spun forever compressing an empty
//! message: `scripts/fuzz` reports any input taking 10 s as a hang). Inflated messages
//! are capped at 1 MiB.
#![no_main]

use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use wsvia::WebSocket;
use wsvia::tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use wsvia_core::deflate::{DeflateOptions, DeflateParams, accept_offer};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        header_round_trip(rest);
    } else {
        read_frames(mode, rest);
    }
});

fn header_round_trip(rest: &[u8]) {
    let Ok(header) = std::str::from_utf8(rest) else {
        return;
    };
    let Some(accepted) = accept_offer([header]) else {
        return;
    };
    let answer = accepted.to_string();
    let checked = DeflateOptions::default().check_answer(Some(&answer));
    assert_eq!(
        checked.ok().flatten(),
        Some(accepted),
        "{header:?} → {answer:?}"
    );
}

fn read_frames(mode: u8, rest: &[u8]) {
    let bits = 9 + (mode >> 3) % 7;
    let params = DeflateParams {
        server_no_context_takeover: mode & 2 != 0,
        client_no_context_takeover: mode & 4 != 0,
        server_max_window_bits: (mode & 0x80 != 0).then_some(bits),
        client_max_window_bits: None,
    };
    let io = tokio::io::join(std::io::Cursor::new(rest.to_vec()), tokio::io::sink());
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut ws = WebSocket::from_raw_socket(io, Role::Client, config, Some(params)).await;
        while let Some(item) = ws.next().await {
            if item.is_err() {
                break;
            }
        }
    });
}
