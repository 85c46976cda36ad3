use super::*;
use sekisho_config::Factor;

fn rule(i: usize, groups: &[&str], mode: EnrollmentMode) -> EnrollmentRuleSettings {
    EnrollmentRuleSettings {
        name: format!("r{i}"),
        index: i,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        users: vec![],
        mode,
        deadline: None,
        grace_logins: None,
        snooze: Duration::from_secs(7 * 86_400),
        notice_days: vec![],
        methods: FactorSet::of(&[Factor::Totp, Factor::Email]),
    }
}

const DEADLINE: &str = "2027-04-01T00:00:00+09:00";

fn rollout() -> Rollout {
    let mut staff = rule(1, &["staff"], EnrollmentMode::Require);
    staff.deadline = Deadline::parse(DEADLINE);
    staff.grace_logins = Some(2);
    let mut vip = rule(2, &[], EnrollmentMode::Off);
    vip.users = vec!["ceo@example.com".into()];
    Rollout::new(&[
        rule(0, &["admins"], EnrollmentMode::Require),
        staff,
        vip,
        rule(3, &["interns"], EnrollmentMode::Recommend),
    ])
}

fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| s.to_string()).collect()
}

#[test]
fn first_matching_rule_covers_the_user() {
    let r = rollout();
    assert_eq!(
        r.covering("a@x", &groups(&["staff", "admins"]))
            .rule
            .unwrap()
            .index,
        0
    );
    assert_eq!(
        r.covering("a@x", &groups(&["staff"])).rule.unwrap().index,
        1
    );
    assert_eq!(
        r.covering("CEO@example.com", &groups(&["interns"]))
            .rule
            .unwrap()
            .index,
        2
    );
    assert_eq!(
        r.covering("a@x", &groups(&["Staff"])).mode(),
        EnrollmentMode::Optional,
        "groups are case-sensitive; no rule → optional"
    );
    assert!(r.covering("a@x", &[]).rule.is_none());
    assert!(
        !r.covering("ceo@example.com", &[]).invites(),
        "off has no call to action"
    );
    assert!(r.covering("a@x", &[]).invites());
}

#[test]
fn require_without_deadline_forces() {
    let r = rollout();
    let c = r.covering("a@x", &groups(&["admins"]));
    assert_eq!(
        c.at_sign_in(&RolloutFacts::default(), 0),
        Nudge::Forced { deadline: None }
    );
    let enrolled = RolloutFacts {
        enrolled: true,
        ..Default::default()
    };
    assert_eq!(c.at_sign_in(&enrolled, 0), Nudge::None);
}

#[test]
fn require_with_deadline_counts_down_then_forces() {
    let r = rollout();
    let c = r.covering("a@x", &groups(&["staff"]));
    let d = Deadline::parse(DEADLINE).unwrap();
    let week_before = d.unix() - 7 * 86_400;
    let fresh = RolloutFacts::default();
    assert_eq!(
        c.at_sign_in(&fresh, week_before),
        Nudge::Countdown {
            deadline: d,
            days_left: 7,
            grace_left: Some(1)
        }
    );
    let one_used = RolloutFacts {
        grace_used: 1,
        ..fresh
    };
    assert_eq!(
        c.at_sign_in(&one_used, week_before),
        Nudge::Countdown {
            deadline: d,
            days_left: 7,
            grace_left: Some(0)
        }
    );
    let all_used = RolloutFacts {
        grace_used: 2,
        ..fresh
    };
    assert_eq!(
        c.at_sign_in(&all_used, week_before),
        Nudge::Forced { deadline: None },
        "grace sign-ins used up"
    );
    assert_eq!(
        c.at_sign_in(&fresh, d.unix() - 1),
        Nudge::Countdown {
            deadline: d,
            days_left: 1,
            grace_left: Some(1)
        }
    );
    assert_eq!(
        c.at_sign_in(&fresh, d.unix()),
        Nudge::Forced { deadline: Some(d) },
        "deadline passed"
    );
}

#[test]
fn recommend_respects_the_snooze() {
    let r = rollout();
    let c = r.covering("a@x", &groups(&["interns"]));
    let now = 1_800_000_000;
    let snooze = Duration::from_secs(7 * 86_400);
    assert_eq!(
        c.at_sign_in(&RolloutFacts::default(), now),
        Nudge::Recommend { snooze }
    );
    let snoozed = RolloutFacts {
        snoozed_until: Some(now + 10),
        ..Default::default()
    };
    assert_eq!(c.at_sign_in(&snoozed, now), Nudge::None);
    assert_eq!(
        c.at_sign_in(&snoozed, now + 10),
        Nudge::Recommend { snooze }
    );
}

#[test]
fn off_and_optional_show_nothing_at_sign_in() {
    let r = rollout();
    for c in [r.covering("ceo@example.com", &[]), r.covering("a@x", &[])] {
        assert_eq!(c.at_sign_in(&RolloutFacts::default(), 0), Nudge::None);
    }
}

#[test]
fn explain_names_rule_deadline_and_next_sign_in() {
    let r = rollout();
    let d = Deadline::parse(DEADLINE).unwrap();
    let c = r.covering("a@x", &groups(&["staff"]));
    let text = c
        .explain(Some(&RolloutFacts::default()), d.unix() - 30 * 86_400)
        .to_string();
    assert!(
        text.contains("enrollment[1] \"r1\": mode = require"),
        "{text}"
    );
    assert!(
        text.contains("deadline: 2027-04-01T00:00:00+09:00 (30 days left)"),
        "{text}"
    );
    assert!(text.contains("grace_logins: 2"), "{text}");
    assert!(
        text.contains(
            "MFA becomes mandatory on 2027-04-01 — 30 days left (1 more sign-ins may skip)"
        ),
        "{text}"
    );
    let after = c
        .explain(Some(&RolloutFacts::default()), d.unix() + 1)
        .to_string();
    assert!(
        after.contains("(passed)") && after.contains("forced enrolment"),
        "{after}"
    );
    let none = r.covering("a@x", &[]).explain(None, 0).to_string();
    assert!(
        none.contains("mode = optional (default)") && none.contains("pass --user"),
        "{none}"
    );
}
