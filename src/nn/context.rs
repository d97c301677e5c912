//! `StepContext`: what a module sees while it traces one timestep. It hands
//! out the graph values of the module's parameters and states by name
//! (resolving them to full paths such as `2_Residual/1_LIF/tau_mem`),
//! collects new state values and records, and steps sub-modules with shape
//! checks that name the module path.
//!
//! The context does not decide where values come from: the tracer gives it
//! the parameter values, and says whether a state read for the first time
//! becomes a `State` argument (a step program) or a zero constant (the first
//! step of an unrolled graph).

use super::{Attribute, AttributeKind, Module, ModuleError, Submodule};
use crate::tree::Path;
use neurojit_compiler::ir::{ArgKind, Graph, GraphError, Shape, Value};
use std::collections::{HashMap, HashSet};

/// What a state read for the first time in this step becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    /// A `State` argument of the graph (a per-timestep step program). Its
    /// slot is provisional; the tracer renumbers slots in state-tree order.
    Arguments,
    /// A zero constant (the first step of an unrolled graph: every forward
    /// pass starts from zero state).
    Zeros,
}

/// Which values a step records as `Record` outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordOptions {
    /// The output of every sub-module (children before their container).
    pub layer_outputs: bool,
    /// Internal neuron values each module chooses to record (LIF: `vmem`,
    /// `isyn`, `irec`).
    pub neuron_states: bool,
}

impl RecordOptions {
    pub fn all() -> RecordOptions {
        RecordOptions {
            layer_outputs: true,
            neuron_states: true,
        }
    }
}

/// A value recorded during a step: `name` is `"output"` for a layer output
/// or the module's own record name (`"vmem"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub module: Path,
    pub name: String,
    pub value: Value,
}

/// A standard-normal noise input a module asked for (see
/// [`StepContext::standard_normal`]): an `Input` argument at `slot`.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseInput {
    pub path: Path,
    pub slot: usize,
    pub shape: Shape,
}

/// One state touched by the step: its value at step start and at step end.
#[derive(Clone, Debug, PartialEq)]
pub struct StateUpdate {
    pub path: Path,
    pub before: Value,
    pub after: Value,
}

/// Everything a traced step produced besides its output.
#[derive(Clone, Debug, Default)]
pub struct StepOutcome {
    /// Touched states in the order they were first touched.
    pub states: Vec<StateUpdate>,
    pub records: Vec<Record>,
    pub noise: Vec<NoiseInput>,
}

struct Frame {
    path: Path,
    states: Vec<(String, Shape)>,
}

/// The tracing context of one timestep.
pub struct StepContext<'g> {
    graph: &'g mut Graph,
    batch: usize,
    frames: Vec<Frame>,
    params: HashMap<Path, Value>,
    initial: InitialState,
    /// Values at step start, by state path: carried-over states first,
    /// then states in first-touch order.
    before: Vec<(Path, Value)>,
    /// States read or written by this step.
    touched: HashSet<Path>,
    after: HashMap<Path, Value>,
    root: Path,
    records: Vec<Record>,
    record: RecordOptions,
    noise: Vec<NoiseInput>,
    next_state_slot: usize,
}

