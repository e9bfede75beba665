//! `wsvia connect` through a real SOCKS5 proxy (microsocks): `socks5://` (the name is
//! resolved here, an address is sent) and `socks5h://` (the name is sent), without and
//! with username/password (RFC 1929), to `wsvia echo` and a Python `websockets` echo
//! server, over ws:// and wss:// (TLS to the server inside the SOCKS tunnel). Names are
//! `localhost` or IP literals only: nothing asks a DNS server.

mod common;

use common::{Host, connect, echo};
use wsvia_testkit::{Microsocks, MicrosocksOptions, Run};

/// A round trip to every target, all reached by the name `localhost`, with `proxy_args`.
fn carry_all(proxy_args: &[&str]) -> Vec<(String, Run)> {
    let mut args = proxy_args.to_vec();
    args.push("-v");
    common::carry_all(Host::Name, &args)
}

fn port_of(url: &str) -> &str {
    url.rsplit(':').next().unwrap().split('/').next().unwrap()
}

fn microsocks_with_auth() -> Microsocks {
    Microsocks::start(&MicrosocksOptions {
        auth: Some(("alice".into(), "s3cr3t".into())),
    })
}

#[test]
fn socks5_resolves_the_name_here_and_sends_an_address() {
    let socks = Microsocks::start(&MicrosocksOptions::default());
    for (url, run) in carry_all(&["-x", &socks.url("socks5")]) {
        let sent = format!(
            "* SOCKS5 CONNECT 127.0.0.1:{} (address resolved here)",
            port_of(&url)
        );
        assert!(run.stderr.contains(&sent), "{url}: {run:#?}");
        assert!(
            run.stderr.contains(&format!(
                "reached the server through {}",
                socks.url("socks5")
            )),
            "{run:#?}"
        );
    }
}

#[test]
fn socks5h_sends_the_name_for_the_proxy_to_resolve() {
    let socks = Microsocks::start(&MicrosocksOptions::default());
    // The proxy itself named `localhost` too: resolved here, from /etc/hosts.
    let proxy = format!("socks5h://localhost:{}", socks.addr.port());
    for (url, run) in carry_all(&["-x", &proxy]) {
        let sent = format!(
            "* SOCKS5 CONNECT localhost:{} (the proxy resolves the name)",
            port_of(&url)
        );
        assert!(run.stderr.contains(&sent), "{url}: {run:#?}");
        if url.starts_with("wss:") {
            assert!(
                run.stderr
                    .contains("* TLS with server localhost established"),
                "{run:#?}"
            );
        }
    }
}

#[test]
fn socks5_and_socks5h_authenticate_with_credentials_from_the_url_or_u() {
    let socks = microsocks_with_auth();
    for scheme in ["socks5", "socks5h"] {
        let in_url = socks.url_with(scheme, "alice", "s3cr3t");
        for (_, run) in carry_all(&["-x", &in_url]) {
            assert!(
                run.stderr.contains("offering username/password"),
                "{run:#?}"
            );
            assert!(!run.stderr.contains("s3cr3t"), "password leaked: {run:#?}");
        }
        let bare = socks.url(scheme);
        carry_all(&["-x", &bare, "-U", "alice:s3cr3t"]);
    }
}

#[test]
fn a_wrong_socks_password_exits_7_without_showing_it() {
    let socks = microsocks_with_auth();
    let target = echo();
    let url = format!("ws://localhost:{}/", target.addr.port());
    for scheme in ["socks5", "socks5h"] {
        let run = connect(
            &["-x", &socks.url_with(scheme, "alice", "wrong-pw"), &url],
            "",
            &[],
        );
        run.assert_code(7);
        assert!(
            run.stderr
                .contains("rejected the credentials of user \"alice\" (SOCKS5 username/password)"),
            "{run:#?}"
        );
        assert!(
            !run.stderr.contains("wrong-pw"),
            "password leaked: {run:#?}"
        );
    }
}

#[test]
fn no_credentials_for_an_authenticating_socks_proxy_exits_6() {
    let socks = microsocks_with_auth();
    let target = echo();
    let run = connect(
        &[
            "-x",
            &socks.url("socks5h"),
            &format!("ws://localhost:{}/", target.addr.port()),
        ],
        "",
        &[],
    );
    run.assert_code(6);
    assert!(run.stderr.contains("requires authentication"), "{run:#?}");
    assert!(run.stderr.contains("--proxy-user"), "{run:#?}");
}

#[test]
fn a_server_the_socks_proxy_cannot_reach_exits_8_connection_refused() {
    let socks = Microsocks::start(&MicrosocksOptions::default());
    let dead = wsvia_testkit::net::free_port();
    for scheme in ["socks5", "socks5h"] {
        let run = connect(
            &["-x", &socks.url(scheme), &format!("ws://localhost:{dead}/")],
            "",
            &[],
        );
        run.assert_code(8);
        assert!(
            run.stderr.contains(&format!(
                "could not connect to {}:{dead}: connection refused (0x05",
                if scheme == "socks5" {
                    "127.0.0.1"
                } else {
                    "localhost"
                }
            )),
            "{run:#?}"
        );
    }
}

#[test]
fn an_http_proxy_named_as_socks_is_a_protocol_error_exit_9() {
    // A wsvia echo server speaks HTTP: its answer to a SOCKS greeting is not SOCKS.
    let not_socks = echo();
    let target = echo();
    let run = connect(
        &[
            "-x",
            &format!("socks5://{}", not_socks.addr),
            &format!("ws://{}/", target.addr),
        ],
        "",
        &[],
    );
    run.assert_code(9);
    assert!(run.stderr.contains("SOCKS5"), "{run:#?}");
}
