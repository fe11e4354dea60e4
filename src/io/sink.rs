//! Where rendered frames go: a Y4M file, stdout, or a numbered PNG sequence.
//!
//! Nothing is left half-written: a Y4M file is written under a temporary name in the same
//! directory and renamed onto its final name only by [`FrameSink::finish`]; a PNG sequence
//! that is dropped unfinished (error, panic) removes every file it wrote.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Stdout};
use std::path::{is_separator, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::image::PngWriter;
use super::y4m::{check_dimensions, Y4mWriter};
use crate::error::{FrameError, IoError};
use crate::frame::{ColorSpec, FrameRef};

/// Write buffer of the Y4M sinks.
const BUFFER_SIZE: usize = 1 << 16;

/// Widest zero-padding accepted in `%0Nd`.
const MAX_PAD: usize = 20;

/// Where to write frames, parsed from a command-line argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// A `.y4m` file.
    Y4mFile(PathBuf),
    /// Y4M on standard output (`-`).
    Stdout,
    /// An RGBA PNG per frame (the frame's alpha, or opaque for frames without, such as the
    /// compositor's I420; YUV converted with the frame's colour tag), named by a pattern with
    /// one `%d` or `%0Nd` (e.g. `frames/%05d.png`).
    /// Frames are numbered from 1, as FFmpeg's image2 muxer does.
    PngPattern(String),
}

impl OutputSpec {
    /// `-` is stdout; a name ending in `.y4m` is a Y4M file; a name ending in `.png` whose
    /// file name holds exactly one `%d` or `%0Nd` (and otherwise only `%%` escapes) is a PNG
    /// sequence. Anything else is [`IoError::BadOutput`].
    pub fn parse(s: &str) -> Result<Self, IoError> {
        let bad = || IoError::BadOutput(s.to_owned());
        if s == "-" {
            return Ok(Self::Stdout);
        }
        let ext_is = |ext: &str| {
            s.len() > ext.len()
                && s.get(s.len() - ext.len()..)
                    .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        };
        if ext_is(".y4m") {
            let path = PathBuf::from(s);
            if path.file_name().is_none() || s.ends_with(is_separator) {
                return Err(bad());
            }
            return Ok(Self::Y4mFile(path));
        }
        if ext_is(".png") && Pattern::parse(s).is_some() {
            return Ok(Self::PngPattern(s.to_owned()));
        }
        Err(bad())
    }
}

/// A parsed PNG name pattern: `prefix`, the frame number padded to `pad` digits, `suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    prefix: String,
    pad: usize,
    suffix: String,
}

impl Pattern {
    fn parse(s: &str) -> Option<Self> {
        let mut prefix = String::new();
        let mut suffix = String::new();
        let mut pad = None;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            let out = if pad.is_some() {
                &mut suffix
            } else {
                &mut prefix
            };
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next()? {
                '%' => out.push('%'),
                'd' if pad.is_none() => pad = Some(0),
                '0' if pad.is_none() => {
                    let mut digits = String::new();
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        digits.push(d);
                    }
                    if chars.next()? != 'd' {
                        return None;
                    }
                    let n: usize = digits.parse().ok()?;
                    if n == 0 || n > MAX_PAD {
                        return None;
                    }
                    pad = Some(n);
                }
                _ => return None,
            }
        }
        // The number must be in the file name, not in a directory.
        if suffix.contains(is_separator) {
            return None;
        }
        Some(Self {
            prefix,
            pad: pad?,
            suffix,
        })
    }

    fn path(&self, index: u64) -> PathBuf {
        PathBuf::from(format!(
            "{}{:0pad$}{}",
            self.prefix,
            index,
            self.suffix,
            pad = self.pad
        ))
    }
}

/// Files (and possibly one directory) to remove on drop unless disarmed.
#[derive(Debug)]
struct Cleanup {
    files: Vec<PathBuf>,
    /// A directory this sink created; removed (if empty) after the files.
    dir: Option<PathBuf>,
    armed: bool,
}

impl Cleanup {
    fn new(dir: Option<PathBuf>) -> Self {
        Self {
            files: Vec::new(),
            dir,
            armed: true,
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for f in &self.files {
            let _ = fs::remove_file(f);
        }
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir(d);
        }
    }
}

