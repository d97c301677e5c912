//! Checkpoints: save/load round trips bit for bit (order, shapes, special
//! floats, optimiser state, metadata); writes are atomic; mismatches
//! against a network name the first mismatched path.

use neurojit::checkpoint::{
    check_matches, load_checkpoint, save_checkpoint, Checkpoint, CheckpointError, NamedTensor,
    OptimizerState,
};
use std::collections::BTreeMap;

fn tensor(path: &str, shape: &[usize], start: f32) -> NamedTensor {
    let count: usize = shape.iter().product();
    let data = (0..count).map(|i| start + i as f32 * 0.5).collect();
    NamedTensor::new(path, shape.to_vec(), data).unwrap()
}

/// Parameters deliberately not in alphabetical order.
fn params() -> Vec<NamedTensor> {
    vec![
        tensor("0_Linear/weight", &[2, 3], 1.0),
        tensor("1_LIF/tau_mem", &[3], 0.02),
        tensor("1_LIF/tau_syn", &[3, 1], 0.03),
        tensor("1_LIF/bias", &[3], -1.0),
        tensor("2_Residual/0_Linear/weight", &[3, 3], 4.0),
    ]
}

fn expected_shapes() -> Vec<(String, Vec<usize>)> {
    params().into_iter().map(|t| (t.path, t.shape)).collect()
}

fn full_checkpoint() -> Checkpoint {
    let p = params();
    let slot = |offset: f32| {
        p.iter()
            .map(|t| {
                NamedTensor::new(
                    &t.path,
                    t.shape.clone(),
                    t.data.iter().map(|x| x * offset).collect(),
                )
                .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let mut meta = BTreeMap::new();
    meta.insert("best_loss".to_string(), "0.125".to_string());
    meta.insert("rng".to_string(), "[1,2,3]".to_string());
    Checkpoint {
        params: p.clone(),
        optimizer: Some(OptimizerState {
            kind: "adam".into(),
            step: 42,
            slots: vec![("m".into(), slot(0.1)), ("v".into(), slot(0.01))],
        }),
        epoch: 7,
        meta,
    }
}

#[test]
fn round_trip_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let original = full_checkpoint();
    save_checkpoint(&path, &original).unwrap();
    let loaded = load_checkpoint(&path).unwrap();
    assert_eq!(loaded, original);
    check_matches(&loaded, &expected_shapes(), "ck").unwrap();
}

#[test]
fn special_floats_survive_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("special.safetensors");
    let values = vec![
        -0.0f32,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE / 4.0,
        f32::MAX,
        1.0e-7,
    ];
    let ck = Checkpoint {
        params: vec![NamedTensor::new("x", vec![2, 3], values.clone()).unwrap()],
        ..Checkpoint::default()
    };
    save_checkpoint(&path, &ck).unwrap();
    let loaded = load_checkpoint(&path).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&loaded.params[0].data), bits(&values));
    assert!(loaded.optimizer.is_none());
    assert_eq!(loaded.epoch, 0);
}

#[test]
fn keys_are_tree_paths_and_optimizer_tensors_are_prefixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.safetensors");
    save_checkpoint(&path, &full_checkpoint()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = st.names();
    names.sort();
    assert!(names.contains(&"1_LIF/tau_mem"));
    assert!(names.contains(&"optimizer/m/2_Residual/0_Linear/weight"));
    assert!(names.contains(&"optimizer/v/0_Linear/weight"));
    assert_eq!(names.len(), 15);
    let w = st.tensor("0_Linear/weight").unwrap();
    assert_eq!(w.shape(), [2, 3]);
    assert_eq!(w.dtype(), safetensors::Dtype::F32);
}

#[test]
fn saving_replaces_the_old_file_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let mut ck = full_checkpoint();
    save_checkpoint(&path, &ck).unwrap();
    ck.epoch = 8;
    ck.params[0].data[0] = 99.0;
    save_checkpoint(&path, &ck).unwrap();
    let loaded = load_checkpoint(&path).unwrap();
    assert_eq!(loaded.epoch, 8);
    assert_eq!(loaded.params[0].data[0], 99.0);
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["ck.safetensors"]);
}

#[test]
fn a_failed_save_keeps_the_previous_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let good = full_checkpoint();
    save_checkpoint(&path, &good).unwrap();
    // A tensor whose data does not match its shape is refused before
    // anything is written.
    let mut bad = good.clone();
    bad.params[1].data.pop();
    let err = save_checkpoint(&path, &bad).unwrap_err();
    assert!(
        matches!(err, CheckpointError::TensorSize { ref path, .. } if path == "1_LIF/tau_mem"),
        "{err}"
    );
    assert_eq!(load_checkpoint(&path).unwrap(), good);
}

