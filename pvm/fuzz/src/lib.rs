pub fn differential(_data: &[u8]) {}
pub fn run_blob(_data: &[u8]) {}
