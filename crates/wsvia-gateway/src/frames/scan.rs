//! Where frames begin and end in one direction's byte stream, so the relay can pass them
//! on as they are (masks and all) and still know where a frame of its own may go.
//!
//! Headers are parsed by tungstenite's [`FrameHeader`]; payloads are never copied aside
//! or unmasked, except control frames (at most 125 bytes), which are kept whole until
//! they are complete so a keepalive answer can be recognised and dropped.
//!
//! # Examples
//! ```
//! use wsvia_gateway::frames::scan::{Passed, Scanner, Writer};
//! // A server's unmasked text frame "hi", arriving in two reads.
//! let wire = [0x81, 0x02, b'h', b'i'];
//! let mut scanner = Scanner::new(Writer::Server, 1 << 20);
//! let mut copy = Vec::new();
//! let mut passed = Passed::new(&wire[..1], &mut copy);
//! scanner.scan(&wire[..1], &mut passed);
//! assert!(passed.bytes().is_empty()); // half a header: kept for the next read
//! let mut passed = Passed::new(&wire[1..], &mut copy);
//! let (seen, violation) = scanner.scan(&wire[1..], &mut passed);
//! assert_eq!(passed.bytes(), &wire[..]);
//! assert_eq!((seen.messages, seen.payload, violation), (1, 2, None));
//! ```

use std::io::Cursor;

use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

/// The payload of the gateway's own pings; a pong carrying it is the answer to one of
/// them and goes no further.
///
/// # Examples
/// ```
/// assert_eq!(wsvia_gateway::frames::scan::KEEPALIVE, b"wsvia-keepalive");
/// ```
pub const KEEPALIVE: &[u8] = b"wsvia-keepalive";

/// The longest control frame: a 14-byte header and a 125-byte payload.
const CONTROL_FRAME_MAX: usize = 14 + 125;

/// Who writes the frames a scanner reads: clients must mask every frame, servers never.
///
/// # Examples
/// ```
/// use wsvia_gateway::frames::scan::{Scanner, Writer};
/// let from_client = Scanner::new(Writer::Client, 16 << 20);
/// assert!(from_client.at_boundary());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// A client: every frame masked.
    Client,
    /// A server: no frame masked.
    Server,
}

/// A frame that breaks RFC 6455 or the size limit: the relay closes with `code`.
///
/// # Examples
/// ```
/// use wsvia_gateway::frames::scan::{Passed, Scanner, Writer};
/// use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
/// let unmasked_from_a_client = [0x81, 0x01, b'x'];
/// let mut scanner = Scanner::new(Writer::Client, 1024);
/// let mut copy = Vec::new();
/// let mut passed = Passed::new(&unmasked_from_a_client, &mut copy);
/// let (_, violation) = scanner.scan(&unmasked_from_a_client, &mut passed);
/// assert_eq!(violation.unwrap().code, CloseCode::Protocol);
/// assert!(passed.bytes().is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// The Close code to send the side that broke the rule (1002, or 1009 for size).
    pub code: CloseCode,
    /// Which rule, for the log and the Close reason.
    pub why: &'static str,
}

impl Violation {
    fn protocol(why: &'static str) -> Self {
        Self {
            code: CloseCode::Protocol,
            why,
        }
    }

    fn size(why: &'static str) -> Self {
        Self {
            code: CloseCode::Size,
            why,
        }
    }
}

/// What one call to [`Scanner::scan`] passed on.
///
/// # Examples
/// ```
/// let seen = wsvia_gateway::frames::scan::Scanned::default();
/// assert_eq!((seen.messages, seen.payload, seen.close), (0, 0, false));
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Data messages whose last frame began here.
    pub messages: u64,
    /// Payload bytes of data frames passed on.
    pub payload: u64,
    /// A Close frame was passed on (the last frame this writer may send).
    pub close: bool,
}

