//! Runs every program in `examples/` at small sizes (`NEUROJIT_EXAMPLE_SMALL=1`)
//! and checks that it succeeds and prints what it promises, so that no
//! example rots.
//!
//! The example binaries are the ones Cargo builds before integration tests
//! (`cargo test --release` builds every example); they are looked up in
//! `target/<profile>/examples/`, found from this test's own executable
//! (`target/<profile>/deps/examples-<hash>`). A missing or out-of-date
//! binary fails the test with the command that builds it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The examples with a dedicated check below; any other file in
/// `examples/` is still run and must exit successfully.
const CHECKED: [&str; 4] = ["tutorial", "inspect_ir", "benchmark", "custom_module"];

#[test]
fn tutorial_pulls_parameters_into_their_bounds() {
    let out = run_example("tutorial");
    // The tutorial's printed trees, as Rockpool prints them (module names
    // without Rockpool's `Torch` suffix).
    for expected in [
        "make_bounds:\n  lower {'tau_mem': -inf, 'tau_syn': -inf, 'bias': -inf, 'threshold': -inf}",
        "  upper {'tau_mem': inf, 'tau_syn': 0.2, 'bias': inf, 'threshold': inf}",
        "    '1_LIF': {'alpha': 0.5, 'beta': 0.5, 'bias': -inf, 'threshold': -inf},",
        "    '4_LIF': {'tau_mem': 0.0, 'tau_syn': 0.0, 'bias': -inf, 'threshold': -inf}",
        "    '4_LIF': {'tau_mem': inf, 'tau_syn': 0.5, 'bias': inf, 'threshold': inf}",
        "attributes_named(\"tau_syn\"): {'4_LIF': {'tau_syn': [[0.02], [0.02], [0.02], [0.02], [0.02]]}}",
        "bounds_cost(parameters) = 0",
    ] {
        assert!(out.contains(expected), "missing `{expected}` in:\n{out}");
    }
    // The sweep: exp(distance) outside (0, 1), zero inside.
    let row = |x: &str| numbers(line_starting(&out, x));
    assert_close(
        &row("-1.00"),
        &[-1.0, std::f32::consts::E, -std::f32::consts::E],
    );
    assert_close(&row("0.50"), &[0.5, 0.0, 0.0]);
    assert_close(&row("1.50"), &[1.5, 0.5f32.exp(), 0.5f32.exp()]);

    // Training: the penalty pulls every parameter back inside its bounds
    // (the penalty reaches exactly 0) while the task loss falls.
    let summary = numbers(line_starting(&out, "initial penalty"));
    let [initial_penalty, final_penalty, initial_task, final_task] = summary[..] else {
        panic!("expected four numbers in the summary line, got {summary:?}");
    };
    assert!(initial_penalty > 0.0, "the run starts out of bounds: {out}");
    assert!(
        out.contains("The penalty first reached 0 at epoch"),
        "the penalty never reached 0: {out}"
    );
    // Printed in full (`{}`), so 0 means exactly 0.
    assert_eq!(final_penalty, 0.0, "{out}");
    assert!(
        final_task < initial_task,
        "task loss {initial_task} -> {final_task}"
    );
}

#[test]
fn inspect_ir_prints_every_stage() {
    let out = run_example("inspect_ir");
    for section in [
        "# step: ",
        "# param_loss (the bounds penalty): ",
        "# step with gradients: ",
        "# simplified step: ",
        "# prologue (once per pass): ",
        "# forward (t = 0 .. T): ",
        "# backward (t = T-1 .. 0): ",
        "# param_loss with its gradient: ",
        "# prepass (once per pass, all timesteps): ",
        "# epilogue (once per pass, all timesteps): ",
        "out sequence input @ 0_Linear/weight = ",
        "out grad 0_Linear/weight += ",
        "= spike[window=0.5, max=65536.0] ",
        "hoisted exp(1_LIF/tau_mem)",
        "function u0:0(i64, i64, i64)",
        "ret",
    ] {
        assert!(out.contains(section), "missing `{section}` in:\n{out}");
    }
    let difference = numbers(line_starting(
        &out,
        "largest difference between JIT and interpreter outputs",
    ));
    assert!(
        difference.len() == 1 && difference[0] <= 1e-5,
        "JIT and interpreter disagree: {difference:?}"
    );
}

