//! `wsvia bench` against real `wsvia echo` and `wsvia proxy` processes: the echo table
//! parses with traffic in it, direct and through the proxy, from several source
//! addresses; soak verifies every echo; a dead target fails the run. See: #6

mod common;

use std::time::Duration;

use common::wsvia;
use wsvia_bench::stats::{Table, parse_num};
use wsvia_testkit::{Run, WsviaProcess};

fn bench(args: &[&str]) -> Run {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    Run::new(wsvia(), &all, b"", &[], Duration::from_secs(60))
}

/// The one row of the table `wsvia bench` printed.
fn table(run: &Run) -> Table {
    let t = Table::parse_markdown(&run.stdout)
        .unwrap_or_else(|| panic!("no markdown table in the output: {run:#?}"));
    assert_eq!(t.rows.len(), 1, "{run:#?}");
    t
}

fn number(t: &Table, column: &str) -> f64 {
    let cell = t
        .cell(0, column)
        .unwrap_or_else(|| panic!("no {column:?} column in {t:?}"));
    parse_num(cell).unwrap_or_else(|| panic!("{column} = {cell:?} is not a number"))
}

#[test]
fn echo_runs_direct_and_through_wsvia_proxy() {
    let echo = WsviaProcess::start(wsvia(), &["echo", "--listen", "127.0.0.1:0"]);
    let proxy = WsviaProcess::start(wsvia(), &["proxy", "--listen", "127.0.0.1:0"]);
    let url = format!("ws://{}/", echo.addr);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("echo.json");
    let common = [
        "--connections",
        "20",
        "--duration",
        "2",
        "--warmup",
        "0.3",
        "--source-ips",
        "127.0.0.2-127.0.0.5",
    ];
    let mut direct_args = vec!["echo", url.as_str()];
    direct_args.extend(common);
    direct_args.extend(["--json", json.to_str().unwrap()]);
    let direct = bench(&direct_args);
    direct.assert_code(0);
    let t = table(&direct);
    assert!(number(&t, "msg/s") > 100.0, "{direct:#?}");
    assert!(number(&t, "p99 µs") > 0.0, "{direct:#?}");
    assert_eq!(number(&t, "errors"), 0.0);
    let saved = std::fs::read_to_string(&json).unwrap();
    let messages: u64 = saved
        .split("\"messages\": ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no message count in {saved}"));
    assert!(messages > 200, "{saved}");

    let proxy_url = proxy.url();
    let mut via_args = vec!["echo", url.as_str(), "--proxy", proxy_url.as_str()];
    via_args.extend(common);
    let via = bench(&via_args);
    via.assert_code(0);
    let t = table(&via);
    assert!(number(&t, "msg/s") > 100.0, "{via:#?}");
    assert!(
        t.cell(0, "target").unwrap().contains(&proxy_url),
        "the target names the proxy: {t:?}"
    );
    // The tunnels really went through the proxy, from the source addresses asked for.
    assert!(
        proxy.wait_for_stdout("127.0.0.3:", Duration::from_secs(5)),
        "access log: {}",
        proxy.stdout()
    );
}

#[test]
fn soak_verifies_every_echo_through_wsvia_proxy() {
    let echo = WsviaProcess::start(wsvia(), &["echo", "--listen", "127.0.0.1:0"]);
    let proxy = WsviaProcess::start(wsvia(), &["proxy", "--listen", "127.0.0.1:0"]);
    let url = format!("ws://{}/", echo.addr);
    let proxy_url = proxy.url();
    let run = bench(&[
        "soak",
        &url,
        "--proxy",
        &proxy_url,
        "--connections",
        "8",
        "--duration",
        "2",
        "--max-size",
        "200KiB",
    ]);
    run.assert_code(0);
    let t = table(&run);
    assert!(number(&t, "sent") > 100.0, "{run:#?}");
    assert_eq!(number(&t, "received"), number(&t, "sent"));
    for column in ["lost", "corrupted", "reordered", "duplicated", "errors"] {
        assert_eq!(number(&t, column), 0.0, "{column}: {run:#?}");
    }
    assert_eq!(t.cell(0, "verdict"), Some("ok"));
}

#[test]
fn a_target_that_is_down_fails_the_run() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/");
    let run = bench(&["echo", &url, "--duration", "0.5", "--warmup", "0"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("cannot open"), "{run:#?}");
    let soak = bench(&["soak", &url, "--duration", "0.5", "--connections", "2"]);
    assert_eq!(soak.code, Some(1), "{soak:#?}");
    assert_eq!(number(&table(&soak), "errors"), 2.0, "{soak:#?}");
}
