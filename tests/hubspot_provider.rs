//! The HubSpot provider and the shared HTTP layer against small scripted fakes: each test
//! serves its own answers on 127.0.0.1 and checks the requests the provider sent.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crmsync::clock::{Clock, FixedClock};
use crmsync::model::ObjectKind;
use crmsync::providers::http::{HttpOptions, WaitReason};
use crmsync::providers::hubspot::{self, HubSpot, HubSpotOptions};
use crmsync::providers::{
    ChangeQuery, FieldSpec, Provider, ProviderContext, ProviderError, ProviderKind, RecordError,
    RemoteFieldKind, RemoteRecord, RemoteWrite, TokenSource,
};

use common::fake_http::{Answer, Fake, Seen, answer, http_date, remote_write as write};

const NOW: i64 = 1_800_000_000_000;

/// A token source that hands out `old` until refreshed, then `new`.
struct Tokens {
    refreshes: AtomicUsize,
    can_refresh: bool,
}

#[async_trait]
impl TokenSource for Tokens {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok("old-token".into())
    }
    async fn refresh(&self, rejected: &str) -> Result<Option<String>, ProviderError> {
        assert_eq!(rejected, "old-token");
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(self.can_refresh.then(|| "new-token".into()))
    }
}

struct Setup {
    hs: HubSpot,
    tokens: Arc<Tokens>,
    clock: Arc<FixedClock>,
}

fn setup(fake: &Fake, max_requests: Option<u64>, tweak: impl FnOnce(&mut HubSpotOptions)) -> Setup {
    setup_with_overlap(
        fake,
        max_requests,
        crmsync::providers::DEFAULT_OVERLAP_MS,
        tweak,
    )
}

fn setup_with_overlap(
    fake: &Fake,
    max_requests: Option<u64>,
    overlap: i64,
    tweak: impl FnOnce(&mut HubSpotOptions),
) -> Setup {
    let tokens = Arc::new(Tokens {
        refreshes: AtomicUsize::new(0),
        can_refresh: true,
    });
    let clock = Arc::new(FixedClock::new(NOW));
    let ctx = ProviderContext {
        connection: "acme".into(),
        base_url: Some(fake.url.clone()),
        tokens: tokens.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        max_requests,
        overlap,
    };
    let mut options = HubSpotOptions {
        http: HttpOptions {
            no_sleep: true,
            ..HttpOptions::default()
        },
        ..HubSpotOptions::default()
    };
    tweak(&mut options);
    Setup {
        hs: HubSpot::with_options(ctx, options).expect("provider"),
        tokens,
        clock,
    }
}

fn contact(id: &str, modified: i64, extra: Value) -> Value {
    let iso = crmsync::clock::format_instant(modified);
    let mut props =
        json!({ "email": format!("{id}@x.test"), "lastmodifieddate": iso, "hs_object_id": id });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            props[k] = v;
        }
    }
    json!({ "id": id, "properties": props, "createdAt": iso, "updatedAt": iso, "archived": false })
}

fn cursor(since: i64, archive_scan: i64) -> String {
    json!({ "v": 1, "since": since, "archive_scan": archive_scan }).to_string()
}

fn query(object: ObjectKind, since: Option<String>, page: Option<String>) -> ChangeQuery {
    ChangeQuery {
        object,
        since,
        page,
        has_links: true,
    }
}

#[tokio::test]
async fn incremental_search_pages_by_key_and_filters_from_the_cursor() {
    let all = json!([
        { "id": "1", "properties": { "name": "A", "hs_lastmodifieddate": "2027-01-15T08:00:00.000Z" },
          "createdAt": "2027-01-01T00:00:00.000Z", "updatedAt": "2027-01-15T08:00:00.000Z", "archived": false },
        { "id": "2", "properties": { "name": "B", "hs_lastmodifieddate": "2027-01-15T08:00:01.000Z", "crmsync_id": "L2" },
          "createdAt": "2027-01-01T00:00:00.000Z", "updatedAt": "2027-01-15T08:00:01.000Z", "archived": false },
        { "id": "3", "properties": { "name": "C", "hs_lastmodifieddate": "2027-01-15T09:00:00.000Z", "domain": null },
          "createdAt": "2027-01-01T00:00:00.000Z", "updatedAt": "2027-01-15T09:00:00.000Z", "archived": false }
    ]);
    let fake = Fake::start(move |req, _| {
        assert_eq!(req.path, "/crm/v3/objects/companies/search");
        assert!(req.body.get("after").is_none(), "no offset paging");
        let from: i64 = req.body["filterGroups"][0]["filters"][0]["value"]
            .as_str()
            .expect("a lower bound")
            .parse()
            .unwrap();
        let limit = req.body["limit"].as_u64().unwrap() as usize;
        let results: Vec<Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                crmsync::clock::parse_instant(r["updatedAt"].as_str().unwrap()).unwrap() >= from
            })
            .take(limit)
            .cloned()
            .collect();
        answer(200, json!({ "total": results.len(), "results": results }))
    });
    let s = setup(&fake, None, |o| o.search_limit = 2);
    let since = NOW - 60_000;
    let props =
        s.hs.read_properties(ObjectKind::Company, &["name".into(), "domain".into()]);
    let first =
        s.hs.changes(
            &query(ObjectKind::Company, Some(cursor(since, NOW - 1000)), None),
            &props,
        )
        .await
        .unwrap();
    assert_eq!(first.records.len(), 2);
    assert_eq!(first.records[1].external_id.as_deref(), Some("L2"));
    assert_eq!(
        first.records[0].updated_at,
        crmsync::clock::parse_instant("2027-01-15T08:00:00.000Z").unwrap()
    );
    let next = first.next.clone().expect("a second page");
    let second =
        s.hs.changes(
            &query(
                ObjectKind::Company,
                Some(cursor(since, NOW - 1000)),
                Some(next),
            ),
            &props,
        )
        .await
        .unwrap();
    assert_eq!(second.records.len(), 1);
    assert!(
        !second.records[0].props.contains_key("domain"),
        "null is absent"
    );
    let third =
        s.hs.changes(
            &query(
                ObjectKind::Company,
                Some(cursor(since, NOW - 1000)),
                second.next.clone(),
            ),
            &props,
        )
        .await
        .unwrap();
    assert!(third.records.is_empty(), "id 3 is not read twice");
    assert!(
        third.next.is_none(),
        "archive scan is recent: no archived list"
    );

    let seen = fake.seen();
    // The third search starts at 09:00, meets only id 3 again and ends the read.
    assert_eq!(seen.len(), 3);
    let body = &seen[0].body;
    assert_eq!(
        seen[1].body["filterGroups"][0]["filters"][0],
        json!({ "propertyName": "hs_lastmodifieddate", "operator": "GTE",
                "value": crmsync::clock::parse_instant("2027-01-15T08:00:01.000Z").unwrap().to_string() })
    );
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].auth.as_deref(), Some("Bearer old-token"));
    assert_eq!(
        body["filterGroups"][0]["filters"][0],
        json!({ "propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since.to_string() })
    );
    assert_eq!(
        body["sorts"][0],
        json!({ "propertyName": "hs_lastmodifieddate", "direction": "ASCENDING" })
    );
    assert_eq!(body["limit"], json!(2));
    let asked: Vec<&str> = body["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(asked.contains(&"crmsync_id") && asked.contains(&"hs_lastmodifieddate"));

    // The checkpoint carries the newest change minus the overlap.
    let cp: Value = serde_json::from_str(third.checkpoint.as_deref().unwrap()).unwrap();
    let newest = crmsync::clock::parse_instant("2027-01-15T09:00:00.000Z").unwrap();
    assert_eq!(
        cp["since"],
        json!(newest - crmsync::providers::DEFAULT_OVERLAP_MS)
    );
    assert_eq!(cp["archive_scan"], json!(NOW - 1000));
}

#[tokio::test]
async fn the_configured_overlap_sets_how_far_back_the_next_read_starts() {
    let fake = Fake::start(|_, _| {
        answer(200, json!({ "total": 0, "results": [] })).header("Date", &http_date(NOW))
    });
    let s = setup_with_overlap(&fake, None, 30_000, |_| {});
    let c = cursor(NOW - 3_600_000, NOW - 60_000);
    let page =
        s.hs.changes(
            &query(ObjectKind::Contact, Some(c), None),
            &["email".into()],
        )
        .await
        .unwrap();
    let cp: Value = serde_json::from_str(page.checkpoint.as_deref().unwrap()).unwrap();
    assert_eq!(cp["since"], json!(NOW - 30_000));
}

#[tokio::test]
async fn a_no_op_run_costs_one_search_and_moves_the_cursor_up_to_the_overlap() {
    let fake = Fake::start(|_, _| {
        answer(200, json!({ "total": 0, "results": [] })).header("Date", &http_date(NOW))
    });
    let s = setup(&fake, None, |_| {});
    let c = cursor(NOW - 3_600_000, NOW - 60_000);
    let page =
        s.hs.changes(
            &query(ObjectKind::Contact, Some(c.clone()), None),
            &["email".into(), "associations.companies".into()],
        )
        .await
        .unwrap();
    assert!(page.records.is_empty() && page.next.is_none());
    // Nothing changed, yet the cursor moves to the read's start (HubSpot's `Date`) minus the
    // overlap, so records read before (the echoes of crmsync's own writes) are not read again
    // forever.
    let cp: Value = serde_json::from_str(page.checkpoint.as_deref().unwrap()).unwrap();
    assert_eq!(
        cp["since"],
        json!(NOW - crmsync::providers::DEFAULT_OVERLAP_MS)
    );
    assert_eq!(cp["archive_scan"], json!(NOW - 60_000));
    assert_eq!(s.hs.requests_sent(), 1);
    assert_eq!(fake.seen()[0].path, "/crm/v3/objects/contacts/search");
}

/// A search over `records` (id, modified) as HubSpot answers one: the filters of its one
/// group (on the modified time, `GTE`, `GT` or `EQ`; on `hs_object_id`, `GT`), sorted by the
/// one sort asked for. `ties(query, ids)` orders records of equal modification times when
/// sorting by time: HubSpot promises no order among them, so it may differ between queries.
/// Offset paging (`after`) is refused: a read must not depend on it.
fn keyset_search(
    records: Vec<(String, i64)>,
    ties: impl Fn(usize, (&str, &str)) -> std::cmp::Ordering + Send + Sync + 'static,
) -> impl Fn(&Seen, usize) -> Answer {
    move |req, n| {
        assert!(
            req.body.get("after").is_none(),
            "offset paging: {}",
            req.body
        );
        let filters = req.body["filterGroups"][0]["filters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let keep = |(id, t): &(String, i64)| {
            filters.iter().all(|f| {
                let v: i64 = f["value"].as_str().unwrap().parse().unwrap();
                let actual = if f["propertyName"] == "hs_object_id" {
                    id.parse().unwrap()
                } else {
                    *t
                };
                match f["operator"].as_str().unwrap() {
                    "GTE" => actual >= v,
                    "GT" => actual > v,
                    "EQ" => actual == v,
                    op => panic!("operator {op}"),
                }
            })
        };
        let mut matching: Vec<(String, i64)> =
            records.iter().filter(|r| keep(r)).cloned().collect();
        let sorts = req.body["sorts"].as_array().unwrap();
        assert_eq!(sorts.len(), 1, "one sort");
        if sorts[0]["propertyName"] == "hs_object_id" {
            matching.sort_by_key(|(id, _)| id.parse::<u64>().unwrap());
        } else {
            matching.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| ties(n, (&a.0, &b.0))));
        }
        let limit = req.body["limit"].as_u64().unwrap() as usize;
        let page: Vec<Value> = matching
            .iter()
            .take(limit)
            .map(|(id, t)| contact(id, *t, json!({})))
            .collect();
        let mut body = json!({ "total": matching.len(), "results": page });
        if limit < matching.len() {
            body["paging"] = json!({ "next": { "after": limit.to_string() } });
        }
        answer(200, body)
    }
}

