//! The Pipedrive provider against a small scripted fake: each test serves its own answers on
//! 127.0.0.1 (shaped as Pipedrive's v2 and v1 OpenAPI files define them) and checks the
//! requests the provider sent.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use crmsync::clock::{Clock, FixedClock};
use crmsync::model::ObjectKind;
use crmsync::providers::http::{HttpOptions, WaitReason};
use crmsync::providers::pipedrive::{Pipedrive, PipedriveOptions};
use crmsync::providers::{
    ChangePage, ChangeQuery, Provider, ProviderContext, ProviderError, ProviderKind,
    RemoteFieldKind, TokenSource,
};

use common::fake_http::{Answer, Fake, Seen, answer, http_date, remote_write as write};

/// 2027-01-15T08:00:00Z, a whole second.
const T0: i64 = 1_800_000_000_000;
const NOW: i64 = T0 + 3_600_000;
const OVERLAP: i64 = 300_000;
/// The hashed keys of the custom fields, as Pipedrive makes them.
const CRMSYNC_KEY: &str = "9dc80c50d78a15643bfc4ca79d76156a73a1ca0e";
const PRONOUNS_KEY: &str = "5b1f2d2b4c07e0a1c5aa3b8e0d3d50e9a2b1c4f7";

struct Token;

#[async_trait]
impl TokenSource for Token {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok("pd-token".into())
    }
    async fn refresh(&self, _rejected: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }
}

fn provider(fake: &Fake, limit: usize) -> Pipedrive {
    provider_with(fake, limit, Arc::new(Token))
}

/// A token source that gives this token.
struct Given(&'static str);

#[async_trait]
impl TokenSource for Given {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok(self.0.into())
    }
    async fn refresh(&self, _rejected: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }
}

