//! The charts parse as XML (a small strict checker below: matched tags, quoted
//! attributes, known entities only, one root), carry their accessible name and
//! description, escape what they are given, and draw bars and lines to scale.
use super::*;

#[derive(Debug, Clone)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    /// The unescaped text directly inside the element.
    text: String,
    /// Index of the enclosing element in the document order, `None` for the root.
    parent: Option<usize>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn num(&self, name: &str) -> f64 {
        self.attr(name)
            .unwrap_or_else(|| panic!("{} has no {name}", self.name))
            .parse()
            .unwrap()
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split(' ').any(|x| x == class))
    }
}

/// Checks the entity references of `s` and returns it unescaped.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("entity without `;`") + at;
        let entity = &rest[at + 1..end];
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
            e => panic!("unknown entity &{e};"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Parses the SVG strictly enough for our output and returns its elements in
/// document order; panics on anything malformed.
fn parse(svg: &str) -> Vec<Element> {
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut rest = svg;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix("</") {
            let end = tail.find('>').expect("unclosed end tag");
            let name = &tail[..end];
            let i = open.pop().expect("end tag without start");
            assert_eq!(elements[i].name, name, "mismatched end tag");
            rest = &tail[end + 1..];
        } else if let Some(tail) = rest.strip_prefix('<') {
            assert!(
                !tail.starts_with('!') && !tail.starts_with('?'),
                "no comments, doctypes or instructions expected"
            );
            let end = tail.find('>').expect("unclosed tag");
            let (inner, self_closing) = match tail[..end].strip_suffix('/') {
                Some(i) => (i, true),
                None => (&tail[..end], false),
            };
            let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
            let name = &inner[..name_end];
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "bad element name `{name}`"
            );
            let mut attrs = Vec::new();
            let mut a = inner[name_end..].trim_start();
            while !a.is_empty() {
                let eq = a.find("=\"").expect("attribute without =\"");
                let attr = &a[..eq];
                assert!(
                    attr.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                    "bad attribute name `{attr}`"
                );
                let value_end = a[eq + 2..].find('"').expect("unquoted attribute") + eq + 2;
                let value = &a[eq + 2..value_end];
                assert!(!value.contains('<'), "`<` in attribute {attr}");
                assert!(
                    !attrs.iter().any(|(n, _)| n == attr),
                    "duplicate attribute {attr}"
                );
                attrs.push((attr.to_string(), unescape(value)));
                let after = &a[value_end + 1..];
                assert!(
                    after.is_empty() || after.starts_with(char::is_whitespace),
                    "attributes must be separated"
                );
                a = after.trim_start();
            }
            if open.is_empty() {
                assert!(elements.is_empty(), "a second root element");
            }
            elements.push(Element {
                name: name.to_string(),
                attrs,
                text: String::new(),
                parent: open.last().copied(),
            });
            if !self_closing {
                open.push(elements.len() - 1);
            }
            rest = &tail[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            assert!(!text.contains('>'), "unescaped `>` in text");
            let i = *open.last().expect("text outside the root element");
            elements[i].text.push_str(&unescape(text));
            rest = &rest[end..];
        }
    }
    assert!(open.is_empty(), "unclosed elements");
    assert!(!elements.is_empty(), "no root element");
    elements
}

/// The checks every chart passes: an accessible image that scales, with a title and
/// description first, and nothing a CSP or a careful reviewer would object to.
fn check_chart(svg: &str, title: &str) -> Vec<Element> {
    let doc = parse(svg);
    let root = &doc[0];
    assert_eq!(root.name, "svg");
    assert_eq!(root.attr("xmlns"), Some("http://www.w3.org/2000/svg"));
    assert_eq!(root.attr("role"), Some("img"));
    let view_box: Vec<f64> = root
        .attr("viewBox")
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(view_box[..3], [0.0, 0.0, WIDTH]);
    assert!(view_box[3] > 0.0);
    assert!(root.attr("width").is_none() && root.attr("height").is_none());
    let (t, d) = (&doc[1], &doc[2]);
    assert_eq!((t.name.as_str(), t.parent), ("title", Some(0)));
    assert_eq!((d.name.as_str(), d.parent), ("desc", Some(0)));
    assert_eq!(t.text, title);
    assert!(!d.text.is_empty());
    let labelled_by: Vec<&str> = root.attr("aria-labelledby").unwrap().split(' ').collect();
    assert_eq!(labelled_by, [t.attr("id").unwrap(), d.attr("id").unwrap()]);
    for e in &doc {
        assert!(
            !["script", "style", "foreignObject", "image", "use", "a"].contains(&e.name.as_str()),
            "<{}> in {svg}",
            e.name
        );
        for (name, value) in &e.attrs {
            assert!(
                !name.starts_with("on") && name != "style" && !name.ends_with("href"),
                "attribute {name} in {svg}"
            );
            assert!(!value.contains("url("), "{name}={value}");
        }
    }
    let lower = svg.to_lowercase();
    for bad in ["nan", "inf", "<script"] {
        assert!(!lower.contains(bad), "`{bad}` in {svg}");
    }
    doc
}

