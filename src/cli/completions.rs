//! `crmsync completions SHELL`

use clap_complete::Shell;

use super::Exit;

/// Print shell completions for bash, zsh, fish, powershell or elvish
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  crmsync completions bash > ~/.local/share/bash-completion/completions/crmsync"
)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut super::command(), "crmsync", &mut out);
    Ok(Exit::Ok)
}

/// The completion script for `shell`, as committed under `completions/`.
pub fn render(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut super::command(), "crmsync", &mut buf);
    buf
}

/// File name of the committed completion script for `shell`.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "crmsync.bash",
        Shell::Zsh => "_crmsync",
        Shell::Fish => "crmsync.fish",
        Shell::PowerShell => "_crmsync.ps1",
        Shell::Elvish => "crmsync.elv",
        _ => "crmsync.unknown",
    }
}

/// Every shell crmsync ships completions for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];
