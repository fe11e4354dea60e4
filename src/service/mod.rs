//! The Together Mode service (feature `serve`): meetings that clients drive over HTTP in
//! ACS's shapes, with events over a WebSocket, identities from tokens signed by the
//! deployment, one ticking thread per meeting, and recording. `together serve` runs it;
//! a host application embeds it with [`Service`].
//!
//! ```no_run
//! use together_mode::service::{Service, ServiceConfig};
//! let mut config = ServiceConfig::default();
//! config.key = Some("a deployment secret of at least 32 bytes".into());
//! let running = Service::new(config).unwrap().spawn().unwrap();
//! println!("listening on http://{}", running.addr());
//! running.stop();
//! ```
//!
//! Modules: [`config`] (settings and limits), [`auth`] (tokens), [`runtime`] (meetings,
//! ticks, recording, the hooks for media), [`api`] (the control routes), [`events`] (the
//! WebSocket), [`error`] (ACS-style error bodies), [`media`] (WebRTC: WHIP publish, WHEP
//! view).

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod media;
pub mod runtime;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

pub use api::AppState;
pub use auth::{Authority, Claims, Identity};
pub use config::{Limits, ServiceConfig};
pub use error::{ErrorBody, ServiceError};
pub use runtime::{RoomSink, Runtime};

/// A configured service: the meetings, the token authority and the routes.
#[derive(Debug)]
pub struct Service {
    state: AppState,
    media: media::routes::MediaState,
}

impl Service {
    /// Loads the scenes, the signing key (config, environment or key file) and checks that
    /// a meeting can be made (the selfie model for `segment = "auto"`).
    pub fn new(config: ServiceConfig) -> Result<Self, ServiceError> {
        let authority = Authority::resolve(config.key.as_deref(), config.key_file.as_deref())
            .map_err(|e| ServiceError::Setup(e.to_string()))?;
        let runtime = Runtime::new(config)?;
        let state = AppState {
            runtime: Arc::new(runtime),
            authority: Arc::new(authority),
        };
        let media_config = media::MediaConfig {
            ice_addresses: state.runtime.config().ice_addresses.clone(),
            ..media::MediaConfig::default()
        };
        let media =
            media::Media::new(media_config).map_err(|e| ServiceError::Setup(e.to_string()))?;
        Ok(Self {
            media: media::routes::MediaState::new(state.clone(), media),
            state,
        })
    }

    /// The meetings (for hooks: room sinks, pushing frames, publishing).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.state.runtime
    }

    /// The token authority.
    pub fn authority(&self) -> &Arc<Authority> {
        &self.state.authority
    }

    /// What the handlers share (to add routes of one's own).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Every route: the control API (with the body limit and request timeout), the event
    /// WebSocket, and ACS-style 404s for the rest.
    pub fn router(&self) -> Router {
        let limits = &self.state.runtime.config().limits;
        let api = api::routes()
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                api::timeout,
            ))
            .layer(DefaultBodyLimit::max(limits.max_body_bytes));
        Router::new()
            .merge(api)
            .merge(media::routes::routes(self.media.clone()))
            .route("/api/meetings/{meeting}/events", get(events::events))
            .merge(web::routes())
            .fallback(api::fallback)
            .with_state(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes; then stops every meeting.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let runtime = self.state.runtime.clone();
        let app = self.router();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Event clients close on the runtime's signal; meetings stop after.
                let rt = runtime.clone();
                let _ = tokio::task::spawn_blocking(move || rt.shutdown()).await;
            })
            .await;
        let rt = self.state.runtime.clone();
        let media = self.media.clone();
        let _ = tokio::task::spawn_blocking(move || {
            media.close_all();
            rt.shutdown()
        })
        .await;
        result
    }

    /// The WHIP/WHEP sessions and the media plane.
    pub fn media(&self) -> &media::routes::MediaState {
        &self.media
    }

    /// Runs the service on its own tokio runtime in a background thread, listening on the
    /// config's address (port 0: any free port). For tests and embedding.
    pub fn spawn(self) -> Result<RunningService, ServiceError> {
        let io = |e: std::io::Error| ServiceError::Internal(e.to_string());
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io)?;
        let listen = self.state.runtime.config().listen;
        let listener = tokio_rt
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let runtime = self.state.runtime.clone();
        let authority = self.state.authority.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("together-serve".into())
            .spawn(move || {
                let shutdown = async move {
                    let _ = rx.await;
                };
                if let Err(e) = tokio_rt.block_on(self.serve(listener, shutdown)) {
                    eprintln!("together serve: {e}");
                }
            })
            .map_err(io)?;
        Ok(RunningService {
            addr,
            runtime,
            authority,
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

/// A service running in a background thread ([`Service::spawn`]); dropping it stops it.
#[derive(Debug)]
pub struct RunningService {
    addr: SocketAddr,
    runtime: Arc<Runtime>,
    authority: Arc<Authority>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningService {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The meetings.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The token authority.
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    /// Stops serving, ends every meeting (recordings closed) and waits for it all.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.runtime.shutdown();
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.stop_now();
    }
}
