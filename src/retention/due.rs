//! When a request's forgettable data is due for crypto-shredding (DESIGN §4.4): a pure function
//! of the request's state and the policy's `[ledger_retention]`.

use chrono::{DateTime, Utc};

use crate::policy::document::LedgerRetention;

/// States after which nothing more happens to a request, but for its notification.
pub const FINAL_STATES: &[&str] = &[
    "rejected",
    "withdrawn",
    "expired",
    "disclosed",
    "no_data",
    "emergency_validated",
    "emergency_validation_failed",
];

/// What retention needs to know of one request.
#[derive(Debug, Clone)]
pub struct Facts {
    pub status: String,
    pub notification: String,
    pub emergency: bool,
    pub legal_hold: bool,
    pub shredded: bool,
    /// Time of the request's newest entry: when it reached its present state.
    pub last_change: DateTime<Utc>,
    /// While the notification is delayed: until when.
    pub delayed_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Shredded already.
    Shredded,
    /// Under legal hold: never, until the hold is lifted.
    Held,
    /// Still open, or waiting for something (a notification, an emergency validation).
    Open,
    /// Due at this instant.
    At(DateTime<Utc>),
}

/// The request is closed when it is in a final state and, after an answer, its notification
/// was sent or waived (the user needs the nonce until then) and no emergency validation is
/// pending. Closed: due `after_closure` after its last change. Notification delayed (a gag):
/// due `after_gag` after the delay ends, whatever follows.
pub fn due(f: &Facts, r: &LedgerRetention) -> Due {
    if f.shredded {
        return Due::Shredded;
    }
    if f.legal_hold {
        return Due::Held;
    }
    if !FINAL_STATES.contains(&f.status.as_str()) {
        return Due::Open;
    }
    let answered = matches!(f.status.as_str(), "disclosed" | "no_data");
    if answered && f.emergency {
        return Due::Open; // its emergency validation is pending
    }
    match f.notification.as_str() {
        "delayed" => match f.delayed_until {
            Some(until) => Due::At(until + r.after_gag()),
            None => Due::Open,
        },
        "pending" => Due::Open,
        _ => Due::At(f.last_change + r.after_closure()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: &str, notification: &str) -> Facts {
        Facts {
            status: status.into(),
            notification: notification.into(),
            emergency: false,
            legal_hold: false,
            shredded: false,
            last_change: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().into(),
            delayed_until: None,
        }
    }

    fn policy() -> LedgerRetention {
        LedgerRetention {
            after_closure: "10d".into(),
            after_gag: "1d".into(),
        }
    }

    #[test]
    fn a_closed_request_is_due_after_closure_and_an_open_one_never() {
        let at = |s: &str| Due::At(DateTime::parse_from_rfc3339(s).unwrap().into());
        assert_eq!(due(&facts("disclosed", "sent"), &policy()), at("2026-01-11T00:00:00Z"));
        assert_eq!(due(&facts("rejected", "none"), &policy()), at("2026-01-11T00:00:00Z"));
        assert_eq!(due(&facts("disclosed", "pending"), &policy()), Due::Open);
        assert_eq!(due(&facts("approved", "none"), &policy()), Due::Open);
        let mut gagged = facts("disclosed", "delayed");
        gagged.delayed_until = Some(DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().into());
        assert_eq!(due(&gagged, &policy()), at("2026-06-02T00:00:00Z"));
        let mut emergency = facts("disclosed", "sent");
        emergency.emergency = true;
        assert_eq!(due(&emergency, &policy()), Due::Open);
        let mut held = facts("disclosed", "sent");
        held.legal_hold = true;
        assert_eq!(due(&held, &policy()), Due::Held);
    }
}
