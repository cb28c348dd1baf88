//! The sync as a user meets it, written once and run against each CRM's sandbox: a first
//! import, edits on both sides, the conflict policies, archives, merges, runs with nothing to
//! do, runs killed and re-run, calls failing, records moving while a read pages through them
//! and a CRM clock off crmsync's. Each test starts its own sandbox and hermetic environment
//! (`common::crm::Synced`); what is checked is what a user would see in the CRM, in the local
//! store or on the terminal, and at the end both sides are counted.
//!
//! crmsync's clock is the real one here (the fixed test clock is removed) so that it and the
//! sandbox's clock agree on which edit is newer; retries are not slept. Local records are
//! written straight into the state file with the store API, as an import or an edit would
//! leave them.
//!
//! The scenarios are generic functions over `TestCrm`, grouped in the modules below; the
//! helpers more than one group uses are here. A CRM is added with one `TestCrm` impl in
//! `tests/common/crm.rs` and one `scenarios_for!` line at the end of this file, which makes a
//! `#[test]` of every scenario for it (`hubspot::conflicts::local_wins_...`).

#[path = "../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::crm::{
    CONN, CrmRecord, HubSpotCrm, Synced, TestCrm, archived, contact, now_ms, record, tick,
};
use common::pipedrive::PipedriveCrm;
use common::salesforce::SalesforceCrm;
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use serde_json::Value;

use ObjectKind::{Company, Contact};

mod archives;
mod conflicts;
mod edits;
mod feed;
mod import;
mod interrupted;
mod plans;

// ---- shared by the scenarios ---------------------------------------------------------------

