//! Spec files: the tutorial spec parses and validates; both layer syntaxes
//! give the same network; every kind of mistake is an error naming the
//! file, the line and what was expected.

use neurojit::spec::{
    self, parse_spec, Backend, BoundSelect, BoundValue, DataSpec, LayerSpec, LeakSpec, LossKind,
    OptimizerKind, Spec, SpecError,
};

fn parse(text: &str) -> Result<Spec, SpecError> {
    parse_spec(text, "test.toml")
}

/// Parses `text`, expecting an error; returns it.
fn parse_err(text: &str) -> SpecError {
    match parse(text) {
        Ok(spec) => panic!("expected an error, parsed {spec:#?}"),
        Err(e) => e,
    }
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle in text");
    text[..at].matches('\n').count() + 1
}

fn assert_error(text: &str, needle_line: &str, message_parts: &[&str]) {
    let err = parse_err(text);
    assert_eq!(err.file, "test.toml");
    assert_eq!(
        err.line,
        Some(line_of(text, needle_line)),
        "wrong line for error: {err}"
    );
    for part in message_parts {
        assert!(
            err.message.contains(part),
            "message `{}` lacks `{part}`",
            err.message
        );
    }
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("test.toml:{}:", err.line.unwrap())),
        "{shown}"
    );
}

const SMALL: &str = r#"
[network]
layers = [
    { type = "linear", shape = [2, 3] },
    { type = "lif", n = 3, leak_mode = "decays" },
    { type = "residual", layers = [
        { type = "linear", shape = [3, 3] },
        { type = "lif", n = 3, leak_mode = "decays" },
    ] },
    { type = "linear", shape = [3, 5] },
    { type = "lif", n = 5 },
]
"#;

#[test]
fn tutorial_spec_parses_and_validates() {
    let spec = spec::tutorial_spec().unwrap();
    assert_eq!(spec.network.n_in(), 16);
    assert_eq!(spec.network.n_out(), 2);
    assert!(matches!(spec.data, DataSpec::Tutorial(_)));
    assert_eq!(spec.loss.kind, LossKind::Mse);
    // The seed tutorial's Linear, LIF, Residual(Linear, LIF), Linear, LIF,
    // with a linear readout.
    let classes: Vec<&str> = spec
        .network
        .layers
        .iter()
        .map(LayerSpec::class_name)
        .collect();
    assert_eq!(
        classes,
        ["Linear", "LIF", "Residual", "Linear", "LIF", "Linear"]
    );
    // Both leak modes and every kind of bound selector appear.
    let families: Vec<&str> = spec.network.parameters().iter().map(|p| p.family).collect();
    assert!(families.contains(&"decays") && families.contains(&"taus"));
    let selects: Vec<&BoundSelect> = spec.bounds.iter().map(|b| &b.select).collect();
    assert!(selects.iter().any(|s| matches!(s, BoundSelect::Family(_))));
    assert!(selects
        .iter()
        .any(|s| matches!(s, BoundSelect::Attribute(_))));
    assert!(selects.iter().any(|s| matches!(s, BoundSelect::Path(_))));
}

#[test]
fn tutorial_spec_starts_some_parameters_outside_their_bounds() {
    let spec = spec::tutorial_spec().unwrap();
    let params = spec.network.parameters();
    let lifs = spec.network.lif_layers();
    let mut outside = Vec::new();
    for (param, bounds) in params.iter().zip(&spec.param_bounds) {
        assert_eq!(param.path, bounds.path);
        let Some((_, lif)) = lifs
            .iter()
            .find(|(p, _)| param.path.starts_with(&format!("{p}/")))
        else {
            continue; // weights are random: not checked here
        };
        let init = match (param.attribute, &lif.leak) {
            ("tau_mem", LeakSpec::Taus { tau_mem, .. }) => tau_mem,
            ("tau_syn", LeakSpec::Taus { tau_syn, .. }) => tau_syn,
            ("alpha", LeakSpec::Decays { alpha, .. }) => alpha,
            ("beta", LeakSpec::Decays { beta, .. }) => beta,
            ("bias", _) => &lif.bias,
            ("threshold", _) => &lif.threshold,
            _ => continue,
        };
        let values = init.to_elements(param.element_count());
        if values
            .iter()
            .enumerate()
            .any(|(i, &v)| v < bounds.lower.at(i) || v > bounds.upper.at(i))
        {
            outside.push(param.path.clone());
        }
    }
    assert!(
        outside.contains(&"1_LIF/alpha".to_string())
            && outside.contains(&"2_Residual/1_LIF/beta".to_string())
            && outside.contains(&"4_LIF/tau_mem".to_string()),
        "expected parameters outside their bounds, got {outside:?}"
    );
}

