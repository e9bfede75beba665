//! SOCKS5 (RFC 1928) with username/password (RFC 1929): ask a SOCKS proxy for a
//! connection to the server.
//!
//! The handshake bytes are tokio-socks's (the SOCKS client reqwest uses); it runs over
//! the stream `dial` opens, so the source address, the deadline and `-v` work as for
//! HTTP proxies. This module decides what to ask for — the name for `socks5h://`, an
//! address resolved here for `socks5://`, trying the next address when the proxy
//! cannot reach one — and turns tokio-socks errors into [`Error`]s a user can act on.
//! HTTP CONNECT lives in `tunnel`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use tokio_socks::TargetAddr;
use tokio_socks::tcp::Socks5Stream;
use wsvia_core::Credentials;

use crate::error::{Error, Peer};
use crate::observe::{Event, Observer};
use crate::stream::Stream;

/// What to ask the SOCKS proxy for.
pub(crate) struct SocksRequest<'a> {
    /// The proxy, redacted, for messages.
    pub(crate) proxy_label: &'a str,
    /// The server's host name or IP address (IPv6 without brackets).
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// `socks5h://`: send the name and let the proxy resolve it.
    pub(crate) remote_dns: bool,
    pub(crate) credentials: Option<&'a Credentials>,
    pub(crate) observer: Option<&'a dyn Observer>,
}

/// Open a connection to the server through the SOCKS5 proxy `dial` connects to.
///
/// With `socks5://` and a name, the name is resolved here and each address is asked
/// for in turn (on a new proxy connection) while the proxy answers that it cannot
/// reach it (network or host unreachable, connection refused).
pub(crate) async fn open<F, Fut>(req: &SocksRequest<'_>, mut dial: F) -> Result<Stream, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Stream, Error>>,
{
    check_credentials(req.credentials)?;
    let targets: Vec<TargetAddr<'static>> = if let Ok(ip) = req.host.parse::<IpAddr>() {
        vec![TargetAddr::Ip(SocketAddr::new(ip, req.port))]
    } else if req.remote_dns {
        vec![TargetAddr::Domain(req.host.to_owned().into(), req.port)]
    } else {
        resolve(req.host, req.port).await?
    };
    let mut last = None;
    let count = targets.len();
    for (i, target) in targets.into_iter().enumerate() {
        if let Some(error) = &last {
            emit(
                req,
                &Event::Retrying {
                    why: format!("{error}; asking for the next address"),
                },
            );
        }
        let stream = dial().await?;
        let shown = target.to_string();
        emit(
            req,
            &Event::SocksConnect {
                target: &shown,
                by_name: matches!(target, TargetAddr::Domain(..)),
                password: req.credentials.is_some(),
            },
        );
        match handshake(stream, target, req).await {
            Ok(stream) => return Ok(stream),
            Err(e @ Error::SocksRefused { code, .. })
                if matches!(code, 0x03..=0x05) && i + 1 < count =>
            {
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Resolve {
        peer: Peer::Target,
        host: req.host.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address"),
    }))
}

/// RFC 1929 carries each of user name and password in 1 to 255 bytes.
fn check_credentials(credentials: Option<&Credentials>) -> Result<(), Error> {
    let Some(c) = credentials else {
        return Ok(());
    };
    for (what, value) in [("user name", &c.username), ("password", &c.password)] {
        if value.is_empty() || value.len() > 255 {
            return Err(Error::InvalidCredentials {
                reason: format!(
                    "a SOCKS5 {what} must be 1 to 255 bytes long (RFC 1929), this one is {}",
                    value.len()
                ),
            });
        }
    }
    Ok(())
}

async fn resolve(host: &str, port: u16) -> Result<Vec<TargetAddr<'static>>, Error> {
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| Error::Resolve {
            peer: Peer::Target,
            host: host.to_owned(),
            source,
        })?;
    Ok(addrs.map(TargetAddr::Ip).collect())
}

async fn handshake(
    stream: Stream,
    target: TargetAddr<'static>,
    req: &SocksRequest<'_>,
) -> Result<Stream, Error> {
    let shown = target.to_string();
    let result = match req.credentials {
        Some(c) => {
            Socks5Stream::connect_with_password_and_socket(stream, target, &c.username, &c.password)
                .await
        }
        None => Socks5Stream::connect_with_socket(stream, target).await,
    };
    // tokio-socks reads the reply exactly, so nothing of the tunnel is left behind.
    result
        .map(Socks5Stream::into_inner)
        .map_err(|e| explain(e, req, &shown))
}

