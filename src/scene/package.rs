//! Scene packages as zip files, and Teams app packages, read in memory, all untrusted.
//!
//! A *scene zip* is what Scene studio exports: `scene.json` and its PNGs (at the root, or in
//! one top folder). An *app package* (a zip or a folder) holds `manifest.json`, whose
//! `meetingExtensionDefinition.scenes[]` name each scene's zip (`file`), its `id`, `name`,
//! `preview`, `maxAudience` and `seatsReservedForOrganizersOrPresenters`.
//!
//! Nothing is extracted to disk. Every entry's header is checked before anything is
//! inflated (name, symlink, encryption, compression method, declared size against the
//! budget and the inflate ratio), then each entry is inflated counting bytes, never past its
//! declared size plus one byte, and must give exactly that size. A budget (entries,
//! uncompressed bytes) is kept per zip; an inner zip's entries and bytes count against its
//! own budget and its outer zip's.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zip::{CompressionMethod, ZipArchive, ZipReadOptions};

use super::{teams, Scene, SceneLimits};
use crate::error::{SceneError, ZipRefusal};

/// Most entries in a scene zip (directories count).
pub const MAX_ZIP_ENTRIES: usize = 64;

/// Largest inflate ratio of any entry (uncompressed : compressed).
pub const MAX_INFLATE_RATIO: u64 = 1000;

/// Most scenes an app package's manifest may list.
pub const MAX_APP_SCENES: usize = 5;

/// Largest `maxAudience` and `seatsReservedForOrganizersOrPresenters` a manifest may give.
pub const MAX_APP_AUDIENCE: u32 = 50;

/// Largest manifest.json accepted (bytes).
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

const MANIFEST_JSON: &str = "manifest.json";

/// Whether `data` starts like a zip (a local file header, or the end record of an empty
/// zip).
pub(super) fn looks_like_zip(data: &[u8]) -> bool {
    data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06")
}

/// Largest zip file read from disk: an app package's whole budget.
pub(super) fn max_zip_file_bytes(limits: &SceneLimits) -> u64 {
    app_budget(limits).1
}

fn scene_budget(limits: &SceneLimits) -> (usize, u64) {
    (MAX_ZIP_ENTRIES, limits.max_scene_bytes)
}

/// An app package's own budget: five scene zips' worth.
fn app_budget(limits: &SceneLimits) -> (usize, u64) {
    (
        MAX_ZIP_ENTRIES * MAX_APP_SCENES,
        limits.max_scene_bytes.saturating_mul(MAX_APP_SCENES as u64),
    )
}

fn refuse(entry: impl Into<String>, reason: ZipRefusal) -> SceneError {
    SceneError::Zip {
        entry: entry.into(),
        reason,
    }
}

/// Entries and bytes left, per nesting level (outermost first); a charge is taken from
/// every level.
struct Budget {
    levels: Vec<Level>,
}

struct Level {
    max_entries: usize,
    max_bytes: u64,
    entries: usize,
    bytes: u64,
}

impl Budget {
    fn new() -> Self {
        Self { levels: Vec::new() }
    }

    fn push(&mut self, (max_entries, max_bytes): (usize, u64)) {
        self.levels.push(Level {
            max_entries,
            max_bytes,
            entries: 0,
            bytes: 0,
        });
    }

    fn pop(&mut self) {
        self.levels.pop();
    }

    fn entry(&mut self, name: &str) -> Result<(), SceneError> {
        for l in &mut self.levels {
            l.entries += 1;
            if l.entries > l.max_entries {
                return Err(refuse(
                    name,
                    ZipRefusal::TooManyEntries { max: l.max_entries },
                ));
            }
        }
        Ok(())
    }

    fn bytes(&mut self, name: &str, n: u64) -> Result<(), SceneError> {
        for l in &mut self.levels {
            l.bytes = l.bytes.saturating_add(n);
            if l.bytes > l.max_bytes {
                return Err(refuse(name, ZipRefusal::TooLarge { max: l.max_bytes }));
            }
        }
        Ok(())
    }

