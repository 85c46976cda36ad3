use super::*;
use crate::testutil::Rng;

fn m(glob: &str, path: &str) -> bool {
    Glob::compile(glob).unwrap().is_match(path)
}

#[test]
fn star_stays_within_a_segment() {
    assert!(m("/api/*/users", "/api/v1/users"));
    assert!(m("/api/*/users", "/api//users"));
    assert!(!m("/api/*/users", "/api/v1/x/users"));
    assert!(m("/*.php", "/index.php"));
    assert!(!m("/*.php", "/a/index.php"));
    assert!(m("/files/*", "/files/a"));
    assert!(m("/files/*", "/files/"));
    assert!(!m("/files/*", "/files/a/b"));
    assert!(!m("/files/*", "/files"));
    assert!(m("/a*b*c", "/abc"));
    assert!(m("/a*b*c", "/aXbYc"));
    assert!(!m("/a*b*c", "/aXb/c"));
}

#[test]
fn globstar_crosses_segments() {
    assert!(m("/**/*.php", "/a/b/c.php"));
    assert!(m("/**/*.php", "//c.php"));
    assert!(!m("/**/*.php", "/c.php"));
    assert!(m("/**.php", "/c.php"));
    assert!(m("/static/**", "/static/a/b/c"));
    assert!(m("/static/**", "/static/"));
    assert!(!m("/static/**", "/static"));
    assert!(m("/**", "/"));
    assert!(m("/**", "/anything/at/all"));
    assert!(m("/a/**/b", "/a/x/y/b"));
    assert!(m("/a/**/b", "/a//b"));
    assert!(!m("/a/**/b", "/a/b"));
    assert!(m("/a**b", "/a/x/b"));
    assert!(m("/**", "/a\nb"));
}

#[test]
fn question_mark_is_one_character() {
    assert!(m("/v?/x", "/v1/x"));
    assert!(!m("/v?/x", "/v10/x"));
    assert!(!m("/v?/x", "/v/x"));
    assert!(!m("/a?b", "/a/b"));
    assert!(m("/?", "/é"));
    assert!(m("/??", "/日本"));
    assert!(!m("/?", "/日本"));
}

#[test]
fn whole_path_is_matched() {
    assert!(!m("/a/*", "/x/a/b"));
    assert!(!m("/a/*.js", "/a/b.js.map"));
    assert!(m("/a/*.js*", "/a/b.js.map"));
}

#[test]
fn unsupported_syntax_is_refused() {
    for bad in [
        "/***",
        "/a/****/b",
        "/a/[ab]*",
        "/a/*.{png,jpg}",
        "/a]*",
        "/a}?",
    ] {
        let err = Glob::compile(bad).unwrap_err();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn long_globs_fall_back_to_regex() {
    let long = format!("/*{}", "ab".repeat(40));
    assert!(matches!(
        Glob::compile(&format!("/*{}", "ab".repeat(31)))
            .unwrap()
            .engine,
        Engine::ShiftAnd(_)
    ));
    let g = Glob::compile(&long).unwrap();
    assert!(matches!(g.engine, Engine::Regex(_)));
    assert!(g.is_match(&format!("/xyz{}", "ab".repeat(40))));
    assert!(!g.is_match(&format!("/x/z{}", "ab".repeat(40))));
}

#[test]
fn prefix_and_suffix_are_extracted() {
    let g = Glob::compile("/api/*/x.json").unwrap();
    assert_eq!(&*g.prefix, "/api/");
    assert_eq!(&*g.suffix, "/x.json");
    assert_eq!(g.needle, None);
    let g = Glob::compile("/**/.git/**").unwrap();
    assert_eq!(g.needle.as_deref(), Some("/.git/"));
    assert!(g.is_match("/a/.git/config"));
    assert!(!g.is_match("/a/.gitignore"));
    let g = Glob::compile("/a*bc*def*").unwrap();
    assert_eq!(g.needle.as_deref(), Some("def"));
}

fn random_glob(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &["/", "/", "a", "b", "ab", "*", "**", "?", ".", "é"];
    let mut out = String::from("/");
    for _ in 0..rng.below(7) {
        let p = rng.pick(PIECES);
        // Avoid building `***` by accident.
        if p.starts_with('*') && out.ends_with('*') {
            continue;
        }
        out.push_str(p);
    }
    out
}

fn random_input(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &["/", "/", "a", "b", "ab", ".", "é", "x"];
    let mut out = String::from("/");
    for _ in 0..rng.below(9) {
        out.push_str(rng.pick(PIECES));
    }
    out
}

/// The shift-and matcher and the regex translation agree on random globs and inputs.
#[test]
fn shift_and_agrees_with_regex() {
    let mut rng = Rng::new(42);
    for _ in 0..3_000 {
        let glob = random_glob(&mut rng);
        let tokens = tokenize(&glob).unwrap();
        let re = Regex::new(&to_regex_source(&tokens)).unwrap();
        let g = Glob::compile(&glob).unwrap();
        for _ in 0..30 {
            let input = random_input(&mut rng);
            assert_eq!(
                g.is_match(&input),
                re.is_match(&input),
                "glob {glob:?} input {input:?}"
            );
        }
    }
}
