//! Opening WebSockets for the load: the `wsvia` client library does TCP, CONNECT and the
//! upgrade; this module picks the source address and URL for each connection and swaps
//! in a frame buffer sized for the scenario.

use std::net::IpAddr;
use std::time::Duration;

use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::Error;
use crate::args::TargetArgs;

/// A WebSocket opened by the load tool.
pub type Ws = WebSocketStream<wsvia::Stream>;

/// How long one connection may take to open (TCP, CONNECT, upgrade).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens WebSockets to a target, spreading them over source addresses and URLs.
///
/// # Examples
/// ```no_run
/// # async fn f() -> Result<(), wsvia_bench::Error> {
/// let dialer = wsvia_bench::dial::Dialer::new(
///     vec!["ws://127.0.0.1:9001/".into()], Some("http://127.0.0.1:3128".into()), &[], 16 << 10)?;
/// let ws = dialer.open(0).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Dialer {
    clients: Vec<wsvia::Client>,
    urls: Vec<String>,
    proxy: Option<String>,
    config: WebSocketConfig,
}

impl Dialer {
    /// A dialer for `urls`, through `proxy` (direct when `None`), from `source_ips` in
    /// turn (the OS's choice when empty), reading at most `read_buffer` bytes per call.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad URL list or proxy URL.
    pub fn new(
        urls: Vec<String>,
        proxy: Option<String>,
        source_ips: &[IpAddr],
        read_buffer: usize,
    ) -> Result<Dialer, Error> {
        if urls.is_empty() {
            return Err(Error::Config("no URL to connect to".into()));
        }
        let build = |local: Option<IpAddr>| {
            let mut b = wsvia::Client::builder()
                // "" = no proxy: the environment's proxy variables must not leak in.
                .proxy(proxy.clone().unwrap_or_default())
                .connect_timeout(CONNECT_TIMEOUT)
                .max_message_size(MAX_MESSAGE);
            if let Some(ip) = local {
                b = b.local_address(ip);
            }
            b.build()
                .map_err(|e| Error::Config(format!("bad client options: {e}")))
        };
        let clients = if source_ips.is_empty() {
            vec![build(None)?]
        } else {
            source_ips
                .iter()
                .map(|ip| build(Some(*ip)))
                .collect::<Result<_, _>>()?
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(read_buffer.max(4096))
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        Ok(Dialer {
            clients,
            urls,
            proxy,
            config,
        })
    }

    /// A dialer from `--url… --proxy --source-ips` flags.
    ///
    /// # Errors
    /// As [`Dialer::new`].
    pub fn from_args(t: &TargetArgs, read_buffer: usize) -> Result<Dialer, Error> {
        let ips = t
            .source_ips
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        Dialer::new(t.urls.clone(), t.proxy.clone(), &ips, read_buffer)
    }

    /// Open connection number `n`: source address `n mod #addresses`, URL `n mod #urls`.
    ///
    /// # Errors
    /// [`Error::Connect`] with the library's error (phase and party at fault).
    ///
    /// # Cancel safety
    /// Cancelling drops the half-open connection.
    pub async fn open(&self, n: usize) -> Result<Ws, Error> {
        let client = &self.clients[n % self.clients.len()];
        let url = &self.urls[n % self.urls.len()];
        let conn = client.connect(url).await.map_err(|source| Error::Connect {
            url: match &self.proxy {
                Some(p) => format!("{url} via {p}"),
                None => url.clone(),
            },
            source: Box::new(source),
        })?;
        // The library's WebSocket has not read a byte yet (the upgrade's leftovers live in
        // the stream), so it can be rebuilt with this scenario's buffer size: tungstenite
        // zero-fills its whole read buffer before every read, 128 KiB by default.
        // The load tool offers no compression, so this is always tokio-tungstenite's.
        let stream = conn
            .websocket
            .into_inner()
            .expect("an uncompressed WebSocket gives its stream back");
        Ok(WebSocketStream::from_raw_socket(stream, Role::Client, Some(self.config)).await)
    }

    /// A label for tables: the proxy, else the first URL.
    pub fn label(&self) -> String {
        match &self.proxy {
            Some(p) => format!("via {p}"),
            None => self.urls[0].clone(),
        }
    }
}

/// The largest message the load tool accepts back.
const MAX_MESSAGE: usize = 64 << 20;
