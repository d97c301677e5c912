//! `neurojit conformance DIR --backend jit|interp`: runs Rockpool reference
//! cases and reports every check.

use anyhow::Result;
use clap::Args;
use neurojit::conformance::{run_directory, Engine};
use neurojit_runtime::BackendKind;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// Folder of reference case files (`*.json`, as in tests/reference).
    dir: PathBuf,
    /// Backend that runs network cases: jit, interp, or unrolled (one
    /// unrolled graph, interpreted).
    #[arg(long, default_value = "jit", value_parser = ["jit", "interp", "unrolled"])]
    backend: String,
    /// Print every check, not only failures.
    #[arg(long, short)]
    verbose: bool,
}

pub fn run(args: ConformanceArgs) -> Result<ExitCode> {
    let engine = match args.backend.as_str() {
        "unrolled" => Engine::Unrolled,
        name => Engine::Runtime(BackendKind::parse(name).expect("clap checked the name")),
    };
    let reports = run_directory(&args.dir, engine)?;
    let failed = reports.iter().filter(|r| !r.passed()).count();
    for report in &reports {
        println!("{}", report.summary());
        if args.verbose {
            for check in &report.checks {
                println!("    {check}");
            }
        }
    }
    println!(
        "{} of {} cases passed ({})",
        reports.len() - failed,
        reports.len(),
        args.backend
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
