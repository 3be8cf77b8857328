//! Nothing bad gets in (issue 10): every body is read strictly, after the caller is
//! authorised, and numbers an entry could not hold exactly are refused at the door with the
//! field named. After each refusal the ledger is unchanged and still verifies.

mod common;

use common::requests::{act, court, order, submit, Court};
use common::{assert_problem, TestApp};
use disclosure_ledger::auth::Role;
use serde_json::{json, Value};

const BEYOND: &str = "9007199254740993";

fn aggregate(id: &str, fulfilled: &str) -> String {
    format!(
        r#"{{"type":"aggregate","external_id":"{id}","country":"FRA","from":"2024-01-01","to":"2024-03-31","fulfilled_requests":{fulfilled},"affected_users":3,"source":"Telegram transparency bot","source_sha256":"{}"}}"#,
        "a".repeat(64)
    )
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut r = app.client.post(app.url(path)).body(body.to_string());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        r = r.header("content-type", ct);
    }
    r.send().await.unwrap()
}

/// The ledger still verifies end to end, as an auditor asks it.
async fn assert_verifies(app: &TestApp) {
    let v = app.get_json_as("/v1/audit/verify", &app.token(Role::Auditor)).await;
    assert_eq!(v["ok"], true, "{v}");
}

fn field_codes(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_import_with_an_integer_beyond_2_pow_53_is_refused_naming_the_field() {
    let app = common::spawn().await;
    let admin = app.token(Role::Admin);
    let before = app.size().await;
    for (ct, body) in [
        ("application/json", format!("[{}]", aggregate("q1", BEYOND))),
        ("application/x-ndjson", format!("{}\n", aggregate("q1", BEYOND))),
    ] {
        let r = post_raw(&app, "/v1/imports", Some(&admin), Some(ct), &body).await;
        let p = assert_problem(r, 422).await;
        assert_eq!(
            field_codes(&p),
            vec![("records[0].fulfilled_requests".to_string(), "out_of_range".to_string())],
            "{ct}"
        );
    }
    // A fraction, a negative beyond the range and a number past 64 bits, each named.
    for (value, code) in [
        ("1.5", "not_an_integer"),
        ("-9007199254740992", "out_of_range"),
        ("1e3", "not_an_integer"),
        ("123456789012345678901234567890", "out_of_range"),
    ] {
        let body = format!("[{},{}]", aggregate("ok", "1"), aggregate("q2", value));
        let r = post_raw(&app, "/v1/imports", Some(&admin), Some("application/json"), &body).await;
        let p = assert_problem(r, 422).await;
        assert_eq!(
            field_codes(&p),
            vec![("records[1].fulfilled_requests".to_string(), code.to_string())],
            "{value}"
        );
    }
    assert_eq!(app.size().await, before, "nothing appended");
    // The largest safe integer is recorded exactly, and the ledger verifies.
    let body = format!("[{}]", aggregate("q3", "9007199254740991"));
    let r = post_raw(&app, "/v1/imports", Some(&admin), Some("application/json"), &body).await;
    assert_eq!(r.status(), 200);
    let entry = app
        .get_json_as(&format!("/v1/log/entries/{before}"), &app.token(Role::Auditor))
        .await;
    assert!(entry.to_string().contains("9007199254740991"), "{entry}");
    assert_verifies(&app).await;
}

#[tokio::test]
async fn a_repeated_member_is_refused_in_every_body_nested_or_not() {
    let app = common::spawn().await;
    let admin = app.token(Role::Admin);
    let before = app.size().await;
    let record = aggregate("dup", "5").replacen(
        r#""fulfilled_requests":5"#,
        r#""fulfilled_requests":5,"fulfilled_requests":500"#,
        1,
    );
    for (ct, body) in [
        ("application/json", format!("[{record}]")),
        ("application/x-ndjson", record.clone()),
    ] {
        let p = assert_problem(post_raw(&app, "/v1/imports", Some(&admin), Some(ct), &body).await, 400).await;
        assert_eq!(
            field_codes(&p),
            vec![(
                "records[0].fulfilled_requests".to_string(),
                "duplicate_member".to_string()
            )]
        );
    }
    let cases = [
        (
            "/v1/authorities",
            r#"{"country":"BEL","kind":"police","judicial":false,"name":"A","name":"B"}"#,
            "name",
        ),
        ("/v1/policies", r#"{"name":"a","name":"b","document":"x"}"#, "name"),
        (
            "/v1/subjects/proof",
            r#"{"request_id":"x","kind":"phone_number","kind":"ip_address","value":"1","nonce":"00"}"#,
            "kind",
        ),
    ];
    for (path, body, field) in cases {
        let p = assert_problem(
            post_raw(&app, path, Some(&admin), Some("application/json"), body).await,
            400,
        )
        .await;
        assert_eq!(
            field_codes(&p),
            vec![(field.to_string(), "duplicate_member".to_string())],
            "{path}"
        );
    }
    assert_eq!(app.size().await, before);
    // The same record without the repeat is a fresh import, not a replay of a mangled one.
    let r = post_raw(
        &app,
        "/v1/imports",
        Some(&admin),
        Some("application/json"),
        &format!("[{}]", aggregate("dup", "500")),
    )
    .await;
    let summary: Value = r.json().await.unwrap();
    assert_eq!(summary["imported"], 1, "{summary}");
}

/// An approved request, ready for a disclosure.
async fn approved(app: &TestApp) -> (Court, String) {
    let c = court(app).await;
    let (status, body) = submit(app, &c.officer, &order(&c, "hostile", "drug_trafficking")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["request"]["id"].as_str().unwrap().to_string();
    let (status, body) = act(
        app,
        &app.token(Role::Reviewer),
        &id,
        "decision",
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (c, id)
}

#[tokio::test]
async fn disclosure_figures_beyond_i_json_and_repeated_categories_are_refused() {
    let app = common::spawn().await;
    let (_, id) = approved(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let before = app.size().await;
    let path = format!("/v1/requests/{id}/disclosure");
    let cases = [
        (
            format!(r#"{{"outcome":"fully_produced","accounts_affected":1,"values":{{"ip_address":{BEYOND}}}}}"#),
            422,
            ("values.ip_address", "out_of_range"),
        ),
        (
            format!(r#"{{"outcome":"fully_produced","accounts_affected":{BEYOND},"values":{{"ip_address":1}}}}"#),
            422,
            ("accounts_affected", "out_of_range"),
        ),
        (
            r#"{"outcome":"fully_produced","accounts_affected":1,"values":{"ip_address":1,"ip_address":3}}"#
                .to_string(),
            400,
            ("values.ip_address", "duplicate_member"),
        ),
        (
            r#"{"outcome":"fully_produced","accounts_affected":1,"values":{"ip_address":4294967296}}"#.to_string(),
            0,
            ("", ""),
        ),
    ];
    for (body, status, (field, code)) in cases {
        let r = post_raw(&app, &path, Some(&reviewer), Some("application/json"), &body).await;
        if status == 0 {
            // Within I-JSON, beyond 32 bits: the ledger records it exactly.
            assert_eq!(r.status(), 200, "{body}");
            continue;
        }
        let p = assert_problem(r, status).await;
        assert_eq!(field_codes(&p), vec![(field.to_string(), code.to_string())], "{body}");
        assert_eq!(app.size().await, before, "nothing appended for {body}");
    }
    assert_verifies(&app).await;
}

#[tokio::test]
async fn per_identifier_figures_that_overflow_when_summed_do_not_match_the_total() {
    let app = common::spawn().await;
    let (_, id) = approved(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let ids = app.open_vault(&id, &reviewer, "checking normalisation").await;
    let commitments: Vec<String> = ids["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["commitment"].as_str().unwrap().to_string())
        .collect();
    assert!(commitments.len() >= 2, "{ids}");
    // 2^32 − 1 + 1 wraps to 0 in 32 bits; in the ledger it is 2^32 and must equal the total.
    let body = json!({
        "outcome": "fully_produced", "accounts_affected": 2, "values": { "ip_address": 5 },
        "identifiers": [
            { "commitment": commitments[0], "values": { "ip_address": 4294967295u64 } },
            { "commitment": commitments[1], "values": { "ip_address": 1 } }
        ]
    });
    let (status, p) = act(&app, &reviewer, &id, "disclosure", body).await;
    assert_eq!(status, 400, "{p}");
    assert_eq!(p["errors"][0]["field"], "identifiers");
}

#[tokio::test]
async fn bodies_are_not_read_before_the_caller_is_authorised() {
    let app = common::spawn().await;
    let reviewer = app.token(Role::Reviewer);
    // Wrong role and a malformed body: 403, not 400.
    let r = post_raw(
        &app,
        "/v1/authorities",
        Some(&reviewer),
        Some("application/json"),
        "{not json",
    )
    .await;
    assert_problem(r, 403).await;
    // No token and 40 MB declared: 401 at once, before the body would be read.
    let big = "[".to_string() + &"1,".repeat(20 << 20) + "1]";
    let r = post_raw(&app, "/v1/imports", None, Some("application/json"), &big).await;
    assert_problem(r, 401).await;
    // With the role, over the limit: 413 problem+json on every kind of endpoint.
    let admin = app.token(Role::Admin);
    let over = format!(r#"{{"name":"x","document":"{}"}}"#, "a".repeat(2 << 20));
    assert_problem(
        post_raw(&app, "/v1/policies", Some(&admin), Some("application/json"), &over).await,
        413,
    )
    .await;
    let huge = "[".to_string() + &"1,".repeat(33 << 20) + "1]";
    assert_problem(
        post_raw(&app, "/v1/imports", Some(&admin), Some("application/json"), &huge).await,
        413,
    )
    .await;
    // Not JSON by its media type: 415 problem+json.
    let r = post_raw(
        &app,
        "/v1/policies",
        Some(&admin),
        Some("text/plain"),
        r#"{"name":"a","document":"b"}"#,
    )
    .await;
    assert_problem(r, 415).await;
    let r = post_raw(
        &app,
        "/v1/policies",
        Some(&admin),
        None,
        r#"{"name":"a","document":"b"}"#,
    )
    .await;
    assert_problem(r, 415).await;
}

#[tokio::test]
async fn typed_errors_name_the_field_and_never_quote_the_value() {
    let app = common::spawn().await;
    let c = court(&app).await;
    let mut body = order(&c, "typed", "drug_trafficking");
    body["targets"][1]["value"] = json!(33612345678u64);
    let r = post_raw(
        &app,
        "/v1/requests",
        Some(&c.officer),
        Some("application/json"),
        &body.to_string(),
    )
    .await;
    let p = assert_problem(r, 400).await;
    assert_eq!(p["errors"][0]["field"], "targets[1].value", "{p}");
    assert!(!p.to_string().contains("33612345678"), "{p}");
    // A member name that could hold a value is not repeated back either.
    body["targets"][1] = json!({ "kind": "ip_address", "value": "192.0.2.1", "+33612345678": 1 });
    let r = post_raw(
        &app,
        "/v1/requests",
        Some(&c.officer),
        Some("application/json"),
        &body.to_string(),
    )
    .await;
    let p = assert_problem(r, 400).await;
    assert!(!p.to_string().contains("33612345678"), "{p}");
}

#[tokio::test]
async fn re_adopting_the_policy_in_force_appends_nothing() {
    let app = common::spawn().await;
    let first = app.adopt_policy("telegram-2018").await;
    let size = app.size().await;
    let admin = app.token(Role::Admin);
    let body = json!({ "name": "telegram-2018", "document": common::policy_document("telegram-2018") });
    let (status, again) = app.admin_post("/v1/policies", body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(app.size().await, size, "nothing appended");
    assert_eq!(again["entries"][0]["index"], first["entries"][0]["index"], "{again}");
    assert_eq!(again["sha256"], first["sha256"]);
    // Another policy, then the first again: that is a change, and it is recorded.
    app.adopt_policy("telegram-2024-09").await;
    let r = app
        .client
        .post(app.url("/v1/policies"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "telegram-2018", "document": common::policy_document("telegram-2018") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn a_trunk_prefix_in_brackets_gives_the_same_commitment_as_without() {
    let app = common::spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let mut commitments = Vec::new();
    // The same subscriber as written with a bracketed trunk prefix, plainly, and nationally by a
    // French authority: one E.164 form, so one value in the vault.
    for (n, spelling) in ["+33 (0)6 12 34 56 78", "+33 6 12 34 56 78", "06 12 34 56 78"]
        .iter()
        .enumerate()
    {
        let mut body = order(&c, &format!("trunk-{n}"), "drug_trafficking");
        body["targets"] = json!([{ "kind": "phone_number", "value": spelling }]);
        body["data_categories"] = json!(["phone_number"]);
        common::requests::sign(&c, &mut body);
        let (status, r) = submit(&app, &c.officer, &body).await;
        assert_eq!(status, 201, "{spelling}: {r}");
        let id = r["request"]["id"].as_str().unwrap().to_string();
        let ids = app.open_vault(&id, &reviewer, "checking normalisation").await;
        commitments.push(ids["identifiers"][0]["value"].clone());
    }
    assert!(commitments.iter().all(|v| v == "+33612345678"), "{commitments:?}");
    // Not valid for its country: recorded as rejected under V7, the value not echoed.
    let mut body = order(&c, "trunk-bad", "drug_trafficking");
    body["targets"] = json!([{ "kind": "phone_number", "value": "+33 1" }]);
    common::requests::sign(&c, &mut body);
    let (status, r) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 422, "{r}");
    assert!(
        r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "targets[0]"),
        "{r}"
    );
    assert!(!r.to_string().contains("+33 1\""), "{r}");
}

/// Found by trying the server as an outsider would (issue 10's kinds, siblings).
#[tokio::test]
async fn siblings_found_by_a_red_team_hold() {
    let app = common::spawn().await;
    let admin = app.token(Role::Admin);
    let auditor = app.token(Role::Auditor);
    // Report sums stay within I-JSON: three records of 2^53 − 1 do not add up past it.
    let rec = |id: &str| {
        format!(
            r#"{{"type":"request","external_id":"{id}","country":"DEU","instrument":"court_order","received":"2023-05-02","outcome":"fulfilled","source":"S","source_sha256":"{}","data_categories":["ip_address"],"identifiers":9007199254740991,"accounts_affected":9007199254740991,"values":{{"ip_address":9007199254740991}}}}"#,
            "a".repeat(64)
        )
    };
    let body = format!("[{},{},{}]", rec("e1"), rec("e2"), rec("e3"));
    let r = post_raw(&app, "/v1/imports", Some(&admin), Some("application/json"), &body).await;
    assert_eq!(r.status(), 200);
    let report = app.get_json_as("/v1/reports/transparency?country=DEU", &auditor).await;
    let text = report.to_string();
    assert!(
        !text.contains("27021597764222973") && text.contains("9007199254740991"),
        "{text}"
    );

    // Parser and path text never comes back.
    for path in ["/v1/log/entries/203.0.113.77", "/v1/audit/entries/evilmallory/sealed"] {
        let r = app.get(path).await;
        let p = assert_problem(r, 404).await;
        assert!(
            !p.to_string().contains("203.0.113") && !p.to_string().contains("evilmallory"),
            "{p}"
        );
    }
    for path in [
        "/v1/log/entries?start=1&start=2",
        "/v1/log/entries?limit=-1",
        "/v1/log/entries?limit=%2B33612345678x",
    ] {
        let p = assert_problem(app.get(path).await, 400).await;
        let t = p.to_string();
        assert!(
            !t.contains("deserialize") && !t.contains("invalid digit") && !t.contains("3361"),
            "{t}"
        );
    }
    let doc = "name = \"x\"\nfoo = \"+33 6 99 88 77 66\"\n";
    let (status, p) = app
        .admin_post("/v1/policies", json!({ "name": "x", "document": doc }))
        .await;
    assert_eq!(status, 422);
    assert!(!p.to_string().contains("99 88"), "{p}");

    // Media types: one Content-Type, UTF-8 only, no content coding.
    let body = r#"{"name":"a","document":"b"}"#;
    for (ct, extra) in [
        ("application/json; charset=latin1", None),
        ("application/json", Some(("content-encoding", "gzip"))),
    ] {
        let mut r = app
            .client
            .post(app.url("/v1/policies"))
            .bearer_auth(&admin)
            .header("content-type", ct)
            .body(body);
        if let Some((k, v)) = extra {
            r = r.header(k, v);
        }
        assert_problem(r.send().await.unwrap(), 415).await;
    }
    let r = app
        .client
        .post(app.url("/v1/policies"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_problem(r, 415).await;
    // Two Authorization headers: refused, not "the first wins".
    let r = app
        .client
        .get(app.url("/v1/auth/whoami"))
        .header("authorization", format!("Bearer {admin}"))
        .header("authorization", format!("Bearer {auditor}"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;

    // issuing_authority is an id, never free text that would be stored and shown.
    let c = court(&app).await;
    let mut order_body = order(&c, "free-text", "drug_trafficking");
    order_body["issuing_authority"] = json!("+33 6 12 34 56 78");
    let (status, p) = submit(&app, &c.officer, &order_body).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["errors"][0]["field"], "issuing_authority");
    assert!(!p.to_string().contains("12 34"), "{p}");
}

#[tokio::test]
async fn a_token_whose_exp_is_not_after_its_iat_is_refused() {
    let app = common::spawn().await;
    let authority = app.register_authority().await;
    let (kid, key) = app.add_ed25519_key(&authority).await;
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = common::officer_claims(&app, &authority);
    claims["iat"] = json!(now);
    claims["exp"] = json!(now);
    let t = common::sign_ed25519(&key, &kid, &claims);
    let r = app
        .client
        .get(app.url("/v1/auth/whoami"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
}