    /// Whether `n` more bytes fit every level (without charging them).
    fn fits(&self, n: u64) -> Option<u64> {
        self.levels
            .iter()
            .find(|l| l.bytes.saturating_add(n) > l.max_bytes)
            .map(|l| l.max_bytes)
    }
}

/// Checks an entry name as the zip spells it: UTF-8, no NUL, no backslash, not absolute, no
/// drive letter, no `..`. Returns it with `.` and empty components dropped (`a//./b` is
/// `a/b`); a directory entry keeps no trailing slash.
fn entry_name(raw: &[u8]) -> Result<String, SceneError> {
    let lossy = || String::from_utf8_lossy(raw).into_owned();
    let Ok(name) = std::str::from_utf8(raw) else {
        return Err(refuse(lossy(), ZipRefusal::PathEscapes));
    };
    let drive = name.as_bytes().get(1) == Some(&b':');
    if name.contains(['\\', '\0']) || name.starts_with('/') || drive {
        return Err(refuse(name, ZipRefusal::PathEscapes));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(refuse(name, ZipRefusal::PathEscapes)),
            p if p.contains(':') => return Err(refuse(name, ZipRefusal::PathEscapes)),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// File bytes by normalized name.
type FileMap = HashMap<String, Vec<u8>>;

/// The files of one zip, inflated, by normalized name.
struct Files {
    /// The zip's own name, for errors about the whole archive.
    label: String,
    files: HashMap<String, Vec<u8>>,
}

/// Opens `data` as a zip and inflates every file entry within `budget`'s new level. Zip
/// entries inside are refused when `inner` (an app package's scene zip: one level only).
fn read_zip(
    label: &str,
    data: &[u8],
    level: (usize, u64),
    budget: &mut Budget,
    inner: bool,
) -> Result<Files, SceneError> {
    budget.push(level);
    let result = read_zip_level(label, data, budget, inner);
    budget.pop();
    result
}

fn read_zip_level(
    label: &str,
    data: &[u8],
    budget: &mut Budget,
    inner: bool,
) -> Result<Files, SceneError> {
    let corrupt = |e: zip::result::ZipError| refuse(label, ZipRefusal::Corrupt(e.to_string()));
    let mut archive = ZipArchive::new(Cursor::new(data)).map_err(corrupt)?;
    if let Some(l) = budget.levels.last() {
        if archive.len() > l.max_entries {
            return Err(refuse(
                label,
                ZipRefusal::TooManyEntries { max: l.max_entries },
            ));
        }
    }
    if archive.has_duplicate_names() {
        // The reader keeps one entry per exact name; find which name came twice.
        let entry = duplicated_name(&mut archive, data).unwrap_or_else(|| label.to_string());
        return Err(refuse(entry, ZipRefusal::Duplicate));
    }
    if archive.has_overlapping_entries().map_err(corrupt)? {
        return Err(refuse(
            label,
            ZipRefusal::Corrupt("entries overlap".to_string()),
        ));
    }

    // Headers first: nothing is inflated until every entry passed.
    let mut wanted = Vec::new();
    let mut seen = HashSet::new();
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(corrupt)?;
        let name = entry_name(f.name_raw())?;
        budget.entry(&name)?;
        if f.is_symlink() {
            return Err(refuse(name, ZipRefusal::Symlink));
        }
        if f.encrypted() {
            return Err(refuse(name, ZipRefusal::Encrypted));
        }
        if !seen.insert(name.clone()) {
            return Err(refuse(name, ZipRefusal::Duplicate));
        }
        if f.is_dir() {
            continue;
        }
        let method = f.compression();
        if !matches!(
            method,
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(refuse(name, ZipRefusal::Compression(method.to_string())));
        }
        let (size, compressed) = (f.size(), f.compressed_size());
        if size > compressed.saturating_mul(MAX_INFLATE_RATIO) {
            return Err(refuse(
                name,
                ZipRefusal::Ratio {
                    size,
                    compressed,
                    max: MAX_INFLATE_RATIO,
                },
            ));
        }
        if let Some(max) = budget.fits(size) {
            return Err(refuse(name, ZipRefusal::TooLarge { max }));
        }
        budget.bytes(&name, size)?;
        if inner && name.to_ascii_lowercase().ends_with(".zip") {
            return Err(refuse(name, ZipRefusal::NestedTooDeep));
        }
        wanted.push((i, name, size));
    }

    // Then inflate, counting: never past the claimed size plus one byte.
    let mut files = HashMap::with_capacity(wanted.len());
    for (i, name, claimed) in wanted {
        let options = ZipReadOptions::new().enforce_header_consistency(true);
        let f = archive
            .by_index_with_options(i, options)
            .map_err(|e| refuse(&name, ZipRefusal::Corrupt(e.to_string())))?;
        let mut out = Vec::with_capacity(usize::try_from(claimed.min(64 * 1024)).unwrap_or(0));
        let read = f.take(claimed.saturating_add(1)).read_to_end(&mut out);
        let counted = out.len() as u64;
        if let Err(e) = read {
            // The reader also stops at the claimed size, with an error, when more follows.
            let reason = if counted == claimed {
                ZipRefusal::SizeMismatch {
                    claimed,
                    counted: claimed.saturating_add(1),
                }
            } else {
                ZipRefusal::Corrupt(e.to_string())
            };
            return Err(refuse(name, reason));
        }
        if counted != claimed {
            return Err(refuse(name, ZipRefusal::SizeMismatch { claimed, counted }));
        }
        files.insert(name, out);
    }
    Ok(Files {
        label: label.to_string(),
        files,
    })
}

/// The first name the central directory holds twice (a scan of its records, run only when
/// the reader reported duplicates).
fn duplicated_name<R: Read + std::io::Seek>(
    archive: &mut ZipArchive<R>,
    data: &[u8],
) -> Option<String> {
    let start = usize::try_from(archive.central_directory_start()).ok()?;
    let dir = data.get(start..)?;
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    let mut at = 0;
    while let Some(rec) = dir.get(at..at + 46) {
        if !rec.starts_with(b"PK\x01\x02") {
            break;
        }
        let le = |o: usize| usize::from(u16::from_le_bytes([rec[o], rec[o + 1]]));
        let (n, extra, comment) = (le(28), le(30), le(32));
        let name = dir.get(at + 46..at + 46 + n)?;
        let c = counts.entry(name).or_default();
        *c += 1;
        if *c == 2 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at += 46 + n + extra + comment;
    }
    None
}

/// A scene zip's files: scene.json and what lies beside it (at the root, or in the one top
/// folder holding scene.json), keyed relative to it.
fn scene_files(files: Files) -> Result<(Vec<u8>, FileMap), SceneError> {
    let prefix = if files.files.contains_key(teams::SCENE_JSON) {
        String::new()
    } else {
        let mut found = files
            .files
            .keys()
            .filter(|k| {
                k.split_once('/')
                    .is_some_and(|(_, rest)| rest == teams::SCENE_JSON)
            })
            .map(|k| k[..k.len() - teams::SCENE_JSON.len()].to_string());
        match (found.next(), found.next()) {
            (Some(p), None) => p,
            _ => {
                let entry = format!("{}/{}", files.label, teams::SCENE_JSON);
                return Err(refuse(entry, ZipRefusal::Missing));
            }
        }
    };
    let mut map = files.files;
    let json = map
        .remove(&format!("{prefix}{}", teams::SCENE_JSON))
        .unwrap_or_default();
    let rest = map
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v)))
        .collect();
    Ok((json, rest))
}

