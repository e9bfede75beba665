//! Proxy selection from an environment built from the input: each line `NAME=VALUE`; a
//! line `--proxy=VALUE` or `--noproxy=VALUE` sets the flag; `target=HOST:PORT` and
//! `scheme=ws|wss` pick the target.
//!
//! Invariant: no panic; proxies (a list, possibly with `DIRECT`) come from the flag or
//! from a variable that is set, and a direct connection names no proxy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_core::{EnvSnapshot, ProxySelector, SelectionReason, Target, TargetScheme};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut vars = Vec::new();
    let (mut proxy, mut noproxy) = (None, None);
    let (mut host, mut port, mut scheme) = ("example.com".to_owned(), 443u16, TargetScheme::Wss);
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        match name {
            "--proxy" => proxy = Some(value.to_owned()),
            "--noproxy" => noproxy = Some(value.to_owned()),
            "scheme" => {
                scheme = if value == "ws" {
                    TargetScheme::Ws
                } else {
                    TargetScheme::Wss
                }
            }
            "target" => match value.rsplit_once(':') {
                Some((h, p)) => {
                    host = h.to_owned();
                    port = p.parse().unwrap_or(443);
                }
                None => host = value.to_owned(),
            },
            _ => vars.push((name.to_owned(), value.to_owned())),
        }
    }
    let env = EnvSnapshot::from_vars(vars);
    let selector = ProxySelector::new(env.clone())
        .explicit_proxy(proxy.clone())
        .no_proxy_override(noproxy);
    let Ok(selection) = selector.select(&Target::new(scheme, host, port)) else {
        return;
    };
    let _ = selection.reason.to_string();
    match &selection.reason {
        SelectionReason::ExplicitFlag => {
            assert!(
                !selection.choices.is_empty() && proxy.is_some(),
                "{selection:?}"
            )
        }
        SelectionReason::EnvVar { name } => {
            assert!(!selection.choices.is_empty(), "{selection:?}");
            assert!(env.get(name).is_some(), "{name} is not set");
        }
        _ => assert!(selection.proxy().is_none(), "{selection:?}"),
    }
    for choice in &selection.choices {
        let _ = choice.to_string();
    }
});
