//! The module API on the constrained-optimisation tutorial's network:
//! automatic names, parameter order, family and name queries, bounds
//! configuration and printing, and the errors for mismatched shapes.

use neurojit::bounds::{make_bounds, Bound};
use neurojit::nn::{describe, LeakMode, Lif, Linear, Module, ModuleError, Residual, Sequential};
use neurojit::tree::{set_matching, Path, Tensor, Tree};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The tutorial's torch network: two decays LIF layers (one inside a
/// Residual) and a taus LIF layer.
fn tutorial_network() -> Sequential {
    let mut rng = StdRng::seed_from_u64(7);
    Sequential::new(vec![
        Linear::new(2, 3, &mut rng).boxed(),
        Lif::new(3).leak_mode(LeakMode::Decays).boxed(),
        Residual::new(vec![
            Linear::new(3, 3, &mut rng).boxed(),
            Lif::new(3).leak_mode(LeakMode::Decays).boxed(),
        ])
        .unwrap()
        .boxed(),
        Linear::new(3, 5, &mut rng).boxed(),
        Lif::new(5).boxed(),
    ])
    .unwrap()
}

fn paths<L>(tree: &Tree<L>) -> Vec<String> {
    tree.branches().iter().map(Path::joined).collect()
}

#[test]
fn submodules_are_named_by_index_and_class() {
    let net = tutorial_network();
    assert_eq!(
        net.submodule_names(),
        vec!["0_Linear", "1_LIF", "2_Residual", "3_Linear", "4_LIF"]
    );
    assert_eq!(net.shape(), (2, 5));
    assert_eq!(
        describe(&net).lines().take(4).collect::<Vec<_>>(),
        vec![
            "Sequential with shape (2, 5) {",
            "    Linear '0_Linear' with shape (2, 3)",
            "    LIF '1_LIF' with shape (3, 3)",
            "    Residual '2_Residual' with shape (3, 3) {",
        ]
    );
}

