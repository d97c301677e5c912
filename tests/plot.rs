//! Plots: from a synthetic run folder every figure is written as a valid,
//! non-blank PNG of the expected size, with text drawn; figures whose
//! inputs are missing are skipped with a reason; the bounds cost formula
//! matches Rockpool's reference sweep.

use neurojit::checkpoint::{Checkpoint, NamedTensor};
use neurojit::plot::{bounds_cost_curve, bounds_cost_value, plot_run, plot_run_detailed};
use neurojit::run_dir::{CheckpointKind, HistoryRow, LayerRecord, Matrix, RunDir, Sample};
use neurojit::spec::{BoundValue, ParamBounds};
use std::path::{Path, PathBuf};

/// A run folder with every file `plot_run` reads.
fn synthetic_run(root: &Path) -> RunDir {
    let run = RunDir::create_at(&root.join("run")).unwrap();
    run.write_spec("# synthetic\n").unwrap();
    run.start_history().unwrap();
    for epoch in 1..=40u64 {
        let task = 0.3 * (-(epoch as f64) / 12.0).exp() + 0.01;
        let penalty = if epoch < 10 {
            30.0 * (10 - epoch) as f64 / 10.0
        } else {
            0.0
        };
        run.append_history(&HistoryRow {
            epoch,
            loss: task + penalty,
            task_loss: task,
            penalty,
            seconds: epoch as f64 * 0.05,
        })
        .unwrap();
    }
    let (t, n) = (100usize, 6usize);
    let layer = |name: &str, phase: usize| LayerRecord {
        name: name.into(),
        spikes: Matrix::new(
            t,
            n,
            (0..t * n)
                .map(|i| {
                    if (i + phase).is_multiple_of(13) {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect(),
        )
        .unwrap(),
        vmem: Matrix::new(
            t,
            n,
            (0..t * n)
                .map(|i| ((i / n) as f32 * 0.1 + (i % n) as f32).sin())
                .collect(),
        )
        .unwrap(),
    };
    run.write_sample(&Sample {
        dt: 1e-3,
        index: 0,
        layers: vec![layer("1_LIF", 0), layer("2_Residual/1_LIF", 5)],
        output: Some(
            Matrix::new(
                t,
                2,
                (0..2 * t).map(|i| (i % 7 == 0) as u8 as f32).collect(),
            )
            .unwrap(),
        ),
        target: Some(
            Matrix::new(
                t,
                2,
                (0..2 * t)
                    .map(|i| 0.5 + 0.4 * (i as f32 * 0.05).sin())
                    .collect(),
            )
            .unwrap(),
        ),
    })
    .unwrap();
    run.write_bounds(&[
        ParamBounds {
            path: "0_Linear/weight".into(),
            shape: vec![2, 3],
            lower: BoundValue::Scalar(f32::NEG_INFINITY),
            upper: BoundValue::Scalar(f32::INFINITY),
        },
        ParamBounds {
            path: "1_LIF/alpha".into(),
            shape: vec![3],
            lower: BoundValue::Scalar(0.5),
            upper: BoundValue::Scalar(1.0),
        },
        ParamBounds {
            path: "4_LIF/tau_mem".into(),
            shape: vec![2],
            lower: BoundValue::PerElement(vec![0.005, 0.01]),
            upper: BoundValue::Scalar(0.05),
        },
    ])
    .unwrap();
    let params = |alpha: [f32; 3], tau: [f32; 2]| Checkpoint {
        params: vec![
            NamedTensor::new(
                "0_Linear/weight",
                vec![2, 3],
                vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6],
            )
            .unwrap(),
            NamedTensor::new("1_LIF/alpha", vec![3], alpha.to_vec()).unwrap(),
            NamedTensor::new("4_LIF/tau_mem", vec![2], tau.to_vec()).unwrap(),
        ],
        ..Checkpoint::default()
    };
    run.save_checkpoint(
        CheckpointKind::Initial,
        &params([0.4, 0.4, 0.4], [0.08, 0.08]),
    )
    .unwrap();
    run.save_checkpoint(
        CheckpointKind::Final,
        &params([0.52, 0.51, 0.55], [0.049, 0.047]),
    )
    .unwrap();
    run
}

/// Decodes a PNG, checking its signature; returns (width, height, RGB rows).
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > 1000,
        "{} is only {} bytes",
        path.display(),
        bytes.len()
    );
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let header_w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let header_h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (header_w, header_h));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "expected RGB(A), got {:?}", info.color_type);
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

fn is_white(p: &[u8; 3]) -> bool {
    p.iter().all(|&c| c > 245)
}

fn is_dark(p: &[u8; 3]) -> bool {
    p.iter().all(|&c| c < 90)
}

