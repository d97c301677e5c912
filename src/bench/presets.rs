//! The benchmark presets. Each is a Sequential of Linear and LIF layers
//! with LIF defaults (taus mode, tau 20 ms, dt 1 ms, threshold 1), trained
//! on standard-normal input currents against targets uniform in [0, 1) with
//! mse + bounds_cost (lower bound 0 on every "taus" parameter) and Adam at
//! lr 1e-3. Data and weights come from a fixed seed.

use crate::bounds::{make_bounds, Bound};
use crate::nn::{family, Lif, Linear, Module, ModuleError, Sequential};
use crate::trace::{BoundsPenalty, TraceOptions};
use crate::tree::set_matching;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// One layer of a preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetLayer {
    Linear(usize, usize),
    Lif { n: usize, recurrent: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub layers: &'static [PresetLayer],
    pub batch: usize,
    pub steps: usize,
}

use PresetLayer::{Lif as N, Linear as L};

pub const PRESETS: [Preset; 4] = [
    Preset {
        name: "tiny",
        layers: &[
            L(2, 3),
            N {
                n: 3,
                recurrent: false,
            },
            L(3, 3),
            N {
                n: 3,
                recurrent: false,
            },
            L(3, 5),
            N {
                n: 5,
                recurrent: false,
            },
        ],
        batch: 1,
        steps: 100,
    },
    Preset {
        name: "small",
        layers: &[
            L(16, 64),
            N {
                n: 64,
                recurrent: false,
            },
            L(64, 10),
            N {
                n: 10,
                recurrent: false,
            },
        ],
        batch: 16,
        steps: 100,
    },
    Preset {
        name: "medium",
        layers: &[
            L(64, 256),
            N {
                n: 256,
                recurrent: false,
            },
            L(256, 256),
            N {
                n: 256,
                recurrent: false,
            },
            L(256, 10),
            N {
                n: 10,
                recurrent: false,
            },
        ],
        batch: 32,
        steps: 200,
    },
    Preset {
        name: "recurrent",
        layers: &[
            L(32, 128),
            N {
                n: 128,
                recurrent: true,
            },
            L(128, 10),
            N {
                n: 10,
                recurrent: false,
            },
        ],
        batch: 16,
        steps: 200,
    },
];

impl Preset {
    pub fn named(name: &str) -> Option<Preset> {
        PRESETS.iter().copied().find(|p| p.name == name)
    }

    /// Input channels; 0 for a preset without layers.
    pub fn n_in(&self) -> usize {
        match self.layers.first() {
            Some(PresetLayer::Linear(i, _)) => *i,
            Some(PresetLayer::Lif { n, .. }) => *n,
            None => 0,
        }
    }

    /// Output channels; 0 for a preset without layers.
    pub fn n_out(&self) -> usize {
        match self.layers.last() {
            Some(PresetLayer::Linear(_, o)) => *o,
            Some(PresetLayer::Lif { n, .. }) => *n,
            None => 0,
        }
    }

    /// The network, with weights drawn from `seed`.
    pub fn network(&self, seed: u64) -> Result<Sequential, ModuleError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let layers = self
            .layers
            .iter()
            .map(|layer| match *layer {
                PresetLayer::Linear(i, o) => Linear::new(i, o, &mut rng).boxed(),
                PresetLayer::Lif { n, recurrent } => {
                    let lif = Lif::new(n);
                    if recurrent {
                        lif.recurrent(&mut rng).boxed()
                    } else {
                        lif.boxed()
                    }
                }
            })
            .collect();
        Sequential::new(layers)
    }

    /// mse + bounds_cost with lower bound 0 on every "taus" parameter.
    pub fn trace_options(&self, network: &dyn Module) -> TraceOptions {
        let params = network.parameters();
        let (lower, upper) = make_bounds(&params);
        let taus = network.parameters_of(&[family::TAUS]);
        let lower = set_matching(&lower, &taus, Bound::Scalar(0.0))
            .expect("the taus are a sub-tree of the parameters");
        let mut options = TraceOptions::new(self.batch, self.steps);
        options.bounds = Some(BoundsPenalty {
            lower,
            upper,
            weight: 1.0,
        });
        options
    }

    /// Input currents (standard normal) and targets (uniform in [0, 1)),
    /// batch-major.
    pub fn data(&self, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let inputs = (0..self.batch * self.steps * self.n_in())
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect();
        let targets = (0..self.batch * self.steps * self.n_out())
            .map(|_| rng.random_range(0.0..1.0))
            .collect();
        (inputs, targets)
    }
}