#[test]
fn benchmark_times_both_backends() {
    let out = run_example("benchmark");
    let jit = numbers(line_starting(&out, "jit "));
    let interp = numbers(line_starting(&out, "interp "));
    // step, compile, tape, samples, first loss
    assert_eq!(jit.len(), 5, "{out}");
    assert_eq!(interp.len(), 5, "{out}");
    assert!(jit[0] > 0.0 && interp[0] > 0.0, "{out}");
    assert!(jit[3] >= 1.0 && interp[3] >= 1.0, "no timed samples: {out}");
    assert_eq!(jit[2], interp[2], "tape sizes differ: {out}");
    let ratio = numbers(line_starting(&out, "ratio interp/jit"));
    assert!(ratio.len() == 1 && ratio[0] > 0.0, "{out}");
    let agreement = numbers(line_starting(&out, "first losses agree"));
    assert!(
        agreement.len() == 1 && agreement[0] <= 1e-5,
        "first losses differ: {out}"
    );
}

#[test]
fn custom_module_gradient_matches_finite_difference() {
    let out = run_example("custom_module");
    assert!(out.contains("LeakyIntegrator '1_LeakyIntegrator'"), "{out}");
    assert!(
        out.contains("out grad 1_LeakyIntegrator/decay += "),
        "{out}"
    );
    let line = line_starting(&out, "finite difference for decay[0]");
    let values = numbers(line);
    let [_index, finite_difference, autodiff] = values[..] else {
        panic!("expected `decay[0]: FD (autodiff AD)`, got `{line}`");
    };
    assert!(
        (finite_difference - autodiff).abs() <= 1e-2 * autodiff.abs().max(1e-3),
        "{line}"
    );
}

/// A guard for examples added later: one without a check of its own above
/// must at least run. Today every example has one, so this checks only that
/// the names in `CHECKED` exist.
#[test]
fn examples_without_their_own_check_still_run() {
    for name in example_names() {
        if !CHECKED.contains(&name.as_str()) {
            run_example(&name);
        }
    }
    for name in CHECKED {
        assert!(
            example_names().iter().any(|n| n == name),
            "examples/{name}.rs is checked here but does not exist"
        );
    }
}

// ----- helpers -----------------------------------------------------------------

/// Names of the example programs: the `.rs` files in `examples/`.
fn example_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

/// `target/<profile>/examples`, found from this test's executable.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("deps").is_dir() && dir.join("examples").is_dir())
        .map(|dir| dir.join("examples"))
        .unwrap_or_else(|| {
            panic!(
                "no examples folder beside the test executable {} (expected \
                 target/<profile>/examples); run `cargo test --release`, which builds \
                 the examples first",
                exe.display()
            )
        })
}

/// Runs example `name` at small sizes; returns its standard output after
/// checking that it exited successfully.
fn run_example(name: &str) -> String {
    let binary = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let build = format!("cargo build --release --example {name}");
    assert!(
        binary.is_file(),
        "example binary {} is missing: `cargo test --release` builds examples \
         before the tests, but a filtered run (`--test examples`) does not; run `{build}`",
        binary.display()
    );
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(built), Some(edited)) = (modified(&binary), modified(&source)) {
        assert!(
            built >= edited,
            "example binary {} is older than {}; run `{build}`",
            binary.display(),
            source.display()
        );
    }
    let output = Command::new(&binary)
        .env("NEUROJIT_EXAMPLE_SMALL", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example `{name}` failed with {}\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The first line of `text` that starts with `prefix` (ignoring leading
/// spaces).
fn line_starting<'t>(text: &'t str, prefix: &str) -> &'t str {
    text.lines()
        .find(|line| line.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with `{prefix}` in:\n{text}"))
}

/// Every number in `line` (words that parse as f32 once stripped of
/// punctuation around them), in order.
fn numbers(line: &str) -> Vec<f32> {
    line.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ',' | ';' | ':'))
        .filter_map(|word| word.trim_end_matches(['.', 'x']).parse::<f32>().ok())
        .collect()
}

fn assert_close(got: &[f32], expected: &[f32]) {
    assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
    for (g, e) in got.iter().zip(expected) {
        assert!(
            (g - e).abs() <= 1e-4 * e.abs().max(1.0),
            "{got:?} vs {expected:?}"
        );
    }
}
