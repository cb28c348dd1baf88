//! How errors are drawn: what failed, why (the chain), and what to do (the hint
//! [`crate::error::hint_for`] finds).

/// Renders an error for stderr:
///
/// ```text
/// error: HubSpot rejected the credentials for connection `acme`
///   caused by: 401 Unauthorized
///
/// hint: run `crmsync connect hubspot --name acme` to sign in again
/// ```
pub fn render(err: &anyhow::Error, color: bool) -> String {
    let mut s = String::new();
    let label = if color {
        "\x1b[1;31merror:\x1b[0m"
    } else {
        "error:"
    };
    s.push_str(&format!("{label} {err}\n"));
    let mut last = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        // Errors that repeat their source in their own message add nothing.
        if !last.contains(&text) {
            s.push_str(&format!("  caused by: {text}\n"));
        }
        last = text;
    }
    if let Some(hint) = crate::error::hint_for(err) {
        let label = if color {
            "\x1b[1;36mhint:\x1b[0m"
        } else {
            "hint:"
        };
        s.push_str(&format!("\n{label} {hint}\n"));
    }
    s
}
