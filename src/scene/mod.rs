//! Scenes: the world box, the sprites (scene images) and the seats participants sit in.
//!
//! A [`Scene`] comes from a Teams scene package ([`Scene::load`], untrusted, checked against
//! [`SceneLimits`]), from a built-in generated in code ([`Scene::builtin`]), or from the
//! benchmark grid layout ([`Scene::grid`]). Positions are centre-based world units inside
//! [`Scene::extent`] (see [`crate::geometry`]); lowest `z_order` is drawn first.
//!
//! # Memory layout
//!
//! [`RgbaImage`] holds 8-bit R, G, B, A per pixel, straight (not premultiplied) alpha, rows
//! tightly packed: `width * 4` bytes per row, `width * height * 4` bytes in all. Sprite images
//! are shared ([`Arc`]) between sprites that use the same asset and between clones of a scene.

mod builtin;
mod package;
mod teams;

pub use package::{MAX_APP_AUDIENCE, MAX_APP_SCENES, MAX_INFLATE_RATIO, MAX_ZIP_ENTRIES};

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::error::SceneError;
use crate::geometry::{Extent, WorldRect};

/// Largest `scene.json` accepted (bytes).
pub const MAX_SCENE_JSON_BYTES: u64 = 1024 * 1024;

/// Largest absolute value of any scene coordinate or size (world units). Larger values are
/// rejected as [`SceneError::BadNumber`]: real scenes use small numbers, and this keeps every
/// later computation far from overflow.
pub const MAX_WORLD_COORD: f64 = 1.0e9;

/// Most participants [`Scene::grid`] lays out (a 50 x 50 grid).
pub const MAX_GRID_PARTICIPANTS: usize = 50 * 50;

/// Largest `width x height` [`Scene::grid`] accepts (its background is generated at that size).
pub const MAX_GRID_SIZE: (u32, u32) = (3840, 2160);

/// An 8-bit RGBA image with straight alpha, rows tightly packed (`width * 4` bytes each).
#[derive(Clone, PartialEq, Eq)]
pub struct RgbaImage {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl RgbaImage {
    /// Wraps `data`, which must hold exactly `width * height * 4` bytes; both sides must be
    /// non-zero.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Self, SceneError> {
        if width == 0 || height == 0 {
            return Err(SceneError::EmptyImage { width, height });
        }
        let expected = u64::from(width)
            .checked_mul(u64::from(height))
            .and_then(|n| n.checked_mul(4))
            .unwrap_or(u64::MAX);
        if u64::try_from(data.len()).ok() != Some(expected) {
            return Err(SceneError::ImageBuffer {
                width,
                height,
                expected,
                found: data.len(),
            });
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels: `height` rows of `width * 4` bytes, R, G, B, A.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

impl fmt::Debug for RgbaImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RgbaImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// A scene image placed in the world (Teams `sprites[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sprite {
    /// Where it came from: the asset file name, or a built-in's name for generated images.
    pub name: String,
    /// Placement in world units; may extend past the extent.
    pub rect: WorldRect,
    /// Draw order: lowest first.
    pub z_order: i32,
    /// Whether the image's alpha channel is used; `false` draws it opaque.
    pub is_alpha: bool,
    /// The pixels, shared between sprites that use the same asset.
    pub image: Arc<RgbaImage>,
}

/// A place a participant sits (Teams `participants[]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seat {
    /// Placement in world units, inside the extent.
    pub rect: WorldRect,
    /// Draw order: lowest first (on ties, sprites are drawn before seats).
    pub z_order: i32,
    /// Fill order: seats are handed out by ascending `seating_order`.
    pub seating_order: u32,
}

/// One drawable layer of a scene, by index into [`Scene::sprites`] or [`Scene::seats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// `scene.sprites[i]`.
    Sprite(usize),
    /// `scene.seats[i]`.
    Seat(usize),
}

