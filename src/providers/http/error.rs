//! Error text from what a request met: a body that is not the CRM's error JSON summarised
//! (an HTML page's title, a first line), a TLS certificate that is not trusted said in
//! words, and the root cause of a failed request.

/// The longest part of a body quoted in a message.
const QUOTE_CHARS: usize = 160;

/// A short description of a body that is not the CRM's error JSON: an HTML page's title (or
/// else the start of its text), or the first line of other text, cut to a readable length;
/// `None` for an empty body.
pub fn summarise_body(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let html = body.starts_with('<')
        && body[..body.len().min(512)]
            .to_ascii_lowercase()
            .contains("<html")
        || body[..body.len().min(64)]
            .to_ascii_lowercase()
            .starts_with("<!doctype html");
    if html {
        let text = html_text(body);
        return Some(if text.is_empty() {
            "an HTML page with no text".to_string()
        } else {
            format!("an HTML page saying \u{201c}{}\u{201d}", cut(&text))
        });
    }
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let more = if body.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        " (first line)"
    } else {
        ""
    };
    Some(format!("\u{201c}{}\u{201d}{more}", cut(line)))
}

/// `text` cut to [`QUOTE_CHARS`] characters, with `…` when cut.
fn cut(text: &str) -> String {
    let mut out: String = text.chars().take(QUOTE_CHARS).collect();
    if text.chars().count() > QUOTE_CHARS {
        out.push('\u{2026}');
    }
    out
}

/// The title of an HTML page, or else its visible text, white space collapsed.
fn html_text(page: &str) -> String {
    let lower = page.to_ascii_lowercase();
    if let Some(start) = lower.find("<title")
        && let Some(open_end) = lower[start..].find('>')
        && let Some(close) = lower[start..].find("</title")
    {
        let title = collapse(&strip_tags(&page[start + open_end + 1..start + close]));
        if !title.is_empty() {
            return title;
        }
    }
    let body = match lower.find("<body") {
        Some(i) => &page[i..],
        None => page,
    };
    collapse(&strip_tags(body))
}

/// `html` without its tags, scripts and styles, the common entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        let lower = rest[..rest.len().min(8)].to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            Some("</script")
        } else if lower.starts_with("<style") {
            Some("</style")
        } else {
            None
        };
        if let Some(end_tag) = skip_to
            && let Some(end) = rest.to_ascii_lowercase().find(end_tag)
        {
            rest = &rest[end..];
        }
        match rest.find('>') {
            Some(gt) => rest = &rest[gt + 1..],
            None => rest = "",
        }
        out.push(' ');
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// When `e` failed because the server's TLS certificate did not verify: a message saying so
/// in words, naming the host. Such a failure is permanent: no retry makes the certificate
/// trusted, and nothing (no token) was sent.
pub(super) fn untrusted_certificate(
    e: &(dyn std::error::Error + 'static),
    base_url: &str,
) -> Option<String> {
    let mut next = Some(e);
    let mut found = None;
    while let Some(err) = next {
        if let Some(tls) = tls_error(err) {
            found = Some(tls.clone());
            break;
        }
        next = err.source();
    }
    let why = match found? {
        rustls::Error::InvalidCertificate(c) => certificate_problem(&c),
        rustls::Error::InvalidCertRevocationList(_) => {
            "its revocation list could not be checked".to_string()
        }
        _ => return None,
    };
    let host = url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| base_url.to_string());
    Some(format!(
        "the server's certificate for {host} is not trusted ({why}), so nothing was sent to \
         it (not retried: a retry cannot make it trusted); check `base_url`, or, behind a \
         proxy that inspects TLS, add the proxy's certificate authority to the system's \
         trusted certificates"
    ))
}

/// The TLS error `e` is, or wraps as an I/O error: an I/O error shows the error it wraps but
/// does not list it as its source, and the TLS stack wraps its errors in I/O errors twice.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    tls_error(inner)
}

/// What is wrong with a certificate, in words.
fn certificate_problem(c: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match c {
        E::UnknownIssuer => {
            "it is not signed by an authority this computer trusts; a self-signed certificate is not".into()
        }
        E::Expired | E::ExpiredContext { .. } => "it has expired".into(),
        E::NotValidYet | E::NotValidYetContext { .. } => "it is not valid yet".into(),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "it was issued for another host name".into()
        }
        E::Revoked => "it has been revoked".into(),
        E::BadSignature | E::BadEncoding => "it is malformed or its signature is wrong".into(),
        E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
            "it is not meant for a web server".into()
        }
        E::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "it is a certificate authority's own certificate, used by the server as its \
             certificate, as self-signed certificates often are"
                .into()
        }
        other => format!("{other}"),
    }
}

/// `e`'s message, followed by that of the error at the bottom of its chain where that says
/// something more: reqwest's own message ("error sending request for url …") leaves out
/// whether the connection was refused, reset or not resolved.
pub(super) fn with_root_cause(e: &dyn std::error::Error) -> String {
    let top = e.to_string();
    let mut root = e.source();
    while let Some(next) = root.and_then(std::error::Error::source) {
        root = Some(next);
    }
    match root.map(ToString::to_string) {
        Some(cause) if !top.contains(&cause) => format!("{top} ({cause})"),
        _ => top,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_request_says_what_lies_at_the_bottom_of_it() {
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(
            super::with_root_cause(&Wrapped(refused)),
            "error sending request (connection refused)"
        );
        let plain = std::io::Error::other("broken pipe");
        assert_eq!(super::with_root_cause(&plain), "broken pipe");
    }
}
