//! Rockpool reference cases (tests/reference/, format in the README
//! there): every case of every kind must pass at the README's tolerances.
//! Network kinds run twice: unrolled on the interpreter (front end alone)
//! and through the runtime on each backend.

use neurojit::conformance::{case_files, run_case, run_file, CaseReport, Engine};
use neurojit_runtime::BackendKind;
use std::path::{Path, PathBuf};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference")
}

/// Runs every case of `kind` with `engine`; fails listing every failure.
fn check_kind(kind: &str, engine: Engine) {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reference_dir().join("index.json")).unwrap())
            .unwrap();
    let files: Vec<PathBuf> = index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .map(|c| reference_dir().join(c["file"].as_str().unwrap()))
        .collect();
    assert!(!files.is_empty(), "no cases of kind {kind}");
    let reports: Vec<CaseReport> = files
        .iter()
        .map(|f| run_file(f, engine).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect();
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.summary())
        .collect();
    for r in &reports {
        println!("{}", r.summary());
    }
    assert!(
        failed.is_empty(),
        "{} {kind} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn index_lists_every_case_file() {
    let listed = case_files(&reference_dir()).unwrap();
    assert_eq!(listed.len(), 30);
    assert!(listed.iter().all(|f| f.exists()));
}

#[test]
fn tree_cases() {
    check_kind("tree", Engine::Unrolled);
}

#[test]
fn bounds_cost_cases() {
    check_kind("bounds_cost", Engine::Unrolled);
}

#[test]
fn bounds_cost_sweep_cases() {
    check_kind("bounds_cost_sweep", Engine::Unrolled);
}

#[test]
fn loss_function_cases() {
    check_kind("loss_functions", Engine::Unrolled);
}

#[test]
fn lif_cases_unrolled() {
    check_kind("lif", Engine::Unrolled);
}

#[test]
fn network_cases_unrolled() {
    check_kind("network", Engine::Unrolled);
}

#[test]
fn train_cases_unrolled() {
    check_kind("train", Engine::Unrolled);
}

#[test]
fn lif_cases_runtime_interp() {
    check_kind("lif", Engine::Runtime(BackendKind::Interp));
}

#[test]
fn network_cases_runtime_interp() {
    check_kind("network", Engine::Runtime(BackendKind::Interp));
}

#[test]
fn train_cases_runtime_interp() {
    check_kind("train", Engine::Runtime(BackendKind::Interp));
}

#[test]
fn lif_cases_runtime_jit() {
    check_kind("lif", Engine::Runtime(BackendKind::Jit));
}

#[test]
fn network_cases_runtime_jit() {
    check_kind("network", Engine::Runtime(BackendKind::Jit));
}

#[test]
fn train_cases_runtime_jit() {
    check_kind("train", Engine::Runtime(BackendKind::Jit));
}

#[test]
fn a_step_count_the_expected_trajectory_does_not_cover_is_malformed() {
    // Once, a train case asking for 10^12 steps ran for ever.
    let text = std::fs::read_to_string(reference_dir().join("train_jax_seq.json")).unwrap();
    let mut case: serde_json::Value = serde_json::from_str(&text).unwrap();
    for steps in [1_000_000_000_000u64, 6] {
        case["inputs"]["steps"] = serde_json::json!(steps);
        let err = run_case(&case, Engine::Runtime(BackendKind::Interp))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("inputs.steps is {steps}")) && err.contains("expected.losses"),
            "{err}"
        );
    }
}
