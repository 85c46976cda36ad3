//! `sekisho audit verify` and `sekisho audit export`: the audit log from the command
//! line, for auditors and for scheduled checks (verify exits 1 on a broken chain, so
//! cron or a monitoring probe can alert on it).
use super::{block, load, ConfigArg};
use clap::{Subcommand, ValueEnum};
use sekisho_auth::audit::{to_csv, to_json};
use sekisho_auth::{AccountStore, AuditAction, AuditEntry, AuditQuery, NewAuditEntry, SystemClock};
use sekisho_config::Deadline;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub(super) enum AuditCommand {
    /// Check the audit log's hash chain.
    ///
    /// Prints the entry count and the head hash (keep it where the database's writers
    /// cannot reach: entries cut off the end, or a rewritten chain, show only as a
    /// different head). Exits 1 and names the first edited, missing or reordered
    /// entry if the chain is broken.
    Verify(ConfigArg),
    /// Export matching entries, oldest first, as CSV or JSON.
    ///
    /// The export is then recorded in the log as an `audit_exported` entry.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// CSV (cells a spreadsheet would run as formulas get a leading ') or JSON.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Entries whose actor contains this (case-insensitive).
        #[arg(long)]
        actor: Option<String>,
        /// Entries whose target contains this (case-insensitive).
        #[arg(long)]
        target: Option<String>,
        /// Entries with exactly this action, e.g. reset_approved.
        #[arg(long)]
        action: Option<String>,
        /// Entries at or after this time (RFC 3339, e.g. 2027-04-01T00:00:00+09:00).
        #[arg(long)]
        from: Option<String>,
        /// Entries at or before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Write to this file (created readable by its owner only) instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

/// Runs an audit command; `Ok` carries the exit code (1 for a broken chain).
pub(super) fn run(cmd: AuditCommand) -> Result<ExitCode, String> {
    match cmd {
        AuditCommand::Verify(c) => verify(&c),
        AuditCommand::Export {
            config,
            format,
            actor,
            target,
            action,
            from,
            to,
            output,
        } => {
            let query = AuditQuery {
                actor,
                target,
                action: action.as_deref().map(parse_action).transpose()?,
                from: from
                    .as_deref()
                    .map(|t| parse_time("--from", t))
                    .transpose()?,
                to: to.as_deref().map(|t| parse_time("--to", t)).transpose()?,
                ..AuditQuery::default()
            };
            export(&config, format, &query, output.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_action(raw: &str) -> Result<AuditAction, String> {
    AuditAction::parse(raw.trim()).ok_or_else(|| {
        let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        format!("--action `{raw}` is not one of: {}", names.join(", "))
    })
}

fn parse_time(flag: &str, raw: &str) -> Result<i64, String> {
    Deadline::parse(raw)
        .map(Deadline::unix)
        .ok_or_else(|| format!("{flag} `{raw}` is not an RFC 3339 time, e.g. 2027-04-01T00:00:00Z"))
}

fn verify(c: &ConfigArg) -> Result<ExitCode, String> {
    let s = load(c)?;
    let report = super::with_accounts(&s, async |a| a.audit().verify().await)?;
    match (&report.first_break, &report.head) {
        (None, Some(head)) => {
            println!("audit log intact: {} entries, head {head}", report.entries);
            Ok(ExitCode::SUCCESS)
        }
        (None, None) => {
            println!("audit log intact: 0 entries");
            Ok(ExitCode::SUCCESS)
        }
        (Some(b), _) => {
            eprintln!("audit log broken: {b} ({} entries checked)", report.entries);
            Ok(ExitCode::from(1))
        }
    }
}

fn export(
    c: &ConfigArg,
    format: ExportFormat,
    query: &AuditQuery,
    output: Option<&Path>,
) -> Result<(), String> {
    let s = load(c)?;
    block(async {
        let accounts = AccountStore::connect(&s.database)
            .await
            .map_err(|e| e.to_string())?;
        let result = export_with(&accounts, format, query, output).await;
        accounts.close().await;
        result
    })?
}

async fn export_with(
    accounts: &AccountStore,
    format: ExportFormat,
    query: &AuditQuery,
    output: Option<&Path>,
) -> Result<(), String> {
    let log = accounts.audit();
    let entries = log.export(query).await.map_err(|e| e.to_string())?;
    let text = match format {
        ExportFormat::Csv => to_csv(&entries),
        ExportFormat::Json => to_json(&entries),
    };
    match output {
        Some(path) => write_private(path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write the export: {e}"))?;
        }
    }
    // Recorded once the export exists, so it never lists itself and a failed write
    // leaves no claim that data left.
    let record = NewAuditEntry::new("cli", "cli", AuditAction::AuditExported)
        .detail(&detail(format, &entries, query, output));
    let now = sekisho_auth::Clock::now(&SystemClock);
    log.append(record, now)
        .await
        .map_err(|e| format!("export written, but not recorded in the audit log: {e}"))?;
    Ok(())
}

/// The export's facts for its own audit entry: format, count, filters, destination.
fn detail(
    format: ExportFormat,
    entries: &[AuditEntry],
    q: &AuditQuery,
    output: Option<&Path>,
) -> Vec<(&'static str, String)> {
    let mut d = vec![
        ("format", format.as_str().to_string()),
        ("count", entries.len().to_string()),
    ];
    if let Some(actor) = &q.actor {
        d.push(("actor", actor.clone()));
    }
    if let Some(target) = &q.target {
        d.push(("target", target.clone()));
    }
    if let Some(action) = q.action {
        d.push(("action", action.as_str().to_string()));
    }
    if let Some(from) = q.from {
        d.push(("from", sekisho_auth::audit::rfc3339_utc(from)));
    }
    if let Some(to) = q.to {
        d.push(("to", sekisho_auth::audit::rfc3339_utc(to)));
    }
    let dest = output.map_or("stdout".to_string(), |p| p.display().to_string());
    d.push(("output", dest));
    d
}

/// Audit entries name people and addresses: the file is not left world-readable.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
