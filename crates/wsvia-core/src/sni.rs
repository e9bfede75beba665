//! Peek at the first bytes of a TLS connection: the server name (SNI) and the
//! ALPN protocols of the ClientHello, without terminating TLS.
//!
//! This module owns [`peek_client_hello`], its answer [`Peek`] and
//! [`SniError`]. Routing on the name it returns lives in [`crate::route`];
//! reading the bytes off a socket (and replaying them to the upstream) is the
//! gateway's job.
//!
//! What is parsed (RFC 8446 §5.1 and §4.1.2, RFC 6066 §3, RFC 7301 §3.1):
//! - TLS records of content type 22 (handshake); the ClientHello may be split
//!   across several records and is reassembled;
//! - the handshake message must be a ClientHello (type 1); only the
//!   `server_name` (0) and `application_layer_protocol_negotiation` (16)
//!   extensions are read, the others are skipped, duplicates are rejected;
//! - the host name is checked (ASCII letters, digits, `-`, `_`, dots between
//!   non-empty labels of at most 63 bytes, 253 bytes in all), lowercased, and
//!   one trailing dot is dropped;
//! - everything the ClientHello needs on the wire, record headers included,
//!   must fit in [`MAX_CLIENT_HELLO_BYTES`], so a caller that buffers while it
//!   gets [`Peek::NeedMore`] never holds more than that.
//!
//! The parser never panics and never reads past `bytes`; it is fuzzed.

use std::collections::BTreeSet;

/// The most bytes a ClientHello may take on the wire, TLS record headers
/// included (16 KiB). [`peek_client_hello`] answers [`Peek::NeedMore`] only
/// while fewer bytes than this have arrived.
pub const MAX_CLIENT_HELLO_BYTES: usize = 16 * 1024;

/// TLS record content type `handshake`.
const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake message type `client_hello`.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Bytes in a TLS record header: type, version (2), length (2).
const RECORD_HEADER: usize = 5;
/// Bytes in a handshake message header: type, length (3).
const HANDSHAKE_HEADER: usize = 4;
/// The largest plaintext record payload, 2^14 (RFC 8446 §5.1).
const MAX_RECORD_PAYLOAD: usize = 16 * 1024;
/// Extension `server_name` (RFC 6066).
const EXT_SERVER_NAME: u16 = 0;
/// Extension `application_layer_protocol_negotiation` (RFC 7301).
const EXT_ALPN: u16 = 16;
/// `NameType` `host_name` in a `ServerNameList`.
const NAME_TYPE_HOST_NAME: u8 = 0;
/// Longest host name, without the trailing dot.
const MAX_HOST_NAME: usize = 253;
/// Longest label of a host name.
const MAX_LABEL: usize = 63;

/// What the first bytes of a connection say.
///
/// # Examples
///
/// ```
/// use wsvia_core::sni::{Peek, peek_client_hello};
///
/// assert_eq!(peek_client_hello(b"GET / HTTP/1.1\r\n")?, Peek::NotTls);
/// assert_eq!(peek_client_hello(&[0x16, 0x03, 0x01])?, Peek::NeedMore);
/// # Ok::<(), wsvia_core::sni::SniError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peek {
    /// The bytes so far are a valid beginning; read more and call again with
    /// everything received.
    NeedMore,
    /// The first record header cannot be TLS (for example plain HTTP, or an
    /// SSLv2-style hello): handle the connection as something else.
    NotTls,
    /// A complete ClientHello.
    Hello {
        /// The SNI `host_name`, lowercase ASCII without a trailing dot; `None`
        /// when the client sent no `server_name` extension or no `host_name`
        /// entry in it.
        server_name: Option<String>,
        /// The ALPN protocols in the client's order (names that are not UTF-8
        /// are kept with U+FFFD replacement characters); empty when the client
        /// sent no ALPN extension.
        alpn: Vec<String>,
    },
}

