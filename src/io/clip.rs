//! A participant's frames from a file: a Y4M clip read forward and looped, or a still image.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::{load_image, Y4mReader};
use crate::error::IoError;
use crate::frame::{Frame, PixelFormat, MAX_DIMENSION};

/// Frames from a file, for a participant: a `.y4m` clip (read forward, looped at its end, read
/// again from the start when an earlier frame is asked for) or a PNG/JPEG still (one frame,
/// shown for ever).
///
/// [`seek`](Self::seek) selects a clip frame by index; how indices map to output time is the
/// caller's (the CLI counts output frames, scenarios use the meeting clock). The current frame
/// is [`frame`](Self::frame); a clip reads into it in place, so looping a clip allocates
/// nothing.
#[derive(Debug)]
pub struct ClipSource {
    path: PathBuf,
    kind: Kind,
    /// The current frame: clip frame `index`, or the still.
    frame: Frame,
}

#[derive(Debug)]
enum Kind {
    Still,
    Y4m {
        reader: Box<Y4mReader<BufReader<File>>>,
        fps: (u32, u32),
        /// Index of `frame` in the clip.
        index: u64,
        /// Frame count, once the end has been seen.
        len: Option<u64>,
    },
}

fn open_y4m(path: &Path) -> Result<Y4mReader<BufReader<File>>, IoError> {
    let file = File::open(path).map_err(|source| IoError::Io {
        context: format!("opening {}", path.display()),
        source,
    })?;
    Y4mReader::new(BufReader::new(file))
}

