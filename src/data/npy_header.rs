//! The header of an npy member, read before npyz reads it: npyz multiplies
//! the declared dimensions unchecked (a panic in debug builds, a wrapped
//! element count in release), so a shape that overflows, or a header that
//! is cut short, is reported here with the array's name first.

use super::DataError;
use std::io::Read;

/// The magic string, version, length and header text of an npy member, and
/// where the text starts. Read here rather than by npyz so the shape can be
/// checked first; an unknown magic or version is left for npyz to report.
pub(super) fn read_prefix(member: &mut impl Read) -> Result<(Vec<u8>, usize), String> {
    let cut = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the member ends inside the header".to_string(),
        _ => e.to_string(),
    };
    let mut prefix = vec![0u8; 10];
    member.read_exact(&mut prefix).map_err(cut)?;
    let (text_len, text_start) = match (&prefix[..6], prefix[6]) {
        (b"\x93NUMPY", 1) => (u64::from(u16::from_le_bytes([prefix[8], prefix[9]])), 10),
        (b"\x93NUMPY", 2 | 3) => {
            let mut rest = [0u8; 2];
            member.read_exact(&mut rest).map_err(cut)?;
            prefix.extend(rest);
            let len = u32::from_le_bytes([prefix[8], prefix[9], rest[0], rest[1]]);
            (u64::from(len), 12)
        }
        _ => return Ok((prefix, 10)),
    };
    // `take` rather than a buffer of the declared length: the length may lie.
    member
        .take(text_len)
        .read_to_end(&mut prefix)
        .map_err(cut)?;
    if prefix.len() as u64 != text_start as u64 + text_len {
        return Err(cut(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok((prefix, text_start))
}

/// Checks the shape written in an npy header before npyz parses it: npyz
/// multiplies the dimensions unchecked (a panic in debug builds, a wrapped
/// count in release). A shape not in numpy's form is left to npyz.
pub(super) fn check_declared_shape(text: &[u8], file: &str, name: &str) -> Result<(), DataError> {
    let Some((written, dims)) = std::str::from_utf8(text).ok().and_then(declared_shape) else {
        return Ok(());
    };
    if dims.iter().any(|&d| d < 0) {
        return Err(DataError::Header {
            file: file.to_string(),
            array: name.to_string(),
            problem: format!("shape {written} has a negative dimension"),
        });
    }
    let dims: Option<Vec<u64>> = dims.iter().map(|&d| u64::try_from(d).ok()).collect();
    match dims.as_deref().and_then(element_count) {
        Some(_) => Ok(()),
        None => Err(DataError::TooLarge {
            file: file.to_string(),
            array: name.to_string(),
            shape: written.to_string(),
        }),
    }
}

/// The `shape` entry of an npy header dict as numpy writes it
/// (`'shape': (4, 10, 2), `): the text as written and the dimensions.
fn declared_shape(text: &str) -> Option<(&str, Vec<i128>)> {
    let key = text.find("'shape'").or_else(|| text.find("\"shape\""))?;
    let value = text[key + 7..].trim_start().strip_prefix(':')?.trim_start();
    let close = match value.as_bytes().first()? {
        b'(' => ')',
        b'[' => ']',
        _ => return None,
    };
    let written = &value[..=value.find(close)?];
    let dims = written[1..written.len() - 1]
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().ok())
        .collect::<Option<_>>()?;
    Some((written, dims))
}

/// The number of elements of `shape`, `None` if it does not fit in usize.
/// The product of the non-zero dimensions must fit too: npyz multiplies
/// them for the strides.
pub(super) fn element_count(shape: &[u64]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d.max(1)))?;
    let count = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d))?;
    usize::try_from(count).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_shapes_are_found_and_multiplied_with_checks() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 10, 2), }";
        assert_eq!(declared_shape(header), Some(("(4, 10, 2)", vec![4, 10, 2])));
        assert_eq!(declared_shape("{'shape': (7,), }"), Some(("(7,)", vec![7])));
        assert_eq!(declared_shape("{\"shape\": [], }"), Some(("[]", vec![])));
        assert_eq!(declared_shape("{'shape': (4L, 2L), }"), None);
        assert_eq!(element_count(&[]), Some(1));
        assert_eq!(element_count(&[3, 0, 5]), Some(0));
        assert_eq!(element_count(&[1 << 63, 10, 2]), None);
        // Wraps to 0 unchecked; the non-zero dimensions overflow too.
        assert_eq!(element_count(&[0, 1 << 32, 1 << 32]), None);
    }
}
