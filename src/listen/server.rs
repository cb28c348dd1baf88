//! The HTTP side of `listen`: one path per connection (`/hooks/NAME`), each delivery verified,
//! read, queued in the state file, and only then answered 200. Nothing here waits for a CRM.
//!
//! Deliveries are read by [`READERS`] threads at once, each body within [`BODY_DEADLINE`], and
//! every read of the socket waits at most [`READ_TIMEOUT`] for bytes: a client that stalls
//! (a body shorter than its `Content-Length`, a connection opened and left) holds up one
//! reader for a few seconds, not the listener, whose URL is open to the internet.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::ListenReporter;
use super::parse::{self, Parsed};
use super::verify::{self, HubSpotRequest, Refusal};
use crate::clock::Clock;
use crate::store::{DeliveryEvents, Store};

/// The largest body taken (HubSpot sends at most 100 events a delivery).
const MAX_BODY: usize = 8 << 20;

/// How many deliveries are read and answered at once.
pub const READERS: usize = 8;

/// How long a delivery's body may take to arrive in full (Pipedrive gives up on a delivery
/// after 10 s, HubSpot after 5).
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// How long one read of a connection waits for bytes: set on the listening socket, whose
/// connections inherit it, so it bounds the reading of the request line and headers too, and
/// closes an idle kept-alive connection.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How one connection's deliveries are checked.
#[derive(Clone)]
pub enum Check {
    /// HubSpot's v3 signature with the app's client secret.
    HubSpot { secret: String },
    /// Pipedrive's HTTP Basic credentials set at subscription.
    Pipedrive { user: String, password: String },
    /// No secret is known: every delivery is refused (the listener says so on start).
    Missing,
}

/// One connection's webhooks.
#[derive(Clone)]
pub struct Hook {
    pub connection: String,
    pub check: Check,
    /// The source crmsync's own writes carry in this CRM's events (`listen.own_sources`).
    pub own: Option<String>,
}

/// A delivery as received.
pub struct Delivery<'a> {
    pub method: &'a str,
    /// Path and query, as in the request line.
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Delivery<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Verifies, reads and queues deliveries.
pub struct Receiver {
    pub hooks: HashMap<String, Hook>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// The URL the CRMs call (scheme, host, any path prefix), for HubSpot's signature; without
    /// it, `http://` and the request's `Host`.
    pub public_url: Option<String>,
    pub wake: Arc<Notify>,
    pub reporter: Arc<dyn ListenReporter>,
}

/// A status and a JSON body.
pub type Answer = (u16, String);

fn answer(status: u16, message: &str) -> Answer {
    let body = if status < 300 {
        serde_json::json!({"success": true, "message": message})
    } else {
        serde_json::json!({"success": false, "error": message})
    };
    (status, body.to_string())
}

impl Receiver {
    /// Handles one delivery: 200 once its events are queued, 401 when its check fails, 400
    /// when its body cannot be read, 404 for a path that is no connection's, 500 when the
    /// state file cannot take it (the CRM delivers it again).
    pub fn handle(&mut self, d: &Delivery<'_>) -> Answer {
        let checked = self.checker().check(d);
        self.take(vec![checked])
            .pop()
            .expect("one answer a delivery")
    }

    /// What checks deliveries, apart from the state file (any number of threads at once).
    fn checker(&self) -> Checker {
        Checker {
            hooks: self.hooks.clone(),
            clock: self.clock.clone(),
            public_url: self.public_url.clone(),
        }
    }