/// Where [`Scanner::scan`] puts the bytes to pass on from one read. While they are the
/// read's own bytes in order from its start (the usual case), only their count is kept and
/// nothing is copied; a frame left out, or one begun in an earlier read, switches to a copy.
///
/// # Examples
/// See the [module](self).
#[derive(Debug)]
pub struct Passed<'a> {
    input: &'a [u8],
    prefix: usize,
    copy: &'a mut Vec<u8>,
    copying: bool,
}

impl<'a> Passed<'a> {
    /// Bytes passed on from `input`, using `copy` (cleared) when they differ from it.
    ///
    /// # Examples
    /// ```
    /// let mut copy = Vec::new();
    /// let passed = wsvia_gateway::frames::scan::Passed::new(b"abc", &mut copy);
    /// assert!(passed.bytes().is_empty());
    /// ```
    pub fn new(input: &'a [u8], copy: &'a mut Vec<u8>) -> Self {
        copy.clear();
        Self {
            input,
            prefix: 0,
            copy,
            copying: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if !self.copying {
            if std::ptr::eq(bytes.as_ptr(), self.input[self.prefix..].as_ptr()) {
                self.prefix += bytes.len();
                return;
            }
            self.copying = true;
            self.copy.extend_from_slice(&self.input[..self.prefix]);
        }
        self.copy.extend_from_slice(bytes);
    }

    /// Where the bytes to pass on are, for [`poll_forward`](wsvia_server::relay::poll_forward):
    /// a prefix of the input, or the copy.
    ///
    /// # Examples
    /// ```
    /// use wsvia_server::relay::Forward;
    /// let mut copy = Vec::new();
    /// let passed = wsvia_gateway::frames::scan::Passed::new(b"abc", &mut copy);
    /// assert_eq!(passed.forward(), Forward::Read(0));
    /// ```
    pub fn forward(&self) -> wsvia_server::relay::Forward {
        if self.copying {
            wsvia_server::relay::Forward::Copy
        } else {
            wsvia_server::relay::Forward::Read(self.prefix)
        }
    }

    /// Everything to pass on.
    ///
    /// # Examples
    /// See the [module](self).
    pub fn bytes(&self) -> &[u8] {
        if self.copying {
            self.copy
        } else {
            &self.input[..self.prefix]
        }
    }
}

/// The state of one direction between reads.
///
/// # Examples
/// See the [module](self).
#[derive(Debug)]
pub struct Scanner {
    writer: Writer,
    max_message: u64,
    /// Payload bytes of the current data frame still to pass on (0: at a frame boundary).
    remaining: u64,
    /// A fragmented message is open: its next frame must be a continuation.
    in_message: bool,
    /// Payload bytes of the open message so far.
    message_len: u64,
    /// The start of a frame too short to act on yet (a header, or a control frame).
    carry: Vec<u8>,
    /// Frames are read but not passed on: a Close went to the other side first, or this
    /// side broke the protocol. Only a Close is still looked for (the closing handshake).
    muted: bool,
    /// Nothing more is read: this side's Close went by, or its frames can't be parsed.
    done: bool,
    /// Report this side's Close but do not pass it on: the relay sends its own instead.
    hold_close: bool,
}

impl Scanner {
    /// A scanner for frames written by `writer`, refusing messages over `max_message`.
    ///
    /// # Examples
    /// See [`Writer`].
    pub fn new(writer: Writer, max_message: usize) -> Self {
        Self {
            writer,
            max_message: max_message as u64,
            remaining: 0,
            in_message: false,
            message_len: 0,
            carry: Vec::new(),
            muted: false,
            done: false,
            hold_close: false,
        }
    }

    /// True between frames, where the relay may put a frame of its own into the output.
    ///
    /// # Examples
    /// See [`Writer`].
    pub fn at_boundary(&self) -> bool {
        self.remaining == 0
    }

    /// Pass nothing more on (the output was closed), but still report this side's Close.
    ///
    /// # Examples
    /// ```
    /// use wsvia_gateway::frames::scan::{Passed, Scanner, Writer};
    /// let mut scanner = Scanner::new(Writer::Server, 1024);
    /// scanner.mute();
    /// let close = [0x88, 0x02, 0x03, 0xE8]; // Close 1000
    /// let mut copy = Vec::new();
    /// let mut passed = Passed::new(&close, &mut copy);
    /// assert!(scanner.scan(&close, &mut passed).0.close);
    /// assert!(passed.bytes().is_empty());
    /// ```
    pub fn mute(&mut self) {
        self.muted = true;
    }

