//! Integration tests of the health subsystem against real listeners on 127.0.0.x.
