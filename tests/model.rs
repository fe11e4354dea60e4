//! Finding the selfie model (issue 15, parts 1 and 5): the search order, and bad models refused
//! with typed errors when the segmenters are built (missing, truncated, wrong checksum, a file
//! that is not a model). Each test searches its own temporary folders (`ModelSearch` set by
//! hand), so the machine's cache and environment do not matter; the tests that need the real
//! model copy it from where the library finds it (skip loudly outside CI without it).
#![cfg(feature = "ml")]

use std::path::{Path, PathBuf};

use together_mode::segment::ml::MlError;
use together_mode::segment::model::{
    cache_file_name, sha256_hex, ModelError, ModelSearch, ModelSource, MODEL_BYTES, MODEL_FILE,
    MODEL_SHA256,
};
use together_mode::segment::{SegmentMode, SegmenterConfig, SegmenterConfigError};

mod common;

/// A search over `dir/cache` and `dir/models` (both created, empty).
fn search_in(dir: &Path) -> ModelSearch {
    let (cache, models) = (dir.join("cache"), dir.join("models"));
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::create_dir_all(&models).unwrap();
    ModelSearch {
        explicit: None,
        env: None,
        cache_dir: Some(cache),
        models_dir: Some(models),
    }
}

/// The real model's bytes, when the library finds it here.
fn real_model() -> Option<Vec<u8>> {
    if !common::require_model() {
        return None;
    }
    let place = ModelSearch::from_env(None).find().unwrap();
    Some(std::fs::read(place.path).unwrap())
}

/// The error `ml` and `auto` settings with `search` give when their segmenters are built.
fn build_error(search: &ModelSearch) -> Vec<ModelError> {
    [SegmentMode::Ml, SegmentMode::Auto]
        .into_iter()
        .map(|mode| {
            match SegmenterConfig::new(mode)
                .with_search(search.clone())
                .factory()
            {
                Err(SegmenterConfigError::Model(e)) => e,
                Err(other) => panic!("{mode}: {other}"),
                Ok(_) => panic!("{mode}: built without a usable model"),
            }
        })
        .collect()
}

#[test]
fn nothing_found_names_every_place_looked() {
    let dir = common::TestDir::new("model-missing");
    let search = search_in(dir.path());
    for e in build_error(&search) {
        let ModelError::Missing { looked } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(looked.0, search.places());
        assert_eq!(
            looked.0.iter().map(|p| p.source).collect::<Vec<_>>(),
            [ModelSource::Cache, ModelSource::Repository]
        );
        let text = e.to_string();
        assert!(text.contains(&cache_file_name()), "{text}");
        assert!(
            text.contains(&dir.join("models").display().to_string()),
            "{text}"
        );
        assert!(text.contains("scripts/fetch-model.sh"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

#[test]
fn a_named_file_that_is_missing_is_not_replaced_by_another() {
    let dir = common::TestDir::new("model-named");
    let mut search = search_in(dir.path());
    // A file sits in models/ (any bytes: the search must not get that far).
    std::fs::write(dir.join("models").join(MODEL_FILE), b"x").unwrap();
    for (named, source) in [(true, ModelSource::Explicit), (false, ModelSource::Env)] {
        let missing = dir.join("nowhere.tflite");
        search.explicit = named.then(|| missing.clone());
        search.env = (!named).then(|| missing.clone());
        for e in build_error(&search) {
            match e {
                ModelError::Missing { looked } => {
                    assert_eq!(looked.0.len(), 1);
                    assert_eq!((looked.0[0].source, &looked.0[0].path), (source, &missing));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn pinned_copies_that_are_not_the_model_are_refused() {
    let dir = common::TestDir::new("model-checksum");
    let search = search_in(dir.path());
    let cached = search.cache_file().unwrap();
    let in_models = dir.join("models").join(MODEL_FILE);
    // Short (a truncated download): refused by its length; the full length but other bytes:
    // by its hash, which the error reports.
    let mut same_length = vec![0u8; MODEL_BYTES as usize];
    same_length[..4].copy_from_slice(b"TFL3");
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        ("truncated", vec![7u8; 1000], None),
        (
            "wrong checksum",
            same_length.clone(),
            Some(sha256_hex(&same_length)),
        ),
    ];
    for path in [&cached, &in_models] {
        for (what, bytes, hash) in &cases {
            std::fs::write(path, bytes).unwrap();
            for e in build_error(&search) {
                match e {
                    ModelError::Checksum {
                        path: p,
                        expected,
                        found,
                    } => {
                        assert_eq!(&p, path, "{what}");
                        assert_eq!(expected, MODEL_SHA256);
                        assert_eq!(found, hash.clone().unwrap_or_else(|| "-".into()), "{what}");
                    }
                    other => panic!("{what}: {other:?}"),
                }
            }
            std::fs::remove_file(path).unwrap();
        }
    }
}

#[test]
fn the_pinned_model_in_the_cache_comes_first_and_a_damaged_one_is_refused() {
    let Some(bytes) = real_model() else { return };
    let dir = common::TestDir::new("model-cache");
    let search = search_in(dir.path());
    let cached = search.cache_file().unwrap();
    std::fs::write(&cached, &bytes).unwrap();
    std::fs::write(dir.join("models").join(MODEL_FILE), &bytes).unwrap();
    let (place, model) = search.load().unwrap();
    assert_eq!((place.source, &place.path), (ModelSource::Cache, &cached));
    assert_eq!(model.native_size(), (256, 256));
    for mode in [SegmentMode::Ml, SegmentMode::Auto] {
        assert!(SegmenterConfig::new(mode)
            .with_search(search.clone())
            .factory()
            .is_ok());
    }
    // One byte changed in the weights: same length, another hash.
    let mut damaged = bytes.clone();
    damaged[bytes.len() / 2] ^= 0x40;
    std::fs::write(&cached, &damaged).unwrap();
    match &build_error(&search)[0] {
        ModelError::Checksum { found, .. } => assert_eq!(found, &sha256_hex(&damaged)),
        other => panic!("{other:?}"),
    }
    // Without the cache copy, models/ is used.
    std::fs::remove_file(&cached).unwrap();
    assert_eq!(search.find().unwrap().source, ModelSource::Repository);
}

#[test]
fn named_files_that_are_not_selfie_models_are_refused_when_loaded() {
    let dir = common::TestDir::new("model-named-bad");
    let mut search = search_in(dir.path());
    let file: PathBuf = dir.join("model.tflite");
    search.explicit = Some(file.clone());
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not a model", b"this is not a flatbuffer at all".to_vec()),
    ];
    if let Some(bytes) = real_model() {
        cases.push(("truncated", bytes[..bytes.len() / 2].to_vec()));
    }
    for (what, bytes) in cases {
        std::fs::write(&file, &bytes).unwrap();
        for e in build_error(&search) {
            match e {
                ModelError::Load { path, source } => {
                    assert_eq!(path, file, "{what}");
                    assert!(
                        matches!(
                            source,
                            MlError::Flatbuffer(_) | MlError::Missing(_) | MlError::Graph(_)
                        ),
                        "{what}: {source:?}"
                    );
                }
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}