    /// Keep (`true`) or pass on this side's Close frame when it comes.
    ///
    /// # Examples
    /// As [`Scanner::mute`], for the Close only.
    pub fn hold_close(&mut self, hold: bool) {
        self.hold_close = hold;
    }

    fn stop(&mut self) {
        self.done = true;
        self.carry = Vec::new();
    }

    /// Append to `out` the bytes of `input` to pass on, and say what went by. A violation
    /// mutes the scanner; the frames before it are in `out`.
    ///
    /// # Examples
    /// See the [module](self).
    pub fn scan(&mut self, mut input: &[u8], out: &mut Passed<'_>) -> (Scanned, Option<Violation>) {
        let mut seen = Scanned::default();
        let mut violation = None;
        while !input.is_empty() && !self.done {
            if self.remaining > 0 {
                let n = input
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                if !self.muted {
                    out.push(&input[..n]);
                    seen.payload += n as u64;
                }
                self.remaining -= n as u64;
                input = &input[n..];
                continue;
            }
            let old = self.carry.len();
            if old > 0 {
                let take = input.len().min(CONTROL_FRAME_MAX - old);
                self.carry.extend_from_slice(&input[..take]);
            }
            let carry = std::mem::take(&mut self.carry);
            let buf: &[u8] = if old > 0 { &carry } else { input };
            let frame = match self.next_frame(buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    // Too short to act on: keep it (less than one control frame) for the next read.
                    debug_assert!(old == 0 || carry.len() - old == input.len());
                    self.carry = if old > 0 { carry } else { input.to_vec() };
                    return (seen, violation);
                }
                Err(v) => {
                    // No length to skip by: nothing more can be read from this side.
                    self.stop();
                    if !self.muted {
                        violation = Some(v);
                    }
                    return (seen, violation);
                }
            };
            let taken = frame.taken;
            let bytes = &buf[..taken];
            if let Err(v) = self.pass(&frame, bytes, out, &mut seen) {
                // Muted from here on; the offender's Close reply is still looked for.
                self.muted = true;
                violation = Some(v);
            }
            input = &input[taken - old..];
            let mut carry = carry;
            carry.clear();
            if carry.capacity() <= CONTROL_FRAME_MAX {
                self.carry = carry;
            }
        }
        (seen, violation)
    }

    /// Scan all of `wire` as reads of `read` bytes each (the last may be shorter), as a
    /// relay would: everything passed on, the totals, and the first violation.
    ///
    /// # Examples
    /// ```
    /// use wsvia_gateway::frames::scan::{Scanner, Writer};
    /// let two_messages = [0x81, 0x01, b'a', 0x82, 0x01, b'b'];
    /// let (out, seen, violation) = Scanner::new(Writer::Server, 1024).scan_reads(&two_messages, 1);
    /// assert_eq!((out.as_slice(), seen.messages, violation), (&two_messages[..], 2, None));
    /// ```
    pub fn scan_reads(
        &mut self,
        wire: &[u8],
        read: usize,
    ) -> (Vec<u8>, Scanned, Option<Violation>) {
        let (mut out, mut copy) = (Vec::new(), Vec::new());
        let mut total = Scanned::default();
        let mut first = None;
        for piece in wire.chunks(read.max(1)) {
            let mut passed = Passed::new(piece, &mut copy);
            let (seen, violation) = self.scan(piece, &mut passed);
            out.extend_from_slice(passed.bytes());
            total.messages += seen.messages;
            total.payload += seen.payload;
            total.close |= seen.close;
            first = first.or(violation);
        }
        (out, total, first)
    }

