//! HubSpot and Salesforce synced through the local store: both sandboxes in this process, one
//! crmsync environment with a connection to each (`hubspot` and `salesforce`), and the binary
//! run as a user runs it. What one CRM's users do reaches the other in one `crmsync sync`; an
//! edit of one field in both CRMs is one conflict, decided by the field's policy; and a
//! further sync writes nothing in either CRM, counted in both sandboxes' request logs.
//! (`tests/hubspot_pipedrive.rs` is the same for Pipedrive.)

mod common;

use common::crm::{HubSpotCrm, TestCrm, linked_local, linked_remote, tick};
use common::salesforce::SalesforceCrm;
use common::{Run, TestEnv};
use crmsync::model::{ObjectKind, Record};
use crmsync::store::{ConflictFilter, Store};

use ObjectKind::Contact;

const HS: &str = "hubspot";
const SF: &str = "salesforce";

/// The two sandboxes and a crmsync environment connected to both, its mappings set up.
struct Both {
    hs: HubSpotCrm,
    sf: SalesforceCrm,
    env: TestEnv,
}

impl Both {
    fn start() -> Both {
        let (hs, sf) = (HubSpotCrm::start(), SalesforceCrm::start());
        let mut env = TestEnv::new();
        env.remove_env("CRMSYNC_TEST_NOW");
        for (k, v) in hs.credentials(HS).into_iter().chain(sf.credentials(SF)) {
            env.set_env(&k, &v);
        }
        env.write_config(&format!(
            "{}\n{}\n{}",
            hs.connection_config(HS),
            sf.connection_config(SF),
            sf.connection_fields(SF),
        ));
        let both = Both { hs, sf, env };
        for conn in [HS, SF] {
            both.env.run(&["mappings", "setup", "-c", conn]).ok();
        }
        both
    }

    fn sync(&self) -> Run {
        self.env.run(&["sync"])
    }

    fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    /// Runs a sync and checks that neither CRM was sent a write.
    fn assert_sync_writes_nothing(&self) {
        self.hs.clear_request_log();
        self.sf.clear_request_log();
        self.sync().ok();
        assert_eq!(
            (self.hs.write_calls(), self.sf.write_calls()),
            (vec![], vec![]),
            "writes (HubSpot, Salesforce)"
        );
    }

    /// The id in connection `to` of the record `id` of connection `from`.
    fn across(&self, from: &str, to: &str, kind: ObjectKind, id: &str) -> String {
        let store = self.store();
        linked_remote(&store, to, kind, &linked_local(&store, from, kind, id))
    }

    fn local_for(&self, conn: &str, kind: ObjectKind, remote_id: &str) -> Record {
        linked_local(&self.store(), conn, kind, remote_id)
    }
}

/// Both CRMs after a first sync of 3 HubSpot contacts and one Salesforce contact.
fn synced() -> (Both, Vec<String>, String) {
    let w = Both::start();
    let (ids, _) = w.hs.seed(3, 0);
    let sf_id = w.sf.create(
        Contact,
        &[
            ("first_name", "Sol"),
            ("last_name", "Force"),
            ("email", "sol@sf.example"),
        ],
    );
    w.sync().ok();
    assert_eq!((w.hs.live(Contact).len(), w.sf.live(Contact).len()), (4, 4));
    (w, ids, sf_id)
}

#[test]
fn a_change_in_either_crm_reaches_the_other_in_one_sync_and_a_further_sync_writes_nothing() {
    let (w, ids, sf_id) = synced();
    w.assert_sync_writes_nothing();
    // HubSpot to Salesforce.
    let sf_of_hs = w.across(HS, SF, Contact, &ids[0]);
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0100")]);
    w.sync().ok();
    assert_eq!(
        w.sf.record(Contact, &sf_of_hs).get("phone"),
        Some("+1 555 0100")
    );
    // Salesforce to HubSpot.
    tick();
    let hs_of_sf = w.across(SF, HS, Contact, &sf_id);
    w.sf.edit(Contact, &sf_id, &[("job_title", "Admin")]);
    w.sync().ok();
    assert_eq!(
        w.hs.record(Contact, &hs_of_sf).get("job_title"),
        Some("Admin")
    );
    assert_eq!(
        w.local_for(SF, Contact, &sf_id).get("job_title"),
        Some("Admin")
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn the_same_field_edited_in_both_crms_is_one_conflict_the_newest_edit_wins() {
    let (w, ids, _) = synced();
    let sf_id = w.across(HS, SF, Contact, &ids[0]);
    w.hs.edit(Contact, &ids[0], &[("job_title", "From HubSpot")]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    w.sf.edit(Contact, &sf_id, &[("job_title", "From Salesforce")]);
    tick();
    w.sync().ok();
    let titles = [
        w.hs.record(Contact, &ids[0])
            .get("job_title")
            .map(str::to_string),
        w.sf.record(Contact, &sf_id)
            .get("job_title")
            .map(str::to_string),
        w.local_for(HS, Contact, &ids[0])
            .get("job_title")
            .map(str::to_string),
    ];
    let won = Some("From Salesforce".to_string());
    assert_eq!(
        titles,
        [won.clone(), won.clone(), won],
        "(HubSpot, Salesforce, local)"
    );
    let conflicts = w
        .store()
        .list_conflicts(&ConflictFilter::default())
        .unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    w.assert_sync_writes_nothing();
}
