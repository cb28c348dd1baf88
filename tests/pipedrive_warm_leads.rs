//! The warm-lead case, as configuration, against the Pipedrive sandbox through the binary: a
//! person (and its organization) is created in Pipedrive only once its warmness reaches 4,
//! labelled (the label added to Pipedrive's when missing), owned by the Pipedrive user its
//! local owner is (by email, or through the connection's `owners` aliases); never twice. And
//! the configs that cannot work are refused when they load, with the file and the line.

mod common;

use serde_json::{Value, json};

use common::TestEnv;
use common::crm::{HubSpotCrm, Synced, TestCrm, record, tick};
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
labels = ["Customer"]

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

    // Raised to 4: the organization first, then the person in it, labelled and owned; a
    // dry run plans both creates and writes nothing.
    assert!(!person_labels(&w).iter().any(|(l, _)| l == "Inbound"));
    tick();
    w.edit_local(&lead.id, &[("warmness", "4")]);
    w.crm.clear_request_log();
    let dry = w.run(&["sync", "--dry-run", "--json"]);
    dry.ok();
    let planned = |object: &str| {
        dry.json()["connections"][0]["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["object"] == object)
            .map(|o| o["planned"]["remote_create"].clone())
    };
    assert_eq!(planned("company"), Some(json!(1)), "{}", dry.stdout);
    assert_eq!(planned("contact"), Some(json!(1)), "{}", dry.stdout);
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
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
    let customer = w
        .crm
        .sandbox
        .field_options("organizations", "label_ids")
        .into_iter()
        .find(|(l, _)| l == "Customer")
        .map(|(_, id)| id);
    assert_eq!(orgs[0]["label_ids"], json!([customer.unwrap()]));

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

#[test]
fn mappings_setup_adds_the_missing_labels_so_that_creates_need_not() {
    let w = Synced::<PipedriveCrm>::start();
    w.config("", &warm_rules(w.conn));
    let setup = w.run(&["mappings", "setup", "-c", w.conn]);
    setup.ok();
    assert!(
        setup.stdout.contains("contact label \"Inbound\""),
        "{}",
        setup.stdout
    );
    assert!(
        !setup.stdout.contains("Warm Lead"),
        "Pipedrive has it: {}",
        setup.stdout
    );
    assert!(person_labels(&w).iter().any(|(l, _)| l == "Inbound"));
    let again = w.run(&["mappings", "setup", "-c", w.conn]);
    again.ok();
    assert!(
        !again.stdout.contains("Inbound"),
        "added once: {}",
        again.stdout
    );
    let lead = record(
        Contact,
        &[
            ("first_name", "Hot"),
            ("email", "hot@example.org"),
            ("warmness", "5"),
        ],
    );
    w.save_local(&[lead]);
    w.crm.clear_request_log();
    w.sync().ok();
    assert_eq!(w.crm.write_calls(), ["POST /api/v2/persons".to_string()]);
}

/// A company that a contact being created points at is created first, in the same run,
/// whatever the company's own rule says; one no created contact points at follows its rule.
/// The engine does it, so it holds for every CRM.
fn a_company_is_created_with_the_contact_that_points_at_it<C: TestCrm>() {
    let w = Synced::<C>::start();
    let rules = format!(
        "\n[connections.{0}.company]\ncreate_when = \"domain == 'listed.example'\"\n",
        w.conn
    );
    w.config("", &rules);
    let theirs = record(Company, &[("name", "Theirs"), ("domain", "theirs.example")]);
    let alone = record(Company, &[("name", "Alone"), ("domain", "alone.example")]);
    let listed = record(Company, &[("name", "Listed"), ("domain", "listed.example")]);
    w.save_local(&[theirs.clone(), alone.clone(), listed.clone()]);
    w.sync().ok();
    assert_eq!(
        w.crm.live(Company).len(),
        1,
        "only the company the rule admits"
    );
    let person = record(
        Contact,
        &[
            ("first_name", "Pat"),
            ("email", "pat@theirs.example"),
            ("company_id", &theirs.id.0),
        ],
    );
    tick();
    w.save_local(std::slice::from_ref(&person));
    w.sync().ok();
    let names: Vec<String> = w
        .crm
        .live(Company)
        .iter()
        .filter_map(|c| c.get("name").map(str::to_string))
        .collect();
    assert!(names.contains(&"Theirs".to_string()), "{names:?}");
    assert!(!names.contains(&"Alone".to_string()), "{names:?}");
    let pat = w.remote_id(Contact, &person.id);
    assert_eq!(w.crm.company_of(&pat), [w.remote_id(Company, &theirs.id)]);
    w.assert_sync_writes_nothing();
}

#[test]
fn pipedrive_creates_a_company_with_the_contact_that_points_at_it() {
    a_company_is_created_with_the_contact_that_points_at_it::<PipedriveCrm>();
}

#[test]
fn hubspot_creates_a_company_with_the_contact_that_points_at_it() {
    a_company_is_created_with_the_contact_that_points_at_it::<HubSpotCrm>();
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
