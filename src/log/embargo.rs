//! DESIGN §4.5: a request's entries become public at the end of the quarter they were written
//! in plus 30 days, so that publishing the log does not tip off a live investigation.
//! Log-level entries (`subject: null`: policies, authorities) are public at once.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

const GRACE_DAYS: i64 = 30;

/// When the entry written at `time` (RFC 3339) stops being embargoed; `None` for a log-level
/// entry, which never is.
pub fn embargo_ends(subject: Option<&str>, time: &str) -> Option<DateTime<Utc>> {
    subject?;
    // Fails closed: a request entry whose time does not parse stays embargoed for good rather
    // than being shown at once.
    let Ok(t) = DateTime::parse_from_rfc3339(time) else {
        return Some(DateTime::<Utc>::MAX_UTC);
    };
    let t = t.with_timezone(&Utc);
    let quarter_start_month = ((t.month() - 1) / 3) * 3 + 1;
    let (y, m) = if quarter_start_month == 10 {
        (t.year() + 1, 1)
    } else {
        (t.year(), quarter_start_month + 3)
    };
    let next_quarter = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?.and_utc();
    Some(next_quarter + Duration::days(GRACE_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_entry_is_embargoed_until_thirty_days_after_its_quarter() {
        let end = embargo_ends(Some("x"), "2026-11-22T10:00:00.001Z").unwrap();
        assert_eq!(end.to_rfc3339(), "2027-01-31T00:00:00+00:00");
        let end = embargo_ends(Some("x"), "2026-01-01T00:00:00.000Z").unwrap();
        assert_eq!(end.to_rfc3339(), "2026-05-01T00:00:00+00:00");
        assert_eq!(embargo_ends(None, "2026-01-01T00:00:00.000Z"), None);
        assert_eq!(embargo_ends(Some("x"), "not a time"), Some(DateTime::<Utc>::MAX_UTC));
    }
}
