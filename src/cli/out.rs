//! Writing a command's output to stdout without panicking on a closed pipe.
//!
//! `println!` panics when stdout is gone (`3ox gc | head -1`: exit 101 and a backtrace).
//! [`outln!`] and [`out!`] write the same text but return the `io::Error`, so a command ends
//! with `?`, and `main` turns a broken pipe into a quiet exit 0 (docs/cli.md, "Exit codes").
//! `main` also catches the panic of a `println!` that is still somewhere (a new command, a
//! library): see `main::quiet_broken_pipe`.

/// `println!` that returns `std::io::Result<()>` instead of panicking: `outln!("{x}")?;`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns `std::io::Result<()>` instead of panicking: `out!("{x}")?;`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

pub(crate) use {out, outln};
