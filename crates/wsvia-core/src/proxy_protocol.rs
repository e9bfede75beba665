//! The PROXY protocol version 2 header (HAProxy's binary format): tells a
//! backend who the client really is when the gateway forwards a TCP stream.
//!
//! This module owns [`encode_v2`], [`encode_v2_local`], [`decode_v2`],
//! [`ProxyHeader`], [`Command`] and [`ProxyProtocolError`]. Writing the header
//! before the first byte of the stream is the gateway's job; the text format
//! (version 1, `PROXY TCP4 …`) is not supported.
//!
//! The layout, from HAProxy's `proxy-protocol.txt` section 2.2:
//!
//! | bytes | content |
//! |-------|---------|
//! | 0–11  | signature `\r\n\r\n\0\r\nQUIT\n` |
//! | 12    | version (high nibble, 2) and command (low nibble: 0 LOCAL, 1 PROXY) |
//! | 13    | family (high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and transport (low nibble: 0 UNSPEC, 1 STREAM, 2 DGRAM) |
//! | 14–15 | length of what follows, big endian |
//! | 16–   | source address, destination address, source port, destination port (big endian), then optional TLVs |
//!
//! Addresses take 12 bytes for INET, 36 for INET6 and 216 for UNIX.
//! [`encode_v2`] writes TCP over IPv4, or over IPv6 when either side is IPv6
//! (an IPv4 address then becomes `::ffff:a.b.c.d`), and no TLVs.
//! [`decode_v2`] reports addresses for TCP over IPv4 and IPv6 only; for LOCAL,
//! UNSPEC, UNIX and UDP headers it reports none, and the receiver uses the
//! connection's own endpoints, as the spec says. TLVs are skipped.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The 12 bytes every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Bytes before the address block: signature, version/command, family, length.
const FIXED_LEN: usize = 16;
/// Version 2 in the high nibble of byte 12.
const VERSION_2: u8 = 0x20;
/// Address family and transport bytes.
const TCP_OVER_IPV4: u8 = 0x11;
const TCP_OVER_IPV6: u8 = 0x21;
/// Sizes of the address blocks.
const IPV4_BLOCK: usize = 12;
const IPV6_BLOCK: usize = 36;

/// The command of a PROXY protocol header.
///
/// # Examples
///
/// ```
/// use wsvia_core::proxy_protocol::{Command, decode_v2, encode_v2_local};
///
/// let (header, _) = decode_v2(&encode_v2_local())?.expect("complete header");
/// assert_eq!(header.command, Command::Local);
/// # Ok::<(), wsvia_core::proxy_protocol::ProxyProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// The connection was made by the proxy itself (a health check): use the
    /// connection's own endpoints.
    Local,
    /// The connection is relayed for a client: the header names its
    /// endpoints.
    Proxy,
}

/// A decoded version 2 header.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use wsvia_core::proxy_protocol::{Command, ProxyHeader, decode_v2, encode_v2};
///
/// let source: SocketAddr = "192.0.2.1:56324".parse()?;
/// let destination: SocketAddr = "198.51.100.2:443".parse()?;
/// let (header, len) = decode_v2(&encode_v2(source, destination))?.expect("complete header");
/// assert_eq!(
///     header,
///     ProxyHeader { command: Command::Proxy, source: Some(source), destination: Some(destination) },
/// );
/// assert_eq!(len, 28);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyHeader {
    /// LOCAL or PROXY.
    pub command: Command,
    /// The client's address; `None` for LOCAL and for headers without TCP
    /// over IPv4 or IPv6 addresses.
    pub source: Option<SocketAddr>,
    /// The address the client connected to; `None` whenever `source` is.
    pub destination: Option<SocketAddr>,
}

