//! The `meridian` binary: parse the command line, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use meridian::app::{self, StartError};
use meridian::cli::{Cli, Command, DnssecCommand};
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
        Command::Dnssec(command) => dnssec(command),
        Command::Agent(args) => meridian::agent::main(args),
    }
}

fn dnssec(command: DnssecCommand) -> ExitCode {
    match command {
        DnssecCommand::Keygen {
            zone,
            dir,
            algorithm,
            split,
        } => exit(app::dnssec_keygen(&zone, &dir, &algorithm, split).map(|text| print!("{text}"))),
        DnssecCommand::Ds {
            zone,
            config,
            zones,
        } => {
            let config = match load(config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            exit(app::dnssec_ds(&config, &zone, zones.as_deref()).map(|text| print!("{text}")))
        }
    }
}

fn explain(path: Option<&std::path::Path>, args: app::ExplainArgs) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    exit(app::explain(&config, args).map(|text| print!("{text}")))
}

/// The server settings, or the exit code for settings that do not load.
fn load(path: Option<&std::path::Path>) -> Result<meridian::config::ServerConfig, ExitCode> {
    config::load_server(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Print a start error and map it to its exit code.
fn exit(result: Result<(), StartError>) -> ExitCode {
    match result {
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

fn serve(path: Option<&std::path::Path>) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    app::init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    exit(runtime.block_on(app::serve(config)))
}

fn check(path: Option<&std::path::Path>, zones: Option<&std::path::Path>) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(cluster) = &config.cluster {
        let problem = if !meridian::cluster::AVAILABLE {
            Some(meridian::cluster::ClusterError::NotBuilt.to_string())
        } else {
            cluster.read_secrets().err()
        };
        if let Some(problem) = problem {
            eprintln!("cluster: {problem}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
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
