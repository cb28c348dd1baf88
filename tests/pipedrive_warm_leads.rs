//! The warm-lead case, as configuration, against the Pipedrive sandbox through the binary: a
//! person (and its organization) is created in Pipedrive only once its warmness reaches 4,
//! labelled (the label added to Pipedrive's when missing), owned by the Pipedrive user its
//! local owner is (by email, or through the connection's `owners` aliases); never twice. And
//! the configs that cannot work are refused when they load, with the file and the line.

mod common;

use serde_json::{Value, json};

use common::TestEnv;
use common::crm::{Synced, TestCrm, record, tick};
use common::pipedrive::PipedriveCrm;
use crmsync::model::ObjectKind::{Company, Contact};

/// The warm-lead rules, inside the connection's table.
fn warm_rules(conn: &str) -> String {
    format!(
        r#"objects = ["company", "contact"]

[connections.{conn}.contact]
create_when = "warmness >= 4"
labels = ["Warm Lead", "Inbound"]

[connections.{conn}.company]
create_when = "false"

[connections.{conn}.owners]
"ana@local.example" = "ana@company.example"

[[connections.{conn}.fields]]
object = "contact"
local = "owner"
remote = "owner_id"
"#
    )
}

/// Every person (or organization) of the sandbox in its v2 shape.
fn raw(w: &Synced<PipedriveCrm>, kind: &str) -> Vec<Value> {
    w.crm.sandbox.dump()[kind].as_array().unwrap().clone()
}

/// The person labels of the sandbox company: label and option id.
fn person_labels(w: &Synced<PipedriveCrm>) -> Vec<(String, i64)> {
    w.crm.sandbox.field_options("persons", "label_ids")
}

#[test]
fn a_person_is_created_with_its_organization_label_and_owner_once_it_is_warm() {
    let w = Synced::<PipedriveCrm>::start();
    let ana = w
        .crm
        .sandbox
        .add_user("Ana Silva", "ana@company.example")
        .unwrap();
    w.config("", &warm_rules(w.conn));
    let acme = record(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    let lead = record(
        Contact,
        &[
            ("first_name", "Lee"),
            ("last_name", "Warm"),
            ("email", "lee@acme.example"),
            ("warmness", "3"),
            ("owner", "ana@local.example"),
            ("company_id", &acme.id.0),
        ],
    );
    w.save_local(&[acme.clone(), lead.clone()]);

    // Warmness 3: nothing is created, the company neither (its rule admits none).
    w.crm.clear_request_log();
    w.sync().ok();
    assert!(raw(&w, "persons").is_empty() && raw(&w, "organizations").is_empty());
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());

    // Raised to 4: the organization first, then the person in it, labelled and owned.
    assert!(!person_labels(&w).iter().any(|(l, _)| l == "Inbound"));
    tick();
    w.edit_local(&lead.id, &[("warmness", "4")]);
    w.crm.clear_request_log();
    w.sync().ok();
    let mut writes = w.crm.write_calls();
    writes.sort();
    let fields_id = writes
        .iter()
        .find(|c| c.starts_with("PUT /api/v1/personFields/"))
        .cloned()
        .expect("the missing label is added");
    assert_eq!(
        writes,
        [
            "POST /api/v2/organizations".to_string(),
            "POST /api/v2/persons".to_string(),
            fields_id
        ],
        "one label added, one organization and one person created"
    );
    let labels = person_labels(&w);
    let id_of = |name: &str| labels.iter().find(|(l, _)| l == name).map(|(_, id)| *id);
    // "Warm Lead" is Pipedrive's own "Warm lead" (case aside); "Inbound" was added.
    let (warm, inbound) = (id_of("Warm lead").unwrap(), id_of("Inbound").unwrap());
    let orgs = raw(&w, "organizations");
    let persons = raw(&w, "persons");
    assert_eq!((orgs.len(), persons.len()), (1, 1));
    assert_eq!(orgs[0]["name"], "Acme");
    assert_eq!(persons[0]["org_id"], orgs[0]["id"]);
    assert_eq!(persons[0]["label_ids"], json!([warm, inbound]));
    assert_eq!(persons[0]["owner_id"], json!(ana));
    assert_eq!(
        orgs[0]["label_ids"],
        json!([]),
        "no labels are configured for companies"
    );

    // Never twice: the next runs write nothing, and the owner reads back as the alias.
    w.assert_sync_writes_nothing();
    w.assert_sync_writes_nothing();
    assert_eq!(
        w.local_record(&lead.id)
            .fields
            .get("owner")
            .map(String::as_str),
        Some("ana@local.example")
    );
    assert_eq!(
        person_labels(&w).len(),
        labels.len(),
        "no label added twice"
    );

    // The owner changed in Pipedrive reads as that user's email.
    tick();
    let person = persons[0]["id"].as_i64().unwrap();
    w.crm
        .sandbox
        .update_record("persons", person, &json!({"owner_id": 2}))
        .unwrap();
    w.sync().ok();
    assert_eq!(
        w.local_record(&lead.id)
            .fields
            .get("owner")
            .map(String::as_str),
        Some("sam@sandbox.example")
    );
}

