//! Compiled code cached by graph structure: compiling a graph identical to
//! one compiled before (same nodes, shapes, argument shapes, outputs and
//! options; names may differ) returns the same machine code.

use super::module::CompiledCode;
use super::JitOptions;
use crate::ir::{Graph, Node, Shape, Value};
use crate::kernel::CompileError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Everything that determines the generated code.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    nodes: Vec<Node>,
    args: Vec<Shape>,
    outputs: Vec<(Value, bool)>,
    options: JitOptions,
}

impl CacheKey {
    fn new(graph: &Graph, options: &JitOptions) -> CacheKey {
        CacheKey {
            nodes: graph.nodes().to_vec(),
            args: graph.args().iter().map(|a| a.shape.clone()).collect(),
            outputs: graph
                .outputs()
                .iter()
                .map(|o| (o.value, o.accumulate))
                .collect(),
            options: *options,
        }
    }
}

/// How often the cache compiled and how often it reused code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub compiled: usize,
    pub reused: usize,
}

#[derive(Default)]
pub(crate) struct KernelCache {
    entries: Mutex<HashMap<CacheKey, Arc<CompiledCode>>>,
    compiled: AtomicUsize,
    reused: AtomicUsize,
}

impl KernelCache {
    /// The cached code for `graph`, compiling it with `compile` on a miss.
    /// Compilations are serialised, so a graph is never compiled twice.
    pub fn get_or_compile(
        &self,
        graph: &Graph,
        options: &JitOptions,
        compile: impl FnOnce() -> Result<CompiledCode, CompileError>,
    ) -> Result<Arc<CompiledCode>, CompileError> {
        let key = CacheKey::new(graph, options);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(code) = entries.get(&key) {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(code.clone());
        }
        let code = Arc::new(compile()?);
        self.compiled.fetch_add(1, Ordering::Relaxed);
        entries.insert(key, code.clone());
        Ok(code)
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            compiled: self.compiled.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
        }
    }
}
