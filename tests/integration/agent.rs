//! `3ox agent run` tests (filled in by the worker session).
