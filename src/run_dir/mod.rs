//! The run folder: everything one training run leaves behind, in files a
//! person can open.
//!
//! ```text
//! RUN_DIR/
//!   spec.toml                 copy of the spec the run used
//!   data.txt                  absolute path of its data file (none for
//!                             the built-in task)
//!   history.csv               epoch,loss,task_loss,penalty,seconds (one row per epoch)
//!   checkpoint.safetensors    latest state, with optimiser state (for --resume)
//!   best.safetensors          parameters with the lowest loss so far
//!   final.safetensors         parameters at the end of training
//!   initial.safetensors       parameters before the first step
//!   bounds.json               lower/upper bound of every parameter
//!   sample.json               one sample's spikes and membrane traces, for plots
//!   plots/*.png               figures made by `neurojit plot`
//! ```
//!
//! JSON files write non-finite numbers as the strings `"inf"`, `"-inf"`
//! and `"nan"` (JSON has no such numbers), like the reference cases.
//!
//! This file holds [`RunDir`] itself (creating, opening, the paths of its
//! files, the spec and data path); each other file of the run has its own
//! module: `history` (history.csv), `checkpoints`, `bounds_file` (bounds.json),
//! `sample` (sample.json); `json_numbers` writes and reads the non-finite
//! numbers and `timestamp` names new run folders.

mod bounds_file;
mod checkpoints;
mod history;
mod json_numbers;
mod sample;
mod timestamp;

pub use checkpoints::CheckpointKind;
pub use history::{HistoryRow, HISTORY_HEADER};
pub use sample::{LayerRecord, Matrix, Sample};
pub use timestamp::timestamp;

