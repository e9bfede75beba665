//! The frame-aware gateway's frame scanner (where frames begin and end in a byte stream).
//!
//! Input: one control byte, then the wire. Bit 0 picks who wrote the frames (client or
//! server), the other bits how many bytes each read brings (1 to 128).
//!
//! Invariants: scanning the wire in reads of any size passes on exactly the bytes, and
//! reports exactly the messages, payload, Close and first violation, that scanning it in
//! one read does (the relay sees whatever read boundaries TCP makes); and what is passed
//! on is the wire with some frames left out, never bytes it did not hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_gateway::frames::scan::{Scanned, Scanner, Violation, Writer};

/// Everything passed on, the totals, the first violation, and whether it ended between
/// frames.
fn scan_in_reads(
    writer: Writer,
    wire: &[u8],
    read: usize,
) -> (Vec<u8>, Scanned, Option<Violation>, bool) {
    let mut scanner = Scanner::new(writer, 4096);
    let (out, total, first) = scanner.scan_reads(wire, read);
    (out, total, first, scanner.at_boundary())
}

fn is_subsequence(part: &[u8], whole: &[u8]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|b| rest.any(|w| w == b))
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, wire)) = data.split_first() else {
        return;
    };
    let writer = if control & 1 == 0 {
        Writer::Client
    } else {
        Writer::Server
    };
    let read = usize::from(control >> 1) + 1;
    let whole = scan_in_reads(writer, wire, wire.len());
    let pieces = scan_in_reads(writer, wire, read);
    assert_eq!(whole, pieces, "reads of {read} bytes");
    assert!(
        is_subsequence(&whole.0, wire),
        "passed on bytes the wire did not hold"
    );
    assert!(whole.1.payload <= whole.0.len() as u64);
});
