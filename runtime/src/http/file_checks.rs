//! What an uploaded file is, decided from its bytes: its type sniffed (the client's
//! `Content-Type` is only checked against it, never kept), images decoded within limits
//! and re-encoded (which also drops their metadata, such as a photo's location), and its
//! name cut down to a file name.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// The longest side an image is kept at; larger ones are scaled down to it.
pub(crate) const MAX_IMAGE_SIDE: u32 = 4_096;
/// The longest side an uploaded image may have at all: decoding a larger one costs more
/// memory than a 10 MiB file should be able to ask for.
const MAX_DECODED_SIDE: u32 = 16_384;
/// The most memory decoding one image may take.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// What a JPEG is re-encoded at.
const JPEG_QUALITY: u8 = 85;

/// An upload found wanting: which part and why, in words for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) field: &'static str,
    pub(crate) problem: String,
}

fn refuse(field: &'static str, problem: impl Into<String>) -> Refusal {
    Refusal { field, problem: problem.into() }
}

/// A file as it will be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedFile {
    pub(crate) content_type: &'static str,
    pub(crate) bytes: Vec<u8>,
}

/// Types a browser would run rather than show: kept as the plain text they are.
const ACTIVE_TYPES: &[&str] = &["text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"];

/// The type the bytes are: a format's signature, else UTF-8 text (markup included, so
/// an uploaded page is never kept as one), else unknown bytes.
pub(crate) fn sniff(bytes: &[u8]) -> &'static str {
    if let Some(kind) = infer::get(bytes).filter(|kind| !ACTIVE_TYPES.contains(&kind.mime_type())) {
        return kind.mime_type();
    }
    if std::str::from_utf8(bytes).is_ok_and(|text| !text.contains('\0')) {
        return "text/plain; charset=utf-8";
    }
    "application/octet-stream"
}

/// Checks `bytes` against what the client `declared` (its `Content-Type`, if any) and
/// returns them as they will be kept: the sniffed type, images re-encoded.
pub(crate) fn check(declared: Option<&str>, bytes: &[u8]) -> Result<CheckedFile, Refusal> {
    let sniffed = sniff(bytes);
    if let Some(declared) = declared.map(essence).filter(|declared| !declared.is_empty()) {
        let agrees = declared == essence(sniffed)
            || declared == "application/octet-stream"
            || (sniffed.starts_with("text/") && (declared.starts_with("text/") || declared == "application/json"));
        if !agrees {
            return Err(refuse("Content-Type", format!("the bytes are {}, not {declared}", describe(sniffed))));
        }
    }
    if !sniffed.starts_with("image/") {
        return Ok(CheckedFile { content_type: sniffed, bytes: bytes.to_vec() });
    }
    let format = match sniffed {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        other => return Err(refuse("body", format!("{other} images are not taken: send PNG, JPEG, GIF or WebP"))),
    };
    reencode(bytes, format)
}

/// Decodes an image within the limits, scales it down to [`MAX_IMAGE_SIDE`] and encodes
/// it again: PNG and JPEG stay what they are, GIF and WebP become PNG (a GIF's first
/// frame).
pub(crate) fn reencode(bytes: &[u8], format: ImageFormat) -> Result<CheckedFile, Refusal> {
    let name = format!("{format:?}").to_uppercase();
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut image = reader.decode().map_err(|error| refuse("body", format!("not a valid {name} image: {error}")))?;
    if image.width() > MAX_IMAGE_SIDE || image.height() > MAX_IMAGE_SIDE {
        image = image.thumbnail(MAX_IMAGE_SIDE, MAX_IMAGE_SIDE);
    }
    let mut encoded = Cursor::new(Vec::new());
    let content_type = if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, JPEG_QUALITY);
        image.to_rgb8().write_with_encoder(encoder).map(|()| "image/jpeg")
    } else {
        image.write_to(&mut encoded, ImageFormat::Png).map(|()| "image/png")
    }
    .map_err(|error| refuse("body", format!("the {name} image could not be encoded again: {error}")))?;
    Ok(CheckedFile { content_type, bytes: encoded.into_inner() })
}

/// A file name from a name as sent: its last path component (so `../../etc/passwd` is
/// `passwd`), refused when nothing of a name is left.
pub(crate) fn file_name(name: &str) -> Result<String, String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if last.is_empty() || last == "." || last == ".." {
        return Err("must end in a file name, not a folder".into());
    }
    Ok(last.to_owned())
}

/// `type/subtype`, lower case, without parameters.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn describe(sniffed: &str) -> String {
    match sniffed {
        "application/octet-stream" => "not of a type this server recognises".into(),
        text if text.starts_with("text/plain") => "text".into(),
        other => format!("a {other} file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, ImageFormat::Png).expect("a PNG");
        bytes.into_inner()
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(&png(2, 2)), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff("name,price\nmug,12\n".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(sniff(&[0, 159, 146, 150]), "application/octet-stream");
        assert_eq!(sniff(b"<html><body>hi</body></html>"), "text/plain; charset=utf-8", "a page is text");
    }

    #[test]
    fn a_declared_type_that_the_bytes_contradict_is_refused() {
        let html = b"<html><script>alert(1)</script></html>";
        let refused = check(Some("image/png"), html).expect_err("not a PNG");
        assert_eq!(refused.field, "Content-Type");
        assert!(refused.problem.contains("the bytes are text, not image/png"), "{}", refused.problem);
        let checked = check(Some("text/html"), html).expect("text as text");
        assert_eq!(checked.content_type, "text/plain; charset=utf-8", "kept as plain text, never as a page");
        assert!(check(Some("application/pdf"), &png(1, 1)).is_err());
        assert!(check(Some("application/octet-stream"), &png(1, 1)).is_ok());
        assert!(check(None, &png(1, 1)).is_ok());
    }

    #[test]
    fn images_are_re_encoded_and_large_ones_scaled_down() {
        let checked = check(Some("image/png; charset=binary"), &png(5_000, 10)).expect("kept");
        assert_eq!(checked.content_type, "image/png");
        let image = image::load_from_memory(&checked.bytes).expect("decodes");
        assert_eq!((image.width(), image.height()), (MAX_IMAGE_SIDE, 8));
        let broken = check(Some("image/png"), b"\x89PNG\r\n\x1a\n but not really").expect_err("broken");
        assert!(broken.problem.starts_with("not a valid PNG image"), "{}", broken.problem);
    }

    #[test]
    fn names_lose_their_folders() {
        assert_eq!(file_name("../../etc/passwd").as_deref(), Ok("passwd"));
        assert_eq!(file_name("C:\\Users\\ada\\logo.png").as_deref(), Ok("logo.png"));
        assert_eq!(file_name("logo.png").as_deref(), Ok("logo.png"));
        for bad in ["..", "a/..", "uploads/", "/"] {
            assert!(file_name(bad).is_err(), "{bad}");
        }
    }
}