/// Creates the parent directory of `path` if it is missing: only that last component, never
/// its ancestors. Returns the directory if it was created.
fn create_parent(path: &Path) -> Result<Option<PathBuf>, IoError> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(None);
    };
    if parent.is_dir() {
        return Ok(None);
    }
    match fs::create_dir(parent) {
        Ok(()) => Ok(Some(parent.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(source) => Err(IoError::Io {
            context: format!("creating directory {}", parent.display()),
            source,
        }),
    }
}

fn temp_path(path: &Path) -> Result<PathBuf, IoError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| IoError::BadOutput(path.display().to_string()))?;
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(format!(
        ".partial-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(temp))
}

/// A Y4M file being written under a temporary name.
#[derive(Debug)]
struct Y4mFileSink {
    // Field order matters: the writer (and its file handle) drops before the cleanup runs.
    writer: Y4mWriter<BufWriter<File>>,
    cleanup: Cleanup,
    temp: PathBuf,
    path: PathBuf,
}

#[derive(Debug)]
struct PngSink {
    pattern: Pattern,
    width: u32,
    height: u32,
    next: u64,
    png: PngWriter,
    /// Every file written so far, removed on drop without finish.
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Target {
    Y4mFile(Y4mFileSink),
    Stdout(Y4mWriter<BufWriter<Stdout>>),
    Png(PngSink),
}

/// An open output: write frames, then [`finish`](FrameSink::finish). Dropping it unfinished
/// removes what it wrote (stdout excepted).
#[derive(Debug)]
pub struct FrameSink {
    target: Target,
    frames: u64,
}

impl FrameSink {
    /// Opens `spec` for `width x height` frames at `fps`, tagged `color` (the Y4M range).
    /// Creates the output's parent directory if it is missing, but not its ancestors.
    pub fn open(
        spec: &OutputSpec,
        width: u32,
        height: u32,
        fps: (u32, u32),
        color: ColorSpec,
    ) -> Result<Self, IoError> {
        if fps.0 == 0 || fps.1 == 0 {
            return Err(IoError::BadTag {
                what: "frame rate",
                value: format!("{}:{}", fps.0, fps.1),
            });
        }
        let target = match spec {
            OutputSpec::Stdout => {
                let out = BufWriter::with_capacity(BUFFER_SIZE, io::stdout());
                Target::Stdout(Y4mWriter::new(out, width, height, fps, color)?)
            }
            OutputSpec::Y4mFile(path) => {
                // Validate before touching the file system.
                check_dimensions(width.into(), height.into())?;
                let temp = temp_path(path)?;
                let mut cleanup = Cleanup::new(create_parent(path)?);
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&temp)
                    .map_err(|source| IoError::Io {
                        context: format!("creating {}", temp.display()),
                        source,
                    })?;
                cleanup.files.push(temp.clone());
                let out = BufWriter::with_capacity(BUFFER_SIZE, file);
                Target::Y4mFile(Y4mFileSink {
                    writer: Y4mWriter::new(out, width, height, fps, color)?,
                    cleanup,
                    temp,
                    path: path.clone(),
                })
            }
            OutputSpec::PngPattern(s) => {
                let pattern = Pattern::parse(s).ok_or_else(|| IoError::BadOutput(s.clone()))?;
                let (width, height) = check_dimensions(width.into(), height.into())?;
                let cleanup = Cleanup::new(create_parent(&pattern.path(1))?);
                Target::Png(PngSink {
                    pattern,
                    width,
                    height,
                    next: 1,
                    png: PngWriter::rgba(),
                    cleanup,
                })
            }
        };
        Ok(Self { target, frames: 0 })
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    /// Writes one frame (its size must match the one given to [`open`](FrameSink::open)).
    pub fn write(&mut self, frame: &FrameRef<'_>) -> Result<(), IoError> {
        match &mut self.target {
            Target::Y4mFile(s) => s.writer.write_frame(frame)?,
            Target::Stdout(w) => w.write_frame(frame)?,
            Target::Png(s) => {
                if (frame.width(), frame.height()) != (s.width, s.height) {
                    return Err(FrameError::SizeMismatch {
                        expected: (s.width, s.height),
                        found: (frame.width(), frame.height()),
                    }
                    .into());
                }
                let path = s.pattern.path(s.next);
                // Recorded first, so a failed or interrupted write is cleaned up too.
                s.cleanup.files.push(path.clone());
                s.png.write(&path, frame)?;
                s.next += 1;
            }
        }
        self.frames += 1;
        Ok(())
    }

    /// Flushes everything and, for a Y4M file, moves it onto its final name.
    pub fn finish(self) -> Result<(), IoError> {
        match self.target {
            Target::Stdout(w) => {
                w.finish()?;
            }
            Target::Y4mFile(Y4mFileSink {
                writer,
                mut cleanup,
                temp,
                path,
            }) => {
                let io_err = |context: String| move |source| IoError::Io { context, source };
                let file = writer
                    .finish()?
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .map_err(io_err(format!("writing {}", temp.display())))?;
                file.sync_all()
                    .map_err(io_err(format!("syncing {}", temp.display())))?;
                drop(file);
                fs::rename(&temp, &path).map_err(io_err(format!(
                    "renaming {} to {}",
                    temp.display(),
                    path.display()
                )))?;
                cleanup.armed = false;
            }
            Target::Png(mut s) => s.cleanup.armed = false,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, PixelFormat};
    use crate::io::Y4mReader;
    use crate::test_dir::TestDir;

    fn frame(w: u32, h: u32, v: u8) -> Frame {
        let mut f = Frame::black(PixelFormat::I420, w, h, ColorSpec::BT601_LIMITED).unwrap();
        f.as_mut().plane_mut(0).fill(v);
        f
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn output_spec_parsing() {
        let ok = [
            ("-", OutputSpec::Stdout),
            ("out.y4m", OutputSpec::Y4mFile("out.y4m".into())),
            ("a/b/OUT.Y4M", OutputSpec::Y4mFile("a/b/OUT.Y4M".into())),
            ("/tmp/x%d.y4m", OutputSpec::Y4mFile("/tmp/x%d.y4m".into())),
            (
                "frames/%05d.png",
                OutputSpec::PngPattern("frames/%05d.png".into()),
            ),
            ("%d.png", OutputSpec::PngPattern("%d.png".into())),
            (
                "f_%03d_%%.PNG",
                OutputSpec::PngPattern("f_%03d_%%.PNG".into()),
            ),
            (
                "100%%/f%d.png",
                OutputSpec::PngPattern("100%%/f%d.png".into()),
            ),
        ];
        for (s, want) in ok {
            assert_eq!(OutputSpec::parse(s).unwrap(), want, "{s}");
        }
        let bad = [
            "",
            "--",
            "out.mp4",
            "out",
            ".y4m",
            "out.y4m/",
            "frame.png",
            "%d%d.png",
            "%05d_%d.png",
            "%5d.png",
            "%s.png",
            "%x.png",
            "%0d.png",
            "%00d.png",
            "%021d.png",
            "%05.png",
            "f%d.jpg",
            "%d/f.png",
            "frames%",
            "f%d.png%",
            ".png",
        ];
        for s in bad {
            assert!(
                matches!(OutputSpec::parse(s), Err(IoError::BadOutput(ref x)) if x == s),
                "{s:?}"
            );
        }
    }

    #[test]
    fn pattern_formatting() {
        let p = Pattern::parse("out/f%05d.png").unwrap();
        assert_eq!(p.path(7), PathBuf::from("out/f00007.png"));
        assert_eq!(p.path(1234567), PathBuf::from("out/f1234567.png"));
        let p = Pattern::parse("%%%d%%.png").unwrap();
        assert_eq!(p.path(12), PathBuf::from("%12%.png"));
    }

    #[test]
    fn y4m_sink_finish_renames_and_drop_removes() {
        let dir = TestDir::new("sink-y4m");
        let path = dir.path().join("out.y4m");
        let spec = OutputSpec::Y4mFile(path.clone());
        let mut sink = FrameSink::open(&spec, 6, 4, (25, 1), ColorSpec::BT601_LIMITED).unwrap();
        sink.write(&frame(6, 4, 50).as_ref()).unwrap();
        sink.write(&frame(6, 4, 60).as_ref()).unwrap();
        assert!(!path.exists(), "final name must not appear before finish");
        assert_eq!(entries(dir.path()).len(), 1);
        assert!(entries(dir.path())[0].starts_with(".out.y4m.partial-"));
        assert_eq!(sink.frames_written(), 2);
        sink.finish().unwrap();
        assert_eq!(entries(dir.path()), vec!["out.y4m".to_string()]);
        let mut r = Y4mReader::new(io::BufReader::new(File::open(&path).unwrap())).unwrap();
        assert_eq!(
            r.read_frame().unwrap().unwrap().as_ref().plane(0).row(0),
            &[50; 6]
        );
        assert_eq!(
            r.read_frame().unwrap().unwrap().as_ref().plane(0).row(0),
            &[60; 6]
        );
        assert!(r.read_frame().unwrap().is_none());

        // Dropped without finish: nothing left, and an existing file is untouched.
        let mut sink = FrameSink::open(&spec, 6, 4, (25, 1), ColorSpec::BT601_LIMITED).unwrap();
        sink.write(&frame(6, 4, 70).as_ref()).unwrap();
        assert!(sink.write(&frame(4, 4, 70).as_ref()).is_err());
        drop(sink);
        assert_eq!(entries(dir.path()), vec!["out.y4m".to_string()]);
        let mut r = Y4mReader::new(io::BufReader::new(File::open(&path).unwrap())).unwrap();
        assert_eq!(
            r.read_frame().unwrap().unwrap().as_ref().plane(0).row(0),
            &[50; 6]
        );

        let other = dir.path().join("new.y4m");
        let sink = FrameSink::open(
            &OutputSpec::Y4mFile(other.clone()),
            6,
            4,
            (25, 1),
            ColorSpec::BT601_LIMITED,
        )
        .unwrap();
        drop(sink);
        assert!(!other.exists());
        assert_eq!(entries(dir.path()), vec!["out.y4m".to_string()]);
    }

    #[test]
    fn y4m_sink_cleans_up_on_panic() {
        let dir = TestDir::new("sink-panic");
        let path = dir.path().join("sub").join("p.y4m");
        let spec = OutputSpec::Y4mFile(path.clone());
        let result = std::panic::catch_unwind(|| {
            let mut sink = FrameSink::open(&spec, 2, 2, (25, 1), ColorSpec::BT601_LIMITED).unwrap();
            sink.write(&frame(2, 2, 1).as_ref()).unwrap();
            panic!("render failed");
        });
        assert!(result.is_err());
        assert!(!path.exists());
        // The directory it created is gone too.
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn png_sink_finish_keeps_and_drop_removes() {
        let dir = TestDir::new("sink-png");
        let pattern = format!("{}/frames/%03d.png", dir.path().display());
        let spec = OutputSpec::parse(&pattern).unwrap();
        let mut sink = FrameSink::open(&spec, 5, 3, (25, 1), ColorSpec::BT601_LIMITED).unwrap();
        for v in [16, 100, 235] {
            sink.write(&frame(5, 3, v).as_ref()).unwrap();
        }
        sink.finish().unwrap();
        let frames = dir.path().join("frames");
        assert_eq!(entries(&frames), vec!["001.png", "002.png", "003.png"]);
        let f = crate::io::load_image(&frames.join("002.png"), (5, 3)).unwrap();
        assert_eq!((f.width(), f.height()), (5, 3));

        let pattern2 = format!("{}/frames/b%d.png", dir.path().display());
        let mut sink = FrameSink::open(
            &OutputSpec::parse(&pattern2).unwrap(),
            5,
            3,
            (25, 1),
            ColorSpec::BT601_LIMITED,
        )
        .unwrap();
        sink.write(&frame(5, 3, 16).as_ref()).unwrap();
        sink.write(&frame(5, 3, 17).as_ref()).unwrap();
        assert_eq!(entries(&frames).len(), 5);
        assert!(matches!(
            sink.write(&frame(6, 3, 17).as_ref()),
            Err(IoError::Frame(FrameError::SizeMismatch { .. }))
        ));
        drop(sink);
        assert_eq!(entries(&frames), vec!["001.png", "002.png", "003.png"]);

        // A sequence into a directory it created removes the directory too.
        let pattern3 = format!("{}/fresh/%d.png", dir.path().display());
        let mut sink = FrameSink::open(
            &OutputSpec::parse(&pattern3).unwrap(),
            5,
            3,
            (25, 1),
            ColorSpec::BT601_LIMITED,
        )
        .unwrap();
        sink.write(&frame(5, 3, 16).as_ref()).unwrap();
        assert!(dir.path().join("fresh/1.png").exists());
        drop(sink);
        assert_eq!(entries(dir.path()), vec!["frames"]);
    }

    #[test]
    fn only_the_last_missing_directory_is_created() {
        let dir = TestDir::new("sink-dirs");
        let deep = format!("{}/a/b/%d.png", dir.path().display());
        let spec = OutputSpec::parse(&deep).unwrap();
        assert!(matches!(
            FrameSink::open(&spec, 2, 2, (25, 1), ColorSpec::BT601_LIMITED),
            Err(IoError::Io { .. })
        ));
        let deep = OutputSpec::Y4mFile(dir.path().join("a/b/c.y4m"));
        assert!(matches!(
            FrameSink::open(&deep, 2, 2, (25, 1), ColorSpec::BT601_LIMITED),
            Err(IoError::Io { .. })
        ));
        assert!(entries(dir.path()).is_empty());
        // Bad sizes are refused before anything is created.
        let spec = OutputSpec::Y4mFile(dir.path().join("new/c.y4m"));
        assert!(matches!(
            FrameSink::open(&spec, 0, 2, (25, 1), ColorSpec::BT601_LIMITED),
            Err(IoError::Frame(FrameError::ZeroSize { .. }))
        ));
        assert!(entries(dir.path()).is_empty());
    }
}