fn provider_with(fake: &Fake, limit: usize, tokens: Arc<dyn TokenSource>) -> Pipedrive {
    let ctx = ProviderContext {
        connection: "pd".into(),
        base_url: Some(fake.url.clone()),
        tokens,
        clock: Arc::new(FixedClock::new(NOW)) as Arc<dyn Clock>,
        max_requests: None,
        overlap: OVERLAP,
    };
    Pipedrive::with_options(
        ctx,
        PipedriveOptions {
            http: HttpOptions {
                no_sleep: true,
                ..HttpOptions::default()
            },
            list_limit: limit,
            ..PipedriveOptions::default()
        },
    )
    .expect("provider")
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn parse(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

fn person(id: u64, at: i64, local: Option<&str>) -> Value {
    let mut custom = json!({ PRONOUNS_KEY: "they/them" });
    if let Some(l) = local {
        custom[CRMSYNC_KEY] = json!(l);
    }
    json!({
        "id": id, "name": format!("P{id}"), "first_name": "P", "last_name": format!("{id}"),
        "org_id": 40 + id, "owner_id": 7, "is_deleted": false,
        "add_time": iso(T0 - 86_400_000), "update_time": iso(at),
        "emails": [
            { "value": format!("home{id}@x.test"), "primary": false, "label": "home" },
            { "value": format!("p{id}@x.test"), "primary": true, "label": "work" }
        ],
        "phones": [ { "value": format!("+4{id}"), "primary": true, "label": "mobile" } ],
        "custom_fields": custom
    })
}

/// `GET /api/v1/personFields`: the standard fields and the two custom ones.
fn person_fields() -> Answer {
    answer(
        200,
        json!({
            "success": true,
            "data": [
                { "id": 1, "key": "name", "name": "Name", "field_type": "varchar", "edit_flag": false },
                { "id": 2, "key": "email", "name": "Email", "field_type": "varchar", "edit_flag": false },
                { "id": 3, "key": "org_id", "name": "Organization", "field_type": "org", "edit_flag": false },
                { "id": 9, "key": CRMSYNC_KEY, "name": "crmsync_id", "field_type": "varchar", "edit_flag": true },
                { "id": 10, "key": PRONOUNS_KEY, "name": "pronouns", "field_type": "varchar", "edit_flag": true }
            ],
            "additional_data": { "pagination": { "start": 0, "limit": 500, "more_items_in_collection": false } }
        }),
    )
}

/// A fake serving the catalogue, the v2 list over `persons` and an empty change log.
fn catalogue_and_list(persons: Vec<Value>) -> Fake {
    Fake::start(move |req, _| {
        match req.path.as_str() {
        "/api/v1/personFields" => person_fields(),
        "/api/v2/persons" => list(&persons, req),
        "/api/v1/recents" => answer(
            200,
            json!({
                "success": true, "data": [],
                "additional_data": { "pagination": { "start": 0, "limit": 500, "more_items_in_collection": false } }
            }),
        )
        .header("Date", &http_date(NOW + 1000)),
        other => panic!("unexpected {other}"),
    }
    })
}

/// Thirty days, as long as Pipedrive keeps a deleted record.
const DELETED_KEPT: i64 = 30 * 86_400_000;

/// The v2 list over `persons` as Pipedrive serves it: `updated_since` (>=), `updated_until`
/// (<), `ids`, sorted by `sort_by` then id, `limit`, and a `cursor` (here an offset).
/// `GET /api/v2/persons/{id}` over `persons`: the person, or a 404.
fn one(persons: &[Value], path: &str) -> Answer {
    let id: u64 = path.rsplit('/').next().unwrap().parse().unwrap();
    match persons.iter().find(|p| p["id"].as_u64() == Some(id)) {
        Some(p) => answer(200, json!({ "success": true, "data": p })),
        None => answer(
            404,
            json!({ "success": false, "error": "Person not found", "data": null }),
        ),
    }
}

fn list(persons: &[Value], req: &Seen) -> Answer {
    let q = &req.query;
    let time = |p: &Value| parse(p["update_time"].as_str().unwrap());
    let mut rows: Vec<Value> = persons
        .iter()
        .filter(|p| q.get("updated_since").is_none_or(|s| time(p) >= parse(s)))
        .filter(|p| q.get("updated_until").is_none_or(|s| time(p) < parse(s)))
        .filter(|p| {
            q.get("ids")
                .is_none_or(|ids| ids.split(',').any(|i| p["id"].as_u64() == i.parse().ok()))
        })
        .cloned()
        .collect();
    let by_time = q.get("sort_by").map(String::as_str) == Some("update_time");
    rows.sort_by_key(|p| (if by_time { time(p) } else { 0 }, p["id"].as_u64().unwrap()));
    let limit: usize = q.get("limit").map_or(100, |l| l.parse().unwrap());
    let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
    let page: Vec<Value> = rows.iter().skip(start).take(limit).cloned().collect();
    let next = (start + limit < rows.len()).then(|| (start + limit).to_string());
    answer(
        200,
        json!({ "success": true, "data": page, "additional_data": { "next_cursor": next } }),
    )
    .header("Date", &http_date(NOW + 1000))
    .header("x-ratelimit-limit", "80")
    .header("x-ratelimit-remaining", "79")
}

/// The first request sent with `method`.
fn first(fake: &Fake, method: &str) -> Seen {
    fake.seen()
        .into_iter()
        .find(|s| s.method == method)
        .expect("a request")
}

fn query(since: Option<String>, page: Option<String>) -> ChangeQuery {
    ChangeQuery {
        object: ObjectKind::Contact,
        since,
        page,
        has_links: true,
    }
}

fn cursor(since: i64, deleted_since: i64) -> String {
    json!({ "v": 1, "since": since, "deleted_since": deleted_since }).to_string()
}

fn props() -> Vec<String> {
    ["name", "email", "phone", "org_id", "pronouns", "crmsync_id"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Reads the feed to its end, returning the pages.
async fn read_all(pd: &Pipedrive, since: Option<String>) -> Vec<ChangePage> {
    read_all_of(pd, since, true).await
}

/// The pages of one read, for a connection with (or without) linked records.
async fn read_all_of(pd: &Pipedrive, since: Option<String>, has_links: bool) -> Vec<ChangePage> {
    let mut pages = Vec::new();
    let mut next = None;
    loop {
        let q = ChangeQuery {
            has_links,
            ..query(since.clone(), next)
        };
        let page = pd.changes(&q, &props()).await.unwrap();
        next = page.next.clone();
        pages.push(page);
        if next.is_none() {
            return pages;
        }
        assert!(pages.len() < 20, "the feed does not end");
    }
}

fn checkpoint(page: &ChangePage) -> Value {
    serde_json::from_str(page.checkpoint.as_deref().unwrap()).unwrap()
}

#[tokio::test]
async fn a_full_read_sends_the_token_as_a_header_and_names_custom_fields_from_the_catalogue() {
    let persons = vec![person(1, T0, Some("L1")), person(2, T0 + 5000, None)];
    let fake = catalogue_and_list(persons);
    let pd = provider(&fake, 500);
    let pages = read_all(&pd, None).await;
    assert_eq!(pages.len(), 2, "the change log, then the list");
    assert!(pages[0].records.is_empty());
    let r = &pages[1].records;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].id, "1");
    assert_eq!(r[0].external_id.as_deref(), Some("L1"));
    assert_eq!(r[0].props["email"], "p1@x.test", "the primary email");
    assert_eq!(r[0].props["phone"], "+41");
    assert_eq!(r[0].props["org_id"], "41");
    assert_eq!(r[0].props["pronouns"], "they/them");
    assert_eq!(r[0].updated_at, T0);
    assert_eq!(r[1].external_id, None);
    // A full read reads the change log first (so the list knows the merges it names), of the
    // thirty days before its start (this machine's clock: Pipedrive's is not known before its
    // first answer), as long as Pipedrive keeps a deleted record; it stores no cursor before
    // its list has begun, and then starts the next read's at its own start.
    assert_eq!(pages[0].checkpoint, None);
    assert_eq!(
        checkpoint(&pages[1]),
        json!({ "v": 1, "since": NOW + 1000 - OVERLAP, "deleted_since": NOW + 1000 - OVERLAP })
    );
    // The `Date` header has whole seconds: Pipedrive's clock was within the second after it,
    // taken at its middle.
    assert_eq!(pd.clock_skew(), Some(1500));
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].path, "/api/v1/recents");
    let thirty_days = chrono::DateTime::from_timestamp_millis(NOW - DELETED_KEPT)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(seen[0].query["since_timestamp"], thirty_days);
    for s in &seen {
        assert_eq!(s.api_token.as_deref(), Some("pd-token"));
        assert_eq!(s.auth, None, "no bearer token");
    }
    let q = &seen[2].query;
    assert_eq!(q["sort_by"], "update_time");
    assert_eq!(q["sort_direction"], "asc");
    assert_eq!(q["limit"], "500");
    assert!(!q.contains_key("updated_since") && !q.contains_key("cursor"));
}

