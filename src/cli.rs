//! The command line: `serve`, `check` and `--version`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "meridian", version, about = "DNS global server load balancer")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve DNS on the configured addresses until SIGTERM or SIGINT (SIGHUP reloads zones).
    Serve {
        /// Server config file (TOML); without it the embedded defaults apply.
        #[arg(long, short, env = "MERIDIAN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Validate every zone file offline and print every error; exit 0 valid, 2 invalid.
    Check {
        #[arg(long, short, env = "MERIDIAN_CONFIG")]
        config: Option<PathBuf>,
        /// Check this zones directory instead of the configured one.
        #[arg(long)]
        zones: Option<PathBuf>,
    },
}
