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
    if report.config.plot.is_some() || report.config.hdr.is_some() {
        let total = report.total();
        let timeline = total.timeline.clone().unwrap_or_else(|| {
            shardcask_bench::timeline::Timeline::new(
                std::time::Instant::now(),
                0.0,
                std::time::Duration::from_secs(1),
            )
        });
        if let Some(path) = &report.config.plot {
            let title = format!(
                "shardcask-bench: {} requests in {:.1} s, {:.0}/s",
                total.total_ops(),
                report.elapsed.as_secs_f64(),
                total.total_ops() as f64 / report.elapsed.as_secs_f64().max(1e-9)
            );
            let all_us = shardcask_bench::plot::micros_of(&total.all_latency());
            let svg = shardcask_bench::plot::render(&title, &timeline, &all_us);
            if let Err(error) = std::fs::write(path, svg) {
                eprintln!("error: writing --plot {}: {error}", path.display());
                return ExitCode::from(2);
            }
        }
        if let Some(path) = &report.config.hdr {
            let written = std::fs::File::create(path)
                .map_err(|e| e.to_string())
                .and_then(|mut file| shardcask_bench::hdrlog::write(&timeline, &mut file));
            if let Err(error) = written {
                eprintln!("error: writing --hdr {}: {error}", path.display());
                return ExitCode::from(2);
            }
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