    /// Takes checked deliveries: the events of those that passed are queued (or dropped on
    /// arrival) in one transaction of the state file, the refusals kept. One answer each, in
    /// order.
    fn take(&mut self, checked: Vec<Result<Checked, Refused>>) -> Vec<Answer> {
        let now = self.clock.now();
        let mut answers: Vec<Option<Answer>> = vec![None; checked.len()];
        let (mut taken, mut deliveries): (Vec<usize>, Vec<DeliveryEvents>) = Default::default();
        // The account each connection's links are bound to (none before its first run).
        let mut bindings: HashMap<String, Option<String>> = HashMap::new();
        for (i, c) in checked.into_iter().enumerate() {
            let c = match c {
                Ok(c) => c,
                Err(Refused::Answer(a)) => {
                    answers[i] = Some(a);
                    continue;
                }
                Err(Refused::Kept {
                    connection,
                    status,
                    reason,
                }) => {
                    answers[i] = Some(self.refuse(&connection, status, &reason));
                    continue;
                }
            };
            let bound = match bindings.get(&c.connection) {
                Some(b) => b.clone(),
                None => match self.store.account_binding(&c.connection) {
                    Ok(b) => {
                        let b = b.map(|b| b.account);
                        bindings.insert(c.connection.clone(), b.clone());
                        b
                    }
                    Err(e) => {
                        tracing::warn!(
                            "a webhook delivery to `{}` could not be checked: {e}",
                            c.connection
                        );
                        answers[i] = Some(answer(500, "the state file cannot take the event now"));
                        continue;
                    }
                },
            };
            taken.push(i);
            deliveries.push(events_of(&c, bound.as_deref()));
        }
        if !taken.is_empty() {
            let outcome = match self.store.take_webhook_deliveries(&deliveries, now) {
                Ok(n) => {
                    if n > 0 {
                        self.wake.notify_one();
                    }
                    answer(200, "queued")
                }
                Err(e) => {
                    tracing::warn!("webhook deliveries could not be queued: {e}");
                    answer(500, "the state file cannot take the event now")
                }
            };
            for i in taken {
                answers[i] = Some(outcome.clone());
            }
        }
        answers
            .into_iter()
            .map(|a| a.expect("every delivery answered"))
            .collect()
    }

    fn refuse(&mut self, connection: &str, status: u16, reason: &str) -> Answer {
        tracing::info!("webhook delivery to `{connection}` refused: {reason}");
        self.reporter.refused(connection, reason);
        if let Err(e) = self
            .store
            .record_webhook_refusal(connection, reason, self.clock.now())
        {
            tracing::warn!("a refused webhook delivery could not be kept: {e}");
        }
        answer(status, reason)
    }
}

/// A delivery that passed its check, its events read.
struct Checked {
    connection: String,
    /// The source crmsync's own writes carry in this connection's events.
    own: Option<String>,
    parsed: Vec<Parsed>,
}

/// A delivery refused.
enum Refused {
    /// Answered so, and not kept (a path that is no connection's, a method not taken).
    Answer(Answer),
    /// Answered `status` and kept as a refusal of `connection`'s deliveries, for `status`.
    Kept {
        connection: String,
        status: u16,
        reason: String,
    },
}

/// A delivery's events as the state file takes them: those of another account than the
/// connection's `bound` one, and crmsync's own writes coming back, are kept as dropped.
fn events_of(c: &Checked, bound: Option<&str>) -> DeliveryEvents {
    let mut out = DeliveryEvents::default();
    let (mut own, mut elsewhere) = (Vec::new(), Vec::new());
    let mut other_account: Option<&str> = None;
    for p in &c.parsed {
        match (p.account.as_deref(), bound) {
            (Some(of), Some(bound)) if of != bound => {
                other_account.get_or_insert(of);
                elsewhere.push(p.event.clone());
            }
            _ if p.source.is_own(c.own.as_deref()) => own.push(p.event.clone()),
            _ => out.queue.push(p.event.clone()),
        }
    }
    if !own.is_empty() {
        out.dropped.push((own, "own write".to_string()));
    }
    if let (Some(of), Some(bound)) = (other_account, bound) {
        let note = format!("of account {of}, not {bound}, whose records this connection syncs");
        tracing::info!(
            "{} events to `{}` dropped: {note}",
            elsewhere.len(),
            c.connection
        );
        out.dropped.push((elsewhere, note));
    }
    out
}

/// Checks deliveries and reads their events, without the state file.
#[derive(Clone)]
struct Checker {
    hooks: HashMap<String, Hook>,
    clock: Arc<dyn Clock>,
    public_url: Option<String>,
}

