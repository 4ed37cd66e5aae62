//! The GPT-2 byte ↔ character mapping used by byte-level BPE vocabularies.
//!
//! Byte-level vocabularies store every token as a string of printable characters, one per
//! byte: bytes that are printable Latin-1 characters (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`) stand
//! for themselves, the other 68 bytes (controls, space, soft hyphen...) are shifted to
//! U+0100 and up in byte order. So a space is `Ġ` (U+0120) and a newline is `Ċ` (U+010A).

/// Whether `byte` is represented by the character with the same code point.
const fn is_printable(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The character standing for each byte.
const BYTE_TO_CHAR: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut next_shifted = 0x100u32;
    let mut byte = 0usize;
    while byte < 256 {
        let code = if is_printable(byte as u8) {
            byte as u32
        } else {
            let code = next_shifted;
            next_shifted += 1;
            code
        };
        // Every code here is below U+0144, far from the surrogate range.
        table[byte] = match char::from_u32(code) {
            Some(c) => c,
            None => panic!("byte-level code points are valid characters"),
        };
        byte += 1;
    }
    table
};

/// The character that stands for `byte` in a byte-level vocabulary.
pub(crate) fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[usize::from(byte)]
}

/// Number of code points the mapping uses: U+0000..U+0144 (68 shifted bytes end at U+0143).
const MAPPED_CODES: usize = 0x144;

/// The inverse of [`BYTE_TO_CHAR`], indexed by code point; `None` where no byte maps.
const CHAR_TO_BYTE: [Option<u8>; MAPPED_CODES] = {
    let mut table = [None; MAPPED_CODES];
    let mut byte = 0usize;
    while byte < 256 {
        table[BYTE_TO_CHAR[byte] as usize] = Some(byte as u8);
        byte += 1;
    }
    table
};

/// The byte a byte-level character stands for, or `None` for any other character.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    CHAR_TO_BYTE.get(c as usize).copied().flatten()
}

/// Decodes a byte-level token text into the bytes it stands for.
///
/// Characters outside the mapping (which a well-formed vocabulary never contains, but
/// special tokens such as `<|im_start|>` are plain text) are kept as their UTF-8 bytes.
pub(crate) fn decode_into(text: &str, out: &mut alloc::vec::Vec<u8>) {
    for c in text.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_characters() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'\t'), 'ĉ');
        assert_eq!(byte_to_char(b'a'), 'a');
        assert_eq!(byte_to_char(0xAD), 'Ń');
        assert_eq!(byte_to_char(0xFF), 'ÿ');
        assert_eq!(byte_to_char(0x00), 'Ā');
    }

    #[test]
    fn round_trip_every_byte() {
        let mut seen = alloc::collections::BTreeSet::new();
        for b in 0..=255u8 {
            let c = byte_to_char(b);
            assert!(seen.insert(c), "two bytes map to {c:?}");
            assert_eq!(char_to_byte(c), Some(b));
        }
        assert_eq!(char_to_byte('€'), None);
        assert_eq!(char_to_byte('\u{7f}'), None);
    }
}