/// Why the bytes are TLS but not a usable ClientHello.
///
/// Every variant carries `offset`, the position in the `bytes` given to
/// [`peek_client_hello`] where the fault was found.
///
/// # Examples
///
/// ```
/// use wsvia_core::sni::{SniError, peek_client_hello};
///
/// // A handshake record of length 0 is not allowed.
/// let err = peek_client_hello(&[0x16, 0x03, 0x01, 0x00, 0x00]).unwrap_err();
/// assert!(matches!(err, SniError::RecordLength { offset: 0, length: 0 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SniError {
    /// A handshake record is empty or longer than 2^14 bytes.
    #[error(
        "TLS record at byte {offset} has length {length}: a handshake record carries 1 to 16384 bytes"
    )]
    RecordLength {
        /// Start of the record header.
        offset: usize,
        /// The length the header declares.
        length: usize,
    },
    /// A record that is not a TLS 1.x handshake record came before the
    /// ClientHello was complete.
    #[error(
        "TLS record at byte {offset} has content type {content_type} and version major {version_major} \
         before the ClientHello is complete: expected a handshake record (type 22, version 3.x)"
    )]
    UnexpectedRecord {
        /// Start of the record header.
        offset: usize,
        /// The record's content type.
        content_type: u8,
        /// The record's major version byte (0 if not received yet).
        version_major: u8,
    },
    /// The first handshake message is not a ClientHello.
    #[error(
        "the TLS handshake message at byte {offset} has type {handshake_type}: expected 1 (ClientHello)"
    )]
    NotClientHello {
        /// Start of the handshake message.
        offset: usize,
        /// The handshake type found.
        handshake_type: u8,
    },
    /// The ClientHello needs more than [`MAX_CLIENT_HELLO_BYTES`] on the wire.
    #[error(
        "the ClientHello starting at byte {offset} needs at least {needed} bytes on the wire, \
         more than the limit of {MAX_CLIENT_HELLO_BYTES}"
    )]
    TooLarge {
        /// Always 0: the ClientHello starts the connection.
        offset: usize,
        /// A lower bound of the bytes the ClientHello would take.
        needed: usize,
    },
    /// A length or field of the ClientHello is inconsistent.
    #[error("malformed ClientHello at byte {offset}: {reason}")]
    Malformed {
        /// Where the faulty field starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An extension type appears twice (RFC 8446 §4.2 forbids it).
    #[error("TLS extension {extension} appears twice in the ClientHello (again at byte {offset})")]
    DuplicateExtension {
        /// Start of the second occurrence.
        offset: usize,
        /// The extension type.
        extension: u16,
    },
    /// The SNI host name has a character or shape a DNS name cannot have.
    #[error("invalid SNI host name {name:?} at byte {offset}: {reason}")]
    InvalidServerName {
        /// Start of the name.
        offset: usize,
        /// The name, lossily decoded and cut at 255 bytes.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Reads the SNI host name and ALPN list from the first bytes a client sent.
///
/// Call it with *all* bytes received so far; it keeps no state. It answers
/// [`Peek::NeedMore`] while the ClientHello is incomplete (and fewer than
/// [`MAX_CLIENT_HELLO_BYTES`] have arrived), [`Peek::NotTls`] when the first
/// record header cannot be TLS, and [`Peek::Hello`] once the ClientHello is
/// complete; bytes after it are ignored.
///
/// # Errors
///
/// Returns an [`SniError`] with the offset of the fault for a record of
/// length 0 or over 2^14, a non-handshake record inside the ClientHello, a
/// first handshake message that is not a ClientHello, a ClientHello larger
/// than [`MAX_CLIENT_HELLO_BYTES`], inconsistent lengths or truncated fields
/// and extensions, duplicate extensions, and an invalid SNI host name.
///
/// # Examples
///
/// ```
/// use wsvia_core::sni::{Peek, peek_client_hello};
///
/// // A minimal ClientHello for "example.com" with ALPN "h2", in one record.
/// let mut body = vec![0x03, 0x03];                   // legacy_version
/// body.extend_from_slice(&[0; 32]);                  // random
/// body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]); // session id, suites, compression
/// let sni = [&[0, 0, 0, 16, 0, 14, 0, 0, 11][..], b"example.com"].concat();
/// let alpn = [&[0, 16, 0, 5, 0, 3, 2][..], b"h2"].concat();
/// let exts = [sni, alpn].concat();
/// body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
/// body.extend_from_slice(&exts);
/// let mut hello = vec![1, 0, 0, body.len() as u8];
/// hello.extend_from_slice(&body);
/// let mut wire = vec![0x16, 0x03, 0x01, 0, hello.len() as u8];
/// wire.extend_from_slice(&hello);
///
/// assert_eq!(
///     peek_client_hello(&wire)?,
///     Peek::Hello { server_name: Some("example.com".into()), alpn: vec!["h2".into()] },
/// );
/// assert_eq!(peek_client_hello(&wire[..40])?, Peek::NeedMore);
/// # Ok::<(), wsvia_core::sni::SniError>(())
/// ```
pub fn peek_client_hello(bytes: &[u8]) -> Result<Peek, SniError> {
    // The first record header decides whether this is TLS at all: content type
    // 22 and a version of 3.0 to 3.4 (SSL 3.0 to TLS 1.3 on the wire).
    match bytes {
        [] => return Ok(Peek::NeedMore),
        [content_type, ..] if *content_type != CONTENT_HANDSHAKE => return Ok(Peek::NotTls),
        [_, major, ..] if *major != 3 => return Ok(Peek::NotTls),
        [_, _, minor, ..] if *minor > 4 => return Ok(Peek::NotTls),
        _ => {}
    }

    // The handshake message reassembled from the record payloads, and where
    // each payload fragment starts: (offset in `message`, offset in `bytes`).
    let mut message: Vec<u8> = Vec::new();
    let mut fragments: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    loop {
        // One more record is needed; it costs a header and at least one byte.
        let needed = pos + RECORD_HEADER + 1;
        if needed > MAX_CLIENT_HELLO_BYTES {
            return Err(SniError::TooLarge { offset: 0, needed });
        }
        let header = match bytes.get(pos..pos + RECORD_HEADER) {
            Some(header) => header,
            None => {
                let partial = bytes.get(pos..).unwrap_or_default();
                check_record_type(pos, partial)?;
                return Ok(Peek::NeedMore);
            }
        };
        check_record_type(pos, header)?;
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if length == 0 || length > MAX_RECORD_PAYLOAD {
            return Err(SniError::RecordLength {
                offset: pos,
                length,
            });
        }
        let payload_start = pos + RECORD_HEADER;
        let payload_end = payload_start + length;
        let available = bytes
            .get(payload_start..payload_end.min(bytes.len()))
            .unwrap_or_default();
        if !available.is_empty() {
            fragments.push((message.len(), payload_start));
            message.extend_from_slice(available);
        }

        if let [handshake_type, l0, l1, l2, ..] = message[..] {
            if handshake_type != HANDSHAKE_CLIENT_HELLO {
                return Err(SniError::NotClientHello {
                    offset: RECORD_HEADER,
                    handshake_type,
                });
            }
            let body_len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
            let total = HANDSHAKE_HEADER + body_len;
            // Every record so far had a header; the rest of the message
            // needs at least its own bytes.
            let needed = RECORD_HEADER * fragments.len() + total;
            if needed > MAX_CLIENT_HELLO_BYTES {
                return Err(SniError::TooLarge { offset: 0, needed });
            }
            if let Some(hello) = message.get(HANDSHAKE_HEADER..total) {
                return parse_client_hello(hello).map_err(|fault| fault.into_error(&fragments));
            }
        }

        if payload_end > bytes.len() {
            return Ok(Peek::NeedMore);
        }
        pos = payload_end;
    }
}

/// Checks the (possibly partial) header of a record inside the ClientHello.
fn check_record_type(offset: usize, header: &[u8]) -> Result<(), SniError> {
    let content_type = header.first().copied().unwrap_or(CONTENT_HANDSHAKE);
    let version_major = header.get(1).copied().unwrap_or(3);
    if content_type == CONTENT_HANDSHAKE && version_major == 3 {
        return Ok(());
    }
    Err(SniError::UnexpectedRecord {
        offset,
        content_type,
        version_major: header.get(1).copied().unwrap_or(0),
    })
}

/// Parses a complete ClientHello body (after the 4-byte handshake header).
fn parse_client_hello(body: &[u8]) -> Result<Peek, Fault> {
    let mut r = Reader::new(body, HANDSHAKE_HEADER);
    r.take(2, "legacy_version is truncated")?;
    r.take(32, "random is truncated")?;
    let session_id = r.vec8("session id runs past the end of the ClientHello")?;
    if session_id.len() > 32 {
        return Err(Fault::malformed(
            session_id.base - 1,
            "session id is longer than 32 bytes",
        ));
    }
    let suites = r.vec16("cipher suite list runs past the end of the ClientHello")?;
    if suites.len() < 2 || suites.len() % 2 != 0 {
        return Err(Fault::malformed(
            suites.base - 2,
            "cipher suite list length must be even and at least 2",
        ));
    }
    let compression = r.vec8("compression method list runs past the end of the ClientHello")?;
    if compression.is_empty() {
        return Err(Fault::malformed(
            compression.base - 1,
            "compression method list is empty",
        ));
    }

    let mut server_name = None;
    let mut alpn = Vec::new();
    if r.is_empty() {
        // A TLS 1.0-1.2 ClientHello may end without extensions.
        return Ok(Peek::Hello { server_name, alpn });
    }
    let mut extensions = r.vec16("extension block runs past the end of the ClientHello")?;
    if !r.is_empty() {
        return Err(Fault::malformed(
            r.offset(),
            "bytes follow the extension block",
        ));
    }
    let mut seen = BTreeSet::new();
    while !extensions.is_empty() {
        let start = extensions.offset();
        let extension = extensions.u16("extension type is truncated")?;
        let data = extensions.vec16("extension runs past the end of the extension block")?;
        if !seen.insert(extension) {
            return Err(Fault {
                at: start,
                kind: FaultKind::Duplicate(extension),
            });
        }
        match extension {
            EXT_SERVER_NAME => server_name = parse_server_name(data)?,
            EXT_ALPN => alpn = parse_alpn(data)?,
            _ => {}
        }
    }
    Ok(Peek::Hello { server_name, alpn })
}

/// Parses the `server_name` extension data: a `ServerNameList`.
fn parse_server_name(mut data: Reader<'_>) -> Result<Option<String>, Fault> {
    let mut list = data.vec16("server name list runs past the end of its extension")?;
    if !data.is_empty() {
        return Err(Fault::malformed(
            data.offset(),
            "bytes follow the server name list",
        ));
    }
    if list.is_empty() {
        return Err(Fault::malformed(list.base, "server name list is empty"));
    }
    let mut host_name = None;
    while !list.is_empty() {
        let start = list.offset();
        let name_type = list.u8("server name type is truncated")?;
        let name = list.vec16("server name runs past the end of the list")?;
        if name_type != NAME_TYPE_HOST_NAME {
            // No other name type is defined; skip it like rustls does.
            continue;
        }
        if host_name.is_some() {
            return Err(Fault::malformed(
                start,
                "server name list has two host_name entries",
            ));
        }
        host_name = Some(check_host_name(name.rest(), name.base)?);
    }
    Ok(host_name)
}

/// Checks and lowercases an SNI host name.
fn check_host_name(raw: &[u8], at: usize) -> Result<String, Fault> {
    let invalid = |reason| Fault {
        at,
        kind: FaultKind::ServerName {
            name: String::from_utf8_lossy(raw.get(..255).unwrap_or(raw)).into_owned(),
            reason,
        },
    };
    let name = raw.strip_suffix(b".").unwrap_or(raw);
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.len() > MAX_HOST_NAME {
        return Err(invalid("the name is longer than 253 bytes"));
    }
    if let Some(bad) = name
        .iter()
        .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    {
        return Err(invalid(if bad.is_ascii() {
            "only ASCII letters, digits, `-`, `_` and `.` may appear in a host name"
        } else {
            "the name is not ASCII (IDNs are sent as xn-- A-labels)"
        }));
    }
    for label in name.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(invalid("the name has an empty label"));
        }
        if label.len() > MAX_LABEL {
            return Err(invalid("a label is longer than 63 bytes"));
        }
    }
    // Only ASCII bytes are left (checked above), so this cannot fail.
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    Ok(name)
}