/// Reads the whole feed from `since`; returns the ids in the order read.
async fn read_all(s: &Setup, since: Option<String>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page = None;
    for _ in 0..50 {
        let p =
            s.hs.changes(
                &query(ObjectKind::Contact, since.clone(), page.clone()),
                &["email".into()],
            )
            .await
            .unwrap();
        ids.extend(p.records.iter().map(|r| r.id.clone()));
        page = p.next;
        if page.is_none() {
            return ids;
        }
    }
    panic!("the read did not end: {ids:?}");
}

#[tokio::test]
async fn each_search_starts_at_the_newest_time_read_and_drops_the_ids_read_there() {
    let base = NOW - 100_000;
    let records: Vec<(String, i64)> = [0, 1, 2, 3, 3, 4, 5, 6, 6, 7]
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{}", 100 + i), base + t * 1000))
        .collect();
    let fake = Fake::start(keyset_search(records.clone(), |_, (a, b)| a.cmp(b)));
    let s = setup(&fake, None, |o| o.search_limit = 2);
    let ids = read_all(&s, Some(cursor(base - 1, NOW))).await;
    let want: Vec<String> = records.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, want, "every record once, in order");
    let froms: Vec<Option<String>> = fake
        .seen()
        .iter()
        .map(|r| {
            r.body["filterGroups"][0]["filters"][0]["value"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert!(
        froms.contains(&Some((base + 3000).to_string())),
        "{froms:?}"
    );
}

#[tokio::test]
async fn more_records_at_one_time_than_a_page_are_paged_by_id_whatever_their_order() {
    let base = NOW - 100_000;
    // Five records share one time, more than a page holds; the time-sorted queries list
    // them in a different order each time.
    let records: Vec<(String, i64)> = [0, 1, 3, 3, 3, 3, 3, 4, 5]
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{}", 100 + i), base + t * 1000))
        .collect();
    let fake = Fake::start(keyset_search(records.clone(), |n, (a, b)| {
        if n % 2 == 0 { b.cmp(a) } else { a.cmp(b) }
    }));
    let s = setup(&fake, None, |o| o.search_limit = 2);
    let ids = read_all(&s, Some(cursor(base - 1, NOW))).await;
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "no record twice: {ids:?}");
    let want: Vec<String> = records.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(sorted, want, "every record: {ids:?}");
    let seen = fake.seen();
    assert!(
        seen.iter()
            .any(|r| r.body["sorts"][0]["propertyName"] == "hs_object_id"),
        "the time shared by a page's worth is paged by id"
    );
    assert!(
        seen.iter().any(|r| {
            r.body["filterGroups"][0]["filters"][0]["operator"] == "GT"
                && r.body["filterGroups"][0]["filters"][0]["value"].as_str()
                    == Some((base + 3000).to_string().as_str())
        }),
        "then the read goes on past that time"
    );
}

#[tokio::test]
async fn an_unreachable_crm_is_a_network_error_after_the_retries() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tokens = Arc::new(Tokens {
        refreshes: AtomicUsize::new(0),
        can_refresh: false,
    });
    let ctx = ProviderContext {
        connection: "acme".into(),
        base_url: Some(format!("http://127.0.0.1:{port}")),
        tokens,
        clock: Arc::new(FixedClock::new(NOW)),
        max_requests: None,
        overlap: crmsync::providers::DEFAULT_OVERLAP_MS,
    };
    let options = HubSpotOptions {
        http: HttpOptions {
            no_sleep: true,
            max_attempts: 3,
            ..HttpOptions::default()
        },
        ..HubSpotOptions::default()
    };
    let hs = HubSpot::with_options(ctx, options).unwrap();
    let err = hs.account().await.unwrap_err();
    assert!(matches!(err, ProviderError::Network { .. }), "{err}");
    assert!(err.to_string().contains("`acme`"), "{err}");
    assert_eq!(hs.requests_sent(), 3);
    let waits = hs.http().waits();
    assert_eq!(waits.len(), 2);
    assert!(waits.iter().all(|(r, _)| *r == WaitReason::Retry));
}