/// Checks a figure is a real drawing: not blank, with dark text pixels
/// in its top band (the title) and not just the frame.
fn assert_drawn(path: &Path, width: u32, min_height: u32) {
    let (w, h, pixels) = decode_png(path);
    assert_eq!(w, width, "{}", path.display());
    assert!(h >= min_height, "{} is {h} px high", path.display());
    let inked = pixels.iter().filter(|p| !is_white(p)).count();
    assert!(
        inked as f64 > 0.01 * pixels.len() as f64,
        "{} is almost blank",
        path.display()
    );
    // Title text: dark pixels in the top 40 rows, spread over many columns.
    let top = &pixels[..(40 * w) as usize];
    let dark_columns: std::collections::HashSet<usize> = top
        .iter()
        .enumerate()
        .filter(|(_, p)| is_dark(p))
        .map(|(i, _)| i % w as usize)
        .collect();
    assert!(
        dark_columns.len() > 40,
        "{}: no title text drawn ({} dark columns)",
        path.display(),
        dark_columns.len()
    );
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_figure_is_a_valid_png() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_run(dir.path());
    let written = plot_run(run.path()).unwrap();
    assert_eq!(
        names(&written),
        [
            "bounds_cost.png",
            "loss.png",
            "membrane.png",
            "output.png",
            "params_bounds.png",
            "raster.png"
        ]
    );
    for path in &written {
        assert!(path.starts_with(run.plots_dir()), "{}", path.display());
    }
    let plots = run.plots_dir();
    assert_drawn(&plots.join("bounds_cost.png"), 900, 500);
    assert_drawn(&plots.join("loss.png"), 1200, 500);
    assert_drawn(&plots.join("raster.png"), 1000, 2 * 230);
    assert_drawn(&plots.join("membrane.png"), 1000, 2 * 230);
    assert_drawn(&plots.join("output.png"), 1000, 420);
    // Two bounded parameters (the weight is unbounded): one row of panels.
    assert_drawn(&plots.join("params_bounds.png"), 1200, 340);
}

#[test]
fn the_raster_marks_spikes_where_they_are() {
    // One spike at t = 50 ms, neuron 0, in an otherwise silent layer: the
    // raster has dark pixels near the middle of the plot, none at the far
    // right end of the data area.
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&dir.path().join("r")).unwrap();
    let (t, n) = (100, 1);
    let mut spikes = vec![0.0; t * n];
    spikes[50] = 1.0;
    run.write_sample(&Sample {
        dt: 1e-3,
        index: 0,
        layers: vec![LayerRecord {
            name: "0_LIF".into(),
            spikes: Matrix::new(t, n, spikes).unwrap(),
            vmem: Matrix::new(t, n, vec![0.0; t]).unwrap(),
        }],
        output: None,
        target: None,
    })
    .unwrap();
    let report = plot_run_detailed(run.path()).unwrap();
    assert!(
        report.skipped.iter().any(|s| s.starts_with("output.png")),
        "{:?}",
        report.skipped
    );
    let (w, h, pixels) = decode_png(&run.plots_dir().join("raster.png"));
    // Dark pixels of the dot: below the title band, away from the axes.
    let dots: Vec<(u32, u32)> = (0..pixels.len() as u32)
        .filter(|&i| is_dark(&pixels[i as usize]))
        .map(|i| (i % w, i / w))
        .filter(|&(x, y)| y > 60 && y < h - 60 && x > 120 && x < w - 30)
        .collect();
    assert!(!dots.is_empty(), "no spike dot drawn");
    let mean_x = dots.iter().map(|d| d.0 as f64).sum::<f64>() / dots.len() as f64;
    // The data area spans roughly x in [75, 990]; t = 50 of 100 is its middle.
    assert!((mean_x - 532.0).abs() < 60.0, "spike dot at x = {mean_x}");
}

#[test]
fn missing_inputs_are_skipped_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create_at(&dir.path().join("empty")).unwrap();
    let report = plot_run_detailed(run.path()).unwrap();
    assert_eq!(names(&report.written), ["bounds_cost.png"]);
    let skipped = report.skipped.join("; ");
    for reason in ["no history.csv", "no sample.json", "no bounds.json"] {
        assert!(skipped.contains(reason), "{skipped}");
    }

    // Bounds but no finite bound: the parameter figure has nothing to show.
    let run = synthetic_run(dir.path());
    run.write_bounds(&[ParamBounds {
        path: "1_LIF/alpha".into(),
        shape: vec![3],
        lower: BoundValue::Scalar(f32::NEG_INFINITY),
        upper: BoundValue::Scalar(f32::INFINITY),
    }])
    .unwrap();
    let report = plot_run_detailed(run.path()).unwrap();
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.contains("no parameter has a finite bound")),
        "{:?}",
        report.skipped
    );
}

#[test]
fn an_unfinished_run_uses_the_latest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_run(dir.path());
    let final_ck = run.load_checkpoint(CheckpointKind::Final).unwrap();
    std::fs::remove_file(run.checkpoint_path(CheckpointKind::Final)).unwrap();
    run.save_checkpoint(CheckpointKind::Latest, &final_ck)
        .unwrap();
    let written = plot_run(run.path()).unwrap();
    assert!(names(&written).contains(&"params_bounds.png".to_string()));
}