    /// The frame at the start of `buf` if enough of it is there to act on: a data frame's
    /// header, or a whole control frame.
    fn next_frame(&self, buf: &[u8]) -> Result<Option<Frame>, Violation> {
        let mut cursor = Cursor::new(buf);
        let (header, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(None),
            Err(_) => return Err(Violation::protocol("reserved opcode")),
        };
        let header_len = cursor.position() as usize;
        let control = matches!(header.opcode, OpCode::Control(_));
        if control && len > 125 {
            return Err(Violation::protocol("control frame longer than 125 bytes"));
        }
        let taken = if control {
            header_len + len as usize
        } else {
            header_len
        };
        if buf.len() < taken {
            return Ok(None);
        }
        Ok(Some(Frame {
            header,
            header_len,
            len,
            taken,
        }))
    }

    /// Check one frame and pass it on (data: its header now, its payload as it comes).
    /// A frame that fails the check is skipped, not passed on.
    fn pass(
        &mut self,
        frame: &Frame,
        bytes: &[u8],
        out: &mut Passed<'_>,
        seen: &mut Scanned,
    ) -> Result<(), Violation> {
        let checked = if self.muted {
            Ok(())
        } else {
            self.check(frame)
        };
        let mut forward = checked.is_ok() && !self.muted;
        match frame.header.opcode {
            OpCode::Control(Control::Close) if checked.is_ok() => {
                seen.close = true;
                self.done = true;
                forward &= !self.hold_close;
            }
            OpCode::Control(Control::Pong) => {
                let payload = &bytes[frame.header_len..];
                forward &= !unmasked_equals(payload, frame.header.mask, KEEPALIVE);
            }
            OpCode::Control(_) => {}
            OpCode::Data(_) => {
                self.remaining = frame.len;
                if forward && frame.header.is_final {
                    seen.messages += 1;
                }
            }
        }
        if forward {
            out.push(bytes);
        }
        checked
    }

    /// RFC 6455 §5 for one frame from this writer, and the message size limit.
    fn check(&mut self, frame: &Frame) -> Result<(), Violation> {
        let header = &frame.header;
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(Violation::protocol(
                "reserved bits set; no extension was agreed",
            ));
        }
        match (self.writer, header.mask.is_some()) {
            (Writer::Client, false) => {
                return Err(Violation::protocol("a client frame was not masked"));
            }
            (Writer::Server, true) => return Err(Violation::protocol("a server frame was masked")),
            _ => {}
        }
        let data = match header.opcode {
            OpCode::Control(_) if !header.is_final => {
                return Err(Violation::protocol("fragmented control frame"));
            }
            OpCode::Control(Control::Close) if frame.len == 1 => {
                return Err(Violation::protocol("Close frame with a 1-byte payload"));
            }
            OpCode::Control(_) => return Ok(()),
            OpCode::Data(data) => data,
        };
        match (data, self.in_message) {
            (Data::Continue, false) => {
                return Err(Violation::protocol("continuation frame outside a message"));
            }
            (Data::Text | Data::Binary, true) => {
                return Err(Violation::protocol("new message before the last one ended"));
            }
            (Data::Continue, true) => {}
            _ => self.message_len = 0,
        }
        self.message_len = self.message_len.saturating_add(frame.len);
        if self.message_len > self.max_message {
            return Err(Violation::size("message too big"));
        }
        self.in_message = !header.is_final;
        Ok(())
    }
}

/// A parsed frame start: `taken` bytes are acted on now.
#[derive(Debug, Clone)]
struct Frame {
    header: FrameHeader,
    header_len: usize,
    len: u64,
    taken: usize,
}

