//! Data loading: npz files written here with `npyz` (as numpy would write
//! them: f64, int64, bool, Fortran order) are read back exactly; malformed
//! files give errors naming the file, the array and the shapes; the
//! built-in tutorial task is deterministic and has the promised form.

use neurojit::data::{self, DataError, Dataset, Targets, TutorialTask};
use npyz::npz::NpzWriter;
use npyz::{AutoSerialize, Order, Serialize, WriterBuilder};
use std::path::{Path, PathBuf};

/// One array to put in a test file.
struct Entry<T> {
    name: &'static str,
    shape: Vec<u64>,
    values: Vec<T>,
    order: Order,
}

fn entry<T>(name: &'static str, shape: &[u64], values: Vec<T>) -> Entry<T> {
    Entry {
        name,
        shape: shape.to_vec(),
        values,
        order: Order::C,
    }
}

fn add<T: Serialize + AutoSerialize + Copy, W: std::io::Write + std::io::Seek>(
    npz: &mut NpzWriter<W>,
    e: &Entry<T>,
) {
    let mut w = npz
        .array::<T>(e.name, Default::default())
        .unwrap()
        .default_dtype()
        .shape(&e.shape)
        .order(e.order)
        .begin_nd()
        .unwrap();
    w.extend(e.values.iter().copied()).unwrap();
    w.finish().unwrap();
}

fn write_npz(path: &Path, build: impl FnOnce(&mut NpzWriter<std::io::BufWriter<std::fs::File>>)) {
    let mut npz = NpzWriter::create(path).unwrap();
    build(&mut npz);
    npz.zip_writer().finish().unwrap();
}

fn ramp(n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|i| i as f64 * scale).collect()
}

fn temp_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// An npy member written byte by byte (format 1.0), for headers and data
/// npyz would refuse to write: `dict` is the header's Python dict.
fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut text = dict.to_string();
    // numpy pads the header with spaces to a multiple of 64 bytes.
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((text.len() as u16).to_le_bytes());
    bytes.extend(text.as_bytes());
    bytes.extend(data);
    bytes
}

fn f4_header(shape: &str) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}")
}

fn write_raw_npz(path: &Path, members: &[(&str, Vec<u8>)]) {
    use std::io::Write;
    write_npz(path, |npz| {
        for (name, bytes) in members {
            let zip = npz.zip_writer();
            zip.start_file(format!("{name}.npy"), Default::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
    });
}

fn f32_bytes(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
}

#[test]
fn reads_f64_inputs_and_f32_targets() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "signal.npz");
    let inputs = ramp(3 * 4 * 2, 0.25);
    let targets: Vec<f32> = (0..3 * 4 * 5).map(|i| (i as f32).sin()).collect();
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[3, 4, 2], inputs.clone()));
        add(npz, &entry("targets", &[3, 4, 5], targets.clone()));
    });
    let data = data::load_npz(&path).unwrap();
    assert_eq!((data.samples, data.t, data.n_in), (3, 4, 2));
    let expected: Vec<f32> = inputs.iter().map(|&x| x as f32).collect();
    assert_eq!(data.inputs, expected);
    assert_eq!(
        data.targets,
        Targets::Signal {
            data: targets,
            n_out: 5
        }
    );
    data.check_against(2, 5, Some(4)).unwrap();
    data.check_against(2, 5, None).unwrap();
}

#[test]
fn reads_integer_labels_and_bool_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "labels.npz");
    let spikes: Vec<bool> = (0..2 * 3 * 4).map(|i| i % 3 == 0).collect();
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[2, 3, 4], spikes.clone()));
        add(npz, &entry("labels", &[2], vec![1i64, 0]));
    });
    let data = data::load_npz(&path).unwrap();
    let expected: Vec<f32> = spikes.iter().map(|&s| if s { 1.0 } else { 0.0 }).collect();
    assert_eq!(data.inputs, expected);
    assert_eq!(data.targets, Targets::Labels(vec![1, 0]));
    assert_eq!(data.n_out(), None);
    data.check_against(4, 2, Some(3)).unwrap();
    // Label 1 needs at least 2 classes.
    let err = data.check_against(4, 1, Some(3)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 0,
                label: 1,
                classes: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn fortran_ordered_arrays_are_reordered() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "fortran.npz");
    let (b, t, n) = (2usize, 3usize, 4usize);
    // Value of element (i, j, k) is 100 i + 10 j + k; written column-major.
    let value = |i: usize, j: usize, k: usize| (100 * i + 10 * j + k) as f64;
    let mut column_major = Vec::new();
    for k in 0..n {
        for j in 0..t {
            for i in 0..b {
                column_major.push(value(i, j, k));
            }
        }
    }
    write_npz(&path, |npz| {
        let mut e = entry(
            "inputs",
            &[b as u64, t as u64, n as u64],
            column_major.clone(),
        );
        e.order = Order::Fortran;
        add(npz, &e);
        add(npz, &entry("targets", &[2, 3, 1], vec![0.0f32; 6]));
    });
    let data = data::load_npz(&path).unwrap();
    let mut row_major = Vec::new();
    for i in 0..b {
        for j in 0..t {
            for k in 0..n {
                row_major.push(value(i, j, k) as f32);
            }
        }
    }
    assert_eq!(data.inputs, row_major);
}

