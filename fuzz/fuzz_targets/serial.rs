//! Arbitrary bytes from the serial console (a terminal, or anything plugged into COM1):
//! the escape-sequence decoder must not panic, must give the same keys however the bytes are
//! split, and must end every malformed sequence.

#![no_main]

use hal::{KeyEvent, SerialKeyDecoder};
use libfuzzer_sys::fuzz_target;

fn decode(pieces: &[&[u8]]) -> Vec<KeyEvent> {
    let mut decoder = SerialKeyDecoder::new();
    let mut keys = Vec::new();
    for piece in pieces {
        decoder.feed_slice(piece, &mut |key| keys.push(key));
    }
    decoder.flush(&mut |key| keys.push(key));
    keys
}

fuzz_target!(|data: &[u8]| {
    let [hi, lo, bytes @ ..] = data else { return };
    let whole = decode(&[bytes]);
    let at = usize::from(u16::from_be_bytes([*hi, *lo])) % (bytes.len() + 1);
    let (a, b) = bytes.split_at(at);
    assert_eq!(decode(&[a, b]), whole, "the split changed the keys");
    let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode(&one_by_one), whole, "byte-by-byte feeding changed the keys");
});
