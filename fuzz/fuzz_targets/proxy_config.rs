//! `wsvia proxy --config FILE` (TOML) and the checks of `load()`.
//!
//! Invariants: no panic; a loaded configuration listens somewhere, and beyond loopback it
//! is never an open relay unless `open = true`. Configurations that name user files are
//! only parsed (load() would read them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_proxy::ProxyConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<ProxyConfig>(text) else {
        return;
    };
    if config.auth_file.is_some() || config.digest_file.is_some() {
        return;
    }
    let Ok(settings) = config.load() else {
        return;
    };
    assert!(!settings.listen.is_empty());
    let beyond_loopback = settings.listen.iter().any(|a| match a.ip() {
        std::net::IpAddr::V4(v4) => !v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            !(v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
        }
    });
    if beyond_loopback {
        assert!(
            config.open,
            "an open relay on {:?} was accepted",
            settings.listen
        );
        assert!(
            settings.rules.allow_private == config.allow_private,
            "private destinations allowed beyond loopback without allow-private"
        );
    }
});
