//! Companies created with their contacts. A contact this run creates in a CRM points at its
//! company there (Pipedrive's `org_id`, HubSpot's association), so the company must be in
//! that CRM first. Companies are pushed before contacts: the company push also creates every
//! company that a contact about to be created points at and that the CRM does not have yet,
//! whatever the company's own `create_when` says (`create_when = "false"` for companies
//! creates exactly those). A company of a contact that is not created stays out.

use std::collections::HashSet;

use crate::engine::StepError;
use crate::mapping::Rule;
use crate::model::{ObjectKind, Record, RecordId};

use super::session::Session;

/// Local records read at a time.
const CHUNK: usize = 5_000;

impl Session<'_> {
    /// The local companies the contacts this run's push creates in the CRM point at, that
    /// have no live link to the CRM: the company push creates them. Empty when this run
    /// pushes no contacts.
    pub(super) fn companies_of_new_contacts(&self) -> Result<HashSet<RecordId>, StepError> {
        if !self.objects().contains(&ObjectKind::Contact) {
            return Ok(HashSet::new());
        }
        let rule = self
            .p
            .config
            .create_rule(&self.p.name, ObjectKind::Contact)
            .map_err(|e| {
                StepError::Other(format!("`connections.{}.create_when`: {e}", self.p.name))
            })?;
        let mut wanted: HashSet<RecordId> = HashSet::new();
        let top = self.store.max_seq()?;
        let mut after = self.store.local_cursor(&self.p.name, ObjectKind::Contact)?;
        while after < top {
            let changed = self
                .store
                .records_changed_since(ObjectKind::Contact, after, CHUNK)?;
            let Some(&(last, _)) = changed.last() else {
                break;
            };
            after = last;
            let contacts: Vec<Record> = changed
                .into_iter()
                .filter(|(seq, _)| *seq <= top)
                .map(|(_, r)| r)
                .collect();
            wanted.extend(self.companies_created_with(&contacts, rule.as_ref())?);
        }
        if wanted.is_empty() {
            return Ok(wanted);
        }
        let ids: Vec<RecordId> = wanted.into_iter().collect();
        let links = self
            .store
            .links_by_local_ids(&self.p.name, ObjectKind::Company, &ids)?;
        let companies = self.store.get_records(&ids)?;
        Ok(ids
            .into_iter()
            .filter(|id| links.get(id).is_none_or(|l| l.retired))
            .filter(|id| {
                companies
                    .get(id)
                    .is_some_and(|c| c.kind == ObjectKind::Company && c.archived_at.is_none())
            })
            .collect())
    }

    /// The companies of those of `contacts` that the push creates in the CRM: live, in
    /// this run's records, not in the CRM (no live link) and admitted by `rule`.
    fn companies_created_with(
        &self,
        contacts: &[Record],
        rule: Option<&Rule>,
    ) -> Result<Vec<RecordId>, StepError> {
        let ids: Vec<RecordId> = contacts.iter().map(|r| r.id.clone()).collect();
        let links = self
            .store
            .links_by_local_ids(&self.p.name, ObjectKind::Contact, &ids)?;
        Ok(contacts
            .iter()
            .filter(|r| r.archived_at.is_none() && !self.dry_pulled.contains(&r.id))
            .filter(|r| {
                self.opts
                    .only
                    .as_ref()
                    .is_none_or(|only| only.has_local(&r.id))
            })
            .filter(|r| links.get(&r.id).is_none_or(|l| l.retired))
            .filter(|r| rule.is_none_or(|rule| rule.eval(&r.fields)))
            .filter_map(|r| r.fields.get("company_id"))
            .filter_map(|id| RecordId::parse(id))
            .collect())
    }
}
