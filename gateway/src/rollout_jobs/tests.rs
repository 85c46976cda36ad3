use super::*;
use sekisho_config::FactorSet;

const D: &str = "2027-04-01T00:00:00+09:00";

fn rule(mode: EnrollmentMode, deadline: Option<&str>, days: &[u32]) -> EnrollmentRuleSettings {
    EnrollmentRuleSettings {
        name: "r".into(),
        index: 0,
        groups: vec![],
        users: vec![],
        mode,
        deadline: deadline.and_then(Deadline::parse),
        grace_logins: None,
        snooze: std::time::Duration::from_secs(60),
        notice_days: days.to_vec(),
        methods: FactorSet::of(&[]),
    }
}

#[test]
fn the_latest_due_notice_is_sent_and_older_ones_superseded() {
    let r = rule(EnrollmentMode::Require, Some(D), &[30, 7, 1]);
    let d = r.deadline.unwrap().unix();
    assert_eq!(due_notices(&r, d - 40 * DAY), None);
    assert_eq!(due_notices(&r, d - 30 * DAY - 1), None);
    let at_30 = due_notices(&r, d - 30 * DAY).unwrap();
    assert_eq!((at_30.send, at_30.superseded.clone()), (30, vec![]));
    let at_20 = due_notices(&r, d - 20 * DAY).unwrap();
    assert_eq!((at_20.send, at_20.superseded), (30, vec![]));
    let at_7 = due_notices(&r, d - 7 * DAY).unwrap();
    assert_eq!((at_7.send, at_7.superseded), (7, vec![30]));
    let late = due_notices(&r, d - DAY / 2).unwrap();
    assert_eq!((late.send, late.superseded), (1, vec![7, 30]));
    // From the deadline on, enrolment is forced: no more reminders.
    assert_eq!(due_notices(&r, d), None);
}

#[test]
fn only_require_with_a_deadline_and_days_reminds() {
    assert_eq!(
        due_notices(&rule(EnrollmentMode::Require, None, &[]), 0),
        None
    );
    assert_eq!(
        due_notices(&rule(EnrollmentMode::Require, Some(D), &[]), 0),
        None
    );
    let mut recommend = rule(EnrollmentMode::Require, Some(D), &[400]);
    recommend.mode = EnrollmentMode::Recommend;
    assert_eq!(due_notices(&recommend, 0), None);
}

fn settings(extra: &str) -> Settings {
    sekisho_config::load_str(
        extra,
        "<t>",
        &std::collections::HashMap::<String, String>::new(),
    )
    .unwrap()
}

#[test]
fn the_link_points_at_the_wizard_on_the_first_concrete_site() {
    let s = settings(
        r#"
[server]
listen = "0.0.0.0:8080"
[[sites]]
host = "*.example.com"
upstreams = ["127.0.0.1:1"]
[[sites]]
host = "app.example.com"
upstreams = ["127.0.0.1:1"]
"#,
    );
    assert_eq!(
        enrol_link(&s),
        "https://app.example.com/_sekisho/enroll/start"
    );
    // The demo: the site is the listener's own loopback address.
    let demo = settings(
        r#"
[server]
listen = "127.0.0.1:8080"
[ui]
prefix = "/auth/"
[[sites]]
host = "127.0.0.1"
upstreams = ["127.0.0.1:1"]
"#,
    );
    assert_eq!(enrol_link(&demo), "http://127.0.0.1:8080/auth/enroll/start");
    assert_eq!(enrol_link(&settings("")), "/_sekisho/enroll/start");
}
