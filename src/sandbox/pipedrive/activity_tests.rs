//! Activities in the Pipedrive sandbox as the v2 and v1 specs define them, and the requests
//! the Pipedrive provider sends for activities, each body checked against the spec.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::PipedriveSandbox;
use super::spec_check::Part;
use super::tests::{Resp, api, check_spec, runtime, start};
use crate::auth::{SecretString, StaticTokenSource};
use crate::model::ObjectKind;
use crate::providers::pipedrive::{Pipedrive, PipedriveOptions};
use crate::providers::{ChangeQuery, Provider, ProviderContext, RemoteWrite};

fn ids(list: &Resp) -> Vec<i64> {
    list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

fn add(sb: &PipedriveSandbox, body: Value) -> i64 {
    let r = api(sb, "POST", "/api/v2/activities", Some(body));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]["id"].as_i64().unwrap()
}

fn patch(sb: &PipedriveSandbox, id: i64, body: Value) -> Resp {
    api(sb, "PATCH", &format!("/api/v2/activities/{id}"), Some(body))
}

#[test]
fn activities_page_by_update_time_filter_by_primary_participant_and_show_deletions() {
    let sb = start();
    sb.freeze_clock(true);
    let since = super::values::rfc3339(sb.now_ms());
    let recents_since = super::values::v1_time(sb.now_ms());
    let (persons, _) = sb.seed(2, 0);
    let mut made = Vec::new();
    for n in 0..4 {
        sb.advance_clock(Duration::from_secs(2));
        made.push(add(
            &sb,
            json!({"type": "call", "subject": format!("Call {n}"), "person_id": persons[n % 2]}),
        ));
    }
    // Edited last, the first moves to the end of the order.
    sb.advance_clock(Duration::from_secs(2));
    assert_eq!(patch(&sb, made[0], json!({"note": "moved"})).status, 200);

    let q = format!("updated_since={since}&sort_by=update_time&sort_direction=asc&limit=3");
    let first = api(&sb, "GET", &format!("/api/v2/activities?{q}"), None);
    assert_eq!(ids(&first), [made[1], made[2], made[3]]);
    let cursor = first.body["additional_data"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let rest = api(
        &sb,
        "GET",
        &format!("/api/v2/activities?{q}&cursor={cursor}"),
        None,
    );
    assert_eq!(ids(&rest), [made[0]]);
    assert!(rest.body["additional_data"]["next_cursor"].is_null());
    let until = super::values::rfc3339(sb.now_ms());
    let before = api(
        &sb,
        "GET",
        &format!("/api/v2/activities?updated_until={until}&sort_by=update_time"),
        None,
    );
    assert_eq!(ids(&before), [made[1], made[2], made[3]]);

    // `person_id` is the primary participant, and follows it.
    let of = |p: i64| {
        ids(&api(
            &sb,
            "GET",
            &format!("/api/v2/activities?person_id={p}"),
            None,
        ))
    };
    assert_eq!(of(persons[0]), [made[0], made[2]]);
    let one = api(&sb, "GET", &format!("/api/v2/activities/{}", made[2]), None);
    assert_eq!(
        one.body["data"]["participants"],
        json!([{"person_id": persons[0], "primary": true}])
    );
    let moved = api(
        &sb,
        "PATCH",
        &format!("/api/v2/activities/{}", made[2]),
        Some(
            json!({"participants": [{"person_id": persons[0], "primary": false},
                                     {"person_id": persons[1], "primary": true}]}),
        ),
    );
    assert_eq!(moved.body["data"]["person_id"], json!(persons[1]));
    assert_eq!(of(persons[0]), [made[0]]);
    assert_eq!(of(persons[1]), [made[1], made[2], made[3]]);

    let types = api(&sb, "GET", "/v1/activityTypes", None);
    let keys: Vec<&str> = types.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key_string"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"task") && keys.contains(&"call"), "{keys:?}");

    sb.advance_clock(Duration::from_secs(2));
    let gone = made[3];
    assert_eq!(
        api(&sb, "DELETE", &format!("/api/v2/activities/{gone}"), None).status,
        200
    );
    assert_eq!(
        api(&sb, "GET", &format!("/api/v2/activities/{gone}"), None).status,
        404
    );
    assert!(!ids(&api(&sb, "GET", "/api/v2/activities", None)).contains(&gone));
    let recents = api(
        &sb,
        "GET",
        &format!(
            "/v1/recents?since_timestamp={}&items=activity",
            recents_since.replace(' ', "%20")
        ),
        None,
    );
    let deleted: Vec<&Value> = recents.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["data"]["active_flag"] == json!(false))
        .collect();
    assert_eq!(deleted.len(), 1, "{}", recents.body);
    assert_eq!(deleted[0]["item"], "activity");
    assert_eq!(deleted[0]["id"], json!(gone));
}

