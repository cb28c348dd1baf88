//! Bulk API 2.0 query jobs: create, poll, CSV results paged by locator.

use serde_json::json;

use super::Org;

#[test]
fn a_bulk_query_job_completes_and_serves_csv_by_locator() {
    let org = Org::start();
    let seeded = org.sb.seed(450, 1, 0);
    let job = org.call("POST", &Org::api("jobs/query"),
                       Some(json!({"operation": "query", "query": "SELECT Id, LastName, Account.Name, SystemModstamp FROM Contact"})));
    assert_eq!(job.status, 200, "{}", job.text);
    assert_eq!(job.body["state"], json!("UploadComplete"));
    let id = job.body["id"].as_str().unwrap().to_string();
    let early = org.get(&Org::api(&format!("jobs/query/{id}/results")));
    assert_eq!((early.status, early.code()), (400, "INVALIDJOBSTATE"));
    assert_eq!(
        org.get(&Org::api(&format!("jobs/query/{id}"))).body["state"],
        json!("InProgress")
    );
    let done = org.get(&Org::api(&format!("jobs/query/{id}")));
    assert_eq!(
        (
            done.body["state"].as_str(),
            done.body["numberRecordsProcessed"].as_u64()
        ),
        (Some("JobComplete"), Some(450))
    );

    let mut locator = String::new();
    let mut rows = Vec::new();
    for page in 0.. {
        let target = if page == 0 {
            Org::api(&format!("jobs/query/{id}/results?maxRecords=200"))
        } else {
            Org::api(&format!(
                "jobs/query/{id}/results?maxRecords=200&locator={locator}"
            ))
        };
        let r = org.get(&target);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/csv"));
        let mut lines = r.text.lines();
        assert_eq!(
            lines.next(),
            Some("\"Id\",\"LastName\",\"Account.Name\",\"SystemModstamp\"")
        );
        let got: Vec<&str> = lines.collect();
        assert_eq!(
            r.header("sforce-numberofrecords"),
            Some(got.len().to_string().as_str())
        );
        rows.extend(
            got.iter()
                .map(|l| l.split(',').next().unwrap().trim_matches('"').to_string()),
        );
        locator = r.header("sforce-locator").unwrap().to_string();
        if locator == "null" {
            assert_eq!(page, 2);
            assert!(
                got.last().unwrap().ends_with("Z\""),
                "datetimes end in Z: {}",
                got.last().unwrap()
            );
            break;
        }
    }
    assert_eq!(rows, seeded.contacts);
    assert_eq!(
        org.call("DELETE", &Org::api(&format!("jobs/query/{id}")), None)
            .status,
        204
    );
    assert_eq!(
        org.get(&Org::api(&format!("jobs/query/{id}"))).code(),
        "NOT_FOUND"
    );

    let bad = org.call(
        "POST",
        &Org::api("jobs/query"),
        Some(json!({"operation": "query", "query": "SELECT Id FROM Contact WHERE Name LIKE 'a%'"})),
    );
    assert_eq!(bad.code(), "MALFORMED_QUERY");
    let count = org.call(
        "POST",
        &Org::api("jobs/query"),
        Some(json!({"operation": "query", "query": "SELECT COUNT() FROM Contact"})),
    );
    assert_eq!(count.code(), "INVALIDJOB");
    let all = org.call("POST", &Org::api("jobs/query"), Some(json!({"operation": "queryAll", "query": "SELECT Id FROM Contact", "lineEnding": "CRLF"})));
    assert_eq!(
        (
            all.body["operation"].as_str(),
            all.body["lineEnding"].as_str()
        ),
        (Some("queryAll"), Some("CRLF"))
    );
}
