//! SOQL `query`/`queryAll` with paging, the locator's snapshot, the replication calls and
//! the refusals.

use std::time::Duration;

use serde_json::{Value, json};

use super::Org;

fn q(soql: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    Org::api(&format!("query?q={enc}"))
}

fn q_all(soql: &str) -> String {
    q(soql).replace("/query?", "/queryAll?")
}

fn ids(v: &Value) -> Vec<String> {
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_query_pages_by_batch_size_and_later_pages_serve_the_rows_as_they_were() {
    let org = Org::start();
    let seeded = org.sb.seed(450, 2, 0);
    let soql = "SELECT Id, LastName, Account.Name FROM Contact ORDER BY SystemModstamp, Id";
    let first = org.send(
        "GET",
        &q(soql),
        None,
        &[("Sforce-Query-Options", "batchSize=200")],
    );
    assert_eq!(first.status, 200);
    assert_eq!(
        (
            first.body["totalSize"].as_u64(),
            first.body["done"].as_bool()
        ),
        (Some(450), Some(false))
    );
    assert_eq!(ids(&first.body).len(), 200);
    assert_eq!(
        first.body["records"][0]["Account"]["attributes"]["type"],
        json!("Account")
    );
    assert!(first.body["records"][0]["Account"]["Name"].is_string());
    let next = first.body["nextRecordsUrl"].as_str().unwrap().to_string();
    assert!(
        next.starts_with(&Org::api("query/01g")) && next.ends_with("-200"),
        "{next}"
    );

    // A user's edit after the query ran: the locator's pages keep the row as it was.
    let later = &seeded.contacts[300];
    org.sb
        .update_record("Contact", later, &json!({"LastName": "Changed"}))
        .unwrap();
    let second = org.send(
        "GET",
        &next,
        None,
        &[("Sforce-Query-Options", "batchSize=200")],
    );
    let third = org.get(second.body["nextRecordsUrl"].as_str().unwrap());
    assert_eq!(third.body["done"], json!(true));
    assert!(third.body.get("nextRecordsUrl").is_none());
    let all: Vec<String> = [&first.body, &second.body, &third.body]
        .iter()
        .flat_map(|b| ids(b))
        .collect();
    assert_eq!(
        all, seeded.contacts,
        "every row once, in SystemModstamp order"
    );
    let row = second.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] == json!(later))
        .unwrap();
    assert_ne!(row["LastName"], json!("Changed"));
    assert_eq!(
        org.get(&Org::api("query/01gDn0000000000AAA-200")).code(),
        "INVALID_QUERY_LOCATOR"
    );

    let default = org.get(&q("SELECT Id FROM Contact"));
    assert_eq!(ids(&default.body).len(), 450, "2,000 a page by default");
    org.sb.set_page_cap(Some(100));
    assert_eq!(ids(&org.get(&q("SELECT Id FROM Contact")).body).len(), 100);
}

#[test]
fn filters_order_and_limit_read_as_soql_does() {
    let org = Org::start();
    let seeded = org.sb.seed(6, 1, 0);
    let mid = org.record(&seeded.contacts[2])["SystemModstamp"]
        .as_str()
        .unwrap()
        .to_string();
    let mid_z = mid.replace("+0000", "Z");
    let after = org.get(&q(&format!(
        "SELECT Id FROM Contact WHERE SystemModstamp > {mid_z} ORDER BY SystemModstamp, Id"
    )));
    assert_eq!(ids(&after.body), seeded.contacts[3..].to_vec());
    let tie = org.get(&q(&format!(
        "SELECT Id FROM Contact WHERE (SystemModstamp > {mid}) OR (SystemModstamp = {mid} AND Id > '{}') ORDER BY SystemModstamp, Id LIMIT 2",
        seeded.contacts[1])));
    assert_eq!(ids(&tie.body), seeded.contacts[2..4].to_vec());
    let desc = org.get(&q(
        "SELECT Id FROM Contact ORDER BY SystemModstamp DESC LIMIT 1",
    ));
    assert_eq!(ids(&desc.body), vec![seeded.contacts[5].clone()]);
    let email = org.record(&seeded.contacts[0])["Email"]
        .as_str()
        .unwrap()
        .to_uppercase();
    let by_email = org.get(&q(&format!(
        "SELECT Id, Email FROM Contact WHERE Email = '{email}'"
    )));
    assert_eq!(
        ids(&by_email.body),
        vec![seeded.contacts[0].clone()],
        "text compares without case"
    );
    let inn = org.get(&q(&format!(
        "SELECT Id FROM Contact WHERE Id IN ('{}', '{}')",
        seeded.contacts[1], seeded.contacts[4]
    )));
    assert_eq!(ids(&inn.body).len(), 2);
    let null = org.get(&q(
        "SELECT Id FROM Contact WHERE MobilePhone = null AND Title != null",
    ));
    assert_eq!(ids(&null.body).len(), 6);
    let count = org.get(&q("SELECT COUNT() FROM Contact WHERE Title = 'CFO'"));
    assert_eq!(
        (
            count.body["totalSize"].as_u64(),
            count.body["records"].as_array().map(Vec::len)
        ),
        (Some(1), Some(0))
    );
}

