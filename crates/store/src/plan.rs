//! Storage planning (being written).
