//! The `meridian` binary: parse the command line, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use meridian::app::{self, StartError};
use meridian::cli::{Cli, Command};
use meridian::config;

/// Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration.
const EXIT_RUNTIME: u8 = 1;
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve { config } => serve(config.as_deref()),
        Command::Check { config, zones } => check(config.as_deref(), zones.as_deref()),
        Command::Explain {
            name,
            qtype,
            client,
            ecs,
            down,
            config,
            zones,
        } => {
            let args = app::ExplainArgs {
                name,
                qtype,
                client,
                ecs,
                down,
                zones,
            };
            explain(config.as_deref(), args)
        }
        Command::Agent(args) => meridian::agent::main(args),
    }
}

fn explain(path: Option<&std::path::Path>, args: app::ExplainArgs) -> ExitCode {
    let config = match config::load_server(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match app::explain(&config, args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(StartError::Config(errors)) => {
            eprintln!("{errors}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(StartError::Runtime(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn serve(path: Option<&std::path::Path>) -> ExitCode {
    let config = match config::load_server(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    app::init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(app::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(StartError::Config(errors)) => {
            eprintln!("{errors}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(StartError::Runtime(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn check(path: Option<&std::path::Path>, zones: Option<&std::path::Path>) -> ExitCode {
    let config = match config::load_server(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let dir = zones.unwrap_or(&config.zones_dir);
    match config::load_zones(dir) {
        Ok(set) => {
            println!("{}: {} zone(s) valid", dir.display(), set.len());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} error(s)", errors.0.len());
            ExitCode::from(EXIT_CONFIG)
        }
    }
}
