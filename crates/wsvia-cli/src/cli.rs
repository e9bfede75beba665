//! The command line: subcommands and flags (clap derive; doc comments are the help text).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// WebSocket through the proxies between users and servers.
#[derive(Debug, Parser)]
#[command(name = "wsvia", version, about, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles of wsvia.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a WebSocket (ws:// or wss://), directly or through a proxy, and talk over stdin/stdout.
    #[command(after_help = connect_after_help())]
    Connect(ConnectArgs),
    /// Run a forward proxy: CONNECT tunnels and absolute-form requests, WebSocket upgrades included.
    #[command(
        after_help = "Examples:\n  wsvia proxy                                   # 127.0.0.1:3128, no auth, any destination\n  wsvia proxy --listen 0.0.0.0:3128 --auth-file users.htpasswd --allow-ports 443,80\n  wsvia proxy --config wsvia.toml --admin 127.0.0.1:9090\n  wsvia proxy --config wsvia.toml --check\n\nSIGHUP reloads --config: listeners, users, rules and limits apply to new connections, live\ntunnels are untouched, and a file that fails to load is reported while the old one keeps serving.\nOn SIGTERM or Ctrl-C it stops accepting, lets tunnels run for --grace seconds, then closes them."
    )]
    Proxy(ProxyArgs),
    /// Run a gateway: WebSocket reverse proxy with keepalive pings, SNI router, WebSocket-to-TCP bridge.
    #[command(
        after_help = "Examples:\n  wsvia gateway --listen 127.0.0.1:8080 --route /=ws://127.0.0.1:9001\n  wsvia gateway --listen 0.0.0.0:443 --tls-cert c.pem --tls-key k.pem --route /chat=ws://chat:8080/ws --route /=http://web:8000\n  wsvia gateway --listen 127.0.0.1:8080 --route /game=tcp://127.0.0.1:7000 --route /vnc=tokens:/etc/wsvia/tokens.cfg\n  wsvia gateway --sni-listen 0.0.0.0:443 --sni-route a.example=10.0.0.1:443 --sni-route '*.b.example=10.0.0.2:443' --sni-proxy-protocol"
    )]
    Gateway(GatewayArgs),
    /// Run a WebSocket echo server (text back as text, binary as binary).
    #[command(
        after_help = "Examples:\n  wsvia echo\n  wsvia echo --listen 127.0.0.1:0 --no-compress\n  wsvia echo --listen 0.0.0.0:9443 --tls-cert cert.pem --tls-key key.pem"
    )]
    Echo(EchoArgs),
    /// Measure WebSocket throughput, latency, memory and handshakes, direct or through proxies.
    Bench(wsvia_bench::BenchArgs),
}

fn connect_after_help() -> String {
    format!(
        "Examples:\n  echo hello | wsvia connect ws://127.0.0.1:9001/\n  wsvia connect -x http://alice:secret@proxy:3128 wss://example.com/chat\n  wsvia connect -v -x https://proxy-a:443,socks5h://bob:pw@proxy-b:1080,DIRECT wss://example.com/\n  https_proxy=http://proxy:3128 wsvia connect -v --trace --reconnect wss://example.com/\n\n{}",
        crate::exit_code::TABLE
    )
}

