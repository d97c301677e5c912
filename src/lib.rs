//! neurojit: train spiking neural networks fast by compiling them.
//!
//! The front end mirrors Rockpool's modelling and constrained-optimisation
//! API: modules ([`nn`]), ordered parameter trees ([`tree`]), bounds
//! ([`bounds`]), losses ([`loss`]) and optimisers ([`optim`]) built as graphs,
//! and [`trace`], which turns a network and its loss into the step program
//! the compiler and runtime execute. [`conformance`] checks all of it
//! against Rockpool's own numbers.

pub mod bench;
pub mod bounds;
pub mod checkpoint;
pub mod conformance;
pub mod data;
pub mod loss;
pub mod nn;
pub mod optim;
pub mod plot;
pub mod run_dir;
pub mod spec;
pub mod text_file;
pub mod trace;
pub mod train;
pub mod tree;

/// The README's Rust example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
