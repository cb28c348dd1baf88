//! Every environment variable crmsync reads, in one place. Test-only knobs start `CRMSYNC_TEST_`
//! and exist only in a build with the `test-seams` feature, which only the tests turn on: a
//! release binary reads none of them (the names are not even compiled in), so no environment
//! can move its credentials, play its browser, fix its clock or kill it.

/// Path of the config file (after `--config`).
pub const CONFIG: &str = "CRMSYNC_CONFIG";
/// Path of the SQLite state file (after `--state`).
pub const STATE: &str = "CRMSYNC_STATE";
/// The profile: a config and state pair of its own (after `--profile`).
pub const PROFILE: &str = "CRMSYNC_PROFILE";
/// Prefix of per-connection tokens for headless runs: `CRMSYNC_TOKEN_<NAME>`, with the
/// connection name upper-cased and `-` turned into `_`.
pub const TOKEN_PREFIX: &str = "CRMSYNC_TOKEN_";
/// Log filter (tracing `EnvFilter` syntax), e.g. `crmsync=debug`.
pub const LOG: &str = "CRMSYNC_LOG";
/// Standard: disables colour when set to anything.
pub const NO_COLOR: &str = "NO_COLOR";
#[cfg(feature = "test-seams")]
/// Test only: fixes "now" (epoch ms or RFC 3339).
pub const TEST_NOW: &str = "CRMSYNC_TEST_NOW";
#[cfg(feature = "test-seams")]
/// Test only: retry and rate-limit waits are not slept (their lengths are still computed and logged).
pub const TEST_NO_SLEEP: &str = "CRMSYNC_TEST_NO_SLEEP";
#[cfg(feature = "test-seams")]
/// Test only: `1` makes the process kill itself (SIGKILL) right after a token endpoint answered
/// a refresh and before the new tokens are saved.
pub const TEST_KILL_BEFORE_TOKEN_SAVE: &str = "CRMSYNC_TEST_KILL_BEFORE_TOKEN_SAVE";
#[cfg(feature = "test-seams")]
/// Test only: the process kills itself (SIGKILL) after this many remote write calls were sent.
pub const TEST_KILL_AFTER_WRITES: &str = "CRMSYNC_TEST_KILL_AFTER_WRITES";
#[cfg(feature = "test-seams")]
/// Test only: the HubSpot change feed's search page size (1 to 200), so that a test moves
/// records across pages without thousands of them.
pub const TEST_SEARCH_LIMIT: &str = "CRMSYNC_TEST_SEARCH_LIMIT";
/// Rewrite committed completions and man pages instead of failing when they are stale.
pub const BLESS: &str = "CRMSYNC_BLESS";

/// The environment variable that holds a token for connection `name`.
pub fn token_var(name: &str) -> String {
    let mut var = String::from(TOKEN_PREFIX);
    for c in name.chars() {
        var.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    var
}
/// Prefix of per-connection OAuth client secrets: `CRMSYNC_CLIENT_SECRET_<NAME>`, named like
/// [`token_var`]. Secrets never come from argv.
pub const CLIENT_SECRET_PREFIX: &str = "CRMSYNC_CLIENT_SECRET_";

/// `CRMSYNC_WEBHOOK_SECRET_<NAME>`: the `user:password` a Pipedrive connection's webhooks
/// carry, for `listen`; read before the keychain entry `--subscribe` keeps.
pub const WEBHOOK_SECRET_PREFIX: &str = "CRMSYNC_WEBHOOK_SECRET_";
#[cfg(feature = "test-seams")]
/// Test only: `mock` keeps keychain entries in process memory instead of the OS keychain;
/// `file:<dir>` keeps them as plain, unencrypted files under `<dir>`, shared by every process
/// given the same directory (for tests that sign in with one process and sync with another).
pub const TEST_KEYRING: &str = "CRMSYNC_TEST_KEYRING";
#[cfg(feature = "test-seams")]
/// Test only: `1` says a real, unlocked Secret Service is on the session bus (CI sets it in
/// `.ci/secret-service.sh`), so the keychain tests that need one run.
pub const TEST_SECRET_SERVICE: &str = "CRMSYNC_TEST_SECRET_SERVICE";
#[cfg(feature = "test-seams")]
/// Test only: `follow` makes `connect` play the browser with an HTTP client that follows the
/// sign-in URL's redirects (as a user approving the app would).
pub const TEST_BROWSER: &str = "CRMSYNC_TEST_BROWSER";

/// Test only: ends the process as a kill would (SIGKILL: no cleanup, no destructors).
#[cfg(feature = "test-seams")]
pub fn die_at_once() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid with a constant signal has no memory effects.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort();
}