/// Turn a tokio-socks error into ours.
fn explain(e: tokio_socks::Error, req: &SocksRequest<'_>, target: &str) -> Error {
    use tokio_socks::Error as S;
    let proxy = req.proxy_label.to_owned();
    let refused = |code: u8| Error::SocksRefused {
        proxy: proxy.clone(),
        target: target.to_owned(),
        code,
    };
    let protocol = |detail: String| Error::ProxyProtocol {
        proxy: proxy.clone(),
        detail,
    };
    match e {
        S::GeneralSocksServerFailure => refused(0x01),
        S::ConnectionNotAllowedByRuleset => refused(0x02),
        S::NetworkUnreachable => refused(0x03),
        S::HostUnreachable => refused(0x04),
        S::ConnectionRefused => refused(0x05),
        S::TtlExpired => refused(0x06),
        S::CommandNotSupported => refused(0x07),
        S::AddressTypeNotSupported => refused(0x08),
        S::NoAcceptableAuthMethods => Error::SocksAuthRequired {
            proxy,
            offered_password: req.credentials.is_some(),
        },
        // We offered no authentication and it picked username/password anyway.
        S::AuthorizationRequired => Error::SocksAuthRequired {
            proxy,
            offered_password: false,
        },
        S::PasswordAuthFailure(_) => Error::ProxyAuthRejected {
            proxy,
            user: req
                .credentials
                .map(|c| c.username.clone())
                .unwrap_or_default(),
            scheme: "SOCKS5 username/password".into(),
        },
        S::InvalidAuthValues(why) => Error::InvalidCredentials {
            reason: why.to_owned(),
        },
        S::InvalidTargetAddress(why) => Error::InvalidUrl {
            url: target.to_owned(),
            reason: why.to_owned(),
        },
        S::Io(io) => protocol(match io.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe => {
                "it closed the connection during the SOCKS5 handshake (is it a SOCKS5 proxy?)"
                    .to_owned()
            }
            _ => format!("I/O error during the SOCKS5 handshake: {io}"),
        }),
        S::InvalidResponseVersion => {
            protocol("its answer is not SOCKS5 (is it an HTTP proxy? then use http://)".to_owned())
        }
        other => protocol(format!("bad SOCKS5 answer: {other}")),
    }
}

fn emit(req: &SocksRequest<'_>, event: &Event<'_>) {
    if let Some(observer) = req.observer {
        observer.on_event(event);
    }
}

