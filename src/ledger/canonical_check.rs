//! A single-pass check that bytes are an entry in RFC 8785 canonical form, without building a
//! JSON tree. `verify` runs it on every stored entry, so it must cost about as much as hashing
//! the bytes; [`super::Entry::from_canonical`] (parse, re-serialise, compare) is the reference
//! it is tested against.
//!
//! RFC 8785 for the values an entry may hold (no floating point, §4.1): no white space;
//! object members sorted by the UTF-16 code units of their names, no duplicates; strings with
//! exactly the escapes of ECMAScript `JSON.stringify` (§3.2.2.2: `\"`, `\\`, `\b \t \n \f \r`,
//! `\u00xx` in lower case for the other controls, nothing else escaped); integers without
//! leading zeros, `-0`, fraction or exponent, within ±(2^53 − 1) (I-JSON, RFC 7493 §2.2).

use super::is_lower_hex64;
use super::LedgerError;

/// The top-level members of an entry, in canonical order (DESIGN §4.1).
const MEMBERS: [&str; 8] = ["index", "kind", "prev", "public", "sealed", "subject", "time", "v"];
const MAX_SAFE: u64 = (1 << 53) - 1;
const MAX_DEPTH: usize = 64;

/// What the chain check needs of an entry, borrowed from its canonical bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryView<'a> {
    pub index: u64,
    /// 64 lowercase hex digits (checked).
    pub prev: &'a str,
    /// As spelled in the bytes, JSON escapes included.
    pub kind: &'a str,
    /// `None` for `null`; as spelled in the bytes, JSON escapes included.
    pub subject: Option<&'a str>,
    /// RFC 3339 UTC with milliseconds (checked).
    pub time: &'a str,
    /// The commitment to sealed details, 64 lowercase hex digits (checked), or `None` for
    /// `null`.
    pub sealed: Option<&'a str>,
}

fn not_canonical() -> LedgerError {
    LedgerError::NotCanonical
}

fn malformed(what: &str) -> LedgerError {
    LedgerError::MalformedEntry(what.to_string())
}

/// Checks that `bytes` are a canonical entry and returns the fields the chain needs.
pub fn check_entry(bytes: &[u8]) -> Result<EntryView<'_>, LedgerError> {
    // RFC 8785 §3.2.1 and I-JSON: text is UTF-8. The parser below reads bytes, so this one
    // check (found by the fuzzer) keeps invalid sequences out of strings.
    if std::str::from_utf8(bytes).is_err() {
        return Err(not_canonical());
    }
    let mut p = Parser { b: bytes, i: 0 };
    let mut spans: [(usize, usize); 8] = [(0, 0); 8];
    p.expect(b'{')?;
    for (k, name) in MEMBERS.iter().enumerate() {
        if k > 0 {
            p.expect(b',')
                .map_err(|_| malformed("an entry has exactly the eight members of DESIGN §4.1"))?;
        }
        let (ks, ke) = p.string()?;
        if &bytes[ks..ke] != name.as_bytes() {
            return Err(malformed(
                "an entry has exactly the eight members of DESIGN §4.1, in canonical order",
            ));
        }
        p.expect(b':')?;
        let start = p.i;
        p.value(0)?;
        spans[k] = (start, p.i);
    }
    p.expect(b'}')
        .map_err(|_| malformed("an entry has exactly the eight members of DESIGN §4.1"))?;
    if p.i != bytes.len() {
        return Err(not_canonical());
    }
    let raw = |k: usize| &bytes[spans[k].0..spans[k].1];
    // Every member was just checked to be canonical JSON; what is left is its type.
    let text = |k: usize| -> Option<&str> {
        let r = raw(k);
        (r.len() >= 2 && r[0] == b'"')
            .then(|| std::str::from_utf8(&r[1..r.len() - 1]).ok())
            .flatten()
    };
    let index = std::str::from_utf8(raw(0))
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| malformed("index must be a non-negative integer"))?;
    let kind = text(1)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("kind must be a string"))?;
    let prev = text(2)
        .filter(|s| is_lower_hex64(s))
        .ok_or_else(|| malformed("prev must be 64 lowercase hex digits"))?;
    if raw(3).first() != Some(&b'{') {
        return Err(malformed("public must be an object"));
    }
    let sealed = if raw(4) == b"null" {
        None
    } else {
        Some(
            text(4)
                .filter(|s| is_lower_hex64(s))
                .ok_or_else(|| malformed("sealed must be 64 lowercase hex digits or null"))?,
        )
    };
    let subject = if raw(5) == b"null" {
        None
    } else {
        Some(text(5).ok_or_else(|| malformed("subject must be a string or null"))?)
    };
    let time = text(6)
        .filter(|s| super::entry::is_rfc3339_millis_utc(s))
        .ok_or_else(|| malformed("time must be RFC 3339 UTC with milliseconds"))?;
    if raw(7) != b"1" {
        return Err(malformed("v must be 1"));
    }
    Ok(EntryView {
        index,
        prev,
        kind,
        subject,
        time,
        sealed,
    })
}

