//! Names in a module tree: the automatic sub-module names Rockpool gives,
//! `{index}_{class}` numbered from 0 inside each container, and the check
//! every attribute and sub-module name passes before tracing.

use super::{Module, ModuleError, Submodule};

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

/// Checks the names a module tree gives its attributes and sub-modules:
/// each is a key of the parameter tree, so it must be non-empty, free of
/// `/` (the path separator) and distinct within its module — otherwise
/// one would hide another or split into a path that does not exist.
pub fn check_names(module: &dyn Module, path: &crate::tree::Path) -> Result<(), ModuleError> {
    let attributes = module
        .attributes()
        .iter()
        .map(|a| (a.name.as_str(), "attribute"));
    let subs = module
        .submodules()
        .iter()
        .map(|s| (s.name.as_str(), "sub-module"));
    let names: Vec<(&str, &str)> = attributes.chain(subs).collect();
    for (i, &(name, what)) in names.iter().enumerate() {
        let problem = if name.is_empty() {
            Some("expected a non-empty name".to_string())
        } else if name.contains('/') {
            Some("expected a name without `/`, which separates path keys".to_string())
        } else {
            names[..i]
                .iter()
                .find(|(other, _)| *other == name)
                .map(|(_, other)| {
                    format!("another {other} of this module has this name: expected distinct names")
                })
        };
        if let Some(problem) = problem {
            return Err(ModuleError::Config {
                module: path.clone(),
                message: format!("{what} `{name}`: {problem}"),
            });
        }
    }
    for sub in module.submodules() {
        check_names(sub.module.as_ref(), &path.child(&sub.name))?;
    }
    Ok(())
}
