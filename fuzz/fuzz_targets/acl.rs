//! The proxy's destination rules: `--allow-ports` lists and `--allow`/`--deny` lists.
//! Input: the port list, a line with the destination list, a line with a `host:port` to
//! check.
//!
//! Invariants: port sets and destinations print and parse back to themselves; checks
//! never panic; a port outside the allowed set is denied.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::acl::{AccessRules, Destination, PortSet, Verdict};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let ports = parts.next().unwrap_or_default();
    let list = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or("example.com:443");
    let allow_ports = PortSet::parse(ports).ok();
    if let Some(set) = &allow_ports {
        let printed = set.to_string();
        assert_eq!(
            PortSet::parse(&printed).as_ref(),
            Ok(set),
            "{ports:?} -> {printed:?}"
        );
    }
    let destinations = AccessRules::parse_list(list).unwrap_or_default();
    for d in &destinations {
        let printed = d.to_string();
        assert_eq!(Destination::parse(&printed).as_ref(), Ok(d), "{printed:?}");
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) => (h, p.trim().parse::<u16>().unwrap_or(443)),
        None => (target, 443),
    };
    for allow_private in [false, true] {
        let rules = AccessRules {
            allow_ports: allow_ports.clone(),
            allow: destinations.clone(),
            deny: destinations.clone(),
            allow_private,
        };
        let by_name = rules.check_name(host, port);
        let _ = by_name.to_string();
        if allow_ports.as_ref().is_some_and(|s| !s.contains(port)) {
            assert!(!by_name.is_allow(), "port {port} outside {ports:?} allowed");
        }
        for addr in [
            "127.0.0.1",
            "10.1.2.3",
            "::1",
            "2001:db8::1",
            "93.184.216.34",
        ] {
            let v: Verdict = rules.check_address(host, addr.parse().expect("literal"), port);
            let _ = v.to_string();
        }
        let open = AccessRules {
            deny: Vec::new(),
            ..rules
        };
        let _ = open.check_name(host, port);
    }
});
