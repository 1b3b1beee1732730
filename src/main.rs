//! The `veille` command line. All logic lives in the library; this binary parses arguments,
//! sets up logging, calls in, prints, and chooses the exit code.

#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
