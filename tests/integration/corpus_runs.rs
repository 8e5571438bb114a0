//! Conductor's bigger definitions run end to end, unchanged, through the real binary: fake
//! agents serve their SIMPLE tasks and a local server their HTTP calls.