#[test]
fn reserved_and_duplicate_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    let ck = Checkpoint {
        params: vec![tensor("optimizer/m/w", &[1], 0.0)],
        ..Checkpoint::default()
    };
    assert!(matches!(
        save_checkpoint(&path, &ck),
        Err(CheckpointError::ReservedPath { .. })
    ));
    let ck = Checkpoint {
        params: vec![tensor("a/w", &[1], 0.0), tensor("a/w", &[1], 1.0)],
        ..Checkpoint::default()
    };
    assert!(matches!(
        save_checkpoint(&path, &ck),
        Err(CheckpointError::DuplicatePath { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn mismatches_name_the_first_mismatched_path() {
    let ck = full_checkpoint();
    let mut expected = expected_shapes();
    expected[2].1 = vec![3, 2]; // 1_LIF/tau_syn: two synapses expected
    expected[4].1 = vec![4, 4];
    let err = check_matches(&ck, &expected, "run/checkpoint.safetensors").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`1_LIF/tau_syn`") && text.contains("[3, 1]") && text.contains("[3, 2]"),
        "{text}"
    );
    assert!(text.contains("run/checkpoint.safetensors"), "{text}");

    let mut expected = expected_shapes();
    expected.insert(1, ("1_LIF/threshold".into(), vec![3]));
    let text = check_matches(&ck, &expected, "ck").unwrap_err().to_string();
    assert!(text.contains("`1_LIF/threshold` is missing"), "{text}");

    let mut expected = expected_shapes();
    expected.remove(3);
    let text = check_matches(&ck, &expected, "ck").unwrap_err().to_string();
    assert!(
        text.contains("`1_LIF/bias` is in the checkpoint but not in the network"),
        "{text}"
    );
}

#[test]
fn optimizer_slots_are_checked_too() {
    let mut ck = full_checkpoint();
    let opt = ck.optimizer.as_mut().unwrap();
    opt.slots[1].1[0].shape = vec![3, 2];
    let text = check_matches(&ck, &expected_shapes(), "ck")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("`0_Linear/weight`") && text.contains("slot `v`"),
        "{text}"
    );
}

#[test]
fn slots_must_cover_every_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let mut ck = full_checkpoint();
    ck.optimizer.as_mut().unwrap().slots[0].1.pop();
    let err = save_checkpoint(&dir.path().join("x.safetensors"), &ck).unwrap_err();
    assert!(err.to_string().contains("slot `m`"), "{err}");
}

#[test]
fn plain_safetensors_files_load_as_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.safetensors");
    let b: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let a: Vec<u8> = [3.0f32].iter().flat_map(|x| x.to_le_bytes()).collect();
    let views = vec![
        (
            "b/w",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &b).unwrap(),
        ),
        (
            "a/w",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &a).unwrap(),
        ),
    ];
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    let ck = load_checkpoint(&path).unwrap();
    let paths: Vec<&str> = ck.params.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(paths, ["a/w", "b/w"]);
    assert_eq!(ck.params[1].data, [1.0, 2.0]);
}

#[test]
fn unreadable_files_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.safetensors");
    let err = load_checkpoint(&missing).unwrap_err();
    assert!(
        matches!(err, CheckpointError::Io { .. })
            && err.to_string().contains("missing.safetensors")
    );
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a checkpoint at all").unwrap();
    let err = load_checkpoint(&garbage).unwrap_err();
    assert!(
        matches!(err, CheckpointError::Format { .. })
            && err.to_string().contains("garbage.safetensors"),
        "{err}"
    );
    // f64 tensors are not parameters of an f32 network.
    let f64_file = dir.path().join("f64.safetensors");
    let data: Vec<u8> = 1.0f64.to_le_bytes().to_vec();
    let views = vec![(
        "w",
        safetensors::tensor::TensorView::new(safetensors::Dtype::F64, vec![1], &data).unwrap(),
    )];
    std::fs::write(&f64_file, safetensors::serialize(views, None).unwrap()).unwrap();
    let err = load_checkpoint(&f64_file).unwrap_err();
    assert!(err.to_string().contains("expected F32"), "{err}");
}

#[test]
fn an_epoch_beyond_any_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.safetensors");
    let ck = Checkpoint {
        epoch: u64::MAX,
        ..full_checkpoint()
    };
    save_checkpoint(&path, &ck).unwrap();
    let err = load_checkpoint(&path).unwrap_err().to_string();
    assert!(err.contains("metadata `epoch`"), "{err}");
    assert!(err.contains("expected a number up to"), "{err}");
}
