//! Index math for loops: how a loop over a domain shape addresses each
//! buffer it reads or writes, and how the loop nest is simplified.
//!
//! An access is a list of strides (in elements), one per domain axis: the
//! element at multi-index `i` lives at `sum(i[d] * stride[d])`. Contiguous
//! tensors of the domain's shape have row-major strides; a broadcast operand
//! has stride 0 on the axes it is stretched along; a reduce_sum target has
//! stride 0 on the reduced axis. Because buffers are row-major, the innermost
//! stride of any access is 0 or 1, which is what the vectorised inner loop
//! relies on.

use crate::ir::Shape;

/// Strides for reading a row-major tensor of shape `from` at every index of
/// `domain`, with numpy broadcasting (`from` aligned to the right; missing
/// and size-1 axes get stride 0).
pub(crate) fn broadcast_strides(from: &Shape, domain: &Shape) -> Vec<usize> {
    let rank = domain.rank();
    let offset = rank - from.rank();
    let from_strides = from.strides();
    (0..rank)
        .map(|d| {
            if d < offset || from.dims()[d - offset] == 1 {
                0
            } else {
                from_strides[d - offset]
            }
        })
        .collect()
}

/// Strides for accumulating into the result of a reduce_sum over `axis` of
/// a tensor of shape `domain`: the result's row-major strides, with 0 on
/// the reduced axis.
pub(crate) fn reduce_strides(domain: &Shape, axis: usize) -> Vec<usize> {
    let result = domain.without_axis(axis);
    let result_strides = result.strides();
    (0..domain.rank())
        .map(|d| match d.cmp(&axis) {
            std::cmp::Ordering::Less => result_strides[d],
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => result_strides[d - 1],
        })
        .collect()
}

/// Simplifies a loop nest over `dims` shared by `accesses` (each a stride
/// list over `dims`): drops axes of size 1 and merges neighbouring axes that
/// every access walks as one (`stride[d] == stride[d + 1] * dims[d + 1]`).
/// A same-shape elementwise loop thus becomes one flat loop. Returns the new
/// dims (at least one) and rewrites the accesses in place.
pub(crate) fn collapse(dims: &[usize], accesses: &mut [Vec<usize>]) -> Vec<usize> {
    let kept: Vec<usize> = (0..dims.len()).filter(|&d| dims[d] != 1).collect();
    let mut out_dims: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); accesses.len()];
    for &d in &kept {
        let mergeable = !out_dims.is_empty()
            && accesses
                .iter()
                .zip(&out_strides)
                .all(|(a, o)| *o.last().expect("same length as out_dims") == a[d] * dims[d]);
        if mergeable {
            *out_dims.last_mut().expect("checked non-empty") *= dims[d];
            for (a, o) in accesses.iter().zip(out_strides.iter_mut()) {
                *o.last_mut().expect("same length as out_dims") = a[d];
            }
        } else {
            out_dims.push(dims[d]);
            for (a, o) in accesses.iter().zip(out_strides.iter_mut()) {
                o.push(a[d]);
            }
        }
    }
    if out_dims.is_empty() {
        out_dims.push(1);
        for o in &mut out_strides {
            o.push(0);
        }
    }
    for (a, o) in accesses.iter_mut().zip(out_strides) {
        *a = o;
    }
    out_dims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_broadcast_keeps_two_axes_and_same_shape_collapses() {
        let domain = Shape::from([4, 6]);
        let mut accesses = vec![
            broadcast_strides(&Shape::from([4, 6]), &domain),
            broadcast_strides(&Shape::from([6]), &domain),
        ];
        assert_eq!(accesses[1], vec![0, 1]);
        let dims = collapse(domain.dims(), &mut accesses);
        assert_eq!(dims, vec![4, 6]);

        let mut same = vec![broadcast_strides(&domain, &domain); 2];
        assert_eq!(collapse(domain.dims(), &mut same), vec![24]);
        assert_eq!(same[0], vec![1]);
    }

    #[test]
    fn column_broadcast_and_reduce_targets() {
        let domain = Shape::from([2, 3, 5]);
        assert_eq!(
            broadcast_strides(&Shape::from([3, 1]), &domain),
            vec![0, 1, 0]
        );
        assert_eq!(reduce_strides(&domain, 1), vec![5, 0, 1]);
        assert_eq!(reduce_strides(&domain, 2), vec![3, 1, 0]);
        // Size-1 axes vanish; a scalar domain becomes one element.
        let mut a = vec![vec![0, 1], vec![0, 1]];
        assert_eq!(collapse(&[1, 7], &mut a), vec![7]);
        let mut s = vec![vec![]];
        assert_eq!(collapse(&[], &mut s), vec![1]);
        assert_eq!(s[0], vec![0]);
    }
}
