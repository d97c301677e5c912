//! The `neurojit` command line: train, inspect, benchmark and check
//! spiking networks described in spec files. One file per command in
//! `cli/`.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    restore_default_sigpipe();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`neurojit ir |
/// head`) would panic; like other command-line tools, end quietly instead.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: resetting a signal to its default action at start-up, before
    // any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The error and its causes on one line, `outer: inner`, leaving out a cause
/// that the message before it already quotes (many error types print their
/// source as part of their own message).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}
