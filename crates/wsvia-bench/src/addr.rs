//! Parsing of flag values: source-address lists and byte sizes.

use std::net::{IpAddr, Ipv4Addr};

use crate::args::SourceIps;

/// Most addresses one `--source-ips` list may name.
const MAX_SOURCE_IPS: usize = 4096;

/// `127.0.0.2-127.0.0.21`, `127.0.0.2,127.0.0.3`, or one address; ranges are IPv4.
///
/// # Errors
/// A message naming the bad part.
///
/// # Examples
/// ```
/// let ips = wsvia_bench::addr::parse_source_ips("127.0.0.2-127.0.0.4,127.0.1.1").unwrap();
/// assert_eq!(ips.0.len(), 4);
/// ```
pub fn parse_source_ips(text: &str) -> Result<SourceIps, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            None => out.push(
                part.parse::<IpAddr>()
                    .map_err(|_| format!("{part:?} is not an IP address"))?,
            ),
            Some((a, b)) => {
                let parse = |s: &str| {
                    s.trim()
                        .parse::<Ipv4Addr>()
                        .map_err(|_| format!("{s:?} is not an IPv4 address (ranges are IPv4)"))
                };
                let (a, b) = (u32::from(parse(a)?), u32::from(parse(b)?));
                if b < a {
                    return Err(format!("the range {part:?} runs backwards"));
                }
                if (b - a) as usize >= MAX_SOURCE_IPS {
                    return Err(format!(
                        "the range {part:?} is larger than {MAX_SOURCE_IPS}"
                    ));
                }
                out.extend((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
            }
        }
    }
    if out.is_empty() {
        return Err("no addresses".into());
    }
    if out.len() > MAX_SOURCE_IPS {
        return Err(format!("more than {MAX_SOURCE_IPS} addresses"));
    }
    Ok(SourceIps(out))
}

/// `64`, `16KiB`, `1MiB`, `2GiB` (also `K`, `KB`, `M`, `MB`: powers of 1024 all).
///
/// # Errors
/// A message naming the bad value.
///
/// # Examples
/// ```
/// assert_eq!(wsvia_bench::addr::parse_size("1MiB"), Ok(1 << 20));
/// assert_eq!(wsvia_bench::addr::parse_size("64"), Ok(64));
/// ```
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 64, 16KiB, 1MiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// A size for tables: `64 B`, `16 KiB`, `1 MiB`.
///
/// # Examples
/// ```
/// assert_eq!(wsvia_bench::addr::format_size(1 << 20), "1 MiB");
/// assert_eq!(wsvia_bench::addr::format_size(1000), "1000 B");
/// ```
pub fn format_size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lists_and_single_addresses() {
        let ips = parse_source_ips("127.0.0.1-127.0.0.20").unwrap().0;
        assert_eq!(ips.len(), 20);
        assert_eq!(ips[1], "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(ips[19], "127.0.0.20".parse::<IpAddr>().unwrap());
        let ips = parse_source_ips("127.0.0.255-127.0.1.1").unwrap().0;
        assert_eq!(ips.len(), 3, "ranges cross octets");
        assert_eq!(parse_source_ips("::1").unwrap().0.len(), 1);
        for bad in [
            "",
            "127.0.0.9-127.0.0.1",
            "x",
            "127.0.0.1-::1",
            "10.0.0.0-10.1.0.0",
        ] {
            assert!(parse_source_ips(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("16KiB"), Ok(16 << 10));
        assert_eq!(parse_size("16k"), Ok(16 << 10));
        assert_eq!(parse_size(" 2 MiB"), Ok(2 << 20));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("1XB").is_err());
        assert_eq!(format_size(64), "64 B");
        assert_eq!(format_size(16 << 10), "16 KiB");
    }
}
