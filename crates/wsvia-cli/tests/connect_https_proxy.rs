//! `wsvia connect` through an `https://` proxy: squid's `https_port` (Debian's squid is
//! built with GnuTLS; `tls-cert=`/`tls-key=` work) with a certificate from a CA made in
//! the test for `127.0.0.1` and `localhost`. TLS to the proxy, CONNECT inside it, and for
//! wss:// TLS to the server inside that (TLS in TLS).

mod common;

use common::{assert_round_trip, ca_and_localhost_cert, connect, echo, echo_tls};
use wsvia_testkit::{Squid, SquidOptions};

fn https_squid(cert: &wsvia_testkit::ca::ServerCert) -> Squid {
    Squid::start(&SquidOptions {
        https: Some(cert.clone()),
        ..Default::default()
    })
}

#[test]
fn an_https_proxy_with_its_ca_carries_ws_and_wss_tls_in_tls() {
    let (ca, cert) = ca_and_localhost_cert();
    let squid = https_squid(&cert);
    assert!(squid.url().starts_with("https://127.0.0.1:"));
    let ws = echo();
    let wss = echo_tls(&cert);
    let ca = ca.ca_pem();
    let ca = ca.to_str().unwrap();
    for url in [
        format!("ws://{}/", ws.addr),
        format!("wss://localhost:{}/", wss.addr.port()),
    ] {
        let run = assert_round_trip(
            &[
                "-v",
                "--trace",
                "-x",
                &squid.url(),
                "--proxy-cacert",
                ca,
                "--cacert",
                ca,
                &url,
            ],
            &[],
        );
        assert!(
            run.stderr
                .contains("* TLS with proxy 127.0.0.1 established"),
            "{run:#?}"
        );
        assert!(
            run.stderr.contains("< HTTP/1.1 200 Connection established"),
            "{run:#?}"
        );
        if url.starts_with("wss:") {
            assert!(
                run.stderr
                    .contains("* TLS with server localhost established"),
                "{run:#?}"
            );
        }
    }
    assert!(squid.wait_for_log("CONNECT localhost:", std::time::Duration::from_secs(5)));
}

#[test]
fn an_https_proxy_by_name_with_basic_auth_from_the_url() {
    let (ca, cert) = ca_and_localhost_cert();
    let squid = Squid::start(&SquidOptions {
        https: Some(cert.clone()),
        basic_users: vec![("alice".into(), "secret".into())],
        ..Default::default()
    });
    let wss = echo_tls(&cert);
    let ca = ca.ca_pem();
    let ca = ca.to_str().unwrap();
    let proxy = format!("https://alice:secret@localhost:{}", squid.addr.port());
    let run = assert_round_trip(
        &[
            "-v",
            "--trace",
            "-x",
            &proxy,
            "--proxy-cacert",
            ca,
            "--cacert",
            ca,
            &format!("wss://localhost:{}/", wss.addr.port()),
        ],
        &[],
    );
    assert!(
        run.stderr
            .contains("* TLS with proxy localhost established"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("Proxy-Authorization: Basic <redacted>"),
        "{run:#?}"
    );
}

#[test]
fn an_https_proxy_of_an_unknown_issuer_exits_5_naming_proxy_cacert() {
    let (_ca, cert) = ca_and_localhost_cert();
    let squid = https_squid(&cert);
    let target = echo();
    let run = connect(
        &["-x", &squid.url(), &format!("ws://{}/", target.addr)],
        "",
        &[],
    );
    run.assert_code(5);
    assert!(
        run.stderr.contains("TLS with proxy https://127.0.0.1:"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("unknown issuer"), "{run:#?}");
    assert!(run.stderr.contains("--proxy-cacert"), "{run:#?}");
}

#[test]
fn proxy_insecure_skips_the_proxy_check_but_not_the_servers() {
    let (ca, cert) = ca_and_localhost_cert();
    let squid = https_squid(&cert);
    let wss = echo_tls(&cert);
    let url = format!("wss://localhost:{}/", wss.addr.port());
    let ca = ca.ca_pem();
    // The proxy's certificate is not checked; the server's still is, with its CA.
    assert_round_trip(
        &[
            "-x",
            &squid.url(),
            "--proxy-insecure",
            "--cacert",
            ca.to_str().unwrap(),
            &url,
        ],
        &[],
    );
    // Without the server's CA, the server's check fails (11), not the proxy's (5).
    let run = connect(&["-x", &squid.url(), "--proxy-insecure", &url], "", &[]);
    run.assert_code(11);
    assert!(
        run.stderr.contains("TLS with server localhost failed"),
        "{run:#?}"
    );
}
