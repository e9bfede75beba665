//! One TOML file for every role: `[proxy]` and `[gateway]` sections (or, for a file that
//! serves one role, that role's keys at the top level). Unknown keys are errors, reported
//! by toml with line, column and what was expected.

use std::path::Path;

use serde::Deserialize;
use wsvia_gateway::GatewayConfig;
use wsvia_proxy::ProxyConfig;

/// A file with sections.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    proxy: Option<ProxyConfig>,
    gateway: Option<GatewayConfig>,
}

/// The `[proxy]` section of `path`, or its top level when it has no sections.
pub fn proxy(path: &Path) -> Result<ProxyConfig, String> {
    let text = read(path)?;
    if has_sections(&text) {
        let file: Sections = parse(path, &text)?;
        return file
            .proxy
            .ok_or_else(|| format!("{}: no [proxy] section", path.display()));
    }
    parse(path, &text)
}

/// The `[gateway]` section of `path`, or its top level when it has no sections.
pub fn gateway(path: &Path) -> Result<GatewayConfig, String> {
    let text = read(path)?;
    if has_sections(&text) {
        let file: Sections = parse(path, &text)?;
        return file
            .gateway
            .ok_or_else(|| format!("{}: no [gateway] section", path.display()));
    }
    parse(path, &text)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))
}

/// True when the file's top level is (only) `proxy` / `gateway` tables.
fn has_sections(text: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .map(|t| t.contains_key("proxy") || t.contains_key("gateway"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn sections_and_top_level_files_both_load() {
        let f = file("[proxy]\nmax-tunnels = 5\n\n[gateway]\nroute = [\"/=ws://127.0.0.1:1\"]\n");
        assert_eq!(proxy(f.path()).unwrap().max_tunnels, Some(5));
        assert_eq!(gateway(f.path()).unwrap().route.len(), 1);
        let f = file("max-tunnels = 7\n");
        assert_eq!(proxy(f.path()).unwrap().max_tunnels, Some(7));
    }

    #[test]
    fn unknown_keys_are_errors_with_line_and_column() {
        let f = file("[proxy]\nmax-tunnels = 5\nmax-tunels = 6\n");
        let err = proxy(f.path()).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("unknown field `max-tunels`"), "{err}");
        let f = file("[proxy]\nmax-tunnels = \"many\"\n");
        let err = proxy(f.path()).unwrap_err();
        assert!(err.contains("line 2") && err.contains("expected"), "{err}");
        let f = file("[proxi]\n");
        assert!(proxy(f.path()).is_err());
    }
}