#[tokio::test]
async fn with_nothing_linked_a_read_skips_the_change_log_and_counts_it_as_read() {
    let fake = catalogue_and_list(vec![person(1, T0, None)]);
    let pd = provider(&fake, 500);
    let pages = read_all_of(&pd, None, false).await;
    assert_eq!(pages.len(), 1, "the list only");
    assert_eq!(pages[0].records.len(), 1);
    assert!(fake.seen().iter().all(|s| s.path != "/api/v1/recents"));
    // The next read's change log starts at this one's start: deletions from then on are read.
    assert_eq!(
        checkpoint(&pages[0]),
        json!({ "v": 1, "since": NOW + 1000 - OVERLAP, "deleted_since": NOW + 1000 - OVERLAP })
    );
}

#[tokio::test]
async fn pages_go_by_update_time_so_a_record_moved_between_pages_is_read_again_and_none_is_skipped()
{
    let since = T0 - OVERLAP;
    let world = Arc::new(Mutex::new(vec![
        person(1, T0, None),
        person(2, T0 + 1000, None),
        person(3, T0 + 2000, None),
        person(4, T0 + 3000, None),
    ]));
    let w = world.clone();
    let fake = Fake::start(move |req, _| {
        match req.path.as_str() {
        "/api/v1/personFields" => person_fields(),
        "/api/v2/persons" => {
            let mut persons = w.lock().unwrap();
            let a = list(&persons, req);
            // After the first page is served, a user edits person 1 (read already) and
            // person 3 (not read yet): both move to the end of the order.
            if !req.query.contains_key("updated_since") || req.query["updated_since"] == iso(since)
            {
                persons[0] = person(1, T0 + 10_000, None);
                persons[2] = person(3, T0 + 11_000, None);
            }
            a
        }
        "/api/v1/recents" => answer(
            200,
            json!({ "success": true, "data": [],
                    "additional_data": { "pagination": { "start": 0, "limit": 2, "more_items_in_collection": false } } }),
        )
        .header("Date", &http_date(NOW + 1000)),
        other => panic!("unexpected {other}"),
    }
    });
    let pd = provider(&fake, 2);
    let pages = read_all(&pd, Some(cursor(since, since))).await;
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.id.as_str()))
        .collect();
    assert_eq!(ids, ["1", "2", "4", "1", "3"], "3 is read at its new place");
    // Every list is a fresh one from the newest time read, never a continuation by cursor.
    let lists: Vec<Seen> = fake
        .seen()
        .into_iter()
        .filter(|s| s.path == "/api/v2/persons")
        .collect();
    let bounds: Vec<&str> = lists
        .iter()
        .map(|s| s.query["updated_since"].as_str())
        .collect();
    assert_eq!(
        bounds,
        [
            iso(since),
            iso(T0 + 1000),
            iso(T0 + 3000),
            iso(T0 + 10_000),
            iso(T0 + 11_000)
        ]
    );
    assert!(lists.iter().all(|s| !s.query.contains_key("cursor")));
    // The checkpoint after the first page of the list does not pass record 3, which was
    // unread then; the change log, read before the list, is read up to the read's start.
    assert!(pages[0].records.is_empty(), "the change log");
    assert_eq!(checkpoint(&pages[1])["since"], json!(T0 + 1000 - OVERLAP));
    assert_eq!(
        checkpoint(&pages[1])["deleted_since"],
        json!(NOW + 1000 - OVERLAP)
    );
}

