//! `wsvia gateway --config FILE` (TOML) and the checks of `load()`.
//!
//! Invariants: no panic; a loaded configuration serves something and keeps every route.
//! Configurations naming files (certificates, CA files, `tokens:` routes) are only
//! parsed; upstream certificate checks are switched off before `load()` so it does not
//! read the system's CA store on every input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_gateway::GatewayConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut config) = toml::from_str::<GatewayConfig>(text) else {
        return;
    };
    let names_files = config.tls_cert.is_some()
        || config.tls_key.is_some()
        || !config.certs.is_empty()
        || !config.upstream_cacert.is_empty()
        || config.route.iter().any(|r| r.contains("tokens:"))
        || config.routes.iter().any(|r| r.route.contains("tokens:"));
    if names_files {
        return;
    }
    config.upstream_insecure = true;
    let Ok(settings) = config.load() else {
        return;
    };
    assert!(!settings.listen.is_empty() || !settings.sni_listen.is_empty());
    assert_eq!(
        settings.routes.routes().len(),
        config.route.len() + config.routes.len()
    );
    for route in settings.routes.routes() {
        let _ = settings.options_of(route);
    }
    let _ = settings.sni.lookup(Some("example.com"));
    let _ = settings.sni.lookup(None);
});
