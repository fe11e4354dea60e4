//! What several commands share: value parsers (sizes, rates, counts, fractions, the library's
//! enums), the ML backend options, the segmenter settings, the progress bar and the output.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressStyle};

use together_mode::error::SizeError;
use together_mode::frame::{Matrix, Range};
use together_mode::framing::{FramingMode, FramingParseError};
use together_mode::geometry::{check_output_size, parse_size};
use together_mode::io::{FrameSink, OutputSpec};
use together_mode::segment::{Backend, SegmentMode, SegmenterConfig};
use together_mode::{ColorSpec, CompositorOptions};

/// A command-line value the parsers below refuse (clap prints the option and the value before
/// the message, so the messages do not repeat them).
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    /// Not a whole number.
    #[error("not a whole number")]
    NotANumber {
        /// The text given.
        found: String,
    },
    /// Zero where at least one is needed.
    #[error("must be at least 1")]
    Zero,
    /// A frame rate outside 1..=1000.
    #[error("the frame rate must be between 1 and 1000")]
    Fps {
        /// The rate given.
        found: u32,
    },
    /// Not a number between 0 and 1.
    #[error("must be between 0 and 1")]
    Fraction {
        /// The text given.
        found: String,
    },
    /// Not of the form `W:H`.
    #[error("expected W:H, e.g. 16:9")]
    Aspect {
        /// The text given.
        found: String,
    },
    /// A size refused by the library (malformed, zero, odd, too large).
    #[error(transparent)]
    Size(#[from] SizeError),
}

/// `--size`: `WxH`, even sides, at most the compositor's largest output.
pub fn output_size(s: &str) -> Result<(u32, u32), ArgError> {
    let (w, h) = parse_size(s)?;
    check_output_size(w, h, together_mode::compositor::MAX_OUTPUT)?;
    Ok((w, h))
}

/// `--scene-size`: `WxH`, no zero side.
pub fn nonzero_size(s: &str) -> Result<(u32, u32), ArgError> {
    let (width, height) = parse_size(s)?;
    if width == 0 || height == 0 {
        return Err(SizeError::Zero { width, height }.into());
    }
    Ok((width, height))
}

/// `--fps`: a whole frame rate, 1 to 1000.
pub fn fps(s: &str) -> Result<u32, ArgError> {
    let found = number::<u32>(s)?;
    if !(1..=1000).contains(&found) {
        return Err(ArgError::Fps { found });
    }
    Ok(found)
}

/// A count of at least one (frames, participants, rooms).
pub fn count<T: FromStr + PartialEq + Default>(s: &str) -> Result<T, ArgError> {
    let n = number::<T>(s)?;
    if n == T::default() {
        return Err(ArgError::Zero);
    }
    Ok(n)
}

fn number<T: FromStr>(s: &str) -> Result<T, ArgError> {
    s.trim().parse().map_err(|_| ArgError::NotANumber {
        found: s.to_string(),
    })
}

/// A fraction, 0 to 1.
pub fn fraction(s: &str) -> Result<f64, ArgError> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(ArgError::Fraction {
            found: s.to_string(),
        }),
    }
}

/// `W:H`, e.g. `16:9`.
pub fn aspect(s: &str) -> Result<(u32, u32), ArgError> {
    s.split_once(':')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .ok_or_else(|| ArgError::Aspect {
            found: s.to_string(),
        })
}

/// `--framing`: `auto`, `off` or a fixed crop `x,y,w,h` ([`FramingMode`]'s names).
pub fn framing_mode(s: &str) -> Result<FramingMode, FramingParseError> {
    s.parse()
}

/// `--auto-zoom`: `on` or `off` (overrides the scene's `autoZoom`; absent: the scene's).
pub fn auto_zoom() -> impl TypedValueParser<Value = bool> {
    PossibleValuesParser::new(["on", "off"]).map(|s| s == "on")
}

/// The output's colour (`demo`, `render`): the composite's YUV matrix and range, what the
/// Y4M output holds (its header tags the range, `XCOLORRANGE`; Y4M has no field for the
/// matrix) and what PNG output is converted to RGB with. The defaults (BT.601, limited) are
/// the library's [`ColorSpec::default`].
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ColorArgs {
    /// The output's YUV matrix: bt601 (the default) or bt709.
    #[arg(long = "color", value_name = "bt601|bt709", default_value = "bt601", value_parser = matrix())]
    pub matrix: Matrix,
    /// The output's YUV range: limited (the default; Y 16-235) or full (0-255).
    #[arg(long, value_name = "limited|full", default_value = "limited", value_parser = range())]
    pub range: Range,
}

impl ColorArgs {
    /// The colour spec these flags name.
    pub fn spec(&self) -> ColorSpec {
        ColorSpec {
            matrix: self.matrix,
            range: self.range,
        }
    }
}

/// `--color`: `bt601` or `bt709`.
fn matrix() -> impl TypedValueParser<Value = Matrix> {
    PossibleValuesParser::new(["bt601", "bt709"]).map(|s| match s.as_str() {
        "bt709" => Matrix::Bt709,
        _ => Matrix::Bt601,
    })
}

/// `--range`: `limited` or `full`.
fn range() -> impl TypedValueParser<Value = Range> {
    PossibleValuesParser::new(["limited", "full"]).map(|s| match s.as_str() {
        "full" => Range::Full,
        _ => Range::Limited,
    })
}

