//! Rules V1–V12 of DESIGN §3 as one pure function of the policy, the request and the facts
//! the database holds about it. Every failed rule is reported, not only the first, as
//! `{rule, field, code, message}`; `code` is the rejection reason code.

use chrono::{DateTime, Duration, Utc};

use super::SubmitRequest;
use crate::authorities::{key::KeyAlg, AuthorityKind};
use crate::policy::Policy;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub rule: &'static str,
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// What the database says about the parties.
#[derive(Debug, Clone)]
pub struct AuthorityFacts {
    pub id: String,
    pub country: String,
    pub kind: AuthorityKind,
    pub judicial: bool,
    pub verified: bool,
}

/// The issuing authority's key named by the order, with its validity window.
#[derive(Debug, Clone)]
pub struct OrderKey {
    pub alg: KeyAlg,
    pub jwk: serde_json::Value,
    pub not_before: String,
    pub not_after: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Facts {
    /// The submitting officer's authority; `None` when the token names none that exists.
    pub requester: Option<AuthorityFacts>,
    pub issuer: Option<AuthorityFacts>,
    pub order_key: Option<OrderKey>,
    /// Requests already recorded with the same order digest: `(authority, file number)`.
    pub same_order_from_other_authority: bool,
    pub same_order_from_same_authority: bool,
    /// Per target: `Err(reason)` when it does not normalise.
    pub target_problems: Vec<(usize, String)>,
    pub now: DateTime<Utc>,
    /// This ledger's log origin, which every order statement names (V3).
    pub origin: String,
    /// The JWK the order's signature was verified with before the head lock, if it was: the
    /// same key read again under the lock needs no second verification (issue 12).
    pub order_verified_with: Option<serde_json::Value>,
}

const WILDCARDS: &[char] = &['*', '%', '?', '/'];

fn time(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref().and_then(crate::ledger::entry::parse_instant)
}

fn present(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.trim().is_empty())
}

pub(super) fn signature_valid(key: &OrderKey, message: &[u8], signature_hex: &str) -> bool {
    use base64::prelude::*;
    // One spelling only: 64 bytes as 128 lowercase hex digits.
    if signature_hex.len() != 128
        || !signature_hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return false;
    }
    let Ok(sig) = hex::decode(signature_hex) else {
        return false;
    };
    let coord = |name: &str| {
        key.jwk
            .get(name)
            .and_then(|v| v.as_str())
            .and_then(|s| BASE64_URL_SAFE_NO_PAD.decode(s).ok())
    };
    match key.alg {
        KeyAlg::EdDSA => {
            let (Some(x), Ok(sig)) = (coord("x"), ed25519_dalek::Signature::from_slice(&sig)) else {
                return false;
            };
            let Ok(x) = <[u8; 32]>::try_from(x.as_slice()) else {
                return false;
            };
            // Strict verification (RFC 8032 §5.1.7 with canonical S and no small-order R or A):
            // a signature that only the lenient check accepts proves nothing.
            ed25519_dalek::VerifyingKey::from_bytes(&x)
                .is_ok_and(|k| !k.is_weak() && k.verify_strict(message, &sig).is_ok())
        }
        KeyAlg::ES256 => {
            use p256::ecdsa::signature::Verifier;
            let (Some(x), Some(y), Ok(sig)) = (coord("x"), coord("y"), p256::ecdsa::Signature::from_slice(&sig)) else {
                return false;
            };
            let sec1 = [&[0x04u8][..], &x, &y].concat();
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).is_ok_and(|k| k.verify(message, &sig).is_ok())
        }
    }
}

