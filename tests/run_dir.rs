//! Run folders: creation, the history CSV, bounds.json and sample.json
//! round trips (non-finite values included), checkpoints by kind.

use neurojit::checkpoint::{Checkpoint, NamedTensor};
use neurojit::run_dir::{
    timestamp, CheckpointKind, HistoryRow, LayerRecord, Matrix, RunDir, RunDirError, Sample,
    HISTORY_HEADER,
};
use neurojit::spec::{BoundValue, ParamBounds};
use std::time::{Duration, UNIX_EPOCH};

fn row(epoch: u64) -> HistoryRow {
    HistoryRow {
        epoch,
        loss: 1.0 / epoch as f64,
        task_loss: 0.5 / epoch as f64,
        penalty: if epoch < 3 { 0.25 } else { 0.0 },
        seconds: epoch as f64 * 0.1,
    }
}

#[test]
fn timestamps_are_utc_calendar_dates() {
    assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01_00-00-00");
    // 2000-02-29 12:34:56 UTC (a leap day) = 951827696.
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_secs(951_827_696)),
        "2000-02-29_12-34-56"
    );
    // 2024-12-31 23:59:59 UTC = 1735689599.
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_secs(1_735_689_599)),
        "2024-12-31_23-59-59"
    );
}

#[test]
fn new_run_folders_are_distinct_and_have_plots() {
    let root = tempfile::tempdir().unwrap();
    let a = RunDir::create_new(root.path()).unwrap();
    let b = RunDir::create_new(root.path()).unwrap();
    assert_ne!(a.path(), b.path());
    assert!(a.plots_dir().is_dir() && b.plots_dir().is_dir());
    assert!(a.path().starts_with(root.path()));
    // Not a run until it has a spec.
    assert!(matches!(
        RunDir::open(a.path()),
        Err(RunDirError::NotARun { .. })
    ));
    a.write_spec("[network]\n").unwrap();
    let opened = RunDir::open(a.path()).unwrap();
    assert_eq!(opened.read_spec().unwrap(), "[network]\n");
}

#[test]
fn create_at_refuses_non_empty_folders() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&root.path().join("mine")).unwrap();
    run.write_spec("x").unwrap();
    assert!(matches!(
        RunDir::create_at(run.path()),
        Err(RunDirError::NotEmpty { .. })
    ));
}

#[test]
fn a_file_or_a_missing_folder_is_named_as_such() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    let err = RunDir::create_at(&file).unwrap_err();
    assert!(matches!(err, RunDirError::NotAFolder { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("is a file: expected a new or empty folder"));

    let err = RunDir::open(&root.path().join("nowhere")).unwrap_err();
    assert!(matches!(err, RunDirError::NoSuchRun { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("does not exist: expected a run folder"));
    let err = RunDir::open(root.path()).unwrap_err();
    assert!(matches!(err, RunDirError::NotARun { .. }), "{err}");
}

#[test]
fn history_round_trips_and_truncates_for_resume() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&root.path().join("r")).unwrap();
    run.start_history().unwrap();
    for e in 1..=5 {
        run.append_history(&row(e)).unwrap();
    }
    let text = std::fs::read_to_string(run.history_path()).unwrap();
    assert_eq!(text.lines().next(), Some(HISTORY_HEADER));
    assert_eq!(text.lines().count(), 6);
    let rows = run.read_history().unwrap();
    assert_eq!(rows, (1..=5).map(row).collect::<Vec<_>>());

    run.truncate_history(3).unwrap();
    assert_eq!(
        run.read_history().unwrap(),
        (1..=3).map(row).collect::<Vec<_>>()
    );
    run.append_history(&row(4)).unwrap();
    assert_eq!(run.read_history().unwrap().len(), 4);
}

#[test]
fn history_keeps_non_finite_losses() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&root.path().join("r")).unwrap();
    let mut r = row(1);
    r.loss = f64::NAN;
    r.penalty = f64::INFINITY;
    run.append_history(&r).unwrap();
    let back = &run.read_history().unwrap()[0];
    assert!(back.loss.is_nan() && back.penalty == f64::INFINITY);
}