/// Loads a scene from scene.json and files; an asset scene.json names that is not there is
/// [`ZipRefusal::Missing`], named `label/asset`.
fn load_scene(
    label: &str,
    json: &[u8],
    files: &HashMap<String, Vec<u8>>,
    limits: &SceneLimits,
) -> Result<Scene, SceneError> {
    teams::load_from_memory(json, files, limits).map_err(|e| match e {
        SceneError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => refuse(
            format!("{label}/{}", path.to_string_lossy()),
            ZipRefusal::Missing,
        ),
        e => e,
    })
}

/// A scene zip (Scene studio's export) held in memory.
pub(super) fn load_scene_zip(
    label: &str,
    data: &[u8],
    limits: &SceneLimits,
) -> Result<Scene, SceneError> {
    let mut budget = Budget::new();
    let files = read_zip(label, data, scene_budget(limits), &mut budget, false)?;
    let (json, rest) = scene_files(files)?;
    load_scene(label, &json, &rest, limits)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    meeting_extension_definition: Option<RawExtension>,
}

#[derive(Deserialize)]
struct RawExtension {
    #[serde(default)]
    scenes: Option<Vec<RawAppScene>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAppScene {
    id: String,
    name: String,
    file: String,
    #[serde(default)]
    #[allow(dead_code)]
    preview: Option<String>,
    max_audience: u32,
    #[serde(default)]
    seats_reserved_for_organizers_or_presenters: Option<u32>,
}

/// The chosen scene of a manifest: its `file` and its two numbers.
struct Chosen {
    file: String,
    max_audience: u32,
    reserved: u32,
}

/// Parses manifest.json and picks the scene whose `id` or `name` is `select` (the first
/// when `None`).
fn choose(manifest: &[u8], select: Option<&str>) -> Result<Chosen, SceneError> {
    let manifest = manifest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(manifest);
    let raw: RawManifest =
        serde_json::from_slice(manifest).map_err(|e| SceneError::Manifest(e.to_string()))?;
    let scenes = raw
        .meeting_extension_definition
        .and_then(|m| m.scenes)
        .unwrap_or_default();
    if scenes.is_empty() {
        return Err(SceneError::Manifest(
            "meetingExtensionDefinition.scenes is missing or empty".to_string(),
        ));
    }
    if scenes.len() > MAX_APP_SCENES {
        return Err(SceneError::Manifest(format!(
            "{} scenes, at most {MAX_APP_SCENES} allowed",
            scenes.len()
        )));
    }
    for (i, s) in scenes.iter().enumerate() {
        let reserved = s.seats_reserved_for_organizers_or_presenters.unwrap_or(0);
        if s.max_audience == 0 || s.max_audience > MAX_APP_AUDIENCE {
            return Err(SceneError::Manifest(format!(
                "scenes[{i}].maxAudience is {}, must be 1 to {MAX_APP_AUDIENCE}",
                s.max_audience
            )));
        }
        if reserved > MAX_APP_AUDIENCE {
            return Err(SceneError::Manifest(format!(
                "scenes[{i}].seatsReservedForOrganizersOrPresenters is {reserved}, at most \
                 {MAX_APP_AUDIENCE}"
            )));
        }
    }
    let pick = match select {
        None => scenes.first(),
        Some(w) => scenes
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(w))
            .or_else(|| scenes.iter().find(|s| s.name == w)),
    };
    let Some(s) = pick else {
        let known = scenes
            .iter()
            .map(|s| format!("{} ({})", s.name, s.id))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SceneError::NoSuchScene {
            wanted: select.unwrap_or_default().to_string(),
            known,
        });
    };
    Ok(Chosen {
        file: s.file.clone(),
        max_audience: s.max_audience,
        reserved: s.seats_reserved_for_organizers_or_presenters.unwrap_or(0),
    })
}

