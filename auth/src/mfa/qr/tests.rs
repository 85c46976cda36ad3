use super::*;
use crate::mfa::{TotpParams, TotpSecret};

/// The value of `name="..."` in the opening tag.
fn attribute<'a>(svg: &'a str, name: &str) -> &'a str {
    let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    let end = start + svg[start..].find('"').unwrap();
    &svg[start..end]
}

/// Reads the drawn modules back from the path (one `M x y h w v1 h-w z` per run).
fn dark_modules(svg: &str, side: usize) -> Vec<Vec<bool>> {
    let path = attribute(&svg[svg.find("<path").unwrap()..], "d");
    let mut grid = vec![vec![false; side]; side];
    for run in path.split('z').filter(|r| !r.is_empty()) {
        let (position, rest) = run.trim_start_matches('M').split_once('h').unwrap();
        let (x, y) = position.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let (width, tail) = rest.split_once('v').unwrap();
        let width: usize = width.parse().unwrap();
        assert_eq!(tail, format!("1h-{width}"));
        for cell in &mut grid[y][x..x + width] {
            *cell = true;
        }
    }
    grid
}

fn decode(svg: &str) -> String {
    let view_box: Vec<usize> = attribute(svg, "viewBox")
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let side = view_box[2];
    let grid = dark_modules(svg, side);
    // Rasterise at 4 pixels per module, as a scanner would see the image.
    let scale = 4;
    let mut image = rqrr::PreparedImage::prepare_from_bitmap(side * scale, side * scale, |x, y| {
        grid[y / scale][x / scale]
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (meta, content) = grids[0].decode().unwrap();
    assert_eq!(meta.ecc_level, 0, "level M is encoded as 0");
    content
}

#[test]
fn svg_is_standalone_and_free_of_inline_styles() {
    let svg = qr_svg("otpauth://totp/Sekisho:alice?secret=JBSWY3DPEHPK3PXP").unwrap();
    assert!(svg.starts_with("<svg "), "{svg}");
    assert!(svg.ends_with("</svg>"));
    assert!(!svg.contains("<?xml"));
    assert!(!svg.contains("style="));
    assert!(!svg.contains("<style"));
    assert!(svg.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
    assert_eq!(attribute(&svg, "shape-rendering"), "crispEdges");
    assert_eq!(attribute(&svg, "role"), "img");
    assert!(svg.contains(r##"fill="#ffffff""##) && svg.contains(r##"fill="#000000""##));
}

#[test]
fn size_is_about_220_pixels_with_whole_pixels_per_module() {
    for data in ["x", &"otpauth://totp/".repeat(8), &"a".repeat(300)] {
        let svg = qr_svg(data).unwrap();
        let width: usize = attribute(&svg, "width").parse().unwrap();
        assert_eq!(attribute(&svg, "height"), width.to_string());
        let view_box = attribute(&svg, "viewBox");
        let side: usize = view_box.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(view_box, format!("0 0 {side} {side}"));
        assert!(
            (180..=240).contains(&width),
            "{width}px for {} chars",
            data.len()
        );
        assert_eq!(width % side, 0);
    }
}

#[test]
fn the_quiet_zone_is_left_light() {
    let svg = qr_svg("quiet zone").unwrap();
    let side: usize = attribute(&svg, "viewBox")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let grid = dark_modules(&svg, side);
    for (y, row) in grid.iter().enumerate() {
        for (x, dark) in row.iter().enumerate() {
            let in_margin = x < QUIET_ZONE
                || y < QUIET_ZONE
                || x >= side - QUIET_ZONE
                || y >= side - QUIET_ZONE;
            assert!(!(in_margin && *dark), "dark module at {x},{y}");
        }
    }
    // The top-left finder pattern starts right inside the quiet zone.
    assert!(grid[QUIET_ZONE][QUIET_ZONE]);
}

#[test]
fn a_real_enrolment_uri_decodes_back() {
    let uri = TotpSecret::generate().otpauth_uri(
        "Sekisho 関所",
        "someone.with.a.long.name@example.co.jp",
        &TotpParams::default(),
    );
    assert_eq!(decode(&qr_svg(&uri).unwrap()), *uri);
}

#[test]
fn a_300_character_uri_fits_and_decodes() {
    let mut uri = String::from("otpauth://totp/ACME:alice?secret=");
    while uri.len() < 300 {
        uri.push('A');
    }
    let svg = qr_svg(&uri).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("viewBox"));
    assert!(!svg.contains("style=") && !svg.contains("<?xml"));
    assert_eq!(decode(&svg), uri);
}

#[test]
fn data_too_long_for_any_qr_code_is_an_error() {
    let err = qr_svg(&"x".repeat(5000)).unwrap_err();
    assert!(matches!(err, AuthError::Invalid(_)), "{err:?}");
}
