//! Proxy selection from environment variables and no_proxy, as curl reads them,
//! checked against a real squid: its access log shows which connections crossed it.

mod common;

use std::time::Duration;

use common::{assert_round_trip, ca_and_localhost_cert, echo, echo_tls};
use wsvia_testkit::{Squid, SquidOptions};

/// An address where no proxy listens: choosing it would fail the run.
fn dead_proxy() -> String {
    format!("http://127.0.0.1:{}", wsvia_testkit::net::free_port())
}

fn crossed(squid: &Squid, port: u16) -> bool {
    squid.wait_for_log(&format!("CONNECT 127.0.0.1:{port}"), Duration::from_secs(3))
        || squid.wait_for_log(
            &format!("CONNECT localhost:{port}"),
            Duration::from_millis(10),
        )
}

#[test]
fn wss_uses_https_proxy_in_either_case_and_wss_proxy_first() {
    let squid = Squid::start(&SquidOptions::default());
    let (ca, cert) = ca_and_localhost_cert();
    let server = echo_tls(&cert);
    let url = format!("wss://localhost:{}/", server.addr.port());
    let ca = ca.ca_pem();
    let args = ["-v", "--cacert", ca.to_str().unwrap(), url.as_str()];
    let dead = dead_proxy();
    for (env, var) in [
        (vec![("https_proxy", squid.url())], "https_proxy"),
        (vec![("HTTPS_PROXY", squid.url())], "HTTPS_PROXY"),
        (
            vec![("wss_proxy", squid.url()), ("https_proxy", dead.clone())],
            "wss_proxy",
        ),
        (
            vec![("all_proxy", squid.url()), ("http_proxy", dead.clone())],
            "all_proxy",
        ),
    ] {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = assert_round_trip(&args, &env);
        assert!(
            run.stderr.contains(&format!("variable {var}")),
            "{var}: {run:#?}"
        );
    }
    assert!(crossed(&squid, server.addr.port()));
}

#[test]
fn ws_uses_lowercase_http_proxy_and_ignores_uppercase_http_proxy() {
    let squid = Squid::start(&SquidOptions::default());
    let server = echo();
    let url = format!("ws://{}/", server.addr);
    let run = assert_round_trip(&["-v", &url], &[("HTTP_PROXY", &dead_proxy())]);
    assert!(run.stderr.contains("* direct"), "{run:#?}");
    assert!(!crossed(&squid, server.addr.port()));

    let run = assert_round_trip(&["-v", &url], &[("http_proxy", &squid.url())]);
    assert!(run.stderr.contains("variable http_proxy"), "{run:#?}");
    assert!(crossed(&squid, server.addr.port()));
}

#[test]
fn no_proxy_entries_send_matching_targets_direct() {
    let squid = Squid::start(&SquidOptions::default());
    let server = echo();
    let port = server.addr.port();
    let url = format!("ws://{}/", server.addr);
    for (var, list) in [
        ("no_proxy", "example.com,127.0.0.1"),
        ("NO_PROXY", "127.0.0.0/8"),
        ("no_proxy", "*"),
    ] {
        let run = assert_round_trip(&["-v", &url], &[("http_proxy", &squid.url()), (var, list)]);
        assert!(run.stderr.contains("* direct"), "{var}={list}: {run:#?}");
        assert!(
            run.stderr.contains("no_proxy entry") || run.stderr.contains("'*'"),
            "{run:#?}"
        );
    }
    assert!(
        !crossed(&squid, port),
        "no_proxy was ignored:\n{}",
        squid.access_log()
    );

    // A list that does not match leaves the proxy in place.
    assert_round_trip(
        &[&url],
        &[
            ("http_proxy", &squid.url()),
            ("no_proxy", "localhost,.internal"),
        ],
    );
    assert!(crossed(&squid, port));
}

#[test]
fn flags_override_the_environment() {
    let squid = Squid::start(&SquidOptions::default());
    let server = echo();
    let url = format!("ws://{}/", server.addr);
    let dead = dead_proxy();
    // --proxy beats http_proxy; --noproxy beats no_proxy; -x "" disables proxies.
    let run = assert_round_trip(&["-v", "-x", &squid.url(), &url], &[("http_proxy", &dead)]);
    assert!(run.stderr.contains("from --proxy"), "{run:#?}");
    let run = assert_round_trip(
        &["-v", "--noproxy", "127.0.0.1", &url],
        &[("http_proxy", &dead), ("no_proxy", "")],
    );
    assert!(run.stderr.contains("* direct"), "{run:#?}");
    let run = assert_round_trip(&["-v", "-x", "", &url], &[("http_proxy", &dead)]);
    assert!(run.stderr.contains("* direct"), "{run:#?}");
}
