//! Why a connection's run stops before it writes anything: the CRM account it reaches does
//! not fit the state file (see the parent module).

use serde::{Deserialize, Serialize};

use crate::providers::ProviderKind;

/// Why a connection was stopped before its run wrote anything: the account it reaches does
/// not fit the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AccountStop {
    /// The connection reaches another account than the one its links were made in.
    #[error(
        "connection `{connection}` now reaches {} account {account}, but its {links} links were made in account {linked_account}, so it was stopped before writing anything. If `{connection}` should still sync account {linked_account}, put its `base_url` and token back. To sync account {account} too, configure it under another connection name. To move `{connection}` to account {account}, run `crmsync connections forget-links {connection}`: its next sync links the local records to account {account}'s by match keys, as a first sync does",
        .provider.display_name()
    )]
    AccountChanged {
        connection: String,
        provider: ProviderKind,
        /// The account the links were made in.
        linked_account: String,
        /// The account the connection reaches now.
        account: String,
        links: u64,
    },
    /// Another connection has the account already.
    #[error("{}", shared_message(self))]
    AccountShared {
        connection: String,
        provider: ProviderKind,
        account: String,
        other: String,
        /// `other` is in the config (else only its state is left in the state file).
        other_configured: bool,
    },
    /// A connection with no links of its own, while the state file holds links of
    /// connections no longer in the config whose account is not known (made before
    /// accounts were kept): it may be one of them renamed.
    #[error(
        "the state file holds links of {} (no longer in the config), made before crmsync kept the account each connection reaches, so connection `{connection}` ({} account {account}) was stopped before writing anything in case it is one of them renamed. If it is, run `crmsync connections rename OLD {connection}`; if not, drop their links with `crmsync connections forget-links OLD`",
        quoted(.unbound),
        .provider.display_name()
    )]
    UnknownLinks {
        connection: String,
        provider: ProviderKind,
        account: String,
        unbound: Vec<String>,
    },
    /// A dry run of a renamed connection: a run takes the old name's links over first.
    #[error(
        "connection `{connection}` reaches {} account {account}, which connection `{other}` synced before it left the config; a sync takes `{other}`'s links over as `{connection}`'s (a renamed connection keeps its links), but a dry run changes nothing: run `crmsync connections rename {other} {connection}` first",
        .provider.display_name()
    )]
    Renamed {
        connection: String,
        provider: ProviderKind,
        account: String,
        other: String,
    },
}

fn shared_message(stop: &AccountStop) -> String {
    let AccountStop::AccountShared {
        connection: c,
        provider,
        account,
        other,
        other_configured,
    } = stop
    else {
        return String::new();
    };
    let crm = provider.display_name();
    if *other_configured {
        format!(
            "connection `{c}` reaches {crm} account {account}, which connection `{other}` already syncs, so `{c}` was stopped before writing anything: two connections to one account copy records back and forth. Sync the account through `{other}` alone (remove `[connections.{c}]`); or, if `{c}` is to replace `{other}`, remove `[connections.{other}]` from the config (the next run moves its links to `{c}`) or run `crmsync connections rename {other} {c}`"
        )
    } else {
        format!(
            "connection `{c}` reaches {crm} account {account}, which connection `{other}` (no longer in the config) synced, but `{c}` has links of its own, so it was stopped before writing anything. Keep one set: `crmsync connections forget-links {other}`, or `crmsync connections forget-links {c}` and then `crmsync connections rename {other} {c}`"
        )
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
