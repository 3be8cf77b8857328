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

impl Policy {
    /// Parses and checks a policy document; the error says what is wrong, with TOML's
    /// position.
    pub fn parse(document: &str) -> Result<Self, String> {
        let p: Policy = toml::from_str(document).map_err(|e| e.to_string())?;
        if p.categories.allowed.iter().any(|c| c == "content") {
            return Err("categories.allowed may not include content".into());
        }
        if p.specificity.max_targets == 0 || p.specificity.max_time_range_days <= 0 || p.retention.days <= 0 {
            return Err("max_targets, max_time_range_days and retention days must be positive".into());
        }
        Ok(p)
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
}
