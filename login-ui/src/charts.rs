//! Charts for the admin console, drawn on the server as inline SVG strings: no
//! script, no external reference, nothing the page's CSP (`default-src 'none'`,
//! `style-src 'self'`) would block. Colours and fonts are presentation attributes
//! with `chart-*` class names beside them, so the stylesheet can restyle them.
//!
//! Every chart is an accessible image (`role="img"`, a `<title>` and a `<desc>` that
//! spells out the figures for screen readers), has a fixed `viewBox` so it scales
//! with its container, escapes every text it is given, and draws "No data" rather
//! than an empty frame. Numbers are sanitised before they reach the output: a NaN or
//! infinite value is drawn as nothing and labelled "n/a", never written as `NaN`.
use std::fmt::Write;

/// Width of every chart in user units (the height follows the data).
pub const WIDTH: f64 = 640.0;

/// Okabe–Ito colours: told apart with the common colour-vision deficiencies.
const PALETTE: [&str; 8] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442",
];

const INK: &str = "#1b1f24";
const MUTED: &str = "#4a5360";
const GRID: &str = "#c9d1db";

const TITLE_H: f64 = 40.0;
/// Left column for bar labels, right margin for value labels.
const LABEL_W: f64 = 170.0;
const VALUE_W: f64 = 90.0;
const ROW_H: f64 = 28.0;
const BAR_H: f64 = 18.0;
const LEGEND_ROW: f64 = 22.0;
const EMPTY_H: f64 = 100.0;
/// Longer labels are cut (the whole text stays in the element's tooltip).
const MAX_LABEL_CHARS: usize = 24;

/// Escapes text for XML content and attribute values, and drops the characters XML
/// 1.0 cannot contain at all (most control characters, U+FFFE, U+FFFF).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A coordinate: two decimals at most, never NaN or infinite (those become 0).
fn num(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_string();
    }
    let s = format!("{:.2}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A value as people read it: whole numbers plain, otherwise one decimal; large
/// ones with k/M/G/T, beyond that in scientific notation; "n/a" for NaN or infinity.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let a = v.abs();
    let plain = |x: f64| {
        if (x - x.round()).abs() < 0.05 {
            format!("{:.0}", x)
        } else {
            format!("{:.1}", x)
        }
    };
    if a < 1e4 {
        // `-0` reads oddly.
        let s = plain(v);
        return if s == "-0" { "0".to_string() } else { s };
    }
    for (scale, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if a >= scale && a < scale * 1e3 {
            return format!("{}{suffix}", plain(v / scale));
        }
    }
    format!("{:.1e}", v)
}

fn with_unit(v: f64, unit: &str) -> String {
    let value = format_value(v);
    if unit.is_empty() || !v.is_finite() {
        value
    } else if unit == "%" {
        format!("{value}%")
    } else {
        format!("{value} {unit}")
    }
}

/// Cuts a label to [`MAX_LABEL_CHARS`] characters with an ellipsis.
fn short(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// A stable id per chart (FNV-1a of its kind and title) so that several charts on
/// one page label themselves without clashing.
fn chart_id(kind: &str, title: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.bytes().chain(title.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("chart-{h:016x}")
}

/// The document around a chart's body.
fn svg(kind: &str, title: &str, desc: &str, height: f64, body: &str) -> String {
    let id = chart_id(kind, title);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         class=\"chart chart-{kind}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         font-family=\"system-ui, sans-serif\">\
         <title id=\"{id}-t\">{t}</title><desc id=\"{id}-d\">{d}</desc>\
         <text x=\"0\" y=\"24\" font-size=\"16\" font-weight=\"600\" fill=\"{INK}\" \
         class=\"chart-title\" aria-hidden=\"true\">{t}</text>{body}</svg>",
        w = num(WIDTH),
        h = num(height),
        t = escape(title),
        d = escape(desc),
    );
    out
}

fn no_data(kind: &str, title: &str) -> String {
    let body = format!(
        "<text x=\"{x}\" y=\"{y}\" font-size=\"14\" text-anchor=\"middle\" fill=\"{MUTED}\" \
         class=\"chart-empty\">No data</text>",
        x = num(WIDTH / 2.0),
        y = num(TITLE_H + (EMPTY_H - TITLE_H) / 2.0 + 5.0),
    );
    svg(kind, title, "No data.", EMPTY_H, &body)
}

/// The largest finite value, or `None` when there is none above zero.
fn scale_max(values: impl Iterator<Item = f64>) -> Option<f64> {
    values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
}

/// Width of a bar for `v` on a scale whose `max` fills `full`: proportional, empty
/// for zero, negative or non-finite values.
fn bar_width(v: f64, max: Option<f64>, full: f64) -> f64 {
    match max {
        Some(m) if v.is_finite() && v > 0.0 => (v / m).min(1.0) * full,
        _ => 0.0,
    }
}

fn color(i: usize) -> &'static str {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or(INK)
}

/// One horizontal bar: where it goes, its row label (if any), value and colour.
struct Row<'a> {
    y: f64,
    label: Option<&'a str>,
    value: f64,
    fill: &'a str,
    class: &'a str,
}

