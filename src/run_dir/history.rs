//! `history.csv`: one row per epoch (loss, task loss, penalty, seconds),
//! written as training goes and read back for plots and resuming.

use super::{io_error, RunDir, RunDirError};
use std::fs::{self, OpenOptions};
use std::io::Write;

/// The header line of `history.csv`.
pub const HISTORY_HEADER: &str = "epoch,loss,task_loss,penalty,seconds";

/// One row of `history.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow {
    /// 1-based epoch number.
    pub epoch: u64,
    /// `task_loss + bounds_weight * penalty`.
    pub loss: f64,
    pub task_loss: f64,
    /// The bounds cost.
    pub penalty: f64,
    /// Wall-clock seconds since training started.
    pub seconds: f64,
}

impl RunDir {
    /// Starts `history.csv` afresh: the header and no rows.
    pub fn start_history(&self) -> Result<(), RunDirError> {
        let path = self.history_path();
        fs::write(&path, format!("{HISTORY_HEADER}\n")).map_err(io_error(&path))
    }

    /// Appends one row to `history.csv` (starting it if absent).
    pub fn append_history(&self, row: &HistoryRow) -> Result<(), RunDirError> {
        let path = self.history_path();
        if !path.exists() {
            self.start_history()?;
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        writeln!(
            f,
            "{},{},{},{},{}",
            row.epoch, row.loss, row.task_loss, row.penalty, row.seconds
        )
        .map_err(io_error(&path))
    }

    /// Reads every row of `history.csv`.
    pub fn read_history(&self) -> Result<Vec<HistoryRow>, RunDirError> {
        let path = self.history_path();
        let text = crate::text_file::read_text(&path).map_err(io_error(&path))?;
        let parse_error = |line: usize, message: String| RunDirError::Parse {
            path: path.display().to_string(),
            line,
            message,
        };
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim() == HISTORY_HEADER => {}
            Some((_, header)) => {
                return Err(parse_error(
                    1,
                    format!("header is `{header}`: expected `{HISTORY_HEADER}`"),
                ))
            }
            None => {
                return Err(parse_error(
                    1,
                    format!("empty file: expected the header `{HISTORY_HEADER}`"),
                ))
            }
        }
        let mut rows = Vec::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 5 {
                return Err(parse_error(
                    i + 1,
                    format!("{} fields: expected 5", fields.len()),
                ));
            }
            let number = |k: usize| -> Result<f64, RunDirError> {
                fields[k]
                    .parse::<f64>()
                    .map_err(|_| parse_error(i + 1, format!("`{}` is not a number", fields[k])))
            };
            let epoch = fields[0].parse::<u64>().map_err(|_| {
                parse_error(
                    i + 1,
                    format!("epoch `{}` is not a whole number", fields[0]),
                )
            })?;
            rows.push(HistoryRow {
                epoch,
                loss: number(1)?,
                task_loss: number(2)?,
                penalty: number(3)?,
                seconds: number(4)?,
            });
        }
        Ok(rows)
    }

    /// Keeps only the rows up to and including `last_epoch` (for resuming
    /// from a checkpoint taken at that epoch).
    pub fn truncate_history(&self, last_epoch: u64) -> Result<(), RunDirError> {
        let rows: Vec<HistoryRow> = if self.history_path().exists() {
            self.read_history()?
        } else {
            Vec::new()
        };
        self.start_history()?;
        for row in rows.iter().filter(|r| r.epoch <= last_epoch) {
            self.append_history(row)?;
        }
        Ok(())
    }
}
