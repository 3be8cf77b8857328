//! The policy document: the parameters of rules V1–V12 (DESIGN §3) as TOML. Parsing is strict
//! (unknown keys are errors), so a typo in a policy cannot silently loosen a rule.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub description: String,
    pub instruments: Instruments,
    pub jurisdiction: Jurisdiction,
    pub issuer: Issuer,
    pub categories: Categories,
    pub offence: Offence,
    pub specificity: Specificity,
    pub retention: Retention,
    /// How long the ledger keeps what it can forget (crypto-shredding); none: for ever.
    #[serde(default)]
    pub ledger_retention: Option<LedgerRetention>,
    pub deadlines: Deadlines,
    pub review: Review,
    /// Orders accepted (V8); none: [`DEFAULT_MAX_ORDER_AGE_DAYS`].
    #[serde(default)]
    pub orders: Option<Orders>,
}

/// The age of an order a policy accepts when it says nothing (a policy adopted before
/// `[orders]` existed): one year.
pub const DEFAULT_MAX_ORDER_AGE_DAYS: i64 = 365;

/// Orders as such, apart from what they ask for.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Orders {
    /// An order issued more than this many days before it is recorded is refused as expired
    /// (V8), whatever its `expires_at`: a stale order is not the judge's current decision.
    pub max_age_days: i64,
}

/// The ledger's own retention (GDPR Art. 5(1)(c) and (e)), distinct from [`Retention`], the
/// platform's data retention that rule V8 checks. Durations in humantime form (`"730d"`,
/// `"2s"`), from 1 second to 100 years.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LedgerRetention {
    /// Kept this long after a request is closed (a final state and, after an answer, its
    /// notification sent or waived).
    pub after_closure: String,
    /// While the notification is delayed: kept until the delay ends, then this long.
    pub after_gag: String,
}

/// Longest retention period a policy may state.
const MAX_RETENTION: std::time::Duration = std::time::Duration::from_secs(100 * 366 * 86_400);

