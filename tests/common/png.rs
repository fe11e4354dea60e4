//! PNG files for tests: [`encoded`], a real image encoded with the `image` crate, and
//! hand-built ones for hostile-input tests: headers that claim sizes the data does not hold,
//! chunks out of order.
//!
//! Shared by the integration tests (`mod common`) and the library's unit tests
//! (`#[path = "../tests/common/png.rs"]` in src/lib.rs).
#![allow(dead_code)]

/// A real `width x height` RGBA PNG, encoded with the `image` crate, whose pixel (x, y) is
/// `(x, y, 9, alpha)` (x and y modulo 256).
pub fn encoded(width: u32, height: u32, alpha: u8) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([x as u8, y as u8, 9, alpha])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The PNG signature.
pub const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Appends one chunk (length, type, data, CRC-32 of type and data).
pub fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn ihdr(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, no interlace
    ihdr
}

/// The signature and a valid IHDR claiming `width x height` RGBA, then nothing at all.
pub fn ihdr_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    chunk(&mut out, b"IHDR", &ihdr(width, height));
    out
}

/// A complete PNG whose IHDR claims `width x height` RGBA and whose IDAT holds a few bytes
/// only: a "bomb" if decoded as claimed, far too little data in fact.
pub fn claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = ihdr_only(width, height);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0x00, 0x00]);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A valid signature followed by a chunk other than IHDR.
pub fn without_ihdr() -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    chunk(&mut out, b"tEXt", b"Comment\0first");
    out
}
