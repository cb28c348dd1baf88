//! A minimal HTTP/1.1 server on `std::net`, shared by the sandboxes.
//!
//! tiny_http always answers a request it is handed (a dropped `Request` becomes a 500), but
//! the sandboxes must be able to *close a connection without answering* to imitate a network
//! failure. So the sandbox owns its socket handling: one accept thread, one thread per client
//! connection (clients keep a handful of keep-alive connections open, so this stays small),
//! `Content-Length` and chunked request bodies, keep-alive unless `Connection: close`.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bodies larger than this are refused; a 100-input batch is far below it.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One parsed request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Path without the query, percent-decoded per segment by [`HttpRequest::segments`].
    pub path: String,
    /// The raw target as sent (path and query), kept for the request log.
    pub target: String,
    pub query: Vec<(String, String)>,
    /// Header names are lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// First value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a query parameter, with comma lists split (HubSpot accepts both
    /// `properties=a,b` and `properties=a&properties=b`).
    pub fn query_list(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The user and password of `Authorization: Basic`.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        use base64::Engine as _;
        let encoded = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let pair = String::from_utf8(decoded).ok()?;
        let (user, password) = pair.split_once(':')?;
        Some((user.to_string(), password.to_string()))
    }

    /// Percent-decoded path segments, without empty ones.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect()
    }
}

/// One response to send.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        HttpResponse {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json;charset=utf-8".into(),
            )],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    pub fn empty(status: u16) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// What the handler wants done with a request.
pub enum Outcome {
    Respond(HttpResponse),
    /// Close the connection without writing anything.
    Drop,
}

pub type Handler = Arc<dyn Fn(HttpRequest) -> Outcome + Send + Sync>;

/// A running server; stops when [`HttpServer::stop`] is called or it is dropped.
pub struct HttpServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `127.0.0.1:port` (0 picks a free port) and serves `handler` in background threads.
    pub fn start(port: u16, handler: Handler) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let accept = std::thread::Builder::new()
            .name("sandbox-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let handler = Arc::clone(&handler);
                    let stop = Arc::clone(&stop);
                    let _ = std::thread::Builder::new()
                        .name("sandbox-conn".into())
                        .spawn(move || serve_connection(stream, handler, stop));
                }
            })?;
        Ok(HttpServer {
            addr,
            stopping,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting; open connections end at their next idle read.
    pub fn stop(&mut self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the blocking accept so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve_connection(stream: TcpStream, handler: Handler, stop: Arc<AtomicBool>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader, &stop) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(_) => {
                let _ = writer.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                break;
            }
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head = request.method == "HEAD";
        match handler(request) {
            Outcome::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Outcome::Respond(resp) => {
                if write_response(&mut writer, &resp, close, head).is_err() || close {
                    break;
                }
            }
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Reads one request; `Ok(None)` when the peer closed the connection or the server stops.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    stop: &AtomicBool,
) -> io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    // Wait for the request line, checking the stop flag between idle timeouts.
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(None),
            Ok(_) => {
                if line.trim().is_empty() {
                    line.clear();
                    continue;
                }
                break;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                if !line.is_empty() {
                    continue;
                }
            }
            Err(_) => return Ok(None),
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    if method.is_empty() || !target.starts_with('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        read_line_patiently(reader, &mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let mut size_line = String::new();
            read_line_patiently(reader, &mut size_line)?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if body.len() + size > MAX_BODY {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
            }
            let mut chunk = vec![0; size];
            read_exact_patiently(reader, &mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = String::new();
            read_line_patiently(reader, &mut crlf)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(len) = headers.get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        if len > MAX_BODY {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        body = vec![0; len];
        read_exact_patiently(reader, &mut body)?;
    }
    let (path, query_str) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let query = url::form_urlencoded::parse(query_str.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(Some(HttpRequest {
        method,
        path,
        target,
        query,
        headers,
        body,
    }))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn read_line_patiently(reader: &mut BufReader<TcpStream>, buf: &mut String) -> io::Result<()> {
    let mut idle = 0;
    loop {
        match reader.read_line(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) if buf.ends_with('\n') => return Ok(()),
            Ok(_) => {}
            Err(e) if is_timeout(&e) && idle < 60 => idle += 1,
            Err(e) => return Err(e),
        }
    }
}

fn read_exact_patiently(reader: &mut BufReader<TcpStream>, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    let mut idle = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if is_timeout(&e) && idle < 60 => idle += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn write_response(
    w: &mut TcpStream,
    resp: &HttpResponse,
    close: bool,
    head: bool,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head {
        bytes.extend_from_slice(&resp.body);
    }
    w.write_all(&bytes)?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        207 => "Multi-Status",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Decodes `%XX` escapes (and leaves `+` alone, as a path does).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}
