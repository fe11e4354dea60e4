//! `together token`: mint a participant's token with the deployment's key (the same key
//! `together serve` uses: the config's `key`, else TOGETHER_MODE_KEY, else the key file).

use std::path::PathBuf;

use anyhow::{bail, Result};

use together_mode::meeting::role_from_name;
use together_mode::service::Authority;

/// `together token`.
#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    /// The meeting id ([A-Za-z0-9._-], at most 64 bytes).
    #[arg(long)]
    meeting: String,
    /// The participant's raw id (8:orgid:…, 8:acs:…, 8:teamsvisitor:…).
    #[arg(long)]
    participant: String,
    /// organizer, coOrganizer, presenter or attendee.
    #[arg(long)]
    role: String,
    /// Lifetime: seconds, or a number with s, m, h or d (default 12h).
    #[arg(long, default_value = "12h", value_parser = ttl)]
    ttl: u64,
    /// The config file whose key (or key file) to use.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// `90`, `90s`, `30m`, `12h`, `7d`.
fn ttl(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a number of seconds, or N with s, m, h or d".to_string())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err("the unit must be s, m, h or d".into()),
    };
    match n.checked_mul(mult) {
        Some(0) => Err("must be at least 1 s".into()),
        Some(v) => Ok(v),
        None => Err("too long".into()),
    }
}

/// Prints the token on stdout.
pub fn run(a: &TokenArgs) -> Result<()> {
    let config = crate::serve::config(a.config.as_ref())?;
    let Some(role) = role_from_name(&a.role) else {
        bail!(
            "--role {:?}: expected organizer, coOrganizer, presenter or attendee",
            a.role
        );
    };
    let max = config.limits.max_token_ttl_s;
    if a.ttl > max {
        bail!("--ttl: at most {max} s (the config's limits.max_token_ttl_s)");
    }
    let authority = Authority::resolve(config.key.as_deref(), config.key_file.as_deref())?;
    let token = authority.mint(&a.meeting, &a.participant, role, a.ttl)?;
    println!("{token}");
    Ok(())
}
