//! Spec files: a network, its bounds, loss, optimiser, training settings
//! and data, described in TOML (reference: `docs/spec-format.md`).
//!
//! ```
//! let spec = neurojit::spec::parse_spec(
//!     r#"
//!     [network]
//!     layers = [
//!         { type = "linear", shape = [2, 3] },
//!         { type = "lif", n = 3, leak_mode = "decays" },
//!     ]
//!
//!     [[bounds]]
//!     family = "decays"
//!     lower = 0.5
//!     upper = 1.0
//!     "#,
//!     "example.toml",
//! )
//! .unwrap();
//! assert_eq!(spec.network.n_out(), 3);
//! assert_eq!(spec.network.parameters()[1].path, "1_LIF/alpha");
//! ```
//!
//! Parsing goes in two steps: the `toml` crate reads the file into the
//! span-carrying structs of `raw` (rejecting unknown keys and wrong types),
//! then `network`, `bounds` and `settings` turn those into the plain data
//! below, checking everything a well-typed file can still get wrong
//! (impossible shapes, lower > upper, non-positive time constants, ...).
//! Every problem is a [`SpecError`] naming the file, the line and what was
//! expected; nothing panics and no key is silently ignored.

mod bounds;
mod error;
mod network;
mod number;
mod raw;
mod settings;
mod values;

pub use bounds::{BoundSelect, BoundSpec, BoundValue, ParamBounds, FAMILIES};
pub use error::SpecError;
pub use network::{
    ContainerSpec, InitValue, LayerSpec, LeakSpec, LifSpec, LinearSpec, NetworkSpec, ParamSpec,
    DEFAULT_DECAY, DEFAULT_DT, DEFAULT_MAX_SPIKES_PER_DT, DEFAULT_TAU,
};
pub use settings::{
    Backend, DataSpec, LossKind, LossSpec, OptimizerKind, OptimizerSpec, TrainingSpec,
    TutorialTaskSpec, DEFAULT_INPUT_PROB,
};

use error::Source;
use std::path::Path;

/// The tutorial network of Rockpool's constrained-optimisation guide as a
/// commented spec: what `neurojit init` writes and what `neurojit train`
/// uses when given no spec.
pub const TUTORIAL_SPEC: &str = include_str!("tutorial.toml");

/// The label used in errors about [`TUTORIAL_SPEC`].
pub const TUTORIAL_SPEC_NAME: &str = "<built-in tutorial spec>";

/// A parsed and validated spec file.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub network: NetworkSpec,
    /// The `[[bounds]]` entries, in file order.
    pub bounds: Vec<BoundSpec>,
    /// The resulting bounds of every parameter, in parameter order
    /// (infinite where no entry applies).
    pub param_bounds: Vec<ParamBounds>,
    pub loss: LossSpec,
    pub optimizer: OptimizerSpec,
    pub training: TrainingSpec,
    pub data: DataSpec,
}

/// Parses and validates spec text. `file` names the text in errors; a
/// relative `[data] path` is kept as written.
pub fn parse_spec(text: &str, file: &str) -> Result<Spec, SpecError> {
    let src = Source { file, text };
    let raw: raw::RawSpec = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let network = network::convert_network(&src, &raw.network)?;
    let params = network.parameters();
    let (bounds, param_bounds) = bounds::convert_bounds(&src, &raw.bounds, &params)?;
    let loss = settings::convert_loss(&src, raw.loss.as_ref())?;
    let optimizer = settings::convert_optimizer(&src, raw.optimizer.as_ref())?;
    let training = settings::convert_training(&src, raw.training.as_ref())?;
    let data = settings::convert_data(&src, raw.data.as_ref(), &training)?;
    Ok(Spec {
        network,
        bounds,
        param_bounds,
        loss,
        optimizer,
        training,
        data,
    })
}

/// Reads, parses and validates a spec file. A relative `[data] path` is
/// resolved against the directory of the spec file.
pub fn load_spec(path: &Path) -> Result<Spec, SpecError> {
    Ok(load_spec_with_text(path)?.0)
}

/// [`load_spec`], also returning the file's text as read (what a run
/// folder keeps a copy of).
pub fn load_spec_with_text(path: &Path) -> Result<(Spec, String), SpecError> {
    let file = path.display().to_string();
    let text = crate::text_file::read_text(path).map_err(|e| SpecError {
        file: file.clone(),
        line: None,
        column: None,
        message: format!("cannot read the spec file: {e}"),
        excerpt: None,
    })?;
    let mut spec = parse_spec(&text, &file)?;
    if let DataSpec::File(data_path) = &mut spec.data {
        if data_path.is_relative() {
            if let Some(dir) = path.parent() {
                *data_path = dir.join(&*data_path);
            }
        }
    }
    Ok((spec, text))
}

/// The tutorial spec, parsed (it is tested to parse and validate).
pub fn tutorial_spec() -> Result<Spec, SpecError> {
    parse_spec(TUTORIAL_SPEC, TUTORIAL_SPEC_NAME)
}
