//! The `loss_functions` kind: `mse`, `sse`, `l2sqr_norm`, `l0_norm_approx`,
//! `softmax` and `logsoftmax` built as graphs and run by the interpreter.

use super::compare::{compare, VALUE};
use super::evaluate::{declare_params, Feed, Runner};
use super::json::{as_array, as_f32, as_str, field, tensor, tensor_tree};
use super::{Check, ConformanceError};
use crate::loss::{l0_norm_approx, l2sqr_norm, logsoftmax, mse, softmax, sse, DEFAULT_L0_SIGMA};
use neurojit_compiler::ir::{ArgKind, Graph, OutKind};
use serde_json::Value as Json;

pub(super) fn run(case: &Json) -> Result<Vec<Check>, ConformanceError> {
    let inputs = as_array(field(field(case, "inputs")?, "items")?, "inputs.items")?;
    let expected = as_array(field(field(case, "expected")?, "items")?, "expected.items")?;
    let mut checks = Vec::new();
    for (i, (item, want)) in inputs.iter().zip(expected).enumerate() {
        let name = as_str(field(item, "fn")?, "fn")?;
        let label = match item.get("label").and_then(Json::as_str) {
            Some(l) => format!("{i} {name} ({l})"),
            None => format!("{i} {name}"),
        };
        let want = tensor(want)?;
        let got = evaluate_item(name, field(item, "args")?)?;
        checks.push(compare(&label, &got, want.data(), VALUE));
    }
    Ok(checks)
}

fn evaluate_item(name: &str, args: &Json) -> Result<Vec<f32>, ConformanceError> {
    let mut g = Graph::new();
    let mut feed = Feed::default();
    let result = match name {
        "mse" | "sse" => {
            let output = feed.declare(
                &mut g,
                ArgKind::Input,
                "output",
                &tensor(field(args, "output")?)?,
            );
            let target = feed.declare(
                &mut g,
                ArgKind::Target,
                "target",
                &tensor(field(args, "target")?)?,
            );
            if name == "mse" {
                mse(&mut g, output, target)?
            } else {
                sse(&mut g, output, target)?
            }
        }
        "l2sqr_norm" | "l0_norm_approx" => {
            let params = tensor_tree(field(args, "params")?)?;
            let values = declare_params(&mut g, &mut feed, &params);
            if name == "l2sqr_norm" {
                l2sqr_norm(&mut g, &values)?
            } else {
                let sigma = match args.get("sigma") {
                    Some(s) => as_f32(s)?,
                    None => DEFAULT_L0_SIGMA,
                };
                l0_norm_approx(&mut g, &values, sigma)?
            }
        }
        "softmax" | "logsoftmax" => {
            let x = feed.declare(&mut g, ArgKind::Input, "x", &tensor(field(args, "x")?)?);
            let temperature = as_f32(field(args, "temperature")?)?;
            if name == "softmax" {
                softmax(&mut g, x, temperature)?
            } else {
                logsoftmax(&mut g, x, temperature)?
            }
        }
        other => {
            return Err(ConformanceError::Format(format!(
                "unknown loss function `{other}`"
            )))
        }
    };
    g.output(OutKind::Loss, 0, name, result);
    let mut out = Runner::new(g)?.run(&feed)?;
    Ok(out.remove(0))
}
