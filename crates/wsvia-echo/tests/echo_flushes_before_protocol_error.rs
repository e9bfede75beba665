//! A message that arrives in the same read as a bad frame is still echoed before the
//! connection is failed (Autobahn 3.2–3.4, 4.1.4/4.1.5, 4.2.4/4.2.5, 5.15 were NON-STRICT).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use wsvia_echo::EchoServer;

/// A masked client frame (mask key 0, so the payload reads as is).
fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first_byte, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn text_before_reserved_bits_frame_is_echoed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let stop = stop.clone();
        async move {
            EchoServer::new(Default::default())
                .serve(listener, stop)
                .await
        }
    });

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );

    // "hello", then a text frame with RSV1 set (no extension agreed), in one write.
    let mut burst = client_frame(0x81, b"hello");
    burst.extend(client_frame(0x81 | 0x40, b"bad"));
    tcp.write_all(&burst).await.unwrap();

    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server fails the connection")
        .unwrap();
    assert!(
        answer.starts_with(b"\x81\x05hello"),
        "echo missing: {answer:02x?}"
    );

    stop.cancel();
    server.await.unwrap().unwrap();
}