#[test]
fn save_npz_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for (name, targets) in [
        (
            "sig.npz",
            Targets::Signal {
                data: vec![0.5, -1.0, 2.0, 3.5],
                n_out: 1,
            },
        ),
        ("lab.npz", Targets::Labels(vec![3, 7])),
    ] {
        let original = Dataset {
            inputs: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            samples: 2,
            t: 2,
            n_in: 2,
            targets,
            origin: String::new(),
        };
        let path = temp_file(&dir, name);
        data::save_npz(&path, &original).unwrap();
        let mut back = data::load_npz(&path).unwrap();
        assert_eq!(back.origin, path.display().to_string());
        back.origin = String::new();
        assert_eq!(back, original);
    }
}

/// Loads `path`, expecting an error whose text contains every part.
fn expect_error(path: &Path, parts: &[&str]) -> DataError {
    let err = data::load_npz(path).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error does not name the file: {text}"
    );
    for part in parts {
        assert!(text.contains(part), "`{text}` lacks `{part}`");
    }
    err
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = expect_error(&temp_file(&dir, "nope.npz"), &[]);
    assert!(matches!(err, DataError::Io { .. }));
}

#[test]
fn missing_arrays_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "no_inputs.npz");
    write_npz(&path, |npz| add(npz, &entry("x", &[2], vec![1.0f32, 2.0])));
    expect_error(
        &path,
        &["no array `inputs`", "the file has: x", "(samples, T, N_in)"],
    );

    let path = temp_file(&dir, "no_targets.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[1, 2, 2], vec![0.0f32; 4]))
    });
    expect_error(&path, &["no array `targets`", "labels"]);

    let path = temp_file(&dir, "both.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[1, 2, 2], vec![0.0f32; 4]));
        add(npz, &entry("targets", &[1, 2, 2], vec![0.0f32; 4]));
        add(npz, &entry("labels", &[1], vec![0i64]));
    });
    let err = expect_error(&path, &[]);
    assert_eq!(
        err.to_string(),
        format!(
            "{} has both `targets` and `labels`: expected only one of them",
            path.display()
        )
    );
}

#[test]
fn wrong_shapes_name_the_array_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "two_dims.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[4, 2], vec![0.0f32; 8]));
        add(npz, &entry("labels", &[4], vec![0i64; 4]));
    });
    expect_error(&path, &["`inputs`", "[4, 2]", "(samples, T, N_in)"]);

    let path = temp_file(&dir, "targets_samples.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[3, 2, 1], vec![0.0f32; 6]));
        add(npz, &entry("targets", &[2, 2, 1], vec![0.0f32; 4]));
    });
    expect_error(&path, &["`targets`", "[2, 2, 1]", "(3, 2, N_out)"]);

    let path = temp_file(&dir, "labels_count.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[3, 2, 1], vec![0.0f32; 6]));
        add(npz, &entry("labels", &[2], vec![0i64; 2]));
    });
    expect_error(&path, &["`labels`", "[2]", "(3,)"]);
}

#[test]
fn shapes_are_checked_against_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "net.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[2, 5, 3], vec![0.0f32; 30]));
        add(npz, &entry("targets", &[2, 5, 4], vec![0.0f32; 40]));
    });
    let data = data::load_npz(&path).unwrap();
    let file = path.display().to_string();
    let text = data.check_against(2, 4, Some(5)).unwrap_err().to_string();
    assert!(
        text.contains(&file) && text.contains("`inputs`") && text.contains("[2, 5, 3]"),
        "{text}"
    );
    assert!(text.contains("(samples, 5, 2)"), "{text}");
    let text = data.check_against(3, 4, Some(7)).unwrap_err().to_string();
    assert!(text.contains("T = 7"), "{text}");
    let text = data.check_against(3, 6, Some(5)).unwrap_err().to_string();
    assert!(
        text.contains("`targets`") && text.contains("[2, 5, 4]") && text.contains("(2, 5, 6)"),
        "{text}"
    );
}

