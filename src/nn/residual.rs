//! `Residual`: a chain of sub-modules plus a skip connection,
//! `y = chain(x) + x`.

use super::sequential::check_chain;
use super::{name_modules, Attribute, Module, ModuleError, StepContext, Submodule};
use crate::tree::Path;
use neurojit_compiler::ir::Value;

/// `y = chain(x) + x`; the chain's input and output sizes must be equal.
///
/// ```
/// use neurojit::nn::{Lif, Linear, Module, Residual};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let res = Residual::new(vec![Linear::new(3, 3, &mut rng).boxed(), Lif::new(3).boxed()]).unwrap();
/// assert_eq!(res.shape(), (3, 3));
/// assert!(Residual::new(vec![Linear::new(3, 4, &mut rng).boxed()]).is_err());
/// ```
#[derive(Debug)]
pub struct Residual {
    subs: Vec<Submodule>,
    size: usize,
}

impl Residual {
    /// Wraps `modules` (named `{index}_{class}`) with a skip connection.
    pub fn new(modules: Vec<Box<dyn Module>>) -> Result<Residual, ModuleError> {
        Residual::from_submodules(name_modules(modules))
    }

    /// Like [`Residual::new`] with explicit names.
    pub fn named(modules: Vec<(String, Box<dyn Module>)>) -> Result<Residual, ModuleError> {
        Residual::from_submodules(
            modules
                .into_iter()
                .map(|(name, module)| Submodule { name, module })
                .collect(),
        )
    }

    pub fn from_submodules(subs: Vec<Submodule>) -> Result<Residual, ModuleError> {
        let (n_in, n_out) = check_chain(&subs, "Residual")?;
        if n_in != n_out {
            return Err(ModuleError::Config {
                module: Path::root(),
                message: format!(
                    "a Residual needs equal input and output sizes, but its modules map {n_in} to {n_out} channels"
                ),
            });
        }
        Ok(Residual { subs, size: n_in })
    }

    pub fn boxed(self) -> Box<dyn Module> {
        Box::new(self)
    }
}

impl Module for Residual {
    fn class_name(&self) -> &str {
        "Residual"
    }

    fn shape(&self) -> (usize, usize) {
        (self.size, self.size)
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
        ctx.build(|g| g.add(x, input))
    }
}
