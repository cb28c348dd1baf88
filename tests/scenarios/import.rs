//! A first import, creates from here, and runs with nothing to do.

use super::*;

pub fn a_first_sync_imports_the_crms_contacts_and_companies_with_their_association<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (contact_ids, company_ids) = w.crm.seed(12, 3);
    w.crm.clear_request_log();
    w.sync().ok();
    // Reading the CRM into an empty store writes nothing back to it.
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
    assert_eq!(w.local(Company).len(), 3);
    assert_eq!(w.local(Contact).len(), 12);
    for id in &company_ids {
        let remote = w.crm.record(Company, id);
        let local = w.local_for(Company, id);
        assert_eq!(local.get("name"), remote.get("name"));
        assert_eq!(local.get("domain"), remote.get("domain"));
    }
    for id in &contact_ids {
        let remote = w.crm.record(Contact, id);
        let local = w.local_for(Contact, id);
        for field in ["email", "first_name", "last_name", "lifecycle_stage"] {
            assert_eq!(local.get(field), remote.get(field), "{field} of {id}");
        }
        // The association arrives as a reference to the right local company.
        let crm_company = w.crm.company_of(id);
        assert_eq!(crm_company.len(), 1, "{id}");
        let local_company = w.local_for(Company, &crm_company[0]);
        assert_eq!(
            local.get("company_id"),
            Some(local_company.id.as_str()),
            "contact {id}"
        );
    }
    w.assert_counts(Contact, 12);
    w.assert_counts(Company, 3);
    // The connection is listed with the CRM's provider.
    let rows = w.run(&["--json", "connections"]);
    rows.ok();
    let rows = rows.json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == CONN)
        .unwrap_or_else(|| panic!("no `{CONN}` in {rows}"));
    assert_eq!(row["provider"], w.crm.provider(), "{row}");
}

pub fn local_records_are_created_in_the_crm_with_their_company<C: TestCrm>() {
    let w = Synced::<C>::start();
    let company = record(
        Company,
        &[
            ("name", "Northwind Traders"),
            ("domain", "northwind.example"),
        ],
    );
    let mut people: Vec<Record> = (0..3).map(contact).collect();
    for p in &mut people {
        p.fields.insert("company_id".into(), company.id.to_string());
    }
    // The contacts are saved before their company: what the CRM gets must not depend on it.
    w.save_local(&people);
    w.save_local(std::slice::from_ref(&company));
    w.sync().ok();

    let companies = w.crm.live(Company);
    assert_eq!(companies.len(), 1);
    assert_eq!(
        companies[0].crmsync_id.as_deref(),
        Some(company.id.as_str())
    );
    assert_eq!(companies[0].get("name"), Some("Northwind Traders"));
    let contacts = w.crm.live(Contact);
    assert_eq!(contacts.len(), 3);
    for p in &people {
        let found: Vec<&CrmRecord> = contacts
            .iter()
            .filter(|r| r.crmsync_id.as_deref() == Some(p.id.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "contact {}", p.id);
        let r = found[0];
        assert_eq!(r.get("email"), p.get("email"));
        assert_eq!(r.get("first_name"), p.get("first_name"));
        assert_eq!(r.get("lifecycle_stage"), Some("lead"));
        assert_eq!(w.crm.company_of(&r.id), vec![companies[0].id.clone()]);
        assert_eq!(w.remote_id(Contact, &p.id), r.id);
    }
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 3);
    w.assert_counts(Company, 1);
}

pub fn a_second_sync_writes_nothing_and_finds_every_record_it_reads_unchanged<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.crm.seed(30, 4);
    w.save_local(&(0..10).map(contact).collect::<Vec<_>>());
    w.sync().ok();
    w.crm.clear_request_log();
    let report = w.sync_json();
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
    for o in report["connections"][0]["objects"].as_array().unwrap() {
        assert_eq!(o["unchanged"], o["read"], "{o}");
        assert_eq!(o["failed"], 0, "{o}");
    }
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 40);
    w.assert_counts(Company, 4);
}

pub fn echoes_of_creates_are_unchanged_in_the_next_run<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.crm.seed(20, 0);
    let company = record(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    let mut contacts: Vec<Record> = (0..47)
        .map(|i| local_contact(i, &format!("new{i}@example.org")))
        .collect();
    for c in contacts.iter_mut().take(10) {
        c.fields.insert("company_id".into(), company.id.0.clone());
    }
    w.save_local(&[company]);
    w.save_local(&contacts);
    w.sync_json();
    let report = w.sync_json();
    let c = object_report(&report, "contact");
    assert_eq!(c["unchanged"], c["read"], "{c}");
    w.assert_counts(Contact, 67);
}

/// Seeding the CRM from a CSV file with `import --to`, twice: the second run finds every row
/// unchanged and writes nothing there.
pub fn seeding_the_crm_from_a_csv_twice_creates_nothing_the_second_time<C: TestCrm>() {
    let w = Synced::<C>::start();
    let file = w.env.write(
        "seed.csv",
        "first_name,last_name,email\nAda,Lovelace,ada@example.org\nAlan,Turing,alan@example.org\nGrace,Hopper,grace@example.org\n",
    );
    let file = file.to_str().unwrap();
    w.run(&["import", file, "--to", w.conn]).ok();
    assert_eq!(w.crm.live(Contact).len(), 3);
    w.crm.clear_request_log();
    w.run(&["import", file, "--to", w.conn]).ok();
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
    w.sync().ok();
    assert_eq!(w.crm.live(Contact).len(), 3);
    assert_eq!(w.local(Contact).len(), 3);
    w.assert_sync_writes_nothing();
}
