//! `api-spec/openapi.json` is the contract: this test fails when it differs from the document
//! the server serves. After an intended API change, regenerate it with
//! `UPDATE_API_SPEC=1 cargo test --test openapi` and commit the result.

mod common;

#[tokio::test]
async fn the_committed_openapi_document_is_what_the_server_serves() {
    let app = common::spawn().await;
    let served = app.text("/openapi.json").await;
    let served: serde_json::Value = serde_json::from_str(&served).unwrap();
    let mut pretty = serde_json::to_string_pretty(&served).unwrap();
    pretty.push('\n');
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-spec/openapi.json");
    if std::env::var("UPDATE_API_SPEC").is_ok() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("api-spec/openapi.json exists");
    assert!(
        committed == pretty,
        "api-spec/openapi.json differs from the served document; rerun with UPDATE_API_SPEC=1"
    );
    for p in [
        "/v1/log/checkpoint",
        "/v1/log/entries",
        "/v1/log/proof/inclusion",
        "/v1/policies",
        "/metrics",
    ] {
        assert!(served["paths"].get(p).is_some(), "{p} missing from the spec");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_under_docs() {
    let app = common::spawn().await;
    let r = app.get("/docs/").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("swagger"));
}