/// Why bytes are not a valid version 2 header.
///
/// # Examples
///
/// ```
/// use wsvia_core::proxy_protocol::{ProxyProtocolError, decode_v2};
///
/// let err = decode_v2(b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n").unwrap_err();
/// assert_eq!(err, ProxyProtocolError::Signature);
/// assert!(err.to_string().contains("version 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyProtocolError {
    /// The first bytes are not the 12-byte signature.
    #[error(
        "not a PROXY protocol v2 header: the stream does not start with the 12-byte signature \
         \\r\\n\\r\\n\\0\\r\\nQUIT\\n (a version 1 header starts with `PROXY `, which is not supported)"
    )]
    Signature,
    /// The version nibble (high half of byte 12) is not 2.
    #[error("PROXY protocol header at byte 12 has version {version}: only version 2 is supported")]
    Version {
        /// The version found.
        version: u8,
    },
    /// The command nibble (low half of byte 12) is neither LOCAL nor PROXY.
    #[error(
        "PROXY protocol header at byte 12 has command {command}: expected 0 (LOCAL) or 1 (PROXY)"
    )]
    Command {
        /// The command found.
        command: u8,
    },
    /// Byte 13 names an undefined address family or transport.
    #[error(
        "PROXY protocol header at byte 13 has family/transport 0x{byte:02x}: expected a family \
         0-3 (UNSPEC, INET, INET6, UNIX) and a transport 0-2 (UNSPEC, STREAM, DGRAM)"
    )]
    Family {
        /// The byte found.
        byte: u8,
    },
    /// The length (bytes 14–15) is too small for the family's addresses.
    #[error(
        "PROXY protocol header at byte 14 declares {length} bytes of addresses: \
         {family} addresses take {needed}"
    )]
    AddressLength {
        /// `"IPv4"` or `"IPv6"`.
        family: &'static str,
        /// The length declared.
        length: usize,
        /// The length the addresses need.
        needed: usize,
    },
}

/// Encodes a PROXY command header for TCP from `source` to `destination`.
///
/// Both addresses IPv4 gives family 0x11 and 12 address bytes; otherwise
/// both are written as IPv6 (family 0x21, 36 bytes), an IPv4 address mapped
/// to `::ffff:a.b.c.d`. IPv6 flow labels and scope ids are not carried.
///
/// # Examples
///
/// ```
/// use wsvia_core::proxy_protocol::encode_v2;
///
/// let header = encode_v2("192.0.2.1:56324".parse()?, "198.51.100.2:443".parse()?);
/// assert_eq!(&header[..12], b"\r\n\r\n\0\r\nQUIT\n");
/// assert_eq!(
///     &header[12..],
///     &[0x21, 0x11, 0, 12, 192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb],
/// );
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn encode_v2(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED_LEN + IPV6_BLOCK);
    out.extend_from_slice(&SIGNATURE);
    out.push(VERSION_2 | 0x1);
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            out.push(TCP_OVER_IPV4);
            out.extend_from_slice(&(IPV4_BLOCK as u16).to_be_bytes());
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
        }
        (src, dst) => {
            out.push(TCP_OVER_IPV6);
            out.extend_from_slice(&(IPV6_BLOCK as u16).to_be_bytes());
            out.extend_from_slice(&as_v6(src).octets());
            out.extend_from_slice(&as_v6(dst).octets());
        }
    }
    out.extend_from_slice(&source.port().to_be_bytes());
    out.extend_from_slice(&destination.port().to_be_bytes());
    out
}

/// Encodes a LOCAL command header (for health checks): no addresses.
///
/// # Examples
///
/// ```
/// use wsvia_core::proxy_protocol::encode_v2_local;
///
/// assert_eq!(encode_v2_local(), b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00");
/// ```
pub fn encode_v2_local() -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&[VERSION_2, 0x00, 0x00, 0x00]);
    out
}

