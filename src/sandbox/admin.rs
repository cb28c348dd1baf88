//! The admin API under [`ADMIN_PREFIX`](crate::sandbox::ADMIN_PREFIX) that every sandbox
//! serves: the request log, the clock and the faults. No auth, no faults, not logged. A CRM's
//! own admin calls ([`CrmApi::admin`]) are tried after these.
//!
//! | method & path | body | answer |
//! |---|---|---|
//! | `GET`/`DELETE /_sandbox/requests` | | the request log / clear it |
//! | `GET /_sandbox/clock`, `POST /_sandbox/clock` | `{set_ms}` or `{advance_ms}`, and/or `{freeze: bool}` | `{now_ms, now, frozen}` |
//! | `GET`/`PUT /_sandbox/faults` | [`FaultOptions`] | the options |
//!
//! Admin errors answer `{"error": message}`.

use serde_json::{Value, json};

use crate::sandbox::base::{Core, CrmApi};
use crate::sandbox::fault::FaultOptions;
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::iso_ms;

/// An admin error: `{"error": message}`.
pub fn admin_error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"error": message}))
}

/// The JSON body of an admin call; an empty body reads as `{}`.
pub fn body_json(req: &HttpRequest) -> Result<Value, HttpResponse> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| admin_error(400, &format!("body is not valid JSON: {e}")))
}

pub fn handle<A: CrmApi>(core: &Core<A>, req: &HttpRequest) -> HttpResponse {
    let segs = req.segments();
    let segs: Vec<&str> = segs.iter().skip(1).map(String::as_str).collect();
    let shared = match shared_routes(core, req, &segs) {
        Ok(answer) => answer,
        Err(refused) => return refused,
    };
    shared
        .or_else(|| A::admin(core, req, &segs))
        .unwrap_or_else(|| {
            admin_error(
                404,
                &format!("no admin route for {} {}", req.method, req.path),
            )
        })
}

fn shared_routes<A: CrmApi>(
    core: &Core<A>,
    req: &HttpRequest,
    segs: &[&str],
) -> Result<Option<HttpResponse>, HttpResponse> {
    let ok = |v: Value| HttpResponse::json(200, &v);
    Ok(Some(match (req.method.as_str(), segs) {
        ("GET", ["requests"]) => ok(serde_json::to_value(core.request_log()).unwrap_or_default()),
        ("DELETE", ["requests"]) => {
            core.clear_request_log();
            HttpResponse::empty(204)
        }
        ("GET", ["clock"]) => ok(clock_json(core)),
        ("POST", ["clock"]) => {
            let b = body_json(req)?;
            if let Some(ms) = b.get("set_ms").and_then(Value::as_i64) {
                core.clock.set_ms(ms);
            } else if let Some(ms) = b.get("advance_ms").and_then(Value::as_i64) {
                core.clock.advance_ms(ms);
            } else if b.get("freeze").is_none() {
                return Err(admin_error(400, "give `set_ms`, `advance_ms` or `freeze`"));
            }
            if let Some(frozen) = b.get("freeze").and_then(Value::as_bool) {
                core.clock.freeze(frozen);
            }
            ok(clock_json(core))
        }
        ("GET", ["faults"]) => ok(serde_json::to_value(core.fault_options()).unwrap_or_default()),
        ("PUT", ["faults"]) => {
            let f: FaultOptions = serde_json::from_value(body_json(req)?)
                .map_err(|e| admin_error(400, &format!("invalid fault options: {e}")))?;
            core.set_faults(f.clone());
            ok(serde_json::to_value(f).unwrap_or_default())
        }
        _ => return Ok(None),
    }))
}

fn clock_json<A: CrmApi>(core: &Core<A>) -> Value {
    let now = core.clock.now_ms();
    json!({"now_ms": now, "now": iso_ms(now), "frozen": core.clock.is_frozen()})
}