fn apply(mut scene: Scene, chosen: &Chosen) -> Scene {
    scene.max_audience = Some(chosen.max_audience as usize);
    scene.reserved_seats = chosen.reserved as usize;
    scene
}

/// An app package zip held in memory: manifest.json at its root, the chosen scene's zip
/// inside it (one level of nesting).
fn load_app_zip(
    label: &str,
    outer: Files,
    select: Option<&str>,
    budget: &mut Budget,
    limits: &SceneLimits,
) -> Result<Scene, SceneError> {
    let manifest = outer
        .files
        .get(MANIFEST_JSON)
        .map_or(&[][..], Vec::as_slice);
    let chosen = choose(manifest, select)?;
    let file = entry_name(chosen.file.as_bytes())?;
    let Some(inner) = outer.files.get(&file) else {
        return Err(refuse(format!("{label}/{file}"), ZipRefusal::Missing));
    };
    let inner_label = format!("{label}/{file}");
    let files = read_zip(&inner_label, inner, scene_budget(limits), budget, true)?;
    let (json, rest) = scene_files(files)?;
    Ok(apply(
        load_scene(&inner_label, &json, &rest, limits)?,
        &chosen,
    ))
}

/// Whether a zip's central directory has manifest.json at its root and no scene.json there
/// (only names are read; an unreadable zip is not an app package).
fn is_app_zip(data: &[u8]) -> bool {
    let Ok(archive) = ZipArchive::new(Cursor::new(data)) else {
        return false;
    };
    let names: HashSet<String> = archive
        .file_names()
        .filter_map(|n| entry_name(n.ok()?.as_bytes()).ok())
        .collect();
    names.contains(MANIFEST_JSON) && !names.contains(teams::SCENE_JSON)
}

