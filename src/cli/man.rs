//! `crmsync man`

use std::path::{Path, PathBuf};

use super::Exit;

/// Print the man page, or write one page per command into a directory
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync man | man -l -\n  crmsync man --dir /usr/local/share/man/man1"
)]
pub struct Args {
    /// Write crmsync.1 and crmsync-COMMAND.1 pages into this directory
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match &args.dir {
        Some(dir) => {
            for (name, page) in pages()? {
                std::fs::create_dir_all(dir)?;
                std::fs::write(dir.join(name), page)?;
            }
        }
        None => {
            use std::io::Write;
            let (_, page) = pages()?.into_iter().next().expect("the main page");
            std::io::stdout().lock().write_all(&page)?;
        }
    }
    Ok(Exit::Ok)
}

/// Every man page: `crmsync.1` first, then one per command (`crmsync-sync.1`, …).
pub fn pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let cmd = super::command();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    out.push(("crmsync.1".to_string(), buf));
    collect(&cmd, "crmsync", &mut out)?;
    Ok(out)
}

fn collect(
    cmd: &clap::Command,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("{prefix}-{}", sub.get_name());
        let mut buf = Vec::new();
        clap_mangen::Man::new(
            sub.clone()
                .display_name(name.clone())
                .bin_name(name.clone()),
        )
        .render(&mut buf)?;
        out.push((format!("{name}.1"), buf));
        collect(sub, &name, out)?;
    }
    Ok(())
}

/// Writes completions and man pages under `root` (`completions/`, `man/`).
pub fn write_generated(root: &Path) -> anyhow::Result<()> {
    let comp = root.join("completions");
    std::fs::create_dir_all(&comp)?;
    for shell in super::completions::SHELLS {
        std::fs::write(
            comp.join(super::completions::file_name(shell)),
            super::completions::render(shell),
        )?;
    }
    let man = root.join("man");
    std::fs::create_dir_all(&man)?;
    for (name, page) in pages()? {
        std::fs::write(man.join(name), page)?;
    }
    Ok(())
}
