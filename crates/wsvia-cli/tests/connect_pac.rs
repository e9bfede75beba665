//! `--proxy-pac FILE`: FindProxyForURL picks the route, helper functions included; its
//! answer is a list tried in order; `-v` names the PAC answer; a broken file is a usage
//! error. squid's access log shows which connections crossed it.

mod common;

use std::time::Duration;

use common::{assert_round_trip, connect, echo};
use wsvia_testkit::{Squid, SquidOptions};

fn pac(dir: &tempfile::TempDir, body: &str) -> String {
    let path = dir.path().join("proxy.pac");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn the_pac_answer_is_tried_in_order_and_explained() {
    let squid = Squid::start(&SquidOptions::default());
    let server = echo();
    let dead = wsvia_testkit::net::free_port();
    let dir = tempfile::tempdir().unwrap();
    let file = pac(
        &dir,
        &format!(
            "function FindProxyForURL(url, host) {{\n\
               if (shExpMatch(url, 'ws://*') && isInNet(host, '127.0.0.0', '255.0.0.0'))\n\
                 return 'PROXY 127.0.0.1:{dead}; PROXY {}; DIRECT';\n\
               return 'DIRECT';\n\
             }}",
            squid.addr
        ),
    );
    let url = format!("ws://{}/", server.addr);
    let run = assert_round_trip(&["-v", "--proxy-pac", &file, &url], &[]);
    assert!(
        run.stderr.contains("PAC file: FindProxyForURL answered"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{dead}")),
        "the dead proxy was tried first: {run:#?}"
    );
    assert!(squid.wait_for_log(&format!("CONNECT {}", server.addr), Duration::from_secs(5)));
}

#[test]
fn pac_direct_goes_direct_and_an_explicit_proxy_wins_over_pac() {
    let squid = Squid::start(&SquidOptions::default());
    let server = echo();
    let dir = tempfile::tempdir().unwrap();
    let file = pac(
        &dir,
        "function FindProxyForURL(url, host) { return dnsDomainIs(host, '.example') ? 'PROXY 127.0.0.1:9' : 'DIRECT'; }",
    );
    let url = format!("ws://{}/", server.addr);
    let run = assert_round_trip(&["-v", "--proxy-pac", &file, &url], &[]);
    assert!(run.stderr.contains("* direct"), "{run:#?}");
    let run = assert_round_trip(&["-v", "--proxy-pac", &file, "-x", &squid.url(), &url], &[]);
    assert!(run.stderr.contains("from --proxy"), "{run:#?}");
}

#[test]
fn a_broken_pac_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for body in [
        "function nope() {}",
        "function FindProxyForURL(url, host) { throw new Error('boom'); }",
    ] {
        let file = pac(&dir, body);
        let run = connect(&["--proxy-pac", &file, "ws://127.0.0.1:9/"], "", &[]);
        run.assert_code(2);
        assert!(run.stderr.contains("PAC"), "{run:#?}");
    }
}
