//! The `monday-operator` command line: wiring only, the logic lives in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "monday-operator", version, about = "Monday.com identity-governance connectors on Kubernetes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator (controllers, metrics and health endpoints).
    Run,
    /// Sync one Monday.com account into a .c1z file and exit.
    Sync,
    /// Print every CustomResourceDefinition as YAML.
    Crd,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", monday_operator::api::crds_yaml().context("rendering CRDs")?);
            Ok(())
        }
        Command::Run | Command::Sync => anyhow::bail!("not implemented yet"),
    }
}