/// Whether `payload`, unmasked with `mask`, equals `expected`.
fn unmasked_equals(payload: &[u8], mask: Option<[u8; 4]>, expected: &[u8]) -> bool {
    let key = mask.unwrap_or([0; 4]);
    payload.len() == expected.len()
        && payload
            .iter()
            .zip(expected)
            .enumerate()
            .all(|(i, (b, e))| b ^ key[i % 4] == *e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame as WsFrame};

    fn frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let header = FrameHeader {
            is_final: fin,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
        };
        let f = WsFrame::from_payload(header, payload.to_vec().into());
        let mut out = Vec::new();
        f.format(&mut out).unwrap();
        out
    }

    const TEXT: OpCode = OpCode::Data(Data::Text);
    const BINARY: OpCode = OpCode::Data(Data::Binary);
    const CONT: OpCode = OpCode::Data(Data::Continue);
    const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

    #[test]
    fn frames_pass_unchanged_whatever_the_read_boundaries() {
        let mut wire = frame(TEXT, false, b"hel", KEY);
        wire.extend(frame(OpCode::Control(Control::Ping), true, b"p", KEY));
        wire.extend(frame(CONT, true, b"lo", KEY));
        wire.extend(frame(BINARY, true, &vec![7u8; 70_000], KEY));
        for step in [1, 2, 3, 13, 64, 1000, usize::MAX] {
            let mut s = Scanner::new(Writer::Client, 1 << 20);
            let (out, seen, violation) = s.scan_reads(&wire, step.min(wire.len()));
            assert_eq!(violation, None, "step {step}");
            assert_eq!(out, wire, "step {step}");
            assert_eq!(seen.messages, 2);
            assert_eq!(seen.payload, 5 + 70_000);
            assert!(s.at_boundary());
        }
    }

    #[test]
    fn whole_frames_pass_without_a_copy_and_a_dropped_pong_makes_one() {
        let data = frame(BINARY, true, &[5u8; 1000], KEY);
        let mut copy = Vec::new();
        let mut s = Scanner::new(Writer::Client, 1 << 20);
        let mut passed = Passed::new(&data, &mut copy);
        s.scan(&data, &mut passed);
        assert_eq!(passed.bytes(), &data[..]);
        assert!(!passed.copying);

        let mut wire = frame(OpCode::Control(Control::Pong), true, KEEPALIVE, KEY);
        wire.extend(&data);
        let mut passed = Passed::new(&wire, &mut copy);
        s.scan(&wire, &mut passed);
        assert_eq!(passed.bytes(), &data[..]);
        assert!(passed.copying);
    }

    #[test]
    fn the_boundary_is_known_inside_a_frame() {
        let wire = frame(BINARY, true, &[0u8; 100], None);
        let mut s = Scanner::new(Writer::Server, 1 << 20);
        let mut copy = Vec::new();
        s.scan(&wire[..50], &mut Passed::new(&wire[..50], &mut copy));
        assert!(!s.at_boundary());
        s.scan(&wire[50..], &mut Passed::new(&wire[50..], &mut copy));
        assert!(s.at_boundary());
    }

    #[test]
    fn answers_to_the_gateways_pings_are_dropped_and_other_pongs_pass() {
        let ours = frame(OpCode::Control(Control::Pong), true, KEEPALIVE, KEY);
        let theirs = frame(OpCode::Control(Control::Pong), true, b"app", KEY);
        let mut wire = ours.clone();
        wire.extend(&theirs);
        for step in [1, 5, wire.len()] {
            let mut s = Scanner::new(Writer::Client, 1024);
            let (out, _, violation) = s.scan_reads(&wire, step);
            assert_eq!(violation, None);
            assert_eq!(out, theirs, "step {step}");
        }
    }

    #[test]
    fn a_close_passes_and_nothing_after_it() {
        let mut close = WsFrame::close(Some(CloseFrame {
            code: CloseCode::Library(4000),
            reason: "bye".into(),
        }));
        close.header_mut().mask = KEY;
        let mut wire = Vec::new();
        close.format(&mut wire).unwrap();
        let close_len = wire.len();
        wire.extend(frame(TEXT, true, b"late", KEY));
        let mut s = Scanner::new(Writer::Client, 1024);
        let (out, seen, violation) = s.scan_reads(&wire, 3);
        assert_eq!(violation, None);
        assert!(seen.close);
        assert_eq!(out, &wire[..close_len]);
    }

    #[test]
    fn protocol_breaks_are_named_and_stop_the_stream_after_the_good_frames() {
        let good = frame(TEXT, true, b"ok", KEY);
        let cases: Vec<(Vec<u8>, Writer, CloseCode)> = vec![
            (
                frame(TEXT, true, b"x", None),
                Writer::Client,
                CloseCode::Protocol,
            ),
            (
                frame(TEXT, true, b"x", KEY),
                Writer::Server,
                CloseCode::Protocol,
            ),
            (
                frame(CONT, true, b"x", KEY),
                Writer::Client,
                CloseCode::Protocol,
            ),
            (
                vec![0x83, 0x80, 0, 0, 0, 0],
                Writer::Client,
                CloseCode::Protocol,
            ),
            (
                vec![0xC1, 0x80, 0, 0, 0, 0],
                Writer::Client,
                CloseCode::Protocol,
            ),
            (
                frame(OpCode::Control(Control::Ping), false, b"", KEY),
                Writer::Client,
                CloseCode::Protocol,
            ),
            (
                vec![0x89, 0xFE, 0, 126, 0, 0, 0, 0],
                Writer::Client,
                CloseCode::Protocol,
            ),
            (
                frame(OpCode::Control(Control::Close), true, b"x", KEY),
                Writer::Client,
                CloseCode::Protocol,
            ),
            (
                frame(BINARY, true, &[0u8; 2000], KEY),
                Writer::Client,
                CloseCode::Size,
            ),
        ];
        for (i, (bad, writer, code)) in cases.into_iter().enumerate() {
            let good = if writer == Writer::Client {
                good.clone()
            } else {
                frame(TEXT, true, b"ok", None)
            };
            let mut wire = good.clone();
            wire.extend(&bad);
            wire.extend(&good);
            let mut s = Scanner::new(writer, 1024);
            let (out, _, violation) = s.scan_reads(&wire, wire.len());
            assert_eq!(violation.map(|v| v.code), Some(code), "case {i}");
            assert_eq!(out, good, "case {i}");
        }
    }

    #[test]
    fn after_a_violation_nothing_passes_but_the_offenders_close_is_still_seen() {
        let mut wire = frame(TEXT, true, b"x", None);
        wire.extend(frame(TEXT, true, b"y", KEY));
        wire.extend(frame(OpCode::Control(Control::Close), true, &[3, 232], KEY));
        let mut s = Scanner::new(Writer::Client, 1024);
        let (out, seen, violation) = s.scan_reads(&wire, 2);
        assert_eq!(violation.map(|v| v.code), Some(CloseCode::Protocol));
        assert!(out.is_empty());
        assert!(seen.close);
    }

    #[test]
    fn a_muted_scanner_passes_nothing_and_still_sees_the_close() {
        let mut wire = frame(BINARY, true, &[9u8; 300], KEY);
        wire.extend(frame(OpCode::Control(Control::Close), true, &[3, 232], KEY));
        let mut s = Scanner::new(Writer::Client, 1024);
        s.mute();
        let (out, seen, violation) = s.scan_reads(&wire, 7);
        assert_eq!(
            (out.len(), seen.payload, seen.close, violation),
            (0, 0, true, None)
        );
    }

    #[test]
    fn a_held_close_is_reported_and_not_passed_on() {
        let data = frame(TEXT, true, b"echo", None);
        let mut wire = data.clone();
        wire.extend(frame(
            OpCode::Control(Control::Close),
            true,
            &[3, 233],
            None,
        ));
        let mut s = Scanner::new(Writer::Server, 1024);
        s.hold_close(true);
        let (out, seen, violation) = s.scan_reads(&wire, 4);
        assert_eq!((seen.close, violation), (true, None));
        assert_eq!(out, data);
    }

    #[test]
    fn a_message_over_the_limit_is_refused_even_in_small_fragments() {
        let mut wire = frame(BINARY, false, &[0u8; 600], KEY);
        wire.extend(frame(CONT, true, &[0u8; 600], KEY));
        let mut s = Scanner::new(Writer::Client, 1000);
        let (_, _, violation) = s.scan_reads(&wire, 100);
        assert_eq!(violation.map(|v| v.code), Some(CloseCode::Size));
    }
}
