//! The Salesforce provider against a small scripted fake: each test serves its own answers on
//! 127.0.0.1 (shaped as the REST API, Bulk API 2.0 and OAuth developer guides describe them)
//! and checks the requests the provider sent: paths, SOQL, headers and bodies.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use crmsync::clock::{Clock, FixedClock};
use crmsync::model::ObjectKind;
use crmsync::providers::http::HttpOptions;
use crmsync::providers::salesforce::{Salesforce, SalesforceOptions, Settings};
use crmsync::providers::{
    ChangePage, ChangeQuery, FieldSpec, Provider, ProviderContext, ProviderError, RemoteFieldKind,
    TokenSource,
};

use common::fake_http::{Answer, Fake, Seen, answer, http_date, remote_write as write};

/// 2027-01-15T08:00:00Z.
const T0: i64 = 1_800_000_000_000;
const NOW: i64 = T0 + 3_600_000;
const OVERLAP: i64 = 300_000;
const DAY: i64 = 86_400_000;
const V: &str = "/services/data/v61.0";

/// A token source that refreshes once to `fresh`, counting its refreshes.
struct Token {
    refreshed: AtomicUsize,
}

#[async_trait]
impl TokenSource for Token {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok("old-token".into())
    }
    async fn refresh(&self, _rejected: &str) -> Result<Option<String>, ProviderError> {
        self.refreshed.fetch_add(1, Ordering::SeqCst);
        Ok(Some("fresh-token".into()))
    }
}

fn provider_with(fake: &Fake, batch: usize, settings: Settings) -> (Salesforce, Arc<Token>) {
    let token = Arc::new(Token {
        refreshed: AtomicUsize::new(0),
    });
    let ctx = ProviderContext {
        connection: "sf".into(),
        base_url: Some(fake.url.clone()),
        tokens: token.clone(),
        clock: Arc::new(FixedClock::new(NOW)) as Arc<dyn Clock>,
        max_requests: None,
        overlap: OVERLAP,
    };
    let sf = Salesforce::with_options(
        ctx,
        SalesforceOptions {
            http: HttpOptions {
                no_sleep: true,
                ..HttpOptions::default()
            },
            settings,
            batch_size: batch,
            bulk_poll: std::time::Duration::ZERO,
            ..SalesforceOptions::default()
        },
    )
    .expect("provider");
    (sf, token)
}

fn provider(fake: &Fake) -> Salesforce {
    provider_with(fake, 2000, Settings::default()).0
}

/// A time as Salesforce writes one.
fn sf_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn field(name: &str, kind: &str, updateable: bool) -> Value {
    json!({ "name": name, "label": name, "type": kind, "length": 80,
            "updateable": updateable, "createable": updateable, "nillable": true })
}

fn contact_describe() -> Answer {
    answer(
        200,
        json!({ "name": "Contact", "keyPrefix": "003", "fields": [
            field("Id", "id", false),
            field("SystemModstamp", "datetime", false),
            field("FirstName", "string", true),
            field("LastName", "string", true),
            field("Email", "email", true),
            field("AccountId", "reference", true),
            { "name": "crmsync_id__c", "label": "crmsync id", "type": "string", "length": 255,
              "updateable": true, "unique": true, "externalId": true },
        ] }),
    )
}

fn contact(id: &str, at: i64, local: Option<&str>) -> Value {
    json!({
        "attributes": { "type": "Contact", "url": format!("{V}/sobjects/Contact/{id}") },
        "Id": id, "FirstName": "Ann", "LastName": "Lee", "Email": format!("{id}@x.io"),
        "AccountId": "001A", "SystemModstamp": sf_time(at), "crmsync_id__c": local,
    })
}

fn props() -> Vec<String> {
    [
        "FirstName",
        "LastName",
        "Email",
        "AccountId",
        "Gone__c",
        "crmsync_id__c",
    ]
    .map(String::from)
    .to_vec()
}

fn query(object: ObjectKind, since: Option<String>, page: Option<String>) -> ChangeQuery {
    ChangeQuery {
        object,
        since,
        page,
        has_links: true,
    }
}

