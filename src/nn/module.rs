//! The `Module` trait: what every network building block declares (its
//! shape, its attributes, its sub-modules) and how it traces one timestep.
//! The tree queries Rockpool offers (`parameters`, `parameters(family)`,
//! `attributes_named`, `state`, `simulation_parameters`, `set_attributes`)
//! are provided methods built on those declarations.

use super::{ModuleError, StepContext};
use crate::tree::{Node, Path, Tensor, Tree};
use neurojit_compiler::ir::{Shape, Value};
use std::fmt;

/// Rockpool's three kinds of registered attribute.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AttributeKind {
    /// Trainable; returned by `parameters()`.
    Parameter,
    /// Carried from one timestep to the next; returned by `state()`. Its
    /// shape excludes the batch dimension, which tracing prepends.
    State,
    /// Fixed configuration such as `dt`; returned by
    /// `simulation_parameters()`.
    SimulationParameter,
}

/// One registered attribute of a module.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub kind: AttributeKind,
    /// The family used by `parameters(family)` (see [`super::family`]).
    pub family: Option<String>,
    pub value: Tensor,
}

impl Attribute {
    pub fn parameter(name: &str, family: &str, value: Tensor) -> Attribute {
        Attribute {
            name: name.to_string(),
            kind: AttributeKind::Parameter,
            family: Some(family.to_string()),
            value,
        }
    }

    pub fn state(name: &str, value: Tensor) -> Attribute {
        Attribute {
            name: name.to_string(),
            kind: AttributeKind::State,
            family: None,
            value,
        }
    }

    pub fn simulation_parameter(name: &str, value: Tensor) -> Attribute {
        Attribute {
            name: name.to_string(),
            kind: AttributeKind::SimulationParameter,
            family: None,
            value,
        }
    }
}

/// A named child of a container module.
#[derive(Debug)]
pub struct Submodule {
    pub name: String,
    pub module: Box<dyn Module>,
}

/// Where a trainable parameter lives, its shape and family.
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterInfo {
    pub path: Path,
    pub shape: Shape,
    pub family: Option<String>,
}

/// A network building block.
///
/// Implementors declare attributes (in registration order, which is the
/// order `parameters()` reports) and sub-modules, and trace one timestep in
/// [`Module::step`]. Everything else is provided. A user-defined module gets
/// gradients, compilation and the tree API for free; see
/// `examples/custom_module.rs`.
pub trait Module: fmt::Debug + Send + Sync {
    /// The class name (`"Linear"`, `"LIF"`, ...), used for automatic
    /// sub-module names `{index}_{class}`.
    fn class_name(&self) -> &str;

    /// `(n_in, n_out)`: input and output channels.
    fn shape(&self) -> (usize, usize);

    /// Own attributes in registration order (not those of sub-modules).
    fn attributes(&self) -> &[Attribute];

    fn attributes_mut(&mut self) -> &mut [Attribute];

    /// Sub-modules in order. Leaf modules have none.
    fn submodules(&self) -> &[Submodule] {
        &[]
    }

    fn submodules_mut(&mut self) -> &mut [Submodule] {
        &mut []
    }

