//! The field map of a connection's object: the configured mapping checked against the CRM's
//! catalogue (read again when stale), and the bases forgotten of fields that now sync with another
//! property.

use std::collections::BTreeMap;

use crate::engine::StepError;
use crate::mapping::FieldMap;
use crate::model::ObjectKind;

use super::meta::{DropdownOptions, catalogue_key, kept_catalogue_key, mapping_key, options_key};
use super::session::Session;

impl<'a> Session<'a> {
    pub(super) fn resolve_map(&self, object: ObjectKind) -> Result<FieldMap, StepError> {
        FieldMap::resolve(
            self.config,
            &self.p.name,
            object,
            &self.p.provider.default_mappings(object),
        )
        .map_err(|e| StepError::Other(e.to_string()))
    }

    /// The field map for this run, without mapped properties the CRM does not have (each
    /// named once in a warning, with the command that creates it), and with the options of
    /// the mapped dropdowns ([`crate::mapping::FieldRule::options`]). The CRM's catalogue is
    /// asked at most once a day while every mapped property exists, and on every run while
    /// one is missing, so a no-op run of a healthy connection costs no extra request; the
    /// options are kept in the state file from the last time it was asked.
    pub(super) async fn field_map(&mut self, object: ObjectKind) -> Result<FieldMap, StepError> {
        let mut map = self.resolve_map(object)?;
        self.forget_remapped(object, &map)?;
        let (missing, fresh) = self.missing_properties(object, &map).await?;
        let options: DropdownOptions = match fresh {
            Some(options) => options,
            None => self
                .store
                .meta_get(&options_key(&self.p.name, object))?
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
        };
        for rule in &mut map.rules {
            if let Some(o) = options.get(&rule.remote) {
                rule.options = o.clone();
            }
        }
        self.map_activity_types(object, &mut map)?;
        crate::mapping::alias_owners(&mut map, &self.p.config.owner_aliases());
        if let Some(missing) = missing {
            map.rules.retain(|r| !missing.contains(&r.remote));
            for prop in missing {
                self.warn(format!(
                    "{} {object}: the CRM has no field `{prop}`, so it is not synced this run; create it with `crmsync mappings setup -c {}`",
                    self.p.name, self.p.name
                ));
            }
        }
        Ok(map)
    }

    /// Forgets the bases of the fields that now sync with another CRM property than in the
    /// last run (each named in a warning): the old base holds the old property's value, and
    /// against it the new property's (often empty) value would read as a change made in the
    /// CRM, clearing or overwriting the local value. Without a base the field is as newly
    /// mapped: a local value fills an empty property, and two different values are a
    /// conflict for the policy. The properties each field synced with are kept in the state
    /// file, also for fields no longer mapped, so a field mapped again elsewhere is seen too.
    /// A dry run stores nothing and plans as if the bases were forgotten.
    pub(super) fn forget_remapped(
        &mut self,
        object: ObjectKind,
        map: &FieldMap,
    ) -> Result<(), StepError> {
        let key = mapping_key(&self.p.name, object);
        let stored = self.store.meta_get(&key)?;
        let mut known: BTreeMap<String, String> = stored
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        let mut moved = Vec::new();
        for rule in &map.rules {
            if let Some(old) = known.insert(rule.field.clone(), rule.remote.clone())
                && old != rule.remote
            {
                moved.push((rule.field.clone(), old));
            }
        }
        if self.opts.dry_run {
            self.forgotten
                .extend(moved.into_iter().map(|(field, _)| (object, field)));
            return Ok(());
        }
        for (field, old) in moved {
            let n = self.store.forget_base_field(&self.p.name, object, &field)?;
            let now = map.rule(&field).map_or("", |r| r.remote.as_str());
            self.warn(format!(
                "{} {object}: `{field}` now syncs with `{now}` instead of `{old}`, so its last synced values ({n} record(s)) are set aside: a local value fills an empty `{now}` as each record is next synced (`crmsync sync --full` does them all), and two different values are a conflict",
                self.p.name
            ));
        }
        let json = serde_json::to_string(&known).unwrap_or_else(|_| "{}".into());
        if stored.as_deref() != Some(json.as_str()) {
            self.store.meta_set(&key, &json)?;
        }
        Ok(())
    }

    /// Keeps in the state file what the provider keeps of `object`'s catalogue, when it
    /// changed ([`crate::providers::Provider::kept_catalogue`]); a dry run keeps nothing.
    pub(super) fn keep_catalogue(&mut self, object: ObjectKind) -> Result<(), StepError> {
        if self.opts.dry_run {
            return Ok(());
        }
        if let Some(text) = self.p.provider.kept_catalogue(object) {
            let key = kept_catalogue_key(&self.p.name, object);
            if self.store.meta_get(&key)?.as_deref() != Some(text.as_str()) {
                self.store.meta_set(&key, &text)?;
            }
        }
        Ok(())
    }

    /// The mapped properties the CRM does not have (`None`: all are there, or the catalogue
    /// was asked less than a day ago), and, when it was asked now, the mapped dropdowns'
    /// options, which are also kept for later runs (but not by a dry run).
    pub(super) async fn missing_properties(
        &mut self,
        object: ObjectKind,
        map: &FieldMap,
    ) -> Result<(Option<Vec<String>>, Option<DropdownOptions>), StepError> {
        const FRESH_MS: i64 = 24 * 60 * 60 * 1000;
        let mapped = map.remote_properties();
        let key = catalogue_key(&self.p.name, object);
        // `options` marks catalogues read since their dropdown options are kept, so that a
        // state file from before asks once more.
        let signature = format!("options {}", mapped.join(","));
        let now = self.clock.now();
        if !self.stale_catalogue.remove(&object)
            && let Some(cached) = self.store.meta_get(&key)?
            && let Some((at, sig)) = cached.split_once(' ')
            && sig == signature
            && at.parse::<i64>().is_ok_and(|at| now - at < FRESH_MS)
        {
            if let Some(kept) = self
                .store
                .meta_get(&kept_catalogue_key(&self.p.name, object))?
            {
                self.p.provider.restore_catalogue(object, &kept);
            }
            return Ok((None, None));
        }
        let fields = self.p.provider.fields(object).await?;
        self.keep_catalogue(object)?;
        let missing: Vec<String> = mapped
            .iter()
            .filter(|m| !fields.iter().any(|f| &f.name == *m))
            .cloned()
            .collect();
        let options: DropdownOptions = fields
            .into_iter()
            .filter(|f| !f.options.is_empty() && mapped.contains(&f.name))
            .map(|f| (f.name, f.options))
            .collect();
        if !self.opts.dry_run {
            let json = serde_json::to_string(&options).unwrap_or_else(|_| "{}".into());
            self.store
                .meta_set(&options_key(&self.p.name, object), &json)?;
        }
        if !self.opts.dry_run {
            // A catalogue missing a mapped property is asked again by every run until the
            // property is back (or unmapped).
            let stamp = if missing.is_empty() {
                format!("{now} {signature}")
            } else {
                String::new()
            };
            self.store.meta_set(&key, &stamp)?;
        }
        if missing.is_empty() {
            Ok((None, Some(options)))
        } else {
            Ok((Some(missing), Some(options)))
        }
    }
}
