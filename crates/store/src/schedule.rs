//! Recording schedule (being written).