#[tokio::test]
async fn a_full_page_in_one_second_is_paged_by_id_with_the_cursor_then_the_read_goes_on() {
    let persons: Vec<Value> = (1..=5)
        .map(|i| person(i, T0, None))
        .chain([person(6, T0 + 1000, None)])
        .collect();
    let fake = catalogue_and_list(persons);
    let pd = provider(&fake, 2);
    let pages = read_all(&pd, None).await;
    let mut ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    let ties: Vec<Seen> = fake
        .seen()
        .into_iter()
        .filter(|s| s.query.get("sort_by").map(String::as_str) == Some("id"))
        .collect();
    assert!(!ties.is_empty());
    for t in &ties {
        assert_eq!(t.query["updated_since"], iso(T0));
        assert_eq!(t.query["updated_until"], iso(T0 + 1000));
    }
    assert!(ties.iter().any(|t| t.query.contains_key("cursor")));
    let last = fake
        .seen()
        .into_iter()
        .rev()
        .find(|s| s.path == "/api/v2/persons")
        .unwrap();
    assert_eq!(last.query["updated_since"], iso(T0 + 1000));
}

#[tokio::test]
async fn an_incremental_read_starts_with_the_deletions_in_recents() {
    let since = T0 - OVERLAP;
    let fake = Fake::start(move |req, _| match req.path.as_str() {
        "/api/v1/personFields" => person_fields(),
        "/api/v2/persons" => list(&[person(1, T0, None)], req),
        "/api/v1/recents" => {
            assert_eq!(req.query["items"], "person");
            let start = req.query["start"].clone();
            let data = if start == "0" && req.query["since_timestamp"] == "2027-01-15 07:55:00" {
                json!([
                    { "item": "person", "id": 8, "data": { "id": 8, "active_flag": false, "update_time": "2027-01-15 08:00:30" } },
                    { "item": "person", "id": 9, "data": { "id": 9, "active_flag": true, "update_time": "2027-01-15 08:00:40" } }
                ])
            } else {
                json!([
                    { "item": "person", "id": 10, "data": { "id": 10, "active_flag": false, "update_time": "2027-01-15 08:00:50" } }
                ])
            };
            let more = data[0]["id"] == 8;
            answer(
                200,
                json!({
                    "success": true, "data": data,
                    "additional_data": {
                        "since_timestamp": req.query["since_timestamp"],
                        "last_timestamp_on_page": if more { "2027-01-15 08:00:40" } else { "2027-01-15 08:00:50" },
                        "pagination": { "start": 0, "limit": 2, "more_items_in_collection": more }
                    }
                }),
            )
            .header("Date", &http_date(NOW + 1000))
        }
        other => panic!("unexpected {other}"),
    });
    let pd = provider(&fake, 2);
    let pages = read_all(&pd, Some(cursor(since, since))).await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[2].records.len(), 1, "the list, after the change log");
    assert_eq!(
        checkpoint(&pages[0]),
        json!({ "v": 1, "since": since, "deleted_since": since + 39_000 }),
        "the list is not yet read: its bound stays"
    );
    let deleted: Vec<(&str, bool)> = pages[..2]
        .iter()
        .flat_map(|p| p.records.iter().map(|r| (r.id.as_str(), r.archived)))
        .collect();
    assert_eq!(deleted, [("8", true), ("10", true)]);
    for r in pages[..2].iter().flat_map(|p| &p.records) {
        assert_eq!(
            r.returned,
            Some(Default::default()),
            "a deletion names no property, so it clears none"
        );
    }
    let recents: Vec<Seen> = fake
        .seen()
        .into_iter()
        .filter(|s| s.path == "/api/v1/recents")
        .collect();
    assert_eq!(recents[1].query["since_timestamp"], "2027-01-15 08:00:39");
    assert_eq!(recents[1].query["start"], "0");
    assert_eq!(
        checkpoint(&pages[2]),
        json!({ "v": 1, "since": NOW + 1000 - OVERLAP, "deleted_since": NOW + 1000 - OVERLAP })
    );
}