/// Flags of `wsvia connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The WebSocket URL: ws://host[:port]/path or wss://…
    pub url: String,

    /// Use this proxy: http://[user:pass@]host[:port], https://…, socks5://… (name resolved
    /// here) or socks5h://… (by the proxy); "" for none. A comma-separated list (DIRECT for
    /// no proxy) is tried in order until one reaches the server. Without it,
    /// wss_proxy/https_proxy/ws_proxy/http_proxy/all_proxy are read as curl does.
    #[arg(short = 'x', long, value_name = "URL[,URL…]")]
    pub proxy: Option<String>,

    /// Choose proxies with this PAC file's FindProxyForURL (used when --proxy is not
    /// given; before the environment variables). Its answer is a list tried in order.
    #[arg(long, value_name = "FILE")]
    pub proxy_pac: Option<PathBuf>,

    /// Seconds a proxy of a list that failed is tried last when connecting again
    /// (--reconnect) (default 30; 0: never).
    #[arg(long, value_name = "SECS")]
    pub failed_proxy_skip: Option<f64>,

    /// Proxy credentials, USER:PASS (override those in the proxy URL).
    #[arg(short = 'U', long, value_name = "USER:PASS")]
    pub proxy_user: Option<String>,

    /// Send proxy credentials only when the proxy asks (407), in the strongest scheme
    /// it offers (Digest before Basic), instead of Basic up front.
    #[arg(long)]
    pub proxy_anyauth: bool,

    /// A header for the proxy's CONNECT request only ('Name: value'; repeatable).
    #[arg(long, value_name = "HEADER")]
    pub proxy_header: Vec<String>,

    /// Hosts reached without a proxy (overrides no_proxy/NO_PROXY): comma-separated
    /// names, .domains, IP addresses, CIDR ranges, or "*".
    #[arg(long, value_name = "LIST")]
    pub noproxy: Option<String>,

    /// A header for the server's upgrade request ('Name: value'; repeatable).
    #[arg(short = 'H', long, value_name = "HEADER")]
    pub header: Vec<String>,

    /// Offer a subprotocol (repeatable).
    #[arg(long, value_name = "NAME")]
    pub protocol: Vec<String>,

    /// Trust the CA certificates in this PEM file for the server.
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,

    /// Do not check the server's certificate.
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Trust the CA certificates in this PEM file for an https:// proxy.
    #[arg(long, value_name = "FILE")]
    pub proxy_cacert: Vec<PathBuf>,

    /// Do not check an https:// proxy's certificate.
    #[arg(long)]
    pub proxy_insecure: bool,

    /// Give up opening the connection after this many seconds (with a proxy list: per
    /// proxy tried).
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,

    /// Send a Ping every SECS seconds while connected; nothing heard for 2×SECS means the
    /// connection is lost.
    #[arg(long, value_name = "SECS")]
    pub ping_interval: Option<f64>,

    /// When the connection drops (or the proxy answers 502/503/504, or the server closes
    /// with 1001/1012/1013/1014), connect again after 0.5 s doubling to 30 s (±20 %), or
    /// after the proxy's Retry-After. Lines typed meanwhile wait and are sent after.
    #[arg(long)]
    pub reconnect: bool,

    /// Largest message accepted from the server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = wsvia::DEFAULT_MAX_MESSAGE_SIZE)]
    pub max_message_size: usize,

    /// Send stdin as binary messages (each read becomes one message) instead of text lines.
    #[arg(long, conflicts_with = "echo")]
    pub binary: bool,

    /// Send every message received back unchanged (stdin is not read).
    #[arg(long)]
    pub echo: bool,

    /// Offer permessage-deflate compression (RFC 7692); -v says whether the server took it.
    #[arg(long)]
    pub compress: bool,

    /// With --compress: ask that no compression context be kept between messages, either
    /// way (server_ and client_no_context_takeover): less memory, a lower ratio.
    #[arg(long)]
    pub no_context_takeover: bool,

    /// With --compress: compression windows of at most 2^BITS bytes, ours and the server's
    /// (client_ and server_max_window_bits; 9 to 15).
    #[arg(long, value_name = "BITS", value_parser = clap::value_parser!(u8).range(9..=15))]
    pub max_window_bits: Option<u8>,

    /// Write the CONNECT and upgrade exchanges to stderr, credentials redacted.
    #[arg(long)]
    pub trace: bool,

    /// Say which proxy was chosen and why, and each step of the connection.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// Flags of `wsvia proxy`; each overrides the same key of `--config`.
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// A TOML file with any of these settings (keys are the flag names, e.g. max-tunnels = 100).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on (repeatable; default 127.0.0.1:3128).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// htpasswd file for Basic auth (bcrypt, apr1-MD5, SHA1, as Apache's htpasswd writes).
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,

    /// htdigest file for Digest auth (RFC 7616).
    #[arg(long, value_name = "FILE")]
    pub digest_file: Option<PathBuf>,

    /// The realm announced in Proxy-Authenticate (default "wsvia"; must match the htdigest file).
    #[arg(long)]
    pub realm: Option<String>,

    /// Allowed destination ports, e.g. 443,80,8000-9000 (default: any).
    #[arg(long, value_name = "PORTS")]
    pub allow_ports: Option<String>,

    /// Allowed destinations: names, .domains, addresses, CIDRs (comma-separated; repeatable).
    #[arg(long, value_name = "LIST")]
    pub allow: Vec<String>,

    /// Denied destinations (deny wins over allow; repeatable).
    #[arg(long, value_name = "LIST")]
    pub deny: Vec<String>,

    /// Allow loopback, private and link-local destinations when listening beyond loopback.
    #[arg(long)]
    pub allow_private: bool,

    /// Run without authentication on a non-loopback address (an open proxy).
    #[arg(long)]
    pub open: bool,

    /// Most tunnels at once; more get 503 with Retry-After.
    #[arg(long, value_name = "N")]
    pub max_tunnels: Option<usize>,

    /// Most tunnels per client address.
    #[arg(long, value_name = "N")]
    pub max_tunnels_per_client: Option<usize>,

    /// Most tunnels per user.
    #[arg(long, value_name = "N")]
    pub max_tunnels_per_user: Option<usize>,

    /// Seconds a client has to send its request head (then 408; default 10).
    #[arg(long, value_name = "SECS")]
    pub header_timeout: Option<f64>,

    /// Seconds to connect upstream (then 504; default 10).
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,

    /// Seconds a tunnel may stay idle (default: never closed for idleness).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<f64>,

    /// Seconds tunnels may run on after SIGTERM before they are closed (default 30).
    #[arg(long, value_name = "SECS")]
    pub grace: Option<f64>,

    /// What every server role shares: access log, admin listener, --check.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `wsvia gateway`; each overrides (or adds to) the same key of `--config`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// A TOML file with any of these settings, plus [[routes]] and [[certs]] tables.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address for HTTP(S) and WebSocket clients (repeatable; default 127.0.0.1:8080 when routes are given).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// A route [HOST]/PATH=UPSTREAM; UPSTREAM is ws://, wss://, http://, https://, tcp://HOST:PORT or tokens:FILE (repeatable; longest match wins).
    #[arg(long, value_name = "ROUTE")]
    pub route: Vec<String>,

    /// How --route entries relay WebSockets: frames (default: pings, size limit) or passthrough (bytes).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<wsvia_gateway::config::Mode>,

    /// Allowed Origin for --route entries (repeatable; default: any).
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,

    /// Bridge routes accept text messages (as bytes) instead of closing with 1003.
    #[arg(long)]
    pub allow_text: bool,

    /// Terminate TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Seconds between the gateway's pings to both sides (default 30; 0 disables).
    #[arg(long, value_name = "SECS")]
    pub ping_interval: Option<f64>,

    /// Seconds a side has to answer a ping before it is closed (default 10; the other side gets 1011).
    #[arg(long, value_name = "SECS")]
    pub ping_timeout: Option<f64>,

    /// Largest message relayed in frames mode (default 16 MiB; larger ones close with 1009).
    #[arg(long, value_name = "BYTES")]
    pub max_message_size: Option<usize>,

    /// Trust the CA certificates in this PEM file for wss:// and https:// upstreams.
    #[arg(long, value_name = "FILE")]
    pub upstream_cacert: Vec<PathBuf>,

    /// Do not check upstream certificates.
    #[arg(long)]
    pub upstream_insecure: bool,

    /// Seconds to connect to an upstream (default 10).
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,

    /// Seconds for a request head or a TLS ClientHello (default 10).
    #[arg(long, value_name = "SECS")]
    pub header_timeout: Option<f64>,

    /// Seconds sessions may run on after SIGTERM (default 30).
    #[arg(long, value_name = "SECS")]
    pub grace: Option<f64>,

    /// Address of the SNI router (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub sni_listen: Vec<SocketAddr>,

    /// An SNI route NAME=HOST:PORT; NAME may be *.example.com (repeatable).
    #[arg(long, value_name = "ROUTE")]
    pub sni_route: Vec<String>,

    /// Backend for server names no SNI route matches.
    #[arg(long, value_name = "HOST:PORT")]
    pub sni_default: Option<String>,

    /// Send a PROXY protocol v2 header to SNI backends, so they see the client address.
    #[arg(long)]
    pub sni_proxy_protocol: bool,

    /// What every server role shares: access log, admin listener, --check.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags every server role has.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Access-log format on stdout: plain or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<wsvia_proxy::config::LogFormat>,

    /// The admin listener: Prometheus /metrics, a live status page at /, /api/status.
    #[arg(long, visible_alias = "metrics", value_name = "ADDR")]
    pub admin: Option<SocketAddr>,

    /// htpasswd file with the admin listener's own users (required when it is not on loopback).
    #[arg(long, value_name = "FILE")]
    pub admin_auth_file: Option<PathBuf>,

    /// Check the configuration (file and flags, files they name included) and exit: 0 when
    /// it would run, 2 with the error otherwise.
    #[arg(long)]
    pub check: bool,
}

