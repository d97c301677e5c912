//! The `neurojit` command line, run as a user runs it.

use neurojit::checkpoint::{load_checkpoint, save_checkpoint};
use neurojit::data::{save_npz, Dataset, Targets};
use std::path::Path;
use std::process::{Command, Output};

fn neurojit(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neurojit"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What a command that must fail printed to stderr.
fn error_of(o: &Output) -> String {
    assert!(!o.status.success(), "succeeded: {}", stdout(o));
    stderr(o)
}

/// `epoch,loss,task_loss,penalty,seconds` rows without the wall-clock column.
fn history(run: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(run.join("history.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("epoch,loss,task_loss,penalty,seconds"));
    lines
        .map(|l| l.split(',').take(4).map(String::from).collect())
        .collect()
}

#[test]
fn the_default_train_command_halves_the_task_loss_and_fills_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = neurojit(&["train", "--out", "run"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let run = dir.path().join("run");
    for file in [
        "spec.toml",
        "history.csv",
        "checkpoint.safetensors",
        "best.safetensors",
        "final.safetensors",
        "initial.safetensors",
        "bounds.json",
        "sample.json",
        "plots/loss.png",
        "plots/bounds_cost.png",
        "plots/raster.png",
        "plots/membrane.png",
        "plots/params_bounds.png",
    ] {
        assert!(run.join(file).is_file(), "missing {file}");
    }
    let rows = history(&run);
    let task = |row: &Vec<String>| row[2].parse::<f64>().unwrap();
    let penalty = |row: &Vec<String>| row[3].parse::<f64>().unwrap();
    let (first, last) = (&rows[0], &rows[rows.len() - 1]);
    assert!(
        task(last) <= 0.5 * task(first),
        "task loss {first:?} -> {last:?}"
    );
    // The tutorial starts with parameters outside their bounds; the
    // penalty pulls them in.
    assert!(penalty(first) > 0.0 && penalty(last) < 0.01 * penalty(first));
}

/// Trains the tutorial for `epochs` without plots, starting the run folder
/// `run` (`"--out"`) or continuing it (`"--resume"`); the run must succeed.
fn train_tutorial(dir: &Path, start_or_resume: &str, run: &str, epochs: usize) -> Output {
    let epochs = epochs.to_string();
    let out = neurojit(
        &[
            "train",
            start_or_resume,
            run,
            "--epochs",
            &epochs,
            "--no-plots",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

#[test]
fn a_resumed_run_continues_exactly_like_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    train_tutorial(dir.path(), "--out", "full", 6);
    train_tutorial(dir.path(), "--out", "part", 3);
    let resumed = train_tutorial(dir.path(), "--resume", "part", 6);
    assert!(stdout(&resumed).contains("resuming"));
    assert_eq!(
        history(&dir.path().join("full")),
        history(&dir.path().join("part"))
    );
}

#[test]
fn resuming_from_a_damaged_checkpoint_names_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    train_tutorial(dir.path(), "--out", "run", 1);
    let path = dir.path().join("run/checkpoint.safetensors");
    let mut checkpoint = load_checkpoint(&path).unwrap();
    let damaged = checkpoint.params[1].path.clone();
    checkpoint.params[1].data[2] = f32::NAN;
    save_checkpoint(&path, &checkpoint).unwrap();
    let out = neurojit(
        &["train", "--resume", "run", "--epochs", "2", "--no-plots"],
        dir.path(),
    );
    let err = error_of(&out);
    assert!(
        err.contains(&format!("`{damaged}` holds NaN at element 2")),
        "{err}"
    );
}

#[test]
fn resuming_with_another_optimizer_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    train_tutorial(dir.path(), "--out", "run", 1);
    let spec_path = dir.path().join("run/spec.toml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    assert!(spec.contains("kind = \"adam\""), "{spec}");
    std::fs::write(
        &spec_path,
        spec.replace("kind = \"adam\"", "kind = \"sgd\""),
    )
    .unwrap();
    let out = neurojit(
        &["train", "--resume", "run", "--epochs", "2", "--no-plots"],
        dir.path(),
    );
    let err = error_of(&out);
    assert!(
        err.contains("`adam`'s, but the spec's optimiser is `sgd`"),
        "{err}"
    );
}

#[test]
fn a_resumed_run_cannot_be_sent_to_another_folder() {
    // `--out` with `--resume` was once ignored without a word.
    let dir = tempfile::tempdir().unwrap();
    let out = neurojit(
        &["train", "--resume", "run", "--out", "elsewhere"],
        dir.path(),
    );
    let err = error_of(&out);
    assert!(
        err.contains("'--resume <RESUME>' cannot be used with '--out <OUT>'"),
        "{err}"
    );
    assert!(!dir.path().join("elsewhere").exists());
}

#[test]
fn spec_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[network]\nlayers = [\n  { type = \"linear\", shape = [2, 3] },\n  { type = \"lif\", n = 4 },\n]\n",
    )
    .unwrap();
    let out = neurojit(&["train", "bad.toml", "--out", "run"], dir.path());
    let err = error_of(&out);
    assert!(err.contains("bad.toml:4"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn conformance_on_a_directory_without_cases_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let out = neurojit(&["conformance", "empty"], dir.path());
    let err = error_of(&out);
    assert!(err.contains("expected at least one case"), "{err}");
}

#[test]
fn a_task_too_large_to_hold_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("long.toml"),
        "[network]\nlayers = [\n  { type = \"linear\", shape = [2, 1000] },\n  \
         { type = \"lif\", n = 1000 },\n]\n[training]\nT = 4000000000\n",
    )
    .unwrap();
    let out = neurojit(&["train", "long.toml", "--out", "run"], dir.path());
    let err = error_of(&out);
    assert!(err.contains("T = 4000000000"), "{err}");
    assert!(err.contains("expected at most"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("allocation"),
        "{err}"
    );
}

#[test]
fn a_run_too_long_for_its_tape_is_refused_and_leaves_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    // 8 x 20000 floats per step of the LIF's tape, over 2000 steps.
    std::fs::write(
        dir.path().join("wide.toml"),
        "[network]\nlayers = [\n  { type = \"linear\", shape = [2, 20000] },\n  \
         { type = \"lif\", n = 20000 },\n  { type = \"linear\", shape = [20000, 1] },\n  \
         { type = \"lif\", n = 1 },\n]\n[training]\nT = 2000\n",
    )
    .unwrap();
    let out = neurojit(&["train", "wide.toml", "--out", "run"], dir.path());
    let err = error_of(&out);
    assert!(
        err.contains("the tape entry `1_LIF/vmem` over 2000 timesteps"),
        "{err}"
    );
    assert!(
        !dir.path().join("run").exists(),
        "a half-made run folder was left"
    );
}

#[test]
fn data_that_does_not_fit_the_network_is_an_error_naming_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let data = Dataset {
        inputs: vec![0.0; 8 * 100 * 3],
        samples: 8,
        t: 100,
        n_in: 3,
        targets: Targets::Signal {
            data: vec![0.0; 8 * 100 * 2],
            n_out: 2,
        },
        origin: "test".into(),
    };
    save_npz(&dir.path().join("data.npz"), &data).unwrap();
    let out = neurojit(&["train", "--data", "data.npz", "--out", "run"], dir.path());
    let err = error_of(&out);
    assert!(err.contains("inputs"), "{err}");
}

#[test]
fn file_system_errors_name_the_option_or_spec_key_behind_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    std::fs::write(dir.path().join("file"), "not a folder").unwrap();

    let err = error_of(&neurojit(
        &["train", "--data", "folder", "--out", "run"],
        dir.path(),
    ));
    assert!(
        err.contains("training data (--data): folder is a folder: expected an .npz file"),
        "{err}"
    );

    neurojit(&["init", "spec.toml"], dir.path());
    let spec = std::fs::read_to_string(dir.path().join("spec.toml")).unwrap();
    let spec: String = spec
        .lines()
        .filter(|line| !line.starts_with("input_prob"))
        .map(|line| {
            if line.starts_with("builtin") {
                "path = \"folder\""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let err = error_of(&neurojit(
        &["train", "spec.toml", "--out", "run"],
        dir.path(),
    ));
    assert!(
        err.contains("training data ([data] path in spec.toml)"),
        "{err}"
    );
    assert!(err.contains("is a folder: expected an .npz file"), "{err}");

    let err = error_of(&neurojit(&["train", "--out", "file/run"], dir.path()));
    assert!(err.contains("the run folder (--out): file/run:"), "{err}");
    assert!(!dir.path().join("run").exists());
}

#[test]
fn init_writes_the_tutorial_spec_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = neurojit(&["init", "spec.toml"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("spec.toml")).unwrap();
    assert_eq!(text, neurojit::spec::TUTORIAL_SPEC);
    // Written elsewhere, its comments name its own file.
    let out = neurojit(&["init", "my_net.toml"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let renamed = std::fs::read_to_string(dir.path().join("my_net.toml")).unwrap();
    assert!(
        renamed.contains("`neurojit train my_net.toml`"),
        "{renamed}"
    );
    assert!(!renamed.contains("spec.toml"), "{renamed}");
    assert_eq!(
        renamed.replace("my_net.toml", "spec.toml"),
        neurojit::spec::TUTORIAL_SPEC
    );
    let again = neurojit(&["init", "spec.toml"], dir.path());
    assert!(error_of(&again).contains("--force"));
    let into_dir = neurojit(&["init", "--force", "."], dir.path());
    let err = error_of(&into_dir);
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn ir_prints_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    for (stage, marker) in [
        ("graph", "param 0_Linear/weight"),
        ("grad", "state_adjoint"),
        ("simplified", "# forward"),
        ("clif", "function"),
        ("asm", "ret"),
    ] {
        let out = neurojit(
            &["ir", "--stage", stage, "--program", "forward"],
            dir.path(),
        );
        assert!(out.status.success(), "{stage}: {}", stderr(&out));
        assert!(stdout(&out).contains(marker), "{stage}");
    }
    let out = neurojit(&["ir", "--stage", "simplified"], dir.path());
    assert!(stdout(&out).contains("# backward"));
}

#[test]
fn ir_refuses_sizes_that_train_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    neurojit(&["init", "spec.toml"], dir.path());
    let spec = std::fs::read_to_string(dir.path().join("spec.toml")).unwrap();
    let with = |batch: &str, t: &str| -> String {
        spec.lines()
            .map(|line| {
                if line.starts_with("batch =") {
                    format!("batch = {batch}")
                } else if line.starts_with("T =") {
                    format!("T = {t}")
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let refusal = |batch: &str, t: &str| {
        std::fs::write(dir.path().join("big.toml"), with(batch, t)).unwrap();
        let err = error_of(&neurojit(&["ir", "big.toml"], dir.path()));
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    // Beyond what one buffer holds, before anything is traced.
    let err = refusal("18446744073709551615", "100");
    assert!(
        err.contains("batch = 18446744073709551615: expected at most"),
        "{err}"
    );
    let err = refusal("8", "4611686018427387904");
    assert!(
        err.contains("timesteps = 4611686018427387904: expected at most"),
        "{err}"
    );
    // Within those limits, but one step's values are not.
    let err = refusal("100000000", "100");
    assert!(
        err.contains("batch = 100000000: one timestep computes a value of shape"),
        "{err}"
    );
    // Batch and T fine on their own; the tape over all steps is not.
    let err = refusal("8", "2000000");
    assert!(err.contains("over 2000000 timesteps"), "{err}");
    // The same spec at sensible sizes prints its tape.
    std::fs::write(dir.path().join("ok.toml"), with("8", "100")).unwrap();
    let out = neurojit(&["ir", "ok.toml"], dir.path());
    assert!(
        stdout(&out).contains("bytes per timestep"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ir_shows_a_benchmark_preset_and_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    // The recurrent preset's forward step multiplies the previous spikes by
    // the 128x128 recurrent weights for the batch of 16.
    let out = neurojit(
        &[
            "ir",
            "--preset",
            "recurrent",
            "--stage",
            "schedule",
            "--program",
            "forward",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("matmul [16,128]"), "{text}");
    assert!(text.contains("loop [16,128"), "{text}");
    // A program asked for by name is answered even when the network needs
    // none: a single linear layer has nothing to hoist into a prologue.
    std::fs::write(
        dir.path().join("linear.toml"),
        "[network]\nlayers = [{ type = \"linear\", shape = [2, 3] }]\n",
    )
    .unwrap();
    let out = neurojit(
        &[
            "ir",
            "linear.toml",
            "--stage",
            "simplified",
            "--program",
            "prologue",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("# prologue: empty"),
        "{}",
        stdout(&out)
    );
    let out = neurojit(&["ir", "--preset", "huge"], dir.path());
    let err = error_of(&out);
    assert!(err.contains("invalid value 'huge'"), "{err}");
    let out = neurojit(&["ir", "spec.toml", "--preset", "tiny"], dir.path());
    // A spec and a preset conflict.
    let err = error_of(&out);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn params_filters_by_family_and_shows_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let out = neurojit(&["params", "--family", "taus"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("tau_mem") && !text.contains("weight"),
        "{text}"
    );
    assert!(text.contains("lower bounds"));
}

#[test]
fn bench_prints_a_json_line_with_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let out = neurojit(
        &[
            "bench",
            "--preset",
            "tiny",
            "--seconds",
            "0.05",
            "--max-steps",
            "5",
            "--json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let last = text.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["preset"], "tiny");
    assert_eq!(v["T"], 100);
    assert_eq!(v["batch"], 1);
    assert_eq!(v["threads"], 1);
    for backend in ["jit", "interp"] {
        let b = &v[backend];
        assert!(b["step_s"].as_f64().unwrap() > 0.0, "{last}");
        // At least 3 steps are timed, and --max-steps 5 caps them.
        let samples = b["samples"].as_u64().unwrap();
        assert!((3..=5).contains(&samples), "{last}");
        assert_eq!(b["diverges"], false, "{last}");
        // Both backends run the same programs, with the same tape.
        assert_eq!(b["tape_bytes_per_step"], v["jit"]["tape_bytes_per_step"]);
    }
    // The ratio is the interpreter's step time over the JIT's.
    let ratio = v["interp"]["step_s"].as_f64().unwrap() / v["jit"]["step_s"].as_f64().unwrap();
    assert!(
        (v["ratio"].as_f64().unwrap() - ratio).abs() <= 1e-9 * ratio,
        "{last}"
    );
}

#[test]
fn conformance_passes_on_the_reference_cases_with_the_jit() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = neurojit(&["conformance", "tests/reference", "--backend", "jit"], dir);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("30 of 30 cases passed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn labels_train_with_the_cross_entropy_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (samples, t, n_in) = (8, 20, 4);
    // Sample `s` has label `s % 3` and input on channel `s % 3` only, so
    // the labels can be learnt from the inputs.
    let inputs = (0..samples * t * n_in)
        .map(|i| {
            let (sample, channel) = (i / (t * n_in), i % n_in);
            if channel == sample % 3 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let data = Dataset {
        inputs,
        samples,
        t,
        n_in,
        targets: Targets::Labels((0..samples as u32).map(|i| i % 3).collect()),
        origin: "test".into(),
    };
    save_npz(&dir.path().join("labels.npz"), &data).unwrap();
    std::fs::write(
        dir.path().join("ce.toml"),
        r#"
[network]
layers = [
    { type = "linear", shape = [4, 8] },
    { type = "lif", n = 8, leak_mode = "decays" },
    { type = "linear", shape = [8, 3] },
]

[loss]
kind = "cross_entropy"

[optimizer]
kind = "adam"
lr = 1e-2

[training]
batch = 4
T = 20
epochs = 30

[data]
path = "labels.npz"
"#,
    )
    .unwrap();
    let out = neurojit(
        &["train", "ce.toml", "--out", "run", "--no-plots"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = history(&dir.path().join("run"));
    assert_eq!(rows.len(), 30);
    let task = |row: &Vec<String>| -> f64 { row[2].parse().unwrap() };
    let (first, last) = (task(&rows[0]), task(&rows[29]));
    // Cross-entropy of 3 classes starts near ln 3, and training on the
    // labels lowers it.
    assert!(first > 0.5 && first < 3.0, "{first}");
    assert!(last < 0.1 * first, "task loss {first} -> {last}");
}

#[test]
fn cross_entropy_on_the_built_in_task_is_an_error() {
    // The built-in task has target signals, no labels: cross-entropy once
    // trained on it without a word.
    let dir = tempfile::tempdir().unwrap();
    let init = neurojit(&["init", "spec.toml"], dir.path());
    assert!(init.status.success(), "{}", stderr(&init));
    let spec = std::fs::read_to_string(dir.path().join("spec.toml")).unwrap();
    assert!(spec.contains("kind = \"mse\""), "{spec}");
    std::fs::write(
        dir.path().join("spec.toml"),
        spec.replace("kind = \"mse\"", "kind = \"cross_entropy\""),
    )
    .unwrap();
    let err = error_of(&neurojit(
        &["train", "spec.toml", "--out", "run"],
        dir.path(),
    ));
    assert!(
        err.contains("builtin:tutorial") && err.contains("needs `labels`"),
        "{err}"
    );
    assert!(!dir.path().join("run").exists());
}

#[test]
fn counts_and_durations_out_of_range_are_errors_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    for (args, option) in [
        (
            &["bench", "--preset", "tiny", "--max-steps", "0"][..],
            "--max-steps",
        ),
        (
            &["bench", "--preset", "tiny", "--seconds=-1"][..],
            "--seconds",
        ),
        (
            &["bench", "--preset", "tiny", "--seconds", "-1"][..],
            "--seconds",
        ),
        (
            &["bench", "--preset", "tiny", "--threads", "0"][..],
            "--threads",
        ),
        (&["train", "--threads", "0"][..], "--threads"),
        (&["train", "--epochs", "0"][..], "--epochs"),
    ] {
        let out = neurojit(args, dir.path());
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(option) && err.contains("expected"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn train_reports_the_threads_it_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    // The tutorial's batch of 8 splits into at most 2 equal shards for 3
    // threads.
    let out = neurojit(
        &["train", "--epochs", "1", "--threads", "3", "--no-plots"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 threads)"), "{}", stdout(&out));
}

#[test]
fn a_checkpoint_listing_parameters_in_another_order_resumes_exactly() {
    use neurojit::checkpoint::{load_checkpoint, save_checkpoint};
    let dir = tempfile::tempdir().unwrap();
    train_tutorial(dir.path(), "--out", "full", 4);
    train_tutorial(dir.path(), "--out", "part", 2);
    // Reversed parameters (and with them every optimiser slot) and
    // reversed slots: paths and slot names say what is what.
    let path = dir.path().join("part/checkpoint.safetensors");
    let mut checkpoint = load_checkpoint(&path).unwrap();
    checkpoint.params.reverse();
    let optimizer = checkpoint.optimizer.as_mut().unwrap();
    assert_eq!(optimizer.slots.len(), 2, "Adam keeps two moments");
    optimizer.slots.reverse();
    for (_, tensors) in &mut optimizer.slots {
        tensors.reverse();
    }
    save_checkpoint(&path, &checkpoint).unwrap();
    train_tutorial(dir.path(), "--resume", "part", 4);
    assert_eq!(
        history(&dir.path().join("full")),
        history(&dir.path().join("part"))
    );
}

#[test]
fn a_resumed_run_reads_the_data_file_it_started_with() {
    // Started with `--data` (a path relative to where it was started),
    // resumed from another folder without it: the run records the file's
    // absolute path and reads that file again, not the spec's built-in task.
    let dir = tempfile::tempdir().unwrap();
    let (samples, t) = (8, 100);
    let data = Dataset {
        inputs: (0..samples * t * 16)
            .map(|i| (i % 7) as f32 * 0.3)
            .collect(),
        samples,
        t,
        n_in: 16,
        targets: Targets::Signal {
            data: vec![0.25; samples * t * 2],
            n_out: 2,
        },
        origin: "test".into(),
    };
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    save_npz(&work.join("data.npz"), &data).unwrap();
    let start = neurojit(
        &[
            "train",
            "--data",
            "data.npz",
            "--out",
            "run",
            "--epochs",
            "1",
            "--no-plots",
        ],
        &work,
    );
    assert!(start.status.success(), "{}", stderr(&start));
    let recorded = std::fs::read_to_string(work.join("run/data.txt")).unwrap();
    assert_eq!(
        Path::new(recorded.trim_end()),
        std::fs::canonicalize(work.join("data.npz")).unwrap()
    );

    let resume = |epochs: &str| {
        neurojit(
            &[
                "train",
                "--resume",
                "work/run",
                "--epochs",
                epochs,
                "--no-plots",
            ],
            dir.path(),
        )
    };
    let resumed = resume("2");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(history(&work.join("run")).len(), 2);

    // Without the file, resuming fails naming it.
    std::fs::rename(work.join("data.npz"), work.join("moved.npz")).unwrap();
    let err = error_of(&resume("3"));
    assert!(err.contains("data.npz"), "{err}");

    // `--data` on a resume replaces the run's data for later resumes too.
    let replaced = neurojit(
        &[
            "train",
            "--resume",
            "work/run",
            "--data",
            "work/moved.npz",
            "--epochs",
            "3",
            "--no-plots",
        ],
        dir.path(),
    );
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    let recorded = std::fs::read_to_string(work.join("run/data.txt")).unwrap();
    assert_eq!(
        Path::new(recorded.trim_end()),
        std::fs::canonicalize(work.join("moved.npz")).unwrap()
    );
    let again = resume("4");
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(history(&work.join("run")).len(), 4);
}

/// A small network on `samples` samples of a constant task, as a spec and
/// an .npz in `dir`.
fn small_task(dir: &Path, samples: usize, optimizer: &str) {
    let t = 10;
    let data = Dataset {
        inputs: (0..samples * t * 2).map(|i| (i % 5) as f32).collect(),
        samples,
        t,
        n_in: 2,
        targets: Targets::Signal {
            data: vec![0.5; samples * t * 2],
            n_out: 2,
        },
        origin: "test".into(),
    };
    save_npz(&dir.join("data.npz"), &data).unwrap();
    let spec = format!(
        "[network]\nlayers = [ {{ type = \"linear\", shape = [2, 3] }}, {{ type = \"lif\", n = 3 }}, \
         {{ type = \"linear\", shape = [3, 2] }} ]\n[optimizer]\n{optimizer}\n\
         [training]\nbatch = 2\nT = {t}\nepochs = 2\n[data]\npath = \"data.npz\"\n"
    );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
}

#[test]
fn samples_left_over_after_the_last_full_batch_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    small_task(dir.path(), 5, "kind = \"adam\"\nlr = 1e-3");
    let out = neurojit(
        &["train", "spec.toml", "--out", "run", "--no-plots"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "5 samples make 2 batches of 2; the last 1 sample (index 4 on) is not trained on"
        ),
        "{text}"
    );
    small_task(dir.path(), 4, "kind = \"adam\"\nlr = 1e-3");
    let out = neurojit(
        &["train", "spec.toml", "--out", "run4", "--no-plots"],
        dir.path(),
    );
    assert!(!stdout(&out).contains("not trained on"), "{}", stdout(&out));
}

#[test]
fn a_time_constant_trained_below_zero_is_a_warning_and_the_run_completes() {
    // SGD at a large rate, with no bound on the taus, drives a membrane time
    // constant negative within the first epoch. Rockpool trains on; so does
    // neurojit, saying so once, and the run folder is complete but for the
    // recorded sample (the trace refuses such a network).
    let dir = tempfile::tempdir().unwrap();
    small_task(dir.path(), 4, "kind = \"sgd\"\nlr = 0.1");
    let out = neurojit(
        &["train", "spec.toml", "--out", "run", "--epochs", "3"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("warning: after epoch").count(), 1, "{text}");
    assert!(text.contains("`1_LIF/tau_mem` (element 0) is -"), "{text}");
    assert!(text.contains("is not recorded"), "{text}");
    assert!(text.contains("run folder: run"), "{text}");
    let run = dir.path().join("run");
    assert_eq!(history(&run).len(), 3);
    assert!(run.join("plots/loss.png").exists());
    assert!(!run.join("sample.json").exists());
}

#[test]
fn a_backend_named_twice_is_timed_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = neurojit(
        &[
            "bench",
            "--preset",
            "tiny",
            "--preset",
            "tiny",
            "--backend",
            "jit",
            "--backend",
            "jit",
            "--seconds",
            "0.05",
            "--max-steps",
            "3",
            "--json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("preset tiny").count(), 1, "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("jit"))
            .count(),
        1,
        "{text}"
    );
}

/// docs/architecture.md quotes the node counts `neurojit ir` prints for the
/// tutorial network; they must be the ones it prints today.
#[test]
fn the_architecture_doc_node_count_table_is_what_ir_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = neurojit(&["ir"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // The number after `prefix` on the header line (starting with `# `)
    // that holds it.
    let count = |prefix: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.starts_with("# ") && l.contains(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in:\n{text}"));
        let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
        rest.chars().take_while(char::is_ascii_digit).collect()
    };
    let programs = ["prologue", "prepass", "forward", "backward", "epilogue"]
        .map(|p| count(&format!("# {p}: ")))
        .join(" / ");
    let rows = [
        format!("| traced step | {} |", count("# live nodes: traced step ")),
        format!("| step with gradients | {} |", count(", with gradients ")),
        format!(
            "| simplified (before splitting) | {} |",
            count(", simplified ")
        ),
        format!("| prologue / prepass / forward / backward / epilogue | {programs} (arena sizes"),
        format!(
            "| parameter-only loss with gradient | {} |",
            count("# param_loss: ")
        ),
        format!(
            "| Adam update (16 parameters, 2 moments each) | {} |",
            count("# optimizer: ")
        ),
    ];
    let doc = include_str!("../docs/architecture.md");
    for row in rows {
        assert!(doc.contains(&row), "docs/architecture.md lacks `{row}`");
    }
}
