//! Policies at start: `serve --policy FILE` adopts the file as entry 0 of a new ledger, and on
//! an existing ledger adopts it only when it is not already the policy in force.

mod common;

#[tokio::test]
async fn a_configured_policy_is_adopted_at_start_only_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let dir_path = dir.path().to_path_buf();
    let with = |name: &'static str| {
        move |s: &mut disclosure_ledger::config::Settings| {
            s.policy = Some((name.to_string(), common::policy_document(name)))
        }
    };
    let first = common::spawn_with(dir, url.clone(), with("telegram-2018")).await;
    let e0 = first.get_json("/v1/log/entries/0").await;
    assert_eq!(e0["public"]["name"], "telegram-2018");

    // Same policy again: nothing appended. A different one: adopted as the next entry.
    let again = common::spawn_with(tempfile::tempdir_in(&dir_path).unwrap(), url.clone(), |s| {
        s.data_dir = dir_path.clone();
        s.policy = Some(("telegram-2018".into(), common::policy_document("telegram-2018")));
    })
    .await;
    assert!(
        again.get_json("/v1/log/entries").await["entries"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
    let changed = common::spawn_with(tempfile::tempdir_in(&dir_path).unwrap(), url.clone(), |s| {
        s.data_dir = dir_path.clone();
        s.policy = Some(("telegram-2024-09".into(), common::policy_document("telegram-2024-09")));
    })
    .await;
    let entries = changed.get_json("/v1/log/entries").await;
    let names: Vec<&str> = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["public"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["telegram-2018", "telegram-2024-09"]);
    assert_eq!(
        changed.get_json("/v1/policies/current").await["name"],
        "telegram-2024-09"
    );
}