/// A shared scene: world box, sprites and seats.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Scene id (Teams `id`; empty when absent).
    pub id: String,
    /// Teams `protocolVersion` (empty when absent).
    pub protocol_version: String,
    /// Teams `autoZoom`.
    pub auto_zoom: bool,
    /// Whether participants are drawn mirrored (Teams `mirrorParticipants`).
    pub mirror_participants: bool,
    /// The world box that maps onto the whole output.
    pub extent: Extent,
    /// Scene images.
    pub sprites: Vec<Sprite>,
    /// Seats, in file order; their index is the seat number used by [`crate::seating`].
    pub seats: Vec<Seat>,
    /// Most participants seated at once (a Teams app package's `maxAudience`); those past
    /// it wait, as when every seat is taken. `None`: every seat may be used.
    pub max_audience: Option<usize>,
    /// Seats reserved for organizers and presenters (a Teams app package's
    /// `seatsReservedForOrganizersOrPresenters`); 0 for scene folders, scene zips and
    /// built-ins.
    pub reserved_seats: usize,
}

/// Limits applied to untrusted scene packages. `Default` is Teams' rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SceneLimits {
    /// Widest asset image (pixels). Default 1920.
    pub max_image_width: u32,
    /// Tallest asset image (pixels). Default 1080.
    pub max_image_height: u32,
    /// Largest asset file (bytes). Default 5 MiB.
    pub max_image_bytes: u64,
    /// Largest package: scene.json plus every asset, each counted once (bytes). Default 10 MiB.
    pub max_scene_bytes: u64,
    /// Most seats. Default 50.
    pub max_seats: usize,
    /// Most sprites. Default 64.
    pub max_sprites: usize,
}

impl Default for SceneLimits {
    fn default() -> Self {
        Self {
            max_image_width: 1920,
            max_image_height: 1080,
            max_image_bytes: 5 * 1024 * 1024,
            max_scene_bytes: 10 * 1024 * 1024,
            max_seats: 50,
            max_sprites: 64,
        }
    }
}

impl SceneLimits {
    /// Sets the largest asset image size in pixels.
    #[must_use]
    pub fn with_max_image_size(mut self, width: u32, height: u32) -> Self {
        self.max_image_width = width;
        self.max_image_height = height;
        self
    }

    /// Sets the largest asset file size in bytes.
    #[must_use]
    pub fn with_max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
        self
    }

    /// Sets the largest package size in bytes.
    #[must_use]
    pub fn with_max_scene_bytes(mut self, bytes: u64) -> Self {
        self.max_scene_bytes = bytes;
        self
    }

    /// Sets the most seats.
    #[must_use]
    pub fn with_max_seats(mut self, seats: usize) -> Self {
        self.max_seats = seats;
        self
    }

    /// Sets the most sprites.
    #[must_use]
    pub fn with_max_sprites(mut self, sprites: usize) -> Self {
        self.max_sprites = sprites;
        self
    }
}

