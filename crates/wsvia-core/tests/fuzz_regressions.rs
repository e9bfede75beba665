//! Inputs the fuzz targets in `fuzz/` found, kept as tests of the parser they concern.
//! See: #5

use wsvia_core::{Credentials, NoProxy, ProxyUrl};

/// `fuzz/fuzz_targets/proxy_url.rs` found `:@to5`: empty user and password. They are
/// kept as given, and the redacted form `http://@to5:1080`, which reads back without
/// userinfo, still names the same proxy (the fuzz target's round trip allows for this).
#[test]
fn empty_userinfo_parses_and_prints_as_the_same_proxy() {
    let url = ProxyUrl::parse(":@to5").unwrap();
    assert_eq!(url.credentials, Some(Credentials::new("", "")));
    assert_eq!(url.to_string(), "http://@to5:1080");
    let again = ProxyUrl::parse(&url.to_string()).unwrap();
    assert_eq!(
        (again.scheme, again.host.as_str(), again.port),
        (url.scheme, "to5", 1080)
    );
    assert_eq!(again.credentials, None);
}

/// `fuzz/fuzz_targets/no_proxy.rs` found the list `*` with the host `[]`: empty brackets
/// are no host at all, so not even `*` matches them (the target now expects `*` to match
/// whatever any entry matches, and a DNS name to match itself).
#[test]
fn star_matches_every_host_but_empty_brackets_are_none() {
    let star = NoProxy::parse("*");
    assert_eq!(star.matches("[]", 443), None);
    for host in ["example.com", "[::1]", "::1", "10.0.0.1", "localhost"] {
        assert_eq!(star.matches(host, 443), Some("*"), "{host}");
    }
}
