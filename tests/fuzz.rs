//! Bad input never panics: the CSV/JSONL import, the config loader and the `create_when`
//! rule parser are fed arbitrary bytes and near-valid inputs (a valid file with bytes inserted,
//! removed or replaced). Each property runs a bounded number of cases so that `cargo test`
//! stays quick; a failing input proptest finds is kept under `proptest-regressions/` and run
//! first from then on. `PROPTEST_CASES=N` runs N cases of each for a longer search.

use std::path::Path;

use crmsync::config::{Config, ConfigError};
use crmsync::mapping::Rule;
use crmsync::model::{Fields, ObjectKind};
use crmsync::store::Store;
use crmsync::transfer::{ImportError, ImportOptions, NoProgress, import_file};
use proptest::prelude::*;

/// One edit of a valid input: where (a fraction of its length), what, and which byte.
#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, Vec<u8>),
    Remove(f64, usize),
    Replace(f64, u8),
}

/// Bytes that break formats when they land in the wrong place.
fn nasty_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'"'),
        Just(b'\''),
        Just(b','),
        Just(b'\n'),
        Just(b'\r'),
        Just(b'='),
        Just(b'['),
        Just(b']'),
        Just(b'{'),
        Just(b'}'),
        Just(b'\\'),
        Just(b'#'),
        Just(0u8),
        Just(0xFFu8),
        Just(0xC3u8),
        Just(0xEFu8),
        any::<u8>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0f64, prop::collection::vec(nasty_byte(), 1..4))
            .prop_map(|(at, b)| Edit::Insert(at, b)),
        (0.0..1.0f64, 1usize..20).prop_map(|(at, n)| Edit::Remove(at, n)),
        (0.0..1.0f64, nasty_byte()).prop_map(|(at, b)| Edit::Replace(at, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |f: f64, len: usize| ((len as f64) * f) as usize;
        match e {
            Edit::Insert(f, b) => {
                let i = at(*f, bytes.len()).min(bytes.len());
                bytes.splice(i..i, b.iter().copied());
            }
            Edit::Remove(f, n) => {
                let i = at(*f, bytes.len()).min(bytes.len());
                let j = (i + n).min(bytes.len());
                bytes.drain(i..j);
            }
            Edit::Replace(f, b) => {
                if !bytes.is_empty() {
                    let i = at(*f, bytes.len()).min(bytes.len() - 1);
                    bytes[i] = *b;
                }
            }
        }
    }
    bytes
}

/// Valid files and texts to start the near-valid inputs from.
const CSV_SEEDS: &[&str] = &[
    "email,first_name,warmness,custom.tier\nann@example.com,Ann,4,gold\n\"bo@example.com\",\"Bo, Jr\",,\nann@example.com,Annie,5,\n",
    "First Name,Last Name,E-mail,Phone Number,Company,Title,Pronouns,Lifecycle Stage,Warmness\nAmelia,Whitfield,amelia@northwind.example,0526 018 159,Northwind,Head,she/her,lead,\nOliver,Okafor,oliver@bluefin.example,+1 830 166 131,Bluefin,Engineer,he/him,lead,7\n",
    "email,archived_at,updated_at\nann@example.com,2026-01-01T00:00:00Z,1700000000000\n",
];

const JSONL_SEEDS: &[&str] = &[
    "{\"email\":\"ann@example.com\",\"first_name\":\"Ann\",\"warmness\":4}\n{\"email\":\"bo@example.com\",\"custom.tier\":\"gold\",\"warmness\":\"7\"}\n\n{\"email\":\"cy@example.com\",\"archived_at\":null}\n",
];

const CONFIG_SEED: &str = include_str!("../config.example.toml");

const RULE_SEEDS: &[&str] = &[
    "warmness >= 4",
    "warmness >= 4 and lifecycle_stage == \"customer\"",
    "(email or phone) and not custom.tier == 'gold'",
    "warmness > -1.5 or first_name != ''",
];

