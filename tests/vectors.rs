//! scratch
#[test]
fn scratch_generate() {
    match wimse_ect::conformance::generate() {
        Ok(files) => println!("{} files, {} vectors", files.len(), files.iter().map(|f| f.1.vectors.len()).sum::<usize>()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn scratch_export() {
    let dir = std::env::var("ECT_SCRATCH_EXPORT").unwrap_or("/tmp/vectors-wip".into());
    wimse_ect::conformance::export(std::path::Path::new(&dir)).unwrap();
}
