//! Reading and writing `.npz` files (numpy's `np.savez`) with the `npyz`
//! crate.
//!
//! A data file holds `inputs` `(samples, T, N_in)` and either `targets`
//! `(samples, T, N_out)` or integer `labels` `(samples,)`. Inputs and
//! targets may be any float (f16 to f64), integer or bool dtype (they
//! become f32); Fortran-ordered arrays are reordered to C order. Non-finite
//! values are rejected with the index where they occur. Shapes are checked
//! against the bytes present before anything is allocated for them.

use super::npy_header::{check_declared_shape, element_count, read_prefix};
use super::{display_path, DataError, Dataset, Targets};
use npyz::npz::{NpzArchive, NpzWriter};
use npyz::zip::result::ZipError;
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, WriterBuilder};
use std::io::Read;
use std::path::Path;

/// The numbers of one array, before conversion.
enum Numbers {
    Float(Vec<f64>),
    Int(Vec<i128>),
}

struct Array {
    shape: Vec<u64>,
    /// numpy's dtype string, e.g. `<f8`.
    dtype: String,
    numbers: Numbers,
}

/// Loads a dataset from an `.npz` file.
pub fn load_npz(path: &Path) -> Result<Dataset, DataError> {
    let file = display_path(path);
    let io = |source| DataError::Io {
        file: file.clone(),
        source,
    };
    // Opening a folder fails with the OS's "Invalid argument".
    if path.is_dir() {
        return Err(DataError::NotAFile { file });
    }
    let mut archive = NpzArchive::open(path).map_err(io)?;
    let names: Vec<String> = archive.array_names().map(String::from).collect();
    let present = if names.is_empty() {
        "no arrays".to_string()
    } else {
        names.join(", ")
    };

    let Some(inputs) = read_array(&mut archive, "inputs", &file)? else {
        return Err(DataError::MissingArray {
            file,
            array: "inputs".into(),
            present,
            expected: "`inputs` of shape (samples, T, N_in)".into(),
        });
    };
    let [samples, t, n_in] = three_dims(&inputs, &file, "inputs", "(samples, T, N_in)")?;
    let inputs_f32 = to_f32(inputs.numbers, &[samples, t, n_in], &file, "inputs")?;

    let targets = read_array(&mut archive, "targets", &file)?;
    let labels = read_array(&mut archive, "labels", &file)?;
    let targets = match (targets, labels) {
        (Some(_), Some(_)) => return Err(DataError::BothTargets { file }),
        (None, None) => {
            return Err(DataError::MissingArray {
                file,
                array: "targets".into(),
                present,
                expected: "`targets` (samples, T, N_out) or integer `labels` (samples,)".into(),
            })
        }
        (Some(targets), None) => {
            let [s, tt, n_out] = three_dims(&targets, &file, "targets", "(samples, T, N_out)")?;
            if s != samples || tt != t {
                return Err(DataError::Shape {
                    file,
                    array: "targets".into(),
                    expected: format!("({samples}, {t}, N_out): the samples and T of `inputs`"),
                    actual: targets.shape,
                });
            }
            Targets::Signal {
                data: to_f32(targets.numbers, &[s, tt, n_out], &file, "targets")?,
                n_out,
            }
        }
        (None, Some(labels)) => {
            if labels.shape != [samples as u64] {
                return Err(DataError::Shape {
                    file,
                    array: "labels".into(),
                    expected: format!("({samples},): one label per sample of `inputs`"),
                    actual: labels.shape,
                });
            }
            Targets::Labels(to_labels(labels, &file)?)
        }
    };
    Ok(Dataset {
        inputs: inputs_f32,
        samples,
        t,
        n_in,
        targets,
        origin: file,
    })
}

/// Writes a dataset as an `.npz` file numpy can read: `inputs`, and
/// `targets` (f32) or `labels` (int64).
pub fn save_npz(path: &Path, data: &Dataset) -> Result<(), DataError> {
    let file = display_path(path);
    let io = |source| DataError::Io {
        file: file.clone(),
        source,
    };
    let mut npz = NpzWriter::create(path).map_err(io)?;
    let dims = |n: usize| [data.samples as u64, data.t as u64, n as u64];
    write_f32(&mut npz, "inputs", &dims(data.n_in), &data.inputs).map_err(io)?;
    match &data.targets {
        Targets::Signal {
            data: values,
            n_out,
        } => write_f32(&mut npz, "targets", &dims(*n_out), values).map_err(io)?,
        Targets::Labels(labels) => {
            let mut w = npz
                .array::<i64>("labels", Default::default())
                .map_err(io)?
                .default_dtype()
                .shape(&[labels.len() as u64])
                .begin_nd()
                .map_err(io)?;
            w.extend(labels.iter().map(|&l| l as i64)).map_err(io)?;
            w.finish().map_err(io)?;
        }
    }
    npz.zip_writer().finish().map_err(|e| io(e.into()))?;
    Ok(())
}