use crate::checkpoint::{self, CheckpointError};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunDirError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path} is not a run folder (it has no spec.toml)")]
    NotARun { path: String },
    #[error("{path} does not exist: expected a run folder")]
    NoSuchRun { path: String },
    #[error("{path} already exists and is not empty: expected a new or empty folder")]
    NotEmpty { path: String },
    #[error("{path} is a file: expected a new or empty folder")]
    NotAFolder { path: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A run folder on disk.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates a new run folder `runs_root/YYYY-MM-DD_HH-MM-SS` (UTC; with
    /// a `-2`, `-3`, ... suffix if that name is taken) and its `plots/`.
    pub fn create_new(runs_root: &Path) -> Result<RunDir, RunDirError> {
        fs::create_dir_all(runs_root).map_err(io_error(runs_root))?;
        let stamp = timestamp(SystemTime::now());
        const MAX_ATTEMPTS: u32 = 1000;
        for attempt in 1..=MAX_ATTEMPTS {
            let name = if attempt == 1 {
                stamp.clone()
            } else {
                format!("{stamp}-{attempt}")
            };
            let root = runs_root.join(name);
            match fs::create_dir(&root) {
                Ok(()) => {
                    let run = RunDir { root };
                    fs::create_dir_all(run.plots_dir()).map_err(io_error(&run.plots_dir()))?;
                    return Ok(run);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error(&root)(e)),
            }
        }
        Err(RunDirError::Io {
            path: runs_root.join(&stamp).display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{MAX_ATTEMPTS} run folders with this timestamp already exist"),
            ),
        })
    }

    /// Creates a run folder at `path`, which must not exist or be empty.
    pub fn create_at(path: &Path) -> Result<RunDir, RunDirError> {
        if path.exists() {
            if !path.is_dir() {
                return Err(RunDirError::NotAFolder {
                    path: path.display().to_string(),
                });
            }
            let mut entries = fs::read_dir(path).map_err(io_error(path))?;
            if entries.next().is_some() {
                return Err(RunDirError::NotEmpty {
                    path: path.display().to_string(),
                });
            }
        }
        // The folder first, so that an unusable path is reported as given.
        fs::create_dir_all(path).map_err(io_error(path))?;
        let run = RunDir {
            root: path.to_path_buf(),
        };
        fs::create_dir_all(run.plots_dir()).map_err(io_error(&run.plots_dir()))?;
        Ok(run)
    }

    /// Removes the folder if nothing was written to it yet (only its empty
    /// `plots/`); anything else is left as it is.
    pub fn remove_if_empty(&self) {
        // `remove_dir` refuses non-empty folders, so nothing written is lost.
        let _ = fs::remove_dir(self.plots_dir());
        let _ = fs::remove_dir(&self.root);
    }

    /// Opens an existing run folder (one with a `spec.toml`).
    pub fn open(path: &Path) -> Result<RunDir, RunDirError> {
        let run = RunDir {
            root: path.to_path_buf(),
        };
        if !path.exists() {
            return Err(RunDirError::NoSuchRun {
                path: path.display().to_string(),
            });
        }
        if !run.spec_path().is_file() {
            return Err(RunDirError::NotARun {
                path: path.display().to_string(),
            });
        }
        Ok(run)
    }

    /// Checks that files can be written into the folder, by creating and
    /// removing an empty one.
    pub fn check_writable(&self) -> Result<(), RunDirError> {
        let probe = self.root.join(".write-check");
        fs::File::create(&probe).map_err(io_error(&self.root))?;
        fs::remove_file(&probe).map_err(io_error(&probe))
    }

    /// A handle on `path` without checking that it is a run folder, for
    /// reading whatever files it has (e.g. plotting an interrupted run).
    pub fn unchecked(path: &Path) -> RunDir {
        RunDir {
            root: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }
    pub fn spec_path(&self) -> PathBuf {
        self.root.join("spec.toml")
    }
    pub fn history_path(&self) -> PathBuf {
        self.root.join("history.csv")
    }
    pub fn checkpoint_path(&self, kind: CheckpointKind) -> PathBuf {
        self.root.join(kind.file_name())
    }
    pub fn bounds_path(&self) -> PathBuf {
        self.root.join("bounds.json")
    }
    pub fn data_path_file(&self) -> PathBuf {
        self.root.join("data.txt")
    }
    pub fn sample_path(&self) -> PathBuf {
        self.root.join("sample.json")
    }
    pub fn plots_dir(&self) -> PathBuf {
        self.root.join("plots")
    }

    /// Writes the copy of the spec the run uses.
    pub fn write_spec(&self, text: &str) -> Result<(), RunDirError> {
        let path = self.spec_path();
        checkpoint::write_atomically(&path, text.as_bytes())?;
        Ok(())
    }

    pub fn read_spec(&self) -> Result<String, RunDirError> {
        let path = self.spec_path();
        crate::text_file::read_text(&path).map_err(io_error(&path))
    }

    /// Records the data file the run trains on, as an absolute path: a
    /// resumed run reads the same file whatever folder it is started from,
    /// and whether the file came from the spec or from `--data`.
    pub fn write_data_path(&self, data: &Path) -> Result<(), RunDirError> {
        let absolute = fs::canonicalize(data).map_err(io_error(data))?;
        let line = format!("{}\n", absolute.display());
        checkpoint::write_atomically(&self.data_path_file(), line.as_bytes())?;
        Ok(())
    }

    /// The data file recorded by [`RunDir::write_data_path`]; `None` for a
    /// run on the built-in task (or a folder from before it was recorded).
    pub fn read_data_path(&self) -> Result<Option<PathBuf>, RunDirError> {
        let path = self.data_path_file();
        if !path.exists() {
            return Ok(None);
        }
        let text = crate::text_file::read_text(&path).map_err(io_error(&path))?;
        let line = text.trim_end_matches(['\n', '\r']);
        if line.is_empty() || line.contains('\n') {
            return Err(RunDirError::Parse {
                path: path.display().to_string(),
                line: 1,
                message: "expected one line: the path of the run's data file".into(),
            });
        }
        Ok(Some(PathBuf::from(line)))
    }

    fn write_json(&self, path: &Path, value: &Value, pretty: bool) -> Result<(), RunDirError> {
        let text = if pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        let mut text = text.map_err(|e| RunDirError::Parse {
            path: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        text.push('\n');
        checkpoint::write_atomically(path, text.as_bytes())?;
        Ok(())
    }

    fn read_json(&self, path: &Path) -> Result<Value, RunDirError> {
        let text = crate::text_file::read_text(path).map_err(io_error(path))?;
        serde_json::from_str(&text).map_err(|e| RunDirError::Parse {
            path: path.display().to_string(),
            line: e.line(),
            message: e.to_string(),
        })
    }
}
