use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = revlint::cli::Cli::parse();
    // A panic is a bug in revlint, never the user's fault: report it as exit code 3.
    match std::panic::catch_unwind(|| revlint::cli::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(_) => {
            eprintln!("revlint: internal error (this is a bug in revlint; please report it with the input that caused it)");
            ExitCode::from(revlint::cli::EXIT_INTERNAL)
        }
    }
}