fn write_f32<W: std::io::Write + std::io::Seek>(
    npz: &mut NpzWriter<W>,
    name: &str,
    shape: &[u64],
    values: &[f32],
) -> std::io::Result<()> {
    let mut w = npz
        .array::<f32>(name, Default::default())?
        .default_dtype()
        .shape(shape)
        .begin_nd()?;
    w.extend(values.iter().copied())?;
    w.finish()
}

/// Reads array `name` if present, converting any numeric dtype.
fn read_array<R: Read + std::io::Seek>(
    archive: &mut NpzArchive<R>,
    name: &str,
    file: &str,
) -> Result<Option<Array>, DataError> {
    let header_error = |problem: String| DataError::Header {
        file: file.to_string(),
        array: name.to_string(),
        problem,
    };
    let member_name = npyz::npz::file_name_from_array_name(name);
    let mut member = match archive.zip_archive().by_name(&member_name) {
        Ok(member) => member,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(array_io(file, name, e.into())),
    };
    let stored = member.size();
    let (prefix, text_start) = read_prefix(&mut member).map_err(header_error)?;
    check_declared_shape(&prefix[text_start..], file, name)?;
    let header =
        NpyHeader::from_reader(prefix.as_slice()).map_err(|e| header_error(e.to_string()))?;
    let shape = header.shape().to_vec();
    let too_large = || DataError::TooLarge {
        file: file.to_string(),
        array: name.to_string(),
        shape: format!("{shape:?}"),
    };
    let count = element_count(&shape).ok_or_else(too_large)?;
    // A short member is refused before anything is allocated for what its
    // header promises.
    if let Some(item) = header.dtype().num_bytes() {
        let needed = (count as u64)
            .checked_mul(item as u64)
            .ok_or_else(too_large)?;
        let available = stored.saturating_sub(prefix.len() as u64);
        if needed > available {
            return Err(DataError::Truncated {
                file: file.to_string(),
                array: name.to_string(),
                shape,
                dtype: header.dtype().descr(),
                needed,
                available,
            });
        }
    }
    let order = header.order();
    let dtype = header.dtype().descr();
    let numbers = read_numbers(header, &mut member, file, name)?;
    let numbers = match order {
        Order::C => numbers,
        Order::Fortran => match numbers {
            Numbers::Float(v) => Numbers::Float(fortran_to_c(&v, &shape)),
            Numbers::Int(v) => Numbers::Int(fortran_to_c(&v, &shape)),
        },
    };
    Ok(Some(Array {
        shape,
        dtype,
        numbers,
    }))
}

fn array_io(file: &str, name: &str, source: std::io::Error) -> DataError {
    DataError::ArrayIo {
        file: file.to_string(),
        array: name.to_string(),
        source,
    }
}

/// Reads the elements after `header` from `data`.
fn read_numbers<R: Read>(
    header: NpyHeader,
    data: &mut R,
    file: &str,
    name: &str,
) -> Result<Numbers, DataError> {
    let dtype = header.dtype();
    let unsupported = || DataError::DType {
        file: file.to_string(),
        array: name.to_string(),
        dtype: dtype.descr(),
        expected: "a float, integer or bool dtype".into(),
    };
    let DType::Plain(ts) = &dtype else {
        return Err(unsupported());
    };
    let io = |source| array_io(file, name, source);
    let npy = NpyFile::with_header(header, data);
    let ints = |v: Vec<i128>| Ok(Numbers::Int(v));
    match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 2) => Ok(Numbers::Float(
            npy.into_vec::<npyz::half::f16>()
                .map_err(io)?
                .into_iter()
                .map(f64::from)
                .collect(),
        )),
        (TypeChar::Float, 4) => Ok(Numbers::Float(
            npy.into_vec::<f32>()
                .map_err(io)?
                .into_iter()
                .map(f64::from)
                .collect(),
        )),
        (TypeChar::Float, 8) => Ok(Numbers::Float(npy.into_vec::<f64>().map_err(io)?)),
        (TypeChar::Int, 1) => ints(widen(npy.into_vec::<i8>().map_err(io)?)),
        (TypeChar::Int, 2) => ints(widen(npy.into_vec::<i16>().map_err(io)?)),
        (TypeChar::Int, 4) => ints(widen(npy.into_vec::<i32>().map_err(io)?)),
        (TypeChar::Int, 8) => ints(widen(npy.into_vec::<i64>().map_err(io)?)),
        (TypeChar::Uint, 1) => ints(widen(npy.into_vec::<u8>().map_err(io)?)),
        (TypeChar::Uint, 2) => ints(widen(npy.into_vec::<u16>().map_err(io)?)),
        (TypeChar::Uint, 4) => ints(widen(npy.into_vec::<u32>().map_err(io)?)),
        (TypeChar::Uint, 8) => ints(widen(npy.into_vec::<u64>().map_err(io)?)),
        (TypeChar::Bool, 1) => ints(
            npy.into_vec::<bool>()
                .map_err(io)?
                .into_iter()
                .map(i128::from)
                .collect(),
        ),
        _ => Err(unsupported()),
    }
}

