//! The QR code of an enrolment URI as a standalone SVG element.
//!
//! Drawn here from the module matrix rather than by `qrcode`'s renderer, which emits an XML
//! prolog and sizes the image by pixels per module. This SVG is meant to be inlined in a
//! page under a strict CSP: presentation attributes only, no `style`.
use crate::error::AuthError;
use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write;

/// Light modules around the code, as the QR specification requires.
const QUIET_ZONE: usize = 4;
/// The largest rendered size; whole pixels per module keep the edges sharp.
const MAX_SIZE_PX: usize = 240;

/// An `<svg>` element showing `data` as a QR code (error correction level M, black on
/// white, with a quiet zone), about 200–240 pixels wide.
pub fn qr_svg(data: &str) -> Result<String, AuthError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| AuthError::Invalid(format!("cannot make a QR code: {e}")))?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules + 2 * QUIET_ZONE;
    let size_px = side * (MAX_SIZE_PX / side).max(1);

    let mut svg = String::with_capacity(256 + modules * modules);
    // Writing to a String cannot fail; `let _` keeps the signature honest about that.
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{size_px}" height="{size_px}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges" role="img" aria-label="QR code"><rect width="{side}" height="{side}" fill="#ffffff"/><path fill="#000000" d=""##
    );
    for (y, row) in colors.chunks(modules).enumerate() {
        let mut x = 0;
        while x < modules {
            if row[x] == Color::Light {
                x += 1;
                continue;
            }
            let start = x;
            while x < modules && row[x] == Color::Dark {
                x += 1;
            }
            // One rectangle per horizontal run of dark modules.
            let _ = write!(
                svg,
                "M{} {}h{}v1h-{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                x - start
            );
        }
    }
    svg.push_str(r#""/></svg>"#);
    Ok(svg)
}

#[cfg(test)]
mod tests;
