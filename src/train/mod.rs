//! Training: a network and its loss, compiled once, then trained with
//! forward + backward-through-time + optimiser steps on the runtime.
//!
//! ```no_run
//! use neurojit::nn::{Lif, Linear, Module, Sequential};
//! use neurojit::optim::Adam;
//! use neurojit::trace::TraceOptions;
//! use neurojit::train::{Trainer, TrainerOptions};
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let net = Sequential::new(vec![
//!     Linear::new(2, 3, &mut rng).boxed(),
//!     Lif::new(3).boxed(),
//! ]).unwrap();
//! let options = TraceOptions::new(4, 50);
//! let mut trainer = Trainer::new(&net, &options, Box::new(Adam::new(1e-3)), None,
//!     &TrainerOptions::default()).unwrap();
//! trainer.set_data(&vec![0.5; 4 * 50 * 2], &vec![0.0; 4 * 50 * 3]).unwrap();
//! let loss = trainer.step().unwrap();
//! println!("task {} penalty {}", loss.task, loss.penalty);
//! ```

mod from_spec;
mod sample;
mod trainer;

pub use from_spec::{bounds_trees, build_network, experiment, Experiment, SetupError};
pub use sample::record_sample;
pub use trainer::{TrainError, Trainer, TrainerOptions};
