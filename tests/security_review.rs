//! Findings of the security review (issue 16), one test per kind, on both backends.

mod common;

use base64::prelude::*;
use common::requests::{court, order, submit};
use disclosure_ledger::auth::Role;
use serde_json::json;

/// The identity point and another point of small order, in Ed25519's compressed form.
fn weak_points() -> Vec<[u8; 32]> {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    // A point of order 2: y = −1 (p − 1, little-endian).
    let mut order2 = [0xffu8; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    vec![identity, order2]
}

#[tokio::test]
async fn weak_ed25519_keys_are_refused_at_registration() {
    let app = common::spawn().await;
    let authority = app.register_authority().await;
    let before = app.size().await;
    for x in weak_points() {
        let (status, body) = app
            .admin_post(
                &format!("/v1/authorities/{authority}/keys"),
                json!({ "alg": "EdDSA", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": BASE64_URL_SAFE_NO_PAD.encode(x) } }),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], "key");
    }
    assert_eq!(app.size().await, before);
}

#[tokio::test]
async fn a_public_key_is_registered_once_under_one_kid() {
    let app = common::spawn().await;
    let a = app.register_authority().await;
    let b = app.register_authority().await;
    let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let jwk =
        json!({ "kty": "OKP", "crv": "Ed25519", "x": BASE64_URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()) });
    let (status, _) = app
        .admin_post(
            &format!("/v1/authorities/{a}/keys"),
            json!({ "alg": "EdDSA", "jwk": jwk }),
        )
        .await;
    assert_eq!(status, 201);
    for (authority, kid) in [(&a, "second-kid"), (&b, "other-authority")] {
        let (status, body) = app
            .admin_post(
                &format!("/v1/authorities/{authority}/keys"),
                json!({ "alg": "EdDSA", "jwk": jwk, "kid": kid }),
            )
            .await;
        assert_eq!(status, 409, "{body}");
    }
}

#[tokio::test]
async fn a_policy_with_out_of_range_numbers_is_refused_and_the_writer_lives_on() {
    let app = common::spawn().await;
    let before = app.size().await;
    let doc = common::policy_document("telegram-2024-09");
    for (line, bad) in [
        ("normal_hours = 240", "normal_hours = 9223372036854775807"),
        (
            "emergency_validation_hours = 48",
            "emergency_validation_hours = 9223372036854775807",
        ),
        ("days = 365", "days = -1"),
        ("max_targets = 10", "max_targets = 0"),
    ] {
        assert!(doc.contains(line));
        let (status, body) = app
            .admin_post(
                "/v1/policies",
                json!({ "name": "huge", "document": doc.replacen(line, bad, 1) }),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "document");
    }
    assert_eq!(app.size().await, before);
    // The writer still writes and is ready.
    let c = court(&app).await;
    let (status, _) = submit(&app, &c.officer, &order(&c, "after-bad-policy", "terrorism")).await;
    assert_eq!(status, 201);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let _ = app.token(Role::Admin);
}

#[tokio::test]
async fn the_data_directory_keys_and_database_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let database_url = common::fresh_database_url(&dir);
    let app = common::spawn_with(tempfile::tempdir().unwrap(), database_url.clone(), |s| {
        s.data_dir = dir.clone();
    })
    .await;
    let _ = app.size().await;
    assert_eq!(mode(&dir), 0o700);
    let mut files = vec![dir.join("log-key.pem"), dir.join("token-key.pem")];
    if !common::is_postgres() {
        files.extend(["ledger.db", "ledger.db-wal", "ledger.db-shm"].map(|f| dir.join(f)));
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // A key that others may read: the server refuses to start, naming the file.
    std::fs::set_permissions(dir.join("log-key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut settings = common::settings_for(&dir, &database_url);
    settings.data_dir = dir.clone();
    let err = disclosure_ledger::app::Application::build(settings)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("log-key.pem"), "{err}");
}

async fn submit_status(app: &common::TestApp, officer: &str, body: &serde_json::Value) -> u16 {
    app.client
        .post(app.url("/v1/requests"))
        .bearer_auth(officer)
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// One officer cannot fill the disk or the writer: list and string lengths are refused before
/// any rule, with nothing recorded; a refused request leaves no raw identifier in the vault.
#[tokio::test]
async fn shape_limits_come_before_the_rules_and_refused_requests_keep_no_identifiers() {
    use diesel::prelude::*;
    let app = common::spawn().await;
    let c = court(&app).await;
    let before = app.size().await;
    let mut cases = Vec::new();
    let mut many_categories = order(&c, "shape-1", "drug_trafficking");
    many_categories["data_categories"] = json!(vec!["ip_address"; 1_000]);
    cases.push((many_categories, "data_categories", "too_many"));
    let mut many_targets = order(&c, "shape-2", "drug_trafficking");
    many_targets["targets"] = json!((0..15_000)
        .map(|i| json!({ "kind": "user_id", "value": i.to_string() }))
        .collect::<Vec<_>>());
    cases.push((many_targets, "targets", "too_many"));
    let mut long_text = order(&c, "shape-3", "drug_trafficking");
    long_text["legal_citation"] = json!("x".repeat(5000));
    cases.push((long_text, "legal_citation", "too_long"));
    let mut long_value = order(&c, "shape-4", "drug_trafficking");
    long_value["targets"][0]["value"] = json!("1".repeat(300));
    cases.push((long_value, "targets[0]", "too_long"));
    for (body, field, code) in cases {
        let (status, p) = submit(&app, &c.officer, &body).await;
        assert_eq!(status, 422, "{field}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert_eq!(p["errors"][0]["code"], code);
        assert!(p.get("receipt").is_none(), "nothing recorded for {field}");
    }
    // 120,000 categories do not even fit the body limit.
    let mut huge = order(&c, "shape-6", "drug_trafficking");
    huge["data_categories"] = json!(vec!["ip_address"; 120_000]);
    assert_eq!(submit_status(&app, &c.officer, &huge).await, 413);
    assert_eq!(app.size().await, before);

    // Over the policy's own limit (10) but within the shape: recorded as rejected under V7,
    // and not one of its identifiers kept in the vault.
    let mut overbroad = order(&c, "shape-5", "drug_trafficking");
    overbroad["targets"] = json!((0..50)
        .map(|i| json!({ "kind": "user_id", "value": (1000 + i).to_string() }))
        .collect::<Vec<_>>());
    let (status, p) = submit(&app, &c.officer, &overbroad).await;
    assert_eq!(status, 422, "{p}");
    assert!(p["receipt"].is_object(), "a rule failure is recorded");
    let id = p["request"]["id"].as_str().unwrap().to_string();
    let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
    let kept: i64 = disclosure_ledger::store::schema::vault::table
        .filter(disclosure_ledger::store::schema::vault::request_id.eq(&id))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(kept, 0, "a refused request keeps no raw identifier");
}

#[tokio::test]
async fn a_ledger_minted_officer_token_needs_an_authority_in_good_standing() {
    use std::time::Duration;
    let app = common::spawn().await;
    let (_, tokens) = disclosure_ledger::app::instance_keys(&app.settings).unwrap();
    let whoami = |t: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/v1/auth/whoami"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let ttl = Duration::from_secs(600);
    assert_eq!(whoami(tokens.mint(Role::Officer, "o", ttl, None).unwrap()).await, 401);
    assert_eq!(
        whoami(tokens.mint(Role::Officer, "o", ttl, Some(String::new())).unwrap()).await,
        401
    );
    assert_eq!(
        whoami(tokens.mint(Role::Officer, "o", ttl, Some("nobody".into())).unwrap()).await,
        401
    );
    let authority = app.register_authority().await;
    let officer = tokens.mint(Role::Officer, "o", ttl, Some(authority.clone())).unwrap();
    assert_eq!(whoami(officer.clone()).await, 200);
    let (status, _) = app
        .admin_post(&format!("/v1/authorities/{authority}/suspend"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        whoami(officer).await,
        401,
        "a suspended authority's officers are refused"
    );
}

#[tokio::test]
async fn a_leap_second_that_never_was_is_not_an_instant() {
    let app = common::spawn().await;
    let c = court(&app).await;
    let mut body = order(&c, "leap", "drug_trafficking");
    body["issued_at"] = json!("2026-11-01T12:30:60Z");
    common::requests::sign(&c, &mut body);
    let (status, r) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 422, "{r}");
    assert!(
        r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "issued_at"),
        "{r}"
    );
    let (status, r) = app
        .admin_post(
            &format!("/v1/authorities/{}/keys", c.id),
            json!({ "alg": "EdDSA", "not_before": "2026-06-30T23:59:60Z",
                    "jwk": { "kty": "OKP", "crv": "Ed25519", "x": BASE64_URL_SAFE_NO_PAD.encode(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng).verifying_key().as_bytes()) } }),
        )
        .await;
    assert_eq!(status, 422, "{r}");
}

#[tokio::test]
async fn only_yyyy_qn_is_a_quarter() {
    let app = common::spawn().await;
    for q in ["2025-Q01", "%2B2025-Q1", "2025-Q5", "2025-q1"] {
        let r = app.get(&format!("/v1/reports/transparency?from={q}")).await;
        assert_eq!(r.status(), 400, "{q}");
    }
    assert_eq!(app.get("/v1/reports/transparency?from=2025-Q1").await.status(), 200);
}

/// A shared cache may keep only what is the same for everyone and never changes.
#[tokio::test]
async fn answers_that_depend_on_the_caller_are_never_cacheable() {
    let app = common::spawn().await;
    let c = court(&app).await;
    let (_, r) = submit(&app, &c.officer, &order(&c, "cache", "drug_trafficking")).await;
    let id = r["request"]["id"].as_str().unwrap().to_string();
    let auditor = app.token(Role::Auditor);
    let reviewer = app.token(Role::Reviewer);
    // The entry bundle holds an embargoed request: to an auditor it is private, to the public
    // its bytes change when the embargo ends, so it is not immutable for either.
    let r = app
        .client
        .get(app.url("/tile/entries/000.p/5"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert!(r.headers().get_all("vary").iter().any(|v| v == "Authorization"));
    let r = app.get("/tile/entries/000.p/5").await;
    assert!(!r.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(r.headers().get_all("vary").iter().any(|v| v == "Authorization"));
    for path in ["/v1/log/entries?start=0", "/v1/log/entries/3", "/v1/auth/whoami"] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "private, no-store", "{path}");
    }
    // The vault: reason in the body, the answer never stored.
    let r = app
        .client
        .post(app.url(&format!("/v1/requests/{id}/identifiers")))
        .bearer_auth(&reviewer)
        .json(&json!({ "reason": "production of the data" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("no-store"));
}

#[tokio::test]
async fn the_affected_user_endpoint_is_rate_limited_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let app = common::spawn_with(dir, url, |s| s.subject_proofs_per_minute = 3).await;
    let claim = json!({ "request_id": uuid::Uuid::new_v4().to_string(), "kind": "phone_number",
                        "value": "+33612345678", "nonce": "0".repeat(64) });
    for _ in 0..3 {
        let r = app
            .client
            .post(app.url("/v1/subjects/proof"))
            .json(&claim)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let r = app
        .client
        .post(app.url("/v1/subjects/proof"))
        .json(&claim)
        .send()
        .await
        .unwrap();
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    common::assert_problem(r, 429).await;
}

/// Overload is answered: writes beyond a client's or a subject's rate are 429 with
/// `Retry-After`, and appended nothing.
#[tokio::test]
async fn writes_beyond_the_rate_limits_are_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let app = common::spawn_with(dir, url, |s| {
        s.rate_limit_per_subject = 3;
        s.rate_limit_per_address = 0;
    })
    .await;
    let alice = app.token_for(Role::Admin, "alice");
    let bob = app.token_for(Role::Admin, "bob");
    let register = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/authorities"))
                .bearer_auth(token)
                .json(&json!({ "country": "BEL", "kind": "police", "judicial": false, "name": "P" }))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(register(alice.clone()).await.status(), 201);
    }
    let before = app.size().await;
    let r = register(alice.clone()).await;
    assert!(r.headers().contains_key("retry-after"));
    common::assert_problem(r, 429).await;
    assert_eq!(app.size().await, before);
    assert_eq!(register(bob).await.status(), 201, "another subject has its own budget");

    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let app = common::spawn_with(dir, url, |s| {
        s.rate_limit_per_subject = 0;
        s.rate_limit_per_address = 2;
    })
    .await;
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = app
                .client
                .post(app.url("/v1/subjects/proof"))
                .body("x")
                .send()
                .await
                .unwrap();
            v.push(r.status().as_u16());
        }
        v
    };
    assert_eq!(
        statuses,
        [415, 415, 429],
        "the client address's budget covers every write"
    );
    assert_eq!(app.get("/healthz").await.status(), 200, "cheap reads are not limited");
}

/// The codes of a 422's failed rules, as `rule:field`.
fn failed(problem: &serde_json::Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|e| {
                    let rule = e["message"]
                        .as_str()
                        .unwrap_or_default()
                        .split(':')
                        .next()
                        .unwrap_or_default();
                    format!("{rule}:{}", e["field"].as_str().unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Item 2: an order signed by a court whose key was revoked since, or by a court now suspended,
/// and submitted by another authority's officer, is rejected (V3, V4): the key's validity is
/// judged now as well as at the date the officer types, which nobody but the court signs.
#[tokio::test]
async fn a_revoked_order_key_or_a_suspended_issuer_signs_no_order_whatever_its_date() {
    let app = common::spawn().await;
    let police = common::requests::authority(&app, "FRA", "police", "Police judiciaire").await;
    let judge = court(&app).await;
    let body = order(&judge, "revoked-later", "fraud");
    assert!(body["issued_at"].as_str().unwrap() < chrono::Utc::now().to_rfc3339().as_str());
    let (status, ok) = submit(&app, &police.officer, &order(&judge, "before-revocation", "fraud")).await;
    assert_eq!(status, 201, "{ok}");

    let (status, _) = app
        .admin_post(
            &format!("/v1/authorities/{}/keys/{}/revoke", judge.id, judge.kid),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, p) = submit(&app, &police.officer, &body).await;
    assert_eq!(status, 422, "{p}");
    assert!(failed(&p).contains(&"V3:order.kid".to_string()), "{p}");

    let other = court(&app).await;
    let body = order(&other, "suspended-court", "fraud");
    let (status, _) = app
        .admin_post(&format!("/v1/authorities/{}/suspend", other.id), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, p) = submit(&app, &police.officer, &body).await;
    assert_eq!(status, 422, "{p}");
    assert!(failed(&p).contains(&"V4:issuing_authority".to_string()), "{p}");
}

/// Item 2: the court signs the order statement — this ledger's origin, issuer, key, dates,
/// digest and a hash of targets, categories and time range — so an officer cannot widen the
/// scope, move the dates, replay an order signed for another platform, or present a signature
/// over the digest alone; an order older than the policy accepts is refused (V8).
#[tokio::test]
async fn an_officer_cannot_widen_redate_or_replay_what_the_court_signed() {
    let app = common::spawn().await;
    let c = court(&app).await;
    let mut cases: Vec<(&str, serde_json::Value, &str)> = Vec::new();
    let mut b = order(&c, "statement-1", "fraud");
    b["targets"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "kind": "user_id", "value": "777" }));
    cases.push(("a target added", b, "V3:order.signature"));
    let mut b = order(&c, "statement-2", "fraud");
    b["data_categories"] = json!(["ip_address"]);
    cases.push(("a category removed", b, "V3:order.signature"));
    let mut b = order(&c, "statement-3", "fraud");
    b["time_range"]["from"] = json!((chrono::Utc::now() - chrono::Duration::days(200)).to_rfc3339());
    cases.push(("the time range widened", b, "V3:order.signature"));
    let mut b = order(&c, "statement-4", "fraud");
    b["issued_at"] = json!((chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339());
    cases.push(("the issue date moved", b, "V3:order.signature"));
    let mut b = order(&c, "statement-5", "fraud");
    b.as_object_mut().unwrap().remove("expires_at");
    cases.push(("the expiry dropped", b, "V3:order.signature"));
    let mut b = order(&c, "statement-6", "fraud");
    common::requests::sign_as(&c, "another-platform.example/log", &mut b);
    cases.push(("signed for another ledger", b, "V3:order.signature"));
    let mut b = order(&c, "statement-7", "fraud");
    {
        use ed25519_dalek::Signer;
        let v1 = format!(
            "disclosure-ledger:order:v1\n{}",
            b["order"]["document_sha256"].as_str().unwrap()
        );
        b["order"]["signature"] = json!(hex::encode(c.key.sign(v1.as_bytes()).to_bytes()));
    }
    cases.push(("signed over the digest alone (v1)", b, "V3:order.signature"));
    let mut b = order(&c, "stale", "fraud");
    b["issued_at"] = json!((chrono::Utc::now() - chrono::Duration::days(181)).to_rfc3339());
    b["time_range"]["from"] = json!((chrono::Utc::now() - chrono::Duration::days(200)).to_rfc3339());
    common::requests::sign(&c, &mut b);
    cases.push(("issued 181 days ago (the policy accepts 180)", b, "V8:issued_at"));
    for (what, body, expected) in cases {
        let (status, p) = submit(&app, &c.officer, &body).await;
        assert_eq!(status, 422, "{what}: {p}");
        assert_eq!(failed(&p), vec![expected.to_string()], "{what}: {p}");
    }
    let (status, p) = submit(&app, &c.officer, &order(&c, "statement-as-signed", "fraud")).await;
    assert_eq!(status, 201, "the order as signed: {p}");
}

/// `aud` is this ledger's origin: a token minted for another instance (a staging copy restored
/// from production, or the old fixed audience) is refused.
#[tokio::test]
async fn an_officer_token_is_accepted_only_by_the_ledger_it_names() {
    let app = common::spawn().await;
    let c = court(&app).await;
    let whoami = |token: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/v1/auth/whoami"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut claims = common::officer_claims(&app, &c.id);
    assert_eq!(claims["aud"], app.settings.origin);
    assert_eq!(whoami(common::sign_ed25519(&c.key, &c.kid, &claims)).await, 200);
    for other in ["disclosure-ledger", "staging.disclosure-ledger.localhost/log"] {
        claims["aud"] = json!(other);
        assert_eq!(
            whoami(common::sign_ed25519(&c.key, &c.kid, &claims)).await,
            401,
            "{other}"
        );
    }
}

/// Item 12 (the clock): after the host once ran fast, the last entry's time lies ahead of the
/// clock. Entry times never go backwards: later entries keep that time, and the lag shows in
/// `/readyz`, in `/metrics` and (loudly) in the log, for an operator to fix the clock. The
/// fast run is simulated by moving the stored time of the last entry, which is the only thing
/// the writer reads of it.
#[tokio::test]
async fn a_clock_behind_the_last_entry_is_reported_and_never_followed_backwards() {
    use diesel::prelude::*;
    use disclosure_ledger::store::schema::entries;
    let app = common::spawn().await;
    app.register_authority().await;
    assert_eq!(app.text("/readyz").await, "ready");
    let ahead = disclosure_ledger::ledger::entry::format_time(chrono::Utc::now() + chrono::Duration::days(200));
    let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
    let last: i64 = entries::table
        .select(diesel::dsl::max(entries::idx))
        .first::<Option<i64>>(&mut conn)
        .unwrap()
        .unwrap();
    diesel::update(entries::table.filter(entries::idx.eq(last)))
        .set(entries::time.eq(&ahead))
        .execute(&mut conn)
        .unwrap();

    app.register_authority().await;
    let newest: String = entries::table
        .filter(entries::idx.eq(last + 1))
        .select(entries::time)
        .first(&mut conn)
        .unwrap();
    assert_eq!(newest, ahead, "the new entry keeps the last entry's time");
    let ready = app.text("/readyz").await;
    assert!(ready.contains("clock is") && ready.contains("behind"), "{ready}");
    let metrics = app.text("/metrics").await;
    let behind: f64 = metrics
        .lines()
        .find(|l| l.starts_with("disclosure_ledger_clock_behind_seconds "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no clock_behind_seconds in {metrics}"));
    assert!(behind > 199.0 * 86_400.0, "{behind}");
}

/// A rejected submission uses nothing up: someone who knows an order's digest (another
/// authority's officer) or the officer's own failed attempt cannot burn the genuine order (V12
/// counts requests that were not rejected). And the court signs what the rules judge: an
/// officer who turns `suspect` or the offence into what the policy wants fails V3.
#[tokio::test]
async fn a_rejected_submission_burns_no_order_and_the_rules_judge_only_what_the_court_signed() {
    let app = common::spawn().await;
    let c = court(&app).await;
    let other = court(&app).await;
    let genuine = order(&c, "burn", "fraud");
    let mut forged = genuine.clone();
    forged["order"]["signature"] = json!("ab".repeat(64));
    let (status, p) = submit(&app, &other.officer, &forged).await;
    assert_eq!(status, 422, "{p}");
    let mut tampered = genuine.clone();
    tampered["targets"][0]["value"] = json!("+33 6 99 99 99 99");
    let (status, p) = submit(&app, &c.officer, &tampered).await;
    assert_eq!(status, 422, "{p}");
    let (status, p) = submit(&app, &c.officer, &genuine).await;
    assert_eq!(status, 201, "the genuine order after two rejected attempts: {p}");
    let (status, p) = submit(&app, &c.officer, &genuine).await;
    assert_eq!(status, 422, "{p}");
    assert!(failed(&p).contains(&"V12:order.document_sha256".to_string()), "{p}");

    // Signed as not a suspect (the policy requires one), then edited by the officer.
    let mut b = order(&c, "edited-suspect", "fraud");
    b["suspect"] = json!(false);
    common::requests::sign(&c, &mut b);
    b["suspect"] = json!(true);
    let (status, p) = submit(&app, &c.officer, &b).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(failed(&p), vec!["V3:order.signature".to_string()], "{p}");
    let mut b = order(&c, "edited-offence", "fraud");
    b["offence_category"] = json!("terrorism");
    let (status, p) = submit(&app, &c.officer, &b).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(failed(&p), vec!["V3:order.signature".to_string()], "{p}");
    // One spelling of the signature: upper-case hex is not it.
    let mut b = order(&c, "upper", "fraud");
    let upper = b["order"]["signature"].as_str().unwrap().to_ascii_uppercase();
    b["order"]["signature"] = json!(upper);
    let (status, p) = submit(&app, &c.officer, &b).await;
    assert_eq!(status, 422, "{p}");
}
