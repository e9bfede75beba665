//! The gateway's routes `[HOST]/PATH=UPSTREAM`. Input: one spec per line; a line
//! `? HOST PATH` is a request to look up instead.
//!
//! Invariants: a route prints and parses back to itself; a table holds each parsed route;
//! the route a lookup returns matches the request, and upstream paths start with `/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::route::{Route, RouteTable, Upstream};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut specs = Vec::new();
    let mut requests = vec![(Some("example.com"), "/"), (None, "/chat/room?x=1")];
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("? ") {
            let (host, path) = rest.split_once(' ').unwrap_or(("", rest));
            requests.push(((!host.is_empty()).then_some(host), path));
            continue;
        }
        specs.push(line);
        if let Ok(route) = Route::parse(line) {
            let printed = route.to_string();
            let again = Route::parse(&printed)
                .unwrap_or_else(|e| panic!("{line:?} printed as {printed:?} does not parse: {e}"));
            assert_eq!(again, route, "{line:?} printed as {printed:?}");
            let up = route.upstream.to_string();
            assert_eq!(Upstream::parse(&up).as_ref(), Ok(&route.upstream), "{up:?}");
        }
    }
    let Ok(table) = RouteTable::parse(&specs) else {
        return;
    };
    assert_eq!(table.routes().len(), specs.len());
    for (host, path) in requests {
        if let Some(route) = table.lookup(host, path) {
            assert!(route.matches(host, path), "{route} for {host:?} {path:?}");
            let _ = route.upstream_path(path);
        }
        for route in table.routes() {
            let up = route.upstream_path(path);
            if path.starts_with('/') {
                assert!(up.starts_with('/'), "{route}: {path:?} became {up:?}");
            }
        }
    }
});