#[test]
fn parameter_paths_follow_rockpool_naming_and_order() {
    let spec = parse(SMALL).unwrap();
    let paths: Vec<String> = spec
        .network
        .parameters()
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(
        paths,
        [
            "0_Linear/weight",
            "1_LIF/alpha",
            "1_LIF/beta",
            "1_LIF/bias",
            "1_LIF/threshold",
            "2_Residual/0_Linear/weight",
            "2_Residual/1_LIF/alpha",
            "2_Residual/1_LIF/beta",
            "2_Residual/1_LIF/bias",
            "2_Residual/1_LIF/threshold",
            "3_Linear/weight",
            "4_LIF/tau_mem",
            "4_LIF/tau_syn",
            "4_LIF/bias",
            "4_LIF/threshold",
        ]
    );
    let shapes: Vec<Vec<usize>> = spec
        .network
        .parameters()
        .into_iter()
        .map(|p| p.shape)
        .collect();
    assert_eq!(shapes[0], [2, 3]);
    assert_eq!(shapes[12], [5, 1]);
}

#[test]
fn defaults_apply_to_absent_sections() {
    let spec = parse(SMALL).unwrap();
    assert_eq!(spec.optimizer.kind, OptimizerKind::Adam);
    assert_eq!(spec.optimizer.lr, 1e-3);
    assert_eq!(spec.training.batch, 8);
    assert_eq!(spec.training.t, 100);
    assert_eq!(spec.training.backend, Backend::Jit);
    assert_eq!(spec.loss.bounds_weight, 1.0);
    match &spec.data {
        DataSpec::Tutorial(task) => assert_eq!(task.samples, 8),
        other => panic!("expected the tutorial task, got {other:?}"),
    }
    let LayerSpec::Lif(lif) = &spec.network.layers[4] else {
        panic!()
    };
    assert_eq!(lif.dt, 1e-3);
    assert_eq!(lif.max_spikes_per_dt, 65536);
    // Without bounds every parameter is unbounded.
    assert!(spec
        .param_bounds
        .iter()
        .all(|b| b.lower == BoundValue::Scalar(f32::NEG_INFINITY)
            && b.upper == BoundValue::Scalar(f32::INFINITY)));
}

#[test]
fn table_array_syntax_gives_the_same_network() {
    let tables = r#"
[[network.layers]]
type = "linear"
shape = [2, 3]

[[network.layers]]
type = "lif"
n = 3
leak_mode = "decays"

[[network.layers]]
type = "residual"

[[network.layers.layers]]
type = "linear"
shape = [3, 3]

[[network.layers.layers]]
type = "lif"
n = 3
leak_mode = "decays"

[[network.layers]]
type = "linear"
shape = [3, 5]

[[network.layers]]
type = "lif"
n = 5
"#;
    assert_eq!(
        parse(tables).unwrap().network,
        parse(SMALL).unwrap().network
    );
}