impl Scene {
    /// The draw order: by `z_order` ascending (lowest first); on equal `z_order` sprites come
    /// before seats, then file order.
    pub fn layers(&self) -> Vec<Layer> {
        let mut layers: Vec<(i32, u8, Layer)> = self
            .sprites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.z_order, 0, Layer::Sprite(i)))
            .chain(
                self.seats
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.z_order, 1, Layer::Seat(i))),
            )
            .collect();
        // Stable: equal keys keep file order.
        layers.sort_by_key(|&(z, kind, _)| (z, kind));
        layers.into_iter().map(|(_, _, l)| l).collect()
    }

    /// Seat indices in fill order: by `seating_order`, ties in file order.
    pub fn seat_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.seats.len()).collect();
        order.sort_by_key(|&i| self.seats.get(i).map_or(u32::MAX, |s| s.seating_order));
        order
    }

    /// Loads a Teams scene package: a folder holding `scene.json` and its PNG assets (a path
    /// to the `scene.json` file itself is accepted too). Everything is checked against
    /// `limits`; see [`SceneError`] for what can be wrong.
    ///
    /// A zip file is read as a package too (in memory, nothing extracted): a scene zip as
    /// Scene studio exports it, or a Teams app package, as is a folder holding an app
    /// package's `manifest.json`; for those the first scene of the manifest is taken (see
    /// [`Scene::load_selected`]).
    pub fn load(dir: &Path, limits: &SceneLimits) -> Result<Scene, SceneError> {
        Scene::load_selected(dir, None, limits)
    }

    /// [`Scene::load`], picking a Teams app package's scene by its manifest `id` (any case)
    /// or `name` (`None`: the first). The chosen scene's `maxAudience` becomes
    /// [`Scene::max_audience`] and its `seatsReservedForOrganizersOrPresenters`
    /// [`Scene::reserved_seats`]. A `select` on anything but an app package is
    /// [`SceneError::Manifest`].
    pub fn load_selected(
        path: &Path,
        select: Option<&str>,
        limits: &SceneLimits,
    ) -> Result<Scene, SceneError> {
        if path.is_dir() && package::is_app_dir(path) {
            return package::load_app_dir(path, select, limits);
        }
        if path.is_file() && file_is_zip(path)? {
            let meta = std::fs::metadata(path).map_err(teams::io_err(path))?;
            let label = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let max = package::max_zip_file_bytes(limits);
            let data = teams::read_capped(path, &label, meta.len(), max)?;
            return package::load_zip(&label, &data, select, limits);
        }
        if let Some(s) = select {
            return Err(SceneError::Manifest(format!(
                "{} is not an app package: there is no scene {s:?} to pick",
                path.display()
            )));
        }
        teams::load(path, limits)
    }

    /// Loads a zip held in memory: a scene zip (scene.json and its PNGs, at the root or in
    /// one top folder) or a Teams app package (manifest.json at the root, each scene a zip
    /// inside it), picking an app package's scene as [`Scene::load_selected`] does. The zip
    /// is untrusted: see [`crate::error::ZipRefusal`] for what is refused, and
    /// [`MAX_ZIP_ENTRIES`], [`MAX_INFLATE_RATIO`], [`MAX_APP_SCENES`] and
    /// [`SceneLimits::max_scene_bytes`] for the limits.
    pub fn load_zip(
        data: &[u8],
        select: Option<&str>,
        limits: &SceneLimits,
    ) -> Result<Scene, SceneError> {
        package::load_zip("package.zip", data, select, limits)
    }

    /// Loads a Teams scene package held in memory (an upload, a database row): `json` is
    /// scene.json, `files` maps asset names (relative paths with `/` separators, as
    /// scene.json names them) to their bytes. The same checks and limits as [`Scene::load`]
    /// apply; a name that would leave the package (`..`, absolute) is refused, and one that
    /// is not in `files` is [`SceneError::Io`] (not found).
    pub fn load_from_memory(
        json: &[u8],
        files: &std::collections::HashMap<String, Vec<u8>>,
        limits: &SceneLimits,
    ) -> Result<Scene, SceneError> {
        teams::load_from_memory(json, files, limits)
    }

    /// A built-in scene generated in code: `auditorium` or `grid` (nine seats, 1920x1080).
    pub fn builtin(name: &str) -> Result<Scene, SceneError> {
        match name {
            "auditorium" => Ok(builtin::auditorium()),
            "grid" => Scene::grid(9, 1920, 1080),
            _ => Err(SceneError::UnknownBuiltin(name.to_string())),
        }
    }

    /// Opens `builtin:NAME` ([`Scene::builtin`]) or a package ([`Scene::load`]: a folder,
    /// a scene.json, a scene zip, an app package zip or folder). `PATH#SCENE` picks an app
    /// package's scene by id or name ([`Scene::load_selected`]); a path that exists as
    /// written is taken whole, `#` and all.
    pub fn open(spec: &str, limits: &SceneLimits) -> Result<Scene, SceneError> {
        if let Some(name) = spec.strip_prefix("builtin:") {
            return Scene::builtin(name);
        }
        let whole = Path::new(spec);
        match spec.rsplit_once('#') {
            Some((path, select)) if !whole.exists() => {
                Scene::load_selected(Path::new(path), Some(select), limits)
            }
            _ => Scene::load(whole, limits),
        }
    }

    /// The benchmark grid: `participants` seats in a near-square grid over a `width x height`
    /// world whose units are pixels, on a diagonal gradient background. See the `builtin`
    /// module for the exact layout. `participants` must be `1..=`[`MAX_GRID_PARTICIPANTS`];
    /// the size must be even, non-zero and at most [`MAX_GRID_SIZE`].
    pub fn grid(participants: usize, width: u32, height: u32) -> Result<Scene, SceneError> {
        builtin::grid(participants, width, height, (3, 4))
    }

    /// [`Scene::grid`] with seats of another aspect, `seat_aspect = (w, h)` (each `1..=64`;
    /// `(3, 4)` is the benchmark's; `(16, 9)` seats show a camera's whole 16:9 frame).
    /// [`SceneError::GridTooSmall`] when a seat 90 % of the cell high is wider than the cell.
    pub fn grid_with_seat_aspect(
        participants: usize,
        width: u32,
        height: u32,
        seat_aspect: (u32, u32),
    ) -> Result<Scene, SceneError> {
        builtin::grid(participants, width, height, seat_aspect)
    }

    /// Checks the scene's geometry and counts against `limits`: finite numbers within
    /// [`MAX_WORLD_COORD`], positive sizes, seats inside the extent, at least one seat, at
    /// most `max_seats` seats and `max_sprites` sprites. (Images are checked when loaded.)
    pub fn validate(&self, limits: &SceneLimits) -> Result<(), SceneError> {
        check_extent(&self.extent)?;
        check_counts(self.seats.len(), self.sprites.len(), limits)?;
        self.check_geometry()
    }

    /// The geometry part of [`Scene::validate`], without counts: a finite extent of positive
    /// size, seats inside it, sprites with finite centres and positive sizes, every number
    /// within [`MAX_WORLD_COORD`]. The compositor checks this for every scene it lays out
    /// (scenes built in code skip the loader), so no pixel size is ever derived from a
    /// non-finite, negative or out-of-extent number.
    pub fn check_geometry(&self) -> Result<(), SceneError> {
        check_extent(&self.extent)?;
        for (i, seat) in self.seats.iter().enumerate() {
            check_seat(i, &seat.rect, &self.extent)?;
        }
        for (i, sprite) in self.sprites.iter().enumerate() {
            check_rect("sprites", i, &sprite.rect)?;
        }
        Ok(())
    }
}