fn soql(req: &Seen) -> &str {
    req.query.get("q").map(String::as_str).unwrap_or_default()
}

async fn read_all(sf: &Salesforce, mut q: ChangeQuery) -> Vec<ChangePage> {
    let mut pages = Vec::new();
    loop {
        let page = sf.changes(&q, &props()).await.expect("page");
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(n) => q.page = Some(n),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn a_first_read_pages_through_the_query_locator_then_reads_deletions() {
    let fake = Fake::start(|req, _| {
        match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p.ends_with("/sobjects/Contact/describe") => contact_describe(),
        ("GET", p) if p == format!("{V}/query") && soql(req).contains("COUNT()") => {
            answer(200, json!({ "totalSize": 3, "done": true, "records": [] }))
        }
        ("GET", p) if p == format!("{V}/query") => answer(
            200,
            json!({ "totalSize": 3, "done": false,
                    "nextRecordsUrl": format!("{V}/query/01gXX-2"),
                    "records": [contact("003A", T0, Some("L1")), contact("003B", T0 + 1000, None)] }),
        )
        .header("Date", &http_date(NOW)),
        ("GET", p) if p == format!("{V}/query/01gXX-2") => answer(
            200,
            json!({ "totalSize": 3, "done": true, "records": [contact("003C", T0 + 2000, None)] }),
        ),
        ("GET", p) if p == format!("{V}/sobjects/Contact/deleted/") => answer(
            200,
            json!({ "deletedRecords": [{ "id": "003D", "deletedDate": sf_time(T0 - 5000) }],
                    "earliestDateAvailable": sf_time(T0 - 20 * DAY),
                    "latestDateCovered": sf_time(NOW - 60_000) }),
        ),
        other => panic!("unexpected {other:?}"),
    }
    });
    let sf = provider_with(&fake, 2, Settings::default()).0;
    let pages = read_all(&sf, query(ObjectKind::Contact, None, None)).await;
    assert_eq!(pages.len(), 3);
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.id.as_str()))
        .collect();
    assert_eq!(ids, ["003A", "003B", "003C", "003D"]);
    let first = &pages[0].records[0];
    assert_eq!(first.updated_at, T0);
    assert_eq!(first.external_id.as_deref(), Some("L1"));
    assert_eq!(first.props["AccountId"], "001A");
    // A property the org does not have is not asked for, and reads as unchanged.
    let returned = first.returned.as_ref().unwrap();
    assert!(!returned.contains("Gone__c") && returned.contains("Email"));
    assert!(pages[2].records[0].archived);
    // The cursor never passes a record not read: the newest stamp read less the overlap.
    let checkpoint = |i: usize| -> Value {
        serde_json::from_str(pages[i].checkpoint.as_deref().unwrap()).unwrap()
    };
    assert_eq!(checkpoint(0)["since"], json!(T0 + 1000 - OVERLAP));
    // Done: from the read's start (Salesforce's `Date`) less the overlap; deletions from
    // what `deleted` covered.
    assert_eq!(checkpoint(1)["since"], json!(NOW - OVERLAP));
    assert_eq!(
        checkpoint(2)["deleted_since"],
        json!(NOW - 60_000 - OVERLAP)
    );
    let seen = fake.seen();
    let q = seen
        .iter()
        .find(|r| soql(r).starts_with("SELECT Id,"))
        .unwrap();
    assert_eq!(
        soql(q),
        "SELECT Id, SystemModstamp, FirstName, LastName, Email, AccountId, crmsync_id__c FROM Contact ORDER BY SystemModstamp, Id"
    );
    for r in &seen {
        assert_eq!(
            r.headers["sforce-call-options"], "client=crmsync",
            "{}",
            r.path
        );
        assert_eq!(r.auth.as_deref(), Some("Bearer old-token"));
    }
    assert_eq!(q.headers["sforce-query-options"], "batchSize=2");
    let next = seen.iter().find(|r| r.path.ends_with("/01gXX-2")).unwrap();
    assert!(next.query.is_empty(), "nextRecordsUrl is followed as given");
    let deleted = seen.iter().find(|r| r.path.ends_with("/deleted/")).unwrap();
    assert_eq!(deleted.query["start"], iso(NOW - 15 * DAY + 3_600_000));
    assert_eq!(deleted.query["end"], iso(NOW));
}

