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

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::spec::{BoundValue, ParamBounds};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// The header line of `history.csv`.
pub const HISTORY_HEADER: &str = "epoch,loss,task_loss,penalty,seconds";

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

/// Which checkpoint file of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointKind {
    /// `checkpoint.safetensors`: latest, resumable.
    Latest,
    /// `best.safetensors`.
    Best,
    /// `final.safetensors`.
    Final,
    /// `initial.safetensors`.
    Initial,
}

impl CheckpointKind {
    pub fn file_name(self) -> &'static str {
        match self {
            CheckpointKind::Latest => "checkpoint.safetensors",
            CheckpointKind::Best => "best.safetensors",
            CheckpointKind::Final => "final.safetensors",
            CheckpointKind::Initial => "initial.safetensors",
        }
    }
}

/// A `(rows, cols)` matrix of f32, row-major; in `sample.json` rows are
/// timesteps and columns neurons or channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub shape: [usize; 2],
    #[serde(with = "json_floats")]
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Option<Matrix> {
        let matrix = Matrix {
            shape: [rows, cols],
            data,
        };
        matrix.is_consistent().then_some(matrix)
    }

    /// Whether the shape holds exactly the data's values (a shape whose
    /// element count overflows holds none).
    pub fn is_consistent(&self) -> bool {
        self.shape[0].checked_mul(self.shape[1]) == Some(self.data.len())
    }

    pub fn rows(&self) -> usize {
        self.shape[0]
    }

    pub fn cols(&self) -> usize {
        self.shape[1]
    }

    pub fn get(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.shape[1] + col]
    }
}

/// Recordings of one LIF layer for one sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Module path, e.g. `2_Residual/1_LIF`.
    pub name: String,
    /// Spike counts `(T, N)`.
    pub spikes: Matrix,
    /// Membrane potential after reset `(T, N)`.
    pub vmem: Matrix,
}

/// `sample.json`: what one sample did, for the raster and trace plots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Timestep (s).
    pub dt: f32,
    /// Which sample of the data this is.
    pub index: usize,
    pub layers: Vec<LayerRecord>,
    /// Network output `(T, N_out)`, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Matrix>,
    /// Target signal `(T, N_out)`, if the data has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Matrix>,
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

    /// Writes `bounds.json`.
    pub fn write_bounds(&self, bounds: &[ParamBounds]) -> Result<(), RunDirError> {
        let params: Vec<Value> = bounds
            .iter()
            .map(|b| {
                json!({
                    "path": b.path,
                    "shape": b.shape,
                    "lower": bound_to_json(&b.lower),
                    "upper": bound_to_json(&b.upper),
                })
            })
            .collect();
        self.write_json(&self.bounds_path(), &json!({ "parameters": params }), true)
    }

    /// Reads `bounds.json`.
    pub fn read_bounds(&self) -> Result<Vec<ParamBounds>, RunDirError> {
        let path = self.bounds_path();
        let value: Value = self.read_json(&path)?;
        let bad = |message: String| RunDirError::Parse {
            path: path.display().to_string(),
            line: 1,
            message,
        };
        let params = value
            .get("parameters")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("expected an object with a `parameters` list".into()))?;
        params
            .iter()
            .map(|p| {
                let path = p
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("a parameter has no `path` string".into()))?;
                let shape: Vec<usize> = p
                    .get("shape")
                    .and_then(|s| serde_json::from_value(s.clone()).ok())
                    .ok_or_else(|| bad(format!("`{path}` has no `shape` list")))?;
                let read = |key: &str| {
                    p.get(key).and_then(bound_from_json).ok_or_else(|| {
                        bad(format!(
                            "`{path}`: `{key}` must be a number or a list of numbers"
                        ))
                    })
                };
                Ok(ParamBounds {
                    path: path.to_string(),
                    shape,
                    lower: read("lower")?,
                    upper: read("upper")?,
                })
            })
            .collect()
    }

    /// Writes `sample.json`.
    pub fn write_sample(&self, sample: &Sample) -> Result<(), RunDirError> {
        let value = serde_json::to_value(sample).map_err(|e| RunDirError::Parse {
            path: self.sample_path().display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        self.write_json(&self.sample_path(), &value, false)
    }

    /// Reads `sample.json`.
    pub fn read_sample(&self) -> Result<Sample, RunDirError> {
        let path = self.sample_path();
        let value = self.read_json(&path)?;
        let sample: Sample = serde_json::from_value(value).map_err(|e| RunDirError::Parse {
            path: path.display().to_string(),
            line: 1,
            message: e.to_string(),
        })?;
        let layers = sample.layers.iter().flat_map(|layer| {
            [
                (format!("`{}` spikes", layer.name), &layer.spikes),
                (format!("`{}` vmem", layer.name), &layer.vmem),
            ]
        });
        let signals = [("output", &sample.output), ("target", &sample.target)]
            .into_iter()
            .filter_map(|(what, m)| Some((what.to_string(), m.as_ref()?)));
        for (what, m) in layers.chain(signals) {
            if !m.is_consistent() {
                return Err(RunDirError::Parse {
                    path: path.display().to_string(),
                    line: 1,
                    message: format!("{what} has shape {:?} but {} values", m.shape, m.data.len()),
                });
            }
        }
        Ok(sample)
    }

    /// Saves one of the run's checkpoints (atomically).
    pub fn save_checkpoint(
        &self,
        kind: CheckpointKind,
        checkpoint: &Checkpoint,
    ) -> Result<(), RunDirError> {
        Ok(checkpoint::save_checkpoint(
            &self.checkpoint_path(kind),
            checkpoint,
        )?)
    }

    /// Loads one of the run's checkpoints.
    pub fn load_checkpoint(&self, kind: CheckpointKind) -> Result<Checkpoint, RunDirError> {
        Ok(checkpoint::load_checkpoint(&self.checkpoint_path(kind))?)
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

/// `YYYY-MM-DD_HH-MM-SS` in UTC.
pub fn timestamp(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}_{:02}-{:02}-{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn float_to_json(x: f32) -> Value {
    if x.is_nan() {
        json!("nan")
    } else if x == f32::INFINITY {
        json!("inf")
    } else if x == f32::NEG_INFINITY {
        json!("-inf")
    } else {
        json!(x)
    }
}

fn float_from_json(v: &Value) -> Option<f32> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| x as f32),
        Value::String(s) => match s.as_str() {
            "nan" => Some(f32::NAN),
            "inf" => Some(f32::INFINITY),
            "-inf" => Some(f32::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn bound_to_json(b: &BoundValue) -> Value {
    match b {
        BoundValue::Scalar(x) => float_to_json(*x),
        BoundValue::PerElement(v) => Value::Array(v.iter().map(|&x| float_to_json(x)).collect()),
    }
}

fn bound_from_json(v: &Value) -> Option<BoundValue> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(float_from_json)
            .collect::<Option<Vec<f32>>>()
            .map(BoundValue::PerElement),
        other => float_from_json(other).map(BoundValue::Scalar),
    }
}

/// serde helpers for `Vec<f32>` that may hold non-finite values.
mod json_floats {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(data: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let values: Vec<Value> = data.iter().map(|&x| super::float_to_json(x)).collect();
        values.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let values = Vec::<Value>::deserialize(d)?;
        values
            .iter()
            .map(|v| {
                super::float_from_json(v).ok_or_else(|| {
                    D::Error::custom(format!(
                        "`{v}` is not a number (or \"inf\", \"-inf\", \"nan\")"
                    ))
                })
            })
            .collect()
    }
}
