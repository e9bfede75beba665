//! Proxy failover: `--proxy a,b,DIRECT` (or a list in a proxy variable) is tried in order
//! until one reaches the server; a proxy's failure moves on, its answer (403, 407) does
//! not; `-v` says where the list came from, what was tried and why each failed. Real
//! squid and microsocks; dead proxies are loopback ports nothing listens on.

mod common;

use std::time::Duration;

use common::{assert_round_trip, connect, echo};
use wsvia_testkit::{Microsocks, MicrosocksOptions, Squid, SquidOptions};

fn dead_proxy(scheme: &str) -> String {
    format!("{scheme}://127.0.0.1:{}", wsvia_testkit::net::free_port())
}

#[test]
fn a_dead_proxy_first_then_squid_connects_and_v_lists_both_attempts() {
    let squid = Squid::start(&SquidOptions::default());
    let target = echo();
    let url = format!("ws://{}/", target.addr);
    let dead = dead_proxy("http");
    let list = format!("{dead},{}", squid.url());
    let run = assert_round_trip(&["-v", "-x", &list, &url], &[]);
    let expected = [
        format!(
            "* 2 routes to try in order: {dead}, {} (proxy from --proxy)",
            squid.url()
        ),
        format!("* trying {dead} (1 of 2)"),
        format!("* {dead} failed: proxy {dead} is unreachable"),
        "; trying the next".to_owned(),
        format!("* trying {} (2 of 2)", squid.url()),
        format!("* reached the server through {}", squid.url()),
    ];
    let mut from = 0;
    for line in &expected {
        let at = run.stderr[from..]
            .find(line.as_str())
            .unwrap_or_else(|| panic!("{line:?} missing or out of order: {run:#?}"));
        from += at + line.len();
    }
    assert!(squid.wait_for_log(
        &format!("CONNECT 127.0.0.1:{}", target.addr.port()),
        Duration::from_secs(5)
    ));
}

#[test]
fn a_list_in_a_proxy_variable_fails_over_too_and_names_the_variable() {
    let socks = Microsocks::start(&MicrosocksOptions::default());
    let target = echo();
    let list = format!("{},{}", dead_proxy("socks5h"), socks.url("socks5h"));
    let run = assert_round_trip(
        &["-v", &format!("ws://localhost:{}/", target.addr.port())],
        &[("http_proxy", &list)],
    );
    assert!(
        run.stderr
            .contains("(proxy from environment variable http_proxy)"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(&format!(
            "reached the server through {}",
            socks.url("socks5h")
        )),
        "{run:#?}"
    );
}

#[test]
fn direct_in_the_list_means_no_proxy() {
    let target = echo();
    let run = assert_round_trip(
        &[
            "-v",
            "-x",
            &format!("{},DIRECT", dead_proxy("http")),
            &format!("ws://{}/", target.addr),
        ],
        &[],
    );
    assert!(run.stderr.contains("* trying DIRECT (2 of 2)"), "{run:#?}");
    assert!(
        run.stderr.contains("* reached the server directly"),
        "{run:#?}"
    );
}

#[test]
fn a_403_is_an_answer_the_next_proxy_is_not_asked() {
    let denying = Squid::start(&SquidOptions {
        deny_all: true,
        ..Default::default()
    });
    let other = Squid::start(&SquidOptions::default());
    let target = echo();
    let run = connect(
        &[
            "-v",
            "-x",
            &format!("{},{}", denying.url(), other.url()),
            &format!("ws://{}/", target.addr),
        ],
        "",
        &[],
    );
    run.assert_code(8);
    assert!(run.stderr.contains("403 Forbidden"), "{run:#?}");
    assert!(
        run.stderr
            .contains("not trying others: that is the proxy's answer"),
        "{run:#?}"
    );
    assert!(
        !run.stderr.contains(&format!("trying {}", other.url())),
        "{run:#?}"
    );
    assert!(!other.wait_for_log("CONNECT", Duration::from_secs(1)));
}

#[test]
fn when_every_route_fails_the_error_lists_each_and_exits_with_the_last_code() {
    let squid = Squid::start(&SquidOptions::default());
    let dead_http = dead_proxy("http");
    let dead_socks = dead_proxy("socks5");
    // squid answers 503 for a server that is down: a failure, so the list goes on.
    let down = format!("ws://127.0.0.1:{}/", wsvia_testkit::net::free_port());
    let run = connect(
        &[
            "-x",
            &format!("{dead_http},{dead_socks},{}", squid.url()),
            &down,
        ],
        "",
        &[],
    );
    run.assert_code(8);
    for line in [
        "no route to the server worked; tried 3 in order:".to_owned(),
        format!("  1. {dead_http}: proxy {dead_http} is unreachable"),
        format!("  2. {dead_socks}: proxy {dead_socks} is unreachable"),
        format!(
            "  3. {}: proxy {} refused the tunnel: 503",
            squid.url(),
            squid.url()
        ),
    ] {
        assert!(run.stderr.contains(&line), "{line:?}: {run:#?}");
    }
}

#[test]
fn a_failed_proxy_is_tried_last_when_reconnecting() {
    let squid = Squid::start(&SquidOptions::default());
    let mut server = echo();
    let port = server.addr.port();
    let dead = dead_proxy("http");
    let mut client = wsvia_testkit::Session::start(
        common::wsvia(),
        &[
            "connect",
            "-v",
            "--reconnect",
            "-x",
            &format!("{dead},{}", squid.url()),
            &format!("ws://127.0.0.1:{port}/"),
        ],
        &[],
    );
    let limit = Duration::from_secs(20);
    client.type_line("one");
    assert!(client.wait_for_stdout("one\n", limit), "{client:#?}");
    server.process().signal("KILL");
    assert!(
        client.wait_for_stderr(&format!("* {dead} failed 0 s ago: trying it last"), limit),
        "{client:#?}"
    );
    let _server = wsvia_testkit::WsviaProcess::start(
        common::wsvia(),
        &["echo", "--listen", &format!("127.0.0.1:{port}")],
    );
    client.type_line("two");
    assert!(client.wait_for_stdout("two\n", limit), "{client:#?}");
    client.end_input();
    assert_eq!(client.wait(limit), Some(0), "{client:#?}");
    let reconnect = client.stderr();
    let reconnect = &reconnect[reconnect.find("connection lost").unwrap_or(0)..];
    assert!(
        reconnect.contains(&format!("* trying {} (1 of 2)", squid.url())),
        "{reconnect}"
    );
}
