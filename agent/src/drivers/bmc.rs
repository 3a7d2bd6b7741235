//! (The capability trait arrives with its driver.)
