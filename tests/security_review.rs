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
