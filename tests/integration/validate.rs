//! `3ox validate` tests (filled in by the validator session).
