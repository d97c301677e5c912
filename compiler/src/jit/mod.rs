//! The Cranelift backend: lowers graphs to fused, vectorised native kernels.
