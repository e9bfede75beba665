//! permessage-deflate (RFC 7692) against a peer nobody here wrote: `wsvia connect
//! --compress` to a Python `websockets` server with chosen deflate settings, a Python
//! `websockets` client that offers deflate to `wsvia echo`, and `wsvia connect --compress`
//! through squid and `wsvia proxy` (the tunnel carries compressed frames untouched).
//!
//! Each exchange checks three things: what was agreed (the `Sec-WebSocket-Extensions`
//! answer), that every message came back byte for byte, and that frames really arrived
//! compressed (RSV1 set, counted by the Python side).

mod common;

use std::time::Duration;

use common::{assert_round_trip, echo, wsvia};
use wsvia_testkit::{PythonEcho, Run, Squid, SquidOptions, WsviaProcess, deflate_client};

/// A line long and repetitive enough that any deflate makes it smaller.
fn compressible_line() -> String {
    "the quick brown fox jumps over the lazy dog; ".repeat(200)
}

/// `wsvia connect -v --compress EXTRA… URL` typing a long line then `compressed?` to a
/// Python deflate echo's `/extensions` path; the run once the frame count came back.
fn ask_python(server: &PythonEcho, extra: &[&str]) -> Run {
    let url = server.url("ws", "/extensions");
    let mut args = vec!["connect", "-v", "--compress"];
    args.extend_from_slice(extra);
    args.push(&url);
    let line = compressible_line();
    let input = format!("{line}\ncompressed?\n");
    let run = Run::interactive(
        wsvia(),
        &args,
        input.as_bytes(),
        "compressed ",
        &[],
        Duration::from_secs(20),
    );
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run:#?}");
    assert_eq!(
        lines[1], line,
        "the long line came back different: {run:#?}"
    );
    run
}

/// The server's own answer (first line of stdout) and the frame count it reported.
fn answer_and_count(run: &Run) -> (&str, (u32, u32)) {
    let lines: Vec<&str> = run.stdout.lines().collect();
    (lines[0], parse_count(lines[2], run))
}

/// `compressed C of T` → (C, T).
fn parse_count(line: &str, context: &impl std::fmt::Debug) -> (u32, u32) {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["compressed", c, "of", t] => (c.parse().unwrap(), t.parse().unwrap()),
        _ => panic!("no frame count in {line:?}: {context:#?}"),
    }
}

#[test]
fn client_compresses_to_python_websockets_with_its_defaults() {
    let server = PythonEcho::start_deflate(&[]);
    let run = ask_python(&server, &[]);
    let (answer, (compressed, total)) = answer_and_count(&run);
    assert!(answer.starts_with("permessage-deflate"), "{run:#?}");
    // websockets answers with 12-bit windows both ways by default.
    assert!(answer.contains("server_max_window_bits=12"), "{run:#?}");
    assert!(
        run.stderr
            .contains("* compression negotiated: permessage-deflate"),
        "-v must say what was agreed: {run:#?}"
    );
    assert_eq!(total, 2, "{run:#?}");
    assert!(compressed >= 1, "the long line went uncompressed: {run:#?}");
}

#[test]
fn client_honours_the_servers_choice_of_windows_and_context_takeover() {
    let cases: [(&[&str], &[&str], &str); 4] = [
        (
            &[
                "--server-no-context-takeover",
                "--client-no-context-takeover",
            ],
            &[],
            "client_no_context_takeover",
        ),
        (
            &["--server-max-window-bits", "9"],
            &[],
            "server_max_window_bits=9",
        ),
        (
            &["--client-max-window-bits", "9"],
            &[],
            "client_max_window_bits=9",
        ),
        // Our own offer restricts it: no context takeover both ways, 10-bit windows.
        (
            &[],
            &["--no-context-takeover", "--max-window-bits", "10"],
            "server_no_context_takeover",
        ),
    ];
    for (server_options, client_options, expected) in cases {
        let server = PythonEcho::start_deflate(server_options);
        let run = ask_python(&server, client_options);
        let (answer, (compressed, total)) = answer_and_count(&run);
        assert!(
            answer.contains(expected),
            "{server_options:?} {client_options:?}: {run:#?}"
        );
        assert!(
            run.stderr
                .contains(&format!("* compression negotiated: {answer}"))
                || run.stderr.contains(expected),
            "{run:#?}"
        );
        assert_eq!(total, 2, "{run:#?}");
        assert!(compressed >= 1, "{server_options:?}: {run:#?}");
    }
}