#[tokio::test]
async fn reads_by_id_take_a_hundred_ids_a_call_and_leave_deleted_ones_out() {
    let mut gone = person(3, T0, None);
    gone["is_deleted"] = json!(true);
    let persons: Vec<Value> = (1..=150)
        .map(|i| person(i, T0, None))
        .filter(|p| p["id"] != 3)
        .chain([gone])
        .collect();
    let fake = catalogue_and_list(persons);
    let pd = provider(&fake, 500);
    let ids: Vec<String> = (1..=120).map(|i| i.to_string()).collect();
    let got = pd
        .read_by_ids(ObjectKind::Contact, &ids, &props())
        .await
        .unwrap();
    assert_eq!(got.len(), 119);
    let calls: Vec<Seen> = fake
        .seen()
        .into_iter()
        .filter(|s| s.path == "/api/v2/persons")
        .collect();
    // Two calls, sent together (so in either order): a hundred ids, then the other twenty.
    let mut sizes: Vec<usize> = calls
        .iter()
        .map(|c| c.query["ids"].split(',').count())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [20, 100]);
}

#[tokio::test]
async fn a_create_sends_the_v2_shape_with_the_local_id_in_the_custom_field_found_by_name() {
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v1/personFields") => person_fields(),
            ("POST", "/api/v2/persons") => {
                let mut p = person(77, T0, Some("L1"));
                p["name"] = req.body["name"].clone();
                answer(200, json!({ "success": true, "data": p }))
            }
            other => panic!("unexpected {other:?}"),
        },
    );
    let pd = provider(&fake, 500);
    let out = pd
        .create(
            ObjectKind::Contact,
            &[write(
                "L1",
                None,
                &[
                    ("first_name", "Ann"),
                    ("last_name", "Lee"),
                    ("email", "ann@x.test"),
                    ("phone", "+1"),
                    ("org_id", "41"),
                    ("pronouns", "she/her"),
                ],
            )],
        )
        .await
        .unwrap();
    let r = out[0].as_ref().unwrap();
    assert_eq!(r.id, "77");
    assert_eq!(r.external_id.as_deref(), Some("L1"));
    let post = first(&fake, "POST");
    assert_eq!(
        post.body,
        json!({
            "name": "Ann Lee",
            "emails": [ { "value": "ann@x.test", "primary": true, "label": "work" } ],
            "phones": [ { "value": "+1", "primary": true, "label": "work" } ],
            "org_id": 41,
            "custom_fields": { CRMSYNC_KEY: "L1", PRONOUNS_KEY: "she/her" }
        })
    );
}

#[tokio::test]
async fn a_custom_field_made_again_under_a_new_key_is_found_by_its_name_by_the_next_run() {
    // An admin deletes `pronouns` and adds it again between two runs: Pipedrive gives it a
    // new 40-character key, and nothing of the old one is kept anywhere.
    const NEW_KEY: &str = "0123456789abcdef0123456789abcdef01234567";
    let recreated = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = recreated.clone();
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v1/personFields") => {
                if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                    return person_fields();
                }
                let mut fields: Value = serde_json::from_str(&person_fields().body).unwrap();
                for f in fields["data"].as_array_mut().unwrap() {
                    if f["key"] == PRONOUNS_KEY {
                        f["key"] = json!(NEW_KEY);
                        f["id"] = json!(11);
                    }
                }
                answer(200, fields)
            }
            ("PATCH", "/api/v2/persons/77") => {
                let p = person(77, T0, Some("L1"));
                answer(200, json!({ "success": true, "data": p }))
            }
            other => panic!("unexpected {other:?}"),
        },
    );
    let update = || write("L1", Some("77"), &[("pronouns", "they/them")]);
    provider(&fake, 500)
        .update(ObjectKind::Contact, &[update()])
        .await
        .unwrap();
    recreated.store(true, std::sync::atomic::Ordering::SeqCst);
    provider(&fake, 500)
        .update(ObjectKind::Contact, &[update()])
        .await
        .unwrap();
    let patches: Vec<Value> = fake
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| s.body["custom_fields"].clone())
        .collect();
    assert_eq!(
        patches,
        [
            json!({ PRONOUNS_KEY: "they/them" }),
            json!({ NEW_KEY: "they/them" })
        ]
    );
}