fn widen<T: Into<i128>>(v: Vec<T>) -> Vec<i128> {
    v.into_iter().map(Into::into).collect()
}

/// Reorders a column-major (Fortran) array to row-major. `shape` has been
/// checked by [`element_count`], so its products fit in usize.
fn fortran_to_c<T: Copy>(values: &[T], shape: &[u64]) -> Vec<T> {
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let count: usize = dims.iter().product();
    let mut f_strides = vec![1usize; dims.len()];
    for k in 1..dims.len() {
        f_strides[k] = f_strides[k - 1] * dims[k - 1];
    }
    let mut out = Vec::with_capacity(count);
    let mut index = vec![0usize; dims.len()];
    for _ in 0..count {
        let at: usize = index.iter().zip(&f_strides).map(|(i, s)| i * s).sum();
        out.push(values[at]);
        // Advance the row-major multi-index (last axis fastest).
        for k in (0..dims.len()).rev() {
            index[k] += 1;
            if index[k] < dims[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

fn three_dims(
    array: &Array,
    file: &str,
    name: &str,
    layout: &str,
) -> Result<[usize; 3], DataError> {
    match array.shape.as_slice() {
        [a, b, c] if *a > 0 && *b > 0 && *c > 0 => Ok([*a as usize, *b as usize, *c as usize]),
        _ => Err(DataError::Shape {
            file: file.to_string(),
            array: name.to_string(),
            expected: format!("3 non-empty dimensions {layout}"),
            actual: array.shape.clone(),
        }),
    }
}

/// Converts to f32, rejecting values that are not finite or that overflow
/// f32.
fn to_f32(numbers: Numbers, dims: &[usize], file: &str, name: &str) -> Result<Vec<f32>, DataError> {
    let (values, wide): (Vec<f32>, Vec<f64>) = match numbers {
        Numbers::Float(v) => (v.iter().map(|&x| x as f32).collect(), v),
        // Every i128 is below f32::MAX.
        Numbers::Int(v) => (v.into_iter().map(|x| x as f32).collect(), Vec::new()),
    };
    let Some(flat) = values.iter().position(|x| !x.is_finite()) else {
        return Ok(values);
    };
    let mut index = vec![0; dims.len()];
    let mut rest = flat;
    for k in (0..dims.len()).rev() {
        index[k] = rest % dims[k];
        rest /= dims[k];
    }
    let (file, array) = (file.to_string(), name.to_string());
    Err(match wide.get(flat) {
        Some(&value) if value.is_finite() => DataError::OutOfRange {
            file,
            array,
            index,
            value,
        },
        _ => DataError::NonFinite {
            file,
            array,
            index,
            value: values[flat],
        },
    })
}

fn to_labels(labels: Array, file: &str) -> Result<Vec<u32>, DataError> {
    match labels.numbers {
        Numbers::Int(v) => v
            .iter()
            .enumerate()
            .map(|(index, &label)| {
                u32::try_from(label).map_err(|_| DataError::NotAClassIndex {
                    file: file.to_string(),
                    index,
                    label,
                })
            })
            .collect(),
        Numbers::Float(_) => Err(DataError::DType {
            file: file.to_string(),
            array: "labels".into(),
            dtype: labels.dtype,
            expected: "integer class indices".into(),
        }),
    }
}