/// Draws `row` with its value label at the bar's end, on a scale whose `max` fills
/// the plot's width.
fn bar_row(out: &mut String, row: Row<'_>, max: Option<f64>, unit: &str) {
    let Row {
        y,
        label,
        value: v,
        fill,
        class,
    } = row;
    let full = WIDTH - LABEL_W - VALUE_W;
    let w = bar_width(v, max, full);
    let value = with_unit(v, unit);
    let _ = write!(out, "<g class=\"chart-row\">");
    if let Some(label) = label {
        let _ = write!(
            out,
            "<title>{t}: {value}</title><text x=\"{x}\" y=\"{ty}\" font-size=\"12\" \
             text-anchor=\"end\" fill=\"{INK}\" class=\"chart-label\">{l}</text>",
            t = escape(label),
            value = escape(&value),
            x = num(LABEL_W - 8.0),
            ty = num(y + BAR_H / 2.0 + 4.0),
            l = escape(&short(label)),
        );
    }
    let _ = write!(
        out,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\" \
         class=\"chart-bar {class}\"/>\
         <text x=\"{vx}\" y=\"{ty}\" font-size=\"12\" fill=\"{INK}\" \
         class=\"chart-value\">{value}</text></g>",
        x = num(LABEL_W),
        y = num(y),
        w = num(w),
        h = num(BAR_H),
        vx = num(LABEL_W + w + 6.0),
        ty = num(y + BAR_H / 2.0 + 4.0),
        value = escape(&value),
    );
}

/// Horizontal bars, one per `(label, value)`, scaled to the largest value, each with
/// its value and `unit` (`"%"` is written without a space) at its end.
pub fn bar_chart(title: &str, bars: &[(String, f64)], unit: &str) -> String {
    if bars.is_empty() {
        return no_data("bars", title);
    }
    let max = scale_max(bars.iter().map(|(_, v)| *v));
    let desc = bars
        .iter()
        .map(|(l, v)| format!("{l}: {}", with_unit(*v, unit)))
        .collect::<Vec<_>>()
        .join("; ");
    let mut body = String::new();
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = TITLE_H + i as f64 * ROW_H;
        let row = Row {
            y,
            label: Some(label),
            value: *v,
            fill: color(0),
            class: "series-0",
        };
        bar_row(&mut body, row, max, unit);
    }
    let height = TITLE_H + bars.len() as f64 * ROW_H + 10.0;
    svg("bars", title, &format!("{desc}."), height, &body)
}

/// A legend row per line of `names`, from (`x`, `y`) down; returns the bottom.
fn legend(out: &mut String, x: f64, y: f64, names: &[&str]) -> f64 {
    let mut y = y;
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            out,
            "<g class=\"chart-legend\"><rect x=\"{x}\" y=\"{ry}\" width=\"12\" height=\"12\" \
             fill=\"{c}\" class=\"series-{i}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"12\" \
             fill=\"{INK}\">{n}</text></g>",
            x = num(x),
            ry = num(y),
            c = color(i),
            tx = num(x + 18.0),
            ty = num(y + 10.0),
            n = escape(&short(name)),
        );
        y += LEGEND_ROW;
    }
    y
}