fn with_class<'a>(doc: &'a [Element], name: &str, class: &str) -> Vec<&'a Element> {
    doc.iter()
        .filter(|e| e.name == name && e.has_class(class))
        .collect()
}

fn texts(doc: &[Element], class: &str) -> Vec<String> {
    with_class(doc, "text", class)
        .into_iter()
        .map(|e| e.text.clone())
        .collect()
}

fn bars(list: &[(&str, f64)]) -> Vec<(String, f64)> {
    list.iter().map(|(l, v)| (l.to_string(), *v)).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.011
}

const FULL: f64 = WIDTH - LABEL_W - VALUE_W;

#[test]
fn bar_widths_are_proportional_to_the_values() {
    let svg = bar_chart(
        "Time to resolve",
        &bars(&[
            ("totp", 40.0),
            ("email", 10.0),
            ("sms", 0.0),
            ("backup codes", 30.0),
        ]),
        "s",
    );
    let doc = check_chart(&svg, "Time to resolve");
    let rects = with_class(&doc, "rect", "chart-bar");
    let widths: Vec<f64> = rects.iter().map(|r| r.num("width")).collect();
    assert_eq!(widths.len(), 4);
    for (w, want) in widths.iter().zip([FULL, FULL / 4.0, 0.0, FULL * 0.75]) {
        assert!(close(*w, want), "{widths:?}");
    }
    // Every bar starts at the same x and rows do not overlap.
    assert!(rects.iter().all(|r| r.num("x") == LABEL_W));
    let ys: Vec<f64> = rects.iter().map(|r| r.num("y")).collect();
    assert!(ys.windows(2).all(|w| w[1] - w[0] >= BAR_H), "{ys:?}");
    assert_eq!(
        texts(&doc, "chart-label"),
        ["totp", "email", "sms", "backup codes"]
    );
    assert_eq!(texts(&doc, "chart-value"), ["40 s", "10 s", "0 s", "30 s"]);
    // Each value label sits just past its bar's end.
    for (r, t) in rects.iter().zip(with_class(&doc, "text", "chart-value")) {
        assert!(close(t.num("x"), r.num("x") + r.num("width") + 6.0));
    }
    assert_eq!(
        doc[2].text,
        "totp: 40 s; email: 10 s; sms: 0 s; backup codes: 30 s."
    );
    // The whole chart fits its viewBox.
    let height: f64 = doc[0]
        .attr("viewBox")
        .unwrap()
        .split(' ')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert!(ys.iter().all(|y| y + BAR_H <= height));

    let pct = bar_chart("Adoption", &bars(&[("admins", 50.0)]), "%");
    let doc = check_chart(&pct, "Adoption");
    assert_eq!(texts(&doc, "chart-value"), ["50%"]);
}

#[test]
fn text_is_escaped_everywhere() {
    let title = "<script>alert(1)</script> & \"friends\" 'quoted'";
    let label = "<script>x</script> R&D\u{0}\u{7}";
    let svg = bar_chart(title, &bars(&[(label, 1.0)]), "<b>&");
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;friends&quot;"));
    let doc = check_chart(&svg, title);
    // Control characters XML cannot hold are dropped; the rest comes back intact.
    assert_eq!(texts(&doc, "chart-label"), ["<script>x</script> R&D"]);
    assert_eq!(texts(&doc, "chart-value"), ["1 <b>&"]);

    let series = vec![(label.to_string(), vec![1.0, 2.0])];
    let days = vec!["<d1>".to_string(), "d&2".to_string()];
    let doc = check_chart(&line_chart(title, &days, &series, None), title);
    assert!(doc.iter().any(|e| e.text == "<d1>"));
    assert!(doc.iter().any(|e| e.text == "<script>x</script> R&D"));

    let groups = vec![(label.to_string(), vec![1.0])];
    let names = vec!["a&b".to_string()];
    let doc = check_chart(&grouped_bar_chart(title, &names, &groups, ""), title);
    assert!(doc.iter().any(|e| e.text == "a&b"));
}

