//! The server: executors, listeners, connections, shutdown.
