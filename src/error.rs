//! Typed errors, one small enum per concern, each carrying the numbers that were wrong.

use std::path::PathBuf;

use crate::frame::PixelFormat;

/// Frames, planes and pixel conversions.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// A plane's stride is shorter than its row.
    #[error("stride {stride} is smaller than the row width {width} bytes")]
    StrideTooSmall {
        /// Bytes in one row of the plane.
        width: usize,
        /// Bytes from the start of one row to the next, as given.
        stride: usize,
    },
    /// A buffer holds fewer bytes than its geometry needs.
    #[error("buffer too small: needs {expected} bytes, has {found}")]
    BufferTooSmall {
        /// Bytes the geometry needs.
        expected: usize,
        /// Bytes the buffer holds.
        found: usize,
    },
    /// A zero width or height.
    #[error("frame size {width}x{height} has a zero side")]
    ZeroSize {
        /// Width of the frame, in pixels.
        width: u32,
        /// Height of the frame, in pixels.
        height: u32,
    },
    /// A side above [`crate::frame::MAX_DIMENSION`], or a size whose byte count overflows.
    #[error(
        "frame size {width}x{height} is too large (max side {})",
        crate::frame::MAX_DIMENSION
    )]
    TooLarge {
        /// Width asked for, in pixels.
        width: u64,
        /// Height asked for, in pixels.
        height: u64,
    },
    /// Wrong number of planes for the format.
    #[error("{format:?} needs {expected} planes, got {found}")]
    PlaneCount {
        /// Pixel format of the frame.
        format: PixelFormat,
        /// Planes the format has.
        expected: usize,
        /// Planes given.
        found: usize,
    },
    /// A plane smaller than the format needs.
    #[error("plane {plane} is {}x{} bytes x rows, needs at least {}x{}", found.0, found.1, expected.0, expected.1)]
    PlaneTooSmall {
        /// Index of the plane in the format's order (0 is luma or the packed plane).
        plane: usize,
        /// Smallest size the format needs, as (bytes per row, rows).
        expected: (usize, usize),
        /// Size of the plane given, as (bytes per row, rows).
        found: (usize, usize),
    },
    /// A crop rectangle not inside its plane.
    #[error(
        "crop {width}x{height} at ({x},{y}) is outside the {plane_width}x{plane_height} plane"
    )]
    CropOutside {
        /// Left edge of the crop, in bytes from the plane's first column.
        x: usize,
        /// Top edge of the crop, in rows from the plane's first row.
        y: usize,
        /// Width of the crop, in bytes.
        width: usize,
        /// Height of the crop, in rows.
        height: usize,
        /// Width of the plane, in bytes.
        plane_width: usize,
        /// Height of the plane, in rows.
        plane_height: usize,
    },
    /// Two frames that must match in size do not.
    #[error("size mismatch: expected {}x{}, found {}x{}", expected.0, expected.1, found.0, found.1)]
    SizeMismatch {
        /// Size required, as (width, height) in pixels.
        expected: (u32, u32),
        /// Size of the frame given, as (width, height) in pixels.
        found: (u32, u32),
    },
    /// A conversion this module does not offer.
    #[error("no conversion from {from:?} to {to:?}")]
    Unsupported {
        /// Pixel format of the source frame.
        from: PixelFormat,
        /// Pixel format of the destination frame.
        to: PixelFormat,
    },
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
    Zero {
        /// Width asked for, in pixels.
        width: u32,
        /// Height asked for, in pixels.
        height: u32,
    },
    /// 4:2:0 output needs even sides.
    #[error("size {width}x{height} must have even sides for 4:2:0 output")]
    Odd {
        /// Width asked for, in pixels.
        width: u32,
        /// Height asked for, in pixels.
        height: u32,
    },
    /// Larger than allowed.
    #[error("size {width}x{height} exceeds the maximum {max_width}x{max_height}")]
    TooLarge {
        /// Width asked for, in pixels.
        width: u32,
        /// Height asked for, in pixels.
        height: u32,
        /// Largest width allowed, in pixels.
        max_width: u32,
        /// Largest height allowed, in pixels.
        max_height: u32,
    },
}

