//! Compiles the one C file: INCRBYFLOAT's long double arithmetic (see
//! csrc/longdouble.c for why it is C).

fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .warnings(true)
        .compile("shardcask_longdouble");
}