impl ClipSource {
    /// Opens `path` by its extension (any case): `.y4m` as a clip ([`y4m`](Self::y4m)),
    /// `.png`, `.jpg` and `.jpeg` as a still ([`still`](Self::still)).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, IoError> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("y4m") => Self::y4m(path),
            Some("png" | "jpg" | "jpeg") => Self::still(path),
            _ => Err(IoError::NotASource(path.display().to_string())),
        }
    }

    /// Opens a Y4M clip and reads its first frame ([`IoError::EmptyClip`] if it has none).
    pub fn y4m(path: impl AsRef<Path>) -> Result<Self, IoError> {
        let path = path.as_ref();
        let mut reader = open_y4m(path)?;
        let fps = reader.header().fps;
        let frame = reader
            .read_frame()?
            .ok_or_else(|| IoError::EmptyClip(path.display().to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            kind: Kind::Y4m {
                reader: Box::new(reader),
                fps,
                index: 0,
                len: None,
            },
            frame,
        })
    }

    /// Loads a PNG or JPEG still ([`load_image`], sides up to [`MAX_DIMENSION`]).
    pub fn still(path: impl AsRef<Path>) -> Result<Self, IoError> {
        let path = path.as_ref();
        Ok(Self {
            path: path.to_path_buf(),
            kind: Kind::Still,
            frame: load_image(path, (MAX_DIMENSION, MAX_DIMENSION))?,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is a still image.
    pub fn is_still(&self) -> bool {
        matches!(self.kind, Kind::Still)
    }

    /// The clip's frame rate from its header, `(num, den)`; `None` for a still.
    pub fn fps(&self) -> Option<(u32, u32)> {
        match &self.kind {
            Kind::Still => None,
            Kind::Y4m { fps, .. } => Some(*fps),
        }
    }

    /// The current frame.
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// The current frame's index in the clip (0 for a still).
    pub fn index(&self) -> u64 {
        match &self.kind {
            Kind::Still => 0,
            Kind::Y4m { index, .. } => *index,
        }
    }

    /// Makes the current frame clip frame `index`, looping (`index` modulo the clip's length,
    /// learnt when the end is first reached). Returns whether the current frame changed
    /// (never for a still). After an error the current frame is unspecified.
    pub fn seek(&mut self, index: u64) -> Result<bool, IoError> {
        let Kind::Y4m {
            reader,
            index: current,
            len,
            ..
        } = &mut self.kind
        else {
            return Ok(false);
        };
        let before = *current;
        'start: loop {
            let target = len.map_or(index, |n| index % n.max(1));
            if target < *current {
                **reader = open_y4m(&self.path)?;
                *current = 0;
                if !reader.read_frame_into(&mut self.frame)? {
                    return Err(IoError::EmptyClip(self.path.display().to_string()));
                }
            }
            while *current < target {
                if !reader.read_frame_into(&mut self.frame)? {
                    // The end: now the length is known; loop.
                    *len = Some(*current + 1);
                    continue 'start;
                }
                *current += 1;
            }
            return Ok(*current != before);
        }
    }

    /// The number of frames (1 for a still). A clip is read to its end once, by a second
    /// reader: the current frame stays as it is.
    pub fn frame_count(&mut self) -> Result<u64, IoError> {
        let Kind::Y4m { len, .. } = &mut self.kind else {
            return Ok(1);
        };
        if let Some(n) = *len {
            return Ok(n);
        }
        let mut reader = open_y4m(&self.path)?;
        let mut scratch = Frame::new(PixelFormat::I420, 2, 2)?;
        let mut n = 0u64;
        while reader.read_frame_into(&mut scratch)? {
            n += 1;
        }
        *len = Some(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    /// A 10 fps 4x4 clip of `frames` frames whose luma is the frame number * 10.
    fn clip(dir: &TestDir, frames: u8) -> PathBuf {
        let path = dir.path().join("clip.Y4M");
        let mut bytes = b"YUV4MPEG2 W4 H4 F10:1 Ip A1:1 C420jpeg\n".to_vec();
        for k in 0..frames {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend(std::iter::repeat_n(10 * k, 16));
            bytes.extend(std::iter::repeat_n(128, 8));
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn luma(s: &ClipSource) -> u8 {
        s.frame().as_ref().plane(0).row(0)[0]
    }

    #[test]
    fn a_clip_loops_and_says_when_its_frame_changes() {
        let dir = TestDir::new("clip-loop");
        let mut s = ClipSource::open(clip(&dir, 3)).unwrap();
        assert!(!s.is_still());
        assert_eq!((s.fps(), s.index(), luma(&s)), (Some((10, 1)), 0, 0));
        assert!(!s.seek(0).unwrap());
        assert_eq!((s.seek(2).unwrap(), luma(&s)), (true, 20));
        // Past the end: the length is learnt, index 4 is frame 1.
        assert_eq!((s.seek(4).unwrap(), s.index(), luma(&s)), (true, 1, 10));
        assert_eq!((s.seek(6).unwrap(), s.index(), luma(&s)), (true, 0, 0));
        assert_eq!(s.frame_count().unwrap(), 3);
        // Backwards: read again from the start.
        s.seek(2).unwrap();
        assert_eq!((s.seek(1).unwrap(), luma(&s)), (true, 10));
    }

    #[test]
    fn frame_count_reads_a_second_reader() {
        let dir = TestDir::new("clip-count");
        let mut s = ClipSource::y4m(clip(&dir, 5)).unwrap();
        s.seek(1).unwrap();
        assert_eq!(s.frame_count().unwrap(), 5);
        assert_eq!((s.index(), luma(&s)), (1, 10));
        assert_eq!((s.seek(7).unwrap(), luma(&s)), (true, 20));
    }

    #[test]
    fn empty_missing_and_unknown_files_are_refused() {
        let dir = TestDir::new("clip-bad");
        let empty = clip(&dir, 0);
        assert!(matches!(
            ClipSource::open(&empty),
            Err(IoError::EmptyClip(p)) if p.ends_with("clip.Y4M")
        ));
        assert!(matches!(
            ClipSource::open(dir.path().join("missing.y4m")),
            Err(IoError::Io { .. })
        ));
        assert!(matches!(
            ClipSource::open(dir.path().join("clip.gif")),
            Err(IoError::NotASource(_))
        ));
    }

    #[test]
    fn a_still_is_one_frame() {
        let dir = TestDir::new("clip-still");
        let path = dir.path().join("still.png");
        ::image::RgbaImage::from_pixel(6, 4, ::image::Rgba([1, 2, 3, 255]))
            .save(&path)
            .unwrap();
        let mut s = ClipSource::open(&path).unwrap();
        assert!(s.is_still());
        assert_eq!((s.fps(), s.frame().width()), (None, 6));
        assert!(!s.seek(5).unwrap());
        assert_eq!(s.frame_count().unwrap(), 1);
    }
}