#[tokio::test]
async fn a_create_that_failed_on_the_way_is_looked_up_by_its_local_id_before_it_is_sent_again() {
    // The first POST is answered 502 after Pipedrive made the record: a second POST would
    // make a duplicate. The second record's POST is lost the same way, but it was not made:
    // it is sent again.
    let made = Arc::new(Mutex::new(Vec::<Value>::new()));
    let m = made.clone();
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v1/personFields") => person_fields(),
            ("POST", "/api/v2/persons") => {
                let local = req.body["custom_fields"][CRMSYNC_KEY]
                    .as_str()
                    .unwrap()
                    .to_string();
                let mut made = m.lock().unwrap();
                let tries = made
                    .iter()
                    .filter(|p| p["custom_fields"][CRMSYNC_KEY] == local.as_str())
                    .count();
                match (local.as_str(), tries) {
                    ("L1", 0) => {
                        made.push(person(101, T0, Some("L1")));
                        answer(502, json!({ "success": false, "error": "Bad gateway" }))
                    }
                    ("L2", 0) if !made.iter().any(|p| p["id"] == 0) => {
                        made.push(json!({ "id": 0, "custom_fields": {} }));
                        answer(503, json!({ "success": false, "error": "Unavailable" }))
                    }
                    ("L2", _) => {
                        let p = person(102, T0, Some("L2"));
                        made.push(p.clone());
                        answer(200, json!({ "success": true, "data": p }))
                    }
                    other => panic!("a duplicate create: {other:?}"),
                }
            }
            ("GET", "/api/v2/persons/search") => {
                assert_eq!(req.query["fields"], "custom_fields");
                assert_eq!(req.query["exact_match"], "true");
                let term = req.query["term"].clone();
                let items: Vec<Value> = m
                .lock()
                .unwrap()
                .iter()
                .filter(|p| p["custom_fields"][CRMSYNC_KEY] == term.as_str())
                .map(|p| json!({ "result_score": 1.0, "item": { "id": p["id"], "type": "person" } }))
                .collect();
                answer(200, json!({ "success": true, "data": { "items": items } }))
            }
            ("GET", "/api/v2/persons") => list(&m.lock().unwrap(), req),
            ("GET", path) if path.starts_with("/api/v2/persons/") => one(&m.lock().unwrap(), path),
            other => panic!("unexpected {other:?}"),
        },
    );
    let pd = provider(&fake, 500);
    let out = pd
        .create(
            ObjectKind::Contact,
            &[
                write("L1", None, &[("name", "One")]),
                write("L2", None, &[("name", "Two")]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().id, "101", "found, not made twice");
    assert_eq!(
        out[1].as_ref().unwrap().id,
        "102",
        "not found, so sent again"
    );
    let posts = fake.seen().iter().filter(|s| s.method == "POST").count();
    assert_eq!(posts, 3);
}

#[tokio::test]
async fn an_update_patches_and_keeps_the_emails_that_are_not_primary() {
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v1/personFields") => person_fields(),
            ("GET", "/api/v2/persons/5") => {
                answer(200, json!({ "success": true, "data": person(5, T0, None) }))
            }
            ("PATCH", "/api/v2/persons/5") => answer(
                200,
                json!({ "success": true, "data": person(5, T0 + 1000, Some("L5")) }),
            ),
            ("PATCH", "/api/v2/persons/6") => answer(
                404,
                json!({ "success": false, "error": "Person not found", "error_info": "Please check developers.pipedrive.com", "data": null }),
            ),
            other => panic!("unexpected {other:?}"),
        },
    );
    let pd = provider(&fake, 500);
    let mut linked = write("L5", Some("5"), &[("email", "new@x.test"), ("org_id", "")]);
    linked.set_external_id = true;
    let out = pd
        .update(
            ObjectKind::Contact,
            &[linked, write("L6", Some("6"), &[("name", "X")])],
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().id, "5");
    let refused = out[1].as_ref().unwrap_err();
    assert_eq!(
        refused.message,
        "Person not found (Please check developers.pipedrive.com)"
    );
    assert_eq!(refused.code.as_deref(), Some("404"));
    let patch = fake
        .seen()
        .into_iter()
        .find(|s| s.method == "PATCH" && s.path.ends_with("/5"))
        .unwrap();
    assert_eq!(
        patch.body,
        json!({
            "emails": [
                { "value": "home5@x.test", "primary": false, "label": "home" },
                { "value": "new@x.test", "primary": true, "label": "work" }
            ],
            "org_id": null,
            "custom_fields": { CRMSYNC_KEY: "L5" }
        })
    );
}

