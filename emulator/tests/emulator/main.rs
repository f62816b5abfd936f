//! Integration tests of the emulator over HTTP (one test binary keeps linking cheap).

mod api;
mod cli;
mod common;
mod faults;
mod limits;
mod mutations;
mod sdl;
mod truth;
