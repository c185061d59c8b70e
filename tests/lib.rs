//! Integration tests: the real `wf` binary in temporary folders.
