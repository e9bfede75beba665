//! Inputs the fuzz targets in `fuzz/` found, kept as tests of the parser they broke.
//! See: #5

use wsvia_proxy::target::Target;

/// `fuzz/fuzz_targets/connect_target.rs` found `CONNECT 2[1:s]:3`: the `http` crate reads
/// the host as `2[1`, and `Target::from_connect` accepted it. Brackets belong only around
/// an IPv6 address (RFC 3986 §3.2.2); a name with brackets, or brackets around a name,
/// must get 400, not a DNS lookup.
#[test]
fn connect_targets_with_stray_brackets_are_refused() {
    for input in ["2[1:s]:3", "[zz]:443", "a[b]:443", "[localhost]:443"] {
        let uri: http::Uri = input.parse().expect("the http crate accepts it");
        let target = Target::from_connect(&uri);
        // BUG: accepted today, as the hosts `2[1`, `zz`, `a[b` and `localhost`.
        assert!(target.is_err(), "{input} accepted as {target:?}");
    }
}

/// The forms around that bug that must stay valid.
#[test]
fn bracketed_ipv6_targets_stay_valid() {
    let t = Target::from_connect(&"[::1]:443".parse().unwrap()).unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.to_string()),
        ("::1", 443, "[::1]:443".into())
    );
    let t = Target::from_absolute(&"http://[2001:db8::1]:8080/x".parse().unwrap()).unwrap();
    assert_eq!((t.host.as_str(), t.port), ("2001:db8::1", 8080));
    let t = Target::from_connect(&"Example.COM:8443".parse().unwrap()).unwrap();
    assert_eq!(t.to_string(), "example.com:8443");
}