#[test]
fn full_settings_are_read() {
    let text = format!(
        r#"{SMALL}
[[bounds]]
family = "taus"
lower = 0.0

[[bounds]]
path = "4_LIF/tau_syn"
upper = [0.1, 0.2, 0.3, 0.4, inf]

[[bounds]]
attribute = "threshold"
lower = -inf
upper = 2

[loss]
kind = "cross_entropy"
bounds_weight = 0.5

[optimizer]
kind = "sgd"
lr = 0.1
bounds_clip = true

[training]
batch = 4
T = 50
epochs = 3
seed = 7
backend = "interp"
threads = 2

[data]
path = "data.npz"
"#
    );
    let spec = parse(&text).unwrap();
    assert_eq!(spec.bounds.len(), 3);
    assert_eq!(spec.bounds[0].select, BoundSelect::Family("taus".into()));
    assert_eq!(spec.bounds[1].line, line_of(&text, "path = \"4_LIF") - 1);
    let tau_syn = spec
        .param_bounds
        .iter()
        .find(|b| b.path == "4_LIF/tau_syn")
        .unwrap();
    assert_eq!(tau_syn.lower, BoundValue::Scalar(0.0));
    assert_eq!(
        tau_syn.upper,
        BoundValue::PerElement(vec![0.1, 0.2, 0.3, 0.4, f32::INFINITY])
    );
    let thr = spec
        .param_bounds
        .iter()
        .find(|b| b.path == "1_LIF/threshold")
        .unwrap();
    assert_eq!(thr.upper, BoundValue::Scalar(2.0));
    assert_eq!(spec.loss.kind, LossKind::CrossEntropy);
    assert_eq!(spec.optimizer.kind, OptimizerKind::Sgd);
    assert!(spec.optimizer.bounds_clip);
    assert_eq!(
        (spec.training.batch, spec.training.t, spec.training.epochs),
        (4, 50, 3)
    );
    assert_eq!(spec.training.backend, Backend::Interp);
    assert_eq!(spec.data, DataSpec::File("data.npz".into()));
}

#[test]
fn later_bounds_entries_override_earlier_ones() {
    let text = format!(
        "{SMALL}\n[[bounds]]\nfamily = \"decays\"\nlower = 0.5\nupper = 1.0\n\
         [[bounds]]\npath = \"2_Residual\"\nlower = 0.1\n"
    );
    let spec = parse(&text).unwrap();
    let get = |p: &str| {
        spec.param_bounds
            .iter()
            .find(|b| b.path == p)
            .unwrap()
            .clone()
    };
    assert_eq!(get("1_LIF/alpha").lower, BoundValue::Scalar(0.5));
    assert_eq!(get("2_Residual/1_LIF/alpha").lower, BoundValue::Scalar(0.1));
    assert_eq!(get("2_Residual/1_LIF/alpha").upper, BoundValue::Scalar(1.0));
    // A path selects whole sub-trees: the residual's weight is bounded too.
    assert_eq!(
        get("2_Residual/0_Linear/weight").lower,
        BoundValue::Scalar(0.1)
    );
    assert_eq!(
        get("3_Linear/weight").lower,
        BoundValue::Scalar(f32::NEG_INFINITY)
    );
}

#[test]
fn initial_values_and_names_are_read() {
    let text = r#"
[network]
layers = [
    { type = "lif", shape = [4, 2], name = "input_lif", tau_mem = [0.01, 0.03],
      tau_syn = [[0.01, 0.02], [0.03, 0.04]], threshold = 2, bias = -0.5,
      recurrent = true, dt = 5e-4, noise_std = 0.1, max_spikes_per_dt = 1 },
]
"#;
    let spec = parse(text).unwrap();
    let LayerSpec::Lif(lif) = &spec.network.layers[0] else {
        panic!()
    };
    assert_eq!(lif.n_synapses(), 2);
    assert!(lif.recurrent);
    let LeakSpec::Taus { tau_mem, tau_syn } = &lif.leak else {
        panic!()
    };
    assert_eq!(tau_mem.data, [0.01, 0.03]);
    assert_eq!(tau_syn.shape, [2, 2]);
    assert_eq!(tau_syn.data, [0.01, 0.02, 0.03, 0.04]);
    assert_eq!(lif.threshold.to_elements(2), [2.0, 2.0]);
    assert_eq!(lif.bias.data, [-0.5]);
    let paths: Vec<String> = spec
        .network
        .parameters()
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(paths[0], "input_lif/w_rec");
}

// --- errors ---------------------------------------------------------------

#[test]
fn unknown_key_is_reported_with_its_line() {
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, tua_mem = 0.1 }",
    );
    assert_error(&text, "tua_mem", &["unknown field `tua_mem`", "tau_mem"]);
}

#[test]
fn unknown_section_key_is_reported() {
    let text = format!("{SMALL}\n[training]\nbatch = 2\nepoch = 10\n");
    assert_error(&text, "epoch =", &["unknown field `epoch`", "epochs"]);
}

