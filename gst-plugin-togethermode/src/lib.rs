//! GStreamer plugin `togethermode`: the together-mode engine as a video aggregator.
//!
//! The element `togethermode` takes one request sink pad (`sink_%u`) per participant and
//! produces one composed I420 (or RGBA) stream: every participant cut out of their own room
//! and seated in a shared scene. It is a `GstVideoAggregator` subclass, so timing (the
//! newest buffer per pad, held until a newer one is due), live and non-live inputs, and pads
//! that come and go while PLAYING are handled as in GStreamer's own `compositor`.
//!
//! Build with `cargo build --release -p gst-plugin-togethermode`, then point
//! `GST_PLUGIN_PATH` at `target/release` (see the README).
#![forbid(unsafe_code)]

use gst::glib;

pub mod togethermode;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    togethermode::register(plugin)
}

pub use plugin::plugin_register_static;

/// The plugin descriptor GStreamer reads when it loads the library, and
/// [`plugin_register_static`] for registering the plugin from within a program (the tests).
#[allow(missing_docs)] // the macro's items carry no docs of their own
mod plugin {
    use super::plugin_init;

    gst::plugin_define!(
        togethermode,
        env!("CARGO_PKG_DESCRIPTION"),
        plugin_init,
        concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
        "MIT/X11",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_NAME"),
        "Unknown package origin",
        env!("BUILD_REL_DATE")
    );
}
