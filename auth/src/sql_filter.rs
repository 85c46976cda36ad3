//! `WHERE` clauses built at run time from optional search fields, with `$N`
//! placeholders numbered as conditions are added (the audit log's and the event
//! log's searches).
use crate::error::AuthError;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};

/// A value for a placeholder of a query built at run time.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// A `WHERE` clause with `$N` placeholders and their values.
#[derive(Default)]
pub(crate) struct Filter {
    pub(crate) clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Adds a condition; its one `?` becomes the next `$N`.
    pub(crate) fn push(&mut self, clause: &str, value: Bind) {
        self.binds.push(value);
        let n = self.binds.len();
        self.clauses.push(clause.replacen('?', &format!("${n}"), 1));
    }

    /// Inclusive bounds on the integer column `column`, where given.
    pub(crate) fn time_range(&mut self, column: &str, from: Option<i64>, to: Option<i64>) {
        if let Some(from) = from {
            self.push(&format!("{column} >= ?"), Bind::Int(from));
        }
        if let Some(to) = to {
            self.push(&format!("{column} <= ?"), Bind::Int(to));
        }
    }

    /// The next placeholder, for the values bound after the filter's own.
    pub(crate) fn next(&self) -> usize {
        self.binds.len() + 1
    }

    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub(crate) fn bind<'q>(
        &self,
        mut q: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }

    /// One page of `select` (`SELECT … FROM table`) under this filter, in `order`:
    /// at most `limit` rows (clamped to `0..=max`) from `offset` (at least 0).
    pub(crate) async fn page(
        &self,
        pool: &AnyPool,
        select: &str,
        order: &str,
        (limit, offset, max): (i64, i64, i64),
    ) -> Result<Vec<AnyRow>, AuthError> {
        let n = self.next();
        let sql = format!(
            "{select}{} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            self.sql(),
            n + 1
        );
        Ok(self
            .bind(sqlx::query(&sql))
            .bind(limit.clamp(0, max))
            .bind(offset.max(0))
            .fetch_all(pool)
            .await?)
    }

    /// How many rows of `table` match.
    pub(crate) async fn count(&self, pool: &AnyPool, table: &str) -> Result<u64, AuthError> {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}{}", self.sql());
        let n: i64 = self
            .bind(sqlx::query(&sql))
            .fetch_one(pool)
            .await?
            .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// `%needle%`, lower-cased, with LIKE's own characters escaped by `\` (use with
/// `ESCAPE '\'`).
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut p = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}
