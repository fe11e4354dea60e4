//! `together scenario`: play a meeting timeline (scenario JSON).

use std::path::PathBuf;

use anyhow::Result;

/// `together scenario`.
#[derive(clap::Args, Debug)]
pub struct ScenarioArgs {
    /// The scenario file (schema: the README's "Scenarios" section).
    file: PathBuf,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `together scenario`: one Y4M per room and events.jsonl in `--out`; a summary on
/// stderr.
pub fn run(a: &ScenarioArgs) -> Result<()> {
    let report = together_mode::scenario::run_file(&a.file, &a.out)?;
    for (room, path) in &report.rooms {
        eprintln!("{room}: {}", path.display());
    }
    eprintln!(
        "{} ticks, {} events, {} refused operations: {}",
        report.ticks,
        report.events,
        report.refused,
        report.events_file.display()
    );
    Ok(())
}