#[test]
fn parameters_follow_registration_order() {
    let net = tutorial_network();
    assert_eq!(
        paths(&net.parameters()),
        vec![
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
    let info = net.parameter_info();
    assert_eq!(info[2].shape.dims(), &[3, 1]);
    assert_eq!(info[4].family.as_deref(), Some("thresholds"));
}

#[test]
fn family_queries_keep_matching_modules_only() {
    let net = tutorial_network();
    assert_eq!(
        paths(&net.parameters_of(&["taus"])),
        vec!["4_LIF/tau_mem", "4_LIF/tau_syn"]
    );
    assert_eq!(
        net.parameters_of(&["taus"]).keys().collect::<Vec<_>>(),
        vec!["4_LIF"]
    );
    assert!(net.parameters_of(&["bitshifts"]).is_empty());
    // With several families each module lists the last family's matches first.
    assert_eq!(
        paths(&net.parameters_of(&["taus", "bias"])),
        vec![
            "1_LIF/bias",
            "2_Residual/1_LIF/bias",
            "4_LIF/bias",
            "4_LIF/tau_mem",
            "4_LIF/tau_syn"
        ]
    );
    // Decays-mode LIFs have no tau attributes at all.
    assert_eq!(
        paths(&net.attributes_named(&["tau_syn"])),
        vec!["4_LIF/tau_syn"]
    );
    // attributes_named also sees states and simulation parameters.
    assert_eq!(
        paths(&net.attributes_named(&["dt"])),
        vec!["1_LIF/dt", "2_Residual/1_LIF/dt", "4_LIF/dt"]
    );
    assert_eq!(
        net.state()
            .get_nested(&Path::from(["4_LIF", "isyn"]))
            .unwrap()
            .shape()
            .dims(),
        &[5, 1]
    );
}

#[test]
fn tutorial_bounds_print_like_rockpool() {
    let net = tutorial_network();
    let (lb, ub) = make_bounds(&net.parameters());
    let lb = set_matching(&lb, &net.parameters_of(&["decays"]), Bound::from(0.5)).unwrap();
    let lb = set_matching(&lb, &net.parameters_of(&["taus"]), Bound::from(0.0)).unwrap();
    let ub = set_matching(&ub, &net.parameters_of(&["decays"]), Bound::from(1.0)).unwrap();
    let ub = set_matching(&ub, &net.attributes_named(&["tau_syn"]), Bound::from(0.5)).unwrap();
    assert_eq!(
        lb.to_string(),
        "{
    '0_Linear': {'weight': -inf},
    '1_LIF': {'alpha': 0.5, 'beta': 0.5, 'bias': -inf, 'threshold': -inf},
    '2_Residual': {
        '0_Linear': {'weight': -inf},
        '1_LIF': {'alpha': 0.5, 'beta': 0.5, 'bias': -inf, 'threshold': -inf}
    },
    '3_Linear': {'weight': -inf},
    '4_LIF': {'tau_mem': 0.0, 'tau_syn': 0.0, 'bias': -inf, 'threshold': -inf}
}"
    );
    assert_eq!(
        ub.get_nested(&Path::from(["4_LIF", "tau_syn"])).unwrap(),
        &Bound::Scalar(0.5)
    );
}

#[test]
fn mismatched_sizes_name_the_module() {
    let mut rng = StdRng::seed_from_u64(0);
    let err = Sequential::new(vec![
        Linear::new(2, 3, &mut rng).boxed(),
        Lif::new(4).boxed(),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("1_LIF") && text.contains("4") && text.contains("3"),
        "{text}"
    );
    let err = Residual::new(vec![Linear::new(3, 4, &mut rng).boxed()]).unwrap_err();
    assert!(err.to_string().contains("3 to 4"), "{err}");
    assert!(Lif::from_shape(7, 3).is_err());
    assert_eq!(Lif::from_shape(6, 3).unwrap().n_synapses(), 2);
}

#[test]
fn set_attributes_checks_paths_and_shapes() {
    let mut net = tutorial_network();
    let mut values = Tree::new();
    values
        .insert_at(&Path::from(["4_LIF", "tau_mem"]), Tensor::full([5], 0.03))
        .unwrap();
    net.set_attributes(&values).unwrap();
    assert_eq!(
        net.parameters()
            .get_nested(&Path::from(["4_LIF", "tau_mem"]))
            .unwrap()
            .data(),
        &[0.03; 5]
    );

    let mut wrong_shape = Tree::new();
    wrong_shape
        .insert_at(&Path::from(["4_LIF", "tau_mem"]), Tensor::full([4], 0.03))
        .unwrap();
    match net.set_attributes(&wrong_shape).unwrap_err() {
        ModuleError::AttributeShape {
            path,
            expected,
            got,
        } => {
            assert_eq!(path, Path::from(["4_LIF", "tau_mem"]));
            assert_eq!((expected.dims(), got.dims()), (&[5][..], &[4][..]));
        }
        other => panic!("unexpected error {other}"),
    }
    let mut unknown = Tree::new();
    unknown
        .insert_at(
            &Path::from(["2_Residual", "1_LIF", "tau_mem"]),
            Tensor::full([3], 0.03),
        )
        .unwrap();
    let err = net.set_attributes(&unknown).unwrap_err();
    assert_eq!(
        err,
        ModuleError::UnknownAttribute {
            path: Path::from(["2_Residual", "1_LIF", "tau_mem"])
        }
    );
}

#[test]
fn recurrent_lif_puts_w_rec_first() {
    let mut rng = StdRng::seed_from_u64(3);
    let lif = Lif::with_synapses(3, 2).recurrent(&mut rng);
    assert_eq!(lif.shape(), (6, 3));
    assert_eq!(
        lif.parameters().keys().collect::<Vec<_>>(),
        vec!["w_rec", "tau_mem", "tau_syn", "bias", "threshold"]
    );
    assert_eq!(paths(&lif.parameters_of(&["weights"])), vec!["w_rec"]);
    // Switching the leak mode keeps the recurrent weights.
    let decays = lif.leak_mode(LeakMode::Decays);
    assert_eq!(
        decays.parameters().keys().collect::<Vec<_>>(),
        vec!["w_rec", "alpha", "beta", "bias", "threshold"]
    );
}

#[test]
fn negative_time_constants_are_rejected_when_tracing() {
    use neurojit::trace::{trace, TraceOptions};
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Sequential::new(vec![
        Linear::new(2, 3, &mut rng).boxed(),
        Lif::new(3).boxed(),
    ])
    .unwrap();
    let mut values = Tree::new();
    values
        .insert_at(
            &Path::from(["1_LIF", "tau_syn"]),
            Tensor::new([3, 1], vec![0.02, -0.01, 0.02]).unwrap(),
        )
        .unwrap();
    net.set_attributes(&values).unwrap();
    let err = trace(&net, &TraceOptions::new(1, 5))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "1_LIF: `tau_syn` (element 1) is -0.01: expected a positive time constant"
    );
}

#[test]
fn submodule_names_must_not_be_paths_and_sizes_must_fit() {
    let mut rng = StdRng::seed_from_u64(0);
    for name in ["a/b", ""] {
        let net = Sequential::named(vec![
            ("x".into(), Linear::new(2, 2, &mut rng).boxed()),
            (name.into(), Linear::new(2, 2, &mut rng).boxed()),
        ]);
        let err = net.expect_err("refused").to_string();
        assert!(
            err.contains("expected a non-empty name without `/`"),
            "{err}"
        );
    }
    let err = Lif::from_shape(usize::MAX, 1)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("18446744073709551615"), "{err}");
    assert!(Lif::from_shape(6, 3).is_ok());
}