/// Whether `bytes` are one JSON value in RFC 8785 canonical form (integers only).
pub fn is_canonical(bytes: &[u8]) -> bool {
    if std::str::from_utf8(bytes).is_err() {
        return false;
    }
    let mut p = Parser { b: bytes, i: 0 };
    p.value(0).is_ok() && p.i == bytes.len()
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), LedgerError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(not_canonical())
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), LedgerError> {
        if depth > MAX_DEPTH {
            return Err(malformed("nested too deeply"));
        }
        match self.peek().ok_or_else(not_canonical)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => Err(not_canonical()),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), LedgerError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(not_canonical())
        }
    }

    fn integer(&mut self) -> Result<(), LedgerError> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let digits = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let d = &self.b[digits..self.i];
        if d.is_empty() || (d[0] == b'0' && (d.len() > 1 || negative)) {
            return Err(not_canonical());
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(LedgerError::FloatInEntry);
        }
        let n: u64 = std::str::from_utf8(&self.b[digits..self.i])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        if n > MAX_SAFE {
            return Err(malformed(&format!(
                "integer of {} digits is beyond ±(2^53 − 1)",
                self.i - start
            )));
        }
        Ok(())
    }

    /// A canonical string; returns the span of its contents (between the quotes).
    fn string(&mut self) -> Result<(usize, usize), LedgerError> {
        self.expect(b'"')?;
        let start = self.i;
        loop {
            // Fast path: plain characters up to the next quote, backslash or control byte.
            let rest = &self.b[self.i..];
            self.i += rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(rest.len());
            match self.peek().ok_or_else(not_canonical)? {
                b'"' => {
                    let end = self.i;
                    self.i += 1;
                    return Ok((start, end));
                }
                b'\\' => {
                    let esc = self.b.get(self.i + 1).copied().ok_or_else(not_canonical)?;
                    match esc {
                        b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => self.i += 2,
                        b'u' => {
                            let hex = self.b.get(self.i + 2..self.i + 6).ok_or_else(not_canonical)?;
                            let lower = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
                            if &hex[..2] != b"00" || !hex.iter().all(lower) {
                                return Err(not_canonical());
                            }
                            let v =
                                u8::from_str_radix(std::str::from_utf8(&hex[2..]).map_err(|_| not_canonical())?, 16)
                                    .map_err(|_| not_canonical())?;
                            // Only controls without a short escape are written as \u00xx.
                            if v >= 0x20 || matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return Err(not_canonical());
                            }
                            self.i += 6;
                        }
                        _ => return Err(not_canonical()),
                    }
                }
                c if c < 0x20 => return Err(not_canonical()),
                _ => self.i += 1,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), LedgerError> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value(depth + 1)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(not_canonical()),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), LedgerError> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        let mut previous: Option<(usize, usize)> = None;
        loop {
            let key = self.string()?;
            if let Some(prev) = previous {
                if key_order(&self.b[prev.0..prev.1], &self.b[key.0..key.1])? != std::cmp::Ordering::Less {
                    return Err(not_canonical());
                }
            }
            previous = Some(key);
            self.expect(b':')?;
            self.value(depth + 1)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(not_canonical()),
            }
        }
    }
}

/// Orders two raw (still escaped) member names by the UTF-16 code units of their values.
fn key_order(a: &[u8], b: &[u8]) -> Result<std::cmp::Ordering, LedgerError> {
    let plain = |s: &[u8]| s.iter().all(|&c| c.is_ascii() && c != b'\\');
    if plain(a) && plain(b) {
        return Ok(a.cmp(b));
    }
    let decode = |s: &[u8]| -> Result<Vec<u16>, LedgerError> {
        let quoted = [b"\"".as_slice(), s, b"\""].concat();
        let text: String = serde_json::from_slice(&quoted).map_err(|_| not_canonical())?;
        Ok(text.encode_utf16().collect())
    };
    Ok(decode(a)?.cmp(&decode(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_canonical_spellings_are_refused() {
        for s in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a": 1}"#,
            r#"{"a":01}"#,
            r#"{"a":-0}"#,
            r#"{"a":1.0}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":"\u000A"}"#,
            r#"{"a":"\u000a"}"#,
            r#"{"a":9007199254740992}"#,
            r#"[1,]"#,
            r#"{"a":tru}"#,
        ] {
            assert!(!is_canonical(s.as_bytes()), "{s}");
        }
        // Invalid UTF-8 inside a string (a fuzzer's find: fuzz/corpus/canonical_check).
        assert!(!is_canonical(b"{\"a\":\"2026-11-2\xc9T\"}"));
        assert!(!is_canonical(b"\"\xed\xa0\x80\""));
        for s in [
            r#"{"a":"\u001f","b":[true,false,null,-5]}"#.to_string(),
            "{\"A\":1,\"a\":2,\"\u{1F600}\":3,\"\u{E000}\":4}".to_string(),
        ] {
            assert!(is_canonical(s.as_bytes()), "{s}");
        }
    }
}
