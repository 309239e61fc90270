//! The command line: `serve`, `check`, `explain`, `dnssec`, `agent` and `--version`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::env::CONFIG_VAR;

/// The command line of `meridian`.
#[derive(Debug, Parser)]
#[command(name = "meridian", version, about = "DNS global server load balancer")]
pub struct Cli {
    /// The mode to run in.
    #[command(subcommand)]
    pub command: Command,
}

/// The modes of `meridian`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve DNS on the configured addresses until SIGTERM or SIGINT (SIGHUP reloads zones).
    Serve {
        /// Server config file (TOML); without it the embedded defaults apply.
        #[arg(long, short, env = CONFIG_VAR)]
        config: Option<PathBuf>,
    },
    /// Validate every zone file offline and print every error; exit 0 valid, 2 invalid.
    Check {
        /// Server config file (TOML); without it the embedded defaults apply.
        #[arg(long, short, env = CONFIG_VAR)]
        config: Option<PathBuf>,
        /// Check this zones directory instead of the configured one.
        #[arg(long)]
        zones: Option<PathBuf>,
    },
    /// Show the answer a client would get and the decision trace behind it.
    Explain {
        /// The queried name, e.g. www.gslb.example.com.
        name: String,
        /// The query type: A, AAAA, CNAME, TXT, ...
        #[arg(default_value = "A")]
        qtype: String,
        /// The resolver's address (the query's source).
        #[arg(long)]
        client: IpAddr,
        /// An EDNS Client Subnet the resolver sent, e.g. 198.51.100.0/24.
        #[arg(long)]
        ecs: Option<ipnet::IpNet>,
        /// Treat this target (`192.0.2.10/web`) as down; repeatable.
        #[arg(long)]
        down: Vec<String>,
        /// Server config file (TOML); without it the embedded defaults apply.
        #[arg(long, short, env = CONFIG_VAR)]
        config: Option<PathBuf>,
        /// Use this zones directory instead of the configured one.
        #[arg(long)]
        zones: Option<PathBuf>,
    },
    /// DNSSEC keys: generate them, print the DS and DNSKEY records for the parent.
    #[command(subcommand)]
    Dnssec(DnssecCommand),
    /// Measure RTT from this datacenter to the client networks servers name, and report it.
    Agent(crate::agent::AgentArgs),
}

/// `meridian dnssec ...`.
#[derive(Debug, Subcommand)]
pub enum DnssecCommand {
    /// Write new PKCS#8 PEM key files (mode 0600, never overwriting) and print the
    /// `[dnssec]` table that names them.
    Keygen {
        /// The zone the keys are for (names the files `<zone>.csk.pem`, ...).
        #[arg(long)]
        zone: String,
        /// Directory to write the key files into.
        #[arg(long)]
        dir: PathBuf,
        /// `ecdsap256sha256` (13) or `ed25519` (15).
        #[arg(long, default_value = "ecdsap256sha256")]
        algorithm: String,
        /// A KSK and a ZSK instead of one combined signing key (CSK).
        #[arg(long)]
        split: bool,
    },
    /// Print the DS (SHA-256) of the zone's KSK/CSK and every DNSKEY, in zone-file format.
    Ds {
        /// The zone, e.g. gslb.example.com.
        zone: String,
        /// Server config file (TOML); without it the embedded defaults apply.
        #[arg(long, short, env = CONFIG_VAR)]
        config: Option<PathBuf>,
        /// Use this zones directory instead of the configured one.
        #[arg(long)]
        zones: Option<PathBuf>,
    },
}