#[tokio::test]
async fn an_incremental_read_starts_at_the_cursor_and_old_deletions_come_from_query_all() {
    let fake = Fake::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p.ends_with("/sobjects/Contact/describe") => contact_describe(),
        ("GET", p) if p == format!("{V}/query") => answer(
            200,
            json!({ "totalSize": 1, "done": true, "records": [contact("003A", T0, None)] }),
        )
        .header("Date", &http_date(NOW)),
        ("GET", p) if p == format!("{V}/queryAll") => answer(
            200,
            json!({ "totalSize": 1, "done": true, "records": [
                { "attributes": { "type": "Contact" }, "Id": "003Z",
                  "SystemModstamp": sf_time(T0 - 20 * DAY), "IsDeleted": true } ] }),
        ),
        other => panic!("unexpected {other:?}"),
    });
    let sf = provider(&fake);
    let since = json!({ "v": 1, "since": T0 - 1500, "deleted_since": T0 - 30 * DAY }).to_string();
    let pages = read_all(&sf, query(ObjectKind::Contact, Some(since), None)).await;
    assert_eq!(pages[1].records[0].id, "003Z");
    assert!(pages[1].records[0].archived);
    let seen = fake.seen();
    assert!(
        soql(&seen[1]).ends_with(&format!(
            "FROM Contact WHERE SystemModstamp > {} ORDER BY SystemModstamp, Id",
            iso(T0 - 2000)
        )),
        "{}",
        soql(&seen[1])
    );
    assert_eq!(
        soql(&seen[2]),
        format!(
            "SELECT Id, SystemModstamp FROM Contact WHERE IsDeleted = true AND SystemModstamp > {} ORDER BY SystemModstamp, Id",
            iso(T0 - 30 * DAY)
        )
    );
    // No count and no Bulk job on an incremental read.
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn creates_are_upserts_by_the_external_id_and_refusals_keep_salesforces_words() {
    let fake = Fake::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("PATCH", p) if p == format!("{V}/composite/sobjects/Contact/crmsync_id__c") => answer(
            200,
            json!([
                { "id": "003N", "success": true, "errors": [], "created": true },
                { "success": false, "errors": [{ "statusCode": "STRING_TOO_LONG",
                  "message": "Last Name: data value too large", "fields": ["LastName"] }] },
                { "success": false, "errors": [{ "statusCode": "DUPLICATE_EXTERNAL_ID",
                  "message": "crmsync id: more than one record found for external id field: [003X, 003Y]",
                  "fields": [] }] }
            ]),
        ),
        ("GET", p) if p.ends_with("/sobjects/Contact/describe") => contact_describe(),
        ("GET", p) if p == format!("{V}/query") => answer(
            200,
            json!({ "totalSize": 1, "done": true, "records": [contact("003N", T0, Some("L1"))] }),
        ),
        other => panic!("unexpected {other:?}"),
    });
    let sf = provider(&fake);
    let out = sf
        .create(
            ObjectKind::Contact,
            &[
                write("L1", None, &[("LastName", "Lee"), ("Email", "")]),
                write("L2", None, &[("LastName", "x")]),
                write("L3", None, &[("LastName", "Ng")]),
            ],
        )
        .await
        .unwrap();
    let made = out[0].as_ref().unwrap();
    assert_eq!((made.id.as_str(), made.updated_at), ("003N", T0));
    let refused = out[1].as_ref().unwrap_err();
    assert_eq!(
        refused.message,
        "Last Name: data value too large (STRING_TOO_LONG)"
    );
    assert_eq!(refused.code.as_deref(), Some("STRING_TOO_LONG"));
    let several = out[2].as_ref().unwrap_err();
    assert!(
        several
            .message
            .contains("`crmsync_id__c` `L3` matches several Salesforce records"),
        "{}",
        several.message
    );
    assert!(!several.retryable && several.duplicate_of().is_none());
    let seen = fake.seen();
    // The catalogue first (a number is sent as one), then the upsert.
    assert!(seen[0].path.ends_with("/sobjects/Contact/describe"));
    assert_eq!(
        seen[1].body,
        json!({ "allOrNone": false, "records": [
            { "attributes": { "type": "Contact" }, "LastName": "Lee", "Email": null, "crmsync_id__c": "L1" },
            { "attributes": { "type": "Contact" }, "LastName": "x", "crmsync_id__c": "L2" },
            { "attributes": { "type": "Contact" }, "LastName": "Ng", "crmsync_id__c": "L3" }
        ] })
    );
    assert!(soql(&seen[2]).ends_with("FROM Contact WHERE Id IN ('003N')"));
}

