//! simple8b: up to 240 small unsigned integers per 64-bit word.
