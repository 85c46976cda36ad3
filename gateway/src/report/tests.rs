use super::*;

fn row(group: &str, users: i64, enrolled: i64) -> AdoptionRow {
    AdoptionRow {
        group: group.into(),
        users,
        enrolled,
        totp: enrolled,
        email: 0,
        sms: 0,
        backup_codes: 1,
    }
}

fn sample() -> (Adoption, Funnel) {
    (
        Adoption {
            groups: vec![row("", 3, 1), row("admins", 2, 2), row("a,b", 1, 0)],
            total: row("", 5, 3),
        },
        Funnel {
            started: 4,
            completed: 2,
            abandoned: 1,
        },
    )
}

#[test]
fn table_has_a_row_per_group_a_total_and_the_funnel() {
    let (a, f) = sample();
    let text = adoption_table(&a, &f, 30);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("group "), "{text}");
    assert!(lines[1].ends_with("backup codes"), "{text}");
    let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        cells(lines[2]),
        ["(none)", "3", "1", "33.3", "1", "0", "0", "1"]
    );
    assert_eq!(
        cells(lines[3]),
        ["admins", "2", "2", "100.0", "2", "0", "0", "1"]
    );
    assert!(lines[5].starts_with("----"), "{text}");
    assert_eq!(
        cells(lines[6]),
        ["total", "5", "3", "60.0", "3", "0", "0", "1"]
    );
    assert!(text.contains("Enrolment funnel (last 30 days)"), "{text}");
    assert!(
        text.contains("completed       2  (50.0% of started)"),
        "{text}"
    );
    assert!(text.contains("abandoned       1"), "{text}");
}

#[test]
fn csv_quotes_odd_group_names_and_lists_the_funnel() {
    let (a, f) = sample();
    let text = adoption_csv(&a, &f);
    assert_eq!(
        text,
        "group,users,enrolled,percent,totp,email,sms,backup_codes\n\
         (none),3,1,33.3,1,0,0,1\n\
         admins,2,2,100.0,2,0,0,1\n\
         \"a,b\",1,0,0.0,0,0,0,1\n\
         (total),5,3,60.0,3,0,0,1\n\
         \n\
         stage,count\n\
         started,4\n\
         completed,2\n\
         abandoned,1\n"
    );
}
