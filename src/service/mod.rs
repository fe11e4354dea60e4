//! The Together Mode service (feature `serve`): WebRTC media in and out.
pub mod media;