/// An import refusal names the file; a refused row names its line.
fn check_import(store: &mut Store, dir: &Path, name: &str, bytes: &[u8], kind: ObjectKind) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let opts = ImportOptions::new(kind, 1_700_000_000_000, 1);
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    match import_file(store, &path, &opts, &NoProgress) {
        Ok(report) => {
            for r in &report.rejections {
                assert!(
                    r.line >= 1 && r.line <= lines,
                    "rejection at line {} of a {lines}-line file: {r}",
                    r.line
                );
                assert!(!r.reason.trim().is_empty(), "a rejection without a reason");
            }
        }
        Err(ImportError::Store { .. }) => panic!("the state file failed on {bytes:?}"),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(name),
                "a refusal that does not name the file: {message}"
            );
        }
    }
}

/// A config refusal names the file and either a line and column or the key at fault.
fn check_config(text: &str) {
    let path = Path::new("fuzz.toml");
    match Config::parse(text, path) {
        Ok(_) => {}
        Err(ConfigError::Parse {
            line,
            column,
            message,
            ..
        }) => {
            let lines = text.split('\n').count();
            assert!(
                line >= 1 && line <= lines && column >= 1,
                "line {line} column {column} of a {lines}-line file: {message}"
            );
            assert!(!message.trim().is_empty());
        }
        Err(e @ ConfigError::Invalid { .. }) => {
            let message = e.to_string();
            assert!(message.contains("fuzz.toml"), "{message}");
            assert!(
                message.contains(": `"),
                "a refusal that names no key: {message}"
            );
        }
        Err(e @ ConfigError::Read { .. }) => panic!("parse does not read files: {e}"),
    }
}

