//! A scripted HTTP server on 127.0.0.1 for the provider tests: each request is logged as it
//! came and answered by the test's handler.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub auth: Option<String>,
    /// The `x-api-token` header (Pipedrive's API token).
    pub api_token: Option<String>,
    /// Every header, its name in lower case.
    pub headers: BTreeMap<String, String>,
    /// The address the request came from (one a connection).
    pub peer: Option<std::net::SocketAddr>,
    pub body: Value,
    /// The body as sent (a form, where `body` is JSON only).
    pub text: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A write of `props` to the record `remote` (a create when `None`) for local record `local`.
pub fn remote_write(
    local: &str,
    remote: Option<&str>,
    props: &[(&str, &str)],
) -> crmsync::providers::RemoteWrite {
    crmsync::providers::RemoteWrite {
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

/// An HTTP `Date` header value for epoch ms.
pub fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

pub fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: if body.is_null() {
            String::new()
        } else {
            body.to_string()
        },
    }
}

impl Answer {
    pub fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }
}

pub type Handler = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

/// A scripted server: `handler` gets each request and its index.
pub struct Fake {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fake {
    pub fn start(handler: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Fake {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Box<Handler> = Box::new(handler);
        let (s, log) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for mut rq in s.incoming_requests() {
                let url = url::Url::parse(&format!("http://x{}", rq.url())).expect("url");
                let mut body = String::new();
                rq.as_reader().read_to_string(&mut body).expect("body");
                let auth = rq
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string());
                let api_token = rq
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("x-api-token"))
                    .map(|h| h.value.to_string());
                let headers = rq
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.to_string().to_ascii_lowercase(),
                            h.value.to_string(),
                        )
                    })
                    .collect();
                let req = Seen {
                    method: rq.method().to_string(),
                    path: url.path().to_string(),
                    query: url.query_pairs().into_owned().collect(),
                    auth,
                    api_token,
                    headers,
                    peer: rq.remote_addr().copied(),
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                    text: body.clone(),
                };
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(req.clone());
                    l.len() - 1
                };
                let a = handler(&req, n);
                let mut resp = tiny_http::Response::from_string(a.body)
                    .with_status_code(a.status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                for (k, v) in a.headers {
                    resp.add_header(tiny_http::Header::from_bytes(k, v).unwrap());
                }
                let _ = rq.respond(resp);
            }
        });
        Fake {
            url: format!("http://127.0.0.1:{port}"),
            seen,
            server,
            thread: Some(thread),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
