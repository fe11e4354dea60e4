//! The Teams scene package loader: `scene.json` plus PNG assets, all untrusted.
//!
//! Order of checks, cheapest first, so hostile input is refused before it costs anything:
//! scene.json size, JSON shape, geometry and counts, asset paths (no absolute paths, no `..`,
//! no symlinks out of the folder), extensions, file sizes (each, then the package total), the
//! PNG signature, the image size read from the IHDR header, and only then decoding.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{
    check_counts, check_extent, check_rect, check_seat, RgbaImage, Scene, SceneLimits, Seat,
    Sprite, MAX_SCENE_JSON_BYTES,
};
use crate::error::SceneError;
use crate::geometry::{Extent, WorldRect};

/// The file name of the scene description inside a package.
pub(super) const SCENE_JSON: &str = "scene.json";

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// A string-ish optional value: Teams writes strings, some tools write numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum Text {
    Str(String),
    Num(serde_json::Number),
}

impl Text {
    fn into_string(self) -> String {
        match self {
            Text::Str(s) => s,
            Text::Num(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawScene {
    #[serde(default)]
    protocol_version: Option<Text>,
    #[serde(default)]
    id: Option<Text>,
    #[serde(default)]
    auto_zoom: Option<bool>,
    #[serde(default, rename = "mirrorParticipants")]
    mirror: Option<bool>,
    /// The published Teams sample spells the key with a trailing space.
    #[serde(default, rename = "mirrorParticipants ")]
    mirror_misspelled: Option<bool>,
    extent: Extent,
    #[serde(default)]
    sprites: Option<Vec<RawSprite>>,
    #[serde(default)]
    participants: Option<Vec<RawSeat>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSprite {
    filename: String,
    cx: f64,
    cy: f64,
    width: f64,
    height: f64,
    #[serde(default)]
    z_order: Option<i32>,
    #[serde(default)]
    is_alpha: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSeat {
    cx: f64,
    cy: f64,
    width: f64,
    height: f64,
    #[serde(default)]
    z_order: Option<i32>,
    #[serde(default)]
    seating_order: Option<u32>,
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SceneError + '_ {
    move |source| SceneError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads at most `max` bytes of `path` (whose metadata said `len`), failing if it grew.
pub(super) fn read_capped(
    path: &Path,
    name: &str,
    len: u64,
    max: u64,
) -> Result<Vec<u8>, SceneError> {
    let file = fs::File::open(path).map_err(io_err(path))?;
    let mut data = Vec::with_capacity(usize::try_from(len.min(max)).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io_err(path))?;
    let size = data.len() as u64;
    if size > max {
        return Err(SceneError::FileTooLarge {
            name: name.to_string(),
            size,
            max,
        });
    }
    Ok(data)
}

pub(super) fn load(dir: &Path, limits: &SceneLimits) -> Result<Scene, SceneError> {
    // A path to scene.json itself is accepted too.
    let (dir, json_path) = if dir.is_file() {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        (parent, dir.to_path_buf())
    } else {
        (dir.to_path_buf(), dir.join(SCENE_JSON))
    };

    let meta = fs::metadata(&json_path).map_err(io_err(&json_path))?;
    if meta.len() > MAX_SCENE_JSON_BYTES {
        return Err(SceneError::FileTooLarge {
            name: SCENE_JSON.to_string(),
            size: meta.len(),
            max: MAX_SCENE_JSON_BYTES,
        });
    }
    let json = read_capped(&json_path, SCENE_JSON, meta.len(), MAX_SCENE_JSON_BYTES)?;
    let json_bytes = json.len() as u64;
    let mut scene = parse(&json, limits)?;

    let canon_dir = dir.canonicalize().map_err(io_err(&dir))?;
    load_disk_assets(&canon_dir, &mut scene, json_bytes, limits)?;
    Ok(scene)
}

/// Parses and checks scene.json; sprites get a placeholder image until assets are loaded.
fn parse(json: &[u8], limits: &SceneLimits) -> Result<Scene, SceneError> {
    // Tolerate a UTF-8 byte-order mark (Windows editors write one).
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    let raw: RawScene =
        serde_json::from_slice(json).map_err(|e| SceneError::Json(e.to_string()))?;

    check_extent(&raw.extent)?;
    let raw_seats = raw.participants.unwrap_or_default();
    let raw_sprites = raw.sprites.unwrap_or_default();
    check_counts(raw_seats.len(), raw_sprites.len(), limits)?;

    let mut seats = Vec::with_capacity(raw_seats.len());
    for (i, s) in raw_seats.into_iter().enumerate() {
        let rect = WorldRect {
            cx: s.cx,
            cy: s.cy,
            width: s.width,
            height: s.height,
        };
        check_seat(i, &rect, &raw.extent)?;
        seats.push(Seat {
            rect,
            z_order: s.z_order.unwrap_or(0),
            seating_order: s
                .seating_order
                .unwrap_or_else(|| u32::try_from(i).unwrap_or(u32::MAX)),
        });
    }

    // Placeholder shared by all sprites until the assets are decoded.
    let placeholder = Arc::new(RgbaImage {
        width: 1,
        height: 1,
        data: vec![0; 4],
    });
    let mut sprites = Vec::with_capacity(raw_sprites.len());
    for (i, s) in raw_sprites.into_iter().enumerate() {
        let rect = WorldRect {
            cx: s.cx,
            cy: s.cy,
            width: s.width,
            height: s.height,
        };
        check_rect("sprites", i, &rect)?;
        sprites.push(Sprite {
            name: s.filename,
            rect,
            z_order: s.z_order.unwrap_or(0),
            is_alpha: s.is_alpha.unwrap_or(false),
            image: Arc::clone(&placeholder),
        });
    }

    Ok(Scene {
        id: raw.id.map(Text::into_string).unwrap_or_default(),
        protocol_version: raw
            .protocol_version
            .map(Text::into_string)
            .unwrap_or_default(),
        auto_zoom: raw.auto_zoom.unwrap_or(false),
        mirror_participants: raw.mirror.or(raw.mirror_misspelled).unwrap_or(false),
        extent: raw.extent,
        sprites,
        seats,
        max_audience: None,
        reserved_seats: 0,
    })
}

/// Checks an asset name lexically: a relative path without `..` (no absolute path, no
/// prefix), ending in `.png` (any case). Returns the name as a path.
fn check_name(name: &str) -> Result<&Path, SceneError> {
    let rel = Path::new(name);
    let escapes = rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(SceneError::PathEscapes(name.to_string()));
    }
    let is_png = rel
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        return Err(SceneError::NotPng(name.to_string()));
    }
    Ok(rel)
}

/// Resolves an asset name to a canonical path inside `canon_dir`.
fn resolve(canon_dir: &Path, name: &str) -> Result<PathBuf, SceneError> {
    let rel = check_name(name)?;
    let joined = canon_dir.join(rel);
    let canon = joined.canonicalize().map_err(io_err(&joined))?;
    if !canon.starts_with(canon_dir) {
        return Err(SceneError::PathEscapes(name.to_string()));
    }
    Ok(canon)
}

/// The `/`-joined normal components of a checked asset name (`./a//b.png` is `a/b.png`):
/// the key of an in-memory package's file.
fn normalized(name: &str) -> Result<String, SceneError> {
    let rel = check_name(name)?;
    let parts: Vec<&str> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    Ok(parts.join("/"))
}

/// One distinct asset file of a package.
struct Asset<K> {
    name: String,
    key: K,
    size: u64,
}

/// Loads every sprite's image. `locate` finds a sprite's file (a key that identifies it, so a
/// file named twice is decoded once, and its size) without reading it; `read` reads it,
/// failing past the given byte limit. Sizes are checked, each and in total, before anything
/// is read.
fn load_assets<'d, K, L, R>(
    scene: &mut Scene,
    json_bytes: u64,
    limits: &SceneLimits,
    locate: L,
    read: R,
) -> Result<(), SceneError>
where
    K: Eq + std::hash::Hash + Clone,
    L: Fn(&str) -> Result<(K, u64), SceneError>,
    R: Fn(&K, &str, u64) -> Result<std::borrow::Cow<'d, [u8]>, SceneError>,
{
    let mut assets: Vec<Asset<K>> = Vec::new();
    let mut index_of: HashMap<K, usize> = HashMap::new();
    let mut sprite_asset = Vec::with_capacity(scene.sprites.len());
    for sprite in &scene.sprites {
        let (key, size) = locate(&sprite.name)?;
        if let Some(&i) = index_of.get(&key) {
            sprite_asset.push(i);
            continue;
        }
        if size > limits.max_image_bytes {
            return Err(SceneError::FileTooLarge {
                name: sprite.name.clone(),
                size,
                max: limits.max_image_bytes,
            });
        }
        index_of.insert(key.clone(), assets.len());
        sprite_asset.push(assets.len());
        assets.push(Asset {
            name: sprite.name.clone(),
            key,
            size,
        });
    }
    let total = assets
        .iter()
        .fold(json_bytes, |acc, a| acc.saturating_add(a.size));
    if total > limits.max_scene_bytes {
        return Err(SceneError::SceneTooLarge {
            size: total,
            max: limits.max_scene_bytes,
        });
    }

    let mut images = Vec::with_capacity(assets.len());
    for a in &assets {
        let data = read(&a.key, &a.name, a.size)?;
        images.push(Arc::new(decode_png(&a.name, &data, limits)?));
    }
    for (sprite, i) in scene.sprites.iter_mut().zip(sprite_asset) {
        if let Some(img) = images.get(i) {
            sprite.image = Arc::clone(img);
        }
    }
    Ok(())
}

/// Loads the assets of a package on disk, inside `canon_dir`.
fn load_disk_assets(
    canon_dir: &Path,
    scene: &mut Scene,
    json_bytes: u64,
    limits: &SceneLimits,
) -> Result<(), SceneError> {
    let locate = |name: &str| -> Result<(PathBuf, u64), SceneError> {
        let path = resolve(canon_dir, name)?;
        let meta = fs::metadata(&path).map_err(io_err(&path))?;
        if !meta.is_file() {
            return Err(SceneError::NotPng(name.to_string()));
        }
        Ok((path, meta.len()))
    };
    let read = |path: &PathBuf, name: &str, size: u64| {
        read_capped(path, name, size, limits.max_image_bytes).map(std::borrow::Cow::Owned)
    };
    load_assets(scene, json_bytes, limits, locate, read)
}

/// The in-memory counterpart of [`load`]: `json` is scene.json, `files` maps asset names
/// (relative paths with `/` separators) to their bytes. The same checks and limits apply;
/// names are matched after dropping `.` and empty components, and a key that would escape
/// the package (`..`, absolute) never matches.
pub(super) fn load_from_memory(
    json: &[u8],
    files: &HashMap<String, Vec<u8>>,
    limits: &SceneLimits,
) -> Result<Scene, SceneError> {
    let json_bytes = json.len() as u64;
    if json_bytes > MAX_SCENE_JSON_BYTES {
        return Err(SceneError::FileTooLarge {
            name: SCENE_JSON.to_string(),
            size: json_bytes,
            max: MAX_SCENE_JSON_BYTES,
        });
    }
    let mut scene = parse(json, limits)?;
    if scene.sprites.is_empty() {
        return Ok(scene);
    }
    let by_name: HashMap<String, &[u8]> = files
        .iter()
        .filter_map(|(k, v)| Some((normalized(k).ok()?, v.as_slice())))
        .collect();
    let locate = |name: &str| -> Result<(String, u64), SceneError> {
        let key = normalized(name)?;
        match by_name.get(&key) {
            Some(data) => Ok((key, data.len() as u64)),
            None => Err(SceneError::Io {
                path: PathBuf::from(name),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }),
        }
    };
    let read = |key: &String, _: &str, _: u64| {
        let data: &[u8] = by_name.get(key).copied().unwrap_or_default();
        Ok(std::borrow::Cow::Borrowed(data))
    };
    load_assets(&mut scene, json_bytes, limits, locate, read)?;
    Ok(scene)
}

/// Width and height from the IHDR chunk, which the PNG format requires to come first.
fn png_header_size(name: &str, data: &[u8]) -> Result<(u32, u32), SceneError> {
    if data.get(..8) != Some(&PNG_SIGNATURE[..]) {
        return Err(SceneError::NotPng(name.to_string()));
    }
    let be = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    };
    match (be(8), data.get(12..16), be(16), be(20)) {
        (Some(13), Some(b"IHDR"), Some(w), Some(h)) => Ok((w, h)),
        _ => Err(SceneError::Decode {
            name: name.to_string(),
            reason: "missing or malformed IHDR header".to_string(),
        }),
    }
}

/// Checks the signature and the header's size, then decodes to RGBA8.
pub(super) fn decode_png(
    name: &str,
    data: &[u8],
    limits: &SceneLimits,
) -> Result<RgbaImage, SceneError> {
    let (width, height) = png_header_size(name, data)?;
    let bad_size = |width, height| SceneError::BadImageSize {
        name: name.to_string(),
        width,
        height,
        max_width: limits.max_image_width,
        max_height: limits.max_image_height,
    };
    if width == 0
        || height == 0
        || width % 2 == 1
        || height % 2 == 1
        || width > limits.max_image_width
        || height > limits.max_image_height
    {
        return Err(bad_size(width, height));
    }
    let decode_err = |e: image::ImageError| SceneError::Decode {
        name: name.to_string(),
        reason: e.to_string(),
    };
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(width);
    image_limits.max_image_height = Some(height);
    // Room for a 16-bit RGBA decode plus the 8-bit copy.
    image_limits.max_alloc = Some(
        u64::from(width)
            .saturating_mul(u64::from(height))
            .saturating_mul(16)
            .saturating_add(1 << 20),
    );
    let decoder =
        image::codecs::png::PngDecoder::with_limits(std::io::Cursor::new(data), image_limits)
            .map_err(decode_err)?;
    let rgba = image::DynamicImage::from_decoder(decoder)
        .map_err(decode_err)?
        .into_rgba8();
    if rgba.dimensions() != (width, height) {
        let (w, h) = rgba.dimensions();
        return Err(bad_size(w, h));
    }
    RgbaImage::new(width, height, rgba.into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        crate::test_png::encoded(width, height, 200)
    }

    const GOOD: &str = r#"{
        "protocolVersion": "1.0", "id": "s", "autoZoom": true, "mirrorParticipants ": true,
        "extent": {"left": -1, "top": -1, "width": 2, "height": 2},
        "sprites": [{"filename": "a.png", "cx": 0, "cy": 0, "width": 4, "height": 4}],
        "participants": [
            {"cx": 0.5, "cy": 0, "width": 0.5, "height": 0.5, "zOrder": 2},
            {"cx": -0.5, "cy": 0, "width": 0.5, "height": 0.5, "seatingOrder": 0}
        ]
    }"#;

    #[test]
    fn parses_lenient_optional_keys() {
        let s = parse(GOOD.as_bytes(), &SceneLimits::default()).unwrap();
        assert_eq!((s.id.as_str(), s.protocol_version.as_str()), ("s", "1.0"));
        assert!(s.auto_zoom && s.mirror_participants);
        assert_eq!(s.sprites[0].z_order, 0);
        assert!(!s.sprites[0].is_alpha);
        assert_eq!((s.seats[0].z_order, s.seats[0].seating_order), (2, 0));
        assert_eq!((s.seats[1].z_order, s.seats[1].seating_order), (0, 0));
        assert_eq!(s.seat_order(), vec![0, 1]);

        // The correct spelling wins over the misspelled one; numbers are accepted as ids.
        let j = r#"{"id": 7, "protocolVersion": 1.5, "mirrorParticipants": false,
            "mirrorParticipants ": true, "extent": {"left": 0, "top": 0, "width": 1, "height": 1},
            "participants": [{"cx": 0.5, "cy": 0.5, "width": 1, "height": 1}], "extra": [1]}"#;
        let s = parse(j.as_bytes(), &SceneLimits::default()).unwrap();
        assert_eq!((s.id.as_str(), s.protocol_version.as_str()), ("7", "1.5"));
        assert!(!s.mirror_participants);

        // A byte-order mark is tolerated.
        let with_bom = [&b"\xEF\xBB\xBF"[..], GOOD.as_bytes()].concat();
        assert!(parse(&with_bom, &SceneLimits::default()).is_ok());
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let err = parse(b"{\n \"extent\": [", &SceneLimits::default()).unwrap_err();
        match err {
            SceneError::Json(msg) => assert!(msg.contains("line 2"), "{msg}"),
            e => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn asset_paths_are_confined() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        for bad in ["../x.png", "a/../../x.png", "/etc/x.png", "a/.."] {
            assert!(
                matches!(resolve(&dir, bad), Err(SceneError::PathEscapes(_))),
                "{bad}"
            );
        }
        for bad in ["a.jpg", "a", "", "a.png.txt"] {
            assert!(
                matches!(resolve(&dir, bad), Err(SceneError::NotPng(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            resolve(&dir, "./together-mode-surely-missing.PNG"),
            Err(SceneError::Io { .. })
        ));
    }

    #[test]
    fn png_checks_precede_decoding() {
        let limits = SceneLimits::default();
        let img = decode_png("a.png", &png(4, 2), &limits).unwrap();
        assert_eq!((img.width(), img.height()), (4, 2));
        assert_eq!(&img.data()[4..8], &[1, 0, 9, 200]);

        assert!(matches!(
            decode_png("a.png", b"GIF89a..........", &limits),
            Err(SceneError::NotPng(_))
        ));
        assert!(matches!(
            decode_png("a.png", &PNG_SIGNATURE, &limits),
            Err(SceneError::Decode { .. })
        ));
        assert!(matches!(
            decode_png("a.png", &png(3, 2), &limits),
            Err(SceneError::BadImageSize {
                width: 3,
                height: 2,
                ..
            })
        ));
        assert!(matches!(
            decode_png("a.png", &png(4, 2), &limits.with_max_image_size(2, 2)),
            Err(SceneError::BadImageSize { width: 4, .. })
        ));
        let good = png(4, 2);
        assert!(matches!(
            decode_png("a.png", &good[..good.len() - 20], &limits),
            Err(SceneError::Decode { .. })
        ));
    }
}