#[tokio::test]
async fn a_full_read_also_lists_archived_records_and_stamps_the_scan() {
    let fake = Fake::start(|req, _| {
        if req.path.ends_with("/search") {
            assert!(
                req.body["filterGroups"].as_array().unwrap().is_empty(),
                "full read has no filter"
            );
            return answer(
                200,
                json!({ "total": 1, "results": [contact("1", NOW - 5000, json!({}))] }),
            )
            .header("Date", &http_date(NOW));
        }
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/crm/v3/objects/contacts");
        assert_eq!(req.query.get("archived").map(String::as_str), Some("true"));
        match req.query.get("after").map(String::as_str) {
            None => answer(
                200,
                json!({ "results": [
                { "id": "7", "properties": { "email": "gone@x.test" }, "createdAt": "2026-01-01T00:00:00.000Z",
                  "updatedAt": "2026-02-01T00:00:00.000Z", "archived": true, "archivedAt": "2026-02-01T00:00:00.000Z" }
            ], "paging": { "next": { "after": "7" } } }),
            ),
            Some("7") => answer(
                200,
                json!({ "results": [
                { "id": "8", "properties": {}, "createdAt": "2026-01-01T00:00:00.000Z",
                  "updatedAt": "2026-02-02T00:00:00.000Z", "archived": true }
            ] }),
            ),
            other => panic!("after {other:?}"),
        }
    });
    let s = setup(&fake, None, |_| {});
    let mut all = Vec::new();
    let mut page = None;
    let mut checkpoint = None;
    let mut done = false;
    for _ in 0..10 {
        let p =
            s.hs.changes(&query(ObjectKind::Contact, None, page), &["email".into()])
                .await
                .unwrap();
        all.extend(p.records);
        checkpoint = p.checkpoint.or(checkpoint);
        page = p.next;
        if page.is_none() {
            done = true;
            break;
        }
    }
    assert!(done, "the read ends");
    let archived: Vec<&str> = all
        .iter()
        .filter(|r| r.archived)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(archived, ["7", "8"]);
    assert!(!all[0].archived);
    let cp: Value = serde_json::from_str(&checkpoint.unwrap()).unwrap();
    assert_eq!(cp["archive_scan"], json!(NOW));
    // The newest change (5 s ago) is older than the read's start, which bounds the cursor.
    assert_eq!(
        cp["since"],
        json!(NOW - crmsync::providers::DEFAULT_OVERLAP_MS)
    );
}

#[tokio::test]
async fn with_nothing_linked_a_full_read_lists_no_archived_records_and_counts_the_scan_done() {
    let fake = Fake::start(|req, _| {
        assert!(
            req.path.ends_with("/search"),
            "only the search: {} {}",
            req.method,
            req.path
        );
        answer(
            200,
            json!({ "total": 1, "results": [contact("1", NOW - 5000, json!({}))] }),
        )
        .header("Date", &http_date(NOW))
    });
    let s = setup(&fake, None, |_| {});
    let q = ChangeQuery {
        has_links: false,
        ..query(ObjectKind::Contact, None, None)
    };
    let p = s.hs.changes(&q, &["email".into()]).await.unwrap();
    assert!(p.next.is_none(), "the read ends with the search");
    assert_eq!(p.records.len(), 1);
    let cp: Value = serde_json::from_str(&p.checkpoint.unwrap()).unwrap();
    assert_eq!(cp["archive_scan"], json!(NOW));
}

#[tokio::test]
async fn an_incremental_read_scans_archives_once_the_last_scan_is_a_day_old() {
    let fake = Fake::start(|req, _| {
        if req.path.ends_with("/search") {
            answer(200, json!({ "total": 0, "results": [] }))
        } else {
            answer(200, json!({ "results": [] }))
        }
    });
    let s = setup(&fake, None, |_| {});
    let stale = cursor(NOW - 1000, NOW - hubspot::ARCHIVE_SCAN_INTERVAL_MS);
    let p =
        s.hs.changes(&query(ObjectKind::Company, Some(stale.clone()), None), &[])
            .await
            .unwrap();
    let p2 =
        s.hs.changes(&query(ObjectKind::Company, Some(stale), p.next), &[])
            .await
            .unwrap();
    assert!(p2.next.is_none());
    let paths: Vec<String> = fake
        .seen()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /crm/v3/objects/companies/search",
            "GET /crm/v3/objects/companies"
        ]
    );
    let cp: Value = serde_json::from_str(p2.checkpoint.as_deref().unwrap()).unwrap();
    assert_eq!(cp["archive_scan"], json!(NOW));
}

