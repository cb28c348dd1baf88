//! Bulk API 2.0 query jobs, for the first read of an object with more records than
//! `bulk_threshold` (counted first with `SELECT COUNT() FROM Contact`).
//!
//! `POST jobs/query` with `{"operation":"query","query":"SELECT … FROM Contact"}` creates the
//! job; `GET jobs/query/{id}` is polled until its `state` is `JobComplete`; `GET
//! jobs/query/{id}/results?maxRecords=N[&locator=L]` (`Accept: text/csv`) gives the records as
//! CSV, each answer's `Sforce-Locator` naming the next set (`null` after the last) and
//! `Sforce-NumberOfRecords` how many this one holds (the Bulk API 2.0 developer guide, "Get
//! Results for a Query Job"). A job that Salesforce refuses to create (Bulk not enabled, the
//! object not supported) is left for the REST query, which reads the same records a page at a
//! time.
//!
//! The job's results come in no stated order, so a Bulk read stores no cursor part-way: one
//! stopped part-way is read again from the start; when it is done, the cursor is the job's
//! start less the overlap, which is no later than any change the job did not see.

use serde_json::{Map, Value, json};

use super::catalogue::Catalogue;
use super::feed::PageToken;
use super::wire::select_list;
use super::{Salesforce, sobject};
use crate::model::ObjectKind;
use crate::providers::ProviderError;
use crate::providers::http::Method;

/// Records one results answer asks for, unless the options say otherwise.
pub(super) const RESULTS_PER_CALL: usize = 50_000;
/// Polls of a job's state before crmsync gives up waiting for it.
const MAX_POLLS: u32 = 900;

/// A page of a Bulk read: the records, whether they were the last, and the next locator.
type BulkPage = (Vec<Value>, bool, Option<String>);

impl Salesforce {
    /// Whether the first read of `object` goes through Bulk: it holds more records than
    /// `bulk_threshold`.
    pub(super) async fn use_bulk(&self, object: ObjectKind) -> Result<bool, ProviderError> {
        let threshold = self.options.settings.bulk_threshold;
        let soql = format!("SELECT COUNT() FROM {}", sobject(object));
        let resp = self.send_ok(self.soql("query", &soql)).await?;
        let v: Value = self.parse(&resp, "a count")?;
        let count = v["totalSize"].as_u64().unwrap_or(0);
        Ok(count > threshold)
    }

    /// Creates the job, waits for it, and reads its first set of results; `None` when
    /// Salesforce refuses the job (the read goes on through the REST query).
    pub(super) async fn start_bulk(
        &self,
        object: ObjectKind,
        t: &mut PageToken,
        catalogue: &Catalogue,
        properties: &[String],
    ) -> Result<Option<BulkPage>, ProviderError> {
        let soql = format!(
            "SELECT {} FROM {}",
            select_list(catalogue, properties).join(", "),
            sobject(object)
        );
        let req = self
            .request(Method::Post, self.data_path("jobs/query"))
            .json(json!({ "operation": "query", "query": soql }));
        let resp = self.send(req.clone()).await?;
        if !resp.is_success() {
            tracing::info!(
                "Salesforce refused a Bulk API query job for {} ({}): reading through the REST query instead",
                sobject(object),
                self.http.error_text(&resp.body)
            );
            return Ok(None);
        }
        t.note_start(
            resp.crm_clock(self.clock.now()).map(|(d, _)| d),
            self.clock.now(),
        );
        let v: Value = self.parse(&resp, "a new Bulk API job")?;
        let id = v["id"]
            .as_str()
            .ok_or_else(|| ProviderError::Other("Salesforce named no Bulk API job id".into()))?
            .to_string();
        t.bulk_total = self.wait_for_job(&id).await?;
        t.bulk_job = Some(id);
        self.bulk_page(t).await.map(Some)
    }

    /// Polls the job until it is `JobComplete`; the records it holds, as its
    /// `numberRecordsProcessed` says ("Get Information About a Query Job").
    async fn wait_for_job(&self, id: &str) -> Result<Option<u64>, ProviderError> {
        let path = self.data_path(&format!("jobs/query/{id}"));
        for _ in 0..MAX_POLLS {
            let resp = self
                .send_ok(self.request(Method::Get, path.clone()))
                .await?;
            let v: Value = self.parse(&resp, "a Bulk API job")?;
            match v["state"].as_str().unwrap_or_default() {
                "JobComplete" => return Ok(v["numberRecordsProcessed"].as_u64()),
                "Failed" | "Aborted" => {
                    return Err(ProviderError::Other(format!(
                        "Salesforce's Bulk API job `{id}` ended {}: {}",
                        v["state"].as_str().unwrap_or_default(),
                        v["errorMessage"].as_str().unwrap_or("no message")
                    )));
                }
                state => tracing::info!("Salesforce Bulk API job `{id}`: {state}"),
            }
            if !self.options.http.no_sleep {
                tokio::time::sleep(self.options.bulk_poll).await;
            }
        }
        Err(ProviderError::Other(format!(
            "Salesforce's Bulk API job `{id}` did not complete in time: run the command again"
        )))
    }

    /// The next set of a Bulk job's results.
    pub(super) async fn bulk_page(&self, t: &mut PageToken) -> Result<BulkPage, ProviderError> {
        let id = t.bulk_job.clone().unwrap_or_default();
        let mut req = self
            .request(
                Method::Get,
                self.data_path(&format!("jobs/query/{id}/results")),
            )
            .header("Accept", "text/csv")
            .query("maxRecords", self.options.bulk_page.max(1).to_string());
        if let Some(locator) = &t.next {
            req = req.query("locator", locator.clone());
        }
        let resp = self.send_ok(req).await?;
        let records = csv_records(&resp.body)?;
        let locator = resp
            .headers
            .get("sforce-locator")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "null")
            .map(str::to_string);
        let count = resp
            .headers
            .get("sforce-numberofrecords")
            .and_then(|v| v.to_str().ok())
            .and_then(|n| n.trim().parse::<usize>().ok());
        if let Some(n) = count.filter(|n| *n != records.len()) {
            return Err(ProviderError::Other(format!(
                "Salesforce's Bulk API results for job `{id}` said {n} records and held {}: run the command again",
                records.len()
            )));
        }
        t.bulk_read += records.len() as u64;
        tracing::info!(
            "Salesforce Bulk API job `{id}`: {} records read",
            t.bulk_read
        );
        t.next = locator.clone();
        Ok((records, locator.is_none(), locator))
    }
}

/// The records of a CSV answer, as JSON objects of text values (an empty value is none).
fn csv_records(body: &str) -> Result<Vec<Value>, ProviderError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body.as_bytes());
    let bad = |e: csv::Error| {
        ProviderError::Other(format!(
            "Salesforce sent Bulk API results crmsync cannot read: {e}"
        ))
    };
    let headers = reader.headers().map_err(bad)?.clone();
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(bad)?;
        let mut m = Map::new();
        for (name, value) in headers.iter().zip(row.iter()) {
            if !value.is_empty() {
                m.insert(name.to_string(), json!(value));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_results_read_as_records_without_empty_values() {
        let body = "\"Id\",\"LastName\",\"Email\"\n\"003A\",\"Lee, Jr\",\"\"\n\"003B\",\"Ng\",\"n@x.io\"\n";
        let r = csv_records(body).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], json!({ "Id": "003A", "LastName": "Lee, Jr" }));
        assert_eq!(r[1]["Email"], json!("n@x.io"));
        assert!(csv_records("").unwrap().is_empty());
    }
}
