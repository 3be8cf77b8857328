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
    pub deadlines: Deadlines,
    pub review: Review,
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