/// The report of one object in a `sync --json` report.
fn object_report(report: &Value, object: &str) -> Value {
    report["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == object)
        .unwrap_or_else(|| panic!("no {object} in {report}"))
        .clone()
}

/// Local person number `n`, last name `Original`.
fn person(n: usize) -> Record {
    record(
        Contact,
        &[
            ("first_name", &format!("Person{n}")),
            ("last_name", "Original"),
            ("email", &format!("person{n}@example.org")),
        ],
    )
}

/// The CRM's last name of contact `rid`.
fn crm_last_name<C: TestCrm>(w: &Synced<C>, rid: &str) -> Option<String> {
    w.crm
        .record(Contact, rid)
        .get("last_name")
        .map(str::to_string)
}

/// The conflict `id` as stored (open or resolved).
fn conflict<C: TestCrm>(w: &Synced<C>, id: i64) -> crmsync::store::Conflict {
    w.store().get_conflict(id).unwrap().expect("the conflict")
}

fn local_contact(i: usize, email: &str) -> Record {
    record(
        Contact,
        &[
            ("first_name", &format!("Local{i}")),
            ("last_name", "Person"),
            ("email", email),
        ],
    )
}

/// Seeds `n` CRM contacts a second apart, a day ago; returns their ids in feed order.
fn seed_old<C: TestCrm>(w: &Synced<C>, n: usize) -> Vec<String> {
    let now = w.crm.now_ms();
    w.crm.set_clock_ms(now - 86_400_000);
    let ids = w.crm.seed(n, 0).0;
    w.crm.set_clock_ms(now);
    ids
}

fn remote_email<C: TestCrm>(w: &Synced<C>, id: &str) -> String {
    w.crm.record(Contact, id).get("email").unwrap().to_string()
}

// ---- one test per scenario and CRM -------------------------------------------------------

/// A module of `#[test]`s for each group of scenarios, each running one scenario against `$crm`,
/// but for the scenarios named in `$skip`.
macro_rules! each_scenario {
    ($crm:ty; $skip:tt; $($group:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $group {
                use super::*;

                tests_but!($crm, $group, $skip, [$($name),*]);
            }
        )*
    };
}

/// A `#[test]` of each scenario `$name` of `$group` against `$crm` that is not one of `$skip`.
macro_rules! tests_but {
    ($crm:ty, $group:ident, [$($skip:ident),* $(,)?], [$($name:ident),*]) => {
        macro_rules! scenario_test {
            $( ($skip) => {}; )*
            ($one:ident) => {
                #[test]
                fn $one() {
                    crate::$group::$one::<$crm>();
                }
            };
        }
        $( scenario_test!($name); )*
    };
}

/// Every scenario, as a module of tests for one CRM.
/// `skip: [...]` leaves the scenarios named out for this CRM; each needs the reason in a
/// comment where it is named.
macro_rules! scenarios_for {
    ($module:ident, $crm:ty) => {
        scenarios_for!($module, $crm, skip: []);
    };
    ($module:ident, $crm:ty, skip: $skip:tt) => {
        mod $module {
            use super::*;

            each_scenario!($crm; $skip;
                import: [
                    a_first_sync_imports_the_crms_contacts_and_companies_with_their_association,
                    local_records_are_created_in_the_crm_with_their_company,
                    a_second_sync_writes_nothing_and_finds_every_record_it_reads_unchanged,
                    echoes_of_creates_are_unchanged_in_the_next_run,
                    seeding_the_crm_from_a_csv_twice_creates_nothing_the_second_time,
                ],
                edits: [
                    an_edit_on_either_side_reaches_the_other,
                    a_contact_moved_to_another_company_in_the_crm_is_moved_locally,
                    a_contact_merged_in_the_crm_is_followed_by_the_next_sync,
                    a_merge_of_two_linked_contacts_seen_in_the_feed_is_named_and_changes_neither_link,
                    a_record_the_crm_refuses_fails_alone_and_goes_through_once_fixed,
                    an_invalid_token_stops_the_run_naming_the_connection_and_writes_nothing,
                ],
                conflicts: [
                    local_wins_keeps_the_local_value_on_both_sides,
                    remote_wins_takes_the_crms_value_on_both_sides,
                    newest_wins_takes_the_later_edit_whichever_side_it_was,
                    newest_wins_takes_an_order_the_clocks_cannot_tell_as_a_tie,
                    manual_holds_the_field_until_one_side_takes_the_others_value,
                    a_conflict_resolved_with_the_local_value_stays_resolved_when_the_crm_sends_the_record_again,
                    taking_the_remote_value_never_pushes_one_the_crm_changed_since,
                    a_held_conflict_is_decided_by_the_policy_that_replaced_manual,
                    a_held_conflict_on_a_field_made_one_way_is_decided_by_its_direction,
                    a_held_conflict_on_a_field_no_longer_synced_is_closed_with_the_reason,
                    a_held_conflict_of_a_removed_connection_is_closed_with_the_reason,
                ],
                archives: [
                    archiving_locally_archives_in_the_crm,
                    archiving_in_the_crm_archives_locally_on_a_full_read,
                    with_ignore_a_new_local_contact_takes_over_the_crm_contact_its_archived_one_left,
                    with_ignore_a_contact_recreated_in_the_crm_is_paired_with_the_local_one_it_left,
                    a_contact_restored_here_after_its_archive_reached_the_crm_is_created_there_again,
                    restoring_a_live_contact_says_it_is_not_archived_and_changes_nothing,
                    with_ignore_a_contact_restored_here_is_synced_with_the_crm_contact_it_left,
                ],
                feed: [
                    a_first_sync_reads_every_contact_while_its_own_writes_move_them_between_pages,
                    a_users_edit_between_two_pages_of_a_first_sync_loses_no_contact,
                    a_users_edit_between_two_pages_of_a_delta_sync_loses_no_change,
                    with_the_crms_clock_an_hour_behind_its_edits_after_a_sync_are_read,
                    with_the_crms_clock_an_hour_ahead_newest_wins_takes_the_later_local_edit,
                ],
                interrupted: [
                    runs_killed_at_every_write_resume_without_duplicates_or_lost_edits,
                    a_first_sync_that_pulls_and_pushes_at_once_killed_every_five_writes_ends_with_each_contact_once,
                    a_first_sync_that_pulls_and_pushes_at_once_through_faults_ends_with_each_contact_once,
                    with_a_fifth_of_calls_failing_reruns_reach_the_fault_free_result,
                ],
                plans: [
                    apply_leaves_crm_changes_outside_the_plan_to_the_next_sync,
                    import_to_a_connection_leaves_crm_changes_outside_its_records_to_the_next_sync,
                    apply_plans_again_and_lists_a_record_changed_locally_after_the_plan,
                    apply_lists_a_planned_record_the_crm_changed_after_the_plan,
                    dry_run_prints_the_plan_field_by_field_and_writes_nothing,
                    a_dry_run_plans_a_record_changed_on_both_sides_once,
                    a_run_reports_the_counts_its_dry_run_reported,
                    a_dry_run_without_a_state_file_plans_and_leaves_no_file,
                    a_saved_plan_is_applied_and_a_record_that_moved_is_planned_again,
                    an_applied_plan_leaves_no_local_change_waiting,
                    archiving_most_linked_records_stops_at_the_gate_with_exit_4_until_forced,
                    archives_in_several_rounds_are_measured_against_the_links_still_live,
                    a_dry_run_stopped_at_the_gate_shows_what_it_held_back_and_not_nothing_to_do,
                    a_held_conflict_keeps_the_exit_code_at_3_until_it_is_resolved,
                ],
            );
        }
    };
}

scenarios_for!(hubspot, HubSpotCrm);
scenarios_for!(pipedrive, PipedriveCrm);
scenarios_for!(salesforce, SalesforceCrm);
