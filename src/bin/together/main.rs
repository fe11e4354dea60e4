//! `together`: render together-mode video from scenes and participant clips.
//!
//! ```text
//! together demo [--participants N] [--frames N] [--size WxH] [--segment MODE] --out OUT
//! together render --scene DIR|builtin:NAME --input ID=PATH ... [--size WxH] [--frames N] [--fps R] [--segment MODE] --out OUT
//! together seating --scene DIR|builtin:NAME --participants N [--scene-size WxH] [--size WxH]
//! together scenario FILE --out DIR
//! together bench [--participants N] [--frames N] [--segment constant|opaque|alpha|ml] [--serial] ...
//! together segment --input IMAGE --out MASK.png [--model PATH] [--raw] [--repeat N]
//! together serve [--listen ADDR] [--scene …] [--record DIR] [--config FILE]   (feature serve)
//! together token --meeting M --participant ID --role ROLE [--ttl 12h]        (feature serve)
//! ```
//! OUT is a .y4m file, `-` (Y4M on stdout) or a PNG pattern such as `frames/%05d.png`.
//! MODE is auto (render's default), alpha (demo's default), none, chroma, background or ml (see
//! `SegmentMode`); ml and auto find the selfie model as `model` says.
//!
//! One module per command; each takes its `clap::Args` struct whole. `args` holds the value
//! parsers and option groups several commands share.

mod args;
mod bench;
mod demo;
mod model;
mod render;
mod scenario;
mod seating;
mod segment;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "together",
    version,
    about = "Together Mode compositor: seat everyone in one shared scene"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render builtin:auditorium with synthetic participants (no files needed).
    Demo(demo::DemoArgs),
    /// Render a scene with participants from Y4M clips or still images.
    Render(render::RenderArgs),
    /// Run the canonical benchmark workload in-process and print CPU ms per frame.
    Bench(bench::BenchArgs),
    /// Play a meeting timeline (scenario JSON): one Y4M per room and events.jsonl in --out.
    Scenario(scenario::ScenarioArgs),
    /// Person mask of one image (8-bit gray PNG at the input's size) with the selfie model.
    /// Needs the feature `ml` (a default one) and the model (found or fetched as `render`
    /// does).
    Segment(segment::SegmentArgs),
    /// Print the ACS seating map (JSON) for N participants.
    Seating(seating::SeatingArgs),
    /// Run the Together Mode service: HTTP control API, events, recording (README
    /// "Service"). Needs the feature `serve`.
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// Print a participant's token for `serve` (signed with the deployment's key).
    #[cfg(feature = "serve")]
    Token(token::TokenArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match &cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Render(a) => render::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Scenario(a) => scenario::run(a),
        Command::Segment(a) => segment::run(a),
        Command::Seating(a) => seating::run(a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run(a),
        #[cfg(feature = "serve")]
        Command::Token(a) => token::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line: the error and its causes, each once (`{:#}` joins the chain
            // with ": "; the library's errors do not repeat their sources).
            let text = format!("{e:#}");
            eprintln!("error: {}", text.lines().collect::<Vec<_>>().join(" "));
            ExitCode::FAILURE
        }
    }
}

/// Help and version print as clap prints them. A usage error becomes one `error:` line (the
/// first paragraph of clap's message, its lines joined) and exit status 1, like every other
/// error of this tool.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // `together` alone: the help, as clap shows it.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {}
    }
    let text = e.render().to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let line = first.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    eprintln!("error: {line} (see --help)");
    ExitCode::FAILURE
}
