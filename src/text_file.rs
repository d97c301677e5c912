//! Reading the text inputs (spec files, run folders' CSV and JSON files,
//! conformance cases) whole, with a size limit: without one, a path that
//! names a device such as `/dev/zero` is read until memory runs out.

use std::io::{self, Read};
use std::path::Path;

/// The largest text input read: far beyond any spec, history or case file.
pub const MAX_TEXT_BYTES: u64 = 256 << 20;

/// The contents of the text file at `path`, or an error when it is not
/// UTF-8 or holds more than [`MAX_TEXT_BYTES`].
pub fn read_text(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_TEXT_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_TEXT_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "more than {} MiB: too large for a text input",
                MAX_TEXT_BYTES >> 20
            ),
        ));
    }
    Ok(text)
}