#[test]
fn non_finite_values_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "nan.npz");
    let mut targets = vec![0.0f64; 2 * 3 * 2];
    targets[2 * 3 + 2 + 1] = f64::NAN; // sample 1, step 1, channel 1
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[2, 3, 1], vec![0.0f32; 6]));
        add(npz, &entry("targets", &[2, 3, 2], targets));
    });
    let err = expect_error(&path, &["`targets`", "NaN", "[1, 1, 1]"]);
    assert!(matches!(err, DataError::NonFinite { .. }));

    // A finite f64 too large for f32 is rejected as out of range, not as
    // the inf it would become.
    let path = temp_file(&dir, "overflow.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[1, 1, 2], vec![0.0f64, -1e300]));
        add(npz, &entry("labels", &[1], vec![0i64]));
    });
    let err = expect_error(&path, &["`inputs`", "-1e300", "[0, 0, 1]", "f32 range"]);
    assert!(!err.to_string().contains("inf"), "{err}");
}

#[test]
fn bad_label_dtypes_and_values_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "float_labels.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[1, 1, 1], vec![0.0f32]));
        add(npz, &entry("labels", &[1], vec![1.0f64]));
    });
    expect_error(&path, &["`labels`", "<f8", "integer class indices"]);

    let path = temp_file(&dir, "negative_labels.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[2, 1, 1], vec![0.0f32; 2]));
        add(npz, &entry("labels", &[2], vec![0i32, -3]));
    });
    // The number of outputs is not known while loading: not mentioned.
    let err = expect_error(&path, &["labels[1]", "-3", "class index"]);
    assert!(!err.to_string().contains("4294967295"), "{err}");

    let path = temp_file(&dir, "huge_labels.npz");
    write_npz(&path, |npz| {
        add(npz, &entry("inputs", &[1, 1, 1], vec![0.0f32]));
        add(npz, &entry("labels", &[1], vec![1i64 << 40]));
    });
    let err = expect_error(&path, &["labels[0]", "1099511627776", "class index"]);
    assert!(!err.to_string().contains("4294967295"), "{err}");
}

#[test]
fn unsupported_dtype_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "strings.npz");
    write_npz(&path, |npz| {
        let mut w = npz
            .array::<[u8]>("inputs", Default::default())
            .unwrap()
            .dtype(npyz::DType::Plain("|S2".parse().unwrap()))
            .shape(&[1])
            .begin_nd()
            .unwrap();
        w.push(b"ab" as &[u8]).unwrap();
        w.finish().unwrap();
    });
    expect_error(&path, &["`inputs`", "|S2", "float, integer or bool"]);
}

#[test]
fn overflowing_shapes_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    // Element counts that wrap to 0 (or to a small number) in 64 bits.
    for (i, (inputs, targets)) in [
        (
            "(9223372036854775808, 10, 2)",
            "(9223372036854775808, 10, 3)",
        ),
        (
            "(4611686018427387904, 10, 2)",
            "(4611686018427387904, 10, 3)",
        ),
        ("(4294967296, 4294967296, 2)", "(4, 10, 3)"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = temp_file(&dir, &format!("overflow{i}.npz"));
        write_raw_npz(
            &path,
            &[
                ("inputs", raw_npy(&f4_header(inputs), &[])),
                ("targets", raw_npy(&f4_header(targets), &f32_bytes(120))),
            ],
        );
        expect_error(&path, &["`inputs`", inputs, "too large"]);
    }
    // Only `targets` overflows.
    let path = temp_file(&dir, "overflow_targets.npz");
    write_raw_npz(
        &path,
        &[
            ("inputs", raw_npy(&f4_header("(4, 10, 2)"), &f32_bytes(80))),
            (
                "targets",
                raw_npy(&f4_header("(4, 18446744073709551615, 3)"), &[]),
            ),
        ],
    );
    expect_error(&path, &["`targets`", "too large"]);
}

