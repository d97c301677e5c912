//! `neurojit init [PATH]`: writes the tutorial spec, commented, to start from.

use anyhow::{bail, Context, Result};
use clap::Args;
use neurojit::spec::TUTORIAL_SPEC;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write the spec.
    #[arg(default_value = "neurojit.toml")]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub fn run(args: InitArgs) -> Result<ExitCode> {
    if args.path.is_dir() {
        bail!(
            "{} is a directory: expected the path of the spec file to write (e.g. {})",
            args.path.display(),
            args.path.join("spec.toml").display()
        );
    }
    if args.path.exists() && !args.force {
        bail!(
            "{} already exists (use --force to overwrite it)",
            args.path.display()
        );
    }
    // The spec's comments name the file it is written to (unless its name
    // would break out of a comment line).
    let name = args.path.display().to_string();
    let text = if name.chars().any(char::is_control) {
        TUTORIAL_SPEC.to_string()
    } else {
        TUTORIAL_SPEC
            .replace(
                "neurojit train spec.toml",
                &format!("neurojit train {name}"),
            )
            .replace(
                "neurojit params spec.toml",
                &format!("neurojit params {name}"),
            )
    };
    std::fs::write(&args.path, text).with_context(|| format!("writing {}", args.path.display()))?;
    println!(
        "wrote {} — train it with `neurojit train {}`",
        args.path.display(),
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
