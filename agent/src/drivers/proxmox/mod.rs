//! (The driver arrives here.)
