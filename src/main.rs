//! The `shardcask` server binary.

use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = shardcask::config::Config::parse();
    if let Err(error) = shardcask::server::run(config) {
        eprintln!("shardcask: {error}");
        std::process::exit(1);
    }
}
