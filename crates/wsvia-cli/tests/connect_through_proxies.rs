//! `wsvia connect` through real squid and tinyproxy, to `wsvia echo` and to a Python
//! `websockets` echo server, over ws:// and wss:// (a CA made in the test).

mod common;

use common::Host;
use wsvia_testkit::{Squid, SquidOptions, Tinyproxy, TinyproxyOptions};

/// A round trip to every target with `proxy_args` (and `--trace`); the runs, in order.
fn carry_all(proxy_args: &[&str]) -> Vec<wsvia_testkit::Run> {
    let mut args = proxy_args.to_vec();
    args.push("--trace");
    common::carry_all(Host::Address, &args)
        .into_iter()
        .map(|(_, run)| run)
        .collect()
}

fn user(name: &str, pass: &str) -> Vec<(String, String)> {
    vec![(name.to_owned(), pass.to_owned())]
}

#[test]
fn squid_without_auth_carries_ws_and_wss() {
    let squid = Squid::start(&SquidOptions::default());
    for run in carry_all(&["-x", &squid.url()]) {
        assert!(
            run.stderr.contains("< HTTP/1.1 200 Connection established"),
            "{run:#?}"
        );
    }
    assert!(squid.wait_for_log("CONNECT 127.0.0.1:", std::time::Duration::from_secs(5)));
}

#[test]
fn squid_with_basic_auth_accepts_credentials_from_the_url_sent_up_front() {
    let squid = Squid::start(&SquidOptions {
        basic_users: user("alice", "s3cr3t:x"),
        ..Default::default()
    });
    // A ':' in the password is percent-encoded in the URL.
    for run in carry_all(&["-x", &squid.url_with("alice", "s3cr3t%3Ax")]) {
        assert!(
            !run.stderr.contains("< HTTP/1.1 407"),
            "Basic was not sent up front: {run:#?}"
        );
        assert!(run.stderr.contains("Proxy-Authorization: Basic <redacted>"));
    }
}

#[test]
fn squid_407_keeps_the_connection_and_the_retry_reuses_it() {
    let squid = Squid::start(&SquidOptions {
        basic_users: user("alice", "secret"),
        ..Default::default()
    });
    let proxy = squid.url();
    for run in carry_all(&["-x", &proxy, "-U", "alice:secret", "--proxy-anyauth", "-v"]) {
        assert!(run.stderr.contains("< HTTP/1.1 407"), "{run:#?}");
        assert!(
            run.stderr
                .contains("answering the 407 on the same connection"),
            "{run:#?}"
        );
        assert_eq!(
            run.stderr.matches("connected to proxy").count(),
            1,
            "{run:#?}"
        );
    }
}

#[test]
fn squid_digest_auth_is_answered_when_offered() {
    let squid = Squid::start(&SquidOptions {
        digest_users: user("carol", "d1gest"),
        ..Default::default()
    });
    for run in carry_all(&["-x", &squid.url(), "-U", "carol:d1gest", "--proxy-anyauth"]) {
        assert!(
            run.stderr
                .contains("Proxy-Authorization: Digest <redacted>"),
            "{run:#?}"
        );
    }
}

#[test]
fn squid_ntlm_runs_the_three_message_exchange_on_one_connection() {
    // squid's ntlm_fake_auth parses every message and accepts any user; the NTLMv2
    // computation itself is checked against MS-NLMP's vectors in the library's unit tests.
    let squid = Squid::start(&SquidOptions {
        ntlm_fake: true,
        basic_users: user("alice", "secret"),
        ..Default::default()
    });
    for run in carry_all(&["-x", &squid.url(), "-U", "CORP\\alice:secret", "-v"]) {
        assert!(
            run.stderr.contains("answering the proxy's NTLM challenge"),
            "{run:#?}"
        );
        assert_eq!(
            run.stderr
                .matches("> Proxy-Authorization: NTLM <redacted>")
                .count(),
            2,
            "{run:#?}"
        );
        assert_eq!(
            run.stderr.matches("connected to proxy").count(),
            1,
            "one connection: {run:#?}"
        );
    }
    assert!(
        squid.wait_for_log("alice", std::time::Duration::from_secs(5)),
        "{}",
        squid.access_log()
    );
}

#[test]
fn tinyproxy_http10_200_with_a_header_carries_ws_and_wss() {
    let tiny = Tinyproxy::start(&TinyproxyOptions::default());
    for run in carry_all(&["-x", &tiny.url()]) {
        assert!(
            run.stderr.contains("< HTTP/1.0 200 Connection established"),
            "{run:#?}"
        );
        assert!(run.stderr.contains("< Proxy-Agent: tinyproxy/"), "{run:#?}");
    }
}

#[test]
fn tinyproxy_with_auth_accepts_basic_sent_up_front() {
    let tiny = Tinyproxy::start(&TinyproxyOptions {
        basic_auth: Some(("bob".into(), "pw".into())),
    });
    carry_all(&["-x", &tiny.url(), "-U", "bob:pw"]);
}

#[test]
fn tinyproxy_407_closes_so_the_retry_opens_a_new_connection() {
    let tiny = Tinyproxy::start(&TinyproxyOptions {
        basic_auth: Some(("bob".into(), "pw".into())),
    });
    for run in carry_all(&["-x", &tiny.url(), "-U", "bob:pw", "--proxy-anyauth", "-v"]) {
        assert!(run.stderr.contains("< HTTP/1.0 407"), "{run:#?}");
        assert!(run.stderr.contains("opening a new one"), "{run:#?}");
        assert_eq!(
            run.stderr.matches("connected to proxy").count(),
            2,
            "{run:#?}"
        );
    }
}
