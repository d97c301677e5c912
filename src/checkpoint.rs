//! Checkpoints: a parameter tree, optionally the optimiser state, and a few
//! facts about the run, saved in the safetensors format.
//!
//! Layout of a checkpoint file:
//! - one f32 tensor per parameter, keyed by its tree path
//!   (`2_Residual/1_LIF/alpha`);
//! - optimiser slots under `optimizer/<slot>/<path>` (`optimizer/m/...`,
//!   `optimizer/v/...` for Adam);
//! - safetensors metadata (string to string): `format`, `param_order`
//!   (JSON list of paths, since safetensors does not keep order), `epoch`,
//!   `optimizer.kind`, `optimizer.step`, `optimizer.slots`, and the caller's
//!   own entries prefixed `meta.`.
//!
//! Files are written atomically: to a temporary file in the same folder,
//! flushed to disk, then renamed over the target, so a crash leaves either
//! the old or the new checkpoint, never a torn one. A plain safetensors
//! file of f32 tensors (e.g. written by Python) loads too: its tensors
//! become parameters in key order.

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use thiserror::Error;

/// Key prefix of optimiser tensors.
pub const OPTIMIZER_PREFIX: &str = "optimizer/";
const FORMAT: &str = "neurojit-checkpoint-1";

/// One f32 tensor with its tree path, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub path: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl NamedTensor {
    /// A tensor; errors if `data` does not have `shape`'s element count.
    pub fn new(
        path: impl Into<String>,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<NamedTensor, CheckpointError> {
        let path = path.into();
        let count: usize = shape.iter().product();
        if count != data.len() {
            return Err(CheckpointError::TensorSize {
                path,
                shape,
                len: data.len(),
            });
        }
        Ok(NamedTensor { path, shape, data })
    }
}

/// The optimiser's state: its step counter and per-parameter slots.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// `"adam"` or `"sgd"`.
    pub kind: String,
    /// Updates applied so far (Adam's bias-correction counter).
    pub step: u64,
    /// Named slots (`"m"`, `"v"`), each one tensor per parameter.
    pub slots: Vec<(String, Vec<NamedTensor>)>,
}

/// Everything a checkpoint holds.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Checkpoint {
    /// Parameters in tree order.
    pub params: Vec<NamedTensor>,
    pub optimizer: Option<OptimizerState>,
    /// Epochs completed when the checkpoint was taken.
    pub epoch: u64,
    /// Free-form facts (e.g. an RNG state, the best loss so far).
    pub meta: BTreeMap<String, String>,
}

impl Checkpoint {
    /// The parameter at `path`.
    pub fn param(&self, path: &str) -> Option<&NamedTensor> {
        self.params.iter().find(|t| t.path == path)
    }
}

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a readable checkpoint: {message}")]
    Format { file: String, message: String },
    #[error("tensor `{path}` has shape {shape:?} but {len} values")]
    TensorSize {
        path: String,
        shape: Vec<usize>,
        len: usize,
    },
    #[error("parameter path `{path}` starts with `{OPTIMIZER_PREFIX}`, which checkpoints reserve for optimiser state")]
    ReservedPath { path: String },
    #[error("two tensors have the key `{path}`")]
    DuplicatePath { path: String },
    #[error("checkpoint {file} does not fit the network: parameter `{path}` {problem}")]
    Mismatch {
        file: String,
        path: String,
        problem: String,
    },
}