/// A zip held in memory: an app package when manifest.json is at its root and scene.json
/// is not; a scene zip otherwise. `select` picks an app package's scene by id or name.
pub(super) fn load_zip(
    label: &str,
    data: &[u8],
    select: Option<&str>,
    limits: &SceneLimits,
) -> Result<Scene, SceneError> {
    if !is_app_zip(data) {
        if select.is_some() {
            return Err(SceneError::Manifest(format!(
                "{label} is a scene zip, not an app package: there is no scene to pick"
            )));
        }
        return load_scene_zip(label, data, limits);
    }
    // The app package's level stays while its inner zip is read, which is charged to it too.
    let mut budget = Budget::new();
    budget.push(app_budget(limits));
    let outer = read_zip_level(label, data, &mut budget, false)?;
    load_app_zip(label, outer, select, &mut budget, limits)
}

/// An app package folder: manifest.json, and the scene zips it names, inside `dir`.
pub(super) fn load_app_dir(
    dir: &Path,
    select: Option<&str>,
    limits: &SceneLimits,
) -> Result<Scene, SceneError> {
    let manifest_path = dir.join(MANIFEST_JSON);
    let meta = std::fs::metadata(&manifest_path).map_err(teams::io_err(&manifest_path))?;
    let manifest = teams::read_capped(
        &manifest_path,
        MANIFEST_JSON,
        meta.len(),
        MAX_MANIFEST_BYTES,
    )?;
    let chosen = choose(&manifest, select)?;
    let file = entry_name(chosen.file.as_bytes())?;
    let canon_dir = dir.canonicalize().map_err(teams::io_err(dir))?;
    let joined: PathBuf = canon_dir.join(&file);
    let canon = joined.canonicalize().map_err(teams::io_err(&joined))?;
    if !canon.starts_with(&canon_dir) {
        return Err(refuse(file, ZipRefusal::PathEscapes));
    }
    let meta = std::fs::metadata(&canon).map_err(teams::io_err(&canon))?;
    let scene = if meta.is_dir() {
        teams::load(&canon, limits)?
    } else {
        let data = teams::read_capped(&canon, &file, meta.len(), max_zip_file_bytes(limits))?;
        load_scene_zip(&file, &data, limits)?
    };
    Ok(apply(scene, &chosen))
}

