//! `together serve`: the Together Mode service (README "Service").

use std::path::PathBuf;

use anyhow::{Context, Result};

use together_mode::service::{Service, ServiceConfig};

/// `together serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8480, or the config's `listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Every meeting's scene: a scene folder, zip, Teams app package or builtin:NAME
    /// (default builtin:auditorium, or the config's `scene`).
    #[arg(long)]
    scene: Option<String>,
    /// Record every room's output as `DIR/<meeting>/<room>.y4m`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// A TOML config file (README "Service": every key, its default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The config file's settings with the command line's on top.
pub fn config(file: Option<&PathBuf>) -> Result<ServiceConfig> {
    Ok(match file {
        Some(path) => ServiceConfig::load(path)?,
        None => ServiceConfig::default(),
    })
}

/// Runs `together serve` until Ctrl-C or SIGTERM.
pub fn run(a: &ServeArgs) -> Result<()> {
    let mut config = config(a.config.as_ref())?;
    if let Some(listen) = a.listen {
        config.listen = listen;
    }
    if let Some(scene) = &a.scene {
        config.scene = scene.clone();
    }
    if let Some(record) = &a.record {
        config.record = Some(record.clone());
    }
    // The rooms find the selfie model as the library does; fetch it first if need be.
    let mut segmenter = together_mode::segment::SegmenterConfig::new(config.segment);
    crate::model::resolve(&mut segmenter)?;
    let listen = config.listen;
    let service = Service::new(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        // The one line a script waits for.
        println!("listening on http://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        service.serve(listener, stop_signal()).await?;
        eprintln!("together serve: stopped");
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
