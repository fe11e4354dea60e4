//! Typed errors, one small enum per concern, each carrying the numbers that were wrong.

use std::path::PathBuf;

use crate::frame::PixelFormat;

/// Frames, planes and pixel conversions.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// A plane's stride is shorter than its row.
    #[error("stride {stride} is smaller than the row width {width} bytes")]
    StrideTooSmall { width: usize, stride: usize },
    /// A buffer holds fewer bytes than its geometry needs.
    #[error("buffer too small: needs {expected} bytes, has {found}")]
    BufferTooSmall { expected: usize, found: usize },
    /// A zero width or height.
    #[error("frame size {width}x{height} has a zero side")]
    ZeroSize { width: u32, height: u32 },
    /// A side above [`crate::frame::MAX_DIMENSION`], or a size whose byte count overflows.
    #[error(
        "frame size {width}x{height} is too large (max side {})",
        crate::frame::MAX_DIMENSION
    )]
    TooLarge { width: u64, height: u64 },
    /// Wrong number of planes for the format.
    #[error("{format:?} needs {expected} planes, got {found}")]
    PlaneCount {
        format: PixelFormat,
        expected: usize,
        found: usize,
    },
    /// A plane smaller than the format needs.
    #[error("plane {plane} is {}x{} bytes x rows, needs at least {}x{}", found.0, found.1, expected.0, expected.1)]
    PlaneTooSmall {
        plane: usize,
        expected: (usize, usize),
        found: (usize, usize),
    },
    /// A crop rectangle not inside its plane.
    #[error(
        "crop {width}x{height} at ({x},{y}) is outside the {plane_width}x{plane_height} plane"
    )]
    CropOutside {
        x: usize,
        y: usize,
        width: usize,
        height: usize,
        plane_width: usize,
        plane_height: usize,
    },
    /// Two frames that must match in size do not.
    #[error("size mismatch: expected {}x{}, found {}x{}", expected.0, expected.1, found.0, found.1)]
    SizeMismatch {
        expected: (u32, u32),
        found: (u32, u32),
    },
    /// A conversion this module does not offer.
    #[error("no conversion from {from:?} to {to:?}")]
    Unsupported { from: PixelFormat, to: PixelFormat },
    /// The colour conversion library refused the buffers.
    #[error("colour conversion failed: {0}")]
    Conversion(String),
}

/// Sizes given by callers (output size, scene size).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SizeError {
    /// Not of the form `WxH`.
    #[error("size {0:?} is not of the form WIDTHxHEIGHT (e.g. 1920x1080)")]
    Malformed(String),
    /// A zero side.
    #[error("size {width}x{height} has a zero side")]
    Zero { width: u32, height: u32 },
    /// 4:2:0 output needs even sides.
    #[error("size {width}x{height} must have even sides for 4:2:0 output")]
    Odd { width: u32, height: u32 },
    /// Larger than allowed.
    #[error("size {width}x{height} exceeds the maximum {max_width}x{max_height}")]
    TooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
}

