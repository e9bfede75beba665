//! A data-integrity soak through a proxy: sessions send numbered messages of varying size
//! and check every echo, in order, byte for byte, counting what was sent, received, lost,
//! corrupted and reordered.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use wsvia::tokio_tungstenite::tungstenite::Message;

/// What a soak saw.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Sessions that opened.
    pub sessions: usize,
    /// Messages sent.
    pub sent: u64,
    /// Echoes that matched, in order.
    pub received: u64,
    /// Echoes that never came (the session ended first).
    pub lost: u64,
    /// Echoes whose bytes differed.
    pub corrupted: u64,
    /// Echoes of a different message than the next one expected.
    pub reordered: u64,
    /// Why sessions ended early, one line each.
    pub ended_early: Vec<String>,
}

impl Report {
    /// Nothing lost, corrupted or reordered, and no session ended early.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.corrupted == 0 && self.reordered == 0 && self.ended_early.is_empty()
    }

    fn add(&mut self, other: Report) {
        self.sessions += other.sessions;
        self.sent += other.sent;
        self.received += other.received;
        self.lost += other.lost;
        self.corrupted += other.corrupted;
        self.reordered += other.reordered;
        self.ended_early.extend(other.ended_early);
    }
}

/// The payload of message `n` of session `s`: its number in the first 8 bytes, then bytes
/// that depend on both, so a swapped or damaged echo is told apart from a lost one.
pub fn payload(s: usize, n: u64) -> Vec<u8> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ ((s as u64) << 32) ^ n;
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    let len = 16 + (seed % 4000) as usize;
    let mut out = n.to_be_bytes().to_vec();
    out.extend((8..len).map(|i| (seed as usize).wrapping_add(i * 31) as u8));
    out
}

/// A client through `proxy` ("" for none). Build it once: loading the system's CA
/// certificates takes a while.
pub fn client(proxy: &str) -> wsvia::Client {
    wsvia::Client::builder()
        .proxy(proxy.to_owned())
        .build()
        .expect("a client with default options builds")
}

/// One session: `messages` checked round trips to `url`, pausing `pause` every 20 messages.
pub async fn session(
    client: &wsvia::Client,
    url: &str,
    s: usize,
    messages: u64,
    pause: Duration,
) -> Report {
    let mut r = Report::default();
    let mut conn = match client.connect(url).await {
        Ok(c) => c,
        Err(e) => {
            r.ended_early.push(format!("session {s}: {e}"));
            return r;
        }
    };
    r.sessions = 1;
    for n in 0..messages {
        let sent = payload(s, n);
        if let Err(e) = conn.websocket.send(Message::binary(sent.clone())).await {
            r.ended_early
                .push(format!("session {s} message {n}: send: {e}"));
            r.lost += messages - n;
            return r;
        }
        r.sent += 1;
        match conn.websocket.next().await {
            Some(Ok(Message::Binary(got))) if got[..] == sent[..] => r.received += 1,
            Some(Ok(Message::Binary(got))) if got.len() >= 8 && got[..8] != sent[..8] => {
                r.reordered += 1
            }
            Some(Ok(Message::Binary(_))) => r.corrupted += 1,
            other => {
                r.ended_early
                    .push(format!("session {s} message {n}: {other:?}"));
                r.lost += messages - n;
                return r;
            }
        }
        if n % 20 == 19 {
            tokio::time::sleep(pause).await;
        }
    }
    let _ = conn.websocket.close(None).await;
    while let Some(Ok(_)) = conn.websocket.next().await {}
    r
}

/// `sessions` sessions at once, each `messages` round trips to `ws://target/` via `proxy`.
pub async fn run(proxy: String, target: String, sessions: usize, messages: u64) -> Report {
    let client = client(&proxy);
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let (client, url) = (client.clone(), format!("ws://{target}/soak{s}"));
        tasks.push(tokio::spawn(async move {
            session(&client, &url, s, messages, Duration::from_millis(10)).await
        }));
    }
    let mut total = Report::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.add(r);
        }
    }
    total
}
