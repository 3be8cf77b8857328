//! The body of a C2SP `tlog-witness` `add-checkpoint` request:
//!
//! ```text
//! old <size>\n                 decimal, no leading zeroes
//! <base64 hash>\n              0 to 63 consistency-proof lines (RFC 6962 §2.1.2)
//! \n
//! <signed checkpoint note>
//! ```

use base64::prelude::{Engine as _, BASE64_STANDARD};

use super::{Hash, LedgerError};

/// Most consistency-proof lines a client may send (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

#[derive(Debug, Clone, PartialEq)]
pub struct AddCheckpoint {
    /// The size of the latest checkpoint the client believes the witness cosigned.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, exactly as sent.
    pub checkpoint: Vec<u8>,
}

fn malformed(why: &str) -> LedgerError {
    LedgerError::Checkpoint(format!("add-checkpoint body: {why}"))
}

impl AddCheckpoint {
    /// # Errors
    /// [`LedgerError::Checkpoint`] naming the first line that breaks the grammar above.
    pub fn parse(body: &[u8]) -> Result<Self, LedgerError> {
        let mut rest = body;
        let mut next_line = || -> Result<&[u8], LedgerError> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| malformed("a line does not end in a newline"))?;
            let line = &rest[..end];
            rest = &rest[end + 1..];
            Ok(line)
        };
        let old = next_line()?;
        let digits = old
            .strip_prefix(b"old ")
            .ok_or_else(|| malformed("the first line is not `old <size>`"))?;
        let canonical =
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) && (digits == b"0" || digits[0] != b'0');
        let old_size = std::str::from_utf8(digits)
            .ok()
            .filter(|_| canonical)
            .and_then(|d| d.parse::<u64>().ok())
            .ok_or_else(|| malformed("the old size is not a decimal without leading zeroes"))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line()?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(malformed("more than 63 consistency-proof lines"));
            }
            let raw = BASE64_STANDARD
                .decode(line)
                .map_err(|_| malformed("a proof line is not base64"))?;
            let hash: [u8; 32] = raw
                .try_into()
                .map_err(|_| malformed("a proof line is not a 32-byte hash"))?;
            proof.push(Hash(hash));
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(BASE64_STANDARD.encode(h.0).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_round_trips() {
        let body = AddCheckpoint {
            old_size: 20852014,
            proof: vec![Hash([1; 32]), Hash([2; 32])],
            checkpoint: b"example.com/log\n5\nAAAA\n\n\xe2\x80\x94 x y\n".to_vec(),
        };
        assert_eq!(AddCheckpoint::parse(&body.to_bytes()).unwrap(), body);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for bad in [
            &b"old 01\n\ncp"[..],
            b"old -1\n\ncp",
            b"old \n\ncp",
            b"new 1\n\ncp",
            b"old 1\nnot base64!\n\ncp",
            b"old 1\nAAAA\n\ncp",
            b"old 1",
            b"old 18446744073709551616\n\ncp",
        ] {
            assert!(AddCheckpoint::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let many: String = std::iter::repeat_n(format!("{}\n", BASE64_STANDARD.encode([0u8; 32])), 64).collect();
        assert!(AddCheckpoint::parse(format!("old 1\n{many}\ncp").as_bytes()).is_err());
    }
}
