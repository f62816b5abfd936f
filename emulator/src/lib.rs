//! Monday.com emulator (filled in by the engine issue).