/// Scene packages (scene.json and its PNG assets).
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// A file of the package could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// scene.json is not valid JSON or lacks a required key / has a wrong type.
    #[error("scene.json is invalid: {0}")]
    Json(String),
    /// A numeric field is not finite, not positive where it must be, or out of range.
    #[error("scene field {field} has invalid value {value}")]
    BadNumber {
        /// Where the value is in the scene, e.g. `sprites[0].width` or `extent.height`.
        field: String,
        /// The value found.
        value: f64,
    },
    /// More seats than allowed.
    #[error("scene has {count} seats, at most {max} allowed")]
    TooManySeats {
        /// Seats the scene declares.
        count: usize,
        /// Most seats a scene may have.
        max: usize,
    },
    /// More sprites than allowed.
    #[error("scene has {count} sprites, at most {max} allowed")]
    TooManySprites {
        /// Sprites the scene declares.
        count: usize,
        /// Most sprites a scene may have.
        max: usize,
    },
    /// The scene has no seat.
    #[error("scene has no seats")]
    NoSeats,
    /// A seat or sprite lies (partly) outside the extent, or maps to under 2 output pixels.
    #[error("{what} {index} is outside the scene extent or too small: {detail}")]
    OutOfExtent {
        /// The kind of item, e.g. `"seat"`.
        what: &'static str,
        /// Index of the item in its list in scene.json, counting from 0.
        index: usize,
        /// Where the item and the extent lie, in world units.
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
        /// The asset's path, as scene.json names it.
        name: String,
        /// Width of the image, in pixels.
        width: u32,
        /// Height of the image, in pixels.
        height: u32,
        /// Largest width allowed, in pixels.
        max_width: u32,
        /// Largest height allowed, in pixels.
        max_height: u32,
    },
    /// A file over the byte limit.
    #[error("{name:?} is {size} bytes, over the limit of {max}")]
    FileTooLarge {
        /// The file, as scene.json names it (or `scene.json` itself).
        name: String,
        /// Size of the file, in bytes.
        size: u64,
        /// Most bytes a file of this kind may have.
        max: u64,
    },
    /// The whole package over its byte limit.
    #[error("scene package is {size} bytes, over the limit of {max}")]
    SceneTooLarge {
        /// Bytes of scene.json and all its assets together.
        size: u64,
        /// Most bytes a scene package may have.
        max: u64,
    },
    /// An asset failed to decode.
    #[error("asset {name:?} cannot be decoded: {reason}")]
    Decode {
        /// The asset, as scene.json names it.
        name: String,
        /// What the decoder reported.
        reason: String,
    },
    /// An unknown built-in scene name.
    #[error("unknown built-in scene {0:?} (known: auditorium, grid)")]
    UnknownBuiltin(String),
    /// An in-memory image with a zero side.
    #[error("image {width}x{height} has a zero side")]
    EmptyImage {
        /// Width of the image, in pixels.
        width: u32,
        /// Height of the image, in pixels.
        height: u32,
    },
    /// An in-memory image whose buffer length is not `width * height * 4` (`expected`
    /// saturates at `u64::MAX`).
    #[error("image {width}x{height} needs {expected} bytes of RGBA, got {found}")]
    ImageBuffer {
        /// Width of the image, in pixels.
        width: u32,
        /// Height of the image, in pixels.
        height: u32,
        /// Bytes the image needs, `width * height * 4`.
        expected: u64,
        /// Bytes the buffer holds.
        found: usize,
    },
    /// A grid scene asked for no participants or more than `max`.
    #[error("a grid scene takes 1 to {max} participants, not {participants}")]
    GridParticipants {
        /// Participants asked for.
        participants: usize,
        /// Most participants a grid scene seats.
        max: usize,
    },
    /// A grid seat aspect with a zero side or a side over 64.
    #[error("grid seat aspect {width}:{height} is not usable (each side 1..=64)")]
    GridSeatAspect {
        /// Horizontal term of the aspect ratio.
        width: u32,
        /// Vertical term of the aspect ratio.
        height: u32,
    },
    /// A grid whose cells are too small to hold a seat (under 8 pixels high, or narrower
    /// than the seat).
    #[error("{participants} participants do not fit in a {width}x{height} grid")]
    GridTooSmall {
        /// Participants asked for.
        participants: usize,
        /// Width of the grid (the output), in pixels.
        width: u32,
        /// Height of the grid (the output), in pixels.
        height: u32,
    },
    /// The output size is unusable.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// A zip package (scene zip or Teams app package) refused: `entry` names the entry (or,
    /// for the archive as a whole, the zip itself), `reason` says why. Nothing is extracted
    /// to disk, whatever the reason.
    #[error("zip entry {entry:?} refused: {reason}")]
    Zip {
        /// The entry's name as the zip spells it (lossy UTF-8), or the zip's own name.
        entry: String,
        /// Why it was refused.
        reason: ZipRefusal,
    },
    /// A Teams app package's manifest is unusable (not JSON, no scenes, a value out of range).
    #[error("app package manifest: {0}")]
    Manifest(String),
    /// No scene of the app package has the asked-for id or name.
    #[error("app package has no scene with id or name {wanted:?} (it has: {known})")]
    NoSuchScene {
        /// The id or name asked for.
        wanted: String,
        /// The package's scenes, `name (id)`, comma-separated.
        known: String,
    },
}