/// Whether the file at `path` starts like a zip.
fn file_is_zip(path: &Path) -> Result<bool, SceneError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(teams::io_err(path))?;
    let mut head = Vec::with_capacity(4);
    file.take(4)
        .read_to_end(&mut head)
        .map_err(teams::io_err(path))?;
    Ok(package::looks_like_zip(&head))
}

fn check_number(field: impl FnOnce() -> String, value: f64) -> Result<f64, SceneError> {
    if value.is_finite() && value.abs() <= MAX_WORLD_COORD {
        Ok(value)
    } else {
        Err(SceneError::BadNumber {
            field: field(),
            value,
        })
    }
}

fn check_size(field: impl FnOnce() -> String, value: f64) -> Result<f64, SceneError> {
    if value > 0.0 && value.is_finite() && value <= MAX_WORLD_COORD {
        Ok(value)
    } else {
        Err(SceneError::BadNumber {
            field: field(),
            value,
        })
    }
}

pub(crate) fn check_extent(e: &Extent) -> Result<(), SceneError> {
    check_number(|| "extent.left".into(), e.left)?;
    check_number(|| "extent.top".into(), e.top)?;
    check_size(|| "extent.width".into(), e.width)?;
    check_size(|| "extent.height".into(), e.height)?;
    Ok(())
}

