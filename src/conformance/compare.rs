//! Comparing results with the reference at the README's tolerances, and
//! describing the worst mismatch when they differ.

use super::Check;
use crate::bounds::Bound;
use crate::tree::{Path, Tensor, Tree};

/// How close a value must be to its reference `r`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Bit-for-bit equal values (spikes, key orders, bounds).
    Exact,
    /// `|a - r| <= tol * max(1, |r|)` element by element (losses, bounds
    /// costs and their gradients, parameters after training).
    Element(f32),
    /// `|a - r| <= tol * max(1, max |ref array|)` (vmem, isyn, irec,
    /// real-valued layer outputs).
    Array(f32),
    /// `|a - r| <= 1e-3 * max |ref leaf| + 1e-6` (network gradients).
    Gradient,
}

/// Loss and bounds-cost values; bounds-cost gradients; trained parameters.
pub const VALUE: Tolerance = Tolerance::Element(1e-5);
/// Membrane traces and real-valued layer outputs.
pub const TRACE: Tolerance = Tolerance::Array(1e-4);

/// Compares `ours` with `reference` elementwise. Non-finite references
/// must be matched exactly (`inf == inf`, NaN with NaN).
pub fn compare(what: &str, ours: &[f32], reference: &[f32], tol: Tolerance) -> Check {
    if ours.len() != reference.len() {
        return Check::fail(
            what,
            format!("{} values, expected {}", ours.len(), reference.len()),
        );
    }
    let max_abs = reference
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&a, &r)) in ours.iter().zip(reference).enumerate() {
        let ok = if !r.is_finite() || !a.is_finite() {
            a.to_bits() == r.to_bits() || (a.is_nan() && r.is_nan())
        } else {
            let allowed = match tol {
                Tolerance::Exact => 0.0,
                Tolerance::Element(t) => t * r.abs().max(1.0),
                Tolerance::Array(t) => t * max_abs.max(1.0),
                Tolerance::Gradient => 1e-3 * max_abs + 1e-6,
            };
            (a - r).abs() <= allowed
        };
        if !ok {
            let excess = if a.is_finite() && r.is_finite() {
                (a - r).abs()
            } else {
                f32::INFINITY
            };
            if worst.is_none_or(|(_, w)| excess > w) {
                worst = Some((i, excess));
            }
        }
    }
    match worst {
        None => Check::pass(what),
        Some((i, _)) => Check::fail(
            what,
            format!(
                "element {i}: got {:?}, expected {:?} ({tol:?})",
                ours[i], reference[i]
            ),
        ),
    }
}

/// Compares two lists of paths (order included).
pub fn compare_paths(what: &str, ours: &[Path], reference: &[Path]) -> Check {
    if ours == reference {
        return Check::pass(what);
    }
    let first = ours
        .iter()
        .zip(reference)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(reference.len()));
    Check::fail(
        what,
        format!(
            "differ at position {first}: got {:?}, expected {:?} (lengths {} and {})",
            ours.get(first),
            reference.get(first),
            ours.len(),
            reference.len()
        ),
    )
}

/// Compares two bounds trees: same paths in the same order, bit-equal values.
pub fn compare_bounds(what: &str, ours: &Tree<Bound>, reference: &Tree<Bound>) -> Check {
    let (ours, reference) = (ours.leaves(), reference.leaves());
    let our_paths: Vec<Path> = ours.iter().map(|(p, _)| p.clone()).collect();
    let ref_paths: Vec<Path> = reference.iter().map(|(p, _)| p.clone()).collect();
    let paths = compare_paths(what, &our_paths, &ref_paths);
    if !paths.passed {
        return paths;
    }
    for ((path, a), (_, b)) in ours.iter().zip(&reference) {
        let same = match (a, b) {
            (Bound::Scalar(x), Bound::Scalar(y)) => x.to_bits() == y.to_bits(),
            (Bound::Array(x), Bound::Array(y)) => {
                x.shape() == y.shape()
                    && x.data()
                        .iter()
                        .zip(y.data())
                        .all(|(p, q)| p.to_bits() == q.to_bits())
            }
            _ => false,
        };
        if !same {
            return Check::fail(what, format!("`{path}`: got {a}, expected {b}"));
        }
    }
    Check::pass(what)
}

/// Compares a tree of arrays leaf by leaf (paths in order, then values);
/// one check per leaf, named `what/path`.
pub fn compare_tree(
    what: &str,
    ours: &[(Path, Tensor)],
    reference: &Tree<Tensor>,
    tol: Tolerance,
) -> Vec<Check> {
    let our_paths: Vec<Path> = ours.iter().map(|(p, _)| p.clone()).collect();
    let ref_paths = reference.branches();
    let order = compare_paths(&format!("{what} paths"), &our_paths, &ref_paths);
    if !order.passed {
        return vec![order];
    }
    ours.iter()
        .zip(reference.leaves())
        .map(|((path, a), (_, r))| {
            let name = format!("{what} {path}");
            if a.shape() != r.shape() {
                return Check::fail(
                    &name,
                    format!("shape {}, expected {}", a.shape(), r.shape()),
                );
            }
            compare(&name, a.data(), r.data(), tol)
        })
        .collect()
}