/// Decodes a version 2 header from the start of `bytes`.
///
/// Returns `Ok(None)` while `bytes` is a valid but incomplete beginning, and
/// `Ok(Some((header, len)))` once complete, where `len` is the header's size
/// (16 plus its declared length): the stream's payload starts at `len`.
///
/// # Errors
///
/// Returns a [`ProxyProtocolError`] as soon as the bytes cannot become a
/// valid header: a wrong signature (checked on the bytes received so far),
/// version other than 2, command other than LOCAL or PROXY, an undefined
/// family or transport, or a PROXY header whose length is smaller than its
/// IPv4 or IPv6 addresses.
///
/// # Examples
///
/// ```
/// use wsvia_core::proxy_protocol::{decode_v2, encode_v2};
///
/// let mut stream = encode_v2("[2001:db8::1]:40000".parse()?, "[2001:db8::2]:443".parse()?);
/// assert_eq!(decode_v2(&stream[..20])?, None);
/// stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
/// let (header, len) = decode_v2(&stream)?.expect("complete header");
/// assert_eq!(header.source, Some("[2001:db8::1]:40000".parse()?));
/// assert_eq!(&stream[len..], b"GET / HTTP/1.1\r\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode_v2(bytes: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    let received = bytes.len().min(SIGNATURE.len());
    if bytes.get(..received) != SIGNATURE.get(..received) {
        return Err(ProxyProtocolError::Signature);
    }
    let command = match bytes.get(12) {
        None => return Ok(None),
        Some(byte) if byte >> 4 != 2 => {
            return Err(ProxyProtocolError::Version { version: byte >> 4 });
        }
        Some(byte) => match byte & 0x0F {
            0 => Command::Local,
            1 => Command::Proxy,
            command => return Err(ProxyProtocolError::Command { command }),
        },
    };
    let family = match bytes.get(13) {
        None => return Ok(None),
        Some(&byte) if byte >> 4 > 3 || byte & 0x0F > 2 => {
            return Err(ProxyProtocolError::Family { byte });
        }
        Some(&byte) => byte,
    };
    let Some(&[hi, lo]) = bytes.get(14..16) else {
        return Ok(None);
    };
    let length = usize::from(u16::from_be_bytes([hi, lo]));
    let needed = match (command, family) {
        (Command::Proxy, TCP_OVER_IPV4) => Some(("IPv4", IPV4_BLOCK)),
        (Command::Proxy, TCP_OVER_IPV6) => Some(("IPv6", IPV6_BLOCK)),
        _ => None,
    };
    if let Some((family, needed)) = needed
        && length < needed
    {
        return Err(ProxyProtocolError::AddressLength {
            family,
            length,
            needed,
        });
    }
    let total = FIXED_LEN + length;
    let Some(block) = bytes.get(FIXED_LEN..total) else {
        return Ok(None);
    };
    let (source, destination) = match needed {
        Some((_, IPV4_BLOCK)) => {
            let (src, dst) = addresses::<4>(block);
            let (sp, dp) = ports(block, 8);
            (
                SocketAddr::V4(SocketAddrV4::new(src.into(), sp)),
                SocketAddr::V4(SocketAddrV4::new(dst.into(), dp)),
            )
        }
        Some(_) => {
            let (src, dst) = addresses::<16>(block);
            let (sp, dp) = ports(block, 32);
            (
                SocketAddr::V6(SocketAddrV6::new(src.into(), sp, 0, 0)),
                SocketAddr::V6(SocketAddrV6::new(dst.into(), dp, 0, 0)),
            )
        }
        None => {
            let header = ProxyHeader {
                command,
                source: None,
                destination: None,
            };
            return Ok(Some((header, total)));
        }
    };
    let header = ProxyHeader {
        command,
        source: Some(source),
        destination: Some(destination),
    };
    Ok(Some((header, total)))
}

/// An address as IPv6, IPv4 mapped to `::ffff:a.b.c.d`.
fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The two `N`-byte addresses at the start of `block`, zero-filled if short
/// (callers have checked the length).
fn addresses<const N: usize>(block: &[u8]) -> ([u8; N], [u8; N]) {
    let mut src = [0; N];
    let mut dst = [0; N];
    if let Some(bytes) = block.get(..N) {
        src.copy_from_slice(bytes);
    }
    if let Some(bytes) = block.get(N..2 * N) {
        dst.copy_from_slice(bytes);
    }
    (src, dst)
}