/// Whether `dir` is an app package folder (manifest.json, no scene.json).
pub(super) fn is_app_dir(dir: &Path) -> bool {
    dir.join(MANIFEST_JSON).is_file() && !dir.join(teams::SCENE_JSON).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_confined() {
        for bad in [
            &b"../a.png"[..],
            b"a/../../b",
            b"/etc/x",
            b"C:/x.png",
            b"c:x.png",
            b"a\\b.png",
            b"a\0b",
            b"a/b:c",
            b"\xff.png",
        ] {
            assert!(
                matches!(
                    entry_name(bad),
                    Err(SceneError::Zip {
                        reason: ZipRefusal::PathEscapes,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(entry_name(b"./a//b.png").unwrap(), "a/b.png");
        assert_eq!(entry_name(b"dir/").unwrap(), "dir");
    }

    #[test]
    fn budgets_charge_every_level() {
        let mut b = Budget::new();
        b.push((3, 100));
        b.push((10, 1000));
        assert!(b.bytes("a", 60).is_ok());
        assert!(matches!(
            b.bytes("b", 60),
            Err(SceneError::Zip { ref entry, reason: ZipRefusal::TooLarge { max: 100 } }) if entry == "b"
        ));
        b.pop();
        assert_eq!(b.fits(900), Some(100));
        for _ in 0..3 {
            b.entry("e").unwrap();
        }
        assert!(matches!(
            b.entry("f"),
            Err(SceneError::Zip {
                reason: ZipRefusal::TooManyEntries { max: 3 },
                ..
            })
        ));
    }

    #[test]
    fn manifest_picks_by_id_or_name_and_checks_ranges() {
        let m =
            |scenes: &str| format!(r#"{{"meetingExtensionDefinition": {{"scenes": {scenes}}}}}"#);
        let two = m(r#"[
            {"id": "A1", "name": "One", "file": "a.zip", "preview": "a.png", "maxAudience": 10},
            {"id": "B2", "name": "Two", "file": "b.zip", "preview": "b.png", "maxAudience": 20,
             "seatsReservedForOrganizersOrPresenters": 3}]"#);
        let c = choose(two.as_bytes(), None).unwrap();
        assert_eq!(
            (c.file.as_str(), c.max_audience, c.reserved),
            ("a.zip", 10, 0)
        );
        let c = choose(two.as_bytes(), Some("b2")).unwrap();
        assert_eq!(
            (c.file.as_str(), c.max_audience, c.reserved),
            ("b.zip", 20, 3)
        );
        assert_eq!(choose(two.as_bytes(), Some("One")).unwrap().file, "a.zip");
        assert!(matches!(
            choose(two.as_bytes(), Some("Three")),
            Err(SceneError::NoSuchScene { ref known, .. }) if known == "One (A1), Two (B2)"
        ));
        let one = |extra: &str| {
            m(&format!(
                r#"[{{"id": "A", "name": "N", "file": "a.zip", {extra}}}]"#
            ))
        };
        for bad in [
            one(r#""maxAudience": 51"#),
            one(r#""maxAudience": 0"#),
            one(r#""maxAudience": 5, "seatsReservedForOrganizersOrPresenters": 51"#),
            m("[]"),
            "{}".to_string(),
            "[".to_string(),
        ] {
            assert!(
                matches!(choose(bad.as_bytes(), None), Err(SceneError::Manifest(_))),
                "{bad}"
            );
        }
        let six = m(&format!(
            "[{}]",
            [r#"{"id": "A", "name": "N", "file": "a.zip", "maxAudience": 5}"#; 6].join(",")
        ));
        assert!(matches!(
            choose(six.as_bytes(), None),
            Err(SceneError::Manifest(ref m)) if m.contains("at most 5")
        ));
    }
}