fn provider(sb: &PipedriveSandbox) -> Pipedrive {
    let ctx = ProviderContext {
        connection: "pd".into(),
        base_url: Some(sb.base_url()),
        tokens: Arc::new(StaticTokenSource::new(SecretString::new(sb.api_token()))),
        clock: Arc::new(crate::clock::SystemClock),
        max_requests: None,
        overlap: 0,
    };
    Pipedrive::with_options(
        ctx,
        PipedriveOptions {
            list_limit: 2,
            ..PipedriveOptions::default()
        },
    )
    .unwrap()
}

fn write(local: &str, remote: Option<&str>, props: &[(&str, &str)]) -> RemoteWrite {
    RemoteWrite {
        local_id: local.into(),
        remote_id: remote.map(str::to_string),
        props: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        set_external_id: false,
        takes_over: Vec::new(),
        content_checked: false,
    }
}

#[test]
fn the_providers_activity_requests_are_as_the_spec_defines_them() {
    let sb = start();
    let (persons, orgs) = sb.seed(1, 1);
    let (person, org) = (persons[0].to_string(), orgs[0].to_string());
    let p = provider(&sb);
    let act = ObjectKind::Activity;
    runtime().block_on(async {
        let inputs: Vec<RemoteWrite> = (0..3)
            .map(|n| {
                write(
                    &format!("L{n}"),
                    None,
                    &[
                        ("type", "task"),
                        ("subject", &format!("Intro {n}")),
                        ("due_date", "2026-03-01"),
                        ("done", "false"),
                        ("note", "first"),
                        ("person_id", &person),
                        ("org_id", &org),
                    ],
                )
            })
            .collect();
        let made = p.create(act, &inputs).await.unwrap();
        let made: Vec<String> = made.into_iter().map(|r| r.unwrap().id).collect();
        // The same content again is Pipedrive's activity already.
        let again = p.create(act, &inputs[..1]).await.unwrap();
        assert_eq!(
            again[0].as_ref().unwrap_err().duplicate_of(),
            Some(&*made[0])
        );
        let updated = p
            .update(
                act,
                &[write(
                    "L1",
                    Some(&made[1]),
                    &[("note", ""), ("done", "true"), ("type", "call")],
                )],
            )
            .await
            .unwrap();
        let updated = updated[0].as_ref().unwrap();
        assert_eq!(updated.props.get("note"), None);
        assert_eq!(updated.props["done"], "true");
        assert_eq!(updated.props["person_id"], person);
        p.archive(act, &made[2..]).await.unwrap()[0]
            .as_ref()
            .unwrap();

        // The feed, two a page: the live ones, then the deleted one from the change log.
        let props: Vec<String> = ["type", "subject", "person_id", "done"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut query = ChangeQuery {
            object: act,
            since: None,
            page: None,
            has_links: true,
        };
        let mut live = Vec::new();
        let mut deleted = Vec::new();
        loop {
            let page = p.changes(&query, &props).await.unwrap();
            for r in page.records {
                if r.archived {
                    deleted.push(r.id);
                } else {
                    live.push(r.id);
                }
            }
            match page.next {
                Some(next) => query.page = Some(next),
                None => break,
            }
        }
        live.sort();
        let mut kept = made[..2].to_vec();
        kept.sort();
        assert_eq!(live, kept);
        // The change log is paged by key from a second back: an entry may come twice.
        deleted.dedup();
        assert_eq!(deleted, made[2..]);
        let fields = p.fields(act).await.unwrap();
        let types = &fields.iter().find(|f| f.name == "type").unwrap().options;
        assert!(types.iter().any(|t| t.value == "task"));
    });
    let log = sb.request_log();
    let mut checked = 0;
    for call in &log {
        let path = call.path.split('?').next().unwrap_or(&call.path);
        if let Some(body) = &call.body {
            let body: Value = serde_json::from_str(body).unwrap();
            check_spec(&call.method, path, Part::Request, &body);
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "three creates and one update: {log:?}");
    assert!(
        log.iter()
            .any(|c| c.path.starts_with("/api/v1/recents?") && c.path.contains("items=activity"))
    );
}
