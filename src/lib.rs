//! neurojit
