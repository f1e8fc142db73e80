//! `alien emulate`: the engine in real time with real processes.
