//! Risk vocabulary. SKELETON: filled in by the issue-7 score work.