#[tokio::test]
async fn an_update_of_one_name_part_writes_the_whole_name_with_the_other_part_as_pipedrive_has_it()
{
    // v2 `PATCH /persons/{id}` takes `name`; `first_name` and `last_name` are only read.
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v1/personFields") => person_fields(),
            ("GET", "/api/v2/persons/5") => {
                let mut p = person(5, T0, None);
                p["name"] = json!("Ann Lee");
                p["first_name"] = json!("Ann");
                p["last_name"] = json!("Lee");
                answer(200, json!({ "success": true, "data": p }))
            }
            ("PATCH", "/api/v2/persons/5") => answer(
                200,
                json!({ "success": true, "data": person(5, T0 + 1000, None) }),
            ),
            other => panic!("unexpected {other:?}"),
        },
    );
    let pd = provider(&fake, 500);
    let out = pd
        .update(
            ObjectKind::Contact,
            &[write("L5", Some("5"), &[("last_name", "Smith")])],
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().id, "5");
    let patch = first(&fake, "PATCH");
    assert_eq!(patch.body, json!({ "name": "Ann Smith" }));
}

#[tokio::test]
async fn a_field_the_catalogue_does_not_have_refuses_the_write_by_name() {
    let fake = Fake::start(move |req, _| match req.path.as_str() {
        "/api/v1/personFields" => person_fields(),
        other => panic!("unexpected {other}"),
    });
    let pd = provider(&fake, 500);
    let out = pd
        .update(
            ObjectKind::Contact,
            &[write("L5", Some("5"), &[("tier", "gold")])],
        )
        .await
        .unwrap();
    let refused = out[0].as_ref().unwrap_err();
    assert_eq!(refused.unknown_properties(), ["tier"]);
}

#[tokio::test]
async fn deletes_are_one_call_each_and_a_record_already_gone_counts_as_deleted() {
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("DELETE", "/api/v2/organizations/1") => {
                answer(200, json!({ "success": true, "data": { "id": 1 } }))
            }
            ("DELETE", "/api/v2/organizations/2") => answer(
                404,
                json!({ "success": false, "error": "Organization not found" }),
            ),
            ("DELETE", "/api/v2/organizations/3") => {
                answer(403, json!({ "success": false, "error": "Forbidden" }))
            }
            other => panic!("unexpected {other:?}"),
        },
    );
    let pd = provider(&fake, 500);
    let ids: Vec<String> = ["1", "2", "3"].iter().map(|s| s.to_string()).collect();
    let out = pd.archive(ObjectKind::Company, &ids).await.unwrap();
    assert!(out[0].is_ok() && out[1].is_ok());
    assert_eq!(out[2].as_ref().unwrap_err().message, "Forbidden");
}

#[tokio::test]
async fn a_429_waits_its_retry_after_and_an_error_body_is_summarised() {
    let fake = Fake::start(move |req, n| match req.path.as_str() {
        "/api/v1/users/me" if n == 0 => answer(
            429,
            json!({ "success": false, "error": "Request over limit", "error_info": "" }),
        )
        .header("Retry-After", "3"),
        "/api/v1/users/me" => answer(
            200,
            json!({ "success": true, "data": {
                "id": 7, "name": "Ann", "email": "ann@acme.test",
                "company_id": 5501, "company_name": "Acme", "company_domain": "acme"
            } }),
        ),
        "/api/v1/personFields" => answer(
            400,
            json!({ "success": false, "error": "Bad field", "error_info": "Please check developers.pipedrive.com", "data": null }),
        ),
        other => panic!("unexpected {other}"),
    });
    let pd = provider(&fake, 500);
    let info = pd.account().await.unwrap();
    assert_eq!(info.id, "5501");
    assert_eq!(
        info.account,
        "Acme (company 5501) on acme.pipedrive.com, user ann@acme.test"
    );
    assert_eq!(
        pd.http().waits(),
        [(WaitReason::Retry, std::time::Duration::from_secs(3))]
    );
    let err = pd.fields(ObjectKind::Contact).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Pipedrive answered 400 for connection `pd`: Bad field (Please check developers.pipedrive.com)"
    );
}

#[tokio::test]
async fn a_listeners_runs_ask_the_account_once_per_token_and_at_once_for_a_new_token() {
    // Each token belongs to its own company.
    let fake = Fake::start(|req, _| match req.path.as_str() {
        "/api/v1/users/me" => {
            let company = match req.api_token.as_deref() {
                Some("pd-token") => 5501,
                _ => 6602,
            };
            answer(
                200,
                json!({ "success": true, "data": { "company_id": company } }),
            )
        }
        other => panic!("unexpected {other}"),
    });
    let known = crmsync::engine::accounts::KnownAccounts::default();
    // Each run builds its provider anew; the same base URL and token are not asked again.
    for _ in 0..3 {
        let run = provider(&fake, 500);
        assert_eq!(known.account(&run).await.unwrap().id, "5501");
    }
    assert_eq!(fake.seen().len(), 1);
    // A new token (a `connect` to another company while the listener runs) is asked at once:
    // its links' check then sees the other company.
    let other = provider_with(&fake, 500, Arc::new(Given("other-token")));
    assert_eq!(known.account(&other).await.unwrap().id, "6602");
    assert_eq!(fake.seen().len(), 2);
    // The same token at another base URL is asked too.
    let elsewhere = Fake::start(|_, _| {
        answer(
            200,
            json!({ "success": true, "data": { "company_id": 7703 } }),
        )
    });
    assert_eq!(
        known.account(&provider(&elsewhere, 500)).await.unwrap().id,
        "7703"
    );
    assert_eq!(elsewhere.seen().len(), 1);
    // Without the memo, every call asks.
    provider(&fake, 500).account().await.unwrap();
    assert_eq!(fake.seen().len(), 3);
}