#[test]
fn empty_data_says_so() {
    let none: Vec<String> = Vec::new();
    let nan = vec![("all".to_string(), vec![f64::NAN, f64::INFINITY])];
    let two_days = vec!["d1".to_string(), "d2".to_string()];
    for (svg, title) in [
        (bar_chart("Bars", &[], "s"), "Bars"),
        (line_chart("Lines", &none, &nan, Some(100.0)), "Lines"),
        (line_chart("Lines", &two_days, &[], None), "Lines"),
        (line_chart("Lines", &two_days, &nan, None), "Lines"),
        (grouped_bar_chart("Grouped", &two_days, &[], ""), "Grouped"),
        (
            grouped_bar_chart("Grouped", &[], &[("totp".into(), vec![1.0])], ""),
            "Grouped",
        ),
    ] {
        let doc = check_chart(&svg, title);
        assert_eq!(texts(&doc, "chart-empty"), ["No data"], "{svg}");
        assert_eq!(doc[2].text, "No data.");
        assert!(with_class(&doc, "rect", "chart-bar").is_empty());
    }
}

#[test]
fn zero_non_finite_and_huge_values_stay_finite() {
    // Labels without "nan" or "inf": the check looks for those words in the output.
    let svg = bar_chart(
        "Odd values",
        &bars(&[
            ("not a number", f64::NAN),
            ("plus", f64::INFINITY),
            ("minus", f64::NEG_INFINITY),
            ("max", f64::MAX),
            ("half", f64::MAX / 2.0),
            ("zero", 0.0),
            ("negative", -5.0),
        ]),
        "",
    );
    let doc = check_chart(&svg, "Odd values");
    let widths: Vec<f64> = with_class(&doc, "rect", "chart-bar")
        .iter()
        .map(|r| r.num("width"))
        .collect();
    assert_eq!(widths, [0.0, 0.0, 0.0, FULL, FULL / 2.0, 0.0, 0.0]);
    assert_eq!(
        texts(&doc, "chart-value"),
        ["n/a", "n/a", "n/a", "1.8e308", "9.0e307", "0", "-5"]
    );

    let zeros = bar_chart("Zeros", &bars(&[("a", 0.0), ("b", 0.0)]), "s");
    let doc = check_chart(&zeros, "Zeros");
    assert!(with_class(&doc, "rect", "chart-bar")
        .iter()
        .all(|r| r.num("width") == 0.0));

    let days: Vec<String> = vec!["d1".into(), "d2".into()];
    let flat = vec![("all".to_string(), vec![0.0, 0.0])];
    check_chart(&line_chart("Flat", &days, &flat, None), "Flat");
    let huge = vec![("all".to_string(), vec![f64::MAX, f64::MAX / 4.0])];
    let doc = check_chart(&line_chart("Huge", &days, &huge, Some(f64::NAN)), "Huge");
    let ys: Vec<f64> = with_class(&doc, "circle", "chart-point")
        .iter()
        .map(|c| c.num("cy"))
        .collect();
    assert!(
        close(ys[0], TITLE_H) && close(ys[1], TITLE_H + PLOT_H * 0.75),
        "{ys:?}"
    );
}

