//! Privacy as a correctness property: a real server process, logging at debug level, is driven
//! through full lifecycles and refusals with raw phone numbers, IP addresses and usernames;
//! afterwards none of them appears in any entry, sealed detail, request row, response body
//! other than the vault's, or line of the server's log.

mod common;

use common::requests::{order, Court};
use disclosure_ledger::auth::Role;
use serde_json::{json, Value};

#[tokio::test]
async fn raw_identifiers_reach_no_entry_no_error_and_no_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::fresh_database_url(dir.path());
    let server = common::ServerProcess::start_with(dir.path(), &database_url, &[("RUST_LOG", "debug")]);
    // Drive it through the in-process helpers' HTTP calls, pointed at the process.
    let app = common::TestApp {
        base: server.base.clone(),
        settings: common::settings_for(dir.path(), &database_url),
        database_url: database_url.clone(),
        client: reqwest::Client::new(),
        dir,
    };
    let c: Court = common::requests::court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let mut bodies: Vec<String> = Vec::new();
    let post = |path: String, token: String, body: Value| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };

    let (_, ok) = common::requests::submit(&app, &c.officer, &order(&c, "p-1", "fraud")).await;
    bodies.push(ok.to_string());
    let id = ok["request"]["id"].as_str().unwrap().to_string();
    bodies.push(
        post(
            format!("/v1/requests/{id}/decision"),
            reviewer.clone(),
            json!({ "decision": "approve" }),
        )
        .await,
    );
    bodies.push(
        post(
            format!("/v1/requests/{id}/disclosure"),
            reviewer.clone(),
            json!({ "outcome": "fully_produced", "accounts_affected": 1, "values": { "ip_address": 1 } }),
        )
        .await,
    );
    bodies.push(
        post(
            format!("/v1/requests/{id}/notification"),
            reviewer.clone(),
            json!({ "action": "send" }),
        )
        .await,
    );
    // Refusals: malformed identifiers, a wrong JSON type carrying a number, an unknown kind.
    let mut bad = order(&c, "p-2", "fraud");
    bad["targets"] = json!([
        { "kind": "phone_number", "value": "06 98 76 54 32" },
        { "kind": "ip_address", "value": "198.51.100.300" },
        { "kind": "email", "value": "someone@example.org" }
    ]);
    bodies.push(common::requests::submit(&app, &c.officer, &bad).await.1.to_string());
    bodies.push(
        post(
            "/v1/requests".into(),
            c.officer.clone(),
            json!({ "targets": [{ "kind": "phone_number", "value": 33698765432u64 }] }),
        )
        .await,
    );
    // Identifiers typed into fields that are not for them: a kind, an instrument, a category.
    let mut misplaced = order(&c, "p-3", "fraud");
    misplaced["instrument"] = json!("+44 7700 900123");
    misplaced["data_categories"] = json!(["+44 7700 900123"]);
    misplaced["targets"] = json!([{ "kind": "+44 7700 900123", "value": "x" }]);
    bodies.push(
        common::requests::submit(&app, &c.officer, &misplaced)
            .await
            .1
            .to_string(),
    );
    // The affected user's endpoint takes a raw identifier: neither its answers nor the log
    // repeat it, whatever the outcome.
    for value in [common::requests::PHONE, "06 98 76 54 32"] {
        let claim = json!({ "request_id": id, "kind": "phone_number", "value": value, "nonce": "00".repeat(32) });
        let r = app
            .client
            .post(app.url("/v1/subjects/proof"))
            .json(&claim)
            .send()
            .await
            .unwrap();
        assert!(r.status() == 404 || r.status() == 400);
        bodies.push(r.text().await.unwrap());
    }
    let raw_log = server.log.lock().unwrap().join("\n");
    drop(server);

    let mut conn = disclosure_ledger::store::establish(&database_url).unwrap();
    use diesel::prelude::*;
    use disclosure_ledger::store::schema::{entries, requests, sealed_details};
    let mut texts: Vec<String> = entries::table.select(entries::canonical).load(&mut conn).unwrap();
    texts.extend(
        sealed_details::table
            .select(sealed_details::restricted)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    texts.extend(
        requests::table
            .select(requests::failed_rules)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    texts.extend(bodies);
    texts.push(raw_log.clone());
    assert!(raw_log.contains("listening on port"), "the log was captured");
    let needles = [
        "612345678",
        "12 34 56 78",
        "2001:db8::42",
        "2001:0DB8",
        "night_owl",
        "698765432",
        "98 76 54 32",
        "198.51.100.300",
        "someone@example.org",
        "7700 900123",
    ];
    for text in &texts {
        for needle in needles {
            assert!(
                !text.to_lowercase().contains(&needle.to_lowercase()),
                "{needle} leaked into: {text}"
            );
        }
    }
}