#[test]
fn an_owner_no_pipedrive_user_has_fails_its_record_naming_it() {
    let w = Synced::<PipedriveCrm>::start();
    w.config("", &warm_rules(w.conn));
    let ghost = record(
        Contact,
        &[
            ("first_name", "Gus"),
            ("email", "gus@example.org"),
            ("warmness", "5"),
            ("owner", "ghost@local.example"),
        ],
    );
    let owned = record(
        Contact,
        &[
            ("first_name", "Sue"),
            ("email", "sue@example.org"),
            ("warmness", "5"),
            ("owner", "SAM@sandbox.example"),
        ],
    );
    w.save_local(&[ghost.clone(), owned]);
    w.run(&["sync"]).expect_code(3);
    let failed = w.run(&["status", "--failed"]);
    let out = format!("{}{}", failed.stdout, failed.stderr);
    assert!(
        out.contains("owner `ghost@local.example` is no Pipedrive user"),
        "{out}"
    );
    let persons = raw(&w, "persons");
    assert_eq!(persons.len(), 1, "the other person is created");
    assert_eq!(
        persons[0]["owner_id"],
        json!(2),
        "owner by email, case aside"
    );
    assert!(
        out.contains(&ghost.id.0),
        "the failed record is named: {out}"
    );
}

/// `sync` with `config` refuses to start: exit 2, the file and the line named.
fn refused(config: &str, line: usize, says: &str) {
    let env = TestEnv::new();
    env.write_config(config);
    let run = env.run(&["sync"]);
    run.expect_code(2);
    let path = env.config_path();
    let want = format!("{}`, line {line}", path.display());
    assert!(run.stderr.contains(&want), "{want}\n{}", run.stderr);
    assert!(run.stderr.contains(says), "{says}\n{}", run.stderr);
}

#[test]
fn configs_that_cannot_work_are_refused_at_load_with_their_line() {
    refused(
        "[connections.hs]\nprovider = \"hubspot\"\n[connections.hs.contact]\nlabels = [\"Warm Lead\"]\n",
        4,
        "`connections.hs.contact.labels`: HubSpot has no labels on contact records",
    );
    refused(
        "[connections.pd]\nprovider = \"pipedrive\"\n[connections.pd.contact]\nlabels = [\n  \"Warm Lead\",\n  \" \",\n]\n",
        6,
        "a label is empty",
    );
    refused(
        "[connections.pd]\nprovider = \"pipedrive\"\n[connections.pd.company]\nlabels = [\"VIP\", \"vip\"]\n",
        4,
        "\"vip\" is named twice",
    );
    refused(
        "[connections.pd]\nprovider = \"pipedrive\"\n[connections.pd.activity]\nlabels = [\"x\"]\n",
        4,
        "Pipedrive has no labels on activity records",
    );
    refused(
        "[connections.pd]\nprovider = \"pipedrive\"\n\n[connections.pd.owners]\n\"ana@local.example\" = \"ana at company\"\n",
        5,
        "`ana at company` (for `ana@local.example`) is not an email",
    );
    refused(
        "[connections.pd]\nprovider = \"pipedrive\"\n[connections.pd.owners]\n\"ana\" = \"ana@company.example\"\n",
        4,
        "`ana` is not an email",
    );
    refused(
        "[connections.pd]\nprovider = \"pipedrive\"\n[connections.pd.owners]\n\"a@local.example\" = \"x@company.example\"\n\"b@local.example\" = \"X@company.example\"\n",
        5,
        "both name `x@company.example`",
    );
}
