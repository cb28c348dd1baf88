//! crmsync's benchmarks, one command for all: `cargo bench --bench bench`
//! (or `cargo bench --bench bench -- SECTION…` for some of them).
//!
//! Each section prints its figures and the target it is measured against; nothing here
//! asserts, so a missed target is reported, never hidden.

/// The allocator the crmsync binary uses (see `src/main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod hubspot_activities;
mod hubspot_deals;
mod import;
mod listen;
mod pipedrive;
mod plan;
mod salesforce;
mod sync;

fn main() {
    // The import section measures peak memory in a child process of this binary.
    if import::child_main_if_requested() {
        return;
    }
    // The e2e100k section measures the crmsync binary's peak memory through a relay.
    if sync::relay_main_if_requested() {
        return;
    }
    // cargo passes `--bench`; the rest are section names.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let on = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let sections: Vec<(&str, fn())> = vec![
        ("import", import::run),
        ("plan", || println!("{}", plan::run())),
        ("noop", sync::noop),
        ("push", sync::push),
        ("e2e100k", sync::e2e100k),
        ("pipedrive", pipedrive::run),
        ("record", pipedrive::hubspot_to_pipedrive),
        ("listen", listen::run),
        ("hubspot_activities", hubspot_activities::run),
        ("hubspot_deals", hubspot_deals::run),
        ("salesforce", salesforce::run),
    ];
    for (name, run) in sections {
        if on(name) {
            println!("== {name}");
            run();
        }
    }
}