#[test]
fn malformed_history_is_located() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&root.path().join("r")).unwrap();
    std::fs::write(
        run.history_path(),
        format!("{HISTORY_HEADER}\n1,2,3,4,5\n2,x,3,4,5\n"),
    )
    .unwrap();
    let err = run.read_history().unwrap_err();
    assert!(matches!(err, RunDirError::Parse { line: 3, .. }), "{err}");
    std::fs::write(run.history_path(), "epoch,loss\n").unwrap();
    let err = run.read_history().unwrap_err().to_string();
    assert!(
        err.contains("expected `epoch,loss,task_loss,penalty,seconds`"),
        "{err}"
    );
}

#[test]
fn bounds_round_trip_with_infinities() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&root.path().join("r")).unwrap();
    let bounds = vec![
        ParamBounds {
            path: "1_LIF/alpha".into(),
            shape: vec![3],
            lower: BoundValue::Scalar(0.5),
            upper: BoundValue::Scalar(1.0),
        },
        ParamBounds {
            path: "4_LIF/tau_syn".into(),
            shape: vec![2, 1],
            lower: BoundValue::Scalar(f32::NEG_INFINITY),
            upper: BoundValue::PerElement(vec![0.1, f32::INFINITY]),
        },
    ];
    run.write_bounds(&bounds).unwrap();
    let text = std::fs::read_to_string(run.bounds_path()).unwrap();
    assert!(
        text.contains("\"-inf\"") && text.contains("\"inf\""),
        "{text}"
    );
    assert_eq!(run.read_bounds().unwrap(), bounds);
}

#[test]
fn sample_round_trips() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&root.path().join("r")).unwrap();
    let sample = Sample {
        dt: 1e-3,
        index: 0,
        layers: vec![LayerRecord {
            name: "2_Residual/1_LIF".into(),
            spikes: Matrix::new(2, 3, vec![0.0, 1.0, 0.0, 2.0, 0.0, 0.0]).unwrap(),
            vmem: Matrix::new(2, 3, vec![0.1, -0.2, 0.3, f32::NAN, 0.5, 0.6]).unwrap(),
        }],
        output: Some(Matrix::new(2, 1, vec![0.0, 1.0]).unwrap()),
        target: None,
    };
    run.write_sample(&sample).unwrap();
    let back = run.read_sample().unwrap();
    assert_eq!(back.layers[0].spikes, sample.layers[0].spikes);
    assert!(back.layers[0].vmem.data[3].is_nan());
    assert_eq!(back.layers[0].vmem.data[5], 0.6);
    assert_eq!(back.output, sample.output);
    assert_eq!(back.target, None);
    assert!(Matrix::new(2, 2, vec![0.0]).is_none());

    // A matrix whose data does not fit its shape is refused on reading.
    std::fs::write(
        run.sample_path(),
        r#"{"dt":0.001,"index":0,"layers":[{"name":"L","spikes":{"shape":[2,2],"data":[0,1]},"vmem":{"shape":[2,2],"data":[0,0,0,0]}}]}"#,
    )
    .unwrap();
    let err = run.read_sample().unwrap_err().to_string();
    assert!(
        err.contains("`L` spikes has shape [2, 2] but 2 values"),
        "{err}"
    );
}

#[test]
fn checkpoints_are_stored_by_kind() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&root.path().join("r")).unwrap();
    for (kind, value) in [
        (CheckpointKind::Initial, 1.0),
        (CheckpointKind::Latest, 2.0),
        (CheckpointKind::Best, 3.0),
        (CheckpointKind::Final, 4.0),
    ] {
        let ck = Checkpoint {
            params: vec![NamedTensor::new("w", vec![1], vec![value]).unwrap()],
            ..Checkpoint::default()
        };
        run.save_checkpoint(kind, &ck).unwrap();
    }
    assert!(run.path().join("checkpoint.safetensors").is_file());
    assert_eq!(
        run.load_checkpoint(CheckpointKind::Best).unwrap().params[0].data,
        [3.0]
    );
    assert_eq!(
        run.load_checkpoint(CheckpointKind::Initial).unwrap().params[0].data,
        [1.0]
    );
}
