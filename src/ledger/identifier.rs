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

/// Normalises `raw` as an identifier of `kind`; a phone number must then be in international
/// form (`+` or `00` and the country code).
pub fn normalize(kind: &str, raw: &str) -> Result<String, LedgerError> {
    normalize_in(kind, raw, None)
}

/// Normalises `raw` as an identifier of `kind`. `country` (ISO 3166-1 alpha-3, the requesting
/// authority's) lets a phone number be given in national form, as that country writes it.
pub fn normalize_in(kind: &str, raw: &str, country: Option<&str>) -> Result<String, LedgerError> {
    match kind {
        PHONE_NUMBER => phone(raw, country),
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

/// Longest raw phone number accepted, in bytes, before the parser sees it.
const MAX_PHONE_INPUT: usize = 64;

/// ITU-T E.164 (`+`, country code, national significant number) by libphonenumber's rules and
/// metadata (the `phonenumber` crate): separators and a trunk prefix written in brackets, as in
/// `+33 (0)6 12 34 56 78`, are dropped, and a number that is not valid for its country is
/// refused. A national number (`06 12 34 56 78`) needs `country`; `00` stands for `+` when no
/// country is given.
fn phone(raw: &str, country: Option<&str>) -> Result<String, LedgerError> {
    use phonenumber::{country::Id, Mode};
    let s = raw.trim();
    if s.len() > MAX_PHONE_INPUT {
        return Err(malformed(PHONE_NUMBER, "is too long to be a phone number"));
    }
    let region: Option<Id> = country
        .and_then(|c| isocountry::CountryCode::for_alpha3(c).ok())
        .and_then(|c| c.alpha2().parse().ok());
    let international = s.starts_with('+') || (region.is_none() && s.starts_with("00"));
    if !international && region.is_none() {
        return Err(malformed(
            PHONE_NUMBER,
            "a national number needs the requesting authority's country; otherwise start with + and the country code",
        ));
    }
    let text = match s.strip_prefix("00") {
        Some(rest) if region.is_none() => format!("+{rest}"),
        _ => s.to_string(),
    };
    let number = phonenumber::parse(region, &text).map_err(|_| {
        malformed(
            PHONE_NUMBER,
            if international {
                "is not a phone number in international form"
            } else {
                "is not a phone number of the requesting authority's country"
            },
        )
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(malformed(PHONE_NUMBER, "is not a valid number for its country code"));
    }
    Ok(number.format().mode(Mode::E164).to_string())
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
    fn phone_numbers_in_national_form_need_a_country_and_are_never_echoed() {
        let err = normalize(PHONE_NUMBER, "06 12 34 56 78").unwrap_err();
        assert!(!err.to_string().contains("12 34"), "{err}");
        assert_eq!(
            normalize_in(PHONE_NUMBER, "06 12 34 56 78", Some("FRA")).unwrap(),
            "+33612345678"
        );
        assert_eq!(
            normalize_in(PHONE_NUMBER, "030 1234567", Some("DEU")).unwrap(),
            "+49301234567"
        );
    }

    #[test]
    fn one_subscriber_has_one_e164_form_whatever_the_spelling() {
        for spelling in [
            "+33 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "+33 (0) 6-12-34-56-78",
            "+330612345678",
            "0033 6 12 34 56 78",
            "0033 (6) 12-34-56-78",
            "+33.6.12.34.56.78",
        ] {
            assert_eq!(normalize(PHONE_NUMBER, spelling).unwrap(), "+33612345678", "{spelling}");
        }
        // A national spelling with the country's trunk prefix, and the same under another
        // authority's country given with +.
        assert_eq!(
            normalize_in(PHONE_NUMBER, "+33 (0)6 12 34 56 78", Some("DEU")).unwrap(),
            "+33612345678"
        );
        assert_eq!(
            normalize(PHONE_NUMBER, "+44 (0)20 7946 0018").unwrap(),
            normalize(PHONE_NUMBER, "+44 20 7946 0018").unwrap()
        );
    }

    #[test]
    fn numbers_not_valid_for_their_country_are_refused() {
        for bad in [
            "+1234567",
            "+1234567890123456",
            "+33 6x",
            "+33 1",
            "+33 6 12 34 56 78 90",
            "+999 123456789",
            "+",
            "",
        ] {
            assert!(normalize(PHONE_NUMBER, bad).is_err(), "{bad}");
        }
        assert!(normalize(PHONE_NUMBER, &"1".repeat(10_000)).is_err());
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
