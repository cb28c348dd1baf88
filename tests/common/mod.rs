//! A hermetic environment for running the crmsync binary as users do: cleared environment,
//! temporary HOME, config and state, a fixed clock, no colour.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
}

/// What a run of the binary printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    /// Panics with both streams when the exit code is not `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        self.expect_code(0)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        for d in ["home", "config", "data"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let p = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
        let envs = vec![
            ("HOME".into(), p("home")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("XDG_DATA_HOME".into(), p("data")),
            ("CRMSYNC_CONFIG".into(), p("config.toml")),
            ("CRMSYNC_STATE".into(), p("state.db")),
            ("CRMSYNC_TEST_NOW".into(), "2026-01-15T12:00:00Z".into()),
            ("CRMSYNC_TEST_NO_SLEEP".into(), "1".into()),
            ("CRMSYNC_TEST_KEYRING".into(), "mock".into()),
            ("RUST_BACKTRACE".into(), "0".into()),
            ("NO_COLOR".into(), "1".into()),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ];
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        TestEnv { dir, envs }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn state_path(&self) -> PathBuf {
        self.path("state.db")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("config.toml")
    }

    /// Sets (or replaces) an environment variable for later runs.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.envs.retain(|(k, _)| k != key);
        self.envs.push((key.into(), value.into()));
    }

    pub fn remove_env(&mut self, key: &str) {
        self.envs.retain(|(k, _)| k != key);
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crmsync"));
        cmd.env_clear();
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.current_dir(self.dir.path());
        cmd.args(args);
        cmd.stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        to_run(self.command(args).output().expect("run crmsync"))
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        to_run(child.wait_with_output().unwrap())
    }
}

fn to_run(out: Output) -> Run {
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// The repository root.
pub mod both;
pub mod crm;
pub mod fake_http;
pub mod keychain;
pub mod pipedrive;
pub mod salesforce;
pub mod snapshot;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A sandbox HubSpot with limits generous enough never to slow a test down.
pub fn fast_sandbox() -> crmsync::sandbox::Sandbox {
    crmsync::sandbox::Sandbox::start(crmsync::sandbox::SandboxOptions {
        rate_limit: (10_000, 10_000),
        search_per_second: 0,
        ..crmsync::sandbox::SandboxOptions::default()
    })
    .unwrap()
}

/// A sandbox HubSpot whose rate and daily limits no test reaches, however many records it
/// syncs.
pub fn unlimited_sandbox() -> crmsync::sandbox::Sandbox {
    crmsync::sandbox::Sandbox::start(crmsync::sandbox::SandboxOptions {
        rate_limit: (1_000_000, 10_000),
        search_per_second: 0,
        daily_limit: 100_000_000,
        ..crmsync::sandbox::SandboxOptions::default()
    })
    .expect("start the sandbox")
}

/// A crmsync environment on the real clock whose config has connection `name` pointed at
/// `sandbox`, its token in `CRMSYNC_TOKEN_<NAME>`.
pub fn connected_env(sandbox: &crmsync::sandbox::Sandbox, name: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.remove_env("CRMSYNC_TEST_NOW");
    env.set_env(&crm::token_var(name), &sandbox.token());
    env.write_config(&crm::hubspot_connection(sandbox, name));
    env
}

/// The sandbox's logged calls that change something in the CRM (anything but reads and
/// searches), as `METHOD path`.
pub fn write_calls(sandbox: &crmsync::sandbox::Sandbox) -> Vec<String> {
    sandbox
        .request_log()
        .into_iter()
        .filter(|r| crm::hubspot_write(&r.method, &r.path))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}