/// `--segment`: the library's [`SegmentMode`] names as the possible values.
pub fn segment_mode() -> impl TypedValueParser<Value = SegmentMode> {
    PossibleValuesParser::new(SegmentMode::ALL.map(|m| PossibleValue::new(m.name())))
        .try_map(|s| s.parse::<SegmentMode>())
}

/// `--backend`: the library's [`Backend`] names (`onnxruntime` also names ort).
pub fn backend() -> impl TypedValueParser<Value = Backend> {
    PossibleValuesParser::new(Backend::ALL.map(|b| match b {
        Backend::Ort => PossibleValue::new(b.name()).alias("onnxruntime"),
        Backend::Tract | Backend::Native => PossibleValue::new(b.name()),
    }))
    .try_map(|s| s.parse::<Backend>())
}

/// The ML segmenter's backend choice (`segment`, `demo`/`render --segment ml|auto`,
/// `bench --segment ml`).
#[derive(clap::Args, Debug, Clone)]
pub struct MlArgs {
    /// What runs the selfie model: tract (pure Rust) or ort (onnxruntime; needs
    /// --features ml-ort and the library: --ort-lib or ORT_DYLIB_PATH).
    #[arg(long, default_value = "tract", value_parser = backend())]
    pub backend: Backend,
    /// The onnxruntime shared library for --backend ort (default: $ORT_DYLIB_PATH).
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
}

impl MlArgs {
    /// Whether the backend options were given (other than the default tract).
    pub fn given(&self) -> bool {
        self.backend != Backend::Tract || self.ort_lib.is_some()
    }

    /// Refuses `--ort-lib` without `--backend ort`, and both in a build without the ML
    /// segmenter.
    pub fn check(&self) -> Result<()> {
        if self.given() && !SegmenterConfig::ml_available() {
            bail!("--backend ort and --ort-lib need a build with --features ml-ort");
        }
        if self.ort_lib.is_some() && self.backend != Backend::Ort {
            bail!("--ort-lib is only used with --backend ort");
        }
        Ok(())
    }
}

/// The picture settings `demo` and `render` share: the selfie model and its backend, framing,
/// autoZoom and the output's colour.
#[derive(clap::Args, Debug)]
pub struct PictureArgs {
    /// The selfie model for --segment ml / auto. Default: $TOGETHER_MODE_MODEL, the user
    /// cache, models/; when none holds it, it is fetched once into the user cache (npm).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub ml: MlArgs,
    /// Which window of each participant's frame their seat shows: auto (the default: around
    /// the person's head, for seats the selfie model cuts out; the centre crop for the
    /// others), off (the centre crop), or a fixed crop X,Y,WIDTH,HEIGHT of every input frame
    /// (centre-cropped to the seat's aspect).
    #[arg(long, default_value = "auto", value_name = "auto|off|X,Y,W,H", value_parser = framing_mode)]
    pub framing: FramingMode,
    /// autoZoom: on (zoom onto the occupied seats when few are taken) or off; default: the
    /// scene's own `autoZoom` (false for the built-in scenes).
    #[arg(long, value_name = "on|off", value_parser = auto_zoom())]
    pub auto_zoom: Option<bool>,
    #[command(flatten)]
    pub color: ColorArgs,
}

impl PictureArgs {
    /// The compositor options these flags give, at output size `size`.
    pub fn options(&self, size: (u32, u32)) -> CompositorOptions {
        CompositorOptions::default()
            .with_size(size.0, size.1)
            .with_color(self.color.spec())
            .with_framing(self.framing)
            .with_auto_zoom(self.auto_zoom)
    }

    /// The segmenter settings for `mode` with these flags' model and backend ([`segmenter`]).
    pub fn segmenter(&self, mode: SegmentMode) -> Result<SegmenterConfig> {
        segmenter(mode, self.model.as_deref(), &self.ml)
    }
}

/// The segmenter settings of `demo` and `render`: `--model` and the backend only with `ml`
/// and `auto`. For those the model is `--model`, else the library's search
/// (`TOGETHER_MODE_MODEL`, the user cache, `models/`), else fetched once into the user cache
/// ([`crate::model::resolve`]).
pub fn segmenter(mode: SegmentMode, model: Option<&Path>, ml: &MlArgs) -> Result<SegmenterConfig> {
    let uses_model = mode.uses_model();
    if !uses_model && model.is_some() {
        bail!("--model is only used with --segment ml or auto");
    }
    if !uses_model && ml.given() {
        bail!("--backend and --ort-lib are only used with --segment ml or auto");
    }
    ml.check()?;
    let mut config = SegmenterConfig {
        mode,
        model: model.map(Path::to_path_buf),
        backend: ml.backend,
        ort_lib: ml.ort_lib.clone(),
        ..SegmenterConfig::default()
    };
    crate::model::resolve(&mut config)?;
    Ok(config)
}

/// A progress bar on stderr for runs of 30 frames or more.
pub fn progress(frames: u64) -> ProgressBar {
    if frames < 30 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(frames);
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} frames, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// The `--out` sink: a .y4m file, `-` or a PNG pattern.
pub fn open_sink(out: &str, (w, h): (u32, u32), fps: u32, color: ColorSpec) -> Result<FrameSink> {
    let spec = OutputSpec::parse(out).context("--out")?;
    Ok(FrameSink::open(&spec, w, h, (fps, 1), color)?)
}
