//! Audit exports for auditors: CSV for spreadsheets and JSON for programs. Both carry
//! every stored field, so the chain can be re-checked from an export: `at` as RFC 3339
//! UTC (whole seconds, so the Unix time is recovered exactly), `seq`, `prev_hash` and
//! `hash` raw. In CSV an absent value is an empty cell; in JSON it is `null`, and
//! `detail` is embedded as an object (as a string if the stored text is not one).
use super::AuditEntry;
use crate::clock::UnixTime;
use crate::csv::csv_table;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The export columns, in the order of the hashed fields.
const HEADERS: [&str; 11] = [
    "seq",
    "at",
    "actor",
    "actor_role",
    "action",
    "target",
    "ip",
    "request_id",
    "detail",
    "prev_hash",
    "hash",
];

/// `2027-01-15T08:00:00Z`; `@<seconds>` for a time RFC 3339 cannot write (beyond
/// year 9999 or before year 0).
pub fn rfc3339_utc(t: UnixTime) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{t}"))
}

pub fn to_csv(entries: &[AuditEntry]) -> String {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                rfc3339_utc(e.at),
                e.actor.clone(),
                opt(&e.actor_role),
                e.action.clone(),
                opt(&e.target),
                opt(&e.ip),
                opt(&e.request_id),
                e.detail.clone(),
                e.prev_hash.clone(),
                e.hash.clone(),
            ]
        })
        .collect();
    csv_table(&HEADERS, &rows)
}

/// A JSON array with one entry object per line.
pub fn to_json(entries: &[AuditEntry]) -> String {
    let mut out = String::from("[");
    for (i, e) in entries.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let detail = match serde_json::from_str::<Value>(&e.detail) {
            Ok(v @ Value::Object(_)) => v,
            _ => Value::String(e.detail.clone()),
        };
        let obj = json!({
            "seq": e.seq,
            "at": rfc3339_utc(e.at),
            "actor": e.actor,
            "actor_role": e.actor_role,
            "action": e.action,
            "target": e.target,
            "ip": e.ip,
            "request_id": e.request_id,
            "detail": detail,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        });
        out.push_str(&obj.to_string());
    }
    out.push_str(if entries.is_empty() { "]\n" } else { "\n]\n" });
    out
}