#[tokio::test]
async fn updates_and_deletes_go_through_collections_of_200() {
    let calls = Arc::new(Mutex::new(Vec::<usize>::new()));
    let c = calls.clone();
    let fake = Fake::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("PATCH", p) if p == format!("{V}/composite/sobjects") => {
                let n = req.body["records"].as_array().unwrap().len();
                c.lock().unwrap().push(n);
                let results: Vec<Value> = req.body["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| json!({ "id": r["id"], "success": true, "errors": [] }))
                    .collect();
                answer(200, json!(results))
            }
            ("DELETE", p) if p == format!("{V}/composite/sobjects") => answer(
                200,
                json!([
                    { "id": "003A", "success": true, "errors": [] },
                    { "success": false, "errors": [{ "statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted" }] },
                    { "success": false, "errors": [{ "statusCode": "DELETE_FAILED", "message": "has open cases" }] }
                ]),
            ),
            ("GET", p) if p.ends_with("/sobjects/Contact/describe") => contact_describe(),
            ("GET", p) if p == format!("{V}/query") => {
                answer(200, json!({ "totalSize": 0, "done": true, "records": [] }))
            }
            other => panic!("unexpected {other:?}"),
        },
    );
    let sf = provider(&fake);
    let inputs: Vec<_> = (0..250)
        .map(|i| {
            let id = format!("003{i:04}");
            write(&format!("L{i}"), Some(&id), &[("FirstName", "Bo")])
        })
        .collect();
    let out = sf.update(ObjectKind::Contact, &inputs).await.unwrap();
    assert_eq!(out.len(), 250);
    assert!(out.iter().all(Result::is_ok));
    assert_eq!(*calls.lock().unwrap(), [200, 50]);
    let ids = ["003A", "003B", "003C"].map(String::from);
    let gone = sf.archive(ObjectKind::Contact, &ids).await.unwrap();
    assert!(gone[0].is_ok() && gone[1].is_ok());
    assert_eq!(
        gone[2].as_ref().unwrap_err().code.as_deref(),
        Some("DELETE_FAILED")
    );
    let del = fake
        .seen()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(del.query["ids"], "003A,003B,003C");
    assert_eq!(del.query["allOrNone"], "false");
    let first = fake
        .seen()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        first.body["records"][0],
        json!({ "attributes": { "type": "Contact" }, "id": "0030000", "FirstName": "Bo" })
    );
}

#[tokio::test]
async fn an_expired_session_is_refreshed_once_and_the_call_tried_again() {
    let fake = Fake::start(|req, _| match req.auth.as_deref() {
        Some("Bearer old-token") => answer(
            401,
            json!([{ "message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID" }]),
        ),
        _ => answer(
            200,
            json!({ "sub": "https://login.salesforce.com/id/00DORG/005USR",
                    "organization_id": "00DORG", "user_id": "005USR",
                    "preferred_username": "ann@acme.test" }),
        ),
    });
    let (sf, token) = provider_with(&fake, 2000, Settings::default());
    let info = sf.account().await.unwrap();
    assert_eq!(info.id, "00DORG");
    assert_eq!(info.account, "org 00DORG, user ann@acme.test (005USR)");
    assert_eq!(token.refreshed.load(Ordering::SeqCst), 1);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/services/oauth2/userinfo");
    assert_eq!(seen[1].auth.as_deref(), Some("Bearer fresh-token"));
}

