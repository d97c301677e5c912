//! Errors the runtime reports: bad buffers or data, or a failing backend.

use neurojit_compiler::kernel::{CompileError, KernelError};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RuntimeError {
    #[error("compiling the {program} program: {source}")]
    Compile {
        program: &'static str,
        source: CompileError,
    },
    #[error("running the {program} program: {source}")]
    Kernel {
        program: &'static str,
        source: KernelError,
    },
    #[error("the {program} program reads or writes `{what}`, which the runtime does not provide")]
    Unbound { program: &'static str, what: String },
    #[error(
        "the {program} program writes output `{output}` to a buffer another of its outputs \
         writes: expected one output per buffer"
    )]
    SharedOutput {
        program: &'static str,
        output: String,
    },
    #[error(
        "the {program} program reads {kind} slot {slot} (`{name}`): expected at most {max} \
         (slots are numbered from 0, one per {kind} the programs read)"
    )]
    SlotOutOfRange {
        program: &'static str,
        kind: &'static str,
        slot: usize,
        name: String,
        max: usize,
    },
    #[error(
        "the {program} program writes output `{output}` to the buffer its argument \
         `{argument}` reads: expected a program never to read what it writes"
    )]
    ReadsWhatItWrites {
        program: &'static str,
        output: String,
        argument: String,
    },
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        what: String,
        expected: usize,
        got: usize,
    },
    #[error(
        "the {kind} `{name}` is listed at position {position} with slot {slot}: expected \
         slots numbered by position"
    )]
    SlotNumbering {
        kind: &'static str,
        name: String,
        position: usize,
        slot: usize,
    },
    #[error("tape lag {lag}: {problem}")]
    BadTapeLag { lag: String, problem: &'static str },
    #[error("state `{state}` kept in the tape: {problem}")]
    BadTapedState {
        state: String,
        problem: &'static str,
    },
    #[error("the adjoint of state `{state}` kept in a sequence: {problem}")]
    BadAdjointSequence {
        state: String,
        problem: &'static str,
    },
    #[error("starting the worker threads: {0}")]
    Threads(String),
    #[error("no parameter named `{0}`")]
    UnknownParam(String),
    #[error(
        "{what}: expected at most {limit} floats (1 GiB) per buffer; use fewer timesteps or a \
         smaller batch"
    )]
    TooLarge { what: String, limit: usize },
}