impl LedgerRetention {
    fn parse(name: &str, text: &str) -> Result<chrono::Duration, String> {
        // `m` is minutes to humantime and `M` months: "24m" meant as two years would shred
        // everything after 24 minutes. Neither is accepted; `min` and `months` are.
        let ambiguous = text
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|unit| unit == "m" || unit == "M");
        if ambiguous {
            return Err(format!(
                "ledger_retention.{name}: `m` is ambiguous; write minutes as `min`, months as `months` (or use days, `730d`)"
            ));
        }
        let d = humantime::parse_duration(text)
            .map_err(|_| format!("ledger_retention.{name} is not a duration like \"730d\" or \"12h\""))?;
        if d < std::time::Duration::from_secs(1) || d > MAX_RETENTION {
            return Err(format!("ledger_retention.{name} must be between 1s and 100 years"));
        }
        chrono::Duration::from_std(d).map_err(|e| e.to_string())
    }

    pub fn after_closure(&self) -> chrono::Duration {
        Self::parse("after_closure", &self.after_closure).expect("checked when the policy was parsed")
    }

    pub fn after_gag(&self) -> chrono::Duration {
        Self::parse("after_gag", &self.after_gag).expect("checked when the policy was parsed")
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Instruments {
    /// Instruments this policy accepts; `preservation_request` never leads to disclosure.
    pub allowed: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Jurisdiction {
    /// ISO 3166-1 alpha-3 codes accepted; empty accepts every country.
    pub countries: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    /// Only judicial issuing authorities are competent (V4)…
    pub judicial_only: bool,
    /// …except these authority kinds (e.g. `prosecutor` under the EU regulation).
    pub also_competent: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Categories {
    /// Data categories that may be disclosed (V5); `content` is never allowed.
    pub allowed: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Offence {
    pub criminal_case: bool,
    pub named_suspect: bool,
    pub terms_breach: bool,
    /// Offence categories accepted; empty accepts any.
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Specificity {
    pub max_targets: usize,
    pub max_time_range_days: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// How far back the platform keeps the data (V8).
    pub days: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    pub normal_hours: i64,
    pub emergency_hours: i64,
    pub emergency_validation_hours: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Two distinct reviewers must approve an emergency request.
    pub four_eyes_emergency: bool,
}

/// The most targets any policy may allow in one request; a request body holds at most this
/// many (the shape limit checked before the policy's own `max_targets`).
pub const MAX_TARGETS: usize = 1000;

/// TOML's own message quotes the offending line, and a policy document could hold anything:
/// only the position and what our schema expected are told.
fn toml_error(document: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|s| document[..s.start.min(document.len())].matches('\n').count() + 1);
    let message = e.message();
    let what = if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let safe = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if safe {
            format!("unknown key `{name}`")
        } else {
            "unknown key".to_string()
        }
    } else if message.starts_with("missing field `") {
        message.replace("field", "key")
    } else {
        match message.rsplit_once(", expected ") {
            Some((_, expected)) => format!("wrong type or value; expected {expected}"),
            None => "not valid TOML for a policy".to_string(),
        }
    };
    match line {
        Some(l) => format!("line {l}: {what}"),
        None => what,
    }
}

impl Policy {
    /// Days an order may be old when it is recorded (V8).
    pub fn max_order_age_days(&self) -> i64 {
        self.orders
            .as_ref()
            .map_or(DEFAULT_MAX_ORDER_AGE_DAYS, |o| o.max_age_days)
    }

    /// Parses and checks a policy document; the error says what is wrong, with TOML's
    /// position.
    pub fn parse(document: &str) -> Result<Self, String> {
        let p: Policy = toml::from_str(document).map_err(|e| toml_error(document, &e))?;
        if p.categories.allowed.iter().any(|c| c == "content") {
            return Err("categories.allowed may not include content".into());
        }
        p.check_bounds()?;
        Ok(p)
    }

    /// Every number of a policy within a range that the law it encodes could mean and that
    /// time arithmetic cannot overflow: a policy is data an admin uploads, and an out-of-range
    /// figure would otherwise reach `now + hours` in the writer.
    fn check_bounds(&self) -> Result<(), String> {
        let within = |name: &str, v: i64, lo: i64, hi: i64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be between {lo} and {hi}"))
            }
        };
        within(
            "specificity.max_targets",
            self.specificity.max_targets as i64,
            1,
            MAX_TARGETS as i64,
        )?;
        within(
            "specificity.max_time_range_days",
            self.specificity.max_time_range_days,
            1,
            3_660,
        )?;
        within("retention.days", self.retention.days, 1, 36_600)?;
        if let Some(r) = &self.ledger_retention {
            LedgerRetention::parse("after_closure", &r.after_closure)?;
            LedgerRetention::parse("after_gag", &r.after_gag)?;
        }
        within("orders.max_age_days", self.max_order_age_days(), 1, 3_660)?;
        within("deadlines.normal_hours", self.deadlines.normal_hours, 1, 8_784)?;
        within("deadlines.emergency_hours", self.deadlines.emergency_hours, 1, 8_784)?;
        // 0: an emergency disclosure must be validated at once (the sweeper's next pass).
        within(
            "deadlines.emergency_validation_hours",
            self.deadlines.emergency_validation_hours,
            0,
            8_784,
        )?;
        if self.name.is_empty() || self.name.len() > 64 || self.description.len() > 4096 {
            return Err("name must have 1 to 64 bytes and description at most 4096".into());
        }
        let lists = [
            &self.instruments.allowed,
            &self.jurisdiction.countries,
            &self.issuer.also_competent,
            &self.categories.allowed,
            &self.offence.categories,
        ];
        if lists
            .iter()
            .any(|l| l.len() > 300 || l.iter().any(|v| v.is_empty() || v.len() > 64))
        {
            return Err("lists hold at most 300 terms of 1 to 64 bytes".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policies_parse_and_differ_where_the_law_does() {
        let p2024 = Policy::parse(include_str!("../../policies/telegram-2024-09.toml")).unwrap();
        let p2018 = Policy::parse(include_str!("../../policies/telegram-2018.toml")).unwrap();
        let eu = Policy::parse(include_str!("../../policies/eu-2023-1543.toml")).unwrap();
        assert!(p2024.offence.categories.is_empty());
        assert_eq!(p2018.offence.categories, ["terrorism"]);
        assert_eq!(eu.issuer.also_competent, ["prosecutor"]);
        assert_eq!((eu.deadlines.normal_hours, eu.deadlines.emergency_hours), (240, 8));
    }

    #[test]
    fn the_eu_policy_lists_exactly_the_member_states_bound_by_the_regulation() {
        // EU-27 without Denmark, which is not bound by Regulation (EU) 2023/1543 (Protocol
        // No 22); the two Telegram policies consider every country.
        let eu27 = [
            "AUT", "BEL", "BGR", "CYP", "CZE", "DEU", "DNK", "EST", "ESP", "FIN", "FRA", "GRC", "HRV", "HUN", "IRL",
            "ITA", "LTU", "LUX", "LVA", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "SWE",
        ];
        let mut bound: Vec<&str> = eu27.iter().copied().filter(|c| *c != "DNK").collect();
        bound.sort_unstable();
        let eu = Policy::parse(include_str!("../../policies/eu-2023-1543.toml")).unwrap();
        let mut listed: Vec<&str> = eu.jurisdiction.countries.iter().map(String::as_str).collect();
        listed.sort_unstable();
        assert_eq!(listed, bound);
        for doc in [
            include_str!("../../policies/telegram-2024-09.toml"),
            include_str!("../../policies/telegram-2018.toml"),
        ] {
            assert!(Policy::parse(doc).unwrap().jurisdiction.countries.is_empty());
        }
    }

    #[test]
    fn ledger_retention_is_a_bounded_duration() {
        let doc = include_str!("../../policies/telegram-2024-09.toml");
        let p = Policy::parse(doc).unwrap();
        let r = p.ledger_retention.unwrap();
        assert_eq!(r.after_closure().num_days(), 730);
        assert_eq!(r.after_gag().num_days(), 90);
        for bad in [
            "\"0s\"",
            "\"forever\"",
            "\"200years\"",
            "730",
            "\"24m\"",
            "\"1M\"",
            "\"1d 3m\"",
        ] {
            let changed = doc.replacen("after_closure = \"730d\"", &format!("after_closure = {bad}"), 1);
            assert!(Policy::parse(&changed).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_and_content_are_refused() {
        let doc = include_str!("../../policies/telegram-2024-09.toml");
        assert!(Policy::parse(&doc.replace("max_targets", "max_target")).is_err());
        assert!(Policy::parse(&doc.replace(
            r#"allowed = ["ip_address", "phone_number"]"#,
            r#"allowed = ["content"]"#
        ))
        .is_err());
        assert!(Policy::parse("x = 1").is_err());
    }

    #[test]
    fn every_number_is_bounded() {
        let doc = include_str!("../../policies/telegram-2024-09.toml");
        let p = Policy::parse(doc).unwrap();
        for (key, value) in [
            ("normal_hours", p.deadlines.normal_hours),
            ("emergency_hours", p.deadlines.emergency_hours),
            ("emergency_validation_hours", p.deadlines.emergency_validation_hours),
            ("max_time_range_days", p.specificity.max_time_range_days),
            ("days", p.retention.days),
            ("max_targets", p.specificity.max_targets as i64),
            ("max_age_days", p.max_order_age_days()),
        ] {
            let line = format!("{key} = {value}");
            assert!(doc.contains(&line), "{line}");
            for bad in ["9223372036854775807", "0", "-1", "1000000"] {
                if bad == "0" && key == "emergency_validation_hours" {
                    continue;
                }
                let changed = doc.replacen(&line, &format!("{key} = {bad}"), 1);
                assert!(Policy::parse(&changed).is_err(), "{key} = {bad}");
            }
        }
    }
}
