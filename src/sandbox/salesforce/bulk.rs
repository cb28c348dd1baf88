//! Bulk API 2.0 query jobs (Bulk API 2.0 Developer Guide, "Query Jobs"):
//!
//! * `POST jobs/query` `{operation: "query"|"queryAll", query, contentType?, columnDelimiter?,
//!   lineEnding?}`: 200 with the job, state `UploadComplete`;
//! * `GET jobs/query/{id}`: the job; each poll moves it on, `UploadComplete` → `InProgress`
//!   → `JobComplete` after `bulk_polls` polls (the sandbox's stand-in for the time a real
//!   job takes). The rows are taken when it completes, as they are then;
//! * `GET jobs/query/{id}/results?maxRecords=N&locator=L`: CSV, a header of the selected
//!   fields, every value quoted, null as empty, datetimes as `2024-05-01T10:00:00.000Z`;
//!   `Sforce-NumberOfRecords` is the rows in this set, `Sforce-Locator` the locator of the
//!   next set or the string `null` after the last. Without `maxRecords` a set holds every
//!   row left (the guide bounds a set only by size);
//! * `DELETE jobs/query/{id}`: 204.
//!
//! The SOQL is parsed when the job is created, and refused then as a REST query would be
//! (unconfirmed: Bulk may accept a job and fail it later). `COUNT()` is refused with
//! `INVALIDJOB`; only `COMMA` delimiters and `CSV` content are served.

use base64::Engine as _;
use serde_json::{Value, json};

use super::catalogue::{Obj, Type};
use super::errors::SfError;
use super::query::{self, Rows};
use super::sobjects::body_object;
use super::soql::{self, Query};
use super::store::{Org, sf_time};
use crate::sandbox::http::{HttpRequest, HttpResponse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    UploadComplete,
    InProgress,
    JobComplete,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::UploadComplete => "UploadComplete",
            State::InProgress => "InProgress",
            State::JobComplete => "JobComplete",
        }
    }
}

#[derive(Debug)]
pub struct Job {
    id: String,
    obj: Obj,
    all: bool,
    query: Query,
    line_ending: String,
    version: String,
    created_ms: i64,
    modstamp_ms: i64,
    state: State,
    polls: u32,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn invalid_job(message: impl Into<String>) -> SfError {
    SfError::new(400, "INVALIDJOB", message)
}

fn job_json(org: &Org, job: &Job, full: bool) -> Value {
    let mut v = json!({
        "id": job.id, "operation": if job.all { "queryAll" } else { "query" },
        "object": job.obj.name(), "createdById": org.user_id,
        "createdDate": sf_time(job.created_ms), "systemModstamp": sf_time(job.modstamp_ms),
        "state": job.state.name(), "concurrencyMode": "Parallel", "contentType": "CSV",
        "apiVersion": job.version.parse::<f64>().unwrap_or(62.0),
        "lineEnding": job.line_ending, "columnDelimiter": "COMMA",
    });
    if full {
        v["jobType"] = json!("V2Query");
        v["numberRecordsProcessed"] = json!(job.rows.len());
        v["retries"] = json!(0);
        v["totalProcessingTime"] = json!(0);
        v["isPkChunkingSupported"] = json!(true);
    }
    v
}

/// `POST jobs/query`.
pub fn create(
    org: &mut Org,
    now: i64,
    req: &HttpRequest,
    version: &str,
) -> Result<HttpResponse, SfError> {
    let body = body_object(req)?;
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    let all = match text("operation") {
        Some("query") => false,
        Some("queryAll") => true,
        other => {
            return Err(invalid_job(format!(
                "Invalid operation: {}",
                other.unwrap_or("(none)")
            )));
        }
    };
    if text("contentType").is_some_and(|c| c != "CSV") {
        return Err(invalid_job("Only CSV content is supported"));
    }
    if text("columnDelimiter").is_some_and(|c| c != "COMMA") {
        return Err(invalid_job(
            "The sandbox serves only the COMMA column delimiter",
        ));
    }
    let line_ending = match text("lineEnding").unwrap_or("LF") {
        e @ ("LF" | "CRLF") => e.to_string(),
        e => return Err(invalid_job(format!("Invalid lineEnding: {e}"))),
    };
    let soql = text("query").ok_or_else(|| invalid_job("query is required"))?;
    let query = soql::parse(soql)?;
    if query.count {
        return Err(invalid_job(
            "COUNT() is not supported in a Bulk API 2.0 query",
        ));
    }
    // Checks the fields and the object now, as a REST query would.
    query::run(
        org,
        &Query {
            limit: Some(0),
            ..query.clone()
        },
        version,
        all,
        now,
    )?;
    let obj = Obj::parse(&query.object).expect("the query ran, so the object exists");
    let job = Job {
        id: org.new_id("750"),
        obj,
        all,
        query,
        line_ending,
        version: version.to_string(),
        created_ms: now,
        modstamp_ms: now,
        state: State::UploadComplete,
        polls: 0,
        header: Vec::new(),
        rows: Vec::new(),
    };
    let answer = job_json(org, &job, false);
    org.jobs.insert(job.id.clone(), job);
    Ok(HttpResponse::json(200, &answer))
}

fn job_of<'a>(org: &'a mut Org, id: &str) -> Result<&'a mut Job, SfError> {
    org.jobs
        .get_mut(id)
        .ok_or_else(|| SfError::new(404, "NOT_FOUND", "The requested resource does not exist"))
}