#[test]
fn malformed_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_run(dir.path());
    std::fs::write(
        run.history_path(),
        "epoch,loss,task_loss,penalty,seconds\n1,oops,2,3,4\n",
    )
    .unwrap();
    let err = plot_run(run.path()).unwrap_err().to_string();
    assert!(
        err.contains("history.csv:2") && err.contains("oops"),
        "{err}"
    );

    // A checkpoint lacking a bounded parameter.
    let run = synthetic_run(&dir.path().join("second"));
    run.save_checkpoint(
        CheckpointKind::Final,
        &Checkpoint {
            params: vec![NamedTensor::new("1_LIF/alpha", vec![3], vec![0.5; 3]).unwrap()],
            ..Checkpoint::default()
        },
    )
    .unwrap();
    let err = plot_run(run.path()).unwrap_err().to_string();
    assert!(
        err.contains("4_LIF/tau_mem") && err.contains("missing"),
        "{err}"
    );

    let missing = dir.path().join("no_such_run");
    assert!(plot_run(&missing).is_err());
}

#[test]
fn sample_shapes_that_do_not_hold_their_data_are_errors() {
    // Every matrix of sample.json is checked, the output and target too,
    // and a shape whose element count overflows holds no data.
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_run(dir.path());
    let original = std::fs::read_to_string(run.path().join("sample.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&original).unwrap();
    let cases = [
        (
            "/output/shape",
            serde_json::json!([1_000_000, 1_000_000]),
            "output",
        ),
        ("/target/shape", serde_json::json!([1000, 1000]), "target"),
        (
            "/layers/0/spikes/shape",
            serde_json::json!([4_294_967_296u64, 4_294_967_296u64]),
            "`1_LIF` spikes",
        ),
    ];
    for (pointer, shape, what) in cases {
        let mut broken = json.clone();
        *broken.pointer_mut(pointer).unwrap() = shape;
        std::fs::write(run.path().join("sample.json"), broken.to_string()).unwrap();
        let err = plot_run(run.path()).unwrap_err().to_string();
        assert!(
            err.contains("sample.json") && err.contains(what) && err.contains("has shape"),
            "{pointer}: {err}"
        );
    }
}

#[test]
fn losses_too_far_apart_for_an_axis_are_drawn_clamped() {
    // 1e308 and -1e308 are finite, but the axis between them spans more
    // than f64 holds; hand-edited values like these once stalled the plot.
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_run(dir.path());
    std::fs::write(
        run.history_path(),
        "epoch,loss,task_loss,penalty,seconds\n1,1e308,1e308,0,0\n2,-1e308,0,0,1\n",
    )
    .unwrap();
    let written = plot_run(run.path()).unwrap();
    assert!(
        names(&written).contains(&"loss.png".to_string()),
        "{written:?}"
    );
}

#[test]
fn bounds_cost_matches_rockpools_sweep() {
    // Rockpool: exp(lower - p) strictly below, exp(p - upper) strictly
    // above, 0 inside and exactly at a bound.
    assert_eq!(bounds_cost_value(0.5, 0.0, 1.0), 0.0);
    assert_eq!(bounds_cost_value(0.0, 0.0, 1.0), 0.0);
    assert_eq!(bounds_cost_value(1.0, 0.0, 1.0), 0.0);
    assert_eq!(bounds_cost_value(-1.0, 0.0, 1.0), 1.0f32.exp());
    assert_eq!(bounds_cost_value(1.5, 0.0, 1.0), 0.5f32.exp());
    assert!((bounds_cost_value(-1e-6, 0.0, 1.0) - 1.0).abs() < 1e-5);
    // Inverted bounds: both terms at once.
    assert_eq!(bounds_cost_value(0.5, 1.0, 0.0), 2.0 * 0.5f32.exp());
    assert_eq!(
        bounds_cost_value(3.0, f32::NEG_INFINITY, f32::INFINITY),
        0.0
    );
    let curve = bounds_cost_curve(0.0, 1.0, -1.0, 2.0, 1001);
    assert_eq!(curve.len(), 1001);
    assert_eq!(curve[0].0, -1.0);
    assert_eq!(curve[1000].0, 2.0);
    // The reference sweep (linspace(-1, 2, 31)) from Rockpool.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/bounds_cost_sweep_tutorial_jax.json");
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let xs = case["inputs"]["xs"]["data"].as_array().unwrap();
    let costs = case["expected"]["cost"]["data"].as_array().unwrap();
    assert_eq!(xs.len(), 31);
    assert_eq!(xs.len(), costs.len());
    for (x, c) in xs.iter().zip(costs) {
        let x = x.as_f64().unwrap() as f32;
        let expected = c.as_f64().unwrap() as f32;
        let got = bounds_cost_value(x, 0.0, 1.0);
        assert!(
            (got - expected).abs() <= 1e-6 * expected.abs().max(1.0),
            "x = {x}: {got} vs {expected}"
        );
    }
}
