//! Tables for people (comfy-table), plain when colour is off.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};

use super::Output;

/// A table with a header row, drawn to suit the terminal.
pub fn table(out: &Output, header: &[&str]) -> Table {
    let mut t = Table::new();
    if out.color {
        t.load_style(UTF8_BORDERS_ONLY);
    } else {
        t.load_style(comfy_table::presets::NOTHING);
    }
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.iter().map(|h| h.to_uppercase()));
    t
}

/// `—` for an absent value.
pub fn or_dash(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "—".to_string(),
    }
}