#[test]
fn wrong_type_names_the_expectation() {
    let text = format!("{SMALL}\n[training]\nbatch = \"eight\"\n");
    assert_error(
        &text,
        "batch = ",
        &["invalid type", "expected a non-negative integer"],
    );
    let text = format!("{SMALL}\n[optimizer]\nlr = true\n");
    assert_error(&text, "lr = ", &["expected a number"]);
    let text = SMALL.replace("n = 5", "n = 5, tau_mem = \"fast\"");
    assert_error(
        &text,
        "tau_mem",
        &["expected a number or an array of numbers"],
    );
}

#[test]
fn missing_keys_are_errors() {
    assert_error(
        "[training]\nbatch = 2\n",
        "[training]",
        &["missing field `network`"],
    );
    let text = SMALL.replace(
        "{ type = \"linear\", shape = [3, 5] }",
        "{ type = \"linear\" }",
    );
    assert_error(&text, "{ type = \"linear\" }", &["missing key `shape`"]);
    let text = SMALL.replace("{ type = \"lif\", n = 5 }", "{ type = \"lif\" }");
    assert_error(&text, "{ type = \"lif\" }", &["missing key `n`"]);
    let text = SMALL.replace("{ type = \"lif\", n = 5 }", "{ n = 5 }");
    assert_error(&text, "{ n = 5 }", &["missing field `type`"]);
}

#[test]
fn unknown_layer_type_is_an_error() {
    let text = SMALL.replace("{ type = \"lif\", n = 5 }", "{ type = \"lfi\", n = 5 }");
    assert_error(&text, "lfi", &["unknown variant `lfi`", "`lif`"]);
}

#[test]
fn key_of_another_layer_type_is_an_error() {
    let text = SMALL.replace("shape = [3, 5] }", "shape = [3, 5], tau_mem = 0.1 }");
    assert_error(
        &text,
        "tau_mem",
        &["`tau_mem` is not a key of a linear layer", "3_Linear"],
    );
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, bias = true }",
    );
    assert_error(&text, "bias = true", &["initial bias"]);
    let text = SMALL.replace("shape = [3, 5] }", "shape = [3, 5], bias = 0.5 }");
    assert_error(&text, "bias = 0.5", &["true or false"]);
}

#[test]
fn leak_parameters_must_match_the_leak_mode() {
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, alpha = 0.9 }",
    );
    assert_error(&text, "alpha = 0.9", &["leak_mode = \"decays\""]);
    let text = SMALL.replacen(
        "leak_mode = \"decays\" }",
        "leak_mode = \"decays\", tau_syn = 0.01 }",
        1,
    );
    assert_error(&text, "tau_syn = 0.01", &["leak_mode = \"taus\""]);
}

#[test]
fn shapes_that_do_not_chain_are_errors() {
    let text = SMALL.replace("shape = [3, 5]", "shape = [4, 5]");
    assert_error(
        &text,
        "shape = [4, 5]",
        &[
            "`3_Linear` takes 4 inputs",
            "(`2_Residual`) gives 3 outputs",
        ],
    );
}

#[test]
fn lif_inputs_must_be_a_multiple_of_its_neurons() {
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", shape = [5, 2] }",
    );
    assert_error(&text, "shape = [5, 2]", &["multiple of n_out"]);
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", shape = [5, 5, 1] }",
    );
    assert_error(&text, "shape = [5, 5, 1]", &["2 sizes"]);
    let text = SMALL.replace("{ type = \"lif\", n = 5 }", "{ type = \"lif\", n = 0 }");
    assert_error(&text, "n = 0", &["n >= 1"]);
}

#[test]
fn residual_with_different_sizes_is_an_error() {
    let text = r#"
[network]
layers = [
    { type = "residual", layers = [
        { type = "linear", shape = [3, 4] },
    ] },
]
"#;
    assert_error(
        text,
        "{ type = \"residual\"",
        &["residual `0_Residual` maps 3 inputs to 4 outputs"],
    );
    let empty = "[network]\nlayers = [ { type = \"sequential\", layers = [] } ]\n";
    assert_error(empty, "layers = []", &["no layers"]);
}

