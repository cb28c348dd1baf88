//! The Salesforce sandbox over real HTTP: every endpoint it serves, with each JSON answer
//! checked against a JSON Schema fixture written from the REST API and Bulk API 2.0
//! developer guides' field lists (`tests/fixtures/salesforce/`, each naming its source in
//! `description`; `common.json`'s `$defs` are merged into each). [`fixture_for`] names the
//! fixture of every route, so an answer the sandbox adds without a fixture fails.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod bulk;
mod collections;
mod crm;
mod opportunity;
mod query;
mod records;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use crmsync::sandbox::salesforce::{SalesforceOptions, SalesforceSandbox};
use serde_json::{Value, json};

pub const V: &str = "62.0";

fn fixtures() -> &'static BTreeMap<String, Value> {
    static DOCS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/salesforce");
        let mut docs = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).expect("the fixture dir") {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let doc: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            docs.insert(
                path.file_name().unwrap().to_string_lossy().into_owned(),
                doc,
            );
        }
        docs
    })
}

/// The complaints of fixture `file` about `body`.
pub fn schema_errors(file: &str, body: &Value) -> Vec<String> {
    let docs = fixtures();
    let mut schema = docs
        .get(file)
        .unwrap_or_else(|| panic!("no fixture `{file}`"))
        .clone();
    schema["$defs"] = docs["common.json"]["$defs"].clone();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap_or_else(|e| panic!("`{file}` does not compile: {e}"));
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The fixture of an answer: by route and status. `None` for answers without a body.
pub fn fixture_for(method: &str, path: &str, status: u16) -> Option<&'static str> {
    if matches!(status, 204 | 302) || path.ends_with("/results") && status == 200 {
        return None;
    }
    if let Some(rest) = path.strip_prefix("/services/oauth2/") {
        return Some(match (rest, status) {
            ("token", 200) => "token-response.json",
            ("revoke", 200) => return None,
            _ => "oauth-error.json",
        });
    }
    if status == 300 {
        return Some("multiple-choices.json");
    }
    if status >= 400 {
        return Some("error-array.json");
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segs.as_slice() {
        ["services", "data"] => return Some("versions.json"),
        ["services", "data", _, rest @ ..] => rest,
        _ => panic!("no fixture for {method} {path} {status}"),
    };
    Some(match (method, rest) {
        ("GET", []) => "resources.json",
        ("GET", ["limits"]) => "limits.json",
        ("GET", ["sobjects"]) => "describe-global.json",
        ("GET", ["sobjects", _]) => "basic-info.json",
        ("POST", ["sobjects", _]) => "save-result.json",
        ("GET", ["sobjects", _, "describe"]) => "describe.json",
        ("GET", ["sobjects", _, "updated"]) => "updated.json",
        ("GET", ["sobjects", _, "deleted"]) => "deleted.json",
        ("GET", ["sobjects", _, _] | ["sobjects", _, _, _]) => "record.json",
        ("PATCH", ["sobjects", _, _, _]) => "save-result.json",
        ("GET", ["query" | "queryAll", ..]) => "query-result.json",
        (_, ["composite", "sobjects", ..]) => "save-results.json",
        ("POST", ["tooling", "sobjects", "CustomField"]) => "tooling-save-result.json",
        ("POST", ["jobs", "query"]) | ("GET", ["jobs", "query", _]) => "bulk-job.json",
        _ => panic!("no fixture for {method} {path} {status}"),
    })
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `errorCode` of a REST error answer.
    pub fn code(&self) -> &str {
        self.body[0]["errorCode"].as_str().unwrap_or_default()
    }
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    })
}

/// A sandbox org and a session on it.
pub struct Org {
    pub sb: SalesforceSandbox,
    pub token: String,
}

impl Org {
    pub fn start() -> Org {
        Org::with(SalesforceOptions::default())
    }

    pub fn with(opts: SalesforceOptions) -> Org {
        let sb = SalesforceSandbox::start(opts).unwrap();
        let (token, _) = sb.mint_token();
        Org { sb, token }
    }

    /// `/services/data/v62.0/{rest}`.
    pub fn api(rest: &str) -> String {
        format!("/services/data/v{V}/{rest}")
    }

    /// One call with the session, checked against its fixture.
    pub fn call(&self, method: &str, target: &str, body: Option<Value>) -> Resp {
        self.send(method, target, body, &[])
    }

    pub fn get(&self, target: &str) -> Resp {
        self.call("GET", target, None)
    }

    /// One call with the session and extra headers.
    pub fn send(
        &self,
        method: &str,
        target: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let token = self.token.clone();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        exchange(&self.sb, method, target, move |mut rb| {
            rb = rb.bearer_auth(token);
            for (k, v) in headers {
                rb = rb.header(k, v);
            }
            if let Some(b) = body {
                rb = rb.json(&b);
            }
            rb
        })
    }

    /// A record as the admin API shows it.
    pub fn record(&self, id: &str) -> Value {
        let dump = self.sb.dump();
        dump.as_object()
            .unwrap()
            .values()
            .flat_map(|v| v.as_array().unwrap().iter())
            .find(|r| r["Id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("no record {id}"))
    }
}

/// One call made by `build`; a JSON answer is checked against its route's fixture.
pub fn exchange(
    sb: &SalesforceSandbox,
    method: &str,
    target: &str,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Resp {
    let path = target.split('?').next().unwrap_or(target).to_string();
    let url = format!("{}{target}", sb.base_url());
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let rb = build(client().request(m, url));
    let (status, headers, text) = runtime().block_on(async move {
        let r = rb.send().await.expect("the sandbox answers");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    });
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !path.starts_with("/_sandbox") {
        match fixture_for(method, &path, status) {
            Some(file) => {
                let errors = schema_errors(file, &body);
                assert!(
                    errors.is_empty(),
                    "{method} {target} {status} does not match `{file}`:\n  {}\nbody: {text}",
                    errors.join("\n  ")
                );
            }
            None => assert!(
                text.is_empty() || path.ends_with("/results") || status == 302,
                "{method} {target} {status} answered a body: {text}"
            ),
        }
    }
    Resp {
        status,
        headers,
        text,
        body,
    }
}

#[test]
fn every_fixture_compiles_and_names_its_source() {
    for (file, doc) in fixtures() {
        assert!(
            doc["description"].as_str().is_some_and(|d| !d.is_empty()),
            "`{file}` names no source"
        );
        if file != "common.json" {
            schema_errors(file, &Value::Null);
        }
    }
    assert!(
        !schema_errors(
            "error-array.json",
            &json!([{"message": "m", "errorCode": "lower"}])
        )
        .is_empty(),
        "the fixtures refuse what they should"
    );
}