fn points(e: &Element) -> Vec<(f64, f64)> {
    e.attr("points")
        .unwrap()
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

#[test]
fn lines_are_placed_on_the_axes() {
    let days: Vec<String> = (1..=5).map(|d| format!("06-0{d}")).collect();
    let series = vec![
        ("all users".to_string(), vec![0.0, 25.0, 50.0, 75.0, 100.0]),
        (
            "admins".to_string(),
            vec![10.0, f64::NAN, 30.0, 40.0, 150.0],
        ),
    ];
    let svg = line_chart("Adoption %", &days, &series, Some(100.0));
    let doc = check_chart(&svg, "Adoption %");
    let plot_w = WIDTH - PLOT_LEFT - PLOT_RIGHT;
    let x = |i: f64| PLOT_LEFT + plot_w * i / 4.0;
    let y = |v: f64| TITLE_H + PLOT_H - v / 100.0 * PLOT_H;

    let lines = with_class(&doc, "polyline", "chart-line");
    assert_eq!(lines.len(), 2, "one line each; the gap leaves a lone point");
    let first = points(lines[0]);
    assert_eq!(first.len(), 5);
    for (i, (px, py)) in first.iter().enumerate() {
        let v = 25.0 * i as f64;
        assert!(close(*px, x(i as f64)) && close(*py, y(v)), "{first:?}");
    }
    // After the gap: three points, the one above y_max drawn at the top.
    let second = points(lines[1]);
    let want = [(x(2.0), y(30.0)), (x(3.0), y(40.0)), (x(4.0), TITLE_H)];
    assert_eq!(second.len(), 3);
    for (got, want) in second.iter().zip(want) {
        assert!(close(got.0, want.0) && close(got.1, want.1), "{second:?}");
    }
    assert_eq!(with_class(&doc, "circle", "chart-point").len(), 9);
    assert_ne!(lines[0].attr("stroke"), lines[1].attr("stroke"));

    assert_eq!(
        texts(&doc, "chart-axis")[..5],
        ["0", "25", "50", "75", "100"]
    );
    assert_eq!(texts(&doc, "chart-axis")[5..], days[..]);
    let legend: Vec<&str> = doc
        .iter()
        .filter(|e| e.name == "text" && e.parent.is_some_and(|p| doc[p].has_class("chart-legend")))
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(legend, ["all users", "admins"]);
    assert_eq!(
        doc[2].text,
        "all users: 0 (06-01) to 100 (06-05); admins: 10 (06-01) to 150 (06-05)."
    );

    // Without y_max the largest value is the top; one day sits in the middle.
    let one = vec![("all".to_string(), vec![40.0])];
    let doc = check_chart(&line_chart("One", &days[..1], &one, None), "One");
    let c = with_class(&doc, "circle", "chart-point")[0];
    assert!(close(c.num("cx"), PLOT_LEFT + plot_w / 2.0) && close(c.num("cy"), TITLE_H));
    assert!(with_class(&doc, "polyline", "chart-line").is_empty());
}

#[test]
fn many_days_get_a_readable_number_of_labels() {
    let days: Vec<String> = (0..90).map(|d| format!("day {d}")).collect();
    let series = vec![("all".to_string(), (0..90).map(f64::from).collect())];
    let doc = check_chart(
        &line_chart("Quarter", &days, &series, Some(100.0)),
        "Quarter",
    );
    let x_labels: Vec<String> = texts(&doc, "chart-axis").split_off(5);
    assert!(x_labels.len() <= MAX_X_LABELS + 1, "{x_labels:?}");
    assert_eq!(x_labels.first().map(String::as_str), Some("day 0"));
    assert_eq!(x_labels.last().map(String::as_str), Some("day 89"));
}

#[test]
fn grouped_bars_share_one_scale() {
    let names = vec!["successes".to_string(), "failures".to_string()];
    let groups = vec![
        ("totp".to_string(), vec![30.0, 10.0]),
        ("sms".to_string(), vec![0.0, 15.0]),
        // A missing value counts as none.
        ("email".to_string(), vec![6.0]),
    ];
    let svg = grouped_bar_chart("Outcomes per factor", &names, &groups, "");
    let doc = check_chart(&svg, "Outcomes per factor");
    let widths = |class| -> Vec<f64> {
        with_class(&doc, "rect", class)
            .iter()
            .filter(|r| r.has_class("chart-bar"))
            .map(|r| r.num("width"))
            .collect()
    };
    let ok = widths("series-0");
    let failed = widths("series-1");
    for (got, want) in ok.iter().zip([FULL, 0.0, FULL / 5.0]) {
        assert!(close(*got, want), "{ok:?}");
    }
    for (got, want) in failed.iter().zip([FULL / 3.0, FULL / 2.0, 0.0]) {
        assert!(close(*got, want), "{failed:?}");
    }
    assert_eq!((ok.len(), failed.len()), (3, 3));
    assert_eq!(texts(&doc, "chart-label"), ["totp", "sms", "email"]);
    assert_eq!(
        doc[2].text,
        "totp: successes 30, failures 10; sms: successes 0, failures 15; \
         email: successes 6, failures 0."
    );
    let swatches = with_class(&doc, "rect", "series-1");
    assert!(swatches.iter().all(|r| r.attr("fill") == Some(PALETTE[1])));
}

#[test]
fn values_read_naturally() {
    let cases = [
        (0.0, "0"),
        (-0.0, "0"),
        (12.0, "12"),
        (12.34, "12.3"),
        (9_999.0, "9999"),
        (12_345.0, "12.3k"),
        (1_500_000.0, "1.5M"),
        (7e9, "7G"),
        (2e15, "2.0e15"),
        (f64::NAN, "n/a"),
        (f64::NEG_INFINITY, "n/a"),
    ];
    for (v, want) in cases {
        assert_eq!(format_value(v), want, "{v}");
    }
    assert_eq!(num(f64::NAN), "0");
    assert_eq!(num(1.0 / 3.0), "0.33");
    assert_eq!(num(-0.001), "0");
}

#[test]
fn charts_on_one_page_have_distinct_ids() {
    let a = check_chart(&bar_chart("A", &bars(&[("x", 1.0)]), ""), "A");
    let b = check_chart(&bar_chart("B", &bars(&[("x", 1.0)]), ""), "B");
    assert_ne!(a[1].attr("id"), b[1].attr("id"));
    assert_ne!(a[1].attr("id"), a[2].attr("id"));
}
