//! Automatic sub-module names, as Rockpool gives them: `{index}_{class}`,
//! numbered from 0 inside each container.

use super::{Module, Submodule};

/// The automatic name of the `index`-th sub-module of class `class`.
///
/// ```
/// assert_eq!(neurojit::nn::auto_name(2, "Residual"), "2_Residual");
/// ```
pub fn auto_name(index: usize, class: &str) -> String {
    format!("{index}_{class}")
}

/// Names `modules` automatically, in order.
pub fn name_modules(modules: Vec<Box<dyn Module>>) -> Vec<Submodule> {
    modules
        .into_iter()
        .enumerate()
        .map(|(i, module)| Submodule {
            name: auto_name(i, module.class_name()),
            module,
        })
        .collect()
}