impl Checker {
    /// Checks a delivery (its path, method and signature or credentials) and reads its
    /// events.
    fn check(&self, d: &Delivery<'_>) -> Result<Checked, Refused> {
        let path = d.url.split('?').next().unwrap_or_default();
        let Some(name) = path.strip_prefix("/hooks/") else {
            return Err(Refused::Answer(answer(404, "not found")));
        };
        let Some(hook) = self.hooks.get(name) else {
            return Err(Refused::Answer(answer(404, "no such connection")));
        };
        if d.method != "POST" {
            return Err(Refused::Answer(answer(405, "POST only")));
        }
        let refused = |status: u16, reason: String| Refused::Kept {
            connection: name.to_string(),
            status,
            reason,
        };
        let checked = match &hook.check {
            Check::HubSpot { secret } => {
                let uri = match &self.public_url {
                    Some(base) => format!("{}{}", base.trim_end_matches('/'), d.url),
                    None => format!("http://{}{}", d.header("Host").unwrap_or_default(), d.url),
                };
                let req = HubSpotRequest {
                    method: d.method,
                    uri: &uri,
                    body: d.body,
                    signature: d.header("X-HubSpot-Signature-v3"),
                    timestamp: d.header("X-HubSpot-Request-Timestamp"),
                };
                verify::check_hubspot(&req, secret, self.clock.now())
            }
            Check::Pipedrive { user, password } => {
                verify::check_basic(d.header("Authorization"), user, password)
            }
            Check::Missing => Err(Refusal::NoSecret),
        };
        if let Err(refusal) = checked {
            return Err(refused(401, refusal.to_string()));
        }
        let parsed = match &hook.check {
            Check::HubSpot { .. } => parse::hubspot_events(name, d.body),
            _ => parse::pipedrive_event(name, d.body).map(|p| p.into_iter().collect()),
        };
        match parsed {
            Ok(parsed) => Ok(Checked {
                connection: name.to_string(),
                own: hook.own.clone(),
                parsed,
            }),
            Err(e) => Err(refused(400, format!("unreadable body: {e}"))),
        }
    }
}

/// Listens on `bind:port` with [`READ_TIMEOUT`] on every connection.
pub fn bind(bind: &str, port: u16) -> std::io::Result<tiny_http::Server> {
    let listener = std::net::TcpListener::bind((bind, port))?;
    set_read_timeout(&listener, READ_TIMEOUT)?;
    tiny_http::Server::from_listener(listener, None).map_err(std::io::Error::other)
}

/// Sets `SO_RCVTIMEO` on the listening socket: the connections it accepts inherit it.
#[cfg(unix)]
fn set_read_timeout(listener: &std::net::TcpListener, timeout: Duration) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: the descriptor is the listener's, open for the call; the option value is a
    // `timeval` of the size given.
    let done = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere the body's deadline alone bounds a slow client (a read that never returns still
/// holds one reader).
#[cfg(not(unix))]
fn set_read_timeout(_: &std::net::TcpListener, _: Duration) -> std::io::Result<()> {
    Ok(())
}

/// The most deliveries taken in one transaction of the state file.
const GROUP: usize = 256;