#[test]
fn client_falls_back_to_plain_frames_when_the_server_declines() {
    let server = PythonEcho::start_deflate(&["--no-compress"]);
    let run = ask_python(&server, &[]);
    let (answer, (compressed, total)) = answer_and_count(&run);
    assert_eq!(answer, "none", "{run:#?}");
    assert!(
        run.stderr.contains("* compression declined"),
        "-v must say the offer was declined: {run:#?}"
    );
    // Without the extension nothing counts frames: both stay 0, and none had RSV1.
    assert_eq!((compressed, total), (0, 0), "{run:#?}");
}

/// `python/deflate_client.py` against `server`: its answer line and frame count.
fn python_client(url: &str, options: &[&str]) -> (String, (u32, u32)) {
    let run = deflate_client(url, options);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run:#?}");
    assert_eq!(lines[1], "ok 18", "{run:#?}");
    let answer = lines[0]
        .strip_prefix("extensions ")
        .unwrap_or_else(|| panic!("{run:#?}"));
    (answer.to_owned(), parse_count(lines[2], &run))
}

#[test]
fn echo_server_compresses_for_python_websockets_clients_with_each_option() {
    let server = echo();
    let url = format!("ws://{}/", server.addr);
    let cases: [(&[&str], &[&str]); 5] = [
        (&[], &["permessage-deflate"]),
        (
            &["--server-no-context-takeover"],
            &["server_no_context_takeover"],
        ),
        (&["--client-no-context-takeover"], &["permessage-deflate"]),
        (
            &["--server-max-window-bits", "9"],
            &["server_max_window_bits=9"],
        ),
        (
            &[
                "--server-max-window-bits",
                "10",
                "--client-max-window-bits",
                "11",
            ],
            &["server_max_window_bits=10"],
        ),
    ];
    for (options, expected) in cases {
        let (answer, (compressed, total)) = python_client(&url, options);
        for part in expected {
            assert!(answer.contains(part), "{options:?}: {answer}");
        }
        // 18 messages; the random 70 kB ones may go uncompressed, the rest may not.
        assert_eq!(total, 18, "{options:?}: {answer}");
        assert!(compressed >= 12, "{options:?}: {compressed} of {total}");
    }
}

#[test]
fn echo_server_with_no_compress_declines_and_still_echoes() {
    let server = WsviaProcess::start(
        wsvia(),
        &["echo", "--listen", "127.0.0.1:0", "--no-compress"],
    );
    let (answer, (compressed, total)) = python_client(&format!("ws://{}/", server.addr), &[]);
    assert_eq!(answer, "none");
    assert_eq!((compressed, total), (0, 0), "no extension, no RSV1 frames");
}

#[test]
fn compressed_frames_cross_squid_and_wsvia_proxy_untouched() {
    let target = echo();
    let squid = Squid::start(&SquidOptions::default());
    let proxy = WsviaProcess::start(wsvia(), &["proxy", "--listen", "127.0.0.1:0"]);
    let proxy_url = format!("http://{}", proxy.addr);
    for via in [squid.url(), proxy_url] {
        for extra in [
            &[][..],
            &["--no-context-takeover", "--max-window-bits", "9"][..],
        ] {
            let mut args = vec!["-v", "--compress", "-x", via.as_str()];
            args.extend_from_slice(extra);
            let url = format!("ws://{}/", target.addr);
            args.push(&url);
            let run = assert_round_trip(&args, &[]);
            assert!(
                run.stderr
                    .contains("* compression negotiated: permessage-deflate"),
                "{via} {extra:?}: {run:#?}"
            );
        }
    }
}