    /// Traces one timestep. `input` has shape `(batch, n_in)`; the result
    /// must have shape `(batch, n_out)`. Parameters and states are read and
    /// written through `ctx` by name; sub-modules are stepped with
    /// [`StepContext::call`].
    fn step(&self, ctx: &mut StepContext<'_>, input: Value) -> Result<Value, ModuleError>;

    // ----- provided ----------------------------------------------------------

    fn size_in(&self) -> usize {
        self.shape().0
    }

    fn size_out(&self) -> usize {
        self.shape().1
    }

    /// The names of the sub-modules, in order.
    fn submodule_names(&self) -> Vec<&str> {
        self.submodules().iter().map(|s| s.name.as_str()).collect()
    }

    /// Every parameter of this module and its sub-modules. Every sub-module
    /// appears, as an empty branch if it has no parameters.
    fn parameters(&self) -> Tree<Tensor> {
        select_attributes(self, AttributeKind::Parameter, None)
    }

    /// The parameters of the given families. With several families each
    /// module lists the matches of the **last** family first (Rockpool's
    /// ChainMap order); sub-modules with no match are left out.
    fn parameters_of(&self, families: &[&str]) -> Tree<Tensor> {
        select_attributes(self, AttributeKind::Parameter, Some(families))
    }

    /// Every state (shapes without the batch dimension).
    fn state(&self) -> Tree<Tensor> {
        select_attributes(self, AttributeKind::State, None)
    }

    /// Every simulation parameter (`dt` and the like).
    fn simulation_parameters(&self) -> Tree<Tensor> {
        select_attributes(self, AttributeKind::SimulationParameter, None)
    }

    /// Attributes of any kind whose name is one of `names` (the last name's
    /// matches first in each module); sub-modules with no match are left out.
    fn attributes_named(&self, names: &[&str]) -> Tree<Tensor> {
        let mut tree = Tree::new();
        for name in names.iter().rev() {
            for a in self.attributes().iter().filter(|a| a.name == *name) {
                if tree.get(&a.name).is_none() {
                    tree.insert_leaf(&a.name, a.value.clone());
                }
            }
        }
        for sub in self.submodules() {
            let t = sub.module.attributes_named(names);
            if !t.is_empty() {
                tree.insert_branch(&sub.name, t);
            }
        }
        tree
    }

    /// Path, shape and family of every parameter, in `parameters()` order.
    fn parameter_info(&self) -> Vec<ParameterInfo> {
        let mut out = Vec::new();
        collect_info(self, &Path::root(), &mut out);
        out
    }

    /// Sets attributes (parameters, states or simulation parameters) from a
    /// tree shaped like part of `parameters()` / `state()`. Unknown
    /// branches and wrong shapes are errors naming the branch.
    fn set_attributes(&mut self, values: &Tree<Tensor>) -> Result<(), ModuleError> {
        set_attributes_at(self, &Path::root(), values)
    }
}

fn select_attributes<M: Module + ?Sized>(
    module: &M,
    kind: AttributeKind,
    families: Option<&[&str]>,
) -> Tree<Tensor> {
    let mut tree = Tree::new();
    let of_kind = || module.attributes().iter().filter(|a| a.kind == kind);
    match families {
        None => {
            for a in of_kind() {
                tree.insert_leaf(&a.name, a.value.clone());
            }
        }
        Some(families) => {
            for family in families.iter().rev() {
                for a in of_kind().filter(|a| a.family.as_deref() == Some(*family)) {
                    if tree.get(&a.name).is_none() {
                        tree.insert_leaf(&a.name, a.value.clone());
                    }
                }
            }
        }
    }
    for sub in module.submodules() {
        let t = select_attributes(sub.module.as_ref(), kind, families);
        if families.is_none() || !t.is_empty() {
            tree.insert_branch(&sub.name, t);
        }
    }
    tree
}

fn collect_info<M: Module + ?Sized>(module: &M, prefix: &Path, out: &mut Vec<ParameterInfo>) {
    for a in module.attributes() {
        if a.kind == AttributeKind::Parameter {
            out.push(ParameterInfo {
                path: prefix.child(&a.name),
                shape: a.value.shape().clone(),
                family: a.family.clone(),
            });
        }
    }
    for sub in module.submodules() {
        collect_info(sub.module.as_ref(), &prefix.child(&sub.name), out);
    }
}

fn set_attributes_at<M: Module + ?Sized>(
    module: &mut M,
    prefix: &Path,
    values: &Tree<Tensor>,
) -> Result<(), ModuleError> {
    for (key, node) in values.iter() {
        let path = prefix.child(key);
        match node {
            Node::Leaf(value) => {
                let attr = module
                    .attributes_mut()
                    .iter_mut()
                    .find(|a| a.name == key)
                    .ok_or_else(|| ModuleError::UnknownAttribute { path: path.clone() })?;
                if attr.value.shape() != value.shape() {
                    return Err(ModuleError::AttributeShape {
                        path,
                        expected: attr.value.shape().clone(),
                        got: value.shape().clone(),
                    });
                }
                attr.value = value.clone();
            }
            Node::Branch(tree) => {
                let sub = module
                    .submodules_mut()
                    .iter_mut()
                    .find(|s| s.name == key)
                    .ok_or_else(|| ModuleError::UnknownAttribute { path: path.clone() })?;
                set_attributes_at(sub.module.as_mut(), &path, tree)?;
            }
        }
    }
    Ok(())
}

/// The value of a one-element simulation parameter, or `default` when the
/// module does not declare it.
pub fn simulation_scalar(attributes: &[Attribute], name: &str, default: f32) -> f32 {
    attributes
        .iter()
        .find(|a| a.name == name && a.kind == AttributeKind::SimulationParameter)
        .and_then(|a| a.value.item())
        .unwrap_or(default)
}

/// Rockpool's module print: the class, the name, the shape and nested
/// sub-modules.
///
/// ```text
/// Sequential with shape (2, 5) {
///     Linear '0_Linear' with shape (2, 3)
///     LIF '1_LIF' with shape (3, 3)
/// }
/// ```
pub fn describe(module: &dyn Module) -> String {
    let mut out = String::new();
    describe_into(&mut out, module, None, 0);
    out
}

fn describe_into(out: &mut String, module: &dyn Module, name: Option<&str>, indent: usize) {
    let pad = " ".repeat(indent * 4);
    let (n_in, n_out) = module.shape();
    out.push_str(&pad);
    out.push_str(module.class_name());
    if let Some(name) = name {
        out.push_str(&format!(" '{name}'"));
    }
    out.push_str(&format!(" with shape ({n_in}, {n_out})"));
    if module.submodules().is_empty() {
        return;
    }
    out.push_str(" {\n");
    for sub in module.submodules() {
        describe_into(out, sub.module.as_ref(), Some(&sub.name), indent + 1);
        out.push('\n');
    }
    out.push_str(&pad);
    out.push('}');
}
