//! Benchmarks, run with `cargo bench --bench bench`; each module prints its figures.

mod plan;

fn main() {
    println!("{}", plan::run());
}