#[test]
fn query_all_serves_deleted_records_and_query_does_not() {
    let org = Org::start();
    let seeded = org.sb.seed(3, 0, 0);
    org.sb
        .delete_record("Contact", &seeded.contacts[1])
        .unwrap();
    assert_eq!(ids(&org.get(&q("SELECT Id FROM Contact")).body).len(), 2);
    let all = org.get(&q_all(
        "SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true",
    ));
    assert_eq!(ids(&all.body), vec![seeded.contacts[1].clone()]);
    assert_eq!(all.body["records"][0]["IsDeleted"], json!(true));
    org.sb.advance_clock(Duration::from_secs(16 * 86_400));
    let (token, _) = org.sb.mint_token();
    let org = Org { token, ..org };
    assert_eq!(
        ids(&org
            .get(&q_all("SELECT Id FROM Contact WHERE IsDeleted = true"))
            .body)
        .len(),
        0,
        "the Recycle Bin keeps a record 15 days"
    );
}

#[test]
fn queries_the_sandbox_does_not_understand_are_refused_not_guessed() {
    let org = Org::start();
    for soql in [
        "SELECT Id FROM Contact WHERE Email LIKE 'a%'",
        "SELECT Id FROM Contact WHERE a = 'x' AND b = 'y' OR c = 'z'",
        "SELECT Id FROM Contact WHERE SystemModstamp > LAST_N_DAYS:2",
        "SELECT Id FROM Contact OFFSET 5",
        "SELECT Id FROM Contact WHERE Account.Name = 'x'",
        "SELEC Id FROM Contact",
    ] {
        let r = org.get(&q(soql));
        assert_eq!((r.status, r.code()), (400, "MALFORMED_QUERY"), "{soql}");
    }
    assert_eq!(
        org.get(&q("SELECT Nope FROM Contact")).code(),
        "INVALID_FIELD"
    );
    assert_eq!(
        org.get(&q(
            "SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01'"
        ))
        .code(),
        "INVALID_FIELD"
    );
    assert_eq!(org.get(&q("SELECT Id FROM Lead")).code(), "INVALID_TYPE");
    assert_eq!(org.get(&Org::api("query")).code(), "MALFORMED_QUERY");
}

fn window(org: &Org, what: &str, start_ago_s: i64, end_ago_s: i64) -> super::Resp {
    let now = org.sb.now_ms();
    let t = |ago: i64| crmsync::sandbox::iso_ms(now - ago * 1000).replace("+", "%2B");
    org.get(&Org::api(&format!(
        "sobjects/Contact/{what}/?start={}&end={}",
        t(start_ago_s),
        t(end_ago_s)
    )))
}

#[test]
fn updated_and_deleted_cover_their_windows() {
    let org = Org::start();
    let seeded = org.sb.seed(2, 0, 0);
    org.sb.advance_clock(Duration::from_secs(300));
    org.sb
        .update_record("Contact", &seeded.contacts[0], &json!({"Title": "New"}))
        .unwrap();
    org.sb
        .delete_record("Contact", &seeded.contacts[1])
        .unwrap();
    org.sb.advance_clock(Duration::from_secs(120));
    let up = window(&org, "updated", 200, 0);
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["ids"], json!([seeded.contacts[0]]));
    let del = window(&org, "deleted", 200, 0);
    assert_eq!(
        del.body["deletedRecords"][0]["id"],
        json!(seeded.contacts[1])
    );
    assert_eq!(
        window(&org, "updated", 31 * 86_400, 0).code(),
        "INVALID_REPLICATION_DATE"
    );
    assert_eq!(
        window(&org, "deleted", 16 * 86_400, 0).code(),
        "INVALID_REPLICATION_DATE"
    );
    assert_eq!(
        window(&org, "updated", 0, 100).code(),
        "INVALID_REPLICATION_DATE",
        "the end before the start"
    );
    assert_eq!(
        org.get(&Org::api("sobjects/Contact/updated/")).code(),
        "MISSING_ARGUMENT"
    );
}