pub fn validate(policy: &Policy, r: &SubmitRequest, f: &Facts) -> Vec<Failure> {
    let mut out = Vec::new();
    let mut fail = |rule: &'static str, field: &str, code: &'static str, message: String| {
        out.push(Failure {
            rule,
            field: field.to_string(),
            code,
            message,
        })
    };
    let emergency = r.emergency.is_some();

    // V1: required fields for the instrument.
    for (field, ok) in [
        ("instrument", present(&r.instrument)),
        ("issuing_authority", present(&r.issuing_authority)),
        ("judge_or_prosecutor", present(&r.judge_or_prosecutor)),
        ("file_number", present(&r.file_number)),
        ("legal_citation", present(&r.legal_citation)),
        ("offence_category", present(&r.offence_category)),
        ("targets", r.targets.as_ref().is_some_and(|t| !t.is_empty())),
        (
            "data_categories",
            r.data_categories.as_ref().is_some_and(|c| !c.is_empty()),
        ),
        ("time_range", r.time_range.is_some()),
        ("issued_at", present(&r.issued_at)),
        ("order", r.order.is_some()),
    ] {
        if !ok {
            fail("V1", field, "missing_fields", format!("{field} is required"));
        }
    }
    if emergency && !r.emergency.as_ref().is_some_and(|e| present(&e.justification)) {
        fail(
            "V1",
            "emergency.justification",
            "missing_fields",
            "an emergency request needs a justification".into(),
        );
    }

    // V2: the requester is a registered, verified authority.
    match &f.requester {
        None => fail(
            "V2",
            "authorization",
            "not_authenticated",
            "the token names no registered authority".into(),
        ),
        Some(a) if !a.verified => fail(
            "V2",
            "authorization",
            "not_authenticated",
            "the requesting authority is suspended".into(),
        ),
        Some(_) => {}
    }

    // V3: the order statement (origin, issuer, key, dates, digest, scope) is signed by a key
    // of the issuing authority that was valid when the order was issued and still is now: a
    // revoked key signs nothing, whatever date the officer types.
    if let Some(order) = &r.order {
        let digest_ok = order.document_sha256.len() == 64
            && order
                .document_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let issued = time(&r.issued_at).map(crate::ledger::entry::format_time);
        let now = crate::ledger::entry::format_time(f.now);
        // Verified before the head lock with this very key: the statement was built and
        // checked then, and is a function of the body and the origin alone.
        let verified_early = f
            .order_key
            .as_ref()
            .is_some_and(|k| f.order_verified_with.as_ref() == Some(&k.jwk));
        let statement = if verified_early {
            Ok(String::new())
        } else {
            super::order_statement::statement(&f.origin, r)
        };
        match (&f.order_key, digest_ok, statement) {
            (_, false, _) => fail(
                "V3",
                "order.document_sha256",
                "signature_invalid",
                "document_sha256 must be 64 lowercase hex digits".into(),
            ),
            (None, _, _) => fail(
                "V3",
                "order.kid",
                "signature_invalid",
                "the issuing authority has no key with that id".into(),
            ),
            (Some(_), true, Err(e)) => fail("V3", e.field, "signature_invalid", e.message.into()),
            (Some(key), true, Ok(statement)) => {
                let valid_at = |t: &str| {
                    key.not_before.as_str() <= t
                        && key.not_after.as_ref().is_none_or(|a| a.as_str() > t)
                        && key.revoked_at.as_ref().is_none_or(|r| r.as_str() > t)
                };
                let verified = verified_early || signature_valid(key, statement.as_bytes(), &order.signature);
                if !verified {
                    fail(
                        "V3",
                        "order.signature",
                        "signature_invalid",
                        "the signature does not verify over the order statement (disclosure-ledger:order:v2) with the named key".into(),
                    );
                } else if issued.as_deref().is_some_and(|i| !valid_at(i)) {
                    fail(
                        "V3",
                        "order.kid",
                        "signature_invalid",
                        "the key was not valid at the issue date".into(),
                    );
                } else if !valid_at(&now) {
                    fail(
                        "V3",
                        "order.kid",
                        "signature_invalid",
                        "the key is revoked or expired".into(),
                    );
                }
            }
        }
    }

    // V4: the issuer is competent.
    match &f.issuer {
        None if present(&r.issuing_authority) => fail(
            "V4",
            "issuing_authority",
            "issuer_not_competent",
            "the issuing authority is not registered".into(),
        ),
        Some(i) if !i.verified => fail(
            "V4",
            "issuing_authority",
            "issuer_not_competent",
            "the issuing authority is suspended".into(),
        ),
        Some(i) => {
            let competent = !policy.issuer.judicial_only
                || i.judicial
                || policy.issuer.also_competent.iter().any(|k| k == i.kind.as_str());
            if !competent {
                fail(
                    "V4",
                    "issuing_authority",
                    "issuer_not_competent",
                    format!("a {} is not competent under this policy", i.kind.as_str()),
                );
            }
        }
        None => {}
    }

    // V5: data categories and instrument allowed.
    if let Some(instrument) = r.instrument.as_deref().filter(|s| !s.is_empty()) {
        if instrument == "preservation_request" {
            fail(
                "V5",
                "instrument",
                "category_not_allowed",
                "a preservation request never leads to disclosure".into(),
            );
        } else if !policy.instruments.allowed.iter().any(|a| a == instrument) {
            fail(
                "V5",
                "instrument",
                "category_not_allowed",
                "the instrument is not accepted by this policy".to_string(),
            );
        }
    }
    for (i, c) in r.data_categories.iter().flatten().enumerate() {
        if c == "content" || !policy.categories.allowed.contains(c) {
            fail(
                "V5",
                &format!("data_categories[{i}]"),
                "category_not_allowed",
                "this category may not be disclosed under this policy".to_string(),
            );
        }
    }

    // V6: offence conditions.
    if policy.offence.criminal_case && r.criminal_case != Some(true) {
        fail(
            "V6",
            "criminal_case",
            "offence_conditions_not_met",
            "the policy requires a criminal case".into(),
        );
    }
    if policy.offence.named_suspect && r.suspect != Some(true) {
        fail(
            "V6",
            "suspect",
            "offence_conditions_not_met",
            "the policy requires the person to be a suspect".into(),
        );
    }
    if policy.offence.terms_breach && r.terms_breach != Some(true) {
        fail(
            "V6",
            "terms_breach",
            "offence_conditions_not_met",
            "the policy requires the conduct to breach the terms of service".into(),
        );
    }
    if let Some(offence) = r.offence_category.as_deref().filter(|s| !s.is_empty()) {
        if !policy.offence.categories.is_empty() && !policy.offence.categories.iter().any(|c| c == offence) {
            fail(
                "V6",
                "offence_category",
                "offence_conditions_not_met",
                format!(
                    "the offence category is not one of {}",
                    policy.offence.categories.join(", ")
                ),
            );
        }
    }

    // V7: specific — concrete identifiers, not too many, a bounded time range.
    let targets = r.targets.as_deref().unwrap_or_default();
    if targets.len() > policy.specificity.max_targets {
        fail(
            "V7",
            "targets",
            "overbroad",
            format!("at most {} identifiers per request", policy.specificity.max_targets),
        );
    }
    for (i, t) in targets.iter().enumerate() {
        if t.value.contains(WILDCARDS) {
            fail(
                "V7",
                &format!("targets[{i}].value"),
                "overbroad",
                "wildcards and ranges are not concrete identifiers".into(),
            );
        }
    }
    for (i, why) in &f.target_problems {
        fail("V7", &format!("targets[{i}]"), "overbroad", why.clone());
    }
    if let Some(range) = &r.time_range {
        match (time(&Some(range.from.clone())), time(&Some(range.to.clone()))) {
            (Some(from), Some(to)) if from < to => {
                if to - from > Duration::days(policy.specificity.max_time_range_days) {
                    fail(
                        "V7",
                        "time_range",
                        "overbroad",
                        format!("the time range exceeds {} days", policy.specificity.max_time_range_days),
                    );
                }
                // V8: within retention.
                if from < f.now - Duration::days(policy.retention.days) {
                    fail(
                        "V8",
                        "time_range.from",
                        "out_of_retention",
                        format!("data is kept for {} days", policy.retention.days),
                    );
                }
            }
            _ => fail(
                "V7",
                "time_range",
                "overbroad",
                "time_range needs RFC 3339 from < to".into(),
            ),
        }
    }

    // V8: temporal.
    match time(&r.issued_at) {
        Some(issued) if issued > f.now + Duration::minutes(5) => {
            fail("V8", "issued_at", "expired", "the order is dated in the future".into())
        }
        Some(issued) if issued < f.now - Duration::days(policy.max_order_age_days()) => fail(
            "V8",
            "issued_at",
            "expired",
            format!(
                "the order is older than the {} days this policy accepts",
                policy.max_order_age_days()
            ),
        ),
        None if present(&r.issued_at) => fail("V8", "issued_at", "expired", "issued_at must be RFC 3339".into()),
        _ => {}
    }
    if let Some(raw) = &r.expires_at {
        match time(&Some(raw.clone())) {
            Some(expires) if expires <= f.now => fail("V8", "expires_at", "expired", "the order has expired".into()),
            None => fail("V8", "expires_at", "expired", "expires_at must be RFC 3339".into()),
            _ => {}
        }
    }

    // V9: emergency.
    if let Some(e) = &r.emergency {
        if e.imminent_harm != Some(true) {
            fail(
                "V9",
                "emergency.imminent_harm",
                "emergency_unjustified",
                "an emergency request needs the imminent-harm attestation".into(),
            );
        }
    }

    // V10: jurisdiction.
    if let Some(req) = &f.requester {
        if !policy.jurisdiction.countries.is_empty() && !policy.jurisdiction.countries.contains(&req.country) {
            fail(
                "V10",
                "authority",
                "jurisdiction_not_accepted",
                format!("requests from {} are not accepted under this policy", req.country),
            );
        }
        if let Some(iss) = &f.issuer {
            if iss.country != req.country {
                fail(
                    "V10",
                    "issuing_authority",
                    "jurisdiction_not_accepted",
                    "the officer's authority is not of the issuing authority's country".into(),
                );
            }
        }
    }

    // V11: gag order.
    if let Some(g) = &r.non_disclosure {
        if !present(&g.basis) {
            fail(
                "V11",
                "non_disclosure.basis",
                "gag_defective",
                "a non-disclosure request needs its legal basis".into(),
            );
        }
        match time(&g.until) {
            Some(until) if until > f.now => {}
            _ => fail(
                "V11",
                "non_disclosure.until",
                "gag_defective",
                "a non-disclosure request needs a future expiry (RFC 3339)".into(),
            ),
        }
    }

    // V12: no replay. One message whoever submitted it before: the officer must not learn
    // what another authority submitted.
    if f.same_order_from_other_authority || f.same_order_from_same_authority {
        fail(
            "V12",
            "order.document_sha256",
            "duplicate",
            "this order was already submitted".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::format_time;
    use crate::requests::{Emergency, NonDisclosure, Order, Target, TimeRange};
    use ed25519_dalek::Signer;

    fn policy(name: &str) -> Policy {
        let doc = match name {
            "telegram-2018" => include_str!("../../policies/telegram-2018.toml"),
            "eu-2023-1543" => include_str!("../../policies/eu-2023-1543.toml"),
            _ => include_str!("../../policies/telegram-2024-09.toml"),
        };
        Policy::parse(doc).unwrap()
    }

    fn key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[9; 32])
    }

    fn court(kind: AuthorityKind, judicial: bool, country: &str) -> AuthorityFacts {
        AuthorityFacts {
            id: "a".into(),
            country: country.into(),
            kind,
            judicial,
            verified: true,
        }
    }

    fn base() -> (SubmitRequest, Facts) {
        use base64::prelude::*;
        let now = Utc::now();
        let digest = "ab".repeat(32);
        let mut r = SubmitRequest {
            instrument: Some("court_order".into()),
            issuing_authority: Some("a".into()),
            judge_or_prosecutor: Some("judge".into()),
            file_number: Some("F-1".into()),
            legal_citation: Some("art. 1".into()),
            offence_category: Some("drug_trafficking".into()),
            criminal_case: Some(true),
            suspect: Some(true),
            terms_breach: Some(true),
            targets: Some(vec![Target {
                kind: "user_id".into(),
                value: "42".into(),
            }]),
            data_categories: Some(vec!["ip_address".into()]),
            time_range: Some(TimeRange {
                from: (now - Duration::days(10)).to_rfc3339(),
                to: now.to_rfc3339(),
            }),
            issued_at: Some((now - Duration::days(1)).to_rfc3339()),
            expires_at: Some((now + Duration::days(10)).to_rfc3339()),
            emergency: None,
            non_disclosure: None,
            order: Some(Order {
                document_sha256: digest,
                signature: String::new(),
                kid: "k".into(),
            }),
        };
        sign(&mut r);
        let x = BASE64_URL_SAFE_NO_PAD.encode(key().verifying_key().as_bytes());
        let f = Facts {
            requester: Some(court(AuthorityKind::Court, true, "FRA")),
            issuer: Some(court(AuthorityKind::Court, true, "FRA")),
            order_key: Some(OrderKey {
                alg: KeyAlg::EdDSA,
                jwk: serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x }),
                not_before: "2020-01-01T00:00:00.000Z".into(),
                not_after: None,
                revoked_at: None,
            }),
            same_order_from_other_authority: false,
            same_order_from_same_authority: false,
            target_problems: vec![],
            now,
            origin: ORIGIN.into(),
            order_verified_with: None,
        };
        (r, f)
    }

    const ORIGIN: &str = "ledger.test/log";

    /// Signs the order statement as the issuing court would, after any change to `r`.
    fn sign(r: &mut SubmitRequest) {
        let statement = crate::requests::order_statement::statement(ORIGIN, r).unwrap();
        r.order.as_mut().unwrap().signature = hex::encode(key().sign(statement.as_bytes()).to_bytes());
    }

    fn rules(p: &Policy, r: &SubmitRequest, f: &Facts) -> Vec<&'static str> {
        validate(p, r, f).into_iter().map(|x| x.rule).collect()
    }

    #[test]
    fn a_complete_judicial_order_passes_every_rule() {
        let (r, f) = base();
        assert_eq!(validate(&policy("telegram-2024-09"), &r, &f), vec![]);
    }

    /// Each rule with a failing case; the passing case of each is the base request.
    #[test]
    fn each_rule_fails_on_its_own_defect() {
        type Mutation = fn(&mut SubmitRequest, &mut Facts);
        let cases: Vec<(&str, &str, Mutation)> = vec![
            ("V1", "telegram-2024-09", |r, _| r.file_number = None),
            ("V1", "telegram-2024-09", |r, _| {
                r.emergency = Some(Emergency {
                    justification: None,
                    imminent_harm: Some(true),
                })
            }),
            ("V2", "telegram-2024-09", |_, f| {
                f.requester.as_mut().unwrap().verified = false
            }),
            ("V2", "telegram-2024-09", |_, f| f.requester = None),
            ("V3", "telegram-2024-09", |r, _| {
                r.order.as_mut().unwrap().signature = "00".repeat(64)
            }),
            ("V3", "telegram-2024-09", |_, f| f.order_key = None),
            ("V3", "telegram-2024-09", |_, f| {
                f.order_key.as_mut().unwrap().revoked_at = Some("2021-01-01T00:00:00.000Z".into())
            }),
            // Valid when issued, revoked since: revocation takes effect at once.
            ("V3", "telegram-2024-09", |_, f| {
                f.order_key.as_mut().unwrap().revoked_at = Some(format_time(f.now - Duration::hours(1)))
            }),
            ("V3", "telegram-2024-09", |_, f| {
                f.order_key.as_mut().unwrap().not_after = Some(format_time(f.now - Duration::hours(1)))
            }),
            // The officer widens what the court signed, or changes its dates.
            ("V3", "telegram-2024-09", |r, _| {
                r.targets.as_mut().unwrap().push(Target {
                    kind: "user_id".into(),
                    value: "43".into(),
                })
            }),
            ("V3", "telegram-2024-09", |r, _| {
                r.data_categories = Some(vec!["ip_address".into(), "phone_number".into()])
            }),
            ("V3", "telegram-2024-09", |r, _| {
                r.issued_at = Some((Utc::now() - Duration::days(2)).to_rfc3339())
            }),
            // Signed for another ledger, or over the digest alone (v1).
            ("V3", "telegram-2024-09", |_, f| f.origin = "other.example/log".into()),
            ("V3", "telegram-2024-09", |r, _| {
                let o = r.order.as_mut().unwrap();
                let v1 = format!("disclosure-ledger:order:v1\n{}", o.document_sha256);
                o.signature = hex::encode(key().sign(v1.as_bytes()).to_bytes());
            }),
            ("V4", "telegram-2024-09", |_, f| {
                f.issuer = Some(court(AuthorityKind::Police, false, "FRA"))
            }),
            ("V4", "telegram-2024-09", |_, f| {
                f.issuer.as_mut().unwrap().verified = false
            }),
            ("V8", "telegram-2024-09", |r, _| {
                r.issued_at = Some((Utc::now() - Duration::days(181)).to_rfc3339());
                sign(r);
            }),
            ("V5", "telegram-2024-09", |r, _| {
                r.data_categories = Some(vec!["content".into()])
            }),
            ("V5", "telegram-2024-09", |r, _| {
                r.instrument = Some("preservation_request".into())
            }),
            ("V5", "eu-2023-1543", |_, _| {}), // court_order is not an EU production order
            ("V6", "telegram-2024-09", |r, _| r.terms_breach = Some(false)),
            ("V6", "telegram-2018", |_, _| {}), // drug trafficking is not terrorism
            ("V7", "telegram-2024-09", |r, _| {
                r.targets.as_mut().unwrap()[0].value = "4*".into()
            }),
            ("V7", "telegram-2024-09", |_, f| {
                f.target_problems = vec![(0, "malformed".into())]
            }),
            ("V7", "telegram-2024-09", |r, _| {
                r.targets = Some(
                    (0..11)
                        .map(|i| Target {
                            kind: "user_id".into(),
                            value: i.to_string(),
                        })
                        .collect(),
                )
            }),
            ("V8", "telegram-2024-09", |r, _| {
                r.expires_at = Some("2020-01-01T00:00:00Z".into())
            }),
            ("V8", "telegram-2024-09", |r, _| {
                r.time_range = Some(TimeRange {
                    from: "2019-01-01T00:00:00Z".into(),
                    to: "2019-06-01T00:00:00Z".into(),
                })
            }),
            ("V9", "telegram-2024-09", |r, _| {
                r.emergency = Some(Emergency {
                    justification: Some("x".into()),
                    imminent_harm: None,
                })
            }),
            ("V10", "telegram-2024-09", |_, f| {
                f.issuer.as_mut().unwrap().country = "DEU".into()
            }),
            ("V10", "eu-2023-1543", |_, f| {
                f.requester.as_mut().unwrap().country = "USA".into()
            }),
            ("V11", "telegram-2024-09", |r, _| {
                r.non_disclosure = Some(NonDisclosure {
                    basis: Some("art. 9".into()),
                    until: None,
                })
            }),
            ("V12", "telegram-2024-09", |_, f| {
                f.same_order_from_other_authority = true
            }),
            ("V12", "telegram-2024-09", |_, f| {
                f.same_order_from_same_authority = true
            }),
        ];
        for (rule, policy_name, mutate) in cases {
            let (mut r, mut f) = base();
            mutate(&mut r, &mut f);
            let failed = rules(&policy(policy_name), &r, &f);
            assert!(failed.contains(&rule), "{rule} under {policy_name}: got {failed:?}");
        }
    }

    #[test]
    fn a_prosecutor_may_order_identification_data_under_the_eu_regulation_only() {
        let (mut r, mut f) = base();
        f.issuer = Some(court(AuthorityKind::Prosecutor, false, "FRA"));
        r.instrument = Some("production_order".into());
        r.suspect = Some(false);
        sign(&mut r);
        assert_eq!(rules(&policy("eu-2023-1543"), &r, &f), Vec::<&str>::new());
        r.instrument = Some("court_order".into());
        r.suspect = Some(true);
        sign(&mut r);
        assert_eq!(rules(&policy("telegram-2024-09"), &r, &f), ["V4"]);
    }

    #[test]
    fn a_justified_emergency_passes() {
        let (mut r, f) = base();
        r.emergency = Some(Emergency {
            justification: Some("hostage".into()),
            imminent_harm: Some(true),
        });
        assert_eq!(rules(&policy("telegram-2024-09"), &r, &f), Vec::<&str>::new());
    }
}