/// Serves `server` until [`stop`] is called: [`READERS`] threads read and check deliveries,
/// and this one takes them into the state file, all those waiting in one transaction (a group
/// commit), and answers them.
pub fn serve(server: &tiny_http::Server, mut receiver: Receiver) {
    let checker = receiver.checker();
    let (send, checked) =
        std::sync::mpsc::channel::<(Result<Checked, Refused>, tiny_http::Request)>();
    std::thread::scope(|scope| {
        for _ in 0..READERS {
            let (send, checker) = (send.clone(), &checker);
            scope.spawn(move || {
                for request in server.incoming_requests() {
                    if send.send(read_and_check(checker, request)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        while let Ok(first) = checked.recv() {
            let mut group = vec![first];
            while group.len() < GROUP {
                match checked.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            let (outcomes, requests): (Vec<_>, Vec<_>) = group.into_iter().unzip();
            for ((status, text), request) in receiver.take(outcomes).into_iter().zip(requests) {
                let response = tiny_http::Response::from_string(text)
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes(
                            &b"Content-Type"[..],
                            &b"application/json"[..],
                        )
                        .expect("a valid header"),
                    );
                let _ = request.respond(response);
            }
        }
    });
}

/// Ends [`serve`]: each of its readers ends after the delivery in hand.
pub fn stop(server: &tiny_http::Server) {
    for _ in 0..READERS {
        server.unblock();
    }
}

/// Reads a delivery's body (by [`BODY_DEADLINE`]) and checks it.
fn read_and_check(
    checker: &Checker,
    mut request: tiny_http::Request,
) -> (Result<Checked, Refused>, tiny_http::Request) {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
        .collect();
    let outcome = match read_body(request.as_reader(), Instant::now() + BODY_DEADLINE) {
        Ok(body) => checker.check(&Delivery {
            method: request.method().as_str(),
            url: request.url(),
            headers: &headers,
            body: &body,
        }),
        Err(BodyError::TooLarge) => Err(Refused::Answer(answer(413, "the body is over 8 MiB"))),
        Err(BodyError::Slow) => Err(Refused::Answer(answer(
            408,
            "the body did not arrive in time",
        ))),
        Err(BodyError::Unreadable) => {
            Err(Refused::Answer(answer(400, "the body could not be read")))
        }
    };
    (outcome, request)
}

/// Why a body was not taken.
#[derive(Debug, PartialEq, Eq)]
enum BodyError {
    /// Over [`MAX_BODY`].
    TooLarge,
    /// Not in full by the deadline, or a read waited [`READ_TIMEOUT`] for nothing.
    Slow,
    /// The connection failed.
    Unreadable,
}

/// Reads a body whole, by `deadline`.
fn read_body(reader: &mut dyn Read, deadline: Instant) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(BodyError::Slow);
        }
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(body),
            Ok(n) if body.len() + n > MAX_BODY => return Err(BodyError::TooLarge),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(BodyError::Slow);
            }
            Err(_) => return Err(BodyError::Unreadable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    struct Silent;
    impl ListenReporter for Silent {
        fn listening(&self, _: &str, _: &[(String, String)]) {}
        fn refused(&self, _: &str, _: &str) {}
        fn applied(&self, _: usize, _: u64, _: u128) {}
        fn trouble(&self, _: &str) {}
    }

    const NOW: i64 = 1_700_000_000_000;

    fn receiver(dir: &std::path::Path) -> Receiver {
        let mut hooks = HashMap::new();
        hooks.insert(
            "hs".to_string(),
            Hook {
                connection: "hs".into(),
                check: Check::HubSpot {
                    secret: "sec".into(),
                },
                own: Some("app-1".into()),
            },
        );
        hooks.insert(
            "pd".to_string(),
            Hook {
                connection: "pd".into(),
                check: Check::Pipedrive {
                    user: "u".into(),
                    password: "p".into(),
                },
                own: None,
            },
        );
        Receiver {
            hooks,
            store: Store::open(&dir.join("state.db")).unwrap(),
            clock: Arc::new(FixedClock::new(NOW)),
            public_url: Some("https://crm.example.com/".into()),
            wake: Arc::new(Notify::new()),
            reporter: Arc::new(Silent),
        }
    }

    fn hubspot(r: &mut Receiver, body: &str, ts: i64, secret: &str) -> Answer {
        let ts = ts.to_string();
        let sig = verify::hubspot_v3_signature(
            secret,
            "POST",
            "https://crm.example.com/hooks/hs",
            body.as_bytes(),
            &ts,
        );
        let headers = vec![
            ("x-hubspot-signature-v3".to_string(), sig),
            ("X-HubSpot-Request-Timestamp".to_string(), ts),
        ];
        r.handle(&Delivery {
            method: "POST",
            url: "/hooks/hs",
            headers: &headers,
            body: body.as_bytes(),
        })
    }

    const HS_BODY: &str = r#"[{"eventId":5,"occurredAt":1,"subscriptionType":"contact.propertyChange","objectId":9,"changeSource":"CRM_UI"},
        {"eventId":6,"occurredAt":1,"subscriptionType":"contact.propertyChange","objectId":9,"changeSource":"INTEGRATION","sourceId":"app-1"}]"#;

    /// Sends `raw` on a new connection to `addr`; returns the connection.
    fn send(addr: std::net::SocketAddr, raw: &str) -> std::net::TcpStream {
        use std::io::Write as _;
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(raw.as_bytes()).unwrap();
        c
    }

    /// The status line of the answer on `c` (empty if it was closed without one).
    fn status_line(c: &mut std::net::TcpStream) -> String {
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut text = Vec::new();
        let _ = c.read_to_end(&mut text);
        String::from_utf8_lossy(&text)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn stalled_clients_hold_up_neither_other_deliveries_nor_a_reader_for_long() {
        let dir = tempfile::tempdir().unwrap();
        let server = Arc::new(bind("127.0.0.1", 0).unwrap());
        let addr = server.server_addr().to_ip().unwrap();
        let serving = {
            let (server, receiver) = (server.clone(), receiver(dir.path()));
            std::thread::spawn(move || serve(&server, receiver))
        };
        // A body shorter than its length says (over 1 KiB: smaller ones tiny_http reads
        // itself, under the same read timeout), the connection left open; and a connection
        // that sends nothing at all.
        let mut short = send(
            addr,
            "POST /hooks/hs HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n[{\"eventId\"",
        );
        let mut silent = send(addr, "");
        // Another delivery is answered meanwhile.
        let mut other = send(
            addr,
            "POST /hooks/nobody HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
        );
        assert!(status_line(&mut other).contains("404"));
        // ... while the short one is still waited for: another reader answered it.
        short.set_nonblocking(true).unwrap();
        let waiting = short.peek(&mut [0u8; 1]);
        assert!(
            waiting.is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "the short delivery is not answered yet"
        );
        short.set_nonblocking(false).unwrap();
        // The stalled ones are let go: the short body answered 408, the silent connection
        // closed; nothing was queued.
        let line = status_line(&mut short);
        assert!(line.contains("408"), "{line:?}");
        assert_eq!(status_line(&mut silent), "");
        stop(&server);
        serving.join().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        assert_eq!(store.webhook_stats(NOW).unwrap().queued, 0);
    }

    #[test]
    fn a_body_over_the_limit_is_refused_for_its_size_and_a_whole_one_is_read() {
        let big = vec![b'x'; MAX_BODY + 1];
        let deadline = Instant::now() + BODY_DEADLINE;
        assert_eq!(read_body(&mut &big[..], deadline), Err(BodyError::TooLarge));
        let whole = vec![b'x'; MAX_BODY];
        assert_eq!(
            read_body(&mut &whole[..], deadline).unwrap().len(),
            MAX_BODY
        );
    }

    #[test]
    fn deliveries_taken_together_are_answered_each_for_itself() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = receiver(dir.path());
        let checker = r.checker();
        let signed = |body: &str| {
            let ts = NOW.to_string();
            let sig = verify::hubspot_v3_signature(
                "sec",
                "POST",
                "https://crm.example.com/hooks/hs",
                body.as_bytes(),
                &ts,
            );
            vec![
                ("x-hubspot-signature-v3".to_string(), sig),
                ("X-HubSpot-Request-Timestamp".to_string(), ts),
            ]
        };
        let event = |id: u32| {
            format!(
                r#"[{{"eventId":{id},"occurredAt":1,"subscriptionType":"contact.propertyChange","objectId":9,"changeSource":"CRM_UI"}}]"#
            )
        };
        let (one, two) = (event(1), event(2));
        let (h1, h2) = (signed(&one), signed(&two));
        // The third is signed but sent without its timestamp.
        let three = event(3);
        let untimed = signed(&three)[..1].to_vec();
        fn delivery<'d>(
            url: &'d str,
            headers: &'d [(String, String)],
            body: &'d str,
        ) -> Delivery<'d> {
            Delivery {
                method: "POST",
                url,
                headers,
                body: body.as_bytes(),
            }
        }
        let group = vec![
            checker.check(&delivery("/hooks/hs", &h1, &one)),
            checker.check(&delivery("/hooks/hs", &untimed, &three)),
            checker.check(&delivery("/elsewhere", &h1, &one)),
            checker.check(&delivery("/hooks/hs", &h2, &two)),
        ];
        let statuses: Vec<u16> = r.take(group).into_iter().map(|(s, _)| s).collect();
        assert_eq!(statuses, vec![200, 401, 404, 200]);
        let st = r.store.webhook_stats(NOW).unwrap();
        assert_eq!((st.queued, st.refused), (2, 1));
    }

    #[test]
    fn a_signed_delivery_is_queued_once_and_own_writes_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = receiver(dir.path());
        assert_eq!(hubspot(&mut r, HS_BODY, NOW, "sec").0, 200);
        assert_eq!(hubspot(&mut r, HS_BODY, NOW, "sec").0, 200);
        let q = r.store.queued_webhook_events(10).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].event.event_id, "5");
        let st = r.store.webhook_stats(NOW).unwrap();
        assert_eq!((st.queued, st.dropped, st.refused), (1, 1, 0));
    }

    #[test]
    fn events_of_another_account_than_the_connections_are_dropped_not_queued() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = receiver(dir.path());
        // Before the connection's first run binds its account, every event is queued.
        let portal = |event: u32, portal: u32| {
            format!(
                r#"[{{"eventId":{event},"portalId":{portal},"occurredAt":1,"subscriptionType":"contact.propertyChange","objectId":9,"changeSource":"CRM_UI"}}]"#
            )
        };
        assert_eq!(hubspot(&mut r, &portal(1, 999), NOW, "sec").0, 200);
        assert_eq!(r.store.webhook_stats(NOW).unwrap().queued, 1);
        r.store.bind_account("hs", "hubspot", "62515").unwrap();
        r.store.bind_account("pd", "pipedrive", "5501").unwrap();
        // Signed with the app's secret (a public app installed in two portals), but of
        // another portal: answered 200, so that HubSpot does not send it again, and dropped.
        assert_eq!(hubspot(&mut r, &portal(2, 999), NOW, "sec").0, 200);
        assert_eq!(hubspot(&mut r, &portal(3, 62515), NOW, "sec").0, 200);
        let st = r.store.webhook_stats(NOW).unwrap();
        assert_eq!((st.queued, st.dropped), (2, 1));
        let queued: Vec<String> = r
            .store
            .queued_webhook_events(10)
            .unwrap()
            .into_iter()
            .map(|e| e.event.event_id)
            .collect();
        assert_eq!(queued, ["1", "3"]);
        // Pipedrive's `meta.company_id` likewise.
        let good = vec![(
            "authorization".to_string(),
            verify::basic_auth_header("u", "p"),
        )];
        for (id, company) in [("a", "7"), ("b", "5501")] {
            let body = format!(
                r#"{{"meta":{{"action":"change","entity":"person","entity_id":"1","id":"{id}","company_id":"{company}","timestamp":"2026-01-01T00:00:00Z"}},"data":{{"id":1}}}}"#
            );
            let d = Delivery {
                method: "POST",
                url: "/hooks/pd",
                headers: &good,
                body: body.as_bytes(),
            };
            assert_eq!(r.handle(&d).0, 200);
        }
        let st = r.store.webhook_stats(NOW).unwrap();
        assert_eq!((st.queued, st.dropped), (3, 2));
    }

    #[test]
    fn refused_deliveries_queue_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = receiver(dir.path());
        assert_eq!(hubspot(&mut r, HS_BODY, NOW, "wrong").0, 401);
        assert_eq!(hubspot(&mut r, HS_BODY, NOW - 301_000, "sec").0, 401);
        assert_eq!(hubspot(&mut r, "{}", NOW, "sec").0, 400);
        let pd = br#"{"meta":{"action":"change","entity":"person","entity_id":"1","id":"a","timestamp":"2026-01-01T00:00:00Z"},"data":{"id":1}}"#;
        let bad = vec![(
            "Authorization".to_string(),
            verify::basic_auth_header("u", "nope"),
        )];
        let d = Delivery {
            method: "POST",
            url: "/hooks/pd",
            headers: &bad,
            body: pd,
        };
        assert_eq!(r.handle(&d).0, 401);
        let other = Delivery {
            method: "POST",
            url: "/hooks/sf",
            headers: &bad,
            body: pd,
        };
        assert_eq!(r.handle(&other).0, 404);
        assert_eq!(r.store.webhook_stats(NOW).unwrap().queued, 0);
        assert_eq!(r.store.webhook_stats(NOW).unwrap().refused, 4);
        let good = vec![(
            "authorization".to_string(),
            verify::basic_auth_header("u", "p"),
        )];
        let d = Delivery {
            method: "POST",
            url: "/hooks/pd?x=1",
            headers: &good,
            body: pd,
        };
        assert_eq!(r.handle(&d).0, 200);
        assert_eq!(r.store.webhook_stats(NOW).unwrap().queued, 1);
    }
}
