//! The one integration-test binary: every test module shares one build of specc and the
//! helpers in `support`.

mod architecture;
mod check_rules;
mod ci_args;
mod cli;
mod compose_readback;
mod consistency;
mod diagnostics;
mod dockerfile_constructs;
mod dockerignore;
mod docs;
mod example_hello;
mod expand;
mod fast_path;
mod golden;
mod helm;
mod hostile_fs;
mod hostile_values;
mod lsp;
mod no_panic;
mod outputs_doc;
mod packaging;
mod plan;
mod precommit;
mod realworld;
mod registry;
mod regressions;
mod render_props;
mod secrets;
mod simulation;
mod support;
mod sync;
mod validators;
mod workflows;