pub(crate) fn check_counts(
    seats: usize,
    sprites: usize,
    limits: &SceneLimits,
) -> Result<(), SceneError> {
    if seats == 0 {
        return Err(SceneError::NoSeats);
    }
    if seats > limits.max_seats {
        return Err(SceneError::TooManySeats {
            count: seats,
            max: limits.max_seats,
        });
    }
    if sprites > limits.max_sprites {
        return Err(SceneError::TooManySprites {
            count: sprites,
            max: limits.max_sprites,
        });
    }
    Ok(())
}

/// Finite centre, positive finite size. `list` is the scene.json key (`sprites`,
/// `participants`).
pub(crate) fn check_rect(list: &str, index: usize, r: &WorldRect) -> Result<(), SceneError> {
    check_number(|| format!("{list}[{index}].cx"), r.cx)?;
    check_number(|| format!("{list}[{index}].cy"), r.cy)?;
    check_size(|| format!("{list}[{index}].width"), r.width)?;
    check_size(|| format!("{list}[{index}].height"), r.height)?;
    Ok(())
}

pub(crate) fn check_seat(index: usize, r: &WorldRect, extent: &Extent) -> Result<(), SceneError> {
    check_rect("participants", index, r)?;
    if !r.inside(extent) {
        return Err(SceneError::OutOfExtent {
            what: "seat",
            index,
            detail: format!(
                "seat spans x {}..{}, y {}..{}; extent spans x {}..{}, y {}..{}",
                r.cx - r.width / 2.0,
                r.cx + r.width / 2.0,
                r.cy - r.height / 2.0,
                r.cy + r.height / 2.0,
                extent.left,
                extent.left + extent.width,
                extent.top,
                extent.top + extent.height,
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(cx: f64) -> WorldRect {
        WorldRect {
            cx,
            cy: 0.0,
            width: 1.0,
            height: 1.0,
        }
    }

    fn tiny() -> Arc<RgbaImage> {
        Arc::new(RgbaImage::new(2, 2, vec![0; 16]).unwrap())
    }

    fn scene() -> Scene {
        let sprite = |name: &str, z| Sprite {
            name: name.into(),
            rect: rect(0.0),
            z_order: z,
            is_alpha: false,
            image: tiny(),
        };
        let seat = |z, order| Seat {
            rect: rect(0.0),
            z_order: z,
            seating_order: order,
        };
        Scene {
            id: "t".into(),
            protocol_version: String::new(),
            auto_zoom: false,
            mirror_participants: false,
            extent: Extent {
                left: -2.0,
                top: -2.0,
                width: 4.0,
                height: 4.0,
            },
            sprites: vec![sprite("fg", 5), sprite("bg", 0), sprite("mid", 2)],
            seats: vec![seat(2, 3), seat(1, 1), seat(5, 1), seat(2, 0)],
            max_audience: None,
            reserved_seats: 0,
        }
    }

    #[test]
    fn rgba_image_checks_its_buffer() {
        assert!(RgbaImage::new(2, 3, vec![0; 24]).is_ok());
        assert!(matches!(
            RgbaImage::new(2, 3, vec![0; 23]),
            Err(SceneError::ImageBuffer {
                expected: 24,
                found: 23,
                ..
            })
        ));
        assert!(matches!(
            RgbaImage::new(0, 3, vec![]),
            Err(SceneError::EmptyImage {
                width: 0,
                height: 3
            })
        ));
        assert!(matches!(
            RgbaImage::new(u32::MAX, u32::MAX, vec![0; 4]),
            Err(SceneError::ImageBuffer { .. })
        ));
        let img = RgbaImage::new(1, 1, vec![1, 2, 3, 4]).unwrap();
        assert_eq!(
            (img.width(), img.height(), img.data()),
            (1, 1, &[1, 2, 3, 4][..])
        );
        assert!(format!("{img:?}").contains("bytes: 4"));
    }

    #[test]
    fn layers_interleave_by_z_sprites_first_then_file_order() {
        let s = scene();
        assert_eq!(
            s.layers(),
            vec![
                Layer::Sprite(1), // z0
                Layer::Seat(1),   // z1
                Layer::Sprite(2), // z2 sprite before z2 seats
                Layer::Seat(0),   // z2, file order
                Layer::Seat(3),
                Layer::Sprite(0), // z5
                Layer::Seat(2),
            ]
        );
    }

    #[test]
    fn seat_order_sorts_by_seating_order_ties_in_file_order() {
        assert_eq!(scene().seat_order(), vec![3, 1, 2, 0]);
    }

    #[test]
    fn validate_reports_geometry_and_counts() {
        let limits = SceneLimits::default();
        assert!(scene().validate(&limits).is_ok());

        let mut s = scene();
        s.seats[2].rect.cx = 1.6; // right edge 2.1 > 2.0
        assert!(matches!(
            s.validate(&limits),
            Err(SceneError::OutOfExtent {
                what: "seat",
                index: 2,
                ..
            })
        ));

        let mut s = scene();
        s.sprites[0].rect.cx = 100.0; // sprites may lie outside
        assert!(s.validate(&limits).is_ok());
        s.sprites[0].rect.width = 0.0;
        assert!(matches!(
            s.validate(&limits),
            Err(SceneError::BadNumber { ref field, .. }) if field == "sprites[0].width"
        ));

        let mut s = scene();
        s.extent.height = f64::NAN;
        assert!(matches!(
            s.validate(&limits),
            Err(SceneError::BadNumber { ref field, .. }) if field == "extent.height"
        ));

        let mut s = scene();
        s.seats[0].rect.cy = 1e300;
        assert!(matches!(
            s.validate(&limits),
            Err(SceneError::BadNumber { ref field, .. }) if field == "participants[0].cy"
        ));

        let mut s = scene();
        s.seats.clear();
        assert!(matches!(s.validate(&limits), Err(SceneError::NoSeats)));
        assert!(matches!(
            scene().validate(&limits.with_max_seats(3)),
            Err(SceneError::TooManySeats { count: 4, max: 3 })
        ));
        assert!(matches!(
            scene().validate(&limits.with_max_sprites(2)),
            Err(SceneError::TooManySprites { count: 3, max: 2 })
        ));
    }

    #[test]
    fn limits_default_to_teams_rules() {
        let l = SceneLimits::default();
        assert_eq!((l.max_image_width, l.max_image_height), (1920, 1080));
        assert_eq!(l.max_image_bytes, 5 * 1024 * 1024);
        assert_eq!(l.max_scene_bytes, 10 * 1024 * 1024);
        assert_eq!((l.max_seats, l.max_sprites), (50, 64));
        let l = l
            .with_max_image_size(4, 6)
            .with_max_image_bytes(7)
            .with_max_scene_bytes(8)
            .with_max_seats(9)
            .with_max_sprites(10);
        assert_eq!(
            l,
            SceneLimits {
                max_image_width: 4,
                max_image_height: 6,
                max_image_bytes: 7,
                max_scene_bytes: 8,
                max_seats: 9,
                max_sprites: 10
            }
        );
    }

    #[test]
    fn open_dispatches_builtins_and_rejects_unknown_names() {
        let limits = SceneLimits::default();
        assert_eq!(Scene::open("builtin:grid", &limits).unwrap().seats.len(), 9);
        assert!(matches!(
            Scene::open("builtin:nope", &limits),
            Err(SceneError::UnknownBuiltin(ref n)) if n == "nope"
        ));
        assert!(matches!(
            Scene::open("/nonexistent/together-mode/scene", &limits),
            Err(SceneError::Io { .. })
        ));
    }
}