/// Flags of `wsvia echo`.
#[derive(Debug, Args)]
pub struct EchoArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:9001", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Largest message echoed, in bytes; larger ones close the connection with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = wsvia_echo::DEFAULT_MAX_MESSAGE_SIZE)]
    pub max_message_size: usize,

    /// Serve wss:// with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Decline permessage-deflate: echo uncompressed even to clients that offer it.
    #[arg(long)]
    pub no_compress: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connect_takes_curl_style_proxy_flags() {
        let cli = Cli::try_parse_from([
            "wsvia",
            "connect",
            "-x",
            "http://p:3128",
            "-U",
            "a:b",
            "--noproxy",
            "localhost",
            "-H",
            "X-A: 1",
            "-H",
            "X-B: 2",
            "-k",
            "wss://h/",
        ])
        .unwrap();
        let Command::Connect(args) = cli.command else {
            panic!("not connect")
        };
        assert_eq!(args.proxy.as_deref(), Some("http://p:3128"));
        assert_eq!(args.proxy_user.as_deref(), Some("a:b"));
        assert_eq!(args.header.len(), 2);
        assert!(args.insecure);
        assert!(!args.reconnect);
    }

    #[test]
    fn connect_takes_a_proxy_list_and_reconnect_flags() {
        let cli = Cli::try_parse_from([
            "wsvia",
            "connect",
            "-x",
            "http://a:1,socks5h://b:2,DIRECT",
            "--failed-proxy-skip",
            "5",
            "--reconnect",
            "ws://h/",
        ])
        .unwrap();
        let Command::Connect(args) = cli.command else {
            panic!("not connect")
        };
        assert_eq!(
            args.proxy.as_deref(),
            Some("http://a:1,socks5h://b:2,DIRECT")
        );
        assert_eq!(args.failed_proxy_skip, Some(5.0));
        assert!(args.reconnect);
    }

    #[test]
    fn echo_and_binary_conflict_and_tls_needs_both_files() {
        assert!(
            Cli::try_parse_from(["wsvia", "connect", "--echo", "--binary", "ws://h/"]).is_err()
        );
        assert!(Cli::try_parse_from(["wsvia", "echo", "--tls-cert", "c.pem"]).is_err());
        let cli = Cli::try_parse_from(["wsvia", "echo"]).unwrap();
        let Command::Echo(args) = cli.command else {
            panic!("not echo")
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:9001");
        assert!(!args.no_compress);
    }

    #[test]
    fn compression_flags_parse_and_window_bits_are_checked() {
        let cli = Cli::try_parse_from([
            "wsvia",
            "connect",
            "--compress",
            "--no-context-takeover",
            "--max-window-bits",
            "10",
            "ws://h/",
        ])
        .unwrap();
        let Command::Connect(args) = cli.command else {
            panic!("not connect")
        };
        assert!(args.compress && args.no_context_takeover);
        assert_eq!(args.max_window_bits, Some(10));
        for bits in ["8", "16", "x"] {
            let parsed = Cli::try_parse_from([
                "wsvia",
                "connect",
                "--compress",
                "--max-window-bits",
                bits,
                "ws://h/",
            ]);
            assert!(parsed.is_err(), "{bits}");
        }
    }
}
