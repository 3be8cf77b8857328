//! Identifier normalisation (DESIGN §4.4): one spelling per identifier, so that the same phone
//! number or address always yields the same commitment under the same nonce.
//!
//! Error messages name the kind and what is wrong, never the value: a malformed phone number is
//! still somebody's phone number.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::LedgerError;

pub const PHONE_NUMBER: &str = "phone_number";
pub const IP_ADDRESS: &str = "ip_address";
pub const USERNAME: &str = "username";
pub const USER_ID: &str = "user_id";

/// Normalises `raw` as an identifier of `kind`.
pub fn normalize(kind: &str, raw: &str) -> Result<String, LedgerError> {
    match kind {
        PHONE_NUMBER => phone(raw),
        IP_ADDRESS => ip(raw),
        USERNAME => username(raw),
        USER_ID => user_id(raw),
        _ => Err(LedgerError::UnknownIdentifierKind),
    }
}

fn malformed(kind: &str, reason: &str) -> LedgerError {
    LedgerError::MalformedIdentifier {
        kind: kind.to_string(),
        reason: reason.to_string(),
    }
}

/// ITU-T E.164: `+` and 8 to 15 digits, the first not 0. Accepts the usual visual separators
/// (spaces, `-`, `.`, `(`, `)`) and the international prefix `00` in place of `+`.
fn phone(raw: &str) -> Result<String, LedgerError> {
    let s = raw.trim();
    let rest = if let Some(r) = s.strip_prefix('+') {
        r
    } else if let Some(r) = s.strip_prefix("00") {
        r
    } else {
        return Err(malformed(
            PHONE_NUMBER,
            "must be in international form, starting with + and the country code",
        ));
    };
    let mut digits = String::with_capacity(15);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(malformed(
                    PHONE_NUMBER,
                    "may hold only digits and the separators space - . ( )",
                ))
            }
        }
    }
    if digits.starts_with('0') {
        return Err(malformed(PHONE_NUMBER, "country code cannot start with 0"));
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(malformed(PHONE_NUMBER, "E.164 numbers have 8 to 15 digits"));
    }
    Ok(format!("+{digits}"))
}

/// IPv4 as a dotted quad without leading zeros; IPv6 in the RFC 5952 text form (lower case,
/// longest run of zero groups compressed), which is how Rust's `Ipv6Addr` displays.
fn ip(raw: &str) -> Result<String, LedgerError> {
    let s = raw.trim();
    if s.contains(':') {
        let a: Ipv6Addr = s
            .parse()
            .map_err(|_| malformed(IP_ADDRESS, "not a valid IPv6 address"))?;
        Ok(a.to_string())
    } else {
        let a: Ipv4Addr = s
            .parse()
            .map_err(|_| malformed(IP_ADDRESS, "not a valid IPv4 dotted quad"))?;
        Ok(a.to_string())
    }
}

/// Usernames are case-insensitive on the platform: `@` dropped, lower-cased; 1 to 64 of
/// `[a-z0-9_]`.
fn username(raw: &str) -> Result<String, LedgerError> {
    let s = raw.trim();
    let s = s.strip_prefix('@').unwrap_or(s).to_ascii_lowercase();
    if s.is_empty() || s.len() > 64 {
        return Err(malformed(USERNAME, "must have 1 to 64 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(malformed(USERNAME, "may hold only letters, digits and _"));
    }
    Ok(s)
}

/// A platform user id, as given: decimal digits only, no sign, at most 20 digits (u64).
fn user_id(raw: &str) -> Result<String, LedgerError> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(USER_ID, "must be 1 to 20 decimal digits"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_national_form_are_refused_without_echoing_them() {
        let err = normalize(PHONE_NUMBER, "06 12 34 56 78").unwrap_err();
        assert!(!err.to_string().contains("12 34"), "{err}");
    }

    #[test]
    fn phone_numbers_with_an_international_prefix_normalise_to_e164() {
        assert_eq!(normalize(PHONE_NUMBER, "0033 (6) 12-34-56-78").unwrap(), "+33612345678");
        assert!(normalize(PHONE_NUMBER, "+1234567").is_err());
        assert!(normalize(PHONE_NUMBER, "+1234567890123456").is_err());
        assert!(normalize(PHONE_NUMBER, "+33 6x").is_err());
    }

    #[test]
    fn ip_addresses_normalise_and_garbage_is_refused() {
        assert_eq!(
            normalize(IP_ADDRESS, "2001:DB8:0:0:1:0:0:1").unwrap(),
            "2001:db8::1:0:0:1"
        );
        assert_eq!(normalize(IP_ADDRESS, "::FFFF:192.0.2.1").unwrap(), "::ffff:192.0.2.1");
        assert!(normalize(IP_ADDRESS, "256.1.1.1").is_err());
        assert!(normalize(IP_ADDRESS, "010.1.1.1").is_err());
        assert!(normalize(IP_ADDRESS, "1.2.3.*").is_err());
    }

    #[test]
    fn usernames_and_user_ids_are_checked() {
        assert!(normalize(USERNAME, "@bad name").is_err());
        assert!(normalize(USER_ID, "-5").is_err());
        assert!(matches!(
            normalize("email", "x"),
            Err(LedgerError::UnknownIdentifierKind)
        ));
    }
}
