//! `config.example.toml` documents every key: it must parse into the real config type, and
//! every key of the config type must appear in it.

use std::path::Path;

use crmsync::config::Config;
use crmsync::model::ObjectKind;

#[test]
fn example_config_parses_into_the_real_config_type() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = Config::load(&path).expect("config.example.toml must parse");
    let conn = &config.connections["hubspot"];
    assert_eq!(conn.provider.as_str(), "hubspot");
    assert_eq!(conn.fields.len(), 2);
    assert_eq!(config.sync.max_archive_pct, 50);
}

#[test]
fn the_example_deals_connection_syncs_deals_and_asks_for_their_scopes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = Config::load(&path).expect("config.example.toml must parse");
    let deals = &config.connections["hubspot-sales"];
    assert!(deals.syncs(ObjectKind::Deal));
    assert!(!config.connections["hubspot"].syncs(ObjectKind::Deal));
    assert!(
        deals
            .deal
            .as_ref()
            .and_then(|d| d.create_when.as_ref())
            .is_some()
    );
    assert_eq!(deals.fields[0].object, ObjectKind::Deal);
    let scopes = crmsync::connection::oauth_spec(deals).unwrap().scopes;
    for scope in ["crm.objects.deals.read", "crm.objects.deals.write"] {
        assert!(scopes.iter().any(|s| s == scope), "{scopes:?}");
    }
}

#[test]
fn example_config_documents_every_defaulted_key() {
    // Serialising a fully populated config lists every key the type has; each must appear in
    // the example as `key =` or as a table header.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
            .unwrap();
    let config = Config::parse(&text, Path::new("config.example.toml")).unwrap();
    let value = toml::Value::try_from(&config).unwrap();
    let mut missing = Vec::new();
    collect_keys(&value, &mut |key| {
        // A key that is not a bare TOML key (an email in `owners`) is written quoted.
        let written = [
            format!("\n{key} ="),
            format!("\n\"{key}\" ="),
            format!("\n# {key} "),
        ];
        if !written.iter().any(|w| text.contains(w.as_str())) {
            missing.push(key.to_string());
        }
    });
    assert!(
        missing.is_empty(),
        "keys missing from config.example.toml: {missing:?}"
    );
}

fn collect_keys(v: &toml::Value, f: &mut dyn FnMut(&str)) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                if !v.is_table()
                    && !matches!(v, toml::Value::Array(a) if a.iter().all(|x| x.is_table()) && !a.is_empty())
                {
                    f(k);
                }
                collect_keys(v, f);
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|x| collect_keys(x, f)),
        _ => {}
    }
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let err = Config::parse(
        "[sync]\nmax_archive_pct = 50\nconflict_polcy = \"manual\"\n",
        Path::new("c.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("c.toml"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("conflict_polcy"), "{err}");
}

#[test]
fn wrong_types_name_the_line_and_what_is_expected() {
    let err = Config::parse("[sync]\nmax_archive_pct = \"half\"\n", Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
    let err = Config::parse("[sync]\nmax_archive_pct = 150\n", Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("max_archive_pct") && err.contains("0 to 100"),
        "{err}"
    );
}

#[test]
fn bad_field_names_and_providers_are_refused() {
    let err = Config::parse(
        "[connections.x]\nprovider = \"hubspot\"\n[[connections.x.fields]]\nobject = \"contact\"\nlocal = \"shoe_size\"\n",
        Path::new("c.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("shoe_size") && err.contains("custom."),
        "{err}"
    );
    let err = Config::parse(
        "[connections.x]\nprovider = \"zoho\"\n",
        Path::new("c.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("line 2") && err.contains("zoho"), "{err}");
    let err = Config::parse(
        "[connections.\"a b\"]\nprovider = \"hubspot\"\n",
        Path::new("c.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("a b"), "{err}");
}