/// Writes `checkpoint` to `path` atomically.
pub fn save_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
    let file = path.display().to_string();
    let mut entries: Vec<(String, &NamedTensor)> = Vec::new();
    for t in &checkpoint.params {
        if t.path.starts_with(OPTIMIZER_PREFIX) {
            return Err(CheckpointError::ReservedPath {
                path: t.path.clone(),
            });
        }
        entries.push((t.path.clone(), t));
    }
    let mut meta: HashMap<String, String> = HashMap::new();
    meta.insert("format".into(), FORMAT.into());
    meta.insert("epoch".into(), checkpoint.epoch.to_string());
    let order: Vec<&str> = checkpoint.params.iter().map(|t| t.path.as_str()).collect();
    meta.insert("param_order".into(), json_list(&order));
    if let Some(opt) = &checkpoint.optimizer {
        meta.insert("optimizer.kind".into(), opt.kind.clone());
        meta.insert("optimizer.step".into(), opt.step.to_string());
        let names: Vec<&str> = opt.slots.iter().map(|(n, _)| n.as_str()).collect();
        meta.insert("optimizer.slots".into(), json_list(&names));
        for (slot, tensors) in &opt.slots {
            // Loading reads every slot for every parameter: check it now.
            let covers = tensors.len() == order.len()
                && order.iter().all(|p| tensors.iter().any(|t| t.path == *p));
            if !covers {
                return Err(CheckpointError::Format {
                    file: file.clone(),
                    message: format!("optimiser slot `{slot}` must hold one tensor per parameter"),
                });
            }
            for t in tensors {
                entries.push((format!("{OPTIMIZER_PREFIX}{slot}/{}", t.path), t));
            }
        }
    }
    for (k, v) in &checkpoint.meta {
        meta.insert(format!("meta.{k}"), v.clone());
    }

    let mut seen = std::collections::HashSet::new();
    let mut bytes: Vec<Vec<u8>> = Vec::with_capacity(entries.len());
    for (key, t) in &entries {
        if !seen.insert(key.as_str()) {
            return Err(CheckpointError::DuplicatePath { path: key.clone() });
        }
        let count: usize = t.shape.iter().product();
        if count != t.data.len() {
            return Err(CheckpointError::TensorSize {
                path: t.path.clone(),
                shape: t.shape.clone(),
                len: t.data.len(),
            });
        }
        bytes.push(t.data.iter().flat_map(|x| x.to_le_bytes()).collect());
    }
    let format_error = |e: safetensors::SafeTensorError| CheckpointError::Format {
        file: file.clone(),
        message: e.to_string(),
    };
    let mut views = Vec::with_capacity(entries.len());
    for ((key, t), data) in entries.iter().zip(&bytes) {
        views.push((
            key.clone(),
            TensorView::new(Dtype::F32, t.shape.clone(), data).map_err(format_error)?,
        ));
    }
    let buffer = safetensors::serialize(views, Some(meta)).map_err(format_error)?;
    write_atomically(path, &buffer)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames
/// it over `path`; then syncs the folder so the rename itself is durable.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let file = path.display().to_string();
    let io = |source| CheckpointError::Io {
        file: file.clone(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Durability of the rename; not every platform can open a folder.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// The largest epoch a checkpoint may record, far beyond any run, so that
/// counting on from it cannot overflow.
const MAX_EPOCH: u64 = u32::MAX as u64;

/// Reads a checkpoint written by [`save_checkpoint`] (or any safetensors
/// file of f32 tensors).
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let file = path.display().to_string();
    let bytes = fs::read(path).map_err(|source| CheckpointError::Io {
        file: file.clone(),
        source,
    })?;
    let format = |message: String| CheckpointError::Format {
        file: file.clone(),
        message,
    };
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| format(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| format(e.to_string()))?;
    let meta: HashMap<String, String> = header.metadata().clone().unwrap_or_default();

    let read = |key: &str, path: &str| -> Result<NamedTensor, CheckpointError> {
        let view = tensors.tensor(key).map_err(|_| {
            format(format!(
                "tensor `{key}` is listed in the metadata but missing"
            ))
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(format(format!(
                "tensor `{key}` has dtype {:?}: expected F32",
                view.dtype()
            )));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(NamedTensor {
            path: path.to_string(),
            shape: view.shape().to_vec(),
            data,
        })
    };

    let order: Vec<String> = match meta.get("param_order") {
        Some(text) => parse_json_list(text)
            .ok_or_else(|| format("metadata `param_order` is not a list of strings".into()))?,
        None => {
            let mut names: Vec<String> = tensors
                .names()
                .into_iter()
                .filter(|n| !n.starts_with(OPTIMIZER_PREFIX))
                .map(String::from)
                .collect();
            names.sort();
            names
        }
    };
    let params = order
        .iter()
        .map(|p| read(p, p))
        .collect::<Result<Vec<_>, _>>()?;

    let optimizer = match meta.get("optimizer.kind") {
        None => None,
        Some(kind) => {
            let step = meta
                .get("optimizer.step")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    format("metadata `optimizer.step` is missing or not a number".into())
                })?;
            let slot_names = meta
                .get("optimizer.slots")
                .and_then(|s| parse_json_list(s))
                .ok_or_else(|| {
                    format("metadata `optimizer.slots` is missing or not a list".into())
                })?;
            let mut slots = Vec::new();
            for slot in slot_names {
                let tensors = order
                    .iter()
                    .map(|p| read(&format!("{OPTIMIZER_PREFIX}{slot}/{p}"), p))
                    .collect::<Result<Vec<_>, _>>()?;
                slots.push((slot, tensors));
            }
            Some(OptimizerState {
                kind: kind.clone(),
                step,
                slots,
            })
        }
    };
    let epoch = match meta.get("epoch") {
        Some(e) => e.parse().ok().filter(|&n| n <= MAX_EPOCH).ok_or_else(|| {
            format(format!(
                "metadata `epoch` is `{e}`: expected a number up to {MAX_EPOCH}"
            ))
        })?,
        None => 0,
    };
    let user_meta = meta
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("meta.").map(|k| (k.to_string(), v.clone())))
        .collect();
    Ok(Checkpoint {
        params,
        optimizer,
        epoch,
        meta: user_meta,
    })
}

/// Checks that `checkpoint` has exactly the parameters `expected` (path and
/// shape, in any order), and that its optimiser slots cover the same
/// parameters. The error names the first mismatched path (in `expected`'s
/// order, then the checkpoint's extras). `file` names the checkpoint in
/// the error.
pub fn check_matches(
    checkpoint: &Checkpoint,
    expected: &[(String, Vec<usize>)],
    file: &str,
) -> Result<(), CheckpointError> {
    let mismatch = |path: &str, problem: String| CheckpointError::Mismatch {
        file: file.to_string(),
        path: path.to_string(),
        problem,
    };
    let mut groups: Vec<(&str, &[NamedTensor])> = vec![("", &checkpoint.params)];
    if let Some(opt) = &checkpoint.optimizer {
        for (slot, tensors) in &opt.slots {
            groups.push((slot.as_str(), tensors.as_slice()));
        }
    }
    for (slot, tensors) in groups {
        let where_ = if slot.is_empty() {
            String::new()
        } else {
            format!(" (optimiser slot `{slot}`)")
        };
        for (path, shape) in expected {
            match tensors.iter().find(|t| &t.path == path) {
                None => {
                    return Err(mismatch(
                        path,
                        format!("is missing from the checkpoint{where_}"),
                    ))
                }
                Some(t) if &t.shape != shape => {
                    return Err(mismatch(
                        path,
                        format!(
                        "has shape {:?} in the checkpoint{where_}, the network expects {shape:?}",
                        t.shape
                    ),
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = tensors
            .iter()
            .find(|t| !expected.iter().any(|(p, _)| *p == t.path))
        {
            return Err(mismatch(
                &extra.path,
                format!("is in the checkpoint{where_} but not in the network"),
            ));
        }
    }
    Ok(())
}

fn json_list(items: &[&str]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn parse_json_list(text: &str) -> Option<Vec<String>> {
    serde_json::from_str(text).ok()
}