#[tokio::test]
async fn the_reserve_of_the_daily_allocation_is_kept_for_other_integrations() {
    // 100 a day with 20% kept back: 79 used after the first call and 80 after the second,
    // which leaves the reserve and no more.
    let fake = Fake::start(|_req, n| {
        answer(200, json!({ "organization_id": "00DORG" }))
            .header("Sforce-Limit-Info", &format!("api-usage={}/100", 79 + n))
    });
    let sf = provider(&fake);
    sf.account().await.unwrap();
    sf.account().await.unwrap();
    let err = sf.account().await.unwrap_err();
    match &err {
        ProviderError::DailyLimit { crm, reserve, .. } => {
            assert_eq!((*crm, *reserve), ("Salesforce", 20));
        }
        other => panic!("{other}"),
    }
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn request_limit_exceeded_stops_the_run_as_the_reserve_does() {
    let fake = Fake::start(|_req, _| {
        answer(
            403,
            json!([{ "message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED" }]),
        )
        .header("Sforce-Limit-Info", "api-usage=15001/15000")
    });
    let sf = provider(&fake);
    let err = sf.account().await.unwrap_err();
    assert!(matches!(err, ProviderError::DailyLimit { .. }), "{err}");
    assert_eq!(fake.seen().len(), 1, "a 403 is not retried");
}

#[tokio::test]
async fn too_many_long_requests_at_once_is_waited_out_not_taken_for_the_daily_limit() {
    let refused = AtomicUsize::new(0);
    let fake = Fake::start(move |_req, _| {
        if refused.fetch_add(1, Ordering::SeqCst) < 2 {
            return answer(
                403,
                json!([{ "message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED" }]),
            );
        }
        answer(
            200,
            json!({ "organization_id": "00DORG", "user_id": "005USR" }),
        )
        .header("Sforce-Limit-Info", "api-usage=12/15000")
    });
    let sf = provider(&fake);
    let account = sf.account().await.unwrap();
    assert_eq!(account.id, "00DORG");
    assert_eq!(fake.seen().len(), 3, "sent again twice");
}

/// A Bulk API 2.0 query job's answers, its results in sets of two.
fn bulk_fake(refuse: bool) -> Fake {
    let polls = AtomicUsize::new(0);
    Fake::start(move |req, _| {
        match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p.ends_with("/sobjects/Contact/describe") => contact_describe(),
        ("GET", p) if p == format!("{V}/query") && soql(req).contains("COUNT()") => {
            answer(200, json!({ "totalSize": 3, "done": true, "records": [] }))
        }
        ("GET", p) if p == format!("{V}/query") => answer(
            200,
            json!({ "totalSize": 1, "done": true, "records": [contact("003A", T0, None)] }),
        ),
        ("POST", p) if p == format!("{V}/jobs/query") && refuse => answer(
            400,
            json!([{ "message": "Bulk API is not enabled", "errorCode": "API_DISABLED_FOR_ORG" }]),
        ),
        ("POST", p) if p == format!("{V}/jobs/query") => answer(
            200,
            json!({ "id": "750J", "operation": "query", "object": "Contact", "state": "UploadComplete" }),
        )
        .header("Date", &http_date(NOW)),
        ("GET", p) if p == format!("{V}/jobs/query/750J") => {
            let n = polls.fetch_add(1, Ordering::SeqCst);
            let state = if n == 0 { "InProgress" } else { "JobComplete" };
            answer(200, json!({ "id": "750J", "state": state }))
        }
        ("GET", p) if p == format!("{V}/jobs/query/750J/results") => {
            let (body, locator, n) = match req.query.get("locator").map(String::as_str) {
                None => (
                    "\"Id\",\"SystemModstamp\",\"LastName\"\n\"003A\",\"2027-01-15T07:00:00.000+0000\",\"Lee\"\n\"003B\",\"2027-01-15T07:30:00.000+0000\",\"\"\n",
                    "MQ",
                    "2",
                ),
                Some("MQ") => (
                    "\"Id\",\"SystemModstamp\",\"LastName\"\n\"003C\",\"2027-01-15T06:00:00.000+0000\",\"Ng\"\n",
                    "null",
                    "1",
                ),
                other => panic!("locator {other:?}"),
            };
            Answer {
                status: 200,
                headers: vec![
                    ("Sforce-Locator".into(), locator.into()),
                    ("Sforce-NumberOfRecords".into(), n.into()),
                ],
                body: body.into(),
            }
        }
        other => panic!("unexpected {other:?}"),
    }
    })
}

