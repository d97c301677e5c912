//! Checks neurojit against Rockpool's own numbers: loads the reference
//! cases (`tests/reference/*.json`, format described in the README beside
//! them), rebuilds what each describes with neurojit, and compares at the
//! README's tolerances.
//!
//! Kinds: `tree`, `bounds_cost`, `bounds_cost_sweep`, `loss_functions`
//! (front end + interpreter), and `lif`, `network`, `train`, which run
//! either unrolled on the interpreter or through the runtime
//! ([`Engine`]). Backend quirks (jax's `"threshold"` family, its sorted
//! `make_bounds` keys, torch's positional bounds pairing, jax's `w_rec`
//! placeholder) are mapped onto neurojit's conventions in [`quirks`].
//!
//! ```no_run
//! use neurojit::conformance::{run_directory, Engine};
//! let reports = run_directory(std::path::Path::new("tests/reference"), Engine::Unrolled).unwrap();
//! for r in &reports {
//!     println!("{}", r.summary());
//! }
//! ```

mod bounds_case;
mod compare;
mod engines;
mod evaluate;
mod json;
mod loss_case;
mod network_case;
pub mod quirks;
mod setup;
mod tree_case;

pub use compare::Tolerance;
pub use engines::Engine;

use crate::bounds::BoundsError;
use crate::nn::ModuleError;
use crate::optim::OptimError;
use crate::trace::TraceError;
use crate::tree::TreeError;
use network_case::NetworkKind;
use neurojit_compiler::ir::GraphError;
use neurojit_compiler::kernel::KernelError;
use quirks::Backend;
use serde_json::Value as Json;
use std::fmt;
use std::path::Path as FsPath;
use thiserror::Error;

/// One comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub what: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub detail: String,
}

impl Check {
    pub fn pass(what: &str) -> Check {
        Check {
            what: what.to_string(),
            passed: true,
            detail: String::new(),
        }
    }

    pub fn fail(what: &str, detail: String) -> Check {
        Check {
            what: what.to_string(),
            passed: false,
            detail,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed {
            write!(f, "ok   {}", self.what)
        } else {
            write!(f, "FAIL {}: {}", self.what, self.detail)
        }
    }
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseReport {
    pub name: String,
    pub kind: String,
    pub backend: String,
    pub checks: Vec<Check>,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// `PASS name (kind, backend): n checks` or the failures, one per line.
    pub fn summary(&self) -> String {
        let head = format!("{} ({}, {})", self.name, self.kind, self.backend);
        if self.passed() {
            format!("PASS {head}: {} checks", self.checks.len())
        } else {
            let mut s = format!(
                "FAIL {head}: {} of {} checks failed",
                self.failures().count(),
                self.checks.len()
            );
            for c in self.failures() {
                s.push_str(&format!("\n    {c}"));
            }
            s
        }
    }
}

#[derive(Debug, Error)]
pub enum ConformanceError {
    #[error("reading {path}: {message}")]
    Io { path: String, message: String },
    #[error("malformed case: {0}")]
    Format(String),
    #[error("{dir}: {expected}")]
    NoCases { dir: String, expected: &'static str },
    #[error("{0}")]
    Module(#[from] ModuleError),
    #[error("{0}")]
    Tree(#[from] TreeError),
    #[error("{0}")]
    Bounds(#[from] BoundsError),
    #[error("{0}")]
    Trace(#[from] TraceError),
    #[error("{0}")]
    Optim(#[from] OptimError),
    #[error("{0}")]
    Graph(#[from] GraphError),
    #[error("{0}")]
    Kernel(#[from] KernelError),
    #[error("{0}")]
    Loss(#[from] crate::loss::LossError),
    #[error("runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Internal(String),
}

/// Runs one parsed case. Network kinds use `engine`.
pub fn run_case(case: &Json, engine: Engine) -> Result<CaseReport, ConformanceError> {
    let name = case
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or("(unnamed)")
        .to_string();
    let kind = json::as_str(json::field(case, "kind")?, "kind")?.to_string();
    let backend_name = json::as_str(json::field(case, "backend")?, "backend")?.to_string();
    let backend = Backend::parse(&backend_name)?;
    let checks = match kind.as_str() {
        "tree" => tree_case::run(case, backend)?,
        "bounds_cost" => bounds_case::run_items(case, backend)?,
        "bounds_cost_sweep" => bounds_case::run_sweep(case)?,
        "loss_functions" => loss_case::run(case)?,
        "lif" => network_case::run(case, NetworkKind::Lif, backend, engine)?,
        "network" => network_case::run(case, NetworkKind::Network, backend, engine)?,
        "train" => network_case::run(case, NetworkKind::Train, backend, engine)?,
        other => return Err(ConformanceError::Format(format!("unknown kind `{other}`"))),
    };
    Ok(CaseReport {
        name,
        kind,
        backend: backend_name,
        checks,
    })
}

/// Reads and runs one case file.
pub fn run_file(path: &FsPath, engine: Engine) -> Result<CaseReport, ConformanceError> {
    let text = crate::text_file::read_text(path).map_err(|e| ConformanceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let case: Json = serde_json::from_str(&text).map_err(|e| ConformanceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    run_case(&case, engine)
}

/// The case files of a directory: those listed by its `index.json` when
/// present, otherwise every `*.json` file, in name order.
pub fn case_files(dir: &FsPath) -> Result<Vec<std::path::PathBuf>, ConformanceError> {
    let io = |e: std::io::Error| ConformanceError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    let index = dir.join("index.json");
    if index.exists() {
        let text = crate::text_file::read_text(&index).map_err(io)?;
        let in_index = |e: String| ConformanceError::Format(format!("{}: {e}", index.display()));
        let index: Json = serde_json::from_str(&text).map_err(|e| in_index(e.to_string()))?;
        let read = || -> Result<Vec<std::path::PathBuf>, ConformanceError> {
            json::as_array(json::field(&index, "cases")?, "cases")?
                .iter()
                .map(|c| Ok(dir.join(json::as_str(json::field(c, "file")?, "file")?)))
                .collect()
        };
        return read().map_err(|e| match e {
            ConformanceError::Format(message) => in_index(message),
            other => other,
        });
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every case of a directory. A case that cannot be run at all is
/// reported as a failed case with one check saying why.
pub fn run_directory(dir: &FsPath, engine: Engine) -> Result<Vec<CaseReport>, ConformanceError> {
    let files = case_files(dir)?;
    // An empty directory is more likely a wrong path than a passing suite.
    if files.is_empty() {
        let expected = if dir.join("index.json").exists() {
            "its index.json lists no cases: expected at least one"
        } else {
            "no `.json` case files and no index.json: expected at least one case"
        };
        return Err(ConformanceError::NoCases {
            dir: dir.display().to_string(),
            expected,
        });
    }
    let mut reports = Vec::new();
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        reports.push(match run_file(&file, engine) {
            Ok(report) => report,
            Err(e) => CaseReport {
                name,
                kind: "?".into(),
                backend: "?".into(),
                checks: vec![Check::fail("run", e.to_string())],
            },
        });
    }
    Ok(reports)
}
