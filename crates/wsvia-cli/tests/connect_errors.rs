//! Each failure of `wsvia connect`, provoked for real, with its exit code and message.
//! The codes are the table in `wsvia connect --help` (src/exit_code.rs).

mod common;

use std::net::TcpListener;

use common::{ca_and_localhost_cert, connect, echo, echo_tls};
use wsvia_testkit::{PythonEcho, Squid, SquidOptions, Tinyproxy, TinyproxyOptions};

fn basic_squid() -> Squid {
    Squid::start(&SquidOptions {
        basic_users: vec![("alice".into(), "secret".into())],
        ..Default::default()
    })
}

/// A port nothing listens on (bound, read, released).
fn dead_port() -> u16 {
    wsvia_testkit::net::free_port()
}

#[test]
fn no_credentials_for_an_auth_proxy_exits_6_naming_the_scheme_offered() {
    let squid = basic_squid();
    let target = echo();
    let run = connect(
        &["-x", &squid.url(), &format!("ws://{}/", target.addr)],
        "",
        &[],
    );
    run.assert_code(6);
    assert!(run.stderr.contains("requires authentication"), "{run:#?}");
    assert!(
        run.stderr.contains("Basic realm=\"wsvia-test\""),
        "{run:#?}"
    );
    assert!(run.stderr.contains("--proxy-user"), "{run:#?}");
}

#[test]
fn a_wrong_password_exits_7_on_squid_and_tinyproxy() {
    let squid = basic_squid();
    let tiny = Tinyproxy::start(&TinyproxyOptions {
        basic_auth: Some(("bob".into(), "pw".into())),
    });
    let target = echo();
    let url = format!("ws://{}/", target.addr);
    for (proxy, user) in [(squid.url(), "alice:wrong"), (tiny.url(), "bob:wrong")] {
        for extra in [&[][..], &["--proxy-anyauth"][..]] {
            let mut args = vec!["-x", proxy.as_str(), "-U", user];
            args.extend_from_slice(extra);
            args.push(&url);
            let run = connect(&args, "", &[]);
            run.assert_code(7);
            assert!(run.stderr.contains("rejected the credentials"), "{run:#?}");
            assert!(
                !run.stderr.contains("wrong"),
                "the password leaked: {run:#?}"
            );
        }
    }
}

#[test]
fn a_proxy_acl_that_denies_exits_8_with_403_and_squids_reason() {
    let squid = Squid::start(&SquidOptions {
        deny_all: true,
        ..Default::default()
    });
    let target = echo();
    let run = connect(
        &["-x", &squid.url(), &format!("ws://{}/", target.addr)],
        "",
        &[],
    );
    run.assert_code(8);
    assert!(
        run.stderr.contains("refused the tunnel: 403 Forbidden"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("ERR_ACCESS_DENIED"), "{run:#?}");
}

#[test]
fn a_target_that_is_down_exits_8_through_squid_and_10_direct() {
    let squid = Squid::start(&SquidOptions::default());
    let url = format!("ws://127.0.0.1:{}/", dead_port());
    let run = connect(&["-x", &squid.url(), &url], "", &[]);
    run.assert_code(8);
    assert!(run.stderr.contains("503"), "{run:#?}");
    assert!(run.stderr.contains("ERR_CONNECT_FAIL"), "{run:#?}");

    let run = connect(&[&url], "", &[]);
    run.assert_code(10);
    assert!(run.stderr.contains("is unreachable"), "{run:#?}");
}

#[test]
fn a_proxy_that_is_down_exits_4() {
    let proxy = format!("http://127.0.0.1:{}", dead_port());
    let run = connect(&["-x", &proxy, "ws://127.0.0.1:9/"], "", &[]);
    run.assert_code(4);
    assert!(run.stderr.contains("proxy http://127.0.0.1:"), "{run:#?}");
    assert!(run.stderr.contains("unreachable"), "{run:#?}");
}

#[test]
fn a_certificate_for_another_name_exits_11_through_a_proxy() {
    let squid = Squid::start(&SquidOptions::default());
    let (ca, _) = ca_and_localhost_cert();
    let other = ca.server_cert("other", &["other.example"]);
    let server = echo_tls(&other);
    let url = format!("wss://localhost:{}/", server.addr.port());
    let ca_pem = ca.ca_pem();
    let run = connect(
        &[
            "-x",
            &squid.url(),
            "--cacert",
            ca_pem.to_str().unwrap(),
            &url,
        ],
        "",
        &[],
    );
    run.assert_code(11);
    assert!(
        run.stderr.contains("not valid for the name \"localhost\""),
        "{run:#?}"
    );
}

#[test]
fn an_unknown_issuer_exits_11_and_insecure_gets_through() {
    let (_ca, cert) = ca_and_localhost_cert();
    let server = PythonEcho::start_tls(&cert.cert, &cert.key);
    let url = format!("wss://localhost:{}/", server.port);
    let run = connect(&[&url], "", &[]);
    run.assert_code(11);
    assert!(run.stderr.contains("unknown issuer"), "{run:#?}");
    let run = connect(&["-k", &url], "", &[]);
    run.assert_code(0);
}

#[test]
fn a_proxy_that_never_answers_times_out_in_the_tunnel_phase_with_exit_14() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", silent.local_addr().unwrap());
    let run = connect(
        &[
            "-x",
            &proxy,
            "--connect-timeout",
            "0.5",
            "ws://127.0.0.1:9/",
        ],
        "",
        &[],
    );
    run.assert_code(14);
    assert!(
        run.stderr
            .contains("timed out during proxy tunnel (CONNECT)"),
        "{run:#?}"
    );
}

#[test]
fn a_server_that_refuses_the_upgrade_exits_12_with_its_status() {
    // Python's own http.server, a real HTTP server that knows nothing of WebSocket.
    let dir = tempfile::tempdir().unwrap();
    let port = wsvia_testkit::net::free_port();
    let mut server = wsvia_testkit::Spawned::start(
        "python http.server",
        std::process::Command::new(wsvia_testkit::python::python())
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
        None,
    );
    let addr = ([127, 0, 0, 1], port).into();
    assert!(wsvia_testkit::net::wait_for_port(
        addr,
        std::time::Duration::from_secs(10)
    ));
    let run = connect(&[&format!("ws://127.0.0.1:{port}/missing")], "", &[]);
    run.assert_code(12);
    assert!(
        run.stderr.contains("refused the WebSocket upgrade: 404"),
        "{run:#?}"
    );
    server.stop();
}

#[test]
fn usage_errors_exit_2_before_any_connection() {
    for args in [
        &["http://example.com/"][..],
        &["ws://h/", "-H", "no colon"][..],
        &["-x", "socks4://127.0.0.1:1080", "ws://h/"][..],
        &["--no-such-flag", "ws://h/"][..],
        &[][..],
    ] {
        let run = connect(args, "", &[]);
        run.assert_code(2);
    }
}

#[test]
fn an_expired_certificate_exits_11_saying_so() {
    let (ca, _) = ca_and_localhost_cert();
    let expired = ca.expired_server_cert("expired", &["localhost"]);
    let server = echo_tls(&expired);
    let url = format!("wss://localhost:{}/", server.addr.port());
    let ca_pem = ca.ca_pem();
    let run = connect(&["--cacert", ca_pem.to_str().unwrap(), &url], "", &[]);
    run.assert_code(11);
    assert!(run.stderr.contains("certificate has expired"), "{run:#?}");
}
