//! JSON as Go's `encoding/json` writes it.
//!
//! The API server encodes JSON with `json.NewEncoder(w).Encode(obj)`
//! (`apimachinery/pkg/runtime/serializer/json/json.go`), whose `EscapeHTML` is on by default.
//! serde_json and Go agree on every escape but these: Go also writes `<`, `>` and `&` as
//! `\u003c`, `\u003e`, `\u0026`, and U+2028 / U+2029 as `\u2028` / `\u2029`
//! (`encoding/json/encode.go`, `appendString`). [`GoFormatter`] adds those escapes to
//! serde_json, so that the reference JSON has Go's exact length; [`string_len`] is the same rule as
//! a length computation for the fast path.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// A compact serde_json formatter that escapes like Go's `encoding/json` with `EscapeHTML`.
#[derive(Clone, Copy, Debug, Default)]
pub struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Serializes `value` as compact JSON with Go's escaping.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Bytes an escape adds to each byte: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f` one;
/// other control characters and `<`, `>`, `&` (`\u00XX`) five.
const ESCAPE_EXTRA: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = 5;
        b += 1;
    }
    let mut i = 0;
    let short = [b'"', b'\\', b'\n', b'\r', b'\t', 0x08, 0x0c];
    while i < short.len() {
        t[short[i] as usize] = 1;
        i += 1;
    }
    t[b'<' as usize] = 5;
    t[b'>' as usize] = 5;
    t[b'&' as usize] = 5;
    t
};

/// Whether Go writes every byte of `s` as itself: printable ASCII without `"`, `\`, `<`, `>`,
/// `&`. Eight bytes at a time (SWAR), then the few left over.
fn is_plain(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `v` that is zero (exact as a whole: some byte is zero iff
    // the result is non-zero).
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    // Non-zero iff some byte is not plain: >= 0x80; < 0x20 (exact once all are ASCII);
    // `"` or `&` (0x22, 0x26: equal once bit 2 is set); `<` or `>` (0x3c, 0x3e: bit 1); `\`.
    let word = |w: u64| {
        (w & HIGH)
            | (w.wrapping_sub(0x20 * ONES) & !w & HIGH)
            | zero((w | (0x04 * ONES)) ^ (0x26 * ONES))
            | zero((w | (0x02 * ONES)) ^ (0x3e * ONES))
            | zero(w ^ (0x5c * ONES))
    };
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if word(u64::from_le_bytes(w)) != 0 {
            return false;
        }
    }
    // The last 0 to 7 bytes one by one: copying them into a padded word costs a `memcpy` call.
    chunks
        .remainder()
        .iter()
        .all(|&b| b < 0x80 && ESCAPE_EXTRA[usize::from(b)] == 0)
}

/// Length of `s` as a Go JSON string literal, quotes included.
pub fn string_len(s: &str) -> usize {
    // Almost every string is plain: only the others are counted byte by byte.
    if is_plain(s.as_bytes()) {
        return s.len() + 2;
    }
    let mut n = s.len() + 2;
    let mut high = 0u8;
    for &b in s.as_bytes() {
        n += usize::from(ESCAPE_EXTRA[usize::from(b)]);
        high |= b;
    }
    // U+2028 and U+2029 are E2 80 A8 / E2 80 A9 in UTF-8: 3 bytes written as 6.
    if high >= 0x80 && s.as_bytes().contains(&0xE2) {
        n += 3 * (s.matches('\u{2028}').count() + s.matches('\u{2029}').count());
    }
    n
}

/// Number of bytes in the decimal form of `v`.
pub fn int_len(v: i64) -> usize {
    let mut n = if v < 0 { 2 } else { 1 };
    let mut u = v.unsigned_abs();
    while u >= 10 {
        u /= 10;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_characters_are_escaped_like_go() {
        // Go: json.Marshal("a<b>&c") == `"a\u003cb\u003e\u0026c"` (encoding/json, EscapeHTML).
        let out = to_vec("a<b>&c").unwrap();
        assert_eq!(out, br#""a\u003cb\u003e\u0026c""#);
        assert_eq!(string_len("a<b>&c"), out.len());
    }

    #[test]
    fn line_separators_are_escaped_like_go() {
        let s = "x\u{2028}y\u{2029}";
        let out = to_vec(s).unwrap();
        assert_eq!(out, br#""x\u2028y\u2029""#);
        assert_eq!(string_len(s), out.len());
    }

    #[test]
    fn control_characters_and_quotes() {
        for s in [
            "\"",
            "\\",
            "\n\t\r",
            "\u{1}",
            "\u{8}\u{c}",
            "é",
            "plain",
            "",
        ] {
            assert_eq!(string_len(s), to_vec(s).unwrap().len(), "{s:?}");
        }
    }

    /// Every ASCII character alone and amid plain text, against the serialiser.
    #[test]
    fn every_ascii_character() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            for s in [c.to_string(), format!("ab{c}cd{c}")] {
                assert_eq!(string_len(&s), to_vec(&s).unwrap().len(), "{s:?}");
            }
        }
    }

    /// Every ASCII character at every position of strings up to 40 bytes (the chunk edges).
    #[test]
    fn every_ascii_character_at_every_position() {
        for len in 1..=40 {
            for at in 0..len {
                for b in 0u8..0x80 {
                    let mut s = vec![b'x'; len];
                    s[at] = b;
                    let s = String::from_utf8(s).unwrap();
                    assert_eq!(string_len(&s), to_vec(&s).unwrap().len(), "{s:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string(s in ".{0,80}") {
            proptest::prop_assert_eq!(string_len(&s), to_vec(&s).unwrap().len());
        }
    }

    #[test]
    fn int_lengths() {
        for v in [0, 7, 10, -1, -10, 99, 100, i64::MAX, i64::MIN] {
            assert_eq!(int_len(v), v.to_string().len());
        }
    }
}