/// Scene packages (scene.json and its PNG assets).
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// A file of the package could not be read.
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// scene.json is not valid JSON or lacks a required key / has a wrong type.
    #[error("scene.json is invalid: {0}")]
    Json(String),
    /// A numeric field is not finite, not positive where it must be, or out of range.
    #[error("scene field {field} has invalid value {value}")]
    BadNumber { field: String, value: f64 },
    /// More seats than allowed.
    #[error("scene has {count} seats, at most {max} allowed")]
    TooManySeats { count: usize, max: usize },
    /// More sprites than allowed.
    #[error("scene has {count} sprites, at most {max} allowed")]
    TooManySprites { count: usize, max: usize },
    /// The scene has no seat.
    #[error("scene has no seats")]
    NoSeats,
    /// A seat or sprite lies (partly) outside the extent, or maps to under 2 output pixels.
    #[error("{what} {index} is outside the scene extent or too small: {detail}")]
    OutOfExtent {
        what: &'static str,
        index: usize,
        detail: String,
    },
    /// An asset path that would leave the scene folder (`..`, absolute, symlink out).
    #[error("asset path {0:?} leaves the scene folder")]
    PathEscapes(String),
    /// An asset that is not a PNG.
    #[error("asset {0:?} is not a PNG file")]
    NotPng(String),
    /// An asset image with odd or oversized dimensions.
    #[error("asset {name:?} is {width}x{height}; images must be even-sized and at most {max_width}x{max_height}")]
    BadImageSize {
        name: String,
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
    /// A file over the byte limit.
    #[error("{name:?} is {size} bytes, over the limit of {max}")]
    FileTooLarge { name: String, size: u64, max: u64 },
    /// The whole package over its byte limit.
    #[error("scene package is {size} bytes, over the limit of {max}")]
    SceneTooLarge { size: u64, max: u64 },
    /// An asset failed to decode.
    #[error("asset {name:?} cannot be decoded: {reason}")]
    Decode { name: String, reason: String },
    /// An unknown built-in scene name.
    #[error("unknown built-in scene {0:?} (known: auditorium, grid)")]
    UnknownBuiltin(String),
    /// An in-memory image with a zero side.
    #[error("image {width}x{height} has a zero side")]
    EmptyImage { width: u32, height: u32 },
    /// An in-memory image whose buffer length is not `width * height * 4` (`expected`
    /// saturates at `u64::MAX`).
    #[error("image {width}x{height} needs {expected} bytes of RGBA, got {found}")]
    ImageBuffer {
        width: u32,
        height: u32,
        expected: u64,
        found: usize,
    },
    /// A grid scene asked for no participants or more than `max`.
    #[error("a grid scene takes 1 to {max} participants, not {participants}")]
    GridParticipants { participants: usize, max: usize },
    /// A grid seat aspect with a zero side or a side over 64.
    #[error("grid seat aspect {width}:{height} is not usable (each side 1..=64)")]
    GridSeatAspect { width: u32, height: u32 },
    /// A grid whose cells are too small to hold a seat (under 8 pixels high, or narrower
    /// than the seat).
    #[error("{participants} participants do not fit in a {width}x{height} grid")]
    GridTooSmall {
        participants: usize,
        width: u32,
        height: u32,
    },
    /// The output size is unusable.
    #[error(transparent)]
    Size(#[from] SizeError),
}

/// Seating operations.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeatingError {
    /// No such participant.
    #[error("participant {0:?} is not seated")]
    NotSeated(String),
    /// No such seat.
    #[error("seat {seat} does not exist (the scene has {count})")]
    NoSuchSeat { seat: usize, count: usize },
    /// The seat is taken by someone else.
    #[error("seat {seat} is taken by {by:?}")]
    SeatTaken { seat: usize, by: String },
    /// The seat is reserved for organizers and presenters.
    #[error("seat {0} is reserved for organizers and presenters")]
    Reserved(usize),
    /// Every seat is taken.
    #[error("all {0} seats are taken")]
    Full(usize),
    /// Already seated.
    #[error("participant {0:?} is already seated")]
    AlreadySeated(String),
    /// An empty or over-long id.
    #[error("invalid participant id {0:?}")]
    BadId(String),
}

/// The compositor.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// A frame problem (bad input frame or output buffer).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A seating problem.
    #[error(transparent)]
    Seating(#[from] SeatingError),
    /// The output buffer does not match the compositor's output size or format.
    #[error("output buffer is {found_format:?} {}x{}, the compositor renders {expected_format:?} {}x{}", found.0, found.1, expected.0, expected.1)]
    OutputMismatch {
        expected_format: PixelFormat,
        expected: (u32, u32),
        found_format: PixelFormat,
        found: (u32, u32),
    },
    /// The scaler refused its input.
    #[error("scaling failed: {0}")]
    Resize(String),
    /// A scene problem (at layout time).
    #[error(transparent)]
    Scene(#[from] SceneError),
    /// No such participant.
    #[error("unknown participant {0:?}")]
    UnknownParticipant(String),
}

/// Y4M and image files.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The underlying file or stream failed.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The stream does not start with `YUV4MPEG2 `.
    #[error("not a Y4M stream (bad signature)")]
    BadSignature,
    /// A header or frame tag is malformed.
    #[error("bad Y4M {what}: {value:?}")]
    BadTag { what: &'static str, value: String },
    /// A required header tag is missing.
    #[error("Y4M header lacks the {0} tag")]
    MissingTag(&'static str),
    /// A colourspace this reader cannot turn into frames.
    #[error("unsupported Y4M colourspace {0:?}")]
    UnsupportedColorspace(String),
    /// A frame was cut short.
    #[error("truncated Y4M frame {index}: needs {expected} bytes, got {found}")]
    Truncated {
        index: u64,
        expected: usize,
        found: usize,
    },
    /// Header line over the limit.
    #[error("Y4M header line longer than {0} bytes")]
    HeaderTooLong(usize),
    /// An image file could not be decoded or encoded.
    #[error("image {path}: {reason}")]
    Image { path: String, reason: String },
    /// An image larger than the caller allows, refused before its pixels were decoded.
    #[error("image {path} is {width}x{height}, over the maximum {max_width}x{max_height}")]
    ImageTooLarge {
        path: String,
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
    /// An input file over the byte limit, refused before it is read.
    #[error("{path} is {size} bytes, over the limit of {max}")]
    FileTooLarge { path: String, size: u64, max: u64 },
    /// A Y4M clip without a single frame.
    #[error("{0}: the clip has no frames")]
    EmptyClip(String),
    /// A participant source ([`crate::io::ClipSource::open`]) that is neither a `.y4m` clip
    /// nor a PNG/JPEG still.
    #[error("{0} must be a .y4m clip or a .png/.jpg still")]
    NotASource(String),
    /// An output pattern that is neither .y4m, `-`, nor a PNG pattern with one `%d`.
    #[error("output {0:?} must be a .y4m file, '-' or a PNG pattern like frames/%05d.png")]
    BadOutput(String),
    /// A frame problem.
    #[error(transparent)]
    Frame(#[from] FrameError),
}
