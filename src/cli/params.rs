//! `neurojit params [SPEC|CHECKPOINT|RUN_DIR] [--family F] [--named N]`:
//! prints the parameter tree, and its bounds, as Rockpool prints them.

use super::load::spec_or_tutorial;
use anyhow::{bail, Context, Result};
use clap::Args;
use neurojit::bounds::Bound;
use neurojit::checkpoint::load_checkpoint;
use neurojit::nn::Module;
use neurojit::run_dir::{CheckpointKind, RunDir};
use neurojit::spec::parse_spec;
use neurojit::train::experiment;
use neurojit::tree::{Path, Tensor, Tree};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ParamsArgs {
    /// A spec file, a checkpoint (.safetensors) or a run folder (its latest
    /// checkpoint). The tutorial network when omitted.
    source: Option<PathBuf>,
    /// Only parameters of these families (weights, biases, bias, taus,
    /// decays, thresholds); repeatable.
    #[arg(long, conflicts_with = "named", value_parser = neurojit::spec::FAMILIES)]
    family: Vec<String>,
    /// Only attributes with these names (tau_mem, alpha, ...); repeatable.
    #[arg(long)]
    named: Vec<String>,
}

pub fn run(args: ParamsArgs) -> Result<ExitCode> {
    let source = args.source.as_deref();
    if let Some(path) = source.filter(|p| p.extension().is_some_and(|e| e == "safetensors")) {
        if !args.family.is_empty() {
            bail!(
                "{}: a checkpoint alone does not know parameter families; \
                 pass its run folder to select by family",
                path.display()
            );
        }
        let checkpoint = load_checkpoint(path)?;
        let place = |t: &str| format!("{}: tensor `{t}`", path.display());
        let mut tree = Tree::new();
        let wanted = |p: &str| {
            args.named.is_empty() || args.named.iter().any(|n| p.rsplit('/').next() == Some(n))
        };
        for t in checkpoint.params.iter().filter(|t| wanted(&t.path)) {
            let tensor =
                Tensor::new(t.shape.as_slice(), t.data.clone()).with_context(|| place(&t.path))?;
            tree.insert_at(&Path::parse(&t.path), tensor)
                .with_context(|| place(&t.path))?;
        }
        println!(
            "Parameters ({}, epoch {}):",
            path.display(),
            checkpoint.epoch
        );
        println!("{tree}");
        return Ok(ExitCode::SUCCESS);
    }
    let (spec, checkpoint) = match source.filter(|p| p.is_dir()) {
        Some(dir) => {
            let run = RunDir::open(dir)?;
            let text = run.read_spec()?;
            let spec = parse_spec(&text, &run.spec_path().display().to_string())?;
            let checkpoint = run.load_checkpoint(CheckpointKind::Latest)?;
            let file = run.checkpoint_path(CheckpointKind::Latest);
            (spec, Some((checkpoint, file, run.spec_path())))
        }
        None => (spec_or_tutorial(source)?.0, None),
    };
    let mut exp = experiment(&spec)?;
    if let Some((checkpoint, file, spec_file)) = checkpoint {
        let place = |t: &str| format!("{}: tensor `{t}`", file.display());
        let mut values = Tree::new();
        for t in &checkpoint.params {
            let tensor =
                Tensor::new(t.shape.as_slice(), t.data.clone()).with_context(|| place(&t.path))?;
            values
                .insert_at(&Path::parse(&t.path), tensor)
                .with_context(|| place(&t.path))?;
        }
        exp.network.set_attributes(&values).with_context(|| {
            format!(
                "{} does not fit the network of {}",
                file.display(),
                spec_file.display()
            )
        })?;
    }
    let network: &dyn Module = exp.network.as_ref();
    let families: Vec<&str> = args.family.iter().map(String::as_str).collect();
    let names: Vec<&str> = args.named.iter().map(String::as_str).collect();
    let (title, selected) = if !names.is_empty() {
        ("attributes_named", network.attributes_named(&names))
    } else if !families.is_empty() {
        ("parameters", network.parameters_of(&families))
    } else {
        ("parameters", network.parameters())
    };
    println!("{title}:");
    println!("{selected}");
    let paths: Vec<Path> = selected.leaves().into_iter().map(|(p, _)| p).collect();
    println!("lower bounds:");
    println!("{}", restricted(&exp.lower, &paths));
    println!("upper bounds:");
    println!("{}", restricted(&exp.upper, &paths));
    Ok(ExitCode::SUCCESS)
}

/// The leaves of `bounds` at `paths` (in their order), as a tree.
fn restricted(bounds: &Tree<Bound>, paths: &[Path]) -> Tree<Bound> {
    let mut tree = Tree::new();
    for path in paths {
        if let Ok(bound) = bounds.get_nested(path) {
            tree.insert_at(path, bound.clone())
                .expect("paths of a tree are distinct leaves");
        }
    }
    tree
}