#[test]
fn non_positive_dt_and_time_constants_are_errors() {
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, dt = 0.0 }",
    );
    assert_error(&text, "dt = 0.0", &["positive timestep"]);
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, tau_mem = -0.02 }",
    );
    assert_error(
        &text,
        "tau_mem",
        &["4_LIF/tau_mem", "positive time constant"],
    );
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, tau_syn = [0.02, 0.02, 0.0, 0.02, 0.02] }",
    );
    assert_error(&text, "tau_syn", &["element 2", "positive time constant"]);
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, threshold = 0 }",
    );
    assert_error(&text, "threshold", &["positive threshold"]);
}

#[test]
fn decays_outside_the_unit_interval_are_errors() {
    let text = SMALL.replacen(
        "leak_mode = \"decays\" }",
        "leak_mode = \"decays\", alpha = 1.0 }",
        1,
    );
    assert_error(
        &text,
        "alpha = 1.0",
        &["1_LIF/alpha", "strictly between 0 and 1"],
    );
    let text = SMALL.replacen(
        "leak_mode = \"decays\" }",
        "leak_mode = \"decays\", beta = 0 }",
        1,
    );
    assert_error(&text, "beta = 0", &["strictly between 0 and 1"]);
}

#[test]
fn wrong_number_of_initial_values_is_an_error() {
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, bias = [1, 2] }",
    );
    assert_error(
        &text,
        "bias = [1, 2]",
        &["4_LIF/bias", "shape [5]", "5 numbers"],
    );
    // As many values as elements, but nested in another shape: refused, not
    // silently reshaped (a [4, 2] tau_syn written as its transpose).
    let synapses = "[network]\nlayers = [ { type = \"lif\", shape = [8, 4], \
                    tau_syn = [[1, 2, 3, 4], [5, 6, 7, 8]] } ]\n";
    assert_error(
        synapses,
        "tau_syn = ",
        &[
            "0_LIF/tau_syn",
            "shape [4, 2]",
            "got an array of shape [2, 4]",
        ],
    );
    let flat = synapses.replace("[[1, 2, 3, 4], [5, 6, 7, 8]]", "[1, 2, 3, 4, 5, 6, 7, 8]");
    assert!(parse(&flat).is_ok());
    let nested = synapses.replace(
        "[[1, 2, 3, 4], [5, 6, 7, 8]]",
        "[[1, 2], [3, 4], [5, 6], [7, 8]]",
    );
    assert!(parse(&nested).is_ok());
    let row = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, bias = [[1, 2, 3, 4, 5]] }",
    );
    assert_error(
        &row,
        "bias = [[",
        &["4_LIF/bias", "got an array of shape [1, 5]"],
    );
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, bias = [[1, 2], [3]] }",
    );
    assert_error(&text, "bias = [[1, 2], [3]]", &["differ in length"]);
}

#[test]
fn bounds_errors_name_the_entry_line() {
    let lower_above_upper =
        format!("{SMALL}\n[[bounds]]\nfamily = \"decays\"\nlower = 0.8\nupper = 0.2\n");
    assert_error(
        &lower_above_upper,
        "lower = 0.8",
        &["lower 0.8 > upper 0.2", "1_LIF/alpha"],
    );
    // Across entries: the later entry is the one reported.
    let across = format!(
        "{SMALL}\n[[bounds]]\nfamily = \"taus\"\nupper = 0.1\n\n[[bounds]]\nattribute = \"tau_mem\"\nlower = 0.5\n"
    );
    assert_error(
        &across,
        "lower = 0.5",
        &["4_LIF/tau_mem", "lower 0.5 > upper 0.1"],
    );
    let missing_path = format!("{SMALL}\n[[bounds]]\npath = \"9_LIF/tau_mem\"\nlower = 0.0\n");
    assert_error(
        &missing_path,
        "path = \"9_LIF",
        &["no parameter or module at path `9_LIF/tau_mem`"],
    );
    let unknown_family = format!("{SMALL}\n[[bounds]]\nfamily = \"tau\"\nlower = 0.0\n");
    assert_error(
        &unknown_family,
        "family = \"tau\"",
        &["unknown family `tau`", "taus"],
    );
    let two_selectors =
        format!("{SMALL}\n[[bounds]]\nfamily = \"taus\"\npath = \"4_LIF\"\nlower = 0.0\n");
    assert_error(
        &two_selectors,
        "path = \"4_LIF\"",
        &["exactly one selector"],
    );
    let no_value = format!("{SMALL}\n[[bounds]]\nfamily = \"taus\"\n");
    assert_error(&no_value, "[[bounds]]", &["sets nothing"]);
    let wrong_len = format!("{SMALL}\n[[bounds]]\npath = \"4_LIF/tau_mem\"\nlower = [0.0, 0.0]\n");
    assert_error(
        &wrong_len,
        "lower = [0.0",
        &["shape [2]", "4_LIF/tau_mem", "5 values"],
    );
    let transposed = "[network]\nlayers = [ { type = \"lif\", shape = [8, 4] } ]\n\
                      [[bounds]]\nattribute = \"tau_syn\"\nlower = [[1, 2, 3, 4], [5, 6, 7, 8]]\n";
    assert_error(
        transposed,
        "lower = [[",
        &["shape [2, 4]", "0_LIF/tau_syn", "shape [4, 2]"],
    );
    // tau_syn does not exist in leak mode "decays" (as in Rockpool).
    let decays_only = "[network]\nlayers = [ { type = \"lif\", n = 2, leak_mode = \"decays\" } ]\n\
                       [[bounds]]\nattribute = \"tau_syn\"\nupper = 0.5\n";
    assert_error(
        decays_only,
        "attribute = ",
        &["no parameter of the network is named `tau_syn`"],
    );
}