/// Bars side by side per group: one bar per series in each of `groups` (values in
/// the order of `series`), all on one scale, with a legend. For successes against
/// failures per factor: `series = ["successes", "failures"]`.
pub fn grouped_bar_chart(
    title: &str,
    series: &[String],
    groups: &[(String, Vec<f64>)],
    unit: &str,
) -> String {
    if groups.is_empty() || series.is_empty() {
        return no_data("grouped", title);
    }
    let max = scale_max(
        groups
            .iter()
            .flat_map(|(_, vs)| vs.iter().take(series.len()).copied()),
    );
    let value = |vs: &[f64], i: usize| vs.get(i).copied().unwrap_or(0.0);
    let desc = groups
        .iter()
        .map(|(g, vs)| {
            let parts = series
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{s} {}", with_unit(value(vs, i), unit)))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{g}: {parts}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let group_h = series.len() as f64 * (BAR_H + 4.0) + 12.0;
    let mut body = String::new();
    for (gi, (group, vs)) in groups.iter().enumerate() {
        let top = TITLE_H + gi as f64 * group_h;
        let _ = write!(
            body,
            "<text x=\"{x}\" y=\"{y}\" font-size=\"12\" text-anchor=\"end\" fill=\"{INK}\" \
             class=\"chart-label\">{l}</text>",
            x = num(LABEL_W - 8.0),
            y = num(top + BAR_H / 2.0 + 4.0),
            l = escape(&short(group)),
        );
        for si in 0..series.len() {
            let y = top + si as f64 * (BAR_H + 4.0);
            let class = format!("series-{si}");
            let row = Row {
                y,
                label: None,
                value: value(vs, si),
                fill: color(si),
                class: &class,
            };
            bar_row(&mut body, row, max, unit);
        }
    }
    let names: Vec<&str> = series.iter().map(String::as_str).collect();
    let legend_top = TITLE_H + groups.len() as f64 * group_h + 4.0;
    let bottom = legend(&mut body, LABEL_W, legend_top, &names);
    svg("grouped", title, &format!("{desc}."), bottom + 6.0, &body)
}

const PLOT_LEFT: f64 = 56.0;
const PLOT_RIGHT: f64 = 24.0;
const PLOT_H: f64 = 220.0;
const X_LABELS_H: f64 = 34.0;
/// At most this many x labels are written; the others would overlap.
const MAX_X_LABELS: usize = 8;

/// Lines over `x_labels` (e.g. days), one per `(name, values)`, with a legend. The
/// y axis runs from 0 to `y_max` (e.g. `Some(100.0)` for percentages), or to the
/// largest value when `None`; values above are drawn at the top. A NaN or infinite
/// value leaves a gap in its line.
pub fn line_chart(
    title: &str,
    x_labels: &[String],
    series: &[(String, Vec<f64>)],
    y_max: Option<f64>,
) -> String {
    let n = x_labels.len();
    let has_point = series
        .iter()
        .any(|(_, vs)| vs.iter().take(n).any(|v| v.is_finite()));
    if n == 0 || !has_point {
        return no_data("lines", title);
    }
    let top = y_max
        .filter(|m| m.is_finite() && *m > 0.0)
        .or_else(|| scale_max(series.iter().flat_map(|(_, vs)| vs.iter().take(n).copied())))
        .unwrap_or(1.0);
    let plot_w = WIDTH - PLOT_LEFT - PLOT_RIGHT;
    let x_at = |i: usize| {
        if n == 1 {
            PLOT_LEFT + plot_w / 2.0
        } else {
            PLOT_LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y_at = |v: f64| TITLE_H + PLOT_H - (v.clamp(0.0, top) / top) * PLOT_H;

    let mut body = String::new();
    // Grid lines and y labels at 0, ¼, ½, ¾ and the top.
    for k in 0..=4 {
        let v = top * f64::from(k) / 4.0;
        let y = y_at(v);
        let _ = write!(
            body,
            "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"{GRID}\" \
             stroke-width=\"1\" class=\"chart-grid\"/><text x=\"{tx}\" y=\"{ty}\" \
             font-size=\"11\" text-anchor=\"end\" fill=\"{MUTED}\" class=\"chart-axis\">{l}</text>",
            x1 = num(PLOT_LEFT),
            x2 = num(PLOT_LEFT + plot_w),
            y = num(y),
            tx = num(PLOT_LEFT - 6.0),
            ty = num(y + 4.0),
            l = escape(&format_value(v)),
        );
    }
    let step = n.div_ceil(MAX_X_LABELS).max(1);
    for (i, label) in x_labels.iter().enumerate() {
        // Every `step`-th label and the last, but none crowding the last one.
        let last = i + 1 == n;
        if !last && (i % step != 0 || n - 1 - i < step) {
            continue;
        }
        let _ = write!(
            body,
            "<text x=\"{x}\" y=\"{y}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{MUTED}\" \
             class=\"chart-axis\">{l}</text>",
            x = num(x_at(i)),
            y = num(TITLE_H + PLOT_H + 18.0),
            l = escape(&short(label)),
        );
    }
    for (si, (_, values)) in series.iter().enumerate() {
        let c = color(si);
        let _ = write!(body, "<g class=\"chart-series series-{si}\">");
        // Runs of finite values are joined; a missing value breaks the line.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, body: &mut String| {
            if run.len() > 1 {
                let _ = write!(
                    body,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" \
                     class=\"chart-line\"/>",
                    run.join(" ")
                );
            }
            run.clear();
        };
        for (i, v) in values.iter().take(n).enumerate() {
            if !v.is_finite() {
                flush(&mut run, &mut body);
                continue;
            }
            let (x, y) = (num(x_at(i)), num(y_at(*v)));
            run.push(format!("{x},{y}"));
            let _ = write!(
                body,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{c}\" class=\"chart-point\"/>"
            );
        }
        flush(&mut run, &mut body);
        body.push_str("</g>");
    }
    let names: Vec<&str> = series.iter().map(|(s, _)| s.as_str()).collect();
    let bottom = legend(&mut body, PLOT_LEFT, TITLE_H + PLOT_H + X_LABELS_H, &names);

    // The first and last value of each line: the trend, not a recital of every day.
    let desc = series
        .iter()
        .map(|(name, vs)| {
            let mut finite = x_labels
                .iter()
                .zip(vs.iter())
                .filter(|(_, v)| v.is_finite())
                .map(|(x, v)| format!("{} ({x})", format_value(*v)));
            match (finite.next(), finite.next_back()) {
                (Some(first), Some(last)) => format!("{name}: {first} to {last}"),
                (Some(only), None) => format!("{name}: {only}"),
                _ => format!("{name}: no data"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    svg("lines", title, &format!("{desc}."), bottom + 6.0, &body)
}

#[cfg(test)]
mod tests;
