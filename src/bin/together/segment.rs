//! `together segment`: the selfie model on one image, at the model's native input size
//! (needs the feature `ml`).

use std::path::PathBuf;

use anyhow::Result;

use crate::args::MlArgs;

/// `together segment`.
#[derive(clap::Args, Debug)]
pub struct SegmentArgs {
    /// The image (PNG or JPEG).
    #[arg(long)]
    input: PathBuf,
    /// The mask to write (PNG).
    #[arg(long)]
    out: PathBuf,
    /// The .tflite model. Default: models/selfie_segmentation_landscape.tflite for
    /// landscape images (wider than 4:3), else the general model as `render` finds it.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The model's probability, scaled to the input, without refinement.
    #[arg(long)]
    raw: bool,
    /// Run the model N more times and print ms_per_mask (CPU ms per mask, one thread).
    #[arg(long, default_value_t = 0)]
    repeat: usize,
    #[command(flatten)]
    ml: MlArgs,
    /// Also write the ONNX model the ort backend runs (at the model's native size) to
    /// this file, to time it with other ONNX runtimes (needs --features ml-ort).
    #[arg(long)]
    onnx_out: Option<PathBuf>,
}

/// Without the feature `ml`: the command says which build it needs.
#[cfg(not(feature = "ml"))]
pub fn run(_a: &SegmentArgs) -> Result<()> {
    anyhow::bail!("`together segment` needs the ML segmenter: rebuild with `--features ml`")
}

/// Runs `together segment`.
#[cfg(feature = "ml")]
pub fn run(a: &SegmentArgs) -> Result<()> {
    use anyhow::{bail, Context};
    use together_mode::frame::{PlaneMut, PlaneRef};
    use together_mode::segment::ml::{
        load_onnxruntime, prob_to_matte, rgb8_to_input, Backend, SelfieModel,
    };
    use together_mode::segment::refine::{RefineOptions, Refiner};

    a.ml.check()?;
    let img = image::open(&a.input)
        .with_context(|| format!("cannot read {}", a.input.display()))?
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let model_path = match &a.model {
        Some(p) => p.clone(),
        None if w * 3 > h * 4 => PathBuf::from("models/selfie_segmentation_landscape.tflite"),
        None => {
            // The general model: as `render --segment ml` finds it (fetched if need be).
            let mut config = together_mode::segment::SegmenterConfig::new(
                together_mode::segment::SegmentMode::Ml,
            );
            crate::model::resolve(&mut config)?;
            config.model.context("no selfie model")?
        }
    };
    let model = SelfieModel::from_file(&model_path)?;
    let (mw, mh) = model.native_size();
    if let Some(path) = &a.onnx_out {
        #[cfg(feature = "ml-ort")]
        std::fs::write(path, model.to_onnx(mw, mh)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        #[cfg(not(feature = "ml-ort"))]
        bail!(
            "--onnx-out {} needs a build with --features ml-ort",
            path.display()
        );
    }
    if a.ml.backend == Backend::Ort {
        load_onnxruntime(a.ml.ort_lib.as_deref()).context("--backend ort")?;
    }
    let mut runner = model.runner_on(a.ml.backend, mw, mh, Default::default())?;
    rgb8_to_input(img.as_raw(), w, h, runner.input_mut(), mw, mh)?;
    runner.run()?;
    if a.repeat > 0 {
        // Process CPU time: it would also count any thread a runtime started.
        let start = cpu_time::ProcessTime::now();
        for _ in 0..a.repeat {
            runner.run()?;
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / a.repeat as f64;
        println!(
            "ms_per_mask={ms:.3} model={} input={mw}x{mh} backend={}",
            model_path.display(),
            a.ml.backend
        );
    }
    let prob = runner.output();
    let mut mask = vec![0u8; w * h];
    {
        let mut plane = PlaneMut::new(&mut mask, w, h, w)?;
        prob_to_matte(prob, mw, mh, &mut plane)?;
    }
    if !a.raw && mw <= w && mh <= h {
        // Refined: the model's mask at its own size, upsampled by the guided filter along
        // the image's luma edges (BT.601 luma of the RGB input).
        let luma: Vec<u8> = img
            .pixels()
            .map(|p| {
                let [r, g, b] = p.0.map(u32::from);
                ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8
            })
            .collect();
        let coarse: Vec<u8> = prob
            .iter()
            .map(|&p| (p * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
            .collect();
        let mut refiner = Refiner::new(RefineOptions::default().with_dead_band(0));
        let mut refined = vec![0u8; w * h];
        let ok = refiner.refine(
            &PlaneRef::new(&luma, w, h, w)?,
            &PlaneRef::new(&coarse, mw, mh, mw)?,
            &mut PlaneMut::new(&mut refined, w, h, w)?,
        );
        if ok {
            mask = refined;
        }
    }
    let Some(gray) = image::GrayImage::from_raw(w as u32, h as u32, mask) else {
        bail!("the mask buffer does not match {w}x{h}");
    };
    gray.save(&a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    Ok(())
}
