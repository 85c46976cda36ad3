use crate::{load_str, ConfigError, EnrollmentMode, Factor};
use std::collections::HashMap;
use std::time::Duration;

fn load(text: &str) -> Result<crate::Settings, ConfigError> {
    load_str(text, "t.toml", &HashMap::<String, String>::new())
}

fn err(text: &str) -> String {
    load(text).expect_err("should be rejected").to_string()
}

#[test]
fn a_phased_rollout_parses() {
    let s = load(
        r#"
[[enrollment]]
name = "admins first"
groups = ["admins"]
mode = "require"

[[enrollment]]
groups = ["staff", " sales "]
mode = "require"
deadline = "2027-04-01T00:00:00+09:00"
grace_logins = 3
notice_days = [1, 30, 7, 7]
methods = ["totp"]

[[enrollment]]
mode = "recommend"
snooze = "3d"

[rollout]
reminder_interval = "1s"
"#,
    )
    .unwrap();
    let [admins, staff, rest] = &s.enrollment[..] else {
        panic!("three rules")
    };
    assert_eq!(admins.name, "admins first");
    assert_eq!(admins.mode, EnrollmentMode::Require);
    assert!(admins.deadline.is_none());
    assert!(admins.methods.contains(Factor::Totp) && admins.methods.contains(Factor::Email));
    assert!(!admins.methods.contains(Factor::BackupCode));
    assert_eq!(staff.name, "enrollment[1]");
    assert_eq!(staff.groups, ["staff", "sales"]);
    let d = staff.deadline.unwrap();
    assert_eq!(d.unix(), 1_806_505_200, "2027-03-31T15:00:00Z");
    assert_eq!(
        d.date(),
        "2027-04-01",
        "shown in the offset the operator wrote"
    );
    assert_eq!(d.offset(), "+09:00");
    assert_eq!(staff.grace_logins, Some(3));
    assert_eq!(staff.notice_days, [30, 7, 1], "sorted, deduplicated");
    assert!(staff.methods.contains(Factor::Totp) && !staff.methods.contains(Factor::Email));
    assert_eq!(rest.snooze, Duration::from_secs(3 * 86_400));
    assert!(rest.groups.is_empty() && rest.users.is_empty());
    assert_eq!(s.rollout.reminder_interval, Duration::from_secs(1));
    assert_eq!(s.rollout.abandon_after, Duration::from_secs(3600));
}

#[test]
fn days_left_round_up_and_stop_at_zero() {
    let d = crate::Deadline::parse("2027-01-10T00:00:00Z").unwrap();
    assert_eq!(d.days_left(d.unix() - 86_400 * 7), 7);
    assert_eq!(d.days_left(d.unix() - 86_400 * 7 + 1), 7);
    assert_eq!(d.days_left(d.unix() - 86_400 * 7 - 1), 8);
    assert_eq!(d.days_left(d.unix() - 1), 1);
    assert_eq!(d.days_left(d.unix()), 0);
    assert_eq!(d.days_left(d.unix() + 10), 0);
}

#[test]
fn bad_rollout_rules_name_the_key() {
    let cases = [
        (
            "[[enrollment]]\nmode = \"recommend\"\ndeadline = \"2027-01-01T00:00:00Z\"",
            "enrollment[0].deadline`: only applies to mode = \"require\"",
        ),
        (
            "[[enrollment]]\nmode = \"require\"\ndeadline = \"2027-01-01\"",
            "enrollment[0].deadline`: `2027-01-01` is not an RFC 3339 time",
        ),
        (
            "[[enrollment]]\nmode = \"require\"\ndeadline = \"2027-01-01T00:00:00\"",
            "is not an RFC 3339 time with an offset",
        ),
        (
            "[[enrollment]]\nmode = \"require\"\ngrace_logins = 3",
            "enrollment[0].grace_logins`: only applies to mode = \"require\" with a deadline",
        ),
        (
            "[[enrollment]]\nmode = \"require\"\nsnooze = \"1d\"",
            "enrollment[0].snooze`: only applies to mode = \"recommend\"",
        ),
        (
            "[[enrollment]]\nmode = \"recommend\"\nsnooze = \"1s\"",
            "enrollment[0].snooze`: between 1m and 365d",
        ),
        (
            "[[enrollment]]\nmode = \"optional\"\nnotice_days = [7]",
            "enrollment[0].notice_days`: reminders count down to a deadline",
        ),
        (
            "[[enrollment]]\nmode = \"require\"\ndeadline = \"2027-01-01T00:00:00Z\"\nnotice_days = [0]",
            "enrollment[0].notice_days`: each between 1 and 365",
        ),
        (
            "[[enrollment]]\nmode = \"require\"\nmethods = [\"backup_code\"]",
            "enrollment[0].methods[0]`: backup codes come with the first factor",
        ),
        (
            "[[enrollment]]\nmode = \"require\"\nmethods = [\"sms\"]",
            "enrollment[0].methods[0]`: `sms` is not in [mfa] factors",
        ),
        (
            "[mfa]\nfactors = [\"backup_code\"]\n[[enrollment]]\nmode = \"require\"",
            "enrollment[0].methods`: mode = \"require\" needs a factor users can enrol",
        ),
        (
            "[[enrollment]]\nmode = \"always\"",
            "unknown variant `always`",
        ),
        (
            "[[enrollment]]\nmode = \"optional\"\ngroups = [\"a,b\"]",
            "enrollment[0].groups[0]`",
        ),
        (
            "[[enrollment]]\nmode = \"optional\"\nusers = [\"bob\"]",
            "enrollment[0].users[0]`: an e-mail address",
        ),
        (
            "[[enrollment]]\nmode = \"optional\"\ndeadlin = \"x\"",
            "unknown field `deadlin`",
        ),
        ("[rollout]\nabandon_after = \"5s\"", "rollout.abandon_after`: between 1m and 7d"),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(got.contains(want), "{text}\n→ {got}\nwanted {want}");
    }
}