#[test]
fn truncated_arrays_name_the_array_and_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // 40 bytes short: 70 of 80 floats.
    let path = temp_file(&dir, "short.npz");
    write_raw_npz(
        &path,
        &[
            ("inputs", raw_npy(&f4_header("(4, 10, 2)"), &f32_bytes(70))),
            (
                "targets",
                raw_npy(&f4_header("(4, 10, 3)"), &f32_bytes(120)),
            ),
        ],
    );
    expect_error(
        &path,
        &["`inputs`", "truncated", "[4, 10, 2]", "320 bytes", "280"],
    );

    // A header promising far more data than there is: refused before
    // anything is allocated for it.
    let path = temp_file(&dir, "promise.npz");
    write_raw_npz(
        &path,
        &[
            ("inputs", raw_npy(&f4_header("(4, 10, 2)"), &f32_bytes(80))),
            ("targets", raw_npy(&f4_header("(1000000000, 10, 3)"), &[])),
        ],
    );
    expect_error(
        &path,
        &["`targets`", "truncated", "120000000000 bytes", "holds 0"],
    );
}

#[test]
fn malformed_headers_name_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let targets = (
        "targets",
        raw_npy(&f4_header("(4, 10, 3)"), &f32_bytes(120)),
    );
    let path = temp_file(&dir, "garbage.npz");
    write_raw_npz(
        &path,
        &[("inputs", raw_npy("garbage garbage", &[])), targets.clone()],
    );
    expect_error(&path, &["`inputs`", "npy header"]);

    let path = temp_file(&dir, "negative.npz");
    write_raw_npz(
        &path,
        &[
            ("inputs", raw_npy(&f4_header("(-4, 10, 2)"), &f32_bytes(80))),
            targets.clone(),
        ],
    );
    expect_error(&path, &["`inputs`", "(-4, 10, 2)", "negative"]);

    // Cut inside the header itself.
    let path = temp_file(&dir, "cut_header.npz");
    let mut cut = raw_npy(&f4_header("(4, 10, 2)"), &[]);
    cut.truncate(30);
    write_raw_npz(&path, &[("inputs", cut), targets]);
    expect_error(&path, &["`inputs`", "npy header"]);
}

/// `bits` as a float16 array of `shape` in byte order `order` (`<`, `>`).
fn f16_npy(order: char, shape: &str, bits: &[u16]) -> Vec<u8> {
    let data: Vec<u8> = bits
        .iter()
        .flat_map(|b| match order {
            '>' => b.to_be_bytes(),
            _ => b.to_le_bytes(),
        })
        .collect();
    let dict = format!("{{'descr': '{order}f2', 'fortran_order': False, 'shape': {shape}, }}");
    raw_npy(&dict, &data)
}

#[test]
fn float16_arrays_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "half.npz");
    // 1, -2.5, 65504 (largest), 2^-24 (smallest subnormal), 2^-14
    // (smallest normal), -0.
    let bits = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x0400, 0x8000];
    let values = [1.0, -2.5, 65504.0, 2f32.powi(-24), 2f32.powi(-14), -0.0];
    write_raw_npz(
        &path,
        &[
            ("inputs", f16_npy('<', "(1, 3, 2)", &bits)),
            ("targets", f16_npy('>', "(1, 3, 2)", &bits)),
        ],
    );
    let data = data::load_npz(&path).unwrap();
    assert_eq!(data.inputs, values);
    assert!(data.inputs[5].is_sign_negative());
    assert_eq!(
        data.targets,
        Targets::Signal {
            data: values.to_vec(),
            n_out: 2
        }
    );

    let path = temp_file(&dir, "half_inf.npz");
    write_raw_npz(
        &path,
        &[
            ("inputs", f16_npy('<', "(1, 1, 2)", &[0x0000, 0xfc00])),
            (
                "labels",
                raw_npy(
                    "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                    &[0; 8],
                ),
            ),
        ],
    );
    expect_error(&path, &["`inputs`", "-inf", "[0, 0, 1]"]);
}

#[test]
fn the_data_must_suit_the_loss() {
    use neurojit::spec::LossKind;
    let with = |targets| Dataset {
        inputs: vec![0.0; 2],
        samples: 2,
        t: 1,
        n_in: 1,
        targets,
        origin: "d.npz".into(),
    };
    let labels = with(Targets::Labels(vec![0, 1]));
    let signal = with(Targets::Signal {
        data: vec![0.0; 2],
        n_out: 1,
    });
    labels.check_loss(LossKind::CrossEntropy).unwrap();
    signal.check_loss(LossKind::Mse).unwrap();
    let text = labels.check_loss(LossKind::Mse).unwrap_err().to_string();
    assert!(
        text.contains("d.npz") && text.contains("`labels`") && text.contains("\"mse\""),
        "{text}"
    );
    let text = signal
        .check_loss(LossKind::CrossEntropy)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("d.npz") && text.contains("`targets`") && text.contains("\"cross_entropy\""),
        "{text}"
    );
}

