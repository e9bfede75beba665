//! `wsvia connect`: stdin to messages, messages to stdout, through whatever proxy applies.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use wsvia::tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wsvia::tokio_tungstenite::tungstenite::{self, Message};
use wsvia::{Client, Event, Observer};
use wsvia_core::Credentials;

use crate::cli::ConnectArgs;
use crate::exit_code;

/// Prints `-v` steps and `--trace` heads to stderr.
struct StderrObserver {
    verbose: bool,
    trace: bool,
}

impl Observer for StderrObserver {
    fn on_event(&self, event: &Event<'_>) {
        let wanted = match event {
            Event::Sent { .. } | Event::Received { .. } => self.trace,
            _ => self.verbose,
        };
        if wanted {
            eprintln!("{event}");
        }
    }
}

/// Run `wsvia connect`; returns the process exit code.
pub async fn run(args: ConnectArgs) -> ExitCode {
    let client = match build_client(&args) {
        Ok(client) => client,
        Err(e) => return fail(&e),
    };
    let connection = tokio::select! {
        result = client.connect(&args.url) => result,
        _ = tokio::signal::ctrl_c() => return ExitCode::from(exit_code::INTERRUPTED),
    };
    let connection = match connection {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if args.verbose {
        eprintln!("* WebSocket open ({})", connection.response.status());
    }
    match session(connection.websocket, &args).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("wsvia: {e}");
            ExitCode::from(exit_code::FAILURE)
        }
    }
}

fn fail(e: &wsvia::Error) -> ExitCode {
    eprintln!("wsvia: {e}");
    ExitCode::from(exit_code::for_error(e.kind()))
}

fn build_client(args: &ConnectArgs) -> Result<Client, wsvia::Error> {
    let mut b = Client::builder().max_message_size(args.max_message_size);
    if let Some(proxy) = &args.proxy {
        b = b.proxy(proxy.clone());
    }
    if let Some(user) = &args.proxy_user {
        let c = Credentials::parse_user_pass(user);
        b = b.proxy_credentials(c.username, c.password);
    }
    b = b.proxy_anyauth(args.proxy_anyauth);
    if let Some(list) = &args.noproxy {
        b = b.no_proxy(list.clone());
    }
    for h in &args.proxy_header {
        b = b.proxy_header(h.clone());
    }
    for h in &args.header {
        b = b.header(h.clone());
    }
    for p in &args.protocol {
        b = b.protocol(p.clone());
    }
    for f in &args.cacert {
        b = b.ca_file(f.clone());
    }
    for f in &args.proxy_cacert {
        b = b.proxy_ca_file(f.clone());
    }
    b = b
        .insecure(args.insecure)
        .proxy_insecure(args.proxy_insecure);
    if let Some(secs) = args.connect_timeout {
        b = b.connect_timeout(seconds(secs, "--connect-timeout")?);
    }
    if args.verbose || args.trace {
        b = b.observer(Arc::new(StderrObserver {
            verbose: args.verbose,
            trace: args.trace,
        }));
    }
    b.build()
}

fn seconds(secs: f64, flag: &str) -> Result<Duration, wsvia::Error> {
    Duration::try_from_secs_f64(secs).map_err(|_| wsvia::Error::InvalidHeader {
        header: format!("{flag} {secs}"),
        reason: "expected a positive number of seconds".into(),
    })
}

/// Exchange messages until the close handshake ends; `Ok(code)` is the exit code.
async fn session<S>(
    mut ws: wsvia::tokio_tungstenite::WebSocketStream<S>,
    args: &ConnectArgs,
) -> Result<u8, tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (tx, mut input) = mpsc::channel::<Message>(16);
    let mut input_open = !args.echo;
    if input_open {
        tokio::spawn(read_stdin(tx, args.binary));
    }
    let mut pings = args
        .ping_interval
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .map(tokio::time::interval);
    let mut stdout = tokio::io::stdout();
    let mut close_sent = false;
    let mut close_received = false;
    loop {
        tokio::select! {
            received = ws.next() => {
                let message = match received {
                    None | Some(Err(tungstenite::Error::ConnectionClosed)) => return Ok(exit_code::OK),
                    // After the server's Close the session is over; a TLS peer that then
                    // drops TCP without close_notify (common) has lost no data.
                    Some(Err(_)) if close_received => return Ok(exit_code::OK),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(m)) => m,
                };
                match message {
                    Message::Text(_) | Message::Binary(_) if args.echo => ws.send(message).await?,
                    Message::Text(text) => {
                        if write_out(&mut stdout, &[text.as_bytes(), b"\n"]).await.is_err() {
                            return Ok(exit_code::OK); // stdout closed: quietly done
                        }
                    }
                    Message::Binary(bytes) => {
                        if write_out(&mut stdout, &[&bytes]).await.is_err() {
                            return Ok(exit_code::OK);
                        }
                    }
                    Message::Close(frame) => {
                        report_close(frame.as_ref(), args.verbose);
                        // tungstenite answers the Close; reading on completes the handshake.
                        close_sent = true;
                        close_received = true;
                    }
                    Message::Pong(_) if args.verbose => eprintln!("* pong received"),
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                }
            }
            line = input.recv(), if input_open => match line {
                Some(message) if !close_sent => ws.send(message).await?,
                Some(_) => {}
                None => {
                    input_open = false;
                    if !close_sent {
                        close_sent = true;
                        ws.close(None).await?;
                    }
                }
            },
            _ = tick(&mut pings) => ws.send(Message::Ping(Default::default())).await?,
            _ = tokio::signal::ctrl_c() => return Ok(exit_code::INTERRUPTED),
        }
    }
}

async fn tick(pings: &mut Option<tokio::time::Interval>) {
    match pings {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn report_close(frame: Option<&tungstenite::protocol::CloseFrame>, verbose: bool) {
    match frame {
        Some(f) if !matches!(f.code, CloseCode::Normal | CloseCode::Away) || verbose => {
            eprintln!(
                "wsvia: server closed the WebSocket: {} {}",
                u16::from(f.code),
                f.reason
            );
        }
        None if verbose => eprintln!("wsvia: server closed the WebSocket"),
        _ => {}
    }
}

async fn write_out(stdout: &mut tokio::io::Stdout, parts: &[&[u8]]) -> std::io::Result<()> {
    for part in parts {
        stdout.write_all(part).await?;
    }
    stdout.flush().await
}

/// Turn stdin into messages: one text message per line, or one binary message per read.
async fn read_stdin(tx: mpsc::Sender<Message>, binary: bool) {
    let mut stdin = BufReader::new(tokio::io::stdin());
    if binary {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 || tx.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.read_line(&mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = line.strip_suffix('\n').unwrap_or(&line);
                let text = text.strip_suffix('\r').unwrap_or(text);
                if tx.send(Message::text(text.to_owned())).await.is_err() {
                    break;
                }
            }
        }
    }
}