/// Why a zip entry (or a whole zip) was refused; see [`SceneError::Zip`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipRefusal {
    /// The name would leave the package: `..`, an absolute path, a drive letter, a
    /// backslash, a NUL byte, or not UTF-8.
    #[error(
        "its name leaves the package (.., absolute path, drive letter, backslash or not UTF-8)"
    )]
    PathEscapes,
    /// A symbolic link entry.
    #[error("it is a symbolic link")]
    Symlink,
    /// Two entries with the same name (after dropping `.` components).
    #[error("the name appears more than once")]
    Duplicate,
    /// An encrypted entry.
    #[error("it is encrypted")]
    Encrypted,
    /// A compression method other than stored or deflate.
    #[error("compression method {0} is not supported (stored and deflate only)")]
    Compression(String),
    /// Inflating gave a size other than the central directory's (counting stops one byte
    /// past the claim, so `counted` is at most `claimed + 1`).
    #[error("the central directory says {claimed} bytes, inflating gave {counted}")]
    SizeMismatch {
        /// Uncompressed size the central directory claims.
        claimed: u64,
        /// Bytes counted while inflating.
        counted: u64,
    },
    /// The local header disagrees with the central directory, entries overlap, the data
    /// fails its checksum, or the archive cannot be read at all.
    #[error("the archive is inconsistent or corrupt: {0}")]
    Corrupt(String),
    /// More entries than allowed (an inner zip's entries count against the outer's too).
    #[error("more than {max} entries")]
    TooManyEntries {
        /// Most entries allowed.
        max: usize,
    },
    /// More uncompressed bytes than allowed in all (inner zips count against the outer's).
    #[error("the package inflates past {max} bytes in all")]
    TooLarge {
        /// Most uncompressed bytes allowed.
        max: u64,
    },
    /// An entry that would inflate more than the allowed ratio.
    #[error("it would inflate {size} bytes from {compressed} (over {max}:1)")]
    Ratio {
        /// Uncompressed size claimed.
        size: u64,
        /// Compressed size.
        compressed: u64,
        /// Largest ratio allowed.
        max: u64,
    },
    /// A zip inside a zip inside a zip (one level of nesting is allowed, in app packages).
    #[error("zips nest at most one level deep")]
    NestedTooDeep,
    /// A file the package needs (scene.json, manifest.json, an asset, a scene's zip) is not
    /// in it.
    #[error("it is missing from the package")]
    Missing,
}

/// Seating operations.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeatingError {
    /// No such participant.
    #[error("participant {0:?} is not seated")]
    NotSeated(String),
    /// No such seat.
    #[error("seat {seat} does not exist (the scene has {count})")]
    NoSuchSeat {
        /// Index of the seat asked for, counting from 0.
        seat: usize,
        /// Seats the scene has.
        count: usize,
    },
    /// The seat is taken by someone else.
    #[error("seat {seat} is taken by {by:?}")]
    SeatTaken {
        /// Index of the seat asked for, counting from 0.
        seat: usize,
        /// Id of the participant in that seat.
        by: String,
    },
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
        /// Pixel format the compositor renders.
        expected_format: PixelFormat,
        /// Output size of the compositor, as (width, height) in pixels.
        expected: (u32, u32),
        /// Pixel format of the buffer given.
        found_format: PixelFormat,
        /// Size of the buffer given, as (width, height) in pixels.
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
    /// The segmenters could not be built (for `ml` and `auto`: the selfie model is missing,
    /// not the pinned file, not loadable, or not in this build).
    #[error(transparent)]
    Segmenter(#[from] crate::segment::SegmenterConfigError),
}

/// Y4M and image files.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The underlying file or stream failed.
    #[error("{context}")]
    Io {
        /// What was being done and to which file or stream (the error's message).
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The stream does not start with `YUV4MPEG2 `.
    #[error("not a Y4M stream (bad signature)")]
    BadSignature,
    /// A header or frame tag is malformed.
    #[error("bad Y4M {what}: {value:?}")]
    BadTag {
        /// Which part of the stream, e.g. `frame rate` or `frame header`.
        what: &'static str,
        /// The value found (its first bytes at most, as lossy UTF-8).
        value: String,
    },
    /// A required header tag is missing.
    #[error("Y4M header lacks the {0} tag")]
    MissingTag(&'static str),
    /// A colourspace this reader cannot turn into frames.
    #[error("unsupported Y4M colourspace {0:?}")]
    UnsupportedColorspace(String),
    /// A frame was cut short.
    #[error("truncated Y4M frame {index}: needs {expected} bytes, got {found}")]
    Truncated {
        /// Index of the frame in the clip, counting from 0.
        index: u64,
        /// Bytes one frame's planes take.
        expected: usize,
        /// Bytes of the frame read before the stream ended.
        found: usize,
    },
    /// Header line over the limit.
    #[error("Y4M header line longer than {0} bytes")]
    HeaderTooLong(usize),
    /// An image file could not be decoded or encoded.
    #[error("image {path}: {reason}")]
    Image {
        /// The image file.
        path: String,
        /// What the decoder or encoder reported.
        reason: String,
    },
    /// An image larger than the caller allows, refused before its pixels were decoded.
    #[error("image {path} is {width}x{height}, over the maximum {max_width}x{max_height}")]
    ImageTooLarge {
        /// The image file.
        path: String,
        /// Width of the image, in pixels.
        width: u32,
        /// Height of the image, in pixels.
        height: u32,
        /// Largest width allowed, in pixels.
        max_width: u32,
        /// Largest height allowed, in pixels.
        max_height: u32,
    },
    /// An input file over the byte limit, refused before it is read.
    #[error("{path} is {size} bytes, over the limit of {max}")]
    FileTooLarge {
        /// The input file.
        path: String,
        /// Size of the file, in bytes.
        size: u64,
        /// Most bytes an input file of this kind may have.
        max: u64,
    },
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
