//! `shardcask-bench` command line entry point.

use std::process::ExitCode;

use clap::Parser;
use shardcask_bench::{Args, Config, report, run};

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let json = config.json;
    let report = match run(config) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some((path, slot)) = &report.config.timeline {
        let timeline = report.total().timeline.unwrap_or_else(|| {
            shardcask_bench::timeline::Timeline::new(std::time::Instant::now(), 0.0, *slot)
        });
        let text = timeline.to_json();
        if let Err(error) = std::fs::write(path, text) {
            eprintln!("error: writing --timeline {}: {error}", path.display());
            return ExitCode::from(2);
        }
    }
    if json {
        println!("{}", report::format_json(&report));
    } else {
        print!("{}", report::format_table(&report));
    }
    if report.failed() {
        let total = report.total();
        if total.mismatches > 0 {
            eprintln!("FAILED: {} verify mismatches", total.mismatches);
        } else if total.total_ops() == 0 {
            eprintln!("FAILED: no request was answered");
        } else {
            eprintln!("FAILED: see the report");
        }
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