/// A rule refusal points at a column inside the rule (or just after its end).
fn check_rule(src: &str) {
    let end = src.chars().count() + 1;
    let fields: Fields = [("warmness", "4"), ("email", "a@b.c"), ("custom.x", "é")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match Rule::parse(src) {
        Ok(rule) => {
            rule.eval(&fields);
            rule.eval(&Fields::new());
        }
        Err(e) => assert!(
            e.column >= 1 && e.column <= end && !e.message.is_empty(),
            "column {} of a rule of {} characters: {}",
            e.column,
            end - 1,
            e.message
        ),
    }
    for object in ObjectKind::ALL {
        if let Err(e) = Rule::parse_for(src, object) {
            assert!(e.column >= 1 && e.column <= end, "{src:?}: {e}");
        }
    }
}

/// `PROPTEST_CASES` when set, else `n`.
fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    ProptestConfig::with_cases(n)
}

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn import_of_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        csv in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let name = if csv { "in.csv" } else { "in.jsonl" };
        check_import(&mut store, dir.path(), name, &bytes, ObjectKind::Contact);
    }

    #[test]
    fn import_of_near_valid_files_never_panics(
        seed in 0..(CSV_SEEDS.len() + JSONL_SEEDS.len()),
        edits in prop::collection::vec(edit(), 1..6),
        company in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let (name, text) = if seed < CSV_SEEDS.len() {
            ("in.csv", CSV_SEEDS[seed])
        } else {
            ("in.jsonl", JSONL_SEEDS[seed - CSV_SEEDS.len()])
        };
        let kind = if company { ObjectKind::Company } else { ObjectKind::Contact };
        let bytes = apply(text.as_bytes().to_vec(), &edits);
        check_import(&mut store, dir.path(), name, &bytes, kind);
    }
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn config_of_arbitrary_text_never_panics(text in any::<String>()) {
        check_config(&text);
    }

    #[test]
    fn config_near_the_example_never_panics(edits in prop::collection::vec(edit(), 1..6)) {
        let bytes = apply(CONFIG_SEED.as_bytes().to_vec(), &edits);
        check_config(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn config_with_odd_values_never_panics(
        key in prop::sample::select(vec![
            "create_when", "max_requests_per_run", "redirect_port", "objects", "base_url",
            "match_keys", "scopes", "token_env", "on_delete",
        ]),
        value in prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| format!("{n:?}")),
            "\"[^\"\\\\]{0,30}\"",
            "\\[[0-9a-z\", ]{0,20}\\]",
            Just("true".to_string()),
        ],
        under_object in any::<bool>(),
    ) {
        let table = if under_object { "[connections.acme.contact]\n" } else { "" };
        check_config(&format!(
            "[connections.acme]\nprovider = \"hubspot\"\n{table}{key} = {value}\n"
        ));
    }

    #[test]
    fn rules_of_arbitrary_text_never_panic(src in any::<String>()) {
        check_rule(&src);
    }

    #[test]
    fn rules_near_valid_ones_never_panic(
        seed in prop::sample::select(RULE_SEEDS.to_vec()),
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        let bytes = apply(seed.as_bytes().to_vec(), &edits);
        check_rule(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn rules_of_rule_tokens_never_panic(
        toks in prop::collection::vec(
            prop::sample::select(vec![
                "warmness", "email", "done", "due_date", "custom.tier", "and", "or", "not",
                "(", ")", "==", "!=", ">=", "<=", ">", "<", "=", "4", "-1.5", ".5", "'x'",
                "\"true\"", "'2026-01-01'", "\"", "'", "\\", "é", "",
            ]),
            0..12,
        ),
    ) {
        check_rule(&toks.join(" "));
        check_rule(&toks.concat());
    }
}

proptest! {
    #![proptest_config(cases(32))]

    #[test]
    fn deeply_nested_or_long_rules_never_crash(
        open in prop::sample::select(vec!["(", "not ", "not (", "( not "]),
        join in prop::sample::select(vec![" and ", " or "]),
        depth in 0usize..4_000,
        close in any::<bool>(),
    ) {
        let closing = if close { ")".repeat(depth) } else { String::new() };
        check_rule(&format!("{}email{closing}", open.repeat(depth)));
        check_rule(&vec!["warmness >= 4"; depth / 4 + 1].join(join));
    }
}

/// Webhook bodies near what the CRMs send.
const HUBSPOT_SEED: &str = r#"[{"eventId":11,"subscriptionId":1,"portalId":62515,"appId":54321,"occurredAt":1700000000000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":123,"propertyName":"email","propertyValue":"a@b.c","changeSource":"CRM_UI","sourceId":"userId:7"},{"eventId":12,"occurredAt":1,"subscriptionType":"company.deletion","objectId":"44"}]"#;
const PIPEDRIVE_SEED: &str = r#"{"meta":{"action":"change","entity":"person","entity_id":"123","id":"8c5b","company_id":"1","user_id":"77","timestamp":"2026-01-02T03:04:05.678Z","type":"general","version":"2.0","change_source":"api","attempt":2},"data":{"id":123,"name":"Ann"},"previous":{"name":"Anne"}}"#;

/// A webhook body is read or refused, never a panic; what is read names a record.
fn check_webhook_body(bytes: &[u8]) {
    use crmsync::listen::parse::{hubspot_events, pipedrive_event};
    if let Ok(events) = hubspot_events("hs", bytes) {
        for e in events {
            assert!(!e.event.remote_id.is_empty() && !e.event.event_id.is_empty());
        }
    }
    if let Ok(Some(e)) = pipedrive_event("pd", bytes) {
        assert!(!e.event.remote_id.is_empty() && !e.event.event_id.is_empty());
    }
    let _ = crmsync::listen::verify::check_basic(Some(&String::from_utf8_lossy(bytes)), "u", "p");
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn webhook_bodies_of_arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        check_webhook_body(&bytes);
    }

    #[test]
    fn webhook_bodies_near_the_crms_ones_never_panic(
        hubspot in any::<bool>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let seed = if hubspot { HUBSPOT_SEED } else { PIPEDRIVE_SEED };
        check_webhook_body(&apply(seed.as_bytes().to_vec(), &edits));
    }
}
