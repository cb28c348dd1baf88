//! HubSpot and Salesforce in one crmsync environment: both sandboxes in this process, a
//! connection to each (`hubspot` and `salesforce`), their mappings set up, and the binary run
//! as a user runs it.

use crmsync::model::ObjectKind;
use crmsync::store::Store;

use super::crm::{HubSpotCrm, TestCrm, linked_local, linked_remote};
use super::salesforce::SalesforceCrm;
use super::{Run, TestEnv};

pub const HS: &str = "hubspot";
pub const SF: &str = "salesforce";

/// The two sandboxes and a crmsync environment connected to both, its mappings set up.
pub struct Both {
    pub hs: HubSpotCrm,
    pub sf: SalesforceCrm,
    pub env: TestEnv,
}

impl Both {
    /// With `hubspot` added to the HubSpot connection's table, `salesforce` to Salesforce's,
    /// and `tail` after the Salesforce connection's fields.
    pub fn with(hubspot: &str, salesforce: &str, tail: &str) -> Both {
        let (hs, sf) = (HubSpotCrm::start(), SalesforceCrm::start());
        let mut env = TestEnv::new();
        env.remove_env("CRMSYNC_TEST_NOW");
        for (k, v) in hs.credentials(HS).into_iter().chain(sf.credentials(SF)) {
            env.set_env(&k, &v);
        }
        env.write_config(&format!(
            "{}{hubspot}\n{}{salesforce}\n{}\n{tail}",
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

    pub fn sync(&self) -> Run {
        self.env.run(&["sync"])
    }

    pub fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    /// Runs a sync and checks that neither CRM was sent a write.
    pub fn assert_sync_writes_nothing(&self) {
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
    pub fn across(&self, from: &str, to: &str, kind: ObjectKind, id: &str) -> String {
        let store = self.store();
        linked_remote(&store, to, kind, &linked_local(&store, from, kind, id))
    }
}