#[test]
fn the_runs_of_one_process_call_the_crm_over_the_connection_the_last_run_opened() {
    let fake = Fake::start(|_, _| {
        answer(
            200,
            json!({ "success": true, "data": { "company_id": 5501 } }),
        )
    });
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let peers = || {
        fake.seen()
            .iter()
            .map(|s| s.peer.expect("peer"))
            .collect::<std::collections::BTreeSet<_>>()
    };
    // Each run (a `listen` batch) builds its provider anew.
    let listener = runtime();
    for _ in 0..3 {
        listener.block_on(async { provider(&fake, 500).account().await.unwrap() });
    }
    assert_eq!(fake.seen().len(), 3);
    assert_eq!(peers().len(), 1, "{:?}", peers());
    // A connection belongs to the runtime that opened it: another runtime opens its own.
    runtime().block_on(async { provider(&fake, 500).account().await.unwrap() });
    assert_eq!(peers().len(), 2, "{:?}", peers());
}

#[tokio::test]
async fn the_daily_allowance_stops_at_the_reserve() {
    // Each answer tells the tokens left after it, `users/me` costing 2: 204, 202, 200 with
    // 200 kept back.
    let fake = Fake::start(move |_req, n| {
        answer(200, json!({ "success": true, "data": { "company_id": 1 } }))
            .header("x-ratelimit-limit", "80")
            .header("x-ratelimit-remaining", "79")
            .header(
                "x-daily-requests-left",
                &(crmsync::providers::pipedrive::DAILY_RESERVE + 2 * (2 - n as u64)).to_string(),
            )
    });
    let pd = provider(&fake, 500);
    pd.account().await.unwrap();
    pd.account().await.unwrap();
    pd.account().await.unwrap();
    let err = pd.account().await.unwrap_err();
    assert!(matches!(err, ProviderError::DailyLimit { .. }), "{err}");
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test]
async fn mappings_setup_creates_the_custom_fields_by_name_and_the_catalogue_is_read_again() {
    let created = Arc::new(Mutex::new(false));
    let c = created.clone();
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/api/v1/personFields") => {
                *c.lock().unwrap() = true;
                answer(
                    200,
                    json!({ "success": true, "data": { "key": CRMSYNC_KEY, "name": req.body["name"] } }),
                )
            }
            ("GET", "/api/v1/personFields") => person_fields(),
            other => panic!("unexpected {other:?}"),
        },
    );
    let pd = provider(&fake, 500);
    assert_eq!(pd.kind(), ProviderKind::Pipedrive);
    let specs = pd.required_fields(ObjectKind::Contact);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["crmsync_id", "pronouns"]);
    assert_eq!(
        pd.required_fields(ObjectKind::Company)
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["crmsync_id"]
    );
    let before = pd.fields(ObjectKind::Contact).await.unwrap();
    // What `mappings setup` creates: the fields the provider says it needs.
    pd.create_field(ObjectKind::Contact, &specs[0])
        .await
        .unwrap();
    assert!(*created.lock().unwrap());
    let post = first(&fake, "POST");
    assert_eq!(
        post.body,
        json!({ "name": "crmsync_id", "field_type": "varchar", "add_visible_flag": true })
    );
    let external = before.iter().find(|f| f.name == "crmsync_id").unwrap();
    assert!(external.unique);
    assert!(before.iter().any(|f| f.name == "email" && !f.read_only));
    assert!(
        before
            .iter()
            .any(|f| f.name == "org_id" && f.kind == RemoteFieldKind::Reference)
    );
    let mappings =
        crmsync::providers::default_mappings(ProviderKind::Pipedrive, ObjectKind::Contact)
            .expect("Pipedrive is available");
    assert!(
        mappings
            .iter()
            .any(|m| m.local == "company_id" && m.remote == "org_id")
    );
}
