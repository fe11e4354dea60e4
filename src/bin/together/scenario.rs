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
    let scenario = together_mode::scenario::Scenario::load(&a.file)?;
    // The rooms find the selfie model as the library does; fetch it first if need be.
    crate::model::resolve(&mut together_mode::segment::SegmenterConfig::new(
        scenario.segment(),
    ))?;
    let report = scenario.run(&a.out)?;
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