#[test]
fn batches_gather_samples_in_order() {
    let data = Dataset {
        inputs: (0..3 * 2).map(|i| i as f32).collect(),
        samples: 3,
        t: 2,
        n_in: 1,
        targets: Targets::Signal {
            data: (0..3 * 2).map(|i| -(i as f32)).collect(),
            n_out: 1,
        },
        origin: "mem".into(),
    };
    let batch = data.batch(&[2, 0]).unwrap();
    assert_eq!(batch.inputs, [4.0, 5.0, 0.0, 1.0]);
    assert_eq!(batch.targets.unwrap(), [-4.0, -5.0, -0.0, -1.0]);
    assert!(batch.labels.is_none());
    assert!(matches!(
        data.batch(&[3]),
        Err(DataError::SampleIndex {
            index: 3,
            samples: 3
        })
    ));
}

fn task(seed: u64, samples: usize) -> TutorialTask {
    TutorialTask {
        samples,
        t: 200,
        n_in: 16,
        n_out: 3,
        input_prob: 0.1,
        seed,
    }
}

#[test]
fn tutorial_task_is_deterministic_and_frozen() {
    let a = data::tutorial_task(&task(4, 3));
    assert_eq!(a, data::tutorial_task(&task(4, 3)));
    assert_ne!(a.inputs, data::tutorial_task(&task(5, 3)).inputs);
    assert_eq!((a.samples, a.t, a.n_in, a.n_out()), (3, 200, 16, Some(3)));
    a.check_against(16, 3, Some(200)).unwrap();
    // Frozen noise: every sample is the same trial.
    let per = a.t * a.n_in;
    assert_eq!(a.inputs[..per], a.inputs[per..2 * per]);
    assert!(a.inputs.iter().all(|&x| x == 0.0 || x == 1.0));
    // The spike rate is near input_prob (3200 draws; 5 sigma is ~0.027).
    let rate = a.inputs[..per].iter().sum::<f32>() / per as f32;
    assert!((rate - 0.1).abs() < 0.03, "rate {rate}");
}

#[test]
fn tutorial_targets_are_smooth_signals_in_the_unit_interval() {
    let a = data::tutorial_task(&task(0, 1));
    let Targets::Signal { data: y, n_out } = &a.targets else {
        panic!("signal targets")
    };
    assert!(y.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // Smooth: neighbouring steps differ by little (max slope 2*pi*(0.3+0.4)/T).
    for j in 0..*n_out {
        for s in 1..a.t {
            let d = (y[s * n_out + j] - y[(s - 1) * n_out + j]).abs();
            assert!(d < 4.5 / a.t as f32, "channel {j} jumps by {d} at step {s}");
        }
    }
    // Channels differ (phase offsets) and the signal varies over the trial.
    assert_ne!(y[0], y[1]);
    let c0: Vec<f32> = (0..a.t).map(|s| y[s * n_out]).collect();
    let (lo, hi) = c0
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(hi - lo > 0.5, "range {lo}..{hi}");
    // It matches the formula at a few points.
    use std::f64::consts::PI;
    let s = 37;
    let expected = 0.5
        + 0.3 * (2.0 * PI * s as f64 / 200.0).sin()
        + 0.2 * (4.0 * PI * s as f64 / 200.0 + 1.0).sin();
    assert!((c0[s] as f64 - expected).abs() < 1e-6);
}

#[test]
fn a_hand_built_dataset_shorter_than_its_sizes_is_an_error() {
    let signal = Dataset {
        inputs: vec![0.0; 2 * 3 * 4 - 1],
        samples: 2,
        t: 3,
        n_in: 4,
        targets: Targets::Signal {
            data: vec![0.0; 2 * 3],
            n_out: 1,
        },
        origin: "by hand".into(),
    };
    assert!(signal.batch(&[0]).is_ok());
    let err = signal.batch(&[1]).unwrap_err().to_string();
    assert_eq!(
        err,
        "by hand: `inputs` holds 23 values: expected 12 per sample for 2 samples"
    );

    let labels = Dataset {
        inputs: vec![0.0; 2 * 3 * 4],
        targets: Targets::Labels(vec![1]),
        ..signal
    };
    let err = labels.batch(&[0, 1]).unwrap_err().to_string();
    assert!(err.contains("`labels` holds 1 values"), "{err}");
}