/// Every page of a first read of the contacts, with the Bulk threshold below their count.
async fn first_read_of_a_large_org(fake: &Fake) -> Vec<ChangePage> {
    let settings = Settings {
        bulk_threshold: 2,
        ..Settings::default()
    };
    let sf = provider_with(fake, 2000, settings).0;
    let mut q = query(ObjectKind::Contact, None, None);
    q.has_links = false;
    read_all(&sf, q).await
}

#[tokio::test]
async fn a_large_first_read_goes_through_a_bulk_query_job() {
    let fake = bulk_fake(false);
    let pages = first_read_of_a_large_org(&fake).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].records.len(), 2);
    assert!(!pages[0].records[1].props.contains_key("LastName"));
    assert_eq!(pages[1].records[0].id, "003C");
    // Nothing is stored part-way (the results are in no order); done, the job's start.
    assert!(pages[0].checkpoint.is_none());
    let done: Value = serde_json::from_str(pages[1].checkpoint.as_deref().unwrap()).unwrap();
    assert_eq!(done["since"], json!(NOW - OVERLAP));
    let seen = fake.seen();
    let job = seen.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(
        job.body,
        json!({ "operation": "query",
                "query": "SELECT Id, SystemModstamp, FirstName, LastName, Email, AccountId, crmsync_id__c FROM Contact" })
    );
    let results: Vec<&Seen> = seen
        .iter()
        .filter(|r| r.path.ends_with("/results"))
        .collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].headers["accept"], "text/csv");
    assert_eq!(results[1].query["locator"], "MQ");
}

#[tokio::test]
async fn a_refused_bulk_job_falls_back_to_the_rest_query() {
    let fake = bulk_fake(true);
    let pages = first_read_of_a_large_org(&fake).await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].records[0].id, "003A");
    assert!(
        fake.seen()
            .iter()
            .any(|r| soql(r).ends_with("FROM Contact ORDER BY SystemModstamp, Id"))
    );
}

#[tokio::test]
async fn mappings_setup_creates_custom_fields_through_the_tooling_api() {
    let fake = Fake::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("POST", p) if p == format!("{V}/tooling/sobjects/CustomField") => {
            answer(201, json!({ "id": "00NX", "success": true, "errors": [] }))
        }
        ("GET", p) if p.ends_with("/sobjects/Contact/describe") => contact_describe(),
        other => panic!("unexpected {other:?}"),
    });
    let sf = provider(&fake);
    let specs = sf.required_fields(ObjectKind::Contact);
    assert_eq!(
        specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["crmsync_id__c", "Pronouns__c"]
    );
    for spec in &specs {
        sf.create_field(ObjectKind::Contact, spec).await.unwrap();
    }
    let task = FieldSpec {
        name: "crmsync_id__c".into(),
        label: "crmsync id".into(),
        kind: RemoteFieldKind::Text,
        unique: true,
    };
    sf.create_field(ObjectKind::Activity, &task).await.unwrap();
    let seen = fake.seen();
    assert_eq!(
        seen[0].body,
        json!({ "FullName": "Contact.crmsync_id__c", "Metadata": {
            "label": "crmsync id", "type": "Text", "length": 255,
            "externalId": true, "unique": true } })
    );
    assert_eq!(seen[1].body["FullName"], "Contact.Pronouns__c");
    assert!(seen[1].body["Metadata"].get("externalId").is_none());
    assert_eq!(seen[2].body["FullName"], "Activity.crmsync_id__c");
    // `mappings setup` says that the new fields may still need field-level security.
    assert!(sf.setup_note().unwrap().contains("field-level security"));
    let fields = sf.fields(ObjectKind::Contact).await.unwrap();
    let email = fields.iter().find(|f| f.name == "Email").unwrap();
    assert!(!email.read_only);
    assert!(fields.iter().find(|f| f.name == "Id").unwrap().read_only);
}