#[test]
fn duplicate_and_malformed_names_are_errors() {
    let text = "[network]\nlayers = [\n { type = \"lif\", n = 2, name = \"a\" },\n { type = \"lif\", n = 2, name = \"a\" },\n]\n";
    let err = parse_err(text);
    assert_eq!(err.line, Some(4));
    assert!(err.message.contains("key `a`"), "{err}");
    let slash = "[network]\nlayers = [ { type = \"lif\", n = 2, name = \"a/b\" } ]\n";
    assert_error(slash, "name = ", &["without `/`"]);
}

#[test]
fn settings_out_of_range_are_errors() {
    let cases = [
        ("[optimizer]\nlr = 0.0\n", "lr = ", "positive learning rate"),
        ("[optimizer]\nb2 = 1.0\n", "b2 = ", "[0, 1)"),
        (
            "[optimizer]\nkind = \"sgd\"\nb1 = 0.9\n",
            "b1 = ",
            "Adam setting",
        ),
        ("[loss]\nbounds_weight = -1\n", "bounds_weight", ">= 0"),
        (
            "[loss]\nkind = \"mae\"\n",
            "kind = ",
            "unknown variant `mae`",
        ),
        ("[training]\nT = 0\n", "T = 0", "at least 1"),
        (
            "[training]\nbackend = \"gpu\"\n",
            "backend = ",
            "unknown variant `gpu`",
        ),
        (
            "[data]\npath = \"x.npz\"\nbuiltin = \"tutorial\"\n",
            "builtin = ",
            "both `path` and `builtin`",
        ),
        (
            "[data]\npath = \"x.npz\"\nsamples = 3\n",
            "samples = ",
            "expected no `samples`",
        ),
        (
            "[data]\nbuiltin = \"tutorial\"\ninput_prob = 1.5\n",
            "input_prob",
            "probability",
        ),
        (
            "[data]\nbuiltin = \"mnist\"\n",
            "builtin = ",
            "unknown variant `mnist`",
        ),
    ];
    for (section, needle, expected) in cases {
        let text = format!("{SMALL}\n{section}");
        assert_error(&text, needle, &[expected]);
    }
}

#[test]
fn syntax_errors_are_located() {
    let text = "[network]\nlayers = [ { type = \"lif\" n = 2 } ]\n";
    let err = parse_err(text);
    assert_eq!(err.line, Some(2));
    assert!(err.excerpt.as_deref().unwrap_or("").contains("^"), "{err}");
}

#[test]
fn load_spec_reads_files_and_resolves_data_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.toml");
    std::fs::write(&path, format!("{SMALL}\n[data]\npath = \"sub/data.npz\"\n")).unwrap();
    let spec = spec::load_spec(&path).unwrap();
    assert_eq!(spec.data, DataSpec::File(dir.path().join("sub/data.npz")));

    let missing = dir.path().join("missing.toml");
    let err = spec::load_spec(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.toml"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[network]\nlayers = []\n").unwrap();
    let err = spec::load_spec(&bad).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2:", bad.display())),
        "{err}"
    );
}

