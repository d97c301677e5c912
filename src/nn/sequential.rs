//! `Sequential`: sub-modules applied one after another.

use super::{name_modules, Attribute, Module, ModuleError, StepContext, Submodule};
use crate::tree::Path;
use neurojit_compiler::ir::Value;
use std::collections::HashSet;

/// A chain of modules; each one's `n_out` must equal the next one's `n_in`.
///
/// ```
/// use neurojit::nn::{Lif, Linear, Module, Sequential};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let net = Sequential::new(vec![Linear::new(2, 3, &mut rng).boxed(), Lif::new(3).boxed()]).unwrap();
/// assert_eq!(net.submodule_names(), vec!["0_Linear", "1_LIF"]);
/// assert_eq!(net.shape(), (2, 3));
/// ```
#[derive(Debug)]
pub struct Sequential {
    subs: Vec<Submodule>,
    shape: (usize, usize),
}

impl Sequential {
    /// Chains `modules`, naming them `{index}_{class}`.
    pub fn new(modules: Vec<Box<dyn Module>>) -> Result<Sequential, ModuleError> {
        Sequential::from_submodules(name_modules(modules))
    }

    /// Chains modules under explicit names.
    pub fn named(modules: Vec<(String, Box<dyn Module>)>) -> Result<Sequential, ModuleError> {
        Sequential::from_submodules(
            modules
                .into_iter()
                .map(|(name, module)| Submodule { name, module })
                .collect(),
        )
    }

    pub fn from_submodules(subs: Vec<Submodule>) -> Result<Sequential, ModuleError> {
        let shape = check_chain(&subs, "Sequential")?;
        Ok(Sequential { subs, shape })
    }

    pub fn boxed(self) -> Box<dyn Module> {
        Box::new(self)
    }
}

/// Checks that `subs` is non-empty, uniquely named (non-empty names
/// without `/`) and size-compatible; returns the chain's `(n_in, n_out)`.
pub(crate) fn check_chain(subs: &[Submodule], class: &str) -> Result<(usize, usize), ModuleError> {
    let (first, last) = match (subs.first(), subs.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => {
            return Err(ModuleError::Config {
                module: Path::root(),
                message: format!("a {class} needs at least one module"),
            })
        }
    };
    let mut names = HashSet::new();
    for sub in subs {
        // Paths join names with `/`: `x/y` would be the path of `y` inside `x`.
        if sub.name.is_empty() || sub.name.contains('/') {
            return Err(ModuleError::Config {
                module: Path::root(),
                message: format!(
                    "the name `{}` in this {class}: expected a non-empty name without `/`",
                    sub.name
                ),
            });
        }
        if !names.insert(sub.name.as_str()) {
            return Err(ModuleError::Config {
                module: Path::from([sub.name.as_str()]),
                message: format!("the name `{}` is used twice in this {class}", sub.name),
            });
        }
    }
    for pair in subs.windows(2) {
        let produced = pair[0].module.size_out();
        let expected = pair[1].module.size_in();
        if produced != expected {
            return Err(ModuleError::Config {
                module: Path::from([pair[1].name.as_str()]),
                message: format!(
                    "expects {expected} input channels but `{}` produces {produced}",
                    pair[0].name
                ),
            });
        }
    }
    Ok((first.module.size_in(), last.module.size_out()))
}

impl Module for Sequential {
    fn class_name(&self) -> &str {
        "Sequential"
    }

    fn shape(&self) -> (usize, usize) {
        self.shape
    }

    fn attributes(&self) -> &[Attribute] {
        &[]
    }

    fn attributes_mut(&mut self) -> &mut [Attribute] {
        &mut []
    }

    fn submodules(&self) -> &[Submodule] {
        &self.subs
    }

    fn submodules_mut(&mut self) -> &mut [Submodule] {
        &mut self.subs
    }

    fn step(&self, ctx: &mut StepContext<'_>, input: Value) -> Result<Value, ModuleError> {
        let mut x = input;
        for sub in &self.subs {
            x = ctx.call(sub, x)?;
        }
        Ok(x)
    }
}