#[cfg(test)]
mod tests {
    //! Exact wire bytes against a scripted SOCKS5 proxy on loopback: the greeting, the
    //! RFC 1929 sub-negotiation and the CONNECT request we send, and every reply code.

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A proxy that runs `script` on the first connection, returning what it read.
    async fn fake_socks<F, Fut>(script: F) -> (u16, tokio::task::JoinHandle<Vec<u8>>)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<u8>> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            script(sock).await
        });
        (port, task)
    }

    async fn read_n(sock: &mut TcpStream, n: usize, seen: &mut Vec<u8>) {
        let mut buf = vec![0u8; n];
        sock.read_exact(&mut buf).await.unwrap();
        seen.extend_from_slice(&buf);
    }

    async fn run(
        port: u16,
        host: &str,
        remote_dns: bool,
        creds: Option<&Credentials>,
    ) -> Result<Stream, Error> {
        let req = SocksRequest {
            proxy_label: "socks5://127.0.0.1",
            host,
            port: 9,
            remote_dns,
            credentials: creds,
            observer: None,
        };
        open(&req, || async move {
            Ok(Stream::new(
                TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
            ))
        })
        .await
    }

    #[tokio::test]
    async fn socks5h_sends_the_name_and_password_and_keeps_the_tunnel_bytes() {
        let (port, task) = fake_socks(|mut sock| async move {
            let mut seen = Vec::new();
            read_n(&mut sock, 4, &mut seen).await; // 05 02 00 02
            sock.write_all(&[0x05, 0x02]).await.unwrap();
            read_n(&mut sock, 1 + 1 + 5 + 1 + 2, &mut seen).await; // 01 05 alice 02 pw
            sock.write_all(&[0x01, 0x00]).await.unwrap();
            read_n(&mut sock, 4 + 1 + 11 + 2, &mut seen).await;
            // Success, bound to 10.0.0.1:4660, and the first tunnel bytes in the same write.
            sock.write_all(&[5, 0, 0, 1, 10, 0, 0, 1, 0x12, 0x34, b'h', b'i'])
                .await
                .unwrap();
            seen
        })
        .await;
        let creds = Credentials::new("alice", "pw");
        let mut stream = run(port, "example.com", true, Some(&creds)).await.unwrap();
        let mut hi = [0u8; 2];
        stream.read_exact(&mut hi).await.unwrap();
        assert_eq!(&hi, b"hi");
        let mut expected = vec![5, 2, 0, 2, 1, 5];
        expected.extend_from_slice(b"alice");
        expected.extend_from_slice(&[2, b'p', b'w', 5, 1, 0, 3, 11]);
        expected.extend_from_slice(b"example.com");
        expected.extend_from_slice(&[0, 9]);
        assert_eq!(task.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn socks5_sends_an_ip_address_without_a_password() {
        let (port, task) = fake_socks(|mut sock| async move {
            let mut seen = Vec::new();
            read_n(&mut sock, 3, &mut seen).await; // 05 01 00
            sock.write_all(&[0x05, 0x00]).await.unwrap();
            read_n(&mut sock, 4 + 16 + 2, &mut seen).await;
            sock.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
                .await
                .unwrap();
            seen
        })
        .await;
        run(port, "::1", false, None).await.unwrap();
        let mut expected = vec![5, 1, 0, 5, 1, 0, 4];
        expected.extend_from_slice(&"::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        expected.extend_from_slice(&[0, 9]);
        assert_eq!(task.await.unwrap(), expected);
    }

    async fn reply(code: u8) -> Error {
        let (port, _task) = fake_socks(move |mut sock| async move {
            let mut seen = Vec::new();
            read_n(&mut sock, 3, &mut seen).await;
            sock.write_all(&[0x05, 0x00]).await.unwrap();
            read_n(&mut sock, 10, &mut seen).await;
            sock.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0])
                .await
                .unwrap();
            seen
        })
        .await;
        match run(port, "127.0.0.1", false, None).await {
            Ok(_) => panic!("reply {code} was taken for success"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn each_reply_code_has_its_own_message_and_failover_rule() {
        // (code, words in the message, fails over)
        let cases = [
            (0x01, "general SOCKS server failure", true),
            (0x02, "connection not allowed by ruleset", false),
            (0x03, "network unreachable", true),
            (0x04, "host unreachable", true),
            (0x05, "connection refused", true),
            (0x06, "TTL expired", true),
            (0x07, "command not supported", true),
            (0x08, "address type not supported", true),
        ];
        for (code, words, fails_over) in cases {
            let e = reply(code).await;
            assert!(
                matches!(e, Error::SocksRefused { code: c, .. } if c == code),
                "{code}: {e:?}"
            );
            assert!(e.to_string().contains(words), "{code}: {e}");
            assert!(e.to_string().contains("127.0.0.1:9"), "{code}: {e}");
            assert_eq!(e.fails_over(), fails_over, "{code}");
            assert_eq!(e.kind(), crate::ErrorKind::ProxyRefused, "{code}");
        }
    }

    #[tokio::test]
    async fn no_acceptable_method_and_a_rejected_password_are_auth_errors() {
        let (port, _t) = fake_socks(|mut sock| async move {
            let mut seen = Vec::new();
            read_n(&mut sock, 3, &mut seen).await;
            sock.write_all(&[0x05, 0xFF]).await.unwrap();
            seen
        })
        .await;
        let e = run(port, "127.0.0.1", false, None).await.err().unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::ProxyAuthRequired, "{e:?}");
        assert!(e.to_string().contains("--proxy-user"), "{e}");

        let (port, _t) = fake_socks(|mut sock| async move {
            let mut seen = Vec::new();
            read_n(&mut sock, 4, &mut seen).await;
            sock.write_all(&[0x05, 0x02]).await.unwrap();
            read_n(&mut sock, 1 + 1 + 3 + 1 + 5, &mut seen).await;
            sock.write_all(&[0x01, 0x01]).await.unwrap();
            seen
        })
        .await;
        let creds = Credentials::new("bob", "wrong");
        let e = run(port, "127.0.0.1", false, Some(&creds))
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::ProxyAuthRejected, "{e:?}");
        assert!(!e.to_string().contains("wrong"), "{e}");
        assert!(!e.fails_over());
    }

    #[tokio::test]
    async fn an_http_proxy_or_a_closed_connection_is_a_protocol_error() {
        for answer in [&b"HTTP/1.1 400 Bad Request\r\n\r\n"[..], &b""[..]] {
            let (port, _t) = fake_socks(move |mut sock| async move {
                let mut seen = Vec::new();
                read_n(&mut sock, 3, &mut seen).await;
                sock.write_all(answer).await.unwrap();
                seen
            })
            .await;
            let e = run(port, "127.0.0.1", false, None).await.err().unwrap();
            assert_eq!(e.kind(), crate::ErrorKind::ProxyProtocol, "{e:?}");
            assert!(e.fails_over());
        }
    }

    #[tokio::test]
    async fn credentials_rfc_1929_cannot_carry_are_refused_before_connecting() {
        let long = "x".repeat(256);
        for creds in [Credentials::new("", "pw"), Credentials::new("u", &long)] {
            let req = SocksRequest {
                proxy_label: "socks5://p",
                host: "127.0.0.1",
                port: 9,
                remote_dns: false,
                credentials: Some(&creds),
                observer: None,
            };
            let e = open(&req, || async { panic!("must not dial") })
                .await
                .err()
                .unwrap();
            assert_eq!(e.kind(), crate::ErrorKind::Usage, "{e:?}");
        }
    }
}
