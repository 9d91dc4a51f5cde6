use std::process::ExitCode;

use clap::Parser;
use sg_debug::cli::{Cli, Command};
use sg_debug::{UsageError, category, collect, inspect, redact};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Collect(args) => collect::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Categories { json } => category::print(json),
        Command::Report(args) => inspect::report::run(args),
        Command::Redact(args) => redact::command::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