/// Parses the ALPN extension data: a `ProtocolNameList`.
fn parse_alpn(mut data: Reader<'_>) -> Result<Vec<String>, Fault> {
    let mut list = data.vec16("ALPN protocol list runs past the end of its extension")?;
    if !data.is_empty() {
        return Err(Fault::malformed(
            data.offset(),
            "bytes follow the ALPN protocol list",
        ));
    }
    if list.is_empty() {
        return Err(Fault::malformed(list.base, "ALPN protocol list is empty"));
    }
    let mut protocols = Vec::new();
    while !list.is_empty() {
        let start = list.offset();
        let name = list.vec8("ALPN protocol name runs past the end of the list")?;
        if name.is_empty() {
            return Err(Fault::malformed(start, "ALPN protocol name is empty"));
        }
        protocols.push(String::from_utf8_lossy(name.rest()).into_owned());
    }
    Ok(protocols)
}

/// A fault inside the reassembled handshake message, at a message offset.
struct Fault {
    /// Offset in the handshake message (header included).
    at: usize,
    kind: FaultKind,
}

enum FaultKind {
    Malformed(&'static str),
    Duplicate(u16),
    ServerName { name: String, reason: &'static str },
}

impl Fault {
    fn malformed(at: usize, reason: &'static str) -> Fault {
        Fault {
            at,
            kind: FaultKind::Malformed(reason),
        }
    }

    /// Turns the message offset into an offset in the wire bytes.
    fn into_error(self, fragments: &[(usize, usize)]) -> SniError {
        let index = fragments
            .partition_point(|&(in_message, _)| in_message <= self.at)
            .saturating_sub(1);
        let offset = fragments
            .get(index)
            .map_or(self.at, |&(in_message, on_wire)| {
                on_wire + self.at.saturating_sub(in_message)
            });
        match self.kind {
            FaultKind::Malformed(reason) => SniError::Malformed { offset, reason },
            FaultKind::Duplicate(extension) => SniError::DuplicateExtension { offset, extension },
            FaultKind::ServerName { name, reason } => SniError::InvalidServerName {
                offset,
                name,
                reason,
            },
        }
    }
}

/// A bounds-checked cursor over part of the handshake message.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of `data[0]` in the handshake message.
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], base: usize) -> Reader<'a> {
        Reader { data, pos: 0, base }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn len(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// Takes the next `n` bytes as a sub-reader.
    fn take(&mut self, n: usize, truncated: &'static str) -> Result<Reader<'a>, Fault> {
        let start = self.pos;
        let taken = start
            .checked_add(n)
            .and_then(|end| self.data.get(start..end))
            .ok_or_else(|| Fault::malformed(self.offset(), truncated))?;
        self.pos += n;
        Ok(Reader::new(taken, self.base + start))
    }

    fn u8(&mut self, truncated: &'static str) -> Result<u8, Fault> {
        let bytes = self.take(1, truncated)?;
        Ok(bytes.data[0])
    }

    fn u16(&mut self, truncated: &'static str) -> Result<u16, Fault> {
        let bytes = self.take(2, truncated)?;
        Ok(u16::from_be_bytes([bytes.data[0], bytes.data[1]]))
    }

    /// Takes a vector with a one-byte length prefix.
    fn vec8(&mut self, truncated: &'static str) -> Result<Reader<'a>, Fault> {
        let start = self.offset();
        let len = self.u8(truncated)?;
        self.take(usize::from(len), truncated)
            .map_err(|_| Fault::malformed(start, truncated))
    }

    /// Takes a vector with a two-byte length prefix.
    fn vec16(&mut self, truncated: &'static str) -> Result<Reader<'a>, Fault> {
        let start = self.offset();
        let len = self.u16(truncated)?;
        self.take(usize::from(len), truncated)
            .map_err(|_| Fault::malformed(start, truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a ClientHello handshake message (header included).
    fn client_hello(extensions: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0xAB; 32]);
        body.extend_from_slice(&[32]);
        body.extend_from_slice(&[0xCD; 32]);
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
        if let Some(extensions) = extensions {
            body.extend_from_slice(&u16_len(extensions.len()));
            body.extend_from_slice(extensions);
        }
        let mut message = vec![1];
        message.extend_from_slice(&u24_len(body.len()));
        message.extend_from_slice(&body);
        message
    }

    fn u16_len(len: usize) -> [u8; 2] {
        u16::try_from(len)
            .expect("test data fits u16")
            .to_be_bytes()
    }

    fn u24_len(len: usize) -> [u8; 3] {
        let [_, a, b, c] = u32::try_from(len).expect("test data fits").to_be_bytes();
        [a, b, c]
    }

    fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&u16_len(data.len()));
        out.extend_from_slice(data);
        out
    }

    fn sni_ext(name: &[u8]) -> Vec<u8> {
        let mut entry = vec![NAME_TYPE_HOST_NAME];
        entry.extend_from_slice(&u16_len(name.len()));
        entry.extend_from_slice(name);
        let mut list = u16_len(entry.len()).to_vec();
        list.extend_from_slice(&entry);
        extension(EXT_SERVER_NAME, &list)
    }

    fn alpn_ext(protocols: &[&[u8]]) -> Vec<u8> {
        let mut names = Vec::new();
        for p in protocols {
            names.push(u8::try_from(p.len()).expect("short name"));
            names.extend_from_slice(p);
        }
        let mut list = u16_len(names.len()).to_vec();
        list.extend_from_slice(&names);
        extension(EXT_ALPN, &list)
    }

    /// Wraps a handshake message into records of at most `chunk` bytes.
    fn records(message: &[u8], chunk: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        for piece in message.chunks(chunk) {
            wire.extend_from_slice(&[CONTENT_HANDSHAKE, 3, 1]);
            wire.extend_from_slice(&u16_len(piece.len()));
            wire.extend_from_slice(piece);
        }
        wire
    }

    fn hello(name: Option<&str>, alpn: &[&str]) -> Peek {
        Peek::Hello {
            server_name: name.map(str::to_owned),
            alpn: alpn.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// Every strict prefix must ask for more; the whole must give `expected`.
    fn assert_streams(wire: &[u8], expected: &Peek) {
        for end in 0..wire.len() {
            assert_eq!(
                peek_client_hello(&wire[..end]),
                Ok(Peek::NeedMore),
                "prefix of {end} of {} bytes",
                wire.len()
            );
        }
        assert_eq!(peek_client_hello(wire).as_ref(), Ok(expected));
    }

    fn rustls_client_hello() -> Vec<u8> {
        use std::sync::Arc;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let name = rustls::pki_types::ServerName::try_from("example.com").expect("valid name");
        let mut conn =
            rustls::ClientConnection::new(Arc::new(config), name).expect("client connection");
        let mut wire = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut wire).expect("writing to a Vec");
        }
        wire
    }

    /// The handshake message inside single-record wire bytes.
    fn unwrap_record(wire: &[u8]) -> Vec<u8> {
        let len = usize::from(u16::from_be_bytes([wire[3], wire[4]]));
        wire[RECORD_HEADER..RECORD_HEADER + len].to_vec()
    }

    #[test]
    fn hand_built_hellos() {
        let both = [sni_ext(b"Example.COM"), alpn_ext(&[b"h2", b"http/1.1"])].concat();
        let grease_and_name = [
            extension(0x0A0A, b""),
            sni_ext(b"a.b.example."),
            extension(0x002B, &[2, 3, 4]),
        ]
        .concat();
        let cases: Vec<(&str, Vec<u8>, Peek)> = vec![
            (
                "sni and alpn",
                client_hello(Some(&both)),
                hello(Some("example.com"), &["h2", "http/1.1"]),
            ),
            (
                "sni among other extensions, trailing dot",
                client_hello(Some(&grease_and_name)),
                hello(Some("a.b.example"), &[]),
            ),
            ("no extensions at all", client_hello(None), hello(None, &[])),
            (
                "empty extension block",
                client_hello(Some(&[])),
                hello(None, &[]),
            ),
            (
                "alpn only",
                client_hello(Some(&alpn_ext(&[b"\xFFx", b"h2"]))),
                hello(None, &["\u{FFFD}x", "h2"]),
            ),
            (
                "underscore and digits",
                client_hello(Some(&sni_ext(b"_srv.1-2.example"))),
                hello(Some("_srv.1-2.example"), &[]),
            ),
        ];
        for (name, message, expected) in cases {
            for chunk in [usize::MAX, 1, 3, 50] {
                let wire = records(&message, chunk.min(message.len()));
                assert_eq!(
                    peek_client_hello(&wire),
                    Ok(expected.clone()),
                    "{name}, records of {chunk}"
                );
            }
            assert_streams(&records(&message, 7), &expected);
        }
    }

    #[test]
    fn not_tls() {
        let cases: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n",
            b"G",
            b"\x16\x02",
            b"\x16\x03\x05",
            b"\x80\x2e\x01\x03\x01", // SSLv2-style hello
            b"\x17\x03\x03\x00\x10",
            b"PRI * HTTP/2.0\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n",
        ];
        for bytes in cases {
            assert_eq!(peek_client_hello(bytes), Ok(Peek::NotTls), "{bytes:?}");
        }
    }

    #[test]
    fn need_more() {
        let cases: &[&[u8]] = &[
            b"",
            b"\x16",
            b"\x16\x03",
            b"\x16\x03\x01",
            b"\x16\x03\x01\x00",
            b"\x16\x03\x01\x00\x05",
            b"\x16\x03\x01\x00\x05\x01\x00",
            // A complete first record and the start of the second.
            b"\x16\x03\x01\x00\x02\x01\x00\x16\x03",
        ];
        for bytes in cases {
            assert_eq!(peek_client_hello(bytes), Ok(Peek::NeedMore), "{bytes:?}");
        }
    }

    #[test]
    fn errors_with_offsets() {
        let message = client_hello(Some(&sni_ext(b"example.com")));
        let mut two_records = records(&message, 20);
        // Make the second record an application_data record.
        two_records[RECORD_HEADER + 20] = 23;

        let mut bad_suites = client_hello(None);
        // The cipher suite length sits after 4 + 2 + 32 + 1 + 32 bytes.
        bad_suites[71..73].copy_from_slice(&[0, 3]);

        // Where the first SNI name starts: record header, handshake header,
        // version, random, session id, suites, compression, extension block
        // length, extension header, list length, name type, name length.
        const NAME_AT: usize = 5 + 4 + 2 + 32 + (1 + 32) + (2 + 4) + (1 + 1) + 2 + 4 + 2 + 1 + 2;

        let cases: Vec<(&str, Vec<u8>, SniError)> = vec![
            (
                "empty record",
                b"\x16\x03\x01\x00\x00".to_vec(),
                SniError::RecordLength {
                    offset: 0,
                    length: 0,
                },
            ),
            (
                "oversized record",
                b"\x16\x03\x01\x40\x01\x01".to_vec(),
                SniError::RecordLength {
                    offset: 0,
                    length: 16385,
                },
            ),
            (
                "server hello",
                b"\x16\x03\x03\x00\x04\x02\x00\x00\x00".to_vec(),
                SniError::NotClientHello {
                    offset: 5,
                    handshake_type: 2,
                },
            ),
            (
                "interleaved record",
                two_records,
                SniError::UnexpectedRecord {
                    offset: 25,
                    content_type: 23,
                    version_major: 3,
                },
            ),
            (
                "too large",
                b"\x16\x03\x01\x00\x04\x01\x00\x40\x00".to_vec(),
                SniError::TooLarge {
                    offset: 0,
                    needed: 5 + 4 + 0x4000,
                },
            ),
            (
                "odd cipher suite length",
                records(&bad_suites, usize::MAX),
                SniError::Malformed {
                    offset: 5 + 71,
                    reason: "cipher suite list length must be even and at least 2",
                },
            ),
            (
                "uppercase is fine but a space is not",
                records(&client_hello(Some(&sni_ext(b"a b.example"))), 4096),
                SniError::InvalidServerName {
                    offset: NAME_AT,
                    name: "a b.example".into(),
                    reason: "only ASCII letters, digits, `-`, `_` and `.` may appear in a host name",
                },
            ),
            (
                "duplicate sni",
                records(
                    &client_hello(Some(
                        &[sni_ext(b"a.example"), sni_ext(b"b.example")].concat(),
                    )),
                    4096,
                ),
                SniError::DuplicateExtension {
                    offset: NAME_AT + 9,
                    extension: 0,
                },
            ),
        ];
        for (name, wire, expected) in cases {
            assert_eq!(peek_client_hello(&wire), Err(expected), "{name}");
        }
    }

    #[test]
    fn malformed_extensions() {
        // Each case is an extension block; the expected reason names the fault.
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "extension longer than the block",
                vec![0, 0, 0, 9, 0],
                "extension runs past the end of the extension block",
            ),
            (
                "truncated extension type",
                vec![0],
                "extension type is truncated",
            ),
            (
                "empty server name list",
                extension(EXT_SERVER_NAME, &[0, 0]),
                "server name list is empty",
            ),
            (
                "empty server_name extension",
                extension(EXT_SERVER_NAME, &[]),
                "server name list runs past the end of its extension",
            ),
            (
                "server name longer than list",
                extension(EXT_SERVER_NAME, &[0, 4, 0, 0, 9, b'a']),
                "server name runs past the end of the list",
            ),
            (
                "bytes after the server name list",
                extension(EXT_SERVER_NAME, &[0, 4, 0, 0, 1, b'a', 0]),
                "bytes follow the server name list",
            ),
            (
                "two host names",
                extension(EXT_SERVER_NAME, &[0, 8, 0, 0, 1, b'a', 0, 0, 1, b'b']),
                "server name list has two host_name entries",
            ),
            (
                "empty alpn list",
                extension(EXT_ALPN, &[0, 0]),
                "ALPN protocol list is empty",
            ),
            (
                "empty alpn name",
                extension(EXT_ALPN, &[0, 1, 0]),
                "ALPN protocol name is empty",
            ),
            (
                "alpn name past the list",
                extension(EXT_ALPN, &[0, 2, 5, b'h']),
                "ALPN protocol name runs past the end of the list",
            ),
        ];
        for (name, block, reason) in cases {
            let wire = records(&client_hello(Some(&block)), 4096);
            match peek_client_hello(&wire) {
                Err(SniError::Malformed { reason: got, .. }) => assert_eq!(got, reason, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_host_names() {
        let long_label = [b'a'; 64];
        let long_name = [b"a.".repeat(126).as_slice(), b"ab"].concat();
        let cases: Vec<(&[u8], &str)> = vec![
            (b".", "the name is empty"),
            (b"a..b", "the name has an empty label"),
            (b".a", "the name has an empty label"),
            (&long_label, "a label is longer than 63 bytes"),
            (&long_name, "the name is longer than 253 bytes"),
            (
                "exämple.com".as_bytes(),
                "the name is not ASCII (IDNs are sent as xn-- A-labels)",
            ),
            (
                b"[::1]",
                "only ASCII letters, digits, `-`, `_` and `.` may appear in a host name",
            ),
            (
                b"a/b",
                "only ASCII letters, digits, `-`, `_` and `.` may appear in a host name",
            ),
            (
                b"a\0b",
                "only ASCII letters, digits, `-`, `_` and `.` may appear in a host name",
            ),
        ];
        for (name, reason) in cases {
            let wire = records(&client_hello(Some(&sni_ext(name))), 4096);
            match peek_client_hello(&wire) {
                Err(SniError::InvalidServerName { reason: got, .. }) => {
                    assert_eq!(got, reason, "{name:?}")
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn rustls_client_hello_is_read() {
        let wire = rustls_client_hello();
        let expected = hello(Some("example.com"), &["h2", "http/1.1"]);
        assert_eq!(peek_client_hello(&wire), Ok(expected.clone()));
        assert_streams(&wire, &expected);

        // The same handshake message split into many records.
        let message = unwrap_record(&wire);
        for chunk in [1, 2, 5, 100, 255] {
            let split = records(&message, chunk);
            assert_eq!(
                peek_client_hello(&split),
                Ok(expected.clone()),
                "records of {chunk}"
            );
        }
        assert_streams(&records(&message, 64), &expected);

        // Bytes after the ClientHello are ignored.
        let mut more = wire.clone();
        more.extend_from_slice(b"\x14\x03\x03\x00\x01\x01");
        assert_eq!(peek_client_hello(&more), Ok(expected));
    }

    #[test]
    fn openssl_client_hello_fixture() {
        // `openssl s_client -servername foo.example -alpn h2,http/1.1` (OpenSSL
        // 3.0) against a loopback listener that saved the first record.
        let wire = include_bytes!("../testdata/client_hello_openssl.bin");
        let expected = hello(Some("foo.example"), &["h2", "http/1.1"]);
        assert_streams(wire, &expected);
    }

    #[test]
    fn size_limit_bounds_need_more() {
        // A 1-byte-per-record ClientHello runs into the limit, as an error,
        // before the caller has buffered MAX_CLIENT_HELLO_BYTES.
        let message = client_hello(Some(&[sni_ext(b"example.com"), vec![0; 3000]].concat()));
        let wire = records(&message, 1);
        let mut last_need_more = 0;
        for end in 0..wire.len() {
            match peek_client_hello(&wire[..end]) {
                Ok(Peek::NeedMore) => last_need_more = end,
                Err(SniError::TooLarge { .. }) => break,
                other => panic!("prefix {end}: {other:?}"),
            }
        }
        assert!(last_need_more < MAX_CLIENT_HELLO_BYTES);
        assert!(matches!(
            peek_client_hello(&wire),
            Err(SniError::TooLarge { .. })
        ));

        // The largest message that fits in one record is accepted.
        let padding = MAX_CLIENT_HELLO_BYTES - RECORD_HEADER - client_hello(Some(&[])).len() - 4;
        let big = client_hello(Some(&extension(0xFFCE, &vec![0; padding])));
        let wire = records(&big, MAX_RECORD_PAYLOAD);
        assert_eq!(wire.len(), MAX_CLIENT_HELLO_BYTES);
        assert_eq!(peek_client_hello(&wire), Ok(hello(None, &[])));
    }

    #[test]
    fn mutated_input_never_panics() {
        // A fixed xorshift stream; the crate itself uses no randomness.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds = [
            rustls_client_hello(),
            include_bytes!("../testdata/client_hello_openssl.bin").to_vec(),
            records(&unwrap_record(&rustls_client_hello()), 9),
        ];
        for seed in &seeds {
            for _ in 0..3000 {
                let mut bytes = seed.clone();
                for _ in 0..1 + next() % 4 {
                    let i = (next() % bytes.len() as u64) as usize;
                    bytes[i] = next() as u8;
                }
                let end = (next() % (bytes.len() as u64 + 1)) as usize;
                let _ = peek_client_hello(&bytes[..end]);
                let _ = peek_client_hello(&bytes);
            }
        }
    }
}