#[tokio::test]
async fn the_change_feed_leaves_the_company_to_complete_which_uses_the_v4_association_read() {
    let fake = Fake::start(|req, _| {
        if req.path.ends_with("/search") {
            return answer(
                200,
                json!({ "total": 2, "results": [contact("1", NOW, json!({})), contact("2", NOW, json!({}))] }),
            );
        }
        assert_eq!(
            req.path,
            "/crm/v4/associations/contacts/companies/batch/read"
        );
        assert_eq!(req.body["inputs"], json!([{ "id": "1" }, { "id": "2" }]));
        answer(
            200,
            json!({ "status": "COMPLETE", "results": [
            { "from": { "id": "1" }, "to": [
                { "toObjectId": 50, "associationTypes": [{ "category": "HUBSPOT_DEFINED", "typeId": 279, "label": null }] },
                { "toObjectId": 51, "associationTypes": [{ "category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary" }] }
            ] }
        ], "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:00Z" }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let props = ["email".to_string(), "associations.companies".to_string()];
    let mut p =
        s.hs.changes(
            &query(ObjectKind::Contact, Some(cursor(0, NOW)), None),
            &props,
        )
        .await
        .unwrap();
    // The page itself holds no company: the engine completes only the records it plans.
    assert_eq!(fake.seen().len(), 1);
    assert!(
        p.records
            .iter()
            .all(|r| !r.props.contains_key("associations.companies"))
    );
    s.hs.complete(ObjectKind::Contact, &mut p.records, &props)
        .await
        .unwrap();
    assert_eq!(fake.seen().len(), 2);
    assert_eq!(
        p.records[0]
            .props
            .get("associations.companies")
            .map(String::as_str),
        Some("51")
    );
    assert!(!p.records[1].props.contains_key("associations.companies"));
    // Nothing to complete, or no company asked for: no call.
    s.hs.complete(ObjectKind::Contact, &mut [], &props)
        .await
        .unwrap();
    s.hs.complete(ObjectKind::Contact, &mut p.records, &props[..1])
        .await
        .unwrap();
    assert_eq!(fake.seen().len(), 2);
    let search = &fake.seen()[0].body;
    assert!(
        !search["properties"]
            .as_array()
            .unwrap()
            .contains(&json!("associations.companies"))
    );
}

/// `w`, asking the update to also write its local id into `crmsync_id`.
fn with_external_id(w: RemoteWrite) -> RemoteWrite {
    RemoteWrite {
        set_external_id: true,
        ..w
    }
}

/// The ids of the records a write answered with, in input order (every input succeeded).
fn answered_ids(out: &[Result<RemoteRecord, RecordError>]) -> Vec<&str> {
    out.iter()
        .map(|r| r.as_ref().expect("answered").id.as_str())
        .collect()
}

/// A complete batch answer (200) with `results`.
fn complete(results: Vec<Value>) -> Answer {
    answer(
        200,
        json!({ "status": "COMPLETE", "results": results, "startedAt": "x", "completedAt": "x" }),
    )
}

#[tokio::test]
async fn create_upserts_by_crmsync_id_and_maps_a_207_back_to_its_inputs() {
    let fake = Fake::start(|req, _| {
        assert_eq!(req.path, "/crm/v3/objects/contacts/batch/upsert");
        answer(
            207,
            json!({
                "status": "COMPLETE",
                "results": [{ "id": "900", "new": true, "properties": { "email": "b@x.test", "crmsync_id": "L2" },
                              "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-03-01T00:00:00.000Z", "archived": false }],
                "numErrors": 1,
                "errors": [{ "status": "error", "category": "VALIDATION_ERROR",
                             "message": "Property values were not valid: email `nope`",
                             "context": { "ids": ["L1"] } }],
                "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:00Z"
            }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let out =
        s.hs.create(
            ObjectKind::Contact,
            &[
                write("L1", None, &[("email", "nope")]),
                write("L2", None, &[("email", "b@x.test"), ("phone", "")]),
            ],
        )
        .await
        .unwrap();
    let err = out[0].as_ref().unwrap_err();
    assert!(
        err.message.contains("Property values were not valid"),
        "{err:?}"
    );
    let ok = out[1].as_ref().unwrap();
    assert_eq!(ok.id, "900");
    assert_eq!(ok.external_id.as_deref(), Some("L2"));
    let body = &fake.seen()[0].body;
    assert_eq!(body["inputs"][1]["idProperty"], json!("crmsync_id"));
    assert_eq!(body["inputs"][1]["id"], json!("L2"));
    assert_eq!(
        body["inputs"][1]["properties"],
        json!({ "email": "b@x.test", "crmsync_id": "L2" }),
        "empty values are not sent on create"
    );
}

#[tokio::test]
async fn a_duplicate_contact_is_isolated_and_carries_the_existing_id() {
    let fake = Fake::start(|req, _| {
        let inputs = req.body["inputs"].as_array().unwrap();
        if inputs.iter().any(|i| i["id"] == json!("L1")) {
            return answer(
                409,
                json!({ "status": "error", "category": "CONFLICT", "correlationId": "c",
                                       "message": "Contact already exists. Existing ID: 12345" }),
            );
        }
        let results: Vec<Value> = inputs
            .iter()
            .map(|i| json!({ "id": "77", "properties": { "crmsync_id": i["id"] }, "createdAt": "2026-01-01T00:00:00.000Z",
                              "updatedAt": "2026-01-01T00:00:00.000Z", "archived": false, "new": true }))
            .collect();
        answer(
            200,
            json!({ "status": "COMPLETE", "results": results, "startedAt": "x", "completedAt": "x" }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let out =
        s.hs.create(
            ObjectKind::Contact,
            &[
                write("L1", None, &[("email", "dup@x.test")]),
                write("L2", None, &[("email", "new@x.test")]),
            ],
        )
        .await
        .unwrap();
    let err = out[0].as_ref().unwrap_err();
    assert_eq!(err.duplicate_of(), Some("12345"));
    assert_eq!(err.message, "Contact already exists. Existing ID: 12345");
    assert_eq!(out[1].as_ref().unwrap().id, "77");
    // The whole batch, then each half.
    assert_eq!(fake.seen().len(), 3);
}

/// HubSpot's 400 for a write with bad property values, each in `errors`.
fn validation_error(message: String, errors: Value) -> Answer {
    answer(
        400,
        json!({ "status": "error", "category": "VALIDATION_ERROR", "correlationId": "c",
                "message": message, "errors": errors }),
    )
}

/// An owner no HubSpot user has is refused as a bad option of `hubspot_owner_id`, whose
/// options are owner ids: the message says what an owner is, not what a dropdown label is.
#[tokio::test]
async fn an_unknown_owner_is_refused_with_what_an_owner_is() {
    let fake = Fake::start(|_, _| {
        let items = json!([
            { "message": "nobody@x.test was not one of the allowed options: [71000001, 71000002]",
              "code": "INVALID_OPTION", "context": { "propertyName": ["hubspot_owner_id"] } }
        ]);
        validation_error(format!("Property values were not valid: {items}"), items)
    });
    let s = setup(&fake, None, |_| {});
    let out =
        s.hs.update(
            ObjectKind::Contact,
            &[write(
                "L1",
                Some("501"),
                &[("hubspot_owner_id", "nobody@x.test")],
            )],
        )
        .await
        .unwrap();
    let err = out[0].as_ref().unwrap_err();
    assert_eq!(
        err.message,
        "`hubspot_owner_id`: nobody@x.test was not one of the allowed options: \
         [71000001, 71000002] (an owner is the email of one of the account's HubSpot users, \
         or its owner id; no owner has this one)"
    );
}

#[tokio::test]
async fn a_refused_record_names_each_bad_property_and_keeps_a_message_naming_a_duplicate() {
    let fake = Fake::start(|req, _| {
        let input = &req.body["inputs"][0];
        let taken = input["properties"]["email"] == json!("taken@x.test");
        let items = if taken {
            json!([{ "message": "email is taken", "code": "CONFLICTING_UNIQUE_VALUE",
                     "context": { "propertyName": ["email"] } }])
        } else {
            json!([
                { "message": "Lead Magnet was not one of the allowed options: [lead, customer]",
                  "code": "INVALID_OPTION", "context": { "propertyName": ["lifecyclestage"] } },
                { "message": "soon was not a valid date", "code": "INVALID_DATE",
                  "context": { "propertyName": ["birthday"] } }
            ])
        };
        let message = if taken {
            "Contact already exists. Existing ID: 4711".to_string()
        } else {
            format!("Property values were not valid: {items}")
        };
        validation_error(message, items)
    });
    let s = setup(&fake, None, |_| {});
    let out =
        s.hs.update(
            ObjectKind::Contact,
            &[write(
                "L1",
                Some("501"),
                &[("lifecyclestage", "Lead Magnet")],
            )],
        )
        .await
        .unwrap();
    let err = out[0].as_ref().unwrap_err();
    assert_eq!(
        err.message,
        "`lifecyclestage`: Lead Magnet was not one of the allowed options: [lead, customer]; \
         `birthday`: soon was not a valid date (a dropdown takes one of the values listed, \
         which may differ from the labels HubSpot shows)"
    );
    let out =
        s.hs.update(
            ObjectKind::Contact,
            &[write("L2", Some("502"), &[("email", "taken@x.test")])],
        )
        .await
        .unwrap();
    let err = out[0].as_ref().unwrap_err();
    assert_eq!(err.duplicate_of(), Some("4711"));
    assert_eq!(err.message, "Contact already exists. Existing ID: 4711");
}

#[tokio::test]
async fn update_batches_by_id_and_moves_the_company_association() {
    let fake = Fake::start(|req, _| match req.path.as_str() {
        "/crm/v3/objects/contacts/batch/update" => answer(
            200,
            json!({ "status": "COMPLETE", "results": [
            { "id": "5", "properties": { "firstname": "Ann", "phone": null }, "createdAt": "2026-01-01T00:00:00.000Z",
              "updatedAt": "2026-04-01T00:00:00.000Z", "archived": false }
        ], "startedAt": "x", "completedAt": "x" }),
        ),
        "/crm/v4/associations/contacts/companies/batch/read" => answer(
            200,
            json!({ "status": "COMPLETE", "results": [
            { "from": { "id": "5" }, "to": [{ "toObjectId": 40, "associationTypes": [{ "category": "HUBSPOT_DEFINED", "typeId": 1 }] }] }
        ], "startedAt": "x", "completedAt": "x" }),
        ),
        "/crm/v4/associations/contacts/companies/batch/associate/default" => answer(
            200,
            json!({ "status": "COMPLETE", "results": [], "startedAt": "x", "completedAt": "x" }),
        ),
        "/crm/v4/associations/contacts/companies/batch/archive" => answer(204, Value::Null),
        other => panic!("unexpected {other}"),
    });
    let s = setup(&fake, None, |_| {});
    let out =
        s.hs.update(
            ObjectKind::Contact,
            &[write(
                "L5",
                Some("5"),
                &[
                    ("firstname", "Ann"),
                    ("phone", ""),
                    ("associations.companies", "41"),
                ],
            )],
        )
        .await
        .unwrap();
    let rec = out[0].as_ref().unwrap();
    assert_eq!(
        rec.props.get("associations.companies").map(String::as_str),
        Some("41")
    );
    assert_eq!(
        rec.updated_at,
        crmsync::clock::parse_instant("2026-04-01T00:00:00.000Z").unwrap()
    );
    let seen = fake.seen();
    assert_eq!(
        seen[0].body,
        json!({ "inputs": [{ "id": "5", "properties": { "firstname": "Ann", "phone": "" } }] })
    );
    let by_path = |p: &str| {
        seen.iter()
            .find(|r| r.path.ends_with(p))
            .unwrap()
            .body
            .clone()
    };
    assert_eq!(
        by_path("associate/default"),
        json!({ "inputs": [{ "from": { "id": "5" }, "to": { "id": "41" } }] })
    );
    assert_eq!(
        by_path("batch/archive"),
        json!({ "inputs": [{ "from": { "id": "5" }, "to": [{ "id": "40" }] }] })
    );
}

#[tokio::test]
async fn updates_of_merged_away_ids_are_answered_by_the_records_they_went_into() {
    // Contact 5 is live; 6 was merged into 9 and 7 into 8. HubSpot updates 9 and 8 for them
    // and answers under their own ids, in no particular order.
    let fake = Fake::start(|req, _| match req.path.as_str() {
        "/crm/v3/objects/contacts/batch/update" => complete(vec![
            contact("8", NOW, json!({ "firstname": "Cy" })),
            contact("5", NOW, json!({ "firstname": "Al" })),
            contact("9", NOW, json!({ "firstname": "Bo", "crmsync_id": "L6" })),
        ]),
        "/crm/v3/objects/contacts/batch/read" => complete(vec![
            contact("9", NOW, json!({ "hs_merged_object_ids": "3;6" })),
            contact("8", NOW, json!({ "hs_merged_object_ids": "7" })),
        ]),
        other => panic!("unexpected {other}"),
    });
    let s = setup(&fake, None, |_| {});
    let stamped = with_external_id(write("L6", Some("6"), &[("firstname", "Bo")]));
    let out =
        s.hs.update(
            ObjectKind::Contact,
            &[
                write("L5", Some("5"), &[("firstname", "Al")]),
                stamped,
                write("L7", Some("7"), &[("firstname", "Cy")]),
            ],
        )
        .await
        .unwrap();
    let ids = answered_ids(&out);
    assert_eq!(ids, ["5", "9", "8"]);
    let nine = out[1].as_ref().unwrap();
    assert_eq!(nine.props.get("firstname").map(String::as_str), Some("Bo"));
    assert_eq!(nine.external_id.as_deref(), Some("L6"));
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one update, one read: {seen:?}");
    assert_eq!(
        seen[0].body["inputs"][1],
        json!({ "id": "6", "properties": { "firstname": "Bo", "crmsync_id": "L6" } }),
        "the external id goes with the update that asks for it"
    );
    assert_eq!(
        seen[0].body["inputs"][0],
        json!({ "id": "5", "properties": { "firstname": "Al" } })
    );
    assert_eq!(
        seen[1].body["inputs"],
        json!([{ "id": "6" }, { "id": "7" }])
    );
    assert!(
        seen[1].body["properties"]
            .as_array()
            .unwrap()
            .contains(&json!("hs_merged_object_ids"))
    );
}

#[tokio::test]
async fn one_merged_away_id_is_paired_with_the_one_result_left_and_a_company_change_reads_it() {
    let fake = Fake::start(|req, _| match req.path.as_str() {
        "/crm/v3/objects/contacts/batch/update" => {
            complete(vec![contact("9", NOW, json!({ "crmsync_id": "L6" }))])
        }
        "/crm/v3/objects/contacts/batch/read" => complete(vec![contact(
            "8",
            NOW,
            json!({ "hs_merged_object_ids": "7" }),
        )]),
        "/crm/v4/associations/contacts/companies/batch/read" => complete(vec![]),
        "/crm/v4/associations/contacts/companies/batch/associate/default" => complete(vec![]),
        other => panic!("unexpected {other}"),
    });
    let s = setup(&fake, None, |_| {});
    let stamped = with_external_id(write("L6", Some("6"), &[]));
    let out =
        s.hs.update(
            ObjectKind::Contact,
            &[
                stamped,
                write("L7", Some("7"), &[("associations.companies", "40")]),
            ],
        )
        .await
        .unwrap();
    let ids = answered_ids(&out);
    assert_eq!(ids, ["9", "8"]);
    let seen = fake.seen();
    assert_eq!(
        seen[0].body,
        json!({ "inputs": [{ "id": "6", "properties": { "crmsync_id": "L6" } }] }),
        "an external id alone is a property write"
    );
    let read = seen
        .iter()
        .find(|r| r.path == "/crm/v3/objects/contacts/batch/read")
        .unwrap();
    assert_eq!(read.body["inputs"], json!([{ "id": "7" }]));
    let assoc = seen
        .iter()
        .find(|r| r.path.ends_with("associate/default"))
        .unwrap();
    assert_eq!(
        assoc.body,
        json!({ "inputs": [{ "from": { "id": "8" }, "to": { "id": "40" } }] }),
        "the company goes to the contact 7 went into"
    );
}

/// Serves `batch/read` by id for contacts `1`..=`known` (207 naming the others) and the v4
/// association read (contact `1` with company `40`).
fn read_by_id_server(known: u64) -> impl Fn(&Seen, usize) -> Answer {
    move |req, _| match req.path.as_str() {
        "/crm/v3/objects/contacts/batch/read" => {
            let ids: Vec<String> = req.body["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect();
            let (found, missing): (Vec<String>, Vec<String>) = ids
                .into_iter()
                .partition(|id| id.parse::<u64>().is_ok_and(|n| (1..=known).contains(&n)));
            let results: Vec<Value> = found
                .iter()
                .map(|id| contact(id, NOW - 3_600_000, json!({ "firstname": "Old" })))
                .collect();
            if missing.is_empty() {
                return answer(
                    200,
                    json!({ "status": "COMPLETE", "results": results, "startedAt": "x", "completedAt": "x" }),
                );
            }
            answer(
                207,
                json!({ "status": "COMPLETE", "results": results, "numErrors": 1,
                        "errors": [{ "status": "error", "category": "OBJECT_NOT_FOUND",
                                     "message": "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
                                     "context": { "ids": missing }, "errors": [], "links": {} }],
                        "startedAt": "x", "completedAt": "x" }),
            )
        }
        "/crm/v4/associations/contacts/companies/batch/read" => answer(
            200,
            json!({ "status": "COMPLETE", "results": [
                { "from": { "id": "1" }, "to": [{ "toObjectId": 40, "associationTypes": [{ "category": "HUBSPOT_DEFINED", "typeId": 1 }] }] }
            ], "startedAt": "x", "completedAt": "x" }),
        ),
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn read_by_ids_batch_reads_by_id_100_a_call_leaving_out_ids_hubspot_lacks() {
    let fake = Fake::start(read_by_id_server(101));
    let s = setup(&fake, None, |_| {});
    let mut ids: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
    ids.push("999".into());
    let found =
        s.hs.read_by_ids(
            ObjectKind::Contact,
            &ids,
            &[
                "email".into(),
                "firstname".into(),
                "associations.companies".into(),
            ],
        )
        .await
        .unwrap();
    let mut got: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
    got.sort_by_key(|id| id.parse::<u64>().unwrap());
    let want: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
    assert_eq!(got, want, "every id HubSpot has, and not `999`");
    let one = found.iter().find(|r| r.id == "1").unwrap();
    assert_eq!(one.props.get("firstname").map(String::as_str), Some("Old"));
    assert_eq!(
        one.props.get("associations.companies").map(String::as_str),
        Some("40"),
        "the company, as the change feed reads it"
    );
    assert_eq!(one.updated_at, NOW - 3_600_000);
    let two = found.iter().find(|r| r.id == "2").unwrap();
    assert!(!two.props.contains_key("associations.companies"));

    let seen = fake.seen();
    let reads: Vec<&Seen> = seen
        .iter()
        .filter(|r| r.path == "/crm/v3/objects/contacts/batch/read")
        .collect();
    assert_eq!(reads.len(), 2, "102 ids: 100, then 2");
    assert_eq!(reads[0].body["inputs"].as_array().unwrap().len(), 100);
    assert_eq!(
        reads[1].body["inputs"],
        json!([{ "id": "101" }, { "id": "999" }])
    );
    for r in &reads {
        assert_eq!(r.method, "POST");
        assert_eq!(r.query.get("archived").map(String::as_str), Some("false"));
        assert!(r.body.get("idProperty").is_none(), "read by HubSpot id");
        assert_eq!(r.body["propertiesWithHistory"], json!([]));
        let props = r.body["properties"].as_array().unwrap();
        for p in ["email", "firstname", "crmsync_id", "lastmodifieddate"] {
            assert!(props.contains(&json!(p)), "`{p}` not asked for: {props:?}");
        }
        assert!(!props.contains(&json!("associations.companies")));
    }
    let assoc: Vec<&Seen> = seen
        .iter()
        .filter(|r| r.path == "/crm/v4/associations/contacts/companies/batch/read")
        .collect();
    assert_eq!(assoc.len(), 2, "101 contacts found: 100, then 1");
}

#[tokio::test]
async fn read_by_ids_reads_no_company_unless_asked_and_an_unknown_id_is_no_error() {
    let fake = Fake::start(read_by_id_server(0));
    let s = setup(&fake, None, |_| {});
    let found =
        s.hs.read_by_ids(ObjectKind::Contact, &["5".into()], &["email".into()])
            .await
            .unwrap();
    assert!(found.is_empty());
    assert_eq!(fake.seen().len(), 1, "no association read");
}

#[tokio::test]
async fn field_times_read_property_history_100_records_a_call() {
    let fake = Fake::start(|req, _| {
        assert_eq!(req.path, "/crm/v3/objects/contacts/batch/read");
        assert_eq!(req.query.get("archived").map(String::as_str), Some("false"));
        let results: Vec<Value> = req.body["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["id"] != json!("999"))
            .map(|i| {
                json!({
                    "id": i["id"], "properties": { "hs_object_id": i["id"] },
                    "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2027-01-01T00:00:00.000Z",
                    "archived": false,
                    "propertiesWithHistory": {
                        "lastname": [
                            { "value": "New", "timestamp": "2026-06-01T10:00:00.000Z", "sourceType": "CRM_UI" },
                            { "value": "Old", "timestamp": "2026-01-01T00:00:00.000Z", "sourceType": "IMPORT" }
                        ],
                        "jobtitle": [],
                        "associatedcompanyid": [
                            { "value": "4", "timestamp": "2026-03-01T08:00:00.000Z", "sourceType": "CRM_UI" }
                        ]
                    }
                })
            })
            .collect();
        answer(
            200,
            json!({ "status": "COMPLETE", "results": results, "startedAt": "x", "completedAt": "x" }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let mut ids: Vec<String> = (1..=100).map(|n| n.to_string()).collect();
    ids.push("999".into());
    let props: Vec<String> = ["lastname", "jobtitle", "associations.companies"]
        .map(String::from)
        .to_vec();
    let times =
        s.hs.field_times(ObjectKind::Contact, &ids, &props)
            .await
            .unwrap();
    let at = crmsync::clock::parse_instant("2026-06-01T10:00:00.000Z").unwrap();
    let company_at = crmsync::clock::parse_instant("2026-03-01T08:00:00.000Z").unwrap();
    assert_eq!(times.len(), 100, "every record HubSpot has, not `999`");
    assert_eq!(
        times["7"],
        [
            ("lastname".to_string(), at),
            ("associations.companies".to_string(), company_at)
        ]
        .into_iter()
        .collect(),
        "the newest entry's time; a property without history has none; the company's time is \
         its primary company's"
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "101 ids: 100, then 1");
    for r in &seen {
        assert_eq!(r.body["properties"], json!([]));
        assert_eq!(
            r.body["propertiesWithHistory"],
            json!(["lastname", "jobtitle", "associatedcompanyid"]),
            "an association has no history; the primary company property has"
        );
    }
    assert_eq!(seen[1].body["inputs"], json!([{ "id": "999" }]));

    // Nothing to ask: no call.
    let none =
        s.hs.field_times(ObjectKind::Company, &ids, &props[2..])
            .await
            .unwrap();
    assert!(none.is_empty());
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn archive_and_find_by_external_id_use_the_batch_endpoints() {
    let fake = Fake::start(|req, _| match req.path.as_str() {
        "/crm/v3/objects/companies/batch/archive" => answer(204, Value::Null),
        "/crm/v3/objects/companies/batch/read" => {
            assert_eq!(req.body["idProperty"], json!("crmsync_id"));
            assert_eq!(req.query.get("archived").map(String::as_str), Some("false"));
            answer(
                207,
                json!({ "status": "COMPLETE", "results": [
                { "id": "3", "properties": { "crmsync_id": "L3", "name": "Acme" }, "createdAt": "x",
                  "updatedAt": "2026-01-01T00:00:00.000Z", "archived": false }
            ], "numErrors": 1, "errors": [{ "status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found", "context": { "ids": ["L4"] } }],
               "startedAt": "x", "completedAt": "x" }),
            )
        }
        other => panic!("unexpected {other}"),
    });
    let s = setup(&fake, None, |_| {});
    let out =
        s.hs.archive(ObjectKind::Company, &["3".into(), "4".into()])
            .await
            .unwrap();
    assert!(out.iter().all(Result::is_ok) && out.len() == 2);
    assert_eq!(
        fake.seen()[0].body,
        json!({ "inputs": [{ "id": "3" }, { "id": "4" }] })
    );
    let found =
        s.hs.find_by_external_id(
            ObjectKind::Company,
            &["L3".into(), "L4".into()],
            &["name".into()],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].external_id.as_deref(), Some("L3"));
}

#[tokio::test]
async fn a_429_waits_for_retry_after_and_then_succeeds() {
    let fake = Fake::start(|_, n| {
        if n == 0 {
            answer(429, json!({ "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING", "correlationId": "c" }))
            .header("Retry-After", "7")
        } else {
            answer(200, json!({ "results": [] }))
        }
    });
    let s = setup(&fake, None, |_| {});
    let fields = s.hs.fields(ObjectKind::Company).await.unwrap();
    assert!(fields.is_empty());
    assert_eq!(s.hs.requests_sent(), 2);
    assert_eq!(
        s.hs.http().waits(),
        [(WaitReason::Retry, Duration::from_secs(7))]
    );
}

/// A fake HubSpot whose 10-second window holds `max` requests: it answers each request with
/// the room left after it, `max - 1 - n` for the n-th (never below 0).
fn window_fake(max: u64) -> Fake {
    Fake::start(move |_, n| {
        let remaining = max.saturating_sub(n as u64 + 1);
        answer(200, json!({ "results": [] }))
            .header("X-HubSpot-RateLimit-Max", &max.to_string())
            .header("X-HubSpot-RateLimit-Remaining", &remaining.to_string())
            .header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
    })
}

#[tokio::test]
async fn a_window_with_room_is_used_at_once() {
    // 150 of 190 left: the requests go out back to back, not spaced over the window.
    let fake = Fake::start(|_, _| {
        answer(200, json!({ "results": [] }))
            .header("X-HubSpot-RateLimit-Max", "190")
            .header("X-HubSpot-RateLimit-Remaining", "150")
            .header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
    });
    let s = setup(&fake, None, |_| {});
    for _ in 0..20 {
        s.hs.fields(ObjectKind::Company).await.unwrap();
    }
    assert_eq!(s.hs.http().waits(), []);
    assert_eq!(fake.seen().len(), 20);
}

#[tokio::test]
async fn a_full_window_waits_until_the_oldest_request_has_left_it() {
    // 10 a window, 3 kept free: 7 go at once; the 8th waits until the first has been out
    // of the window (answered at NOW, 10 s long) for good, and the rest follow at once.
    let fake = window_fake(10);
    let s = setup(&fake, None, |o| o.http.rate_margin = 3);
    for _ in 0..7 {
        s.hs.fields(ObjectKind::Company).await.unwrap();
    }
    assert_eq!(s.hs.http().waits(), []);
    s.hs.fields(ObjectKind::Company).await.unwrap();
    assert_eq!(
        s.hs.http().waits(),
        [(WaitReason::Pacing, Duration::from_millis(10_002))]
    );
    assert_eq!(fake.seen().len(), 8);
}

#[tokio::test]
async fn a_fresh_window_is_not_paced() {
    let fake = Fake::start(|_, _| {
        answer(200, json!({ "results": [] }))
            .header("X-HubSpot-RateLimit-Max", "190")
            .header("X-HubSpot-RateLimit-Remaining", "190")
            .header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
    });
    let s = setup(&fake, None, |_| {});
    for _ in 0..3 {
        s.hs.fields(ObjectKind::Company).await.unwrap();
    }
    assert_eq!(s.hs.http().waits(), []);
}

#[tokio::test]
async fn searches_are_held_just_under_four_a_second() {
    let fake = Fake::start(|_, _| answer(200, json!({ "total": 0, "results": [] })));
    let s = setup(&fake, None, |_| {});
    for _ in 0..3 {
        s.hs.changes(&query(ObjectKind::Company, Some(cursor(0, NOW)), None), &[])
            .await
            .unwrap();
    }
    assert_eq!(
        s.hs.http().waits(),
        [
            (WaitReason::FixedRate, Duration::from_millis(262)),
            (WaitReason::FixedRate, Duration::from_millis(262))
        ]
    );
    // Time the client did not sleep still counts: a search a second later is not held.
    s.clock.advance(1000);
    s.hs.changes(&query(ObjectKind::Company, Some(cursor(0, NOW)), None), &[])
        .await
        .unwrap();
    assert_eq!(s.hs.http().waits().len(), 2);
}

#[tokio::test]
async fn a_5xx_is_retried_with_backoff_and_then_succeeds() {
    let fake = Fake::start(|_, n| {
        if n < 2 {
            answer(
                502,
                json!({ "message": "bad gateway", "category": "INTERNAL", "correlationId": "c" }),
            )
        } else {
            answer(
                200,
                json!({ "portalId": 4242, "uiDomain": "app-eu1.hubspot.com", "accountType": "STANDARD" }),
            )
        }
    });
    let s = setup(&fake, None, |_| {});
    let info = s.hs.account().await.unwrap();
    assert_eq!(info.account, "portal 4242 on app-eu1.hubspot.com");
    assert_eq!(fake.seen()[2].path, "/account-info/v3/details");
    let waits = s.hs.http().waits();
    assert_eq!(waits.len(), 2);
    // 500 ms then 1 s, each with jitter down to half.
    assert!(
        waits[0].1 >= Duration::from_millis(250) && waits[0].1 <= Duration::from_millis(500),
        "{waits:?}"
    );
    assert!(
        waits[1].1 >= Duration::from_millis(500) && waits[1].1 <= Duration::from_millis(1000),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_up_after_the_attempt_cap() {
    let fake = Fake::start(|_, _| {
        answer(
            503,
            json!({ "message": "down", "category": "x", "correlationId": "c" }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let err = s.hs.fields(ObjectKind::Contact).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Api { status: 503, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("`acme`") && text.contains("down"), "{text}");
    assert_eq!(s.hs.requests_sent(), 5);
}

#[tokio::test]
async fn a_429_after_the_retries_is_said_once() {
    let fake = Fake::start(|_, _| {
        answer(
            429,
            json!({ "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                            "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING", "correlationId": "c" }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let err = s.hs.fields(ObjectKind::Contact).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        "HubSpot answered 429 for connection `acme`: You have reached your ten_secondly_rolling limit. (gave up after 5 attempts)"
    );
    assert_eq!(text.matches("429").count(), 1, "{text}");
    assert_eq!(s.hs.requests_sent(), 5);
}

/// The error reading the contact fields ends in, as people read it.
async fn fields_error(hs: &HubSpot) -> String {
    hs.fields(ObjectKind::Contact)
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn an_error_page_that_is_not_json_is_summarised_not_printed() {
    let page = "<!DOCTYPE html>\n<html><head><style>body { color: red }</style></head>\n<body><h1>503</h1>\n<p>The server is temporarily unavailable.</p>\n<script>var x = '<b>';</script></body></html>";
    let fake = Fake::start(move |_, _| Answer {
        status: 503,
        headers: Vec::new(),
        body: page.to_string(),
    });
    let s = setup(&fake, None, |_| {});
    let text = fields_error(&s.hs).await;
    assert_eq!(
        text,
        "HubSpot answered 503 for connection `acme`: Service Unavailable, an HTML page saying \u{201c}503 The server is temporarily unavailable.\u{201d} (gave up after 5 attempts)"
    );
    // A page with a title is named by it; plain text by its first line, cut short.
    let titled = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";
    let long = format!("upstream connect error\n{}", "x".repeat(5000));
    let fake = Fake::start(move |_, n| Answer {
        status: if n == 0 { 502 } else { 400 },
        headers: Vec::new(),
        body: if n == 0 {
            titled.to_string()
        } else {
            long.clone()
        },
    });
    let s = setup(&fake, None, |o| o.http.max_attempts = 1);
    let text = fields_error(&s.hs).await;
    assert!(
        text.ends_with("Bad Gateway, an HTML page saying \u{201c}502 Bad Gateway\u{201d} (gave up after 1 attempts)"),
        "{text}"
    );
    let text = fields_error(&s.hs).await;
    assert_eq!(
        text,
        "HubSpot answered 400 for connection `acme`: Bad Request, \u{201c}upstream connect error\u{201d} (first line)"
    );
}

#[tokio::test]
async fn a_slow_call_is_listed_while_it_waits_and_times_out_naming_the_setting() {
    // The server holds each request until told to answer.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Mutex::new(held);
    let fake = Fake::start(move |_, _| {
        let _ = held.lock().unwrap().recv();
        answer(200, json!({ "results": [] }))
    });
    // A connection of its own, as other tests wait on `acme` at the same time.
    let connection = "slow-conn";
    let ctx = ProviderContext {
        connection: connection.into(),
        base_url: Some(fake.url.clone()),
        tokens: Arc::new(Tokens {
            refreshes: AtomicUsize::new(0),
            can_refresh: false,
        }),
        clock: Arc::new(FixedClock::new(NOW)),
        max_requests: None,
        overlap: crmsync::providers::DEFAULT_OVERLAP_MS,
    };
    let hs = Arc::new(HubSpot::with_options(ctx, HubSpotOptions::default()).unwrap());
    let listed = || {
        crmsync::providers::http::waiting()
            .into_iter()
            .filter(|w| w.connection == connection && w.call == "GET /crm/v3/properties/contacts")
            .count()
    };
    let task = {
        let hs = hs.clone();
        tokio::spawn(async move { hs.fields(ObjectKind::Contact).await })
    };
    while listed() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let w = crmsync::providers::http::waiting()
        .into_iter()
        .find(|w| w.connection == connection)
        .unwrap();
    assert_eq!((w.crm, w.timeout), ("HubSpot", Duration::from_secs(60)));
    release.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(listed(), 0);

    // A server slower than the timeout: each attempt is given up, and the error says which
    // setting sets the time.
    let fake = Fake::start(|_, _| {
        std::thread::sleep(Duration::from_millis(400));
        answer(200, json!({ "results": [] }))
    });
    let s = setup(&fake, None, |o| {
        o.http.timeout = Duration::from_millis(100);
        o.http.max_attempts = 2;
    });
    let err = s.hs.fields(ObjectKind::Contact).await.unwrap_err();
    assert!(matches!(err, ProviderError::Network { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "could not reach HubSpot for connection `acme`: GET /crm/v3/properties/contacts got no answer within 0.1 s, the time one request may take (`http.timeout_secs` in the config) (gave up after 2 attempts)"
    );
    assert_eq!(s.hs.requests_sent(), 2);
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_with_the_new_token() {
    let fake = Fake::start(|req, _| {
        if req.auth.as_deref() == Some("Bearer new-token") {
            answer(200, json!({ "results": [] }))
        } else {
            answer(
                401,
                json!({ "status": "error", "category": "INVALID_AUTHENTICATION", "correlationId": "c",
                                "message": "Authentication credentials not found." }),
            )
        }
    });
    let s = setup(&fake, None, |_| {});
    s.hs.fields(ObjectKind::Company).await.unwrap();
    assert_eq!(s.tokens.refreshes.load(Ordering::SeqCst), 1);
    let auths: Vec<_> = fake.seen().into_iter().map(|r| r.auth.unwrap()).collect();
    assert_eq!(auths, ["Bearer old-token", "Bearer new-token"]);
}

#[tokio::test]
async fn a_401_after_refresh_is_an_auth_error_without_the_token() {
    let fake = Fake::start(|_, _| {
        answer(
            401,
            json!({ "status": "error", "category": "INVALID_AUTHENTICATION", "correlationId": "c",
                            "message": "Authentication credentials not found." }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let err = s.hs.fields(ObjectKind::Company).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err}");
    assert!(!err.to_string().contains("token-"), "{err}");
    assert_eq!(s.tokens.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn the_request_budget_stops_the_run_before_sending_more() {
    let fake = Fake::start(|_, _| answer(200, json!({ "results": [] })));
    let s = setup(&fake, Some(2), |_| {});
    s.hs.fields(ObjectKind::Company).await.unwrap();
    s.hs.fields(ObjectKind::Company).await.unwrap();
    let err = s.hs.fields(ObjectKind::Company).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Budget { budget: 2, .. }),
        "{err}"
    );
    assert_eq!(fake.seen().len(), 2);
    assert_eq!(s.hs.requests_sent(), 2);
}

#[tokio::test]
async fn fields_read_types_read_only_uniqueness_and_options() {
    let fake = Fake::start(|req, _| {
        if req.method == "POST" {
            return answer(201, json!({ "name": "crmsync_id" }));
        }
        answer(
            200,
            json!({ "results": [
            { "name": "email", "label": "Email", "type": "string", "fieldType": "text", "hasUniqueValue": false,
              "modificationMetadata": { "readOnlyValue": false, "readOnlyDefinition": true, "archivable": false } },
            { "name": "lastmodifieddate", "label": "Last Modified", "type": "datetime", "fieldType": "date",
              "modificationMetadata": { "readOnlyValue": true, "readOnlyDefinition": true, "archivable": false } },
            { "name": "lifecyclestage", "label": "Lifecycle", "type": "enumeration", "fieldType": "radio",
              "options": [{ "label": "Lead", "value": "lead" }, { "label": "Customer", "value": "customer" }] },
            { "name": "crmsync_id", "label": "crmsync id", "type": "string", "fieldType": "text", "hasUniqueValue": true },
            { "name": "phone", "label": "Phone", "type": "string", "fieldType": "phonenumber" }
        ] }),
        )
    });
    let s = setup(&fake, None, |_| {});
    let fields = s.hs.fields(ObjectKind::Contact).await.unwrap();
    let get = |n: &str| fields.iter().find(|f| f.name == n).unwrap();
    assert!(
        get("lastmodifieddate").read_only
            && get("lastmodifieddate").kind == RemoteFieldKind::DateTime
    );
    assert!(!get("email").read_only);
    let options: Vec<(&str, &str)> = get("lifecyclestage")
        .options
        .iter()
        .map(|o| (o.value.as_str(), o.label.as_str()))
        .collect();
    assert_eq!(options, [("lead", "Lead"), ("customer", "Customer")]);
    assert!(get("crmsync_id").unique);
    assert_eq!(get("phone").kind, RemoteFieldKind::Phone);
    assert_eq!(
        get("associations.companies").kind,
        RemoteFieldKind::Reference
    );

    s.hs.create_field(
        ObjectKind::Contact,
        &FieldSpec {
            name: "crmsync_id".into(),
            label: "crmsync id".into(),
            kind: RemoteFieldKind::Text,
            unique: true,
        },
    )
    .await
    .unwrap();
    let post = fake.seen().pop().unwrap();
    assert_eq!(post.path, "/crm/v3/properties/contacts");
    assert_eq!(
        post.body,
        json!({ "name": "crmsync_id", "label": "crmsync id", "type": "string",
                                  "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": true })
    );
}

#[test]
fn oauth_spec_follows_overrides() {
    let spec = hubspot::oauth_spec(None, None);
    assert_eq!(spec.provider, ProviderKind::Hubspot);
    assert_eq!(
        spec.authorize_url,
        "https://app.hubspot.com/oauth/authorize"
    );
    assert_eq!(spec.token_url, "https://api.hubapi.com/oauth/v1/token");
    assert!(spec.pkce);
    assert!(
        spec.scopes
            .iter()
            .any(|s| s == "crm.objects.companies.write")
    );
    assert!(spec.scopes.iter().any(|s| s == "oauth"));
    let spec = hubspot::oauth_spec(
        Some("http://127.0.0.1:9/"),
        Some("http://127.0.0.1:9/authorize"),
    );
    assert_eq!(spec.token_url, "http://127.0.0.1:9/oauth/v1/token");
    assert_eq!(spec.authorize_url, "http://127.0.0.1:9/authorize");
    // A host other than HubSpot's serves the sign-in page beside its API; HubSpot's own API
    // host does not (its sign-in is on app.hubspot.com).
    let spec = hubspot::oauth_spec(Some("http://127.0.0.1:9/"), None);
    assert_eq!(spec.authorize_url, "http://127.0.0.1:9/oauth/authorize");
    let spec = hubspot::oauth_spec(Some("https://api.hubapi.com"), None);
    assert_eq!(
        spec.authorize_url,
        "https://app.hubspot.com/oauth/authorize"
    );
}

#[test]
fn every_crm_can_be_opened_and_salesforce_needs_its_instance() {
    let ctx = ProviderContext {
        connection: "pd".into(),
        base_url: None,
        tokens: Arc::new(Tokens {
            refreshes: AtomicUsize::new(0),
            can_refresh: false,
        }),
        clock: Arc::new(FixedClock::new(NOW)),
        max_requests: None,
        overlap: crmsync::providers::DEFAULT_OVERLAP_MS,
    };
    let err = crmsync::providers::open(ProviderKind::Salesforce, ctx.clone())
        .err()
        .unwrap();
    assert!(err.to_string().contains("has no `instance_url`"), "{err}");
    let sf = crmsync::providers::open(
        ProviderKind::Salesforce,
        ProviderContext {
            base_url: Some("https://acme.my.salesforce.com".into()),
            ..ctx.clone()
        },
    )
    .unwrap();
    assert_eq!(sf.kind(), ProviderKind::Salesforce);
    assert_eq!(sf.batch_size(), 200);
    let pd = crmsync::providers::open(ProviderKind::Pipedrive, ctx.clone()).unwrap();
    assert_eq!(pd.kind(), ProviderKind::Pipedrive);
    let hs = crmsync::providers::open(ProviderKind::Hubspot, ctx).unwrap();
    // HubSpot has activities and deals too, synced only by a connection whose `objects`
    // names them.
    assert_eq!(
        hs.objects(),
        [
            ObjectKind::Company,
            ObjectKind::Contact,
            ObjectKind::Activity,
            ObjectKind::Deal
        ]
    );
    let by_default: Vec<ObjectKind> = hs
        .objects()
        .iter()
        .copied()
        .filter(|o| crmsync::providers::synced_by_default(ProviderKind::Hubspot, *o))
        .collect();
    assert_eq!(by_default, [ObjectKind::Company, ObjectKind::Contact]);
    let contact_map = hs.default_mappings(ObjectKind::Contact);
    assert!(
        contact_map
            .iter()
            .any(|m| m.local == "company_id" && m.remote == "associations.companies")
    );
    assert!(
        contact_map
            .iter()
            .any(|m| m.local == "owner" && m.remote == "hubspot_owner_id")
    );
}

#[tokio::test]
async fn the_cursor_follows_hubspots_clock_not_this_machines() {
    // HubSpot's clock is an hour behind this machine's, and nothing changed.
    let crm_now = NOW - 3_600_000;
    let fake = Fake::start(move |_, _| {
        answer(200, json!({ "total": 0, "results": [] })).header("Date", &http_date(crm_now))
    });
    let s = setup(&fake, None, |_| {});
    let c = cursor(crm_now - 7_200_000, NOW);
    let page =
        s.hs.changes(
            &query(ObjectKind::Contact, Some(c), None),
            &["email".into()],
        )
        .await
        .unwrap();
    let cp: Value = serde_json::from_str(page.checkpoint.as_deref().unwrap()).unwrap();
    assert_eq!(
        cp["since"],
        json!(crm_now - crmsync::providers::DEFAULT_OVERLAP_MS),
        "an edit HubSpot stamps after this read is after the cursor"
    );
    // The header's whole second is taken at its middle.
    assert_eq!(s.hs.clock_skew(), Some(-3_600_000 + 500));
}

#[tokio::test]
async fn a_batch_never_names_one_record_twice() {
    // HubSpot refuses a whole batch in which two inputs name one record; this fake does too.
    let fake = Fake::start(|req, _| {
        assert_eq!(req.path, "/crm/v3/objects/companies/batch/update");
        let ids: Vec<String> = req.body["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() < ids.len() {
            return answer(
                400,
                json!({ "status": "error", "category": "VALIDATION_ERROR",
                        "message": "Duplicate IDs found in batch input: [5]. IDs must be unique" }),
            );
        }
        complete(
            ids.iter()
                .map(|id| {
                    json!({ "id": id, "properties": { "name": "N" },
                                  "createdAt": "2026-01-01T00:00:00.000Z",
                                  "updatedAt": "2026-04-01T00:00:00.000Z", "archived": false })
                })
                .collect(),
        )
    });
    let s = setup(&fake, None, |_| {});
    let out =
        s.hs.update(
            ObjectKind::Company,
            &[
                write("L1", Some("5"), &[("name", "A")]),
                write("L2", Some("6"), &[("name", "B")]),
                write("L3", Some("5"), &[("name", "C")]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(answered_ids(&out), vec!["5", "6", "5"]);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one call per distinct set, none refused");
    assert_eq!(seen[0].body["inputs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_value_longer_than_hubspot_takes_fails_its_record_before_anything_is_sent() {
    let fake = Fake::start(|req, _| {
        let inputs = req.body["inputs"].as_array().unwrap();
        assert_eq!(inputs.len(), 1, "only the record that fits is sent");
        if req.path.ends_with("/batch/upsert") {
            complete(vec![json!({ "id": "900", "new": true,
                "properties": { "email": "b@x.test", "crmsync_id": "L2" },
                "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-03-01T00:00:00.000Z",
                "archived": false })])
        } else {
            complete(vec![json!({ "id": "7",
                "properties": { "lastname": "Lee" },
                "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-03-01T00:00:00.000Z",
                "archived": false })])
        }
    });
    let s = setup(&fake, None, |_| {});
    let long = "é".repeat(65_537);
    let fits = "é".repeat(65_536);
    let out =
        s.hs.create(
            ObjectKind::Contact,
            &[
                write("L1", None, &[("email", "a@x.test"), ("notes", &long)]),
                write("L2", None, &[("email", "b@x.test"), ("notes", &fits)]),
            ],
        )
        .await
        .unwrap();
    let err = out[0].as_ref().unwrap_err();
    assert!(
        err.message.contains("`notes`") && err.message.contains("65536"),
        "{err:?}"
    );
    assert!(!err.retryable);
    assert_eq!(out[1].as_ref().unwrap().id, "900");

    let out =
        s.hs.update(
            ObjectKind::Contact,
            &[
                write("L3", Some("6"), &[("notes", &long)]),
                write("L4", Some("7"), &[("lastname", "Lee")]),
            ],
        )
        .await
        .unwrap();
    assert!(out[0].is_err(), "{out:?}");
    assert_eq!(out[1].as_ref().unwrap().id, "7");
    assert_eq!(
        fake.seen().len(),
        2,
        "one call for each write, without the long value"
    );
}
