//! `shardcask-chart IN.tsv OUT.svg`: draws a side-by-side table as a grouped
//! bar chart (compare.sh's). The input: a title line, a unit line, a line of
//! tab-separated series names, then one tab-separated row per group: its
//! label and one number per series (`-` for none).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = &args[..] else {
        eprintln!("usage: shardcask-chart IN.tsv OUT.svg");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(input) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: reading {input}: {error}");
            return ExitCode::from(2);
        }
    };
    match shardcask_bench::plot::bars_from_tsv(&text) {
        Ok(svg) => {
            if let Err(error) = std::fs::write(output, svg) {
                eprintln!("error: writing {output}: {error}");
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {input}: {error}");
            ExitCode::from(2)
        }
    }
}