/// `GET jobs/query/{id}`: the job, moved on by one poll.
pub fn poll(
    org: &mut Org,
    now: i64,
    id: &str,
    polls_to_complete: u32,
) -> Result<HttpResponse, SfError> {
    let job = job_of(org, id)?;
    if job.state != State::JobComplete {
        job.polls += 1;
        job.modstamp_ms = now;
        job.state = State::InProgress;
        if job.polls >= polls_to_complete {
            complete(org, id, now)?;
        }
    }
    let job = &org.jobs[id];
    Ok(HttpResponse::json(200, &job_json(org, job, true)))
}

/// Runs a job's query and keeps its rows as CSV cells.
fn complete(org: &mut Org, id: &str, now: i64) -> Result<(), SfError> {
    let job = &org.jobs[id];
    let (obj, version) = (job.obj, job.version.clone());
    let Rows::Records(rows) = query::run(org, &job.query, &version, job.all, now)? else {
        return Err(invalid_job(
            "COUNT() is not supported in a Bulk API 2.0 query",
        ));
    };
    // (path as the header names it, its field's type, the keys to read it by)
    let columns: Vec<(String, Type, Vec<String>)> = job
        .query
        .fields
        .iter()
        .map(|path| match path.as_slice() {
            [name] => {
                let f = org.field(obj, name).expect("checked when the job was made");
                (f.name.clone(), f.ty, vec![f.name.clone()])
            }
            [rel, name] => {
                let reference = org
                    .fields(obj)
                    .iter()
                    .find(|f| f.relationship.is_some_and(|r| r.eq_ignore_ascii_case(rel)))
                    .expect("checked when the job was made");
                let rel = reference.relationship.unwrap_or_default().to_string();
                let f = org.field(reference.reference_to[0], name).expect("checked");
                (format!("{rel}.{}", f.name), f.ty, vec![rel, f.name.clone()])
            }
            _ => unreachable!("the parser reads one relationship level"),
        })
        .collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(_, ty, keys)| {
                    let v = keys.iter().fold(row, |v, k| &v[k.as_str()]);
                    match (v, ty) {
                        (Value::Null, _) => String::new(),
                        (Value::String(s), Type::DateTime) => s.replace("+0000", "Z"),
                        (Value::String(s), _) => s.clone(),
                        (other, _) => other.to_string(),
                    }
                })
                .collect()
        })
        .collect();
    let job = org.jobs.get_mut(id).expect("the job being completed");
    job.header = columns.into_iter().map(|(h, _, _)| h).collect();
    job.rows = cells;
    job.state = State::JobComplete;
    job.modstamp_ms = now;
    Ok(())
}

fn csv_line(cells: &[String], end: &str) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    format!("{}{end}", quoted.join(","))
}

/// `GET jobs/query/{id}/results`.
pub fn results(org: &mut Org, id: &str, req: &HttpRequest) -> Result<HttpResponse, SfError> {
    let job = job_of(org, id)?;
    if job.state != State::JobComplete {
        return Err(SfError::new(
            400,
            "INVALIDJOBSTATE",
            format!("Job {id} is not complete: {}", job.state.name()),
        ));
    }
    let bad_locator = || SfError::new(400, "INVALIDLOCATOR", "Invalid locator");
    let start: usize = match req.query_param("locator").filter(|l| !l.is_empty()) {
        None => 0,
        Some(l) => base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(l.trim_end_matches('='))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .filter(|n| *n <= job.rows.len())
            .ok_or_else(bad_locator)?,
    };
    let max = match req.query_param("maxRecords") {
        None => usize::MAX,
        Some(m) => m.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            SfError::new(
                400,
                "INVALIDPARAMETER",
                "maxRecords must be a positive integer",
            )
        })?,
    };
    let end = start.saturating_add(max).min(job.rows.len());
    let eol = if job.line_ending == "CRLF" {
        "\r\n"
    } else {
        "\n"
    };
    let mut out = csv_line(&job.header, eol);
    for row in &job.rows[start..end] {
        out.push_str(&csv_line(row, eol));
    }
    let next = if end < job.rows.len() {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(end.to_string())
    } else {
        "null".to_string()
    };
    Ok(HttpResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "text/csv".into())],
        body: out.into_bytes(),
    }
    .with_header("Sforce-Locator", next)
    .with_header("Sforce-NumberOfRecords", (end - start).to_string()))
}

/// `DELETE jobs/query/{id}`.
pub fn delete(org: &mut Org, id: &str) -> Result<HttpResponse, SfError> {
    job_of(org, id)?;
    org.jobs.remove(id);
    Ok(HttpResponse::empty(204))
}
