//! State: the embedded SQLite database that lets a run continue where the last one stopped.
//!
//! The *state* of a job is everything a later run needs: the detector (event-time clock with its
//! open buckets, every over value's baseline, the population prior, the rule's pending records),
//! the records and alerts produced so far, and how far each input file has been read. A run
//! reads the state at its start and writes all of it back in one transaction at its end, so a
//! run interrupted at any point leaves the database exactly as the previous run left it; the
//! interrupted run can simply be repeated.
//!
//! Input files are recognised by a *fingerprint* of their first bytes rather than by path, so a
//! rotated or renamed log is still known, and a log that has grown since is read on from the
//! first line not yet processed.

use crate::detect::DetectorState;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::read::content_fingerprint;
use crate::read::source::FINGERPRINT_BYTES;

/// Version of the table layout, stored in the database; a database of another version is
/// refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS detector (
    job_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (
    job_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    name TEXT NOT NULL,
    lines_done INTEGER NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (job_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS records (
    job_id TEXT NOT NULL,
    bucket_start_secs INTEGER NOT NULL,
    over_value TEXT NOT NULL,
    record_score REAL NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (job_id, bucket_start_secs, over_value)
);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    bucket_start_secs INTEGER NOT NULL,
    over_value TEXT NOT NULL,
    rule_run_secs INTEGER NOT NULL,
    document TEXT NOT NULL
);
";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error(
        "state database {path} has layout version {found}, this geoexfil reads version \
         {SCHEMA_VERSION}; use a new state file"
    )]
    Version { path: PathBuf, found: i64 },
    #[error("state database {path}: saved detector for job {job_id} is unreadable: {source}")]
    Corrupt { path: PathBuf, job_id: String, source: serde_json::Error },
    #[error(
        "state database {path} holds job {job_id} with other settings ({difference}); use a \
         new state file or the same settings"
    )]
    JobMismatch { path: PathBuf, job_id: String, difference: String },
    #[error(
        "{path} is a SQLite database of something else (tables {tables}); give geoexfil a \
         state file of its own"
    )]
    Foreign { path: PathBuf, tables: String },
}

/// How far an input has been read by earlier runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProgress {
    pub fingerprint: String,
    pub name: String,
    pub lines_done: u64,
}

/// An open state database.
pub struct StateStore {
    path: PathBuf,
    conn: Connection,
}

