//! Working memory of the matmul routines, one per thread and reused
//! across calls, so that no call allocates once warmed up.

/// Per-thread buffers of the row loops and blocked kernels, reused across
/// calls.
#[derive(Default)]
pub(super) struct Workspace {
    /// Nonzero terms of one row of `a`.
    pub(super) terms: Vec<(usize, f32)>,
    /// A transposed copy of `b`.
    pub(super) rhs: Vec<f32>,
    /// A transposed copy of `a`.
    pub(super) lhs: Vec<f32>,
    /// A product computed transposed.
    pub(super) product: Vec<f32>,
}

thread_local! {
    pub(super) static WORKSPACE: std::cell::RefCell<Workspace> = std::cell::RefCell::default();
}