#[test]
fn layers_too_large_for_a_buffer_are_errors_not_overflows() {
    // 2^32 x 2^32 overflows 64-bit sizes: the error still names the matrix.
    let text = SMALL.replace("shape = [3, 5]", "shape = [4294967296, 4294967296]");
    assert_error(
        &text,
        "shape = [4294967296, 4294967296]",
        &["`3_Linear`", "4294967296 x 4294967296", "expected at most"],
    );
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 100000, recurrent = true }",
    );
    assert_error(
        &text,
        "n = 100000",
        &["`4_LIF`", "recurrent weights", "100000 x 100000"],
    );
}

#[test]
fn a_top_level_layer_may_not_take_the_checkpoints_optimizer_prefix() {
    let text = SMALL.replace(
        "{ type = \"linear\", shape = [2, 3] }",
        "{ type = \"linear\", shape = [2, 3], name = \"optimizer\" }",
    );
    assert_error(
        &text,
        "name = \"optimizer\"",
        &["`optimizer`", "optimiser's state"],
    );
    // Inside a container the name is harmless: its path does not start there.
    let text = SMALL.replace(
        "{ type = \"linear\", shape = [3, 3] }",
        "{ type = \"linear\", shape = [3, 3], name = \"optimizer\" }",
    );
    assert!(text.contains("name = \"optimizer\""));
    assert!(parse(&text).is_ok());
}

#[test]
fn numbers_beyond_f32_are_reported_as_such() {
    let text = SMALL.replace(
        "{ type = \"lif\", n = 5 }",
        "{ type = \"lif\", n = 5, tau_mem = 1e300 }",
    );
    assert_error(
        &text,
        "tau_mem = 1e300",
        &["is 1e300 (beyond f32's range", "positive time constant"],
    );
    let text = format!("{SMALL}\n[optimizer]\nkind = \"adam\"\nlr = 1e300\n");
    assert_error(
        &text,
        "lr = 1e300",
        &["`lr` is 1e300", "expected a finite number"],
    );
    // Valid as written, invalid as the f32 the optimiser runs with.
    let text = format!("{SMALL}\n[optimizer]\nkind = \"adam\"\nlr = 1e-50\n");
    assert_error(
        &text,
        "lr = 1e-50",
        &["0 in the network", "positive learning rate"],
    );
    let text = format!("{SMALL}\n[optimizer]\nkind = \"adam\"\nb1 = 0.99999999999\n");
    assert_error(&text, "b1 = 0.99999999999", &["(1 in f32)", "in [0, 1)"]);
}

#[test]
fn bounds_that_no_value_satisfies_are_errors() {
    for (key, value, other) in [("lower", "inf", "-inf"), ("upper", "-1e300", "inf")] {
        let text = format!("{SMALL}\n[[bounds]]\nfamily = \"taus\"\n{key} = {value}\n");
        assert_error(
            &text,
            &format!("{key} = {value}"),
            &[
                &format!("`{key}` is"),
                &format!("or {other} for no {key} bound"),
            ],
        );
    }
}

#[test]
fn a_spec_file_beyond_the_text_limit_is_refused_not_read_whole() {
    // Reading stops at the limit, so a path such as /dev/zero cannot
    // exhaust memory. A sparse file one byte past the limit stands in.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.toml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(neurojit::text_file::MAX_TEXT_BYTES + 1)
        .unwrap();
    let err = spec::load_spec(&path).unwrap_err().to_string();
    assert!(
        err.contains("huge.toml") && err.contains("too large for a text input"),
        "{err}"
    );
}

/// The spec README.md shows is the one `neurojit init` writes (with fewer
/// comments), so the two cannot drift apart.
#[test]
fn the_readme_spec_is_the_tutorial_spec() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("```toml\n[network]")
        .expect("README.md shows a spec")
        + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("the block ends");
    let mut shown = parse_spec(&readme[start..end], "README.md").unwrap();
    let mut written = spec::tutorial_spec().unwrap();
    // Bounds remember their line for errors; comments move the lines.
    for bound in shown.bounds.iter_mut().chain(written.bounds.iter_mut()) {
        bound.line = 0;
    }
    assert_eq!(shown, written);
}
