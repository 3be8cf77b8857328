//! The auditor's API: sealed details that recompute the entry's `sealed` commitment, and a
//! server-side verification that names an entry edited behind the server's back.

mod common;

use common::requests::{check_receipt, court, order, submit};
use common::{assert_problem, spawn};
use disclosure_ledger::auth::Role;
use disclosure_ledger::ledger::{commitment, hex_hash};
use serde_json::Value;

#[tokio::test]
async fn an_auditor_recomputes_the_sealed_commitment_from_details_and_salt() {
    let app = spawn().await;
    let c = court(&app).await;
    let (status, body) = submit(&app, &c.officer, &order(&c, "audit-1", "fraud")).await;
    assert_eq!(status, 201);
    let received = &check_receipt(&app, &body["receipt"]).await[0];
    let auditor = app.token(Role::Auditor);
    let r = app
        .client
        .get(app.url(&format!("/v1/audit/entries/{}/sealed", received.index)))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sealed: Value = r.json().await.unwrap();
    let salt: [u8; 32] = hex::decode(sealed["salt"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let recomputed = commitment::sealed(&salt, &sealed["restricted"]).unwrap();
    assert_eq!(Some(hex_hash(&recomputed)), received.sealed);
    assert_eq!(sealed["restricted"]["case_reference"], "TJ-PARIS-audit-1");
    assert_eq!(sealed["restricted"]["identifiers"].as_array().unwrap().len(), 3);

    for (token, status) in [(Some(app.token(Role::Reviewer)), 403), (None, 401)] {
        let mut req = app
            .client
            .get(app.url(&format!("/v1/audit/entries/{}/sealed", received.index)));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_problem(req.send().await.unwrap(), status).await;
    }
    let r = app
        .client
        .get(app.url("/v1/audit/entries/0/sealed"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404).await;
}

#[tokio::test]
async fn server_side_verification_passes_then_names_an_entry_edited_behind_its_back() {
    let app = spawn().await;
    let c = court(&app).await;
    assert_eq!(submit(&app, &c.officer, &order(&c, "audit-2", "fraud")).await.0, 201);
    let auditor = app.token(Role::Auditor);
    let report: Value = app
        .client
        .get(app.url("/v1/audit/verify"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["entries"], 5);

    let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
    use diesel::prelude::*;
    diesel::sql_query("UPDATE entries SET canonical = replace(canonical, '\"FRA\"', '\"DEU\"') WHERE idx = 3")
        .execute(&mut conn)
        .unwrap();
    let report: Value = app
        .client
        .get(app.url("/v1/audit/verify"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["failure"]["index"], 3, "{report}");
    let r = app
        .client
        .get(app.url("/v1/audit/verify"))
        .bearer_auth(app.token(Role::Admin))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403).await;
}