/// The two big-endian ports at `at` in `block`, zero if short (callers have
/// checked the length).
fn ports(block: &[u8], at: usize) -> (u16, u16) {
    let port = |i: usize| match block.get(i..i + 2) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    };
    (port(at), port(at + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ipv4_bytes_from_the_spec() {
        // 192.0.2.1:56324 -> 198.51.100.2:443, written out by hand from
        // proxy-protocol.txt section 2.2.
        let expected: &[u8] = &[
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54,
            0x0A, // signature
            0x21, // version 2, PROXY
            0x11, // AF_INET, STREAM
            0x00, 0x0C, // 12 address bytes
            0xC0, 0x00, 0x02, 0x01, // 192.0.2.1
            0xC6, 0x33, 0x64, 0x02, // 198.51.100.2
            0xDC, 0x04, // 56324
            0x01, 0xBB, // 443
        ];
        let source = addr("192.0.2.1:56324");
        let destination = addr("198.51.100.2:443");
        assert_eq!(encode_v2(source, destination), expected);
        assert_eq!(
            decode_v2(expected),
            Ok(Some((
                ProxyHeader {
                    command: Command::Proxy,
                    source: Some(source),
                    destination: Some(destination),
                },
                28
            )))
        );
    }

    #[test]
    fn ipv6_and_mixed_bytes() {
        let header = encode_v2(addr("[2001:db8::1]:1"), addr("192.0.2.9:2"));
        let mut expected = SIGNATURE.to_vec();
        expected.extend_from_slice(&[0x21, 0x21, 0x00, 0x24]);
        expected.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 9]);
        expected.extend_from_slice(&[0, 1, 0, 2]);
        assert_eq!(header, expected);
    }

    #[test]
    fn round_trips() {
        let cases = [
            ("192.0.2.1:56324", "198.51.100.2:443", "192.0.2.1:56324", 28),
            ("127.0.0.1:0", "127.0.0.1:65535", "127.0.0.1:0", 28),
            ("[::1]:9", "[2001:db8::2]:443", "[::1]:9", 52),
            (
                "192.0.2.1:7",
                "[2001:db8::2]:443",
                "[::ffff:192.0.2.1]:7",
                52,
            ),
            (
                "[fe80::1%3]:7",
                "[2001:db8::2]:443",
                "[fe80::1]:7", // the scope id is not carried
                52,
            ),
        ];
        for (source, destination, decoded_source, len) in cases {
            let bytes = encode_v2(addr(source), addr(destination));
            let (header, got_len) = decode_v2(&bytes).expect("valid").expect("complete header");
            assert_eq!(header.command, Command::Proxy, "{source}");
            assert_eq!(header.source, Some(addr(decoded_source)), "{source}");
            assert_eq!(
                header.destination.map(|d| d.port()),
                Some(addr(destination).port())
            );
            assert_eq!(got_len, len, "{source}");
            for end in 0..bytes.len() {
                assert_eq!(decode_v2(&bytes[..end]), Ok(None), "{source} prefix {end}");
            }
        }
    }

    #[test]
    fn headers_without_addresses() {
        let unix_block = [0u8; 216];
        let mut unix = SIGNATURE.to_vec();
        unix.extend_from_slice(&[0x21, 0x31, 0x00, 0xD8]);
        unix.extend_from_slice(&unix_block);
        let mut udp = SIGNATURE.to_vec();
        udp.extend_from_slice(&[0x21, 0x12, 0x00, 0x0C]);
        udp.extend_from_slice(&[0; 12]);
        let mut local_with_block = SIGNATURE.to_vec();
        local_with_block.extend_from_slice(&[0x20, 0x11, 0x00, 0x0C]);
        local_with_block.extend_from_slice(&[1; 12]);
        let mut unspec = SIGNATURE.to_vec();
        unspec.extend_from_slice(&[0x21, 0x00, 0x00, 0x00]);
        let mut with_tlv = encode_v2(addr("192.0.2.1:1"), addr("192.0.2.2:2"));
        with_tlv[15] = 12 + 4;
        with_tlv.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]); // PP2_TYPE_NOOP

        let cases: Vec<(&str, Vec<u8>, Command, bool, usize)> = vec![
            ("local", encode_v2_local(), Command::Local, false, 16),
            ("unix", unix, Command::Proxy, false, 232),
            ("udp", udp, Command::Proxy, false, 28),
            (
                "local with block",
                local_with_block,
                Command::Local,
                false,
                28,
            ),
            ("unspec", unspec, Command::Proxy, false, 16),
            ("tcp4 with tlv", with_tlv, Command::Proxy, true, 32),
        ];
        for (name, bytes, command, has_addresses, len) in cases {
            let (header, got_len) = decode_v2(&bytes)
                .expect(name)
                .unwrap_or_else(|| panic!("{name}: incomplete"));
            assert_eq!(header.command, command, "{name}");
            assert_eq!(header.source.is_some(), has_addresses, "{name}");
            assert_eq!(header.destination.is_some(), has_addresses, "{name}");
            assert_eq!(got_len, len, "{name}");
        }
    }

    #[test]
    fn errors() {
        let with = |tail: &[u8]| [&SIGNATURE[..], tail].concat();
        let cases: Vec<(&str, Vec<u8>, ProxyProtocolError)> = vec![
            (
                "http",
                b"GET / HTTP/1.1\r\n".to_vec(),
                ProxyProtocolError::Signature,
            ),
            ("v1", b"PROXY TCP4 ".to_vec(), ProxyProtocolError::Signature),
            (
                "wrong early byte",
                b"\r\n\r\x00".to_vec(),
                ProxyProtocolError::Signature,
            ),
            (
                "version 1 nibble",
                with(&[0x11]),
                ProxyProtocolError::Version { version: 1 },
            ),
            (
                "version 3",
                with(&[0x31, 0x11, 0, 12]),
                ProxyProtocolError::Version { version: 3 },
            ),
            (
                "command 2",
                with(&[0x22]),
                ProxyProtocolError::Command { command: 2 },
            ),
            (
                "family 4",
                with(&[0x21, 0x41]),
                ProxyProtocolError::Family { byte: 0x41 },
            ),
            (
                "transport 3",
                with(&[0x21, 0x13]),
                ProxyProtocolError::Family { byte: 0x13 },
            ),
            (
                "short ipv4 block",
                with(&[0x21, 0x11, 0, 11]),
                ProxyProtocolError::AddressLength {
                    family: "IPv4",
                    length: 11,
                    needed: 12,
                },
            ),
            (
                "short ipv6 block",
                with(&[0x21, 0x21, 0, 12]),
                ProxyProtocolError::AddressLength {
                    family: "IPv6",
                    length: 12,
                    needed: 36,
                },
            ),
        ];
        for (name, bytes, expected) in cases {
            assert_eq!(decode_v2(&bytes), Err(expected), "{name}");
        }
    }

    #[test]
    fn need_more() {
        let cases: Vec<&[u8]> = vec![
            b"",
            b"\r",
            b"\r\n\r\n\0\r\nQUIT",
            &SIGNATURE,
            b"\r\n\r\n\0\r\nQUIT\n\x21",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0C\xC0",
            b"\r\n\r\n\0\r\nQUIT\n\x20\x00\xFF\xFF",
        ];
        for bytes in cases {
            assert_eq!(decode_v2(bytes), Ok(None), "{bytes:?}");
        }
    }

    #[test]
    fn arbitrary_tails_never_panic() {
        let mut state: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let [a, b, c, d] = state.to_be_bytes();
            let mut bytes = SIGNATURE.to_vec();
            bytes.extend_from_slice(&[a, b, 0, c % 64]);
            bytes.extend(std::iter::repeat_n(d, usize::from(c % 70)));
            let _ = decode_v2(&bytes);
        }
    }
}