impl<'g> StepContext<'g> {
    /// A context over `graph` for `batch` samples. `params` maps full
    /// parameter paths to their values; `previous` gives state values
    /// carried from an earlier step (empty for a step program).
    pub fn new(
        graph: &'g mut Graph,
        batch: usize,
        params: HashMap<Path, Value>,
        previous: Vec<(Path, Value)>,
        initial: InitialState,
        record: RecordOptions,
    ) -> StepContext<'g> {
        StepContext {
            graph,
            batch,
            frames: Vec::new(),
            params,
            initial,
            before: previous,
            touched: HashSet::new(),
            after: HashMap::new(),
            root: Path::root(),
            records: Vec::new(),
            record,
            noise: Vec::new(),
            next_state_slot: 0,
        }
    }

    /// Steps the top-level module on `input` (shape `(batch, n_in)`).
    pub fn run(&mut self, root: &dyn Module, input: Value) -> Result<Value, ModuleError> {
        self.enter_and_step(Path::root(), root, input)
    }

    /// Ends the step, checking that every state read was also given a new
    /// value.
    pub fn finish(self) -> Result<StepOutcome, ModuleError> {
        // `record` returns nothing, so its values are checked here.
        for r in &self.records {
            let what = format!("record `{}`", r.name);
            self.check_traced(r.value, &r.module, &what)?;
        }
        let mut states = Vec::with_capacity(self.before.len());
        for (path, before) in self.before {
            let after = match self.after.get(&path) {
                Some(&after) => after,
                // A carried-over state this step never touched keeps its value.
                None if !self.touched.contains(&path) => before,
                None => {
                    return Err(ModuleError::StateNotSet {
                        module: path.parent(),
                        name: path.last().unwrap_or_default().to_string(),
                    })
                }
            };
            states.push(StateUpdate {
                path,
                before,
                after,
            });
        }
        Ok(StepOutcome {
            states,
            records: self.records,
            noise: self.noise,
        })
    }

    /// The graph being built.
    pub fn graph(&mut self) -> &mut Graph {
        self.graph
    }

    /// Runs graph-building code, attaching the current module path to any
    /// shape error.
    pub fn build<T>(
        &mut self,
        f: impl FnOnce(&mut Graph) -> Result<T, GraphError>,
    ) -> Result<T, ModuleError> {
        f(self.graph).map_err(|source| ModuleError::Graph {
            module: self.path().clone(),
            source: Box::new(source),
        })
    }

    /// The batch size (first dimension of every input, output and state).
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The path of the module being stepped (the root is empty).
    pub fn path(&self) -> &Path {
        match self.frames.last() {
            Some(frame) => &frame.path,
            None => &self.root,
        }
    }

    /// The value of the current module's parameter `name`.
    pub fn param(&mut self, name: &str) -> Result<Value, ModuleError> {
        let path = self.path().child(name);
        self.params
            .get(&path)
            .copied()
            .ok_or_else(|| ModuleError::MissingParameter {
                module: self.path().clone(),
                name: name.to_string(),
            })
    }

    /// The value of the current module's state `name` at step start, with
    /// the batch dimension first.
    pub fn state(&mut self, name: &str) -> Result<Value, ModuleError> {
        let shape = self.state_shape(name)?;
        let path = self.path().child(name);
        self.touched.insert(path.clone());
        if let Some((_, v)) = self.before.iter().find(|(p, _)| *p == path) {
            return Ok(*v);
        }
        let value = match self.initial {
            InitialState::Arguments => {
                let slot = self.next_state_slot;
                self.next_state_slot += 1;
                self.graph.arg(ArgKind::State, slot, &path.joined(), shape)
            }
            InitialState::Zeros => self.graph.constant(0.0, shape),
        };
        self.before.push((path, value));
        Ok(value)
    }

    /// Gives the current module's state `name` its value at step end.
    pub fn set_state(&mut self, name: &str, value: Value) -> Result<(), ModuleError> {
        let state = self.path().child(name);
        self.check_traced(value, &state, "its next value")?;
        if self.after.contains_key(&state) {
            // The second write would replace the first, and the second call
            // would have read the state from the step's start.
            return Err(ModuleError::Config {
                module: self.path().clone(),
                message: format!(
                    "state `{name}` is set twice in one step: a module with state can be called \
                     once per step (use one instance per call)"
                ),
            });
        }
        let expected = self.state_shape(name)?;
        let got = self.graph.shape(value).clone();
        if got != expected {
            return Err(ModuleError::StateShape {
                state: self.path().child(name),
                expected,
                got,
            });
        }
        // A state written without being read still needs its start value.
        self.state(name)?;
        let path = self.path().child(name);
        self.after.insert(path, value);
        Ok(())
    }

    /// Records `value` under the current module as `name`, when neuron
    /// states are being recorded.
    pub fn record(&mut self, name: &str, value: Value) {
        if self.record.neuron_states {
            self.records.push(Record {
                module: self.path().clone(),
                name: name.to_string(),
                value,
            });
        }
    }

    /// A fresh standard-normal sample of `shape` for this timestep, as an
    /// `Input` argument (slot 1 and up; slot 0 is the network input). The
    /// runtime fills it from a seeded generator. Unrolled graphs (zero
    /// initial state) do not support noise.
    pub fn standard_normal(&mut self, name: &str, shape: Shape) -> Result<Value, ModuleError> {
        if self.initial == InitialState::Zeros {
            return Err(ModuleError::Unsupported {
                module: self.path().clone(),
                what: "noise in an unrolled graph".to_string(),
            });
        }
        let path = self.path().child(name);
        let slot = 1 + self.noise.len();
        let value = self
            .graph
            .arg(ArgKind::Input, slot, &path.joined(), shape.clone());
        self.noise.push(NoiseInput { path, slot, shape });
        Ok(value)
    }

    /// Steps a sub-module of the current module on `input`, checking its
    /// input and output shapes, and records its output when asked.
    pub fn call(&mut self, sub: &Submodule, input: Value) -> Result<Value, ModuleError> {
        let path = self.path().child(&sub.name);
        self.check_traced(input, &path, "its input")?;
        let output = self.enter_and_step(path.clone(), sub.module.as_ref(), input)?;
        if self.record.layer_outputs {
            self.records.push(Record {
                module: path,
                name: "output".to_string(),
                value: output,
            });
        }
        Ok(output)
    }

    fn enter_and_step(
        &mut self,
        path: Path,
        module: &dyn Module,
        input: Value,
    ) -> Result<Value, ModuleError> {
        let (n_in, n_out) = module.shape();
        if n_in == 0 || n_out == 0 {
            return Err(ModuleError::Config {
                module: path,
                message: format!("shape ({n_in}, {n_out}): expected positive sizes"),
            });
        }
        let expected = Shape::from([self.batch, n_in]);
        let got = self.graph.shape(input).clone();
        if got != expected {
            return Err(ModuleError::InputShape {
                module: path,
                expected,
                got,
            });
        }
        self.frames.push(Frame {
            path: path.clone(),
            states: state_shapes(module.attributes()),
        });
        let result = module.step(self, input);
        self.frames.pop();
        let output = result?;
        self.check_traced(output, &path, "the value its step returned")?;
        let expected = Shape::from([self.batch, n_out]);
        let got = self.graph.shape(output).clone();
        if got != expected {
            return Err(ModuleError::OutputShape {
                module: path,
                expected,
                got,
            });
        }
        Ok(output)
    }

    /// Refuses a value that is no node of the graph being traced (one made
    /// with a graph of the module's own, say), which would index past the
    /// graph. (A foreign value whose index is in range cannot be told from
    /// a node of this graph: values carry no graph identity.)
    fn check_traced(&self, value: Value, module: &Path, what: &str) -> Result<(), ModuleError> {
        if value.index() < self.graph.len() {
            return Ok(());
        }
        Err(ModuleError::Config {
            module: module.clone(),
            message: format!(
                "{what} is %{}, not a value of the traced graph (of {} nodes): expected a value \
                 from the step's input, `StepContext::param`, `state` or `build`",
                value.index(),
                self.graph.len()
            ),
        })
    }

    /// The batched shape of the current module's state `name`.
    fn state_shape(&self, name: &str) -> Result<Shape, ModuleError> {
        let frame = self
            .frames
            .last()
            .ok_or_else(|| ModuleError::MissingState {
                module: Path::root(),
                name: name.to_string(),
            })?;
        let (_, shape) = frame
            .states
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| ModuleError::MissingState {
                module: frame.path.clone(),
                name: name.to_string(),
            })?;
        let mut dims = vec![self.batch];
        dims.extend_from_slice(shape.dims());
        Ok(Shape::new(&dims))
    }
}

fn state_shapes(attributes: &[Attribute]) -> Vec<(String, Shape)> {
    attributes
        .iter()
        .filter(|a| a.kind == AttributeKind::State)
        .map(|a| (a.name.clone(), a.value.shape().clone()))
        .collect()
}
