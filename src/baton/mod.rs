//! Baton access model, protobuf messages and v1 .c1z files (no Monday, no Kubernetes).