impl StateStore {
    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let sqlite = |source| StateError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(sqlite)?;
        // Another program's database is left exactly as it is: no tables added, no journal
        // mode changed.
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .and_then(|mut query| query.query_map([], |row| row.get(0))?.collect())
            .map_err(sqlite)?;
        // A geoexfil database has its layout version in `meta` from the moment its tables
        // exist (they are created together, in one transaction).
        let version = |conn: &Connection| -> Result<Option<String>, rusqlite::Error> {
            conn.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
                .optional()
        };
        let found = if tables.is_empty() {
            None
        } else {
            match tables.iter().any(|t| t == "meta").then(|| version(&conn)) {
                Some(Ok(Some(found))) => Some(found),
                _ => {
                    let tables = tables.join(", ");
                    return Err(StateError::Foreign { path: path.to_path_buf(), tables });
                }
            }
        };
        // Write-ahead logging with full sync: a crash or power loss at any moment keeps the
        // last committed run intact.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sqlite)?;
        match found.map(|v| v.parse::<i64>()) {
            Some(Ok(SCHEMA_VERSION)) => {}
            Some(Ok(other)) => return Err(StateError::Version { path: path.into(), found: other }),
            Some(Err(_)) => {
                let tables = tables.join(", ");
                return Err(StateError::Foreign { path: path.to_path_buf(), tables });
            }
            None => {
                let create = format!(
                    "BEGIN; {SCHEMA} INSERT INTO meta (key, value) VALUES ('schema_version', \
                     '{SCHEMA_VERSION}'); COMMIT;"
                );
                conn.execute_batch(&create).map_err(sqlite)?;
            }
        }
        Ok(StateStore { path: path.to_path_buf(), conn })
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        move |source| StateError::Sqlite { path: self.path.clone(), source }
    }

    /// The saved detector of a job, if an earlier run saved one.
    pub fn load_detector(&self, job_id: &str) -> Result<Option<DetectorState>, StateError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT state FROM detector WHERE job_id = ?1", params![job_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.sqlite())?;
        let Some(text) = text else { return Ok(None) };
        serde_json::from_str(&text).map(Some).map_err(|source| StateError::Corrupt {
            path: self.path.clone(),
            job_id: job_id.to_string(),
            source,
        })
    }

    /// How far earlier runs read the input whose content begins with `head` (its first
    /// [`FINGERPRINT_BYTES`]). An input first seen shorter than that, as a log is just after
    /// rotation, was known by all of its content then: it is the same input if its content
    /// begins the same way now.
    pub fn input_progress(&self, job_id: &str, head: &[u8]) -> Result<u64, StateError> {
        let fingerprint = content_fingerprint(head);
        let lines: Option<i64> = self
            .conn
            .query_row(
                "SELECT lines_done FROM inputs WHERE job_id = ?1 AND fingerprint = ?2",
                params![job_id, fingerprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sqlite())?;
        if let Some(lines) = lines {
            return Ok(lines.max(0) as u64);
        }
        let full = format!("%-{FINGERPRINT_BYTES}");
        let mut query = self
            .conn
            .prepare(
                "SELECT fingerprint, lines_done FROM inputs WHERE job_id = ?1 \
                 AND fingerprint NOT LIKE ?2 ORDER BY lines_done DESC",
            )
            .map_err(self.sqlite())?;
        let shorter = query
            .query_map(params![job_id, full], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.sqlite())?;
        for row in shorter {
            let (known, lines) = row.map_err(self.sqlite())?;
            let length = known.rsplit('-').next().and_then(|n| n.parse::<usize>().ok());
            let matches = length.is_some_and(|length| {
                length < head.len() && content_fingerprint(&head[..length]) == known
            });
            if matches {
                return Ok(lines.max(0) as u64);
            }
        }
        Ok(0)
    }

    /// Starts the run's transaction. Records and alerts are added as they are produced and
    /// the detector and input progress at the end; nothing is visible, and nothing survives a
    /// crash, until [`commit_run`](Self::commit_run).
    pub fn begin_run(&mut self) -> Result<(), StateError> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(self.sqlite())
    }

    /// Adds one record with a score above zero.
    pub fn add_record(
        &mut self,
        job_id: &str,
        bucket_start_secs: i64,
        over_value: &str,
        record_score: f64,
        document: &Value,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO records (job_id, bucket_start_secs, over_value, \
                 record_score, document) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![job_id, bucket_start_secs, over_value, record_score, document.to_string()],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// Adds one alert; an alert id already stored is left as it was.
    pub fn add_alert(
        &mut self,
        job_id: &str,
        alert_id: &str,
        (bucket_start_secs, over_value): (i64, &str),
        rule_run_secs: i64,
        document: &Value,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO alerts (alert_id, job_id, bucket_start_secs, over_value, \
                 rule_run_secs, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    alert_id,
                    job_id,
                    bucket_start_secs,
                    over_value,
                    rule_run_secs,
                    document.to_string()
                ],
            )
            .map(drop)
            .map_err(self.sqlite())
    }

    /// Saves the detector and input progress and commits the run.
    pub fn commit_run(
        &mut self,
        detector: &DetectorState,
        inputs: &[InputProgress],
    ) -> Result<(), StateError> {
        let job_id = detector.job.job_id.as_str();
        let now = chrono::Utc::now().to_rfc3339();
        let state_text = serde_json::to_string(detector).expect("detector state serialises");
        self.conn
            .execute(
                "INSERT OR REPLACE INTO detector (job_id, state, updated_at) VALUES (?1, ?2, ?3)",
                params![job_id, state_text, now],
            )
            .map_err(self.sqlite())?;
        for input in inputs {
            self.conn
                .execute(
                    "INSERT OR REPLACE INTO inputs (job_id, fingerprint, name, lines_done, \
                     processed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![job_id, input.fingerprint, input.name, input.lines_done as i64, now],
                )
                .map_err(self.sqlite())?;
        }
        self.conn.execute_batch("COMMIT").map_err(self.sqlite())
    }

    /// Every alert of a job, oldest rule run first.
    pub fn alerts(&self, job_id: &str) -> Result<Vec<Value>, StateError> {
        self.documents(
            "SELECT document FROM alerts WHERE job_id = ?1 \
             ORDER BY rule_run_secs, bucket_start_secs, over_value",
            job_id,
        )
    }

    /// Every stored record of a job, in bucket order.
    pub fn records(&self, job_id: &str) -> Result<Vec<Value>, StateError> {
        self.documents(
            "SELECT document FROM records WHERE job_id = ?1 ORDER BY bucket_start_secs, over_value",
            job_id,
        )
    }

    fn documents(&self, sql: &str, job_id: &str) -> Result<Vec<Value>, StateError> {
        let mut statement = self.conn.prepare(sql).map_err(self.sqlite())?;
        let rows = statement
            .query_map(params![job_id], |r| r.get::<_, String>(0))
            .map_err(self.sqlite())?;
        let mut documents = Vec::new();
        for row in rows {
            let text = row.map_err(self.sqlite())?;
            // Documents were written by serde_json, so they parse; a damaged one is skipped
            // rather than hiding every other alert.
            if let Ok(value) = serde_json::from_str(&text) {
                documents.push(value);
            }
        }
        Ok(documents)
    }
}
