//! The `shardcask` server binary: reads the settings (command line,
//! `SHARDCASK_*` variables, `--config` file), sets up logging, and runs
//! [`shardcask::server::run`].

use shardcask::config::{Config, ConfigError, LogFormat};

fn main() {
    let config = match Config::load(std::env::args_os()) {
        Ok(config) => config,
        // --help, --version and argument errors, worded by clap.
        Err(ConfigError::Args(error)) => error.exit(),
        Err(error) => {
            eprintln!("shardcask: {error}");
            std::process::exit(2);
        }
    };
    let filter = match &config.log_level {
        Some(level) => tracing_subscriber::EnvFilter::try_new(level),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new("info")),
    };
    let filter = match filter {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!("shardcask: --log-level: {error}");
            std::process::exit(2);
        }
    };
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }
    if let Err(error) = shardcask::server::run(config) {
        eprintln!("shardcask: {error}");
        std::process::exit(1);
    }
}
