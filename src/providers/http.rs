//! The shared HTTP layer (rate limiter, retries, auth refresh).
