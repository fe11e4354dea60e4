//! Frames in and out: Y4M streams, PNG/JPEG stills, and output sinks.
//!
//! - [`Y4mReader`] / [`Y4mWriter`]: a small YUV4MPEG2 reader (any 4:2:0, 4:4:4 or mono
//!   stream, read as I420) and writer (I420, written row by row from strided views).
//! - [`load_image`] / [`save_png`]: stills, with the size checked before decoding.
//! - [`ClipSource`]: a participant's frames from a file (a looping Y4M clip or a still).
//! - [`OutputSpec`] / [`FrameSink`]: a command-line output (`out.y4m`, `-`,
//!   `frames/%05d.png`) that never leaves a half-written file behind.

mod clip;
mod image;
mod sink;
mod y4m;

pub use self::clip::ClipSource;
pub use self::image::{load_image, save_png, MAX_IMAGE_FILE_BYTES};
pub use self::sink::{FrameSink, OutputSpec};
pub use self::y4m::{Interlace, Y4mColorspace, Y4mHeader, Y4mReader, Y4mWriter, MAX_LINE_LEN};
